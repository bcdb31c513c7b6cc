//! `plan` end to end: a monorepo of two applications laid out like the seed (the corrected Flux objects for each),
//! the real CNCF registry, and no GitHub at all. The `matrix` output is fed to `promote` runs the way
//! `strategy.matrix` would start them; skopeo is the independent check of the digests.

use std::path::Path;

use serde_json::Value;

use crate::harness::{Runner, Scratch, gitops_promote};
use crate::support::images::{self, Format};
use crate::support::registry::{Auth, Registry};

const BACKEND_OVERLAY: &str = "flux/apps/backend/production/kustomization.yaml";
const FRONTEND_OVERLAY: &str = "flux/apps/frontend/production/kustomization.yaml";
const ENVIRONMENTS: [&str; 3] = ["develop", "staging", "production"];

/// Two applications in one repository:
/// - `backend`: `v0.1.0` in production (overlay and `production-latest`), `v0.2.0` in staging, a release
///   candidate in develop: a promotion is pending;
/// - `frontend`: `v1.0.0` everywhere it runs, no release candidate: nothing to promote, develop selects nothing.
pub struct Monorepo {
    pub registry: Registry,
    pub scratch: Scratch,
    pub backend: String,
    pub frontend: String,
    _layouts: tempfile::TempDir,
}

fn copy_tree(from: &Path, to: &Path, rename: &dyn Fn(&str) -> String) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let name = rename(&entry.file_name().to_string_lossy());
        let target = to.join(name);
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target, rename);
        } else {
            let text = std::fs::read_to_string(entry.path()).expect("read");
            std::fs::write(&target, rename(&text)).expect("write");
        }
    }
}

fn overlay(image: &str, tag: &str, digest: &str) -> String {
    format!(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: production\nresources:\n  - ../base\n# Production runs what was promoted and reviewed.\nimages:\n  - name: {image}\n    newTag: {tag}\n    digest: {digest}\n"
    )
}

