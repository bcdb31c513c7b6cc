//! Cut at a write, raced by another run: each write of `promote`, `release` and `rollback` is cut (the server
//! applies it and the answer is lost, or the process is killed right after it), the run is repeated, and the
//! final state must be the one an uninterrupted run leaves; two runs are raced in forced orders (a hook on the
//! test GitHub runs the other one to completion at the chosen request), and each race ends coherent or in a
//! clear error naming the other run's version, never green and incoherent.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::harness::{Runner, git};
use crate::promote::{World, json, world, world_behind_proxy};
use crate::release::merged_promotion;
use crate::support::github::{Fault, Hook, TOKEN};
use crate::support::images::{self, Format};
use crate::support::proxy;

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

// ---------------------------------------------------------------------------------------------------------
// The cut harness: every GitHub write of a writing mode, cut in turn.

/// How a write is cut.
#[derive(Clone, Copy, Debug)]
enum Cut {
    /// The server applies the write, then the connection drops before the answer.
    AnswerLost,
    /// The server applies the write, then the process is killed (SIGKILL) before it hears the answer.
    Killed,
}

/// A writing mode's run, from a prepared world.
struct Scenario {
    /// What the world holds before the run (a merged promotion for `release`, a release for `rollback`).
    setup: fn(&World),
    /// The run, with `CUT_MARK` set in its environment so a cut can find its process.
    run: fn(&World, &Runner, &str) -> std::process::Output,
    /// Whether the run writes on the registry (moves the moving tag): then its cut points include those writes.
    moves_the_tag: bool,
    /// Cut only its git pushes: its GitHub and registry writes are those of a scenario cut already.
    pushes_only: bool,
}

fn promote_with(
    w: &World,
    runner: &Runner,
    mark: &str,
    inputs: &[(&str, &str)],
) -> std::process::Output {
    let mut all = vec![
        ("mode", "promote"),
        ("image", w.image.as_str()),
        ("github-token", TOKEN),
    ];
    all.extend_from_slice(inputs);
    runner
        .action(&w.scratch.work, &all)
        .env("GITHUB_API_URL", w.github.url())
        .env("CUT_MARK", mark)
        .output()
        .expect("run promote")
}

const PROMOTE_PR: Scenario = Scenario {
    setup: |_| {},
    run: |w, r, mark| promote_with(w, r, mark, &[("staging-tag", "v0.2.0")]),
    moves_the_tag: false,
    pushes_only: false,
};

const PROMOTE_DIRECT: Scenario = Scenario {
    setup: |_| {},
    run: |w, r, mark| {
        promote_with(
            w,
            r,
            mark,
            &[("staging-tag", "v0.2.0"), ("pull-request", "false")],
        )
    },
    moves_the_tag: true,
    pushes_only: false,
};

const PROMOTE_PR_GIT: Scenario = Scenario {
    setup: |_| {},
    run: |w, r, mark| {
        promote_with(
            w,
            r,
            mark,
            &[("staging-tag", "v0.2.0"), ("commit-via", "git")],
        )
    },
    moves_the_tag: false,
    pushes_only: true,
};

const PROMOTE_DIRECT_GIT: Scenario = Scenario {
    setup: |_| {},
    run: |w, r, mark| {
        promote_with(
            w,
            r,
            mark,
            &[
                ("staging-tag", "v0.2.0"),
                ("pull-request", "false"),
                ("commit-via", "git"),
            ],
        )
    },
    moves_the_tag: true,
    pushes_only: true,
};

const RELEASE: Scenario = Scenario {
    // A version not tagged yet, so the release pushes its tag.
    setup: |w| {
        merged_promotion(w, "v0.2.1");
    },
    run: |w, r, mark| {
        r.action(
            &w.scratch.work,
            &[
                ("mode", "release"),
                ("image", w.image.as_str()),
                ("github-token", TOKEN),
            ],
        )
        .env("GITHUB_API_URL", w.github.url())
        .env("GITHUB_SHA", w.scratch.head())
        .env("CUT_MARK", mark)
        .output()
        .expect("run release")
    },
    moves_the_tag: true,
    pushes_only: false,
};

fn rollback_with(w: &World, runner: &Runner, mark: &str, immediate: &str) -> std::process::Output {
    runner
        .action(
            &w.scratch.work,
            &[
                ("mode", "rollback"),
                ("image", w.image.as_str()),
                ("github-token", TOKEN),
                ("immediate", immediate),
            ],
        )
        .env("GITHUB_API_URL", w.github.url())
        .env("CUT_MARK", mark)
        .output()
        .expect("run rollback")
}

