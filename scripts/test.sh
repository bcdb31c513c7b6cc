#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit, doc and integration tests. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo fmt --all -- --check
cargo clippy --locked --all-targets -- -D warnings
# Unit, integration and doc tests. Benches are compiled by clippy above and run only by `cargo bench`.
cargo test --locked