/// `gitops-promote retag`: points `tag` of `image` at the digest of `source` (a tag of the same image).
pub fn retag(image: &str, source: &str, tag: &str) {
    let out = gitops_promote()
        .args([
            "retag",
            "--source",
            &format!("{image}:{source}"),
            "--tags",
            tag,
        ])
        .output()
        .expect("run retag");
    assert!(
        out.status.success(),
        "retag failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

pub fn monorepo() -> Monorepo {
    let registry = Registry::start(Auth::Anonymous);
    let layouts = tempfile::tempdir().expect("tempdir");
    let backend = format!("{}/org/backend", registry.addr);
    let frontend = format!("{}/org/frontend", registry.addr);
    for (image, tags) in [
        (&backend, &["v0.1.0", "v0.2.0", "v0.3.0-rc.1.gabc1234"][..]),
        (&frontend, &["v1.0.0"][..]),
    ] {
        for tag in tags {
            // Shaped as docker/build-push-action pushes: platform images and their attestation manifests.
            let layout = images::buildx_layout(layouts.path(), &[None, None]);
            images::push(&layout, &format!("{image}:{tag}"), Format::Oci, None);
        }
    }
    retag(&backend, "v0.1.0", "production-latest");
    retag(&frontend, "v1.0.0", "production-latest");

    let scratch = Scratch::new();
    let fixtures =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/flux-fixtures/corrected/flux");
    let flux = scratch.work.join("flux");
    copy_tree(&fixtures, &flux, &|s: &str| {
        s.replace("ghcr.io/ldbl/backend", &backend)
    });
    // The frontend: the same objects and overlays, renamed.
    copy_tree(
        &fixtures.join("apps/backend"),
        &flux.join("apps/frontend"),
        &|s: &str| s.replace("backend", "frontend"),
    );
    for env in ENVIRONMENTS {
        let text =
            std::fs::read_to_string(fixtures.join(format!("bootstrap/apps/{env}/backend.yaml")))
                .expect("fixture");
        std::fs::write(
            flux.join(format!("bootstrap/apps/{env}/frontend.yaml")),
            text.replace("ghcr.io/ldbl/backend", &frontend)
                .replace("backend", "frontend"),
        )
        .expect("write");
    }
    let pin = |image: &str, tag: &str| {
        overlay(image, tag, &images::digest(&format!("{image}:{tag}"), None))
    };
    std::fs::write(scratch.work.join(BACKEND_OVERLAY), pin(&backend, "v0.1.0")).expect("overlay");
    std::fs::write(
        scratch.work.join(FRONTEND_OVERLAY),
        pin(&frontend, "v1.0.0"),
    )
    .expect("overlay");
    scratch.git(&["add", "flux"]);
    scratch.git(&["commit", "-q", "-m", "feat: first release"]);
    scratch.git(&["tag", "v0.1.0"]);
    scratch.commit("feat(api): add the orders endpoint");
    scratch.git(&["tag", "v0.2.0"]);
    scratch.git(&["push", "-q", "origin", "main", "--tags"]);
    Monorepo {
        registry,
        scratch,
        backend,
        frontend,
        _layouts: layouts,
    }
}

impl Monorepo {
    pub fn plan(&self, runner: &Runner, inputs: &[(&str, &str)]) -> assert_cmd::assert::Assert {
        let mut all = vec![("mode", "plan")];
        all.extend_from_slice(inputs);
        runner.action(&self.scratch.work, &all).assert()
    }

    pub fn digest(&self, image: &str, tag: &str) -> String {
        images::digest(&format!("{image}:{tag}"), None)
    }

    /// The repositories whose tags were listed, one entry per request (the registry's "response completed" log
    /// lines, which carry the request URI).
    pub fn tag_listings(&self) -> Vec<String> {
        std::fs::read_to_string(&self.registry.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("msg=\"response completed\""))
            .filter_map(|l| {
                let uri = l.split("http.request.uri=\"").nth(1)?.split('"').next()?;
                Some(uri.split_once("/tags/list")?.0.to_string())
            })
            .collect()
    }
}

fn json(runner: &Runner) -> Value {
    serde_json::from_str(&runner.outputs()["json"]).expect("json output")
}

fn filters() -> Vec<(&'static str, &'static str)> {
    vec![
        (r"sha256:[0-9a-f]{64}", "[DIGEST]"),
        // As long as a short digest, so the text snapshot keeps its columns.
        (r"sha256:[0-9a-f]{12}", "sha256:0123456789ab"),
        (r"127\.0\.0\.1:\d+", "[HOST]"),
        (r"\.yaml:\d+\)", ".yaml:[LINE])"),
        (r"\d+ registry request\(s\)", "[N] registry request(s)"),
    ]
}

#[test]
fn plan_shows_what_runs_where_and_its_matrix_starts_exactly_the_pending_promotions() {
    let w = monorepo();
    let writes = w.registry.writes().len();
    let listings = w.tag_listings().len();
    let runner = Runner::new();
    w.plan(&runner, &[]).success();

    // Read only, and each repository's tags listed once although three providers watch each.
    assert_eq!(w.registry.writes().len(), writes, "plan writes nothing");
    let mut listed = w.tag_listings().split_off(listings);
    listed.sort();
    assert_eq!(listed, ["/v2/org/backend", "/v2/org/frontend"]);

    let out = runner.outputs();
    let matrix: Value = serde_json::from_str(&out["matrix"]).expect("matrix is JSON");
    let include = matrix["include"].as_array().expect("include");
    assert_eq!(
        include.len(),
        1,
        "only the backend has a promotion pending: {matrix}"
    );
    let entry = &include[0];
    assert_eq!(entry["app"], "backend");
    assert_eq!(entry["image"], w.backend.as_str());
    assert_eq!(entry["staging-tag"], "v0.2.0");
    assert_eq!(entry["production-tag"], "v0.2.0");
    assert_eq!(entry["manifest"], BACKEND_OVERLAY);

    let report = json(&runner);
    assert_eq!(report["drift"], 0);
    let apps = report["applications"].as_array().expect("applications");
    let names: Vec<_> = apps
        .iter()
        .map(|a| a["app"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(names, ["backend", "frontend"]);
    let backend = &apps[0];
    let envs: Vec<_> = backend["environments"]
        .as_array()
        .expect("environments")
        .iter()
        .map(|e| {
            (
                e["environment"].as_str().unwrap_or("").to_string(),
                e["selected"]["tag"].as_str().unwrap_or("").to_string(),
                e["selected"]["digest"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        envs,
        [
            (
                "develop".to_string(),
                "v0.3.0-rc.1.gabc1234".to_string(),
                w.digest(&w.backend, "v0.3.0-rc.1.gabc1234")
            ),
            (
                "staging".to_string(),
                "v0.2.0".to_string(),
                w.digest(&w.backend, "v0.2.0")
            ),
            (
                "production".to_string(),
                "production-latest".to_string(),
                w.digest(&w.backend, "v0.1.0")
            ),
        ]
    );
    let production = &backend["environments"][2];
    assert_eq!(production["overlay"]["tag"], "v0.1.0");
    assert_eq!(production["moving_tag"]["same_as"], "v0.1.0");
    assert_eq!(backend["promotion"]["state"], "pending");
    assert_eq!(apps[1]["image"], w.frontend.as_str());
    assert_eq!(
        apps[1]["promotion"]["digest"],
        w.digest(&w.frontend, "v1.0.0")
    );
    assert_eq!(apps[1]["promotion"]["state"], "up-to-date");
    assert_eq!(apps[1]["environments"][0]["selected"]["state"], "nothing");

    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("plan_summary", runner.summary());
    });

    // The matrix, as `strategy.matrix` runs it: one promote job per entry, each given exactly the entry.
    let main_before = w.scratch.git(&["ls-remote", "origin", "main"]);
    for entry in include {
        let s = |k: &str| entry[k].as_str().expect("a string").to_string();
        let job = Runner::new();
        job.action(
            &w.scratch.work,
            &[
                ("mode", "promote"),
                ("app", &s("app")),
                ("image", &s("image")),
                ("staging-tag", &s("staging-tag")),
                ("production-tag", &s("production-tag")),
                ("manifest", &s("manifest")),
                ("pull-request", "false"),
                ("commit-via", "git"),
                ("dry-run", "true"),
            ],
        )
        .assert()
        .success();
        let promoted = job.outputs();
        assert_eq!(promoted["staging-tag"], s("staging-tag"));
        assert_eq!(promoted["production-tag"], s("production-tag"));
        assert_eq!(promoted["digest"], w.digest(&s("image"), &s("staging-tag")));
        assert_eq!(promoted["commit-operation"], "would-create", "{promoted:?}");
        let plan: Value = serde_json::from_str(&promoted["json"]).expect("json");
        assert_eq!(plan["promotion"]["manifest"], s("manifest"));
        assert_eq!(plan["promotion"]["app"], s("app"));
        let commit = plan["plan"]["steps"]
            .as_array()
            .expect("steps")
            .iter()
            .find(|step| step["step"] == "commit")
            .expect("a commit step");
        assert_eq!(commit["file"], s("manifest"));
        assert!(
            commit["diff"]
                .as_str()
                .unwrap_or("")
                .contains(&format!("+    newTag: {}", s("production-tag"))),
            "{commit}"
        );
    }
    assert_eq!(w.scratch.git(&["ls-remote", "origin", "main"]), main_before);
    assert_eq!(w.registry.writes().len(), writes, "dry runs write nothing");
}

#[test]
fn a_moved_production_latest_is_drift_a_warning_and_with_fail_on_drift_an_error_after_the_report() {
    let w = monorepo();
    // Someone moved production-latest by hand: production runs v0.2.0 while the overlay says v0.1.0.
    retag(&w.backend, "v0.2.0", "production-latest");

    let runner = Runner::new();
    let assert = w.plan(&runner, &[]).success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(
        stdout.contains(&format!(
            "::warning title=gitops-promote plan%3A drift in backend production,file={BACKEND_OVERLAY}::"
        )),
        "{stdout}"
    );
    let report = json(&runner);
    assert_eq!(report["drift"], 1);
    let drift = &report["applications"][0]["drift"][0];
    assert_eq!(drift["kind"], "moving-tag");
    let message = drift["message"].as_str().unwrap_or("");
    assert!(
        message.contains("says `v0.1.0`, but `production-latest` points to `v0.2.0`'s digest"),
        "{message}"
    );
    assert!(message.contains("production runs `v0.2.0`"), "{message}");
    assert!(
        report["applications"][1]["drift"]
            .as_array()
            .expect("drift")
            .is_empty(),
        "the frontend is in sync"
    );
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("plan_summary_drift", runner.summary());
    });

    let strict = Runner::new();
    let out = w
        .plan(&strict, &[("fail-on-drift", "true")])
        .code(1)
        .get_output()
        .clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("::error title=gitops-promote plan%3A drift in backend production"),
        "{stdout}"
    );
    assert!(
        stdout.contains("error: 1 drift between the overlays and the registry"),
        "{stdout}"
    );
    assert!(
        strict.summary().contains("Drift in production"),
        "the report is written before the step fails"
    );
    assert!(strict.outputs().contains_key("matrix"));
}

#[test]
fn an_empty_mode_on_a_manual_run_is_plan_and_the_cli_prints_the_same_as_aligned_text() {
    let w = monorepo();
    let runner = Runner::new();
    runner
        .action(&w.scratch.work, &[("mode", "")])
        .env("GITHUB_EVENT_NAME", "workflow_dispatch")
        .assert()
        .success();
    assert!(runner.summary().starts_with("## gitops-promote plan"));
    // On a push, an empty mode is still a mistake.
    let push = Runner::new();
    push.action(&w.scratch.work, &[("mode", "")])
        .env("GITHUB_EVENT_NAME", "push")
        .assert()
        .code(2);

    let out = gitops_promote()
        .args(["plan", "--repo"])
        .arg(&w.scratch.work)
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !stdout.contains('`') && !stdout.contains("::"),
        "plain text: {stdout}"
    );
    let production = stdout
        .lines()
        .find(|l| l.trim_start().starts_with("production") && l.contains("production-latest = "))
        .expect("the backend's production row");
    let header = stdout
        .lines()
        .find(|l| l.contains("environment") && l.contains("selects now"))
        .expect("a header");
    assert_eq!(
        header.find("selects now"),
        production.find("production-latest = v0.1.0"),
        "columns align: {stdout}"
    );
    insta::with_settings!({filters => filters()}, {
        insta::assert_snapshot!("plan_text", stdout);
    });
}

#[test]
fn a_registry_that_refuses_is_reported_per_application_and_fails_the_step_after_the_report() {
    let w = monorepo();
    // The frontend moves to a registry that wants a password the run does not have.
    let private = Registry::start(Auth::Htpasswd);
    for env in ENVIRONMENTS {
        let file = w
            .scratch
            .work
            .join(format!("flux/bootstrap/apps/{env}/frontend.yaml"));
        let text = std::fs::read_to_string(&file).expect("read");
        std::fs::write(&file, text.replace(&w.registry.addr, &private.addr)).expect("write");
    }
    let runner = Runner::new();
    let out = w.plan(&runner, &[]).code(1).get_output().clone();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let summary = runner.summary();
    assert!(
        summary.contains(&format!(
            "❌ can't list the tags of `{}/org/frontend`",
            private.addr
        )),
        "{summary}"
    );
    assert!(
        summary.contains("unknown: "),
        "the frontend's rows: {summary}"
    );
    assert!(
        stdout.contains("error: plan could not read everything"),
        "{stdout}"
    );
    // The backend is reported in full, and its promotion is still in the matrix.
    let matrix: Value = serde_json::from_str(&runner.outputs()["matrix"]).expect("matrix");
    assert_eq!(matrix["include"][0]["app"], "backend");
    assert_eq!(json(&runner)["errors"].as_array().map(Vec::len), Some(1));
}

/// A third application, `worker`, deployed from the backend's image: its own providers, ResourceSets and overlays
/// (`flux/apps/worker/…`), the same `org/backend` repository.
fn add_worker_sharing_the_backend_image(w: &Monorepo) {
    let flux = w.scratch.work.join("flux");
    for env in ENVIRONMENTS {
        let text = std::fs::read_to_string(flux.join(format!("bootstrap/apps/{env}/backend.yaml")))
            .expect("backend objects");
        std::fs::write(
            flux.join(format!("bootstrap/apps/{env}/worker.yaml")),
            text.replace("backend-", "worker-")
                .replace("apps/backend", "apps/worker"),
        )
        .expect("worker objects");
    }
    copy_tree(
        &flux.join("apps/backend"),
        &flux.join("apps/worker"),
        &|s: &str| s.to_string(),
    );
}

/// Every YAML file under the checkout's `flux/`.
fn flux_files(root: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let mut dirs = vec![root.join("flux")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "yaml") {
                out.push(path.canonicalize().expect("canonical"));
            }
        }
    }
    out.sort();
    out
}

