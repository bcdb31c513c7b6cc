//! The README's first Quickstart command, `bash scripts/demo.sh`, run end to end with the binary under test:
//! a newcomer's first run must work.

use std::process::Command;

#[test]
fn the_local_pipeline_runs_from_release_to_rollback() {
    let root = env!("CARGO_MANIFEST_DIR");
    // `cargo test` builds the examples next to the test binaries: the test GitHub is `examples/test-github`.
    let test_github = std::env::current_exe()
        .expect("test binary path")
        .parent()
        .and_then(|deps| deps.parent())
        .map(|dir| dir.join("examples").join("test-github"))
        .expect("target dir");
    assert!(
        test_github.exists(),
        "{} is missing: `cargo test` builds it (cargo build --example test-github)",
        test_github.display()
    );
    let out = Command::new("bash")
        .arg(format!("{root}/scripts/demo.sh"))
        .env("GITOPS_PROMOTE_BIN", env!("CARGO_BIN_EXE_gitops-promote"))
        .env("GITOPS_PROMOTE_TEST_GITHUB", &test_github)
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
        "commit-operation:  created",
        "commit-operation:  unchanged",
        "pr-operation:      would-create",
        "pr-operation:      created",
        "pr-operation:      unchanged",
        "#1 Promote backend v0.2.0 to production (promote-v0.2.0 -> main)",
        "release-operation: created",
        "release-operation: unchanged",
        "rolled back from `v0.2.0` to `v0.1.0`",
        "0 error(s), 0 warning(s)",
        "origin has the release tags: refs/tags/v0.1.0 refs/tags/v0.2.0",
        // Each step's inputs are the `with:` block of the example workflow users copy.
        "[staging.yml: version]",
        "[staging.yml: tag]",
        "[develop.yml: tag]",
        "[promote-production.yml: promote]",
        "[release-production.yml: release]",
        // The gate: a failed `build` check refuses the promotion and nothing is written; the re-run passes.
        "Integration tests: `build` failed: [failure](",
        "### gitops-promote failed: conflict",
        "nothing was written: no branch promote-v0.2.0 on origin, no pull request, production-latest still at v0.1.0",
        "| Integration tests: `build` | passed |",
        // The checklist the merge waits for: promote's first status, then the boxes ticked.
        "gitops-promote/checklist: pending (0 of 2 items ticked)",
        "checklist-state:   pending",
        "[checklist.yml: checklist]",
        "gitops-promote/checklist: success (2 of 2 items ticked)",
    ] {
        assert!(
            stdout.contains(expected),
            "demo output lacks {expected:?}:\n{stdout}"
        );
    }
    // The direct promotion moved production-latest to v0.1.0's exact digest; the one waiting for review did not.
    let digest = |tag: &str| {
        stdout
            .lines()
            .find(|l| l.contains(&format!(" {tag} sha256:")))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or_else(|| panic!("no digest line for {tag}:\n{stdout}"))
    };
    assert_eq!(digest("production-latest"), digest("v0.1.0"));
    assert_ne!(digest("production-latest"), digest("v0.2.0"));
    // Tags cut by staging-build are no conflict for the direct promotion or the release.
    assert!(!stdout.contains("git tag left where it is"), "{stdout}");
    assert!(
        stdout.contains("rendered by kubectl kustomize:") && stdout.contains(":v0.1.0@sha256:")
    );
}
