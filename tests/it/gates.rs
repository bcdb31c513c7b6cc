//! The promotion gates end to end: `promote` against the real registry, a real bare `origin` and the test
//! GitHub, whose check runs and commit statuses are seeded on the staging image's source commit (the commit
//! of its git tag: the test images carry no revision). A refusal writes nothing: no registry write, no branch,
//! no pull request.

use crate::harness::Runner;
use crate::promote::{World, json, world};
use crate::support::images::{self, Format};

/// The commit the staging tag `v0.2.0` names, whose checks the gates read.
fn source(w: &World) -> String {
    w.origin(&["rev-parse", "v0.2.0^{commit}"])
}

fn said(assert: &assert_cmd::assert::Assert) -> String {
    let out = assert.get_output();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Nothing was written anywhere.
fn assert_nothing_written(w: &World, registry_writes: usize) {
    assert_eq!(
        w.registry.writes().len(),
        registry_writes,
        "no registry write"
    );
    assert!(
        w.github_writes().is_empty(),
        "no GitHub write: {:?}",
        w.github_writes()
    );
    assert!(w.github.pulls().is_empty(), "no pull request");
    assert_eq!(
        w.origin(&["branch", "--list", "promote-*"]),
        "",
        "no branch"
    );
    assert!(!images::exists(&format!("{}:v0.3.0", w.image), None));
}

const PROMOTE: [(&str, &str); 2] = [("staging-tag", "v0.2.0"), ("production-tag", "v0.3.0")];

#[test]
fn a_failed_required_check_refuses_with_its_name_conclusion_and_link_and_writes_nothing() {
    let w = world();
    let sha = source(&w);
    let id = w.github.add_check_run("test", &sha, Some("failure"));
    w.github.add_check_run("lint", &sha, Some("success"));
    let writes = w.registry.writes().len();
    let runner = Runner::new();
    let mut inputs = PROMOTE.to_vec();
    inputs.push(("require-checks", "test, lint"));
    let assert = w.promote(&runner, &inputs).failure();
    let text = said(&assert);
    assert!(text.contains("::error"), "{text}");
    assert!(text.contains("promotion refused"), "{text}");
    assert!(
        text.contains(&format!(
            "Integration tests: `test` failed: [failure](https://github.com/org/app/runs/{id})"
        )),
        "name, conclusion and link: {text}"
    );
    assert!(!text.contains("`lint` failed"), "{text}");
    // The step summary says why, with the check's link, so the run's page shows it at a glance.
    let summary = runner.summary();
    assert!(
        summary.starts_with("### gitops-promote failed: conflict")
            && summary.contains(&format!("[failure](https://github.com/org/app/runs/{id})"))
            && summary.contains("**help:** fix what failed"),
        "{summary}"
    );
    assert_nothing_written(&w, writes);
}

#[test]
fn a_pending_check_refuses_as_still_running_or_is_waited_for_until_it_passes() {
    let w = world();
    let sha = source(&w);
    w.github.add_check_run("test", &sha, None);
    let writes = w.registry.writes().len();
    let mut inputs = PROMOTE.to_vec();
    inputs.push(("require-checks", "test,e2e"));
    let refused = Runner::new();
    let text = said(&w.promote(&refused, &inputs).failure());
    assert!(
        text.contains("`test` pending: [still running (in_progress)]"),
        "{text}"
    );
    assert!(text.contains("`e2e` pending: not reported yet"), "{text}");
    assert!(text.contains("wait-for-checks"), "the fix is named: {text}");
    assert_nothing_written(&w, writes);

    // Waited for: the CI finishes while the promotion polls.
    inputs.push(("wait-for-checks", "1"));
    let waited = Runner::new();
    let assert = std::thread::scope(|s| {
        s.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(1500));
            w.github.add_check_run("test", &sha, Some("success"));
            w.github
                .add_status(&sha, "e2e", "success", Some("https://ci.example.com/e2e/1"));
        });
        w.promote(&waited, &inputs).success()
    });
    let text = said(&assert);
    assert!(
        text.contains("waiting for Integration tests: `test`"),
        "progress in the log: {text}"
    );
    assert_eq!(waited.outputs()["gates"], "passed");
    assert_eq!(waited.outputs()["pr-operation"], "created");
    let body = w.github.pulls()[0].body.clone().unwrap_or_default();
    assert!(
        body.contains(
            "| Integration tests: `e2e` | passed | [status success](https://ci.example.com/e2e/1)"
        ),
        "{body}"
    );
}

