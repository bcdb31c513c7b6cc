#!/usr/bin/env bash
# The local pipeline: the whole develop → staging → production flow that CI runs, on this machine. A scratch
# application repository with a bare `origin` and the seed's `flux/` tree, a real OCI registry (CNCF
# distribution) on 127.0.0.1, and images built as OCI layouts and pushed with skopeo (no container engine
# needed). Every gitops-promote step runs exactly as GitHub runs the action: INPUT_* variables in,
# $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY out; both are printed. The inputs of the pipeline's steps are the
# `with:` blocks of examples/workflows/ (scripts/workflow_step.py reads them), so the demo runs what users copy.
set -euo pipefail
cd "$(dirname "$0")/.."
repo_root=$PWD
bash scripts/setup.sh
# The quickstart test passes the binaries cargo just built for it.
target_dir="${CARGO_TARGET_DIR:-$repo_root/target}"
[[ $target_dir == /* ]] || target_dir="$repo_root/$target_dir" # cargo reads a relative one from here too
# One cargo invocation for both, so the shared crates are resolved and compiled once (a separate
# `--example` build enables the dev-dependencies' features and compiles octocrab, serde-saphyr and others again).
build_targets=()
[ -n "${GITOPS_PROMOTE_BIN:-}" ] || build_targets+=(--bin gitops-promote)
[ -n "${GITOPS_PROMOTE_TEST_GITHUB:-}" ] || build_targets+=(--example test-github)
if ((${#build_targets[@]})); then
  echo "demo: building gitops-promote and the test GitHub (cargo build ${build_targets[*]}); the first build" \
    "compiles about 290 crates, roughly 7 minutes on 2 cores, later runs take seconds" >&2
  cargo build --locked "${build_targets[@]}"
fi
bin="${GITOPS_PROMOTE_BIN:-$target_dir/debug/gitops-promote}"
test_github="${GITOPS_PROMOTE_TEST_GITHUB:-$target_dir/debug/examples/test-github}"

work=$(mktemp -d)
registry_pid=""
github_pid=""
cleanup() {
  [ -n "$registry_pid" ] && kill "$registry_pid" 2>/dev/null
  [ -n "$github_pid" ] && kill "$github_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

bold() { printf '\n\033[1m%s\033[0m\n' "$*"; }

# --- a registry on loopback -------------------------------------------------------------------------------
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/registry"
cat >"$work/registry.yml" <<EOF
version: 0.1
log: { level: error, accesslog: { disabled: true } }
storage: { filesystem: { rootdirectory: $work/registry }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$port }
EOF
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
registry_pid=$!
for _ in $(seq 100); do curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break; sleep 0.1; done
image="127.0.0.1:$port/org/backend"
bold "registry: CNCF distribution on http://127.0.0.1:$port, image $image"

# "docker build && docker push": a two-platform image as an OCI layout, pushed under a throwaway tag.
build_image() { # $1 = tag to push, $2 = content seed
  python3 - "$work/layout" "$2" <<'PY'
import gzip, hashlib, io, json, os, sys, tarfile
out, seed = sys.argv[1], sys.argv[2]
blobs = os.path.join(out, "blobs", "sha256"); os.makedirs(blobs, exist_ok=True)
def put(data, media):
    d = hashlib.sha256(data).hexdigest()
    open(os.path.join(blobs, d), "wb").write(data)
    return {"mediaType": media, "digest": "sha256:" + d, "size": len(data)}
manifests = []
for arch in ("amd64", "arm64"):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        body = f"app {seed} for {arch}\n".encode()
        info = tarfile.TarInfo("app/version"); info.size = len(body); info.mtime = 0
        t.addfile(info, io.BytesIO(body))
    layer = put(gzip.compress(raw.getvalue(), mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip")
    config = put(json.dumps({"architecture": arch, "os": "linux", "rootfs": {"type": "layers",
        "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]}}).encode(),
        "application/vnd.oci.image.config.v1+json")
    m = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config, "layers": [layer]}).encode(), "application/vnd.oci.image.manifest.v1+json")
    m["platform"] = {"architecture": arch, "os": "linux"}
    manifests.append(m)
index = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": manifests}).encode(), "application/vnd.oci.image.index.v1+json")
index["annotations"] = {"org.opencontainers.image.ref.name": "build"}
json.dump({"schemaVersion": 2, "manifests": [index]}, open(os.path.join(out, "index.json"), "w"))
open(os.path.join(out, "oci-layout"), "w").write('{"imageLayoutVersion": "1.0.0"}')
PY
  skopeo copy --quiet --all --dest-tls-verify=false "oci:$work/layout:build" "docker://$image:$1"
  rm -rf "$work/layout"
}
digest_of() { skopeo inspect --raw --tls-verify=false "docker://$image:$1" | sha256sum | awk '{print "sha256:"$1}'; }

# --- the application repository ---------------------------------------------------------------------------
export GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=Dev GIT_AUTHOR_EMAIL=dev@example.com \
  GIT_COMMITTER_NAME=Dev GIT_COMMITTER_EMAIL=dev@example.com
git init -q --bare -b main "$work/origin.git"
git clone -q "$work/origin.git" "$work/app" 2>/dev/null
cd "$work/app"
# The example flux/ tree users copy (examples/flux: the seed's layout with the filters gitops-promote
# recommends), pointed at the loopback registry.
cp -r "$repo_root/examples/flux" flux
grep -rl 'ghcr.io/org/backend' flux | xargs sed -i "s#ghcr.io/org/backend#$image#g"
git add flux
git commit -q -m "chore: initial import"
git commit -q --allow-empty -m "feat: first feature"
git push -q origin main

# A step as GitHub runs a Docker action. $1 = title; the rest = INPUT_* assignments.
step() {
  local title=$1; shift
  local out="$work/output" summary="$work/summary"
  : >"$out"; : >"$summary"
  bold "### $title"
  local rc=0
  env GITHUB_ACTIONS=true GITHUB_WORKSPACE="$PWD" GITHUB_OUTPUT="$out" GITHUB_STEP_SUMMARY="$summary" \
    GITHUB_REPOSITORY=org/app GITHUB_RUN_NUMBER=1 GITHUB_ACTOR=demo GITHUB_SHA="$(git rev-parse HEAD)" \
    "$@" "$bin" | sed 's/^/  log| /' || rc=$?
  printf '  --- outputs ($GITHUB_OUTPUT; json left out)\n'
  awk '/<</ { split($0, a, "<<"); name = a[1]; delim = a[2]; next }
       $0 == delim { name = ""; next }
       name != "" && name != "json" { printf "  %-18s %s\n", name ":", $0 }' "$out"
  printf '  --- step summary ($GITHUB_STEP_SUMMARY)\n'; sed 's/^/  /' "$summary"
  return $rc
}

# A gitops-promote step of an example workflow (examples/workflows/$2, the step with `id: $3`): its `with:`
# block becomes the INPUT_* variables, so the demo runs what users copy. The `${{ … }}` expressions it reads
# come from `ctx` (an unknown one fails the demo). Arguments after the id are added (or override) as they are:
# what only this loopback run needs.
ctx=()
example_step() {
  local title=$1 workflow=$2 id=$3 inputs
  shift 3
  inputs=$(python3 "$repo_root/scripts/workflow_step.py" "$repo_root/examples/workflows/$workflow" "$id" "${ctx[@]}")
  local with=()
  mapfile -t with <<<"$inputs"
  step "$title [$workflow: $id]" "${with[@]}" "$@"
}

bold "== merge to main: the first release =="
# What every example workflow's `with:` blocks read (the pushed build's digest is set after each build).
ctx=("steps.image.outputs.name=$image" "secrets.GITHUB_TOKEN=")
built() { build_image "build-$1" "$2"; ctx+=("steps.build.outputs.digest=$(digest_of "build-$1")"); }
built "$(git rev-parse --short HEAD)" 1
example_step "staging-build (retags the built image to v0.1.0, cuts the git tag)" staging.yml tag

bold "== push to develop: a release candidate =="
git checkout -q -b develop
git commit -q --allow-empty -m "feat(api): add the orders endpoint"
git commit -q --allow-empty -m "fix: validate the quantity"
built "$(git rev-parse --short HEAD)" 2
example_step "develop-build (the develop provider must select the new RC)" develop.yml tag

bold "== merge develop to main =="
git checkout -q main
git merge -q --no-ff develop -m "Merge branch 'develop'"
git push -q origin main develop
example_step "staging-build, dry run before the build (reads only: the version and the plan)" staging.yml version
built "$(git rev-parse --short HEAD)" 3
example_step "staging-build" staging.yml tag
example_step "staging-build again (a rerun changes nothing)" staging.yml tag

bold "== promote to production =="
# The first promotion skips review (no GitHub yet): the example's step plus `commit-via: git`,
# `pull-request: false`, as a team promoting straight to main would set them.
ctx+=("inputs.staging_tag=v0.1.0" "inputs.create_release=true")
# No GitHub yet, so no checks to gate on: `require-checks` is cleared.
example_step "promote v0.1.0, no pull request: a git commit to main and production-latest moved (no GitHub at all)" \
  promote-production.yml promote INPUT_COMMIT-VIA=git INPUT_PULL-REQUEST=false INPUT_REQUIRE-CHECKS=
example_step "promote again (unchanged)" promote-production.yml promote INPUT_COMMIT-VIA=git INPUT_PULL-REQUEST=false \
  INPUT_REQUIRE-CHECKS=

# The project's test GitHub (the one the tests use): REST API on 127.0.0.1, branches kept in origin.git, every
# request checked against GitHub's OpenAPI description.
token=ghs_demo_token_0123456789
"$test_github" --repo "$work/origin.git" --owner org --name app --token "$token" >"$work/github.url" 2>"$work/github.log" &
github_pid=$!
for _ in $(seq 100); do [ -s "$work/github.url" ] && break; sleep 0.1; done
api=$(head -1 "$work/github.url")
bold "test GitHub: $api (org/app, backed by origin.git)"
# GitHub records staging.yml's `build` job as a check run on the commit it built; the demo plays that CI (the
# promotion is gated on it: `require-checks: build`). $1 = the run's conclusion.
build_check() {
  curl -fsS -X POST -H "Authorization: Bearer $token" -H 'Accept: application/vnd.github+json' -A demo \
    -H 'Content-Type: application/json' \
    -d "{\"name\":\"build\",\"head_sha\":\"$(git rev-parse 'v0.2.0^{commit}')\",\"status\":\"completed\",\"conclusion\":\"$1\"}" \
    "$api/repos/org/app/check-runs" >/dev/null
}
# `gh workflow run promote-production.yml` with no staging_tag: the tag staging runs now.
ctx+=("secrets.GITHUB_TOKEN=$token" "inputs.staging_tag=")

bold "== a promotion the gate refuses: staging's build check failed on v0.2.0's commit =="
build_check failure
if example_step "promote while the build check failed: refused before any write" \
  promote-production.yml promote GITHUB_API_URL="$api"; then
  bold "the failed check did not refuse the promotion"; exit 1
fi
if git ls-remote --exit-code origin refs/heads/promote-v0.2.0 >/dev/null; then
  bold "a refused promotion pushed its branch"; exit 1
fi
open_pulls=$(curl -fsS -H "Authorization: Bearer $token" -A demo "$api/repos/org/app/pulls?state=open" \
  | python3 -c 'import json,sys; print(len(json.load(sys.stdin)))')
if [ "$open_pulls" != 0 ] || [ "$(digest_of production-latest)" != "$(digest_of v0.1.0)" ]; then
  bold "a refused promotion wrote something: $open_pulls pull request(s), production-latest $(digest_of production-latest)"
  exit 1
fi
printf '  nothing was written: no branch promote-v0.2.0 on origin, no pull request, production-latest still at v0.1.0\n'

bold "== staging's build is rerun and passes: the newest run of a check is the one that counts =="
build_check success
example_step "promote, staging tag from the staging provider, through a pull request (dry run)" \
  promote-production.yml promote GITHUB_API_URL="$api" INPUT_DRY-RUN=true
example_step "promote through a pull request: v0.2.0 by digest, a signed API commit on promote-v0.2.0, the PR" \
  promote-production.yml promote GITHUB_API_URL="$api"
example_step "promote again (the same branch and pull request: unchanged)" \
  promote-production.yml promote GITHUB_API_URL="$api"
printf '  the pull request on the test GitHub:\n'
curl -fsS -H "Authorization: Bearer $token" -H 'Accept: application/vnd.github+json' -A demo \
  "$api/repos/org/app/pulls?state=open&head=org:promote-v0.2.0" \
  | python3 -c 'import json,sys; [print("  #%d %s (%s -> %s) labels=%s\n  %s" % (p["number"], p["title"], p["head"]["ref"], p["base"]["ref"], [l["name"] for l in p["labels"]], p["html_url"])) for p in json.load(sys.stdin)]'
printf '  production-latest still points to v0.1.0 (%s): it moves when the merged change is released\n' "$(digest_of production-latest | cut -c1-19)"

bold "== the checklist the merge waits for: gitops-promote/checklist on the pull request's head =="
number=$(curl -fsS -H "Authorization: Bearer $token" -A demo "$api/repos/org/app/pulls?state=open&head=org:promote-v0.2.0" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["number"])')
checklist_status() {
  curl -fsS -H "Authorization: Bearer $token" -H 'Accept: application/vnd.github+json' -A demo \
    "$api/repos/org/app/commits/promote-v0.2.0/status" \
    | python3 -c 'import json,sys; [print("  %s: %s (%s)" % (s["context"], s["state"], s["description"])) for s in json.load(sys.stdin)["statuses"] if s["context"] == "gitops-promote/checklist"]'
}
printf '  promote set the first status:\n'; checklist_status
# A reviewer ticks a box in the description (`gh pr edit --body`), and GitHub sends checklist.yml the
# pull_request `edited` event: its payload is written where the runner writes it, GITHUB_EVENT_PATH.
tick() {
  curl -fsS -H "Authorization: Bearer $token" -H 'Accept: application/vnd.github+json' -A demo "$api/repos/org/app/pulls/$number" \
    | python3 -c 'import json,sys; p=json.load(sys.stdin); print(json.dumps({"body": p["body"].replace("- [ ] " + sys.argv[1], "- [x] " + sys.argv[1], 1)}))' "$1" \
    | curl -fsS -X PATCH -H "Authorization: Bearer $token" -H 'Accept: application/vnd.github+json' -A demo \
      -H 'Content-Type: application/json' -d @- "$api/repos/org/app/pulls/$number" >/dev/null
  curl -fsS -H "Authorization: Bearer $token" -H 'Accept: application/vnd.github+json' -A demo "$api/repos/org/app/pulls/$number" \
    | python3 -c 'import json,sys; p=json.load(sys.stdin); print(json.dumps({"action": "edited", "number": p["number"], "pull_request": p}))' \
    >"$work/event.json"
}
tick "Manual QA completed"
example_step "checklist after QA ticked its box: pending, the merge still waits" \
  checklist.yml checklist GITHUB_API_URL="$api" GITHUB_EVENT_NAME=pull_request GITHUB_EVENT_PATH="$work/event.json"
tick "Stakeholders notified"
example_step "checklist with every box ticked: success, branch protection lets the merge through" \
  checklist.yml checklist GITHUB_API_URL="$api" GITHUB_EVENT_NAME=pull_request GITHUB_EVENT_PATH="$work/event.json"
checklist_status

bold "== review and merge the pull request (gh pr merge --squash), then the push to main runs release =="
curl -fsS -X PUT -H "Authorization: Bearer $token" -H 'Accept: application/vnd.github+json' -A demo \
  -H 'Content-Type: application/json' -d '{"merge_method":"squash"}' "$api/repos/org/app/pulls/$number/merge" >/dev/null
git pull -q --ff-only origin main
example_step "release: production-latest to the merged digest, the GitHub release with its notes" \
  release-production.yml release GITHUB_API_URL="$api"
example_step "release again (unchanged)" release-production.yml release GITHUB_API_URL="$api"

bold "== revert the promotion (git revert + push): release rolls production back =="
git revert --no-edit HEAD >/dev/null
git push -q origin main
example_step "release after the revert: production-latest back to v0.1.0, no new release" \
  release-production.yml release GITHUB_API_URL="$api"

bold "== what Flux will run =="
step "lint the flux/ tree (predictions from the registry's current tags)" INPUT_MODE=lint
printf 'filter:\n  includeTag: %s\n  semver: ">=0.0.0"\n' "'^v\\d+\\.\\d+\\.\\d+\$'" >"$work/staging-filter.yaml"
printf '  select --image, the staging filter (%s): ' "$(sed -n 2p "$work/staging-filter.yaml" | xargs)"
"$bin" select --filter-file "$work/staging-filter.yaml" --image "$image" | tr '\n' ' '; echo
printf '  digests: v0.1.0 %s\n           v0.2.0 %s\n           production-latest %s\n' \
  "$(digest_of v0.1.0)" "$(digest_of v0.2.0)" "$(digest_of production-latest)"

bold "== GitOps rollback: pin production's overlay to v0.1.0 by digest =="
step "patch flux/apps/backend/production/kustomization.yaml (comments and layout kept)" \
  INPUT_MODE=patch INPUT_IMAGE="$image" INPUT_APP=backend INPUT_ENVIRONMENT=production \
  INPUT_TAG=v0.1.0 INPUT_DIGEST="$(digest_of v0.1.0)"
kubectl kustomize flux/apps/backend/production | grep 'image:' | sed 's/^/  rendered by kubectl kustomize: /'

printf '\norigin has the release tags: %s\n' "$(git ls-remote --tags origin | awk '{print $2}' | grep -v '\^{}' | tr '\n' ' ')"
step "plan: what runs where" INPUT_MODE=plan