const ROLLBACK_PR: Scenario = Scenario {
    setup: crate::rollback::in_production,
    run: |w, r, mark| rollback_with(w, r, mark, "false"),
    moves_the_tag: false,
    pushes_only: false,
};

const ROLLBACK_IMMEDIATE: Scenario = Scenario {
    setup: crate::rollback::in_production,
    run: |w, r, mark| rollback_with(w, r, mark, "true"),
    moves_the_tag: true,
    pushes_only: false,
};

/// SIGKILL to the process whose environment carries `CUT_MARK=mark` (the run under test, no other test's).
fn kill_marked(mark: &str) {
    let needle = format!("CUT_MARK={mark}");
    for entry in std::fs::read_dir("/proc").expect("/proc").flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            let status = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .expect("kill");
            assert!(status.success(), "kill -9 {pid}");
        }
    }
}

/// Everything a run leaves, with what differs between two worlds (commit SHAs, digests of the fixture images,
/// ids, times) normalised: the registry's tags (by which staging image they name), origin's refs (the overlay
/// they hold, their commit count and tip message), the pull requests and the releases.
fn end_state(w: &World) -> Vec<String> {
    let digests: Vec<(String, String)> = ["v0.1.0", "v0.2.0"]
        .iter()
        .map(|t| (w.digest(t), format!("<{t}>")))
        .collect();
    let normal = |text: &str| {
        let host = w.image.split('/').next().unwrap_or_default();
        let mut text = text.replace(host, "<registry>");
        for (digest, name) in &digests {
            text = text.replace(digest.as_str(), name);
        }
        let hex = regex::Regex::new(r"\b[0-9a-f]{7,64}\b").expect("regex");
        hex.replace_all(&text, "<sha>").to_string()
    };
    let mut state = Vec::new();
    let tags = std::process::Command::new("skopeo")
        .args(["list-tags", "--tls-verify=false"])
        .arg(format!("docker://{}", w.image))
        .output()
        .expect("skopeo list-tags (apt-get install -y skopeo)");
    let tags: serde_json::Value = serde_json::from_slice(&tags.stdout).expect("tags json");
    let mut tags: Vec<String> = tags["Tags"]
        .as_array()
        .expect("Tags")
        .iter()
        .map(|t| t.as_str().expect("tag").to_string())
        .collect();
    tags.sort();
    for tag in tags {
        state.push(format!("registry {tag} = {}", normal(&w.digest(&tag))));
    }
    for line in w.origin(&["for-each-ref", "--format=%(refname)"]).lines() {
        let overlay = git_or_empty(&w.scratch.origin, &["show", &format!("{line}:{OVERLAY}")]);
        let count = w.origin(&["rev-list", "--count", line]);
        let message = w.origin(&["log", "-1", "--format=%B", line]);
        state.push(format!(
            "ref {line} ({count} commits): {}\n{}",
            normal(&message),
            normal(&overlay)
        ));
    }
    for p in w.github.pulls() {
        state.push(format!(
            "pull #{} {} {}→{} merged={} labels={:?}: {}\n{}",
            p.number,
            p.state,
            p.head,
            p.base,
            p.merged,
            p.labels,
            normal(&p.title),
            normal(p.body.as_deref().unwrap_or(""))
        ));
    }
    for r in w.github.releases() {
        state.push(format!(
            "release {} draft={} prerelease={}: {}\n{}",
            r.tag_name,
            r.draft,
            r.prerelease,
            normal(r.name.as_deref().unwrap_or("")),
            normal(r.body.as_deref().unwrap_or(""))
        ));
    }
    state
}

