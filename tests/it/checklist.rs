//! The pull request's checklist end to end: `promote` writes it between its markers and sets the first
//! `gitops-promote/checklist` status; a person ticks boxes in the test GitHub; a rerun keeps the ticks.

use crate::harness::Runner;
use crate::promote::{World, world};

const CONTEXT: &str = "gitops-promote/checklist";
const BEGIN: &str = "<!-- gitops-promote:checklist -->";
const PROMOTE: [(&str, &str); 2] = [("staging-tag", "v0.2.0"), ("production-tag", "v0.3.0")];

/// The newest `gitops-promote/checklist` status on `sha`: (state, description), and how many were set.
fn checklist_status(w: &World, sha: &str) -> (Option<(String, String)>, usize) {
    let ours: Vec<_> = w
        .github
        .statuses()
        .into_iter()
        .filter(|s| s.sha == sha && s.context == CONTEXT)
        .collect();
    let newest = ours
        .iter()
        .max_by_key(|s| s.id)
        .map(|s| (s.state.clone(), s.description.clone().unwrap_or_default()));
    (newest, ours.len())
}

fn body(w: &World, number: u64) -> String {
    w.github
        .pulls()
        .into_iter()
        .find(|p| p.number == number)
        .and_then(|p| p.body)
        .unwrap_or_default()
}

/// A promotion that opened pull request #1, with its head.
fn promoted(w: &World) -> String {
    let runner = Runner::new();
    w.promote(&runner, &PROMOTE).success();
    assert_eq!(runner.outputs()["pr-operation"], "created");
    w.github.pulls()[0].head_sha.clone()
}

#[test]
fn promote_writes_the_checklist_and_its_first_status_and_a_rerun_never_unticks_a_box() {
    let w = world();
    let head = promoted(&w);
    let first = body(&w, 1);
    assert!(
        first.contains("- [ ] Manual QA completed\n- [ ] Stakeholders notified\n"),
        "{first}"
    );
    assert_eq!(
        checklist_status(&w, &head),
        (Some(("pending".into(), "0 of 2 items ticked".into())), 1)
    );
    let status = w
        .github
        .statuses()
        .into_iter()
        .find(|s| s.context == CONTEXT)
        .expect("status");
    assert_eq!(
        status.target_url.as_deref(),
        Some("https://github.com/org/app/pull/1"),
        "the status links the pull request"
    );

    // A person ticks the first box in GitHub's page.
    let ticked = first.replace("- [ ] Manual QA completed", "- [x] Manual QA completed");
    w.github.edit_pull_body(1, &ticked);
    let rerun = Runner::new();
    w.promote(&rerun, &PROMOTE).success();
    let after = body(&w, 1);
    assert!(
        after.contains("- [x] Manual QA completed\n- [ ] Stakeholders notified\n"),
        "{after}"
    );
    assert_eq!(after.matches(BEGIN).count(), 1, "one section: {after}");
    assert_eq!(after, ticked, "nothing else to change");
    assert_eq!(rerun.outputs()["pr-operation"], "unchanged");
    // The rerun's status follows the tick.
    assert_eq!(
        checklist_status(&w, &head),
        (Some(("pending".into(), "1 of 2 items ticked".into())), 2)
    );

    // And a third run changes nothing at all: no status is added.
    let third = Runner::new();
    w.promote(&third, &PROMOTE).success();
    assert_eq!(checklist_status(&w, &head).1, 2, "unchanged: no new status");
    assert_eq!(body(&w, 1), ticked);
}

#[test]
fn the_checklist_input_sets_the_items_and_a_dry_run_sets_no_status() {
    let w = world();
    let dry = Runner::new();
    let mut inputs = PROMOTE.to_vec();
    inputs.push((
        "checklist",
        "QA signed off by @qa-team\n- [ ] Release notes sent",
    ));
    inputs.push(("dry-run", "true"));
    let assert = w.promote(&dry, &inputs).success();
    let out = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(w.github.statuses().is_empty(), "a dry run sets nothing");
    assert!(
        dry.summary().contains(
            "set commit status `gitops-promote/checklist` on the head of `promote-v0.3.0`"
        ),
        "in the plan: {}{out}",
        dry.summary()
    );
    inputs.pop();
    let real = Runner::new();
    w.promote(&real, &inputs).success();
    assert!(
        body(&w, 1).contains("- [ ] QA signed off by @qa-team\n- [ ] Release notes sent\n"),
        "{}",
        body(&w, 1)
    );
    let head = w.github.pulls()[0].head_sha.clone();
    assert_eq!(
        checklist_status(&w, &head).0,
        Some(("pending".into(), "0 of 2 items ticked".into()))
    );
}

#[test]
fn without_statuses_write_promote_still_opens_the_pull_request_and_warns_with_the_permission() {
    let w = world();
    w.github.deny("statuses=write");
    let runner = Runner::new();
    let assert = w.promote(&runner, &PROMOTE).success();
    let out = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert_eq!(runner.outputs()["pr-operation"], "created");
    assert!(out.contains("::warning"), "{out}");
    assert!(
        out.contains("statuses: write"),
        "the permission is named: {out}"
    );
    assert!(w.github.statuses().is_empty());
}
