#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, doc and integration tests. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
# zizmor as installed (pip's scripts directory when a pyenv shim does not exist yet on a fresh machine).
zizmor=$(command -v zizmor || echo "$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))')/zizmor")
"$zizmor" --offline --quiet --config .github/zizmor.yml examples/workflows/*.yml .github/workflows/*.yml action.yml
cargo clippy --locked --all-targets -- -D warnings
# Unit, integration and doc tests. Benches are compiled by clippy above and run only by `cargo bench`.
cargo test --locked
