#!/usr/bin/env bash
# The local pipeline: what CI does on a push to develop and on a merge to main, run on a scratch repository
# with a bare `origin` on this machine. Prints each step's outputs and step summary as a runner would see them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --locked --quiet --bin gitops-promote
bin="$PWD/target/debug/gitops-promote"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GIT_CONFIG_GLOBAL=/dev/null GIT_AUTHOR_NAME=Dev GIT_AUTHOR_EMAIL=dev@example.com \
  GIT_COMMITTER_NAME=Dev GIT_COMMITTER_EMAIL=dev@example.com
git init -q --bare -b main "$work/origin.git"
git clone -q "$work/origin.git" "$work/app" 2>/dev/null
cd "$work/app"
commit() { git commit -q --allow-empty -m "$1"; }

# A step as GitHub runs a Docker action: INPUT_* in, $GITHUB_OUTPUT and $GITHUB_STEP_SUMMARY out.
step() {
  local title=$1; shift
  local out="$work/output" summary="$work/summary"
  : >"$out"; : >"$summary"
  printf '\n\033[1m### %s\033[0m\n' "$title"
  env GITHUB_ACTIONS=true GITHUB_WORKSPACE="$PWD" GITHUB_OUTPUT="$out" GITHUB_STEP_SUMMARY="$summary" \
    GITHUB_REPOSITORY=org/app GITHUB_RUN_NUMBER=1 GITHUB_ACTOR=demo "$@" "$bin" | sed 's/^/  log| /'
  printf '  --- outputs ($GITHUB_OUTPUT; json left out)\n'
  awk '/<</ { split($0, a, "<<"); name = a[1]; delim = a[2]; next }
       $0 == delim { name = ""; next }
       name != "" && name != "json" { printf "  %-18s %s\n", name ":", $0; name = (name ~ /:$/ ? name : name) }' "$out"
  printf '  --- step summary ($GITHUB_STEP_SUMMARY)\n'; sed 's/^/  /' "$summary"
}

commit "chore: initial import"
commit "feat: first feature"
git push -q origin main
step "staging-build on main (first release)" INPUT_MODE=staging-build INPUT_IMAGE=ghcr.io/org/app

git checkout -q -b develop
commit "feat(api): add the orders endpoint"
commit "fix: validate the quantity"
step "develop-build on develop (release candidate)" INPUT_MODE=develop-build INPUT_IMAGE=ghcr.io/org/app

git checkout -q main
git merge -q --no-ff develop -m "Merge branch 'develop'"
step "staging-build after merging develop (dry run first)" INPUT_MODE=staging-build INPUT_IMAGE=ghcr.io/org/app INPUT_DRY-RUN=true
step "staging-build after merging develop" INPUT_MODE=staging-build INPUT_IMAGE=ghcr.io/org/app
step "staging-build rerun (idempotent)" INPUT_MODE=staging-build INPUT_IMAGE=ghcr.io/org/app

printf '\norigin now has the release tags: %s\n' "$(git ls-remote --tags origin | awk '{print $2}' | grep -v '\^{}' | tr '\n' ' ')"
