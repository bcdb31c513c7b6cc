//! The pull request's checklist end to end: `promote` writes it between its markers and sets the first
//! `gitops-promote/checklist` status; a person ticks boxes in the test GitHub; a rerun keeps the ticks.

use crate::harness::Runner;
use crate::promote::{World, world};
use crate::support::github::TOKEN;

const CONTEXT: &str = "gitops-promote/checklist";
const BEGIN: &str = "<!-- gitops-promote:checklist -->";
const PROMOTE: [(&str, &str); 2] = [("staging-tag", "v0.2.0"), ("production-tag", "v0.3.0")];

/// The newest `gitops-promote/checklist` status on `sha`: (state, description), and how many were set.
fn checklist_status(w: &World, sha: &str) -> (Option<(String, String)>, usize) {
    w.github.newest_status(sha, CONTEXT)
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
    // The status on the head was read with the pull request, while planning: the dry run already knows it
    // is unchanged, and the status step reads nothing more.
    let dry = Runner::new();
    let seen = w.github.requests().len();
    let mut inputs = PROMOTE.to_vec();
    inputs.push(("dry-run", "true"));
    w.promote(&dry, &inputs).success();
    assert!(
        dry.summary().contains(
            "commit status `gitops-promote/checklist` on the head of `promote-v0.3.0` of `org/app` already says pending: \"1 of 2 items ticked\""
        ),
        "{}",
        dry.summary()
    );
    let head_reads = w.github.requests()[seen..]
        .iter()
        .filter(|r| r.path.contains(&format!("/commits/{head}/status")))
        .count();
    assert_eq!(head_reads, 1, "one read of the head's status");
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

/// Runs `checklist` on a `pull_request` event (`action`) for pull request `number`, its payload written as the
/// runner writes it.
fn checklist(
    w: &World,
    runner: &Runner,
    number: u64,
    inputs: &[(&str, &str)],
) -> assert_cmd::assert::Assert {
    checklist_on(w, runner, number, "pull_request", inputs)
}

fn checklist_on(
    w: &World,
    runner: &Runner,
    number: u64,
    event: &str,
    inputs: &[(&str, &str)],
) -> assert_cmd::assert::Assert {
    let payload = w.scratch.dir.path().join(format!("event-{number}.json"));
    w.github
        .write_pull_request_event(number, "edited", &payload);
    let mut all = vec![("mode", "checklist"), ("github-token", TOKEN)];
    all.extend_from_slice(inputs);
    runner
        .action(&w.scratch.work, &all)
        .env("GITHUB_API_URL", w.github.url())
        .env("GITHUB_EVENT_NAME", event)
        .env("GITHUB_EVENT_PATH", &payload)
        .assert()
}

fn said(assert: &assert_cmd::assert::Assert) -> String {
    let out = assert.get_output();
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn tick(w: &World, number: u64, item: &str) {
    let body = body(w, number);
    let ticked = body.replace(&format!("- [ ] {item}"), &format!("- [x] {item}"));
    assert_ne!(body, ticked, "`{item}` is there to tick");
    w.github.edit_pull_body(number, &ticked);
}

fn outputs(runner: &Runner) -> (String, String, String) {
    let out = runner.outputs();
    (
        out["checklist-state"].clone(),
        out["checklist-description"].clone(),
        out["checklist-operation"].clone(),
    )
}

#[test]
fn the_checklist_status_follows_the_boxes_and_a_rerun_is_unchanged() {
    let w = world();
    let head = promoted(&w);
    // promote set the first status; the event of the opened pull request finds it as it is.
    let opened = Runner::new();
    checklist(&w, &opened, 1, &[]).success();
    assert_eq!(
        outputs(&opened),
        (
            "pending".into(),
            "0 of 2 items ticked".into(),
            "unchanged".into()
        )
    );
    assert_eq!(checklist_status(&w, &head).1, 1, "nothing added");

    tick(&w, 1, "Manual QA completed");
    let one = Runner::new();
    checklist(&w, &one, 1, &[]).success();
    assert_eq!(
        outputs(&one),
        (
            "pending".into(),
            "1 of 2 items ticked".into(),
            "updated".into()
        )
    );
    assert_eq!(
        checklist_status(&w, &head).0,
        Some(("pending".into(), "1 of 2 items ticked".into()))
    );

    tick(&w, 1, "Stakeholders notified");
    let two = Runner::new();
    checklist(&w, &two, 1, &[]).success();
    assert_eq!(
        outputs(&two),
        (
            "success".into(),
            "2 of 2 items ticked".into(),
            "updated".into()
        )
    );
    assert!(two.summary().contains("2 of 2 ticked"), "{}", two.summary());
    let status = w
        .github
        .statuses()
        .into_iter()
        .max_by_key(|s| s.id)
        .expect("a status");
    assert_eq!(
        (status.sha.as_str(), status.target_url.as_deref()),
        (head.as_str(), Some("https://github.com/org/app/pull/1")),
        "on the head, linking the pull request"
    );

    // The same event again (a rerun of the job): nothing written.
    let statuses = w.github.statuses().len();
    let rerun = Runner::new();
    checklist(&w, &rerun, 1, &[]).success();
    assert_eq!(outputs(&rerun).2, "unchanged");
    assert_eq!(w.github.statuses().len(), statuses);
    // And a promote rerun keeps both ticks, so it agrees with the mode.
    let again = Runner::new();
    w.promote(&again, &PROMOTE).success();
    assert_eq!(
        checklist_status(&w, &head).0,
        Some(("success".into(), "2 of 2 items ticked".into()))
    );
    assert_eq!(
        w.github.statuses().len(),
        statuses,
        "promote agrees: unchanged"
    );
    assert!(
        w.github.violations().is_empty(),
        "{:?}",
        w.github.violations()
    );
}

#[test]
fn deleting_the_items_or_the_whole_section_of_our_pull_request_fails_the_status() {
    let w = world();
    let head = promoted(&w);
    tick(&w, 1, "Manual QA completed");
    let original = body(&w, 1);
    // The items deleted, the markers kept.
    let no_items: String = original
        .lines()
        .filter(|l| !l.starts_with("- ["))
        .map(|l| format!("{l}\n"))
        .collect();
    w.github.edit_pull_body(1, &no_items);
    let runner = Runner::new();
    checklist(&w, &runner, 1, &[]).success();
    assert_eq!(
        outputs(&runner),
        (
            "failure".into(),
            "the checklist has no items left".into(),
            "updated".into()
        )
    );
    // The whole section deleted: still ours by the record at the end of the body.
    let start = original.find(BEGIN).expect("section");
    let end_marker = "<!-- /gitops-promote:checklist -->\n";
    let end = original.find(end_marker).expect("end") + end_marker.len();
    w.github
        .edit_pull_body(1, &format!("{}{}", &original[..start], &original[end..]));
    let gone = Runner::new();
    checklist(&w, &gone, 1, &[]).success();
    assert_eq!(
        outputs(&gone),
        (
            "failure".into(),
            "the checklist was deleted from the pull request's body".into(),
            "updated".into()
        )
    );
    // The whole body rewritten by a person: the head commit's trailers still say it is ours.
    w.github.edit_pull_body(1, "LGTM, shipping it");
    let rewritten = Runner::new();
    checklist(&w, &rewritten, 1, &[]).success();
    assert_eq!(
        outputs(&rewritten),
        (
            "failure".into(),
            "the checklist was deleted from the pull request's body".into(),
            "unchanged".into()
        ),
        "ours all the same (its head commit's trailers), and already failing"
    );
    assert_eq!(
        checklist_status(&w, &head).0.map(|s| s.0),
        Some("failure".into())
    );
}

#[test]
fn a_foreign_pull_request_is_left_alone() {
    let w = world();
    w.scratch.git(&["checkout", "-q", "-b", "bump-serde"]);
    w.scratch.commit("chore(deps): bump serde");
    w.scratch.git(&["push", "-q", "origin", "bump-serde"]);
    let number = w.github.open_pull(
        "bump-serde",
        "main",
        "Bump serde",
        "- [ ] tested locally\n- [ ] changelog",
    );
    let runner = Runner::new();
    let assert = checklist(&w, &runner, number, &[]).success();
    assert_eq!(
        outputs(&runner),
        (String::new(), String::new(), "skipped".into())
    );
    assert!(said(&assert).contains("left alone"), "{}", said(&assert));
    assert!(
        w.github.statuses().is_empty(),
        "no status on a foreign pull request"
    );
    assert!(w.github_writes().is_empty());
}

#[test]
fn a_dry_run_writes_nothing_and_says_what_it_would_set() {
    let w = world();
    let head = promoted(&w);
    tick(&w, 1, "Manual QA completed");
    let runner = Runner::new();
    let writes = w.github_writes().len();
    let assert = checklist(&w, &runner, 1, &[("dry-run", "true")]).success();
    assert_eq!(
        outputs(&runner),
        (
            "pending".into(),
            "1 of 2 items ticked".into(),
            "would-update".into()
        )
    );
    assert!(
        said(&assert).contains("set commit status `gitops-promote/checklist`"),
        "{}",
        said(&assert)
    );
    assert_eq!(w.github_writes().len(), writes, "nothing written");
    assert_eq!(checklist_status(&w, &head).1, 1);
}

#[test]
fn the_wrong_event_and_a_missing_permission_are_named_with_their_fix() {
    let w = world();
    promoted(&w);
    let push = Runner::new();
    let assert = checklist_on(&w, &push, 1, "push", &[]).failure().code(2);
    let text = said(&assert);
    assert!(text.contains("::error"), "{text}");
    assert!(text.contains("GITHUB_EVENT_NAME is `push`"), "{text}");
    assert!(
        text.contains("examples/workflows/checklist.yml"),
        "the fix: {text}"
    );

    tick(&w, 1, "Manual QA completed");
    w.github.deny("statuses=write");
    let denied = Runner::new();
    let text = said(&checklist(&w, &denied, 1, &[]).failure());
    assert!(text.contains("::error"), "{text}");
    assert!(
        text.contains("statuses: write"),
        "the permissions line: {text}"
    );
    assert!(text.contains("permissions:"), "{text}");
}
