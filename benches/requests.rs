//! Requests benchmark: what `promote` (pull-request mode, `commit-via: api`) sends to the registry and to GitHub
//! on a first run and on a rerun that changes nothing, beside what a script doing the same job with `skopeo`,
//! `git` and `gh` sends, with the wall time of each run, and the same runs with latency added to every request
//! (where reads sent at once show).
//!
//! Real components: the CNCF registry (`docker-registry`) and lighttpd + `git http-backend` on 127.0.0.1, each
//! behind a counting proxy that can add latency, and the project's test GitHub (every request checked against
//! GitHub's OpenAPI description, state in the same bare repository the git server serves). The script's
//! `skopeo` and `git` requests are counted at those proxies; `gh` cannot run here (it speaks GraphQL to an
//! https host, the test GitHub serves REST), so its requests are derived from the `gh` commands the script
//! needs (see [`GH_FIRST`]) and the printout says so.
//!
//! `cargo bench --bench requests` (optional: `-- --latency-ms 50`, the latency added per request).

#![allow(clippy::print_stdout)] // a benchmark prints its tables

#[path = "../tests/it/support/mod.rs"]
mod support;

#[path = "../tests/it/harness.rs"]
mod harness;

#[allow(dead_code)]
#[path = "../tests/it/git_http.rs"]
mod git_http;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use harness::{Runner, Scratch, git};
use support::github::{TOKEN, TestGithub};
use support::images::{self, Format};
use support::proxy::Proxy;
use support::registry::{Auth, Registry};

const OVERLAY: &str = "flux/apps/backend/production/kustomization.yaml";
const STAGING: &str = "v0.3.0-rc.1";
const PRODUCTION: &str = "v0.3.0";
const BRANCH: &str = "promote-v0.3.0";

/// `gh` requests of the script's first run, derived from cli/cli (`pkg/cmd/pr/list`, `pkg/cmd/pr/create/
/// create.go`, `api/queries_pr.go` and the requests its tests stub): `gh pr list --head B --base main --json
/// number,title,body` is 1 GraphQL query; `gh pr create --head B --base main --title T --body-file F --label L
/// --reviewer R` sends 6: the repository (`RepositoryInfo`), the existing-pull-request check
/// (`PullRequestForBranch`), the label and reviewer IDs (`RepositoryResolveMetadataIDs`), `PullRequestCreate`,
/// `PullRequestCreateMetadata` (labels) and `PullRequestCreateRequestReviews`.
const GH_FIRST: u64 = 1 + 6;
/// The rerun: `gh pr list` finds the pull request and the script compares its title and body itself.
const GH_RERUN: u64 = 1;

/// The script a person writes for the same promotion (CI checkout with the token in `http.extraheader`, as
/// actions/checkout leaves it). Its commit dates are pinned so a rerun rebuilds the same commit and the push
/// finds nothing to send: the script converges too (a plain one would push a new commit on every rerun).
const SCRIPT: &str = r#"set -euo pipefail
auth=(-c "http.extraheader=AUTHORIZATION: basic $(printf 'x-access-token:%s' "$TOKEN" | base64 -w0)")
digest=$(skopeo --insecure-policy inspect --tls-verify=false --format '{{.Digest}}' "docker://$IMAGE:$STAGING")
skopeo --insecure-policy copy --all --quiet --src-tls-verify=false --dest-tls-verify=false \
  "docker://$IMAGE:$STAGING" "docker://$IMAGE:$PRODUCTION"
git "${auth[@]}" fetch -q origin main
git switch -q -C "$BRANCH" origin/main
sed -i -E "s|newTag: .*|newTag: $PRODUCTION|; s|digest: .*|digest: $digest|" "$OVERLAY"
git commit -q -am "chore(release): promote backend $PRODUCTION to production"
git "${auth[@]}" push -q --force origin "$BRANCH"
# gh pr list --head "$BRANCH" --base main --json number,title,body      (not run here: see GH_FIRST)
# gh pr create --head "$BRANCH" --base main --title … --body-file … --label promotion --reviewer alice
"#;

/// A registry with `backend:v0.1.0` (production) and `backend:v0.3.0-rc.1` (staging), an application repository
/// with the corrected `flux/` tree, the test GitHub over its origin, and the origin over http.
struct World {
    _registry: Registry,
    registry: Proxy,
    github: TestGithub,
    _git_server: git_http::GitHttpServer,
    git: Proxy,
    scratch: Scratch,
    image: String,
    _tmp: tempfile::TempDir,
}

fn copy_tree(from: &Path, to: &Path, image: &str) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_tree(&entry.path(), &target, image);
        } else {
            let text = std::fs::read_to_string(entry.path()).expect("read");
            std::fs::write(&target, text.replace("ghcr.io/ldbl/backend", image)).expect("write");
        }
    }
}

