#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, doc and integration tests. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
# The linters as installed (pip's scripts directory when a pyenv shim does not exist yet on a fresh machine).
py_scripts=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')
tool() { command -v "$1" || echo "$py_scripts/$1"; }
# What we ship: the action, our workflows, the example workflows and composite action users copy, the Dockerfile.
"$(tool zizmor)" --offline --quiet --config .github/zizmor.yml action.yml .github/ examples/workflows/ examples/actions/
"$(tool actionlint)" .github/workflows/*.yml examples/workflows/*.yml examples/actions/*/workflow.yml
"$(tool hadolint)" Dockerfile
cargo clippy --locked --all-targets -- -D warnings
# Unit, integration and doc tests. Benches are compiled by clippy above and run only by `cargo bench`.
cargo test --locked