#[test]
fn passed_checks_let_the_promotion_proceed_the_table_says_so_and_a_rerun_updates_it_in_place() {
    let w = world();
    let sha = source(&w);
    w.github.add_check_run("test", &sha, Some("failure"));
    // A rerun of the job: the newest run of the name counts.
    w.github.add_check_run("test", &sha, Some("success"));
    w.github.add_check_run("docs", &sha, Some("skipped"));
    let mut inputs = PROMOTE.to_vec();
    inputs.push(("require-checks", "test,docs"));
    let first = Runner::new();
    w.promote(&first, &inputs).success();
    let out = first.outputs();
    assert_eq!(out["gates"], "passed");
    assert_eq!(
        out["rollback-command"],
        "gh workflow run rollback.yml -f to=v0.1.0"
    );
    let gates = &json(&first)["gates"];
    assert_eq!(gates["commit"], sha.as_str());
    let body = w.github.pulls()[0].body.clone().unwrap_or_default();
    assert!(
        body.contains(
            "| Integration tests: `test` | passed | [success](https://github.com/org/app/runs/2)"
        ),
        "{body}"
    );
    assert!(
        body.contains("| Integration tests: `docs` | passed | [skipped (counts as passed)]"),
        "{body}"
    );
    assert!(
        body.contains("| Staging deployment successful | passed |"),
        "{body}"
    );
    assert!(body.contains("| Manual QA completed | manual |"), "{body}");
    assert!(
        body.contains("previous release `v0.1.0`")
            && body.contains("`gh workflow run rollback.yml -f to=v0.1.0`"),
        "the rollback line names the release production runs at the base's tip: {body}"
    );
    assert!(
        first
            .summary()
            .contains("| Integration tests: `test` | passed |")
    );

    // A new check appears; the rerun updates the table in place, once.
    w.github.add_status(&sha, "security/scan", "success", None);
    let rerun = Runner::new();
    w.promote(&rerun, &inputs).success();
    assert_eq!(rerun.outputs()["pr-operation"], "updated");
    let pulls = w.github.pulls();
    assert_eq!(pulls.len(), 1);
    let body = pulls[0].body.clone().unwrap_or_default();
    assert_eq!(
        body.matches(gitops_promote::gates::BEGIN).count(),
        1,
        "{body}"
    );
    assert_eq!(
        body.matches(gitops_promote::gates::END).count(),
        1,
        "{body}"
    );
    // Converged: a third run changes nothing.
    let third = Runner::new();
    w.promote(&third, &inputs).success();
    assert_eq!(third.outputs()["pr-operation"], "unchanged");
}

#[test]
fn every_check_required_refuses_on_one_failing_unrelated_check() {
    let w = world();
    let sha = source(&w);
    w.github.add_check_run("test", &sha, Some("success"));
    w.github.add_check_run("spellcheck", &sha, Some("failure"));
    let writes = w.registry.writes().len();
    let mut inputs = PROMOTE.to_vec();
    inputs.push(("require-checks", "*"));
    let text = said(&w.promote(&Runner::new(), &inputs).failure());
    assert!(text.contains("`spellcheck` failed"), "{text}");
    assert!(!text.contains("`test` failed"), "{text}");
    assert_nothing_written(&w, writes);
    // Without `require-checks` nothing is refused, and the failure is still shown.
    let shown = Runner::new();
    w.promote(&shown, &PROMOTE).success();
    let body = w.github.pulls()[0].body.clone().unwrap_or_default();
    assert!(
        body.contains("| Integration tests: `spellcheck` | failed |"),
        "{body}"
    );
}