impl World {
    fn new() -> Self {
        let registry = Registry::start(Auth::Anonymous);
        let proxy = Proxy::start(&registry.addr);
        let tmp = tempfile::tempdir().expect("tempdir");
        for tag in ["v0.1.0", STAGING] {
            let layout = images::layout(tmp.path(), 2, 2, 4096);
            images::push(
                &layout,
                &format!("{}/org/backend:{tag}", registry.addr),
                Format::Oci,
                None,
            );
        }
        // The image is named by the proxy's address, so every request of either system passes it.
        let image = format!("{}/org/backend", proxy.addr);
        let scratch = Scratch::new();
        copy_tree(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/flux-fixtures/corrected/flux"),
            &scratch.work.join("flux"),
            &image,
        );
        let v1 = images::digest(&format!("{}/org/backend:v0.1.0", registry.addr), None);
        std::fs::write(
            scratch.work.join(OVERLAY),
            format!(
                "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: production\nresources:\n  - ../base\nimages:\n  - name: {image}\n    newTag: v0.1.0\n    digest: {v1}\n"
            ),
        )
        .expect("overlay");
        scratch.git(&["add", "flux"]);
        scratch.git(&["commit", "-q", "-m", "feat: first release"]);
        scratch.git(&["tag", "v0.1.0"]);
        let source = scratch.commit("feat(api): add the orders endpoint");
        // The staging image's source commit (its git tag: the bench images carry no revision), and the CI's
        // check on it: the promotion is gated on it.
        scratch.git(&["tag", STAGING]);
        scratch.git(&["push", "-q", "origin", "main", "--tags"]);
        let github = TestGithub::start(&scratch.origin, "org", "app");
        github.collaborators(&["alice"]);
        github.add_check_run("test", &source, Some("success"));
        let server_dir = tmp.path().join("lighttpd");
        std::fs::create_dir_all(&server_dir).expect("mkdir");
        let git_server = git_http::GitHttpServer::start(scratch.dir.path(), &server_dir, TOKEN);
        let git = Proxy::start(&format!("127.0.0.1:{}", git_server.port));
        World {
            _registry: registry,
            registry: proxy,
            github,
            _git_server: git_server,
            git,
            scratch,
            image,
            _tmp: tmp,
        }
    }

    fn set_latency(&self, latency: Duration) {
        self.registry.set_latency(latency);
        self.git.set_latency(latency);
        self.github.set_latency(latency);
    }

    fn reset_counts(&self) {
        self.registry.reset_count();
        self.git.reset_count();
    }

    /// The origin as a CI checkout reaches it: over http, through the counting proxy.
    fn origin_url(&self) -> String {
        format!("http://{}/git/origin.git", self.git.addr)
    }
}

/// One run's figures.
#[derive(Clone, Default)]
struct Run {
    seconds: f64,
    registry: u64,
    git: u64,
    github: u64,
    /// GitHub requests as `METHOD path` with the description's operation id.
    github_log: Vec<(String, String)>,
}

