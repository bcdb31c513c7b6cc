//! The README's first Quickstart command, `bash scripts/demo.sh`, run end to end with the binary under test:
//! a newcomer's first run must work.

use std::process::Command;

#[test]
fn the_local_pipeline_runs_from_release_to_rollback() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new("bash")
        .arg(format!("{root}/scripts/demo.sh"))
        .env("GITOPS_PROMOTE_BIN", env!("CARGO_BIN_EXE_gitops-promote"))
        .env_remove("GITHUB_ACTIONS")
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "demo.sh failed:\n{stdout}\n{stderr}");
    for expected in [
        "git-tag-operation: created",
        "tag:               v0.2.0-rc.2.g",
        "git-tag-operation: unchanged",
        "\"operation\":\"moved\"",
        "0 error(s), 0 warning(s)",
        "origin has the release tags: refs/tags/v0.1.0 refs/tags/v0.2.0",
    ] {
        assert!(
            stdout.contains(expected),
            "demo output lacks {expected:?}:\n{stdout}"
        );
    }
    // Promotion moved production-latest to staging's exact digest.
    let digests: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains("v0.2.0 sha256:") || l.contains("production-latest sha256:"))
        .filter_map(|l| l.split_whitespace().last())
        .collect();
    assert_eq!(digests.len(), 2, "{stdout}");
    assert_eq!(digests[0], digests[1]);
    assert!(
        stdout.contains("rendered by kubectl kustomize:") && stdout.contains(":v0.1.0@sha256:")
    );
}