#[test]
fn a_tag_staging_never_matches_is_refused_unless_staging_is_not_required() {
    let w = world();
    let layouts = tempfile::tempdir().expect("tempdir");
    let layout = images::buildx_layout(layouts.path(), &[None]);
    images::push(&layout, &format!("{}:hotfix-1", w.image), Format::Oci, None);
    let writes = w.registry.writes().len();
    let inputs = [("staging-tag", "hotfix-1"), ("production-tag", "v0.3.0")];
    let text = said(&w.promote(&Runner::new(), &inputs).failure());
    assert!(
        text.contains("Staging deployment successful failed"),
        "{text}"
    );
    assert!(
        text.contains("never matches `hotfix-1`: it never ran in staging"),
        "{text}"
    );
    assert_nothing_written(&w, writes);
    let allowed = Runner::new();
    let mut inputs = inputs.to_vec();
    inputs.push(("require-staging", "false"));
    w.promote(&allowed, &inputs).success();
    assert_eq!(allowed.outputs()["pr-operation"], "created");
}

#[test]
fn a_given_tag_staging_has_moved_on_from_is_promoted_with_a_warning_naming_what_staging_selects_now()
 {
    let w = world();
    // Staging's filter (`semver: '>=0.0.0'`) now selects a newer build than the tag being promoted.
    let layouts = tempfile::tempdir().expect("tempdir");
    let layout = images::buildx_layout(layouts.path(), &[None]);
    images::push(&layout, &format!("{}:v0.2.1", w.image), Format::Oci, None);
    let run = Runner::new();
    let text = said(&w.promote(&run, &PROMOTE).success());
    assert!(
        text.contains("::warning")
            && text.contains("but staging now selects `v0.2.1`: staging moved on to a newer one"),
        "{text}"
    );
    let body = w.github.pulls()[0].body.clone().unwrap_or_default();
    assert!(
        body.contains("| Staging deployment successful | passed |")
            && body.contains("matches `v0.2.0`")
            && body.contains("staging now selects `v0.2.1`"),
        "{body}"
    );
    assert_eq!(run.outputs()["gates"], "passed");
}

#[test]
fn a_given_tag_staging_selects_through_another_tag_at_its_digest_counts_as_running_in_staging() {
    let w = world();
    // The production version tag, written where staging's filter sees it, is the promoted image itself: the
    // first run's evidence and the rerun's read the same, so the rerun changes nothing.
    let first = Runner::new();
    let text = said(&w.promote(&first, &PROMOTE).success());
    assert!(!text.contains("moved on"), "{text}");
    assert!(images::exists(&format!("{}:v0.3.0", w.image), None));
    let rerun = Runner::new();
    let text = said(&w.promote(&rerun, &PROMOTE).success());
    assert!(!text.contains("moved on"), "{text}");
    assert_eq!(rerun.outputs()["pr-operation"], "unchanged");
    let body = w.github.pulls()[0].body.clone().unwrap_or_default();
    assert!(body.contains("selects `v0.2.0`"), "{body}");
}

#[test]
fn a_token_without_checks_read_is_told_the_permissions_lines_to_add() {
    let w = world();
    w.github.deny("checks=read");
    let writes = w.registry.writes().len();
    let text = said(&w.promote(&Runner::new(), &PROMOTE).failure());
    assert!(
        text.contains("Resource not accessible by integration"),
        "{text}"
    );
    assert!(
        text.contains("checks: read") && text.contains("statuses: read"),
        "{text}"
    );
    assert_nothing_written(&w, writes);
}
