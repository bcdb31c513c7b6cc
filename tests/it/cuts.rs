//! Cut at a write, raced by another run: each write of `promote`, `release` and `rollback` is cut (the server
//! applies it and the answer is lost, or the process is killed right after it), the run is repeated, and the
//! final state must be the one an uninterrupted run leaves; two runs are raced in forced orders (a hook on the
//! test GitHub runs the other one to completion at the chosen request), and each race ends coherent or in a
//! clear error naming the other run's version, never green and incoherent.

use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::harness::{Runner, git};
use crate::promote::{World, json, world};
use crate::release::merged_promotion;
use crate::support::github::{Fault, Hook, TOKEN};
use crate::support::images::{self, Format};

const OVERLAY: &str = "flux/apps/backend/production/kustomization.yaml";

/// Pushes a third image, `backend:{tag}`, for a second promotion to race the first with.
fn push_image(w: &World, tag: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let layout = images::layout(dir.path(), 1, 1, 256);
    images::push(&layout, &format!("{}:{tag}", w.image), Format::Oci, None);
    w.digest(tag)
}

/// How the other run ended: whether it succeeded, its outputs, and its log.
type Ended = (bool, std::collections::BTreeMap<String, String>, String);

/// A whole `promote` run, started from inside a hook (so it needs nothing borrowed): its outputs and exit.
#[derive(Clone)]
struct Other {
    image: String,
    api: String,
    workspace: std::path::PathBuf,
    inputs: Vec<(String, String)>,
    result: Arc<Mutex<Option<Ended>>>,
}

impl Other {
    fn promote(w: &World, workspace: &Path, inputs: &[(&str, &str)]) -> Self {
        let mut all = vec![
            ("mode".to_string(), "promote".to_string()),
            ("image".to_string(), w.image.clone()),
            ("github-token".to_string(), TOKEN.to_string()),
        ];
        all.extend(inputs.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Other {
            image: w.image.clone(),
            api: w.github.url(),
            workspace: workspace.to_path_buf(),
            inputs: all,
            result: Arc::new(Mutex::new(None)),
        }
    }

    fn hook(&self) -> Hook {
        let other = self.clone();
        Hook::new(move || other.run())
    }

    fn run(&self) {
        let runner = Runner::new();
        let inputs: Vec<(&str, &str)> = self
            .inputs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let head = git(&self.workspace, &["rev-parse", "HEAD"]);
        let out = runner
            .action(&self.workspace, &inputs)
            .env("GITHUB_API_URL", &self.api)
            .env("GITHUB_SHA", head)
            .output()
            .expect("run the other promotion");
        let _ = &self.image;
        *self.result.lock().expect("lock") = Some((
            out.status.success(),
            runner.outputs(),
            String::from_utf8_lossy(&out.stdout).to_string()
                + &String::from_utf8_lossy(&out.stderr),
        ));
    }

    fn outcome(&self) -> (bool, std::collections::BTreeMap<String, String>, String) {
        self.result
            .lock()
            .expect("lock")
            .clone()
            .expect("the other run ran")
    }
}

#[test]
fn rerunning_a_direct_promotion_rewrote_its_release_notes() {
    let w = world();
    let direct = [("staging-tag", "v0.2.0"), ("pull-request", "false")];
    let first = Runner::new();
    w.promote(&first, &direct).success();
    assert_eq!(first.outputs()["release-operation"], "created");
    let notes = w.github.releases()[0].body.clone().unwrap_or_default();
    assert!(notes.contains("### Commits since `v0.1.0`"), "{notes}");
    let writes = (w.registry.writes().len(), w.github_writes().len());
    // Rerun from the same checkout (behind the promotion commit, as "Re-run jobs" checks out), then from one at
    // the promotion commit (a later run): the overlay already pins v0.2.0 both times.
    for pulled in [false, true] {
        if pulled {
            w.scratch
                .git(&["pull", "-q", "--ff-only", "origin", "main"]);
            assert!(
                w.scratch
                    .git(&["show", &format!("HEAD:{OVERLAY}")])
                    .contains("newTag: v0.2.0")
            );
        }
        let rerun = Runner::new();
        w.promote(&rerun, &direct).success();
        let out = rerun.outputs();
        assert_eq!(out["release-operation"], "unchanged", "pulled: {pulled}");
        assert_eq!(out["commit-operation"], "unchanged");
        assert_eq!(w.github.releases()[0].body.as_deref(), Some(notes.as_str()));
        assert_eq!(
            (w.registry.writes().len(), w.github_writes().len()),
            writes,
            "a rerun writes nothing"
        );
    }
}

#[test]
fn a_promotion_sharing_a_branch_retitled_the_other_ones_pull_request() {
    let w = world();
    let v3 = push_image(&w, "v0.3.0");
    let shared = ("branch", "promote-{app}");
    let other = Other::promote(
        &w,
        &w.scratch.work,
        &[
            ("staging-tag", "v0.3.0"),
            ("production-tag", "v0.3.0"),
            shared,
        ],
    );
    // A (v0.2.0) creates the branch; then B (v0.3.0) runs to the end: it resets the branch and opens the PR.
    w.github.inject(Fault::Hook {
        method: "POST".into(),
        path_contains: "/git/refs".into(),
        after: true,
        hook: other.hook(),
    });
    let a = Runner::new();
    let assert = w
        .promote(&a, &[("staging-tag", "v0.2.0"), shared])
        .failure();
    let (b_ok, b_out, b_log) = other.outcome();
    assert!(b_ok, "{b_log}");
    assert_eq!(b_out["pr-operation"], "created");
    let output = assert.get_output();
    let log = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        log.contains("another promotion owns `promote-backend` now: v0.3.0"),
        "{log}"
    );
    // Coherent: the one pull request's title, body and tree all say v0.3.0.
    let pulls = w.github.pulls();
    assert_eq!(pulls.len(), 1);
    assert!(pulls[0].title.contains("v0.3.0"), "{}", pulls[0].title);
    assert!(pulls[0].body.as_deref().unwrap_or("").contains(&v3));
    let tree = w.overlay_on("promote-backend");
    assert!(
        tree.contains("newTag: v0.3.0") && tree.contains(&v3),
        "{tree}"
    );
}