/// Runs a step under strace; returns what it opened under the checkout, asserting it succeeded.
fn traced_step(
    w: &Monorepo,
    runner: &Runner,
    inputs: &[(&str, &str)],
) -> std::collections::BTreeMap<std::path::PathBuf, usize> {
    let mut cmd = runner.action(&w.scratch.work, inputs);
    // A relative `filter-file` is the user's, resolved against the working directory: the checkout's.
    cmd.current_dir(&w.scratch.work);
    let (out, opened) = crate::support::trace::files_opened_by(
        cmd.get_program(),
        cmd.get_args(),
        cmd.get_envs(),
        cmd.get_current_dir(),
        &w.scratch.work,
    );
    assert!(
        out.status.success(),
        "{inputs:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    opened
}

#[test]
fn plan_reads_each_file_once_and_lists_each_repository_once_when_two_apps_share_an_image() {
    let w = monorepo();
    add_worker_sharing_the_backend_image(&w);
    let listings = w.tag_listings().len();
    let runner = Runner::new();
    let opened = traced_step(&w, &runner, &[("mode", "plan")]);

    // Every Flux file (the overlays plan reads too) opened exactly once, as the kernel saw it.
    assert_eq!(
        crate::support::trace::opened_twice(&opened),
        [],
        "plan opened files more than once"
    );
    let flux = flux_files(&w.scratch.work);
    assert!(flux.len() >= 20, "{flux:?}");
    let read: Vec<_> = opened.keys().cloned().collect();
    assert_eq!(
        read, flux,
        "plan reads every Flux file, and nothing else of the checkout"
    );

    // Six providers watch org/backend (backend's and worker's), three org/frontend: one listing each.
    let mut listed = w.tag_listings().split_off(listings);
    listed.sort();
    assert_eq!(listed, ["/v2/org/backend", "/v2/org/frontend"]);
    let report = json(&runner);
    let apps: Vec<(String, String)> = report["applications"]
        .as_array()
        .expect("applications")
        .iter()
        .map(|a| {
            (
                a["app"].as_str().unwrap_or("").to_string(),
                a["image"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert_eq!(
        apps,
        [
            ("backend".to_string(), w.backend.clone()),
            ("frontend".to_string(), w.frontend.clone()),
            ("worker".to_string(), w.backend.clone()),
        ]
    );
}

#[test]
fn lint_reads_each_file_once_and_lists_each_repository_once_when_two_apps_share_an_image() {
    let w = monorepo();
    add_worker_sharing_the_backend_image(&w);
    let listings = w.tag_listings().len();
    let runner = Runner::new();
    let opened = traced_step(&w, &runner, &[("mode", "lint")]);
    assert_eq!(crate::support::trace::opened_twice(&opened), []);
    let read: Vec<_> = opened.keys().cloned().collect();
    assert_eq!(read, flux_files(&w.scratch.work));
    let mut listed = w.tag_listings().split_off(listings);
    listed.sort();
    assert_eq!(listed, ["/v2/org/backend", "/v2/org/frontend"]);
    // The listing was used: worker's develop provider predicts backend's release candidate.
    let report = json(&runner);
    let worker_develop = report["predictions"]
        .as_array()
        .expect("predictions")
        .iter()
        .find(|p| p["object"] == "ResourceSetInputProvider/worker-develop")
        .expect("worker-develop predicted");
    assert_eq!(worker_develop["selected"]["Ok"][0], "v0.3.0-rc.1.gabc1234");
}

#[test]
fn select_reads_its_filter_file_once_and_lists_the_image_once() {
    let w = monorepo();
    let listings = w.tag_listings().len();
    let runner = Runner::new();
    let opened = traced_step(
        &w,
        &runner,
        &[
            ("mode", "select"),
            ("filter-file", "flux/bootstrap/apps/staging/backend.yaml"),
            ("image", &w.backend),
        ],
    );
    let filter = w
        .scratch
        .work
        .join("flux/bootstrap/apps/staging/backend.yaml")
        .canonicalize()
        .expect("filter file");
    assert_eq!(opened, [(filter, 1)].into_iter().collect());
    assert_eq!(w.tag_listings().split_off(listings), ["/v2/org/backend"]);
    assert_eq!(runner.outputs()["selected"], "v0.2.0");
}
