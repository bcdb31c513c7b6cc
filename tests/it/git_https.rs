//! Git remotes over https through the binary's own smart-HTTP transport (src/git/http.rs: libgit2's
//! protocol over reqwest and rustls): a real TLS server (lighttpd + `git http-backend`) on 127.0.0.1 with a
//! certificate of a test CA that the step trusts through `SSL_CERT_FILE`, and a password, as GitHub asks.

use std::path::Path;

use predicates::str::contains;

use crate::git_http::GitHttpServer;
use crate::harness::{Runner, Scratch, git};
use crate::support::tls::TestCa;

const TOKEN: &str = "ghs_0123456789abcdefHTTPS";

/// `cmd` trusting exactly the CAs in `ca` (the machine exports a bundle of its own).
fn trusting(mut cmd: assert_cmd::Command, ca: &Path) -> assert_cmd::Command {
    cmd.env("SSL_CERT_FILE", ca).env_remove("SSL_CERT_DIR");
    cmd
}

/// A repository with one commit, pushed, whose `origin` is now the https server (no credentials in its URL
/// or config, as after `actions/checkout` with `persist-credentials: false`).
fn setup(ca: &TestCa) -> (Scratch, GitHttpServer) {
    let s = Scratch::new();
    s.commit("feat: first");
    s.git(&["push", "-q", "origin", "main"]);
    let server = GitHttpServer::start_tls(s.dir.path(), s.dir.path(), TOKEN, ca);
    s.git(&["remote", "set-url", "origin", &server.url("origin.git")]);
    (s, server)
}

fn staging_build(
    runner: &Runner,
    s: &Scratch,
    ca: &Path,
    token: Option<&str>,
) -> assert_cmd::Command {
    let mut inputs = vec![("mode", "staging-build"), ("image", "ghcr.io/org/app")];
    if let Some(token) = token {
        inputs.push(("github-token", token));
    }
    trusting(runner.action(&s.work, &inputs), ca)
}

/// The step's log without the mask command that names the token (the runner hides the value from then on).
fn log(out: &std::process::Output, token: &str) -> String {
    String::from_utf8_lossy(&out.stdout).replace(&format!("::add-mask::{token}"), "")
        + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn a_release_tag_is_pushed_over_https_with_the_token_which_never_shows() {
    let ca = TestCa::new("gitops-promote test CA");
    let (s, _server) = setup(&ca);
    let runner = Runner::new();
    let out = staging_build(&runner, &s, &ca.ca, Some(TOKEN))
        .assert()
        .success();
    assert_eq!(runner.outputs()["git-tag-operation"], "created");
    assert_eq!(s.origin_tag("v0.1.0").as_deref(), Some(s.head().as_str()));
    assert!(!log(out.get_output(), TOKEN).contains(TOKEN));
    assert!(!runner.summary().contains(TOKEN));
    assert!(!s.git(&["config", "--list"]).contains(TOKEN));

    // The rerun reads the tag back over https (ls-remote) and leaves it.
    let rerun = Runner::new();
    staging_build(&rerun, &s, &ca.ca, Some(TOKEN))
        .assert()
        .success();
    assert_eq!(rerun.outputs()["git-tag-operation"], "unchanged");
}

#[test]
fn promote_fetches_the_moved_base_branch_and_pushes_on_top_of_it_over_https() {
    let w = crate::promote::world();
    // One token for the git server and the test GitHub (the release goes there), as on GitHub.
    use crate::support::github::TOKEN as GITHUB_TOKEN;
    // Someone else pushed to main meanwhile: the promotion must fetch that commit to build on it.
    let other = w.scratch.dir.path().join("other");
    git(
        w.scratch.dir.path(),
        &[
            "clone",
            "-q",
            w.scratch.origin.to_str().expect("utf-8"),
            "other",
        ],
    );
    git(
        &other,
        &[
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "docs: a concurrent change",
        ],
    );
    git(&other, &["push", "-q", "origin", "main"]);
    let concurrent = git(&other, &["rev-parse", "HEAD"]);
    let ca = TestCa::new("gitops-promote test CA");
    let dir = w.scratch.dir.path();
    let server = GitHttpServer::start_tls(dir, dir, GITHUB_TOKEN, &ca);
    w.scratch
        .git(&["remote", "set-url", "origin", &server.url("origin.git")]);
    let present = std::process::Command::new("git")
        .current_dir(&w.scratch.work)
        .args(["cat-file", "-e", &concurrent])
        .status()
        .expect("git");
    assert!(
        !present.success(),
        "the checkout lacks the concurrent commit"
    );

    let runner = Runner::new();
    let out = trusting(
        runner.action(
            &w.scratch.work,
            &[
                ("mode", "promote"),
                ("image", &w.image),
                ("staging-tag", "v0.2.0"),
                ("commit-via", "git"),
                ("pull-request", "false"),
                ("github-token", GITHUB_TOKEN),
            ],
        ),
        &ca.ca,
    )
    // The release the direct promotion publishes goes to the test GitHub.
    .env("GITHUB_API_URL", w.github.url())
    .assert()
    .success();
    let outputs = runner.outputs();
    assert_eq!(outputs["commit-operation"], "created");
    assert_eq!(w.origin(&["rev-parse", "main"]), outputs["commit"]);
    assert_eq!(
        w.origin(&["rev-parse", "main^"]),
        concurrent,
        "built on the fetched commit, nothing of it reverted"
    );
    assert!(w.overlay_on("main").contains("newTag: v0.2.0"));
    assert!(!log(out.get_output(), GITHUB_TOKEN).contains(GITHUB_TOKEN));
}

#[test]
fn an_untrusted_certificate_fails_saying_how_to_trust_it_without_printing_the_token() {
    let ca = TestCa::new("gitops-promote test CA");
    let (s, _server) = setup(&ca);
    let other = TestCa::new("another CA");
    let runner = Runner::new();
    let out = staging_build(&runner, &s, &other.ca, Some(TOKEN))
        .assert()
        .code(1)
        .stdout(contains("certificate is not trusted"))
        .stdout(contains("SSL_CERT_FILE"));
    assert!(!log(out.get_output(), TOKEN).contains(TOKEN));
    assert!(s.origin_tag("v0.1.0").is_none());
}

#[test]
fn a_refused_or_missing_token_over_https_is_a_permission_error_that_never_prints_it() {
    let ca = TestCa::new("gitops-promote test CA");
    let (s, _server) = setup(&ca);
    let wrong = "ghs_wrongTOKENoverHTTPS";
    let out = staging_build(&Runner::new(), &s, &ca.ca, Some(wrong))
        .assert()
        .code(1)
        .stdout(contains("::error title=permission denied::"))
        .stdout(contains("contents: write"));
    assert!(!log(out.get_output(), wrong).contains(wrong));

    staging_build(&Runner::new(), &s, &ca.ca, None)
        .assert()
        .code(1)
        .stdout(contains("::error title=permission denied::"))
        .stdout(contains("pass `github-token`"));
    assert!(s.origin_tag("v0.1.0").is_none());
}
