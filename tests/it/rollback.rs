//! `rollback` end to end, after a promotion of `v0.2.0` was merged and released: a rollback through a pull
//! request that `release` finishes after the merge, an `immediate` rollback for an incident, and targets that
//! are refused before anything is written. Real registry, real bare `origin`, the OpenAPI-checked fake.

use crate::harness::Runner;
use crate::promote::{World, filters, json, world};
use crate::release::{merged_promotion, release};
use crate::support::github::TOKEN;
use crate::support::images::{self, Format};

pub fn rollback(w: &World, runner: &Runner, inputs: &[(&str, &str)]) -> assert_cmd::assert::Assert {
    let mut all = vec![
        ("mode", "rollback"),
        ("image", w.image.as_str()),
        ("github-token", TOKEN),
    ];
    all.extend_from_slice(inputs);
    runner
        .action(&w.scratch.work, &all)
        .env("GITHUB_API_URL", w.github.url())
        .assert()
}

/// Production runs `v0.2.0`: promoted, merged and released.
pub fn in_production(w: &World) {
    merged_promotion(w, "v0.2.0");
    release(w, &Runner::new(), &[]).success();
    assert_eq!(w.digest("production-latest"), w.digest("v0.2.0"));
}

#[test]
fn a_rollback_pull_request_once_merged_and_released_puts_production_back_and_publishes_nothing() {
    let w = world();
    in_production(&w);
    let releases = w.github.releases().len();
    let runner = Runner::new();
    let assert = rollback(&w, &runner, &[]).success();
    // The workflow token opened it: the notice speaks of the rollback pull request, not a promotion's.
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(
        stdout.contains("CI on the rollback pull request")
            && stdout.contains("will not run on the rollback pull request")
            && !stdout.contains("promotion pull request"),
        "{stdout}"
    );
    let out = runner.outputs();
    let v1 = w.digest("v0.1.0");
    assert_eq!(out["from-tag"], "v0.2.0");
    assert_eq!(
        out["to-tag"], "v0.1.0",
        "the release before the one that runs"
    );
    assert_eq!(out["digest"], v1);
    assert_eq!(out["branch"], "rollback-v0.1.0");
    assert_eq!(out["commit-operation"], "created");
    assert_eq!(out["pr-operation"], "created");
    assert_eq!(out["moving-tag-operation"], "skipped");
    assert_eq!(
        w.digest("production-latest"),
        w.digest("v0.2.0"),
        "without `immediate` the moving tag waits for the merge"
    );
    let overlay = w.overlay_on("rollback-v0.1.0");
    assert!(overlay.contains("newTag: v0.1.0") && overlay.contains(&format!("digest: {v1}")));
    assert!(overlay.contains("# Production runs what was promoted and reviewed."));
    assert_eq!(
        w.origin(&["rev-parse", "rollback-v0.1.0^"]),
        w.origin(&["rev-parse", "main"])
    );

    let pulls = w.github.pulls();
    let pr = pulls.last().expect("the rollback pull request");
    assert_eq!(
        pr.title,
        "Roll back backend from v0.2.0 to v0.1.0 in production"
    );
    assert_eq!(pr.labels, ["rollback"]);
    let body = pr.body.clone().unwrap_or_default();
    for undone in [
        "feat!: drop the v1 API",
        "fix: validate the quantity",
        "feat(api): add the orders endpoint",
    ] {
        assert!(body.contains(undone), "lists `{undone}`: {body}");
    }
    assert!(
        !body.contains("feat: first release"),
        "v0.1.0 itself is kept: {body}"
    );
    insta::with_settings!({filters => filters(&w)}, {
        insta::assert_snapshot!("rollback_pull_request_body", body);
        insta::assert_snapshot!("rollback_summary", runner.summary());
    });

    // The same job again: nothing is written anywhere.
    let writes = (w.registry.writes().len(), w.github_writes().len());
    let rerun = Runner::new();
    rollback(&w, &rerun, &[]).success();
    let again = rerun.outputs();
    assert_eq!(again["commit-operation"], "unchanged");
    assert_eq!(again["pr-operation"], "unchanged");
    assert_eq!(again["pr-number"], out["pr-number"]);
    assert_eq!((w.registry.writes().len(), w.github_writes().len()), writes);

    // Merged, `release` sees the lower version: the moving tag moves back, no release.
    w.github.merge(pr.number);
    w.scratch
        .git(&["pull", "-q", "--ff-only", "origin", "main"]);
    let released = Runner::new();
    release(&w, &released, &[]).success();
    let out = released.outputs();
    assert_eq!(out["production-tag"], "v0.1.0");
    assert_eq!(out["moving-tag-operation"], "moved");
    assert_eq!(out["release-operation"], "skipped");
    assert_eq!(w.digest("production-latest"), v1);
    assert_eq!(
        w.github.releases().len(),
        releases,
        "no release for an older version"
    );
    assert_eq!(json(&released)["rollback"], true);
}

#[test]
fn an_immediate_rollback_moves_the_moving_tag_now_and_the_pull_request_says_so() {
    let w = world();
    in_production(&w);
    let runner = Runner::new();
    rollback(&w, &runner, &[("immediate", "true")]).success();
    let out = runner.outputs();
    let v1 = w.digest("v0.1.0");
    assert_eq!(out["moving-tag-operation"], "moved");
    assert_eq!(
        w.digest("production-latest"),
        v1,
        "production runs v0.1.0 now"
    );
    assert_eq!(out["pr-operation"], "created");
    let plan = &json(&runner)["plan"]["steps"];
    assert_eq!(
        plan[0]["step"], "retag",
        "the moving tag moves first: {plan}"
    );
    assert!(
        plan[0]["target"]
            .as_str()
            .is_some_and(|t| t.ends_with(":production-latest")),
        "{plan}"
    );
    assert_eq!(plan[1]["step"], "commit", "{plan}");
    let pr = w.github.pulls().last().cloned().expect("a pull request");
    let body = pr.body.unwrap_or_default();
    assert!(body.contains("`immediate: true`"), "{body}");

    let rerun = Runner::new();
    rollback(&w, &rerun, &[("immediate", "true")]).success();
    assert_eq!(rerun.outputs()["moving-tag-operation"], "unchanged");
    assert_eq!(rerun.outputs()["pr-operation"], "unchanged");
}

#[test]
fn a_target_that_is_not_an_earlier_production_release_is_refused_before_anything_is_written() {
    let w = world();
    in_production(&w);
    // In the registry, but production never ran it.
    let layouts = tempfile::tempdir().expect("tempdir");
    images::push(
        &images::layout(layouts.path(), 1, 1, 256),
        &format!("{}:v0.1.5", w.image),
        Format::Oci,
        None,
    );
    let writes = (w.registry.writes().len(), w.github_writes().len());
    for to in ["v9.9.9", "v0.1.5"] {
        let runner = Runner::new();
        let assert = rollback(&w, &runner, &[("to", to)]).failure().code(2);
        let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
        assert!(
            stdout.contains(&format!("`{to}` is not an earlier production release")),
            "{stdout}"
        );
        assert!(
            stdout.contains("`v0.1.0`"),
            "the help lists what is: {stdout}"
        );
    }
    assert_eq!((w.registry.writes().len(), w.github_writes().len()), writes);
    assert_eq!(w.origin(&["branch", "--list", "rollback-*"]), "");
    assert_eq!(w.digest("production-latest"), w.digest("v0.2.0"));
}