fn check(out: &std::process::Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn promote(w: &World) -> Run {
    let runner = Runner::new();
    let mut cmd = runner.action(
        &w.scratch.work,
        &[
            ("mode", "promote"),
            ("image", &w.image),
            ("github-token", TOKEN),
            ("staging-tag", STAGING),
            ("reviewers", "alice"),
            // Gated: the source commit's `test` check must have passed. The release candidate is not a tag
            // the corrected staging provider selects (stable versions only), so staging is not required.
            ("require-checks", "test"),
            ("require-staging", "false"),
        ],
    );
    cmd.env("GITHUB_API_URL", w.github.url());
    w.reset_counts();
    let seen = w.github.requests().len();
    let started = Instant::now();
    let out = cmd.output().expect("gitops-promote runs");
    let seconds = started.elapsed().as_secs_f64();
    check(&out, "gitops-promote promote");
    let log: Vec<(String, String)> = w.github.requests()[seen..]
        .iter()
        .map(|r| {
            (
                format!("{} {}", r.method, r.path),
                r.operation.clone().unwrap_or_default(),
            )
        })
        .collect();
    // The binary's own count must agree with what the servers saw.
    let json: serde_json::Value =
        serde_json::from_str(&runner.outputs()["json"]).expect("json output");
    let counted = &json["requests"];
    assert_eq!(counted["github"].as_u64(), Some(log.len() as u64));
    assert_eq!(counted["registry"].as_u64(), Some(w.registry.requests()));
    Run {
        seconds,
        registry: w.registry.requests(),
        git: w.git.requests(),
        github: log.len() as u64,
        github_log: log,
    }
}

/// The CI checkout the script runs in (not counted: actions/checkout made it before the step).
fn checkout(w: &World, dir: &Path) -> PathBuf {
    let header = format!(
        "http.extraheader=AUTHORIZATION: basic {}",
        base64_of(&format!("x-access-token:{TOKEN}"))
    );
    git(
        dir,
        &["-c", &header, "clone", "-q", &w.origin_url(), "checkout"],
    );
    dir.join("checkout")
}

fn base64_of(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn script(w: &World, checkout: &Path, gh: u64) -> Run {
    let mut cmd = Command::new("bash");
    cmd.args(["-c", SCRIPT])
        .current_dir(checkout)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "CI")
        .env("GIT_AUTHOR_EMAIL", "ci@example.com")
        .env("GIT_COMMITTER_NAME", "CI")
        .env("GIT_COMMITTER_EMAIL", "ci@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
        .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
        .env("TOKEN", TOKEN)
        .env("IMAGE", &w.image)
        .env("STAGING", STAGING)
        .env("PRODUCTION", PRODUCTION)
        .env("BRANCH", BRANCH)
        .env("OVERLAY", OVERLAY);
    w.reset_counts();
    let started = Instant::now();
    let out = cmd.output().expect("bash runs");
    let seconds = started.elapsed().as_secs_f64();
    check(&out, "the script");
    Run {
        seconds,
        registry: w.registry.requests(),
        git: w.git.requests(),
        github: gh,
        github_log: Vec::new(),
    }
}

fn median(mut runs: Vec<Run>) -> Run {
    runs.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    runs[runs.len() / 2].clone()
}

/// One system's figures: its first run without and with added latency (a fresh world each), and its rerun
/// without and with it (medians of [`RERUNS`] reruns in the second world, the two latencies taking turns, so a busy
/// machine slows both alike).
struct Figures {
    first: Run,
    first_slow: Run,
    rerun: Run,
    rerun_slow: Run,
}

const RERUNS: usize = 7;

/// `run(world, first)` on fresh worlds prepared by `setup`.
fn figures(
    latency: Duration,
    setup: &dyn Fn(&World),
    run: &dyn Fn(&World, bool) -> Run,
) -> Figures {
    let fast = World::new();
    setup(&fast);
    let first = run(&fast, true);
    let slow = World::new();
    setup(&slow);
    slow.set_latency(latency);
    let first_slow = run(&slow, true);
    let (mut reruns, mut slow_reruns) = (Vec::new(), Vec::new());
    for _ in 0..RERUNS {
        slow.set_latency(Duration::ZERO);
        reruns.push(run(&slow, false));
        slow.set_latency(latency);
        slow_reruns.push(run(&slow, false));
    }
    slow.set_latency(Duration::ZERO);
    for w in [&fast, &slow] {
        assert_eq!(
            images::digest(&format!("{}:{PRODUCTION}", w.image), None),
            images::digest(&format!("{}:{STAGING}", w.image), None),
            "the production version is the staging image"
        );
        assert!(
            w.github.branch_sha(BRANCH).is_some(),
            "the branch was pushed"
        );
    }
    Figures {
        first,
        first_slow,
        rerun: median(reruns),
        rerun_slow: median(slow_reruns),
    }
}

/// `promote`'s reads, in the order of the steps they serve.
const STEPS: &[&str] = &[
    "checks/list-for-ref",
    "repos/get-combined-status-for-ref",
    "pulls/list",
    "repos/get",
    "repos/get-branch",
    "repos/get-content",
    "repos/compare-commits-with-basehead",
];

/// The step a request of `promote` serves, by the description's operation id.
fn purpose(operation: &str) -> &'static str {
    match operation {
        "repos/get" => {
            "base branch: its name (`base-branch` not given and no open pull request to name it)"
        }
        "repos/get-branch" => "base branch: its tip and tree",
        "repos/get-content" => "overlay at the base's tip",
        "repos/compare-commits-with-basehead" => {
            "commit step: is the promotion branch one commit on that tip, changing only the overlay to this text?"
        }
        "checks/list-for-ref" => "gates: the source commit's check runs",
        "repos/get-combined-status-for-ref" => {
            "statuses of a commit: the source commit's (gates, read with its check runs), or the open pull \
             request head's (is the checklist status already set?)"
        }
        "repos/create-commit-status" => {
            "checklist: the `gitops-promote/checklist` status on the pull request's head"
        }
        "pulls/list" => {
            "pull request step: the open one from the branch (its answer names the default branch)"
        }
        "git/create-tree" => "commit: the tree, the overlay's text inline",
        "git/create-commit" => "commit: the commit",
        "git/create-ref" => "commit: the promotion branch",
        "pulls/create" => "pull request: open",
        "issues/add-labels" => "pull request: labels",
        "pulls/request-reviewers" => "pull request: reviewers",
        _ => "?",
    }
}

fn ratio(script: u64, promote: u64) -> String {
    if promote == 0 {
        "–".to_string()
    } else {
        format!("{:.1}×", script as f64 / promote as f64)
    }
}

fn ms(seconds: f64) -> String {
    format!("{:.0} ms", seconds * 1000.0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let latency_ms: u64 = args
        .iter()
        .position(|a| a == "--latency-ms")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(50);
    let latency = Duration::from_millis(latency_ms);
    let p = figures(latency, &|_| {}, &|w, _| promote(w));
    let s = figures(
        latency,
        &|w| {
            checkout(w, w.scratch.dir.path());
        },
        &|w, first| {
            let checkout = w.scratch.dir.path().join("checkout");
            script(w, &checkout, if first { GH_FIRST } else { GH_RERUN })
        },
    );

    println!(
        "## Requests: gitops-promote promote (pull request, commit-via api, gated on a check) vs a skopeo + git + gh script\n"
    );
    println!(
        "| run | requests to | gitops-promote | script | script ÷ promote |\n|---|---|---:|---:|---:|"
    );
    for (run, p, s) in [
        ("first run", &p.first, &s.first),
        ("rerun", &p.rerun, &s.rerun),
    ] {
        let rows = [
            ("registry", p.registry, s.registry, ""),
            ("git (http)", p.git, s.git, ""),
            ("GitHub API", p.github, s.github, " (gh: derived)"),
        ];
        for (what, pn, sn, note) in rows {
            println!("| {run} | {what} | {pn} | {sn}{note} | {} |", ratio(sn, pn));
        }
        let (pt, st) = (p.registry + p.git + p.github, s.registry + s.git + s.github);
        println!(
            "| {run} | **all** | **{pt}** | **{st}** | **{}** |",
            ratio(st, pt)
        );
    }
    println!(
        "\nRegistry and git requests counted at proxies in front of the real servers; gitops-promote's GitHub \
         requests counted by the test GitHub (and by the binary's own report, which agrees). `gh` could not run \
         here: its {GH_FIRST} (first run) and {GH_RERUN} (rerun) GraphQL requests are derived from cli/cli's `gh pr \
         list` (1 query) and `gh pr create --label --reviewer` (6: repository, existing-PR check, label and \
         reviewer IDs, create, labels, reviewers). The script's commit dates are pinned so its rerun converges \
         (a plain script pushes a new commit on every rerun); it checks no tag before moving it."
    );

    println!(
        "\n## Wall time (first run: once each; rerun: median of {RERUNS}, with and without latency in turns)\n\n\
         | run | added latency per request | gitops-promote | script (skopeo + git; gh not run) | \
         gitops-promote: latency waited, in round trips |\n|---|---:|---:|---:|---:|"
    );
    for (run, p0, pl, s0, sl) in [
        (
            "first run",
            &p.first,
            &p.first_slow,
            &s.first,
            &s.first_slow,
        ),
        ("rerun", &p.rerun, &p.rerun_slow, &s.rerun, &s.rerun_slow),
    ] {
        println!(
            "| {run} | 0 ms | {} | {} | |",
            ms(p0.seconds),
            ms(s0.seconds)
        );
        let waited = (pl.seconds - p0.seconds) / latency.as_secs_f64().max(1e-9);
        println!(
            "| {run} | {latency_ms} ms | {} | {} | {waited:.1} for {} requests |",
            ms(pl.seconds),
            ms(sl.seconds),
            pl.registry + pl.github
        );
    }
    let sent = p.rerun_slow.registry + p.rerun_slow.github;
    println!(
        "\nAt {latency_ms} ms per request, a rerun sending its {sent} reads one after another would wait {} ms; it \
         waited {} ms (the longest chain is 3 reads: the open pull request, which names the default branch, then \
         the base's tip, then the overlay and the promotion branch together; the registry's reads (the source and the version tag, and staging's tag list when staging's filter matches the given tag) and the gates' two \
         (the source commit's check runs and statuses) run beside it). The script's skopeo and git requests go one after another: {} ms.",
        sent * latency_ms,
        ((p.rerun_slow.seconds - p.rerun.seconds) * 1000.0).round(),
        ((s.rerun_slow.seconds - s.rerun.seconds) * 1000.0).round(),
    );

    for (title, run) in [
        ("first run", &p.first),
        ("rerun (reads only: one per step it checks)", &p.rerun),
    ] {
        println!(
            "\n## gitops-promote's GitHub requests, {title}\n\n| request | serves |\n|---|---|"
        );
        let mut log = run.github_log.clone();
        // Reads sent at once arrive in any order: show them in the order of the steps; writes as sent.
        log.sort_by_key(|(line, operation)| {
            let read = line.starts_with("GET");
            let rank = STEPS
                .iter()
                .position(|s| s == operation)
                .unwrap_or(STEPS.len());
            (!read, if read { rank } else { 0 })
        });
        for (line, operation) in &log {
            println!("| `{line}` | {} |", purpose(operation));
        }
    }
}