#[test]
fn a_direct_promotion_that_lost_the_race_moved_production_back() {
    let w = world();
    let v3 = push_image(&w, "v0.3.0");
    let other = Other::promote(
        &w,
        &w.scratch.work,
        &[
            ("staging-tag", "v0.3.0"),
            ("production-tag", "v0.3.0"),
            ("pull-request", "false"),
        ],
    );
    // A's commit lands on main; before A hears so, B promotes v0.3.0 to the end (commit, moving tag, release).
    w.github.inject(Fault::Hook {
        method: "PATCH".into(),
        path_contains: "/git/refs/heads%2Fmain".into(),
        after: true,
        hook: other.hook(),
    });
    let a = Runner::new();
    let assert = w
        .promote(&a, &[("staging-tag", "v0.2.0"), ("pull-request", "false")])
        .success();
    let (b_ok, _, b_log) = other.outcome();
    assert!(b_ok, "{b_log}");
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert_eq!(json(&a)["moving_tag_operation"], "skipped", "{stdout}");
    assert!(stdout.contains("another promotion released after this one"));
    // Coherent: the moving tag is what main pins.
    assert!(w.overlay_on("main").contains("newTag: v0.3.0"));
    assert_eq!(w.digest("production-latest"), v3);
}

#[test]
fn a_lost_release_answer_failed_the_retry_with_already_exists() {
    let w = world();
    merged_promotion(&w, "v0.2.0");
    w.github.inject(Fault::LoseAnswer {
        method: "POST".into(),
        path_contains: "/releases".into(),
    });
    let runner = Runner::new();
    crate::release::release(&w, &runner, &[]).success();
    assert!(w.github.pending_faults().is_empty(), "the answer was lost");
    assert_eq!(runner.outputs()["release-operation"], "unchanged");
    assert_eq!(w.github.releases().len(), 1);
}

#[test]
fn the_loser_of_two_concurrent_releases_failed_on_the_tag_the_winner_pushed() {
    let w = world();
    let merged = merged_promotion(&w, "v0.2.1");
    let clone = tempfile::tempdir().expect("tempdir");
    let b_dir = clone.path().join("b");
    git(
        clone.path(),
        &[
            "clone",
            "-q",
            w.scratch.origin.to_str().expect("path"),
            b_dir.to_str().expect("path"),
        ],
    );
    let mut other = Other::promote(&w, &b_dir, &[]);
    other.inputs[0].1 = "release".into();
    // A has read the remote's tags (none) and asks for the release: B releases v0.2.1 to the end first.
    w.github.inject(Fault::Hook {
        method: "GET".into(),
        path_contains: "/releases/tags/v0.2.1".into(),
        after: false,
        hook: other.hook(),
    });
    let a = Runner::new();
    crate::release::release(&w, &a, &[]).success();
    let (b_ok, b_out, b_log) = other.outcome();
    assert!(b_ok, "{b_log}");
    assert_eq!(b_out["tag-operation"], "created");
    let out = a.outputs();
    assert_eq!(out["tag-operation"], "unchanged");
    assert_eq!(out["release-operation"], "unchanged");
    assert_eq!(
        w.scratch.origin_tag("v0.2.1").as_deref(),
        Some(merged.as_str())
    );
    assert_eq!(w.github.releases().len(), 1);
}