fn git_or_empty(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("git");
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The GitHub writes of a run, in order: `(method, path)`, each cut point once (a fault fires on the first
/// request that matches it, so a repeated write is cut at its first occurrence).
fn writes_since(w: &World, before: usize) -> Vec<(String, String)> {
    let mut seen = Vec::new();
    for r in w.github.requests().into_iter().skip(before) {
        // A status is set on a commit whose SHA differs between worlds (its date): found again by the rest.
        let path = match r.path.find("/statuses/") {
            Some(at) => r.path[..at + "/statuses/".len()].to_string(),
            None => r.path.clone(),
        };
        let write = (r.method.clone(), path);
        if r.method != "GET" && !seen.contains(&write) {
            seen.push(write);
        }
    }
    seen
}

/// The registry writes a run sent through `w`'s proxy, in order: `(method, stable part of the path, which
/// occurrence of the two)`. Upload ids, digests of the random fixture layers and queries differ between
/// worlds, so a write is found again by what stays and by counting.
fn registry_writes_since(w: &World, before: usize) -> Vec<(&'static str, String, usize)> {
    let proxy = w.proxy.as_ref().expect("a world behind a proxy");
    let mut seen: Vec<(&'static str, String, usize)> = Vec::new();
    for line in proxy.log().into_iter().skip(before) {
        let (method, path) = line.split_once(' ').expect("METHOD /path");
        let Some(method) = ["PUT", "POST", "PATCH", "DELETE"]
            .into_iter()
            .find(|m| *m == method)
        else {
            continue;
        };
        let path = path.split(['?', '@']).next().unwrap_or_default();
        let path = path.split("sha256:").next().unwrap_or_default();
        let key = match path.find("/uploads/") {
            Some(i) => path[..i + "/uploads/".len()].to_string(),
            None => path.to_string(),
        };
        let nth = seen
            .iter()
            .filter(|(m, k, _)| *m == method && *k == key)
            .count();
        seen.push((method, key, nth));
    }
    seen
}

/// Where a run is cut: at a GitHub write, at the `nth` registry write of a method and path, or at a push of a
/// ref to origin over smart HTTP.
#[derive(Clone, Debug)]
enum Point {
    Github(String, String),
    Registry(&'static str, String, usize),
    Git(String),
}

impl Point {
    /// Cuts `w`'s next run here; the run carries `CUT_MARK=mark`.
    fn inject(&self, w: &World, cut: Cut, mark: &str) {
        let victim = mark.to_string();
        let kill = move || kill_marked(&victim);
        match self {
            Point::Github(method, path) => w.github.inject(match cut {
                Cut::AnswerLost => Fault::LoseAnswer {
                    method: method.clone(),
                    path_contains: path.clone(),
                },
                Cut::Killed => Fault::Hook {
                    method: method.clone(),
                    path_contains: path.clone(),
                    after: true,
                    hook: Hook::new(kill),
                },
            }),
            Point::Registry(method, path, nth) => {
                let proxy = w.proxy.as_ref().expect("a world behind a proxy");
                // The earlier occurrences pass untouched (a zero delay), so the cut lands on the nth.
                for _ in 0..*nth {
                    proxy.fault(method, path, proxy::Fault::Slow(Duration::ZERO));
                }
                proxy.fault(
                    method,
                    path,
                    match cut {
                        Cut::AnswerLost => proxy::Fault::DropAfter,
                        Cut::Killed => proxy::Fault::Then(proxy::Then(Arc::new(kill))),
                    },
                );
            }
            Point::Git(refname) => {
                cut_ref_push(w, refname, cut, mark);
            }
        }
    }

    /// Whether the cut has fired (no fault is left waiting).
    fn fired(&self, w: &World) -> bool {
        match self {
            Point::Github(..) => w.github.pending_faults().is_empty(),
            Point::Registry(..) => w.proxy.as_ref().is_some_and(|p| p.pending() == 0),
            Point::Git(..) => !push_hook(w).exists(),
        }
    }
}

/// The refs pushed to origin since `record_pushes`, in order, each once.
fn pushes(w: &World) -> Vec<String> {
    let log = std::fs::read_to_string(w.scratch.dir.path().join("pushed.log")).unwrap_or_default();
    let mut seen: Vec<String> = Vec::new();
    for line in log.lines() {
        if !seen.iter().any(|r| r == line) {
            seen.push(line.to_string());
        }
    }
    seen
}

/// From now on origin logs every ref a push commits there (the test GitHub writes its refs with libgit2, which
/// runs no hooks: only git pushes are logged).
fn record_pushes(w: &World) {
    let log = w.scratch.dir.path().join("pushed.log");
    write_hook(
        w,
        &format!(
            "#!/bin/sh\n[ \"$1\" = committed ] || exit 0\nwhile read -r _ _ ref; do case \"$ref\" in refs/*) echo \"$ref\" >> '{}';; esac; done\n",
            log.display()
        ),
    );
}

fn push_hook(w: &World) -> std::path::PathBuf {
    w.scratch.origin.join("hooks/reference-transaction")
}

fn write_hook(w: &World, script: &str) {
    let hook = push_hook(w);
    std::fs::write(&hook, script).expect("hook");
    std::process::Command::new("chmod")
        .args(["+x", hook.to_str().expect("path")])
        .status()
        .expect("chmod");
}

/// A world for the cut harness: its registry behind a proxy, origin served over smart HTTP, `setup` done.
fn cut_world(scenario: &Scenario) -> (World, crate::git_http::GitHttpServer) {
    let w = world_behind_proxy();
    (scenario.setup)(&w);
    let server = origin_over_http(&w);
    (w, server)
}

/// Runs `scenario` uninterrupted, then cut at each of its writes (on GitHub and on the registry, as the
/// uninterrupted run recorded them) in each way, each in a fresh world; after one plain rerun, the end state
/// must equal the uninterrupted one, and another rerun writes nothing.
fn converges_after_every_cut(scenario: &Scenario) {
    let (reference, _server) = cut_world(scenario);
    record_pushes(&reference);
    let proxy = reference.proxy.as_ref().expect("proxy");
    let before = (reference.github.requests().len(), proxy.log().len());
    let out = (scenario.run)(&reference, &Runner::new(), "reference");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let mut cut_points: Vec<Point> = writes_since(&reference, before.0)
        .into_iter()
        .map(|(m, p)| Point::Github(m, p))
        .collect();
    assert!(!cut_points.is_empty(), "the run writes on GitHub");
    let registry = registry_writes_since(&reference, before.1);
    assert_eq!(
        !registry.is_empty(),
        scenario.moves_the_tag,
        "the registry writes of the run: {registry:?}"
    );
    cut_points.extend(
        registry
            .into_iter()
            .map(|(m, p, n)| Point::Registry(m, p, n)),
    );
    if scenario.pushes_only {
        cut_points.clear();
    }
    cut_points.extend(pushes(&reference).into_iter().map(Point::Git));
    assert!(!cut_points.is_empty(), "the run writes");
    std::fs::remove_file(push_hook(&reference)).expect("remove the recording hook");
    let expected = end_state(&reference);

    for point in &cut_points {
        for cut in [Cut::AnswerLost, Cut::Killed] {
            let (w, _server) = cut_world(scenario);
            let mark = format!("{cut:?}-{point:?}");
            point.inject(&w, cut, &mark);
            let cut_run = (scenario.run)(&w, &Runner::new(), &mark);
            assert!(point.fired(&w), "{mark}: the cut never fired");
            if matches!(cut, Cut::Killed) {
                assert!(!cut_run.status.success(), "{mark}: the run was killed");
            }
            // A lost answer is read back, not retried blind: the run itself goes on to the uninterrupted end.
            if matches!(cut, Cut::AnswerLost) {
                assert!(
                    cut_run.status.success(),
                    "{mark}: the lost answer is read back\n{}",
                    String::from_utf8_lossy(&cut_run.stdout)
                );
                assert_eq!(
                    end_state(&w),
                    expected,
                    "{mark}: the run that lost an answer leaves what an uninterrupted run leaves"
                );
            }
            let rerun = (scenario.run)(&w, &Runner::new(), "rerun");
            let log = String::from_utf8_lossy(&rerun.stdout).to_string()
                + &String::from_utf8_lossy(&rerun.stderr);
            assert!(rerun.status.success(), "{mark}: the rerun failed:\n{log}");
            let got = end_state(&w);
            let differs: Vec<_> = got.iter().filter(|s| !expected.contains(s)).collect();
            let lacks: Vec<_> = expected.iter().filter(|s| !got.contains(s)).collect();
            assert!(
                differs.is_empty() && lacks.is_empty(),
                "{mark}: one plain rerun leaves what an uninterrupted run leaves; it has {differs:#?}\ninstead of {lacks:#?}\nthe rerun said:\n{log}"
            );
            let writes = (
                w.github.requests().len(),
                w.proxy.as_ref().expect("proxy").log().len(),
            );
            record_pushes(&w);
            let again = (scenario.run)(&w, &Runner::new(), "again");
            assert!(again.status.success(), "{mark}: the second rerun failed");
            assert_eq!(
                writes_since(&w, writes.0),
                Vec::<(String, String)>::new(),
                "{mark}: a rerun of a finished run writes nothing on GitHub"
            );
            assert_eq!(
                registry_writes_since(&w, writes.1),
                Vec::new(),
                "{mark}: a rerun of a finished run writes nothing on the registry"
            );
            assert_eq!(
                pushes(&w),
                Vec::<String>::new(),
                "{mark}: a rerun of a finished run pushes nothing"
            );
        }
    }
}

#[test]
fn a_promotion_through_a_pull_request_converges_after_a_cut_at_any_write() {
    converges_after_every_cut(&PROMOTE_PR);
}

#[test]
fn a_direct_promotion_converges_after_a_cut_at_any_write() {
    converges_after_every_cut(&PROMOTE_DIRECT);
}

#[test]
fn a_promotion_pushed_with_git_converges_after_a_cut_at_any_write() {
    converges_after_every_cut(&PROMOTE_PR_GIT);
}

#[test]
fn a_direct_promotion_pushed_with_git_converges_after_a_cut_at_any_write() {
    converges_after_every_cut(&PROMOTE_DIRECT_GIT);
}

#[test]
fn a_release_converges_after_a_cut_at_any_write() {
    converges_after_every_cut(&RELEASE);
}

#[test]
fn a_rollback_through_a_pull_request_converges_after_a_cut_at_any_write() {
    converges_after_every_cut(&ROLLBACK_PR);
}

#[test]
fn an_immediate_rollback_converges_after_a_cut_at_any_write() {
    converges_after_every_cut(&ROLLBACK_IMMEDIATE);
}

/// Serves `w`'s origin over smart HTTP (lighttpd + `git http-backend`, so receive-pack runs the repository's
/// hooks) and points the checkout at it.
fn origin_over_http(w: &World) -> crate::git_http::GitHttpServer {
    let server =
        crate::git_http::GitHttpServer::start(w.scratch.dir.path(), w.scratch.dir.path(), TOKEN);
    w.scratch
        .git(&["remote", "set-url", "origin", &server.url("origin.git")]);
    server
}

/// A `reference-transaction` hook in origin that fires once, when a push has committed `refname` there: it
/// kills receive-pack (the answer is lost) or the marked run (the process is killed).
fn cut_ref_push(w: &World, refname: &str, cut: Cut, mark: &str) {
    let kill = match cut {
        Cut::AnswerLost => "kill -9 $PPID".to_string(),
        Cut::Killed => format!(
            "for p in /proc/[0-9]*; do tr '\\0' '\\n' < \"$p/environ\" 2>/dev/null | grep -qx 'CUT_MARK={mark}' && kill -9 \"${{p#/proc/}}\"; done"
        ),
    };
    write_hook(
        w,
        &format!(
            "#!/bin/sh\n[ \"$1\" = committed ] || exit 0\ngrep -q ' {refname}$' || exit 0\nrm -f \"$0\"\n{kill}\n"
        ),
    );
}

#[test]
fn a_tag_push_cut_after_the_remote_took_it_is_read_back_and_a_rerun_converges() {
    let reference = world();
    merged_promotion(&reference, "v0.2.1");
    let _server = origin_over_http(&reference);
    let out = (RELEASE.run)(&reference, &Runner::new(), "reference");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let expected = end_state(&reference);
    assert!(
        expected
            .iter()
            .any(|s| s.starts_with("ref refs/tags/v0.2.1 ")),
        "the release pushed its tag: {expected:#?}"
    );

    for cut in [Cut::AnswerLost, Cut::Killed] {
        let w = world();
        let merged = merged_promotion(&w, "v0.2.1");
        let _server = origin_over_http(&w);
        let mark = format!("{cut:?}-tag-push");
        cut_ref_push(&w, "refs/tags/v0.2.1", cut, &mark);
        let hook = push_hook(&w);
        let runner = Runner::new();
        let cut_run = (RELEASE.run)(&w, &runner, &mark);
        let log = String::from_utf8_lossy(&cut_run.stdout).to_string()
            + &String::from_utf8_lossy(&cut_run.stderr);
        assert!(!hook.exists(), "{mark}: the cut never fired\n{log}");
        assert_eq!(
            w.scratch.origin_tag("v0.2.1").as_deref(),
            Some(merged.as_str()),
            "{mark}: origin took the tag"
        );
        match cut {
            // The push's answer never came: what origin has decides, and it is what this run wanted.
            Cut::AnswerLost => {
                assert!(cut_run.status.success(), "{mark}: {log}");
                assert_eq!(runner.outputs()["tag-operation"], "unchanged", "{log}");
            }
            Cut::Killed => assert!(!cut_run.status.success(), "{mark}: the run was killed"),
        }
        let rerun = (RELEASE.run)(&w, &Runner::new(), "rerun");
        let log = String::from_utf8_lossy(&rerun.stdout).to_string()
            + &String::from_utf8_lossy(&rerun.stderr);
        assert!(rerun.status.success(), "{mark}: the rerun failed:\n{log}");
        let got = end_state(&w);
        assert_eq!(
            got, expected,
            "{mark}: one plain rerun leaves what an uninterrupted run leaves"
        );
    }
}
