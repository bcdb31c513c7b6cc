//! `retag` (and `source-image` in the build modes) against the real CNCF registry: anonymous, htpasswd
//! basic auth and token auth; OCI and Docker media types, single images and two-platform indexes; copies
//! across repositories and registries; faults injected by a proxy. `skopeo inspect --raw` is the
//! independent digest check.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::{Runner, Scratch, gitops_promote};
use crate::support::images::{self, Format};
use crate::support::proxy::{Fault, Proxy};
use crate::support::registry::{Auth, PASSWORD, Registry, USER};
use crate::support::token::Issuer;

const CREDS: Option<(&str, &str)> = Some((USER, PASSWORD));

/// A registry with one pushed image `app:v1.0.0`.
struct Setup {
    registry: Registry,
    _tmp: tempfile::TempDir,
    source: String,
    digest: String,
}

fn setup(auth: Auth<'_>, platforms: usize, format: Format, creds: Option<(&str, &str)>) -> Setup {
    let registry = Registry::start(auth);
    let tmp = tempfile::tempdir().expect("tempdir");
    let layout = images::layout(tmp.path(), platforms, 2, 4096);
    let source = format!("{}/app:v1.0.0", registry.addr);
    images::push(&layout, &source, format, creds);
    let digest = images::digest(&source, creds);
    Setup {
        registry,
        _tmp: tmp,
        source,
        digest,
    }
}

fn result(runner: &Runner) -> Vec<Value> {
    serde_json::from_str(&runner.outputs()["result"]).expect("result is JSON")
}

fn operations(runner: &Runner) -> Vec<String> {
    result(runner)
        .iter()
        .map(|r| r["operation"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn requests(runner: &Runner) -> u64 {
    let json: Value = serde_json::from_str(&runner.outputs()["json"]).expect("json output");
    json["requests"].as_u64().expect("requests")
}

fn run_retag(inputs: &[(&str, &str)]) -> (Runner, assert_cmd::assert::Assert) {
    let runner = Runner::new();
    let mut all = vec![("mode", "retag")];
    all.extend_from_slice(inputs);
    let assert = runner.action(runner.dir.path(), &all).assert();
    (runner, assert)
}

#[test]
fn retag_keeps_the_digest_for_all_four_media_types_and_reruns_unchanged() {
    for (platforms, format, expected_type) in [
        (1, Format::Oci, images::OCI_MANIFEST),
        (2, Format::Oci, images::OCI_INDEX),
        (1, Format::Docker, images::DOCKER_MANIFEST),
        (2, Format::Docker, images::DOCKER_LIST),
    ] {
        let s = setup(Auth::Anonymous, platforms, format, None);
        assert_eq!(
            images::media_type(&images::inspect_raw(&s.source, None)),
            expected_type
        );
        let tags = "v1.0.0-stable,production-latest";
        let (runner, assert) = run_retag(&[("source", &s.source), ("tags", tags)]);
        assert.success();
        let out = runner.outputs();
        assert_eq!(out["digest"], s.digest, "{expected_type}");
        assert_eq!(out["media-type"], expected_type);
        assert_eq!(operations(&runner), ["created", "created"]);
        for tag in ["v1.0.0-stable", "production-latest"] {
            let target = format!("{}/app:{tag}", s.registry.addr);
            assert_eq!(
                images::digest(&target, None),
                s.digest,
                "{expected_type} {tag}"
            );
        }
        // The minimum: one GET of the source, then per tag a HEAD (compare), a PUT and a HEAD (re-read).
        assert_eq!(requests(&runner), 1 + 3 * 2, "{expected_type}");

        let before = s.registry.writes().len();
        assert!(before >= 2, "the registry's log shows the two tag PUTs");
        let (again, assert) = run_retag(&[("source", &s.source), ("tags", tags)]);
        assert.success();
        assert_eq!(operations(&again), ["unchanged", "unchanged"]);
        assert_eq!(requests(&again), 1 + 2, "a rerun only reads");
        assert_eq!(s.registry.writes().len(), before, "a rerun writes nothing");
    }
}

#[test]
fn immutable_tags_conflict_moving_tags_move_and_force_overrides() {
    let s = setup(Auth::Anonymous, 1, Format::Oci, None);
    let tmp = tempfile::tempdir().expect("tmp");
    let other = format!("{}/app:v0.9.0", s.registry.addr);
    images::push(
        &images::layout(tmp.path(), 1, 1, 512),
        &other,
        Format::Oci,
        None,
    );
    let other_digest = images::digest(&other, None);
    // Give `production-latest` and `stable` the old image.
    for tag in ["production-latest", "stable"] {
        run_retag(&[("source", &other), ("tags", tag)]).1.success();
    }

    let (runner, assert) = run_retag(&[("source", &s.source), ("tags", "stable,fresh")]);
    let out = assert.failure().code(1).get_output().stdout.clone();
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("already points to") && text.contains("force"),
        "{text}"
    );
    assert!(!runner.output_written() || !runner.outputs().contains_key("result"));
    assert_eq!(
        images::digest(&format!("{}/app:stable", s.registry.addr), None),
        other_digest
    );
    assert!(
        !images::exists(&format!("{}/app:fresh", s.registry.addr), None),
        "a conflict writes nothing"
    );

    let (runner, assert) = run_retag(&[
        ("source", &s.source),
        ("tags", "production-latest,stable"),
        ("moving-tags", "stable"),
    ]);
    assert.success();
    let r = result(&runner);
    assert_eq!(operations(&runner), ["moved", "moved"]);
    assert_eq!(r[0]["old_digest"], other_digest);
    assert_eq!(
        images::digest(&format!("{}/app:production-latest", s.registry.addr), None),
        s.digest
    );

    let (runner, assert) = run_retag(&[("source", &other), ("tags", "stable"), ("force", "true")]);
    assert.success();
    assert_eq!(operations(&runner), ["moved"]);
    assert_eq!(
        images::digest(&format!("{}/app:stable", s.registry.addr), None),
        other_digest
    );
}

#[test]
fn basic_auth_retags_and_a_wrong_password_fails_with_the_fix() {
    let s = setup(Auth::Htpasswd, 2, Format::Oci, CREDS);
    let (runner, assert) = run_retag(&[
        ("source", &s.source),
        ("tags", "v1.0.0-stable"),
        ("registry-username", USER),
        ("registry-password", PASSWORD),
    ]);
    let stdout = String::from_utf8_lossy(&assert.success().get_output().stdout).to_string();
    assert!(
        stdout.contains(&format!("::add-mask::{PASSWORD}")),
        "the password is masked"
    );
    assert_eq!(operations(&runner), ["created"]);
    assert_eq!(
        images::digest(&format!("{}/app:v1.0.0-stable", s.registry.addr), CREDS),
        s.digest
    );
    // One 401 challenge, then basic auth on every request.
    assert_eq!(requests(&runner), 1 + 1 + 3);

    let before = s.registry.writes().len();
    let (_, assert) = run_retag(&[
        ("source", &s.source),
        ("tags", "other"),
        ("registry-username", USER),
        ("registry-password", "wrong"),
    ]);
    let out = assert.failure().code(1).get_output().stdout.clone();
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("401") && text.contains("registry-password"),
        "{text}"
    );
    assert!(
        text.contains(&s.source),
        "the error names the image: {text}"
    );
    assert!(
        text.lines()
            .all(|l| l == "::add-mask::wrong" || !l.contains("wrong")),
        "the password only appears in its mask command: {text}"
    );
    assert_eq!(s.registry.writes().len(), before);
}

#[test]
fn token_auth_gets_one_token_for_all_scopes_and_copies_across_repositories() {
    let issuer = Issuer::start();
    let s = setup(Auth::Token(&issuer), 2, Format::Docker, CREDS);
    let copy = format!("{}/prod/app:v1.0.0", s.registry.addr);
    let tokens_before = issuer.requests();
    let (runner, assert) = run_retag(&[
        ("source", &s.source),
        ("tags", &format!("v1.0.0-stable,{copy}")),
        ("registry-username", USER),
        ("registry-password", PASSWORD),
    ]);
    let stdout = String::from_utf8_lossy(&assert.success().get_output().stdout).to_string();
    assert_eq!(operations(&runner), ["created", "created"]);
    assert_eq!(
        issuer.requests() - tokens_before,
        1,
        "one token covers both repositories"
    );
    assert!(
        stdout.contains("::add-mask::ey"),
        "the bearer token is masked: {stdout}"
    );
    for target in [
        format!("{}/app:v1.0.0-stable", s.registry.addr),
        copy.clone(),
    ] {
        assert_eq!(images::digest(&target, CREDS), s.digest, "{target}");
    }
    assert!(
        stdout.contains("mounted"),
        "blobs were mounted, not uploaded: {stdout}"
    );

    // Anonymous callers get a token without access: a clean permission error.
    let (_, assert) = run_retag(&[("source", &s.source), ("tags", "anon")]);
    let text = String::from_utf8_lossy(&assert.failure().code(1).get_output().stdout).to_string();
    assert!(
        text.contains("401") && text.contains("registry-username"),
        "{text}"
    );
}

#[test]
fn copy_across_registries_streams_only_missing_blobs() {
    let s = setup(Auth::Anonymous, 2, Format::Oci, None);
    let target = Registry::start(Auth::Anonymous);
    let dest = format!("{}/mirror/app:v1.0.0", target.addr);
    let (runner, assert) = run_retag(&[("source", &s.source), ("tags", &dest)]);
    let stdout = String::from_utf8_lossy(&assert.success().get_output().stdout).to_string();
    assert_eq!(operations(&runner), ["created"]);
    assert_eq!(images::digest(&dest, None), s.digest);
    // Two platforms × (config + 2 layers) = 6 blobs streamed.
    assert_eq!(stdout.matches("copied blob").count(), 6, "{stdout}");

    let dest2 = format!("{}/mirror/app:again", target.addr);
    let (_, assert) = run_retag(&[("source", &s.source), ("tags", &dest2)]);
    let stdout = String::from_utf8_lossy(&assert.success().get_output().stdout).to_string();
    assert_eq!(
        stdout.matches("copied blob").count(),
        0,
        "every blob is already there: {stdout}"
    );
    assert_eq!(images::digest(&dest2, None), s.digest);
}

#[test]
fn a_buildx_index_with_attestations_is_copied_whole_and_its_digest_kept() {
    let registry = Registry::start(Auth::Anonymous);
    let tmp = tempfile::tempdir().expect("tempdir");
    let layout = images::buildx_layout(tmp.path(), &[Some("abc"), Some("abc")]);
    let source = format!("{}/app:build-1", registry.addr);
    images::push(&layout, &source, Format::Oci, None);
    let digest = images::digest(&source, None);
    let target = Registry::start(Auth::Anonymous);
    for dest in [
        format!("{}/app:v1.0.0", registry.addr),
        format!("{}/other:v1.0.0", registry.addr),
        format!("{}/mirror/app:v1.0.0", target.addr),
    ] {
        let (runner, assert) = run_retag(&[("source", &source), ("tags", &dest)]);
        assert.success();
        assert_eq!(operations(&runner), ["created"], "{dest}");
        assert_eq!(images::digest(&dest, None), digest, "{dest}");
        // Every entry of the index, attestation manifests included, is readable in the target.
        let index: Value =
            serde_json::from_slice(&images::inspect_raw(&dest, None)).expect("index");
        let entries = index["manifests"].as_array().expect("manifests");
        assert_eq!(entries.len(), 4, "two platforms and their attestations");
        let repo = dest.rsplit_once(':').expect("tag").0;
        for entry in entries {
            let child = format!("{repo}@{}", entry["digest"].as_str().expect("digest"));
            assert!(images::exists(&child, None), "{child} was copied");
        }
    }
}

#[test]
fn bad_input_exits_2_before_any_request() {
    let s = setup(Auth::Anonymous, 1, Format::Oci, None);
    let before = s.registry.requests();
    for inputs in [
        vec![("source", s.source.as_str()), ("tags", "bad tag!")],
        vec![("source", "no-tag-here"), ("tags", "x")],
        vec![
            ("source", s.source.as_str()),
            ("tags", "x"),
            ("force", "yes"),
        ],
        vec![
            ("source", s.source.as_str()),
            ("tags", "x"),
            ("registry-timeout", "soon"),
        ],
        vec![
            ("source", s.source.as_str()),
            ("tags", "x"),
            ("registry-username", "u"),
        ],
        vec![("tags", "x")],
    ] {
        let (_, assert) = run_retag(&inputs);
        assert.failure().code(2);
    }
    // Every problem at once.
    let (_, assert) = run_retag(&[("source", "NOPE"), ("tags", ""), ("force", "maybe")]);
    let text = String::from_utf8_lossy(&assert.failure().code(2).get_output().stdout).to_string();
    for input in ["source", "tags", "force"] {
        assert!(text.contains(&format!("invalid input `{input}`")), "{text}");
    }
    assert_eq!(s.registry.requests(), before, "bad input touches nothing");
}

#[test]
fn a_bad_source_and_bad_tags_are_reported_together() {
    // Regression: `--source 'not a ref' --tags 'bad tag!'` reported only `source`; `tags` was checked only
    // once the source parsed.
    let out = gitops_promote()
        .args(["retag", "--source", "not a ref", "--tags", "bad tag!"])
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    for input in ["source", "tags"] {
        assert!(
            stderr.contains(&format!("invalid input `{input}`")),
            "{input}: {stderr}"
        );
    }
    assert!(
        stderr.contains("`bad tag!` is neither a tag nor a reference"),
        "{stderr}"
    );
}

#[test]
fn the_image_check_tells_a_missing_tag_from_a_broken_check() {
    // Regression: `images::exists` said "absent" on any skopeo failure, so "nothing was written" assertions
    // passed against a registry that could not be read at all.
    let s = setup(Auth::Htpasswd, 1, Format::Oci, CREDS);
    assert!(images::exists(&s.source, CREDS));
    assert!(!images::exists(
        &format!("{}/app:never-pushed", s.registry.addr),
        CREDS
    ));
    let dead = format!("127.0.0.1:{}", crate::support::registry::free_port());
    for (reference, creds) in [
        (format!("{dead}/app:v1.0.0"), None),
        (s.source.clone(), Some((USER, "wrong-password"))),
    ] {
        let checked = std::panic::catch_unwind(|| images::exists(&reference, creds));
        assert!(
            checked.is_err(),
            "a failed check of `{reference}` must not read as absent"
        );
    }
}

#[test]
fn dry_run_prints_the_plan_and_writes_nothing() {
    let s = setup(Auth::Anonymous, 1, Format::Oci, None);
    let before = s.registry.writes().len();
    let out = gitops_promote()
        .args([
            "retag",
            "--source",
            &s.source,
            "--tags",
            "v1\nproduction-latest",
            "--dry-run",
        ])
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    let text = String::from_utf8_lossy(&out);
    assert!(
        text.contains("\"step\": \"retag\"") && text.contains("(dry run)"),
        "{text}"
    );
    assert!(text.contains(&s.digest[..19]), "{text}");
    assert_eq!(s.registry.writes().len(), before);
    assert!(!images::exists(
        &format!("{}/app:v1", s.registry.addr),
        None
    ));
}

#[test]
fn a_dry_run_result_says_would_create_and_would_move() {
    // Regression: a dry run's `result` said `created` and `moved` for tags it never wrote, so a job gated on
    // `operation == 'moved'` fired on a dry run.
    let s = setup(Auth::Anonymous, 1, Format::Oci, None);
    let (_, assert) = run_retag(&[("source", &s.source), ("tags", "production-latest")]);
    assert.success();
    // A second image in the same repository, so that `production-latest` would move.
    let tmp = tempfile::tempdir().expect("tempdir");
    let layout = images::layout(tmp.path(), 1, 1, 1024);
    let newer = format!("{}/app:v2.0.0", s.registry.addr);
    images::push(&layout, &newer, Format::Oci, None);
    let before = s.registry.writes().len();
    let (runner, assert) = run_retag(&[
        ("source", &newer),
        ("tags", "v2.0.0-stable,production-latest,v2.0.0"),
        ("dry-run", "true"),
    ]);
    assert.success();
    assert_eq!(
        operations(&runner),
        ["would-create", "would-move", "unchanged"]
    );
    let summary = runner.summary();
    assert!(summary.contains("| would-move |"), "{summary}");
    assert!(!summary.contains("| moved |"), "{summary}");
    assert_eq!(
        s.registry.writes().len(),
        before,
        "a dry run writes nothing"
    );
    let latest = format!("{}/app:production-latest", s.registry.addr);
    assert_eq!(images::digest(&latest, None), s.digest);
}

#[test]
fn faults_429_503_drops_and_slowness_converge_to_the_right_digest() {
    let s = setup(Auth::Anonymous, 2, Format::Oci, None);
    let proxy = Proxy::start(&s.registry.addr);
    let source = s.source.replace(&s.registry.addr, &proxy.addr);
    proxy.fault("GET", "/manifests/v1.0.0", Fault::Status(503, None));
    proxy.fault("GET", "/manifests/v1.0.0", Fault::DropBefore);
    proxy.fault(
        "HEAD",
        "/manifests/t1",
        Fault::Slow(Duration::from_millis(1500)),
    );
    proxy.fault("PUT", "/manifests/t1", Fault::Status(429, Some(1)));
    proxy.fault("PUT", "/manifests/t1", Fault::DropAfter);
    let started = Instant::now();
    let (runner, assert) = run_retag(&[("source", &source), ("tags", "t1,t2")]);
    let stdout = String::from_utf8_lossy(&assert.success().get_output().stdout).to_string();
    assert_eq!(proxy.pending(), 0, "every fault was hit: {:?}", proxy.log());
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert!(stdout.contains("retrying"), "{stdout}");
    assert_eq!(operations(&runner), ["created", "created"]);
    for tag in ["t1", "t2"] {
        assert_eq!(
            images::digest(&format!("{}/app:{tag}", s.registry.addr), None),
            s.digest
        );
    }
}

#[test]
fn a_registry_that_keeps_failing_fails_cleanly_within_the_timeout() {
    let s = setup(Auth::Anonymous, 1, Format::Oci, None);
    let proxy = Proxy::start(&s.registry.addr);
    let source = s.source.replace(&s.registry.addr, &proxy.addr);
    for _ in 0..20 {
        proxy.fault("PUT", "/manifests/t1", Fault::Status(503, None));
    }
    let started = Instant::now();
    let (_, assert) = run_retag(&[
        ("source", &source),
        ("tags", "t1"),
        ("registry-timeout", "3"),
    ]);
    let text = String::from_utf8_lossy(&assert.failure().code(1).get_output().stdout).to_string();
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(
        text.contains("write tag `t1`") && text.contains("503") && text.contains("gave up"),
        "{text}"
    );
    assert!(
        !images::exists(&format!("{}/app:t1", s.registry.addr), None),
        "no tag at a wrong digest"
    );

    // A slow registry past the deadline: a clean timeout, nothing written.
    proxy.fault(
        "GET",
        "/manifests/v1.0.0",
        Fault::Slow(Duration::from_secs(8)),
    );
    let (_, assert) = run_retag(&[
        ("source", &source),
        ("tags", "t3"),
        ("registry-timeout", "2"),
    ]);
    let text = String::from_utf8_lossy(&assert.failure().code(1).get_output().stdout).to_string();
    assert!(text.contains("read manifest"), "{text}");
    assert!(!images::exists(
        &format!("{}/app:t3", s.registry.addr),
        None
    ));
}

#[test]
fn build_modes_retag_the_source_image_to_the_computed_tag() {
    let s = setup(Auth::Anonymous, 2, Format::Oci, None);
    let scratch = Scratch::new();
    scratch.commit("feat: first");
    let image = format!("{}/app", s.registry.addr);
    let runner = Runner::new();
    runner
        .action(
            &scratch.work,
            &[
                ("mode", "develop-build"),
                ("image", &image),
                ("source-image", &s.source),
            ],
        )
        .assert()
        .success();
    let tag = runner.outputs()["tag"].clone();
    assert!(tag.starts_with("v0.1.0-rc.1.g"), "{tag}");
    assert_eq!(images::digest(&format!("{image}:{tag}"), None), s.digest);

    // The version tag is immutable: another image for the same tag is a conflict.
    let tmp = tempfile::tempdir().expect("tmp");
    let other = format!("{}/app:other", s.registry.addr);
    images::push(
        &images::layout(tmp.path(), 1, 1, 256),
        &other,
        Format::Oci,
        None,
    );
    let runner = Runner::new();
    let out = runner
        .action(
            &scratch.work,
            &[
                ("mode", "develop-build"),
                ("image", &image),
                ("source-image", &other),
            ],
        )
        .assert()
        .failure()
        .code(1)
        .get_output()
        .stdout
        .clone();
    assert!(String::from_utf8_lossy(&out).contains("already points to"));
    assert_eq!(images::digest(&format!("{image}:{tag}"), None), s.digest);
}

#[test]
fn a_missing_source_is_not_found_and_names_the_image() {
    let registry = Registry::start(Auth::Anonymous);
    let source = format!("{}/app:nope", registry.addr);
    let (_, assert) = run_retag(&[("source", &source), ("tags", "x")]);
    let text = String::from_utf8_lossy(&assert.failure().code(1).get_output().stdout).to_string();
    assert!(
        text.contains("not found") && text.contains(&source) && text.contains("404"),
        "{text}"
    );
    assert!(registry.writes().is_empty());
}

#[test]
fn a_cross_registry_copy_restarts_a_blob_whose_upload_failed() {
    let s = setup(Auth::Anonymous, 1, Format::Oci, None);
    let target = Registry::start(Auth::Anonymous);
    let proxy = Proxy::start(&target.addr);
    proxy.fault("PUT", "/blobs/uploads/", Fault::Status(503, None));
    proxy.fault("PUT", "/blobs/uploads/", Fault::DropBefore);
    proxy.fault("HEAD", "/blobs/", Fault::Status(429, Some(0)));
    let dest = format!("{}/mirror/app:v1.0.0", proxy.addr);
    let (runner, assert) = run_retag(&[("source", &s.source), ("tags", &dest)]);
    let stdout = String::from_utf8_lossy(&assert.success().get_output().stdout).to_string();
    assert_eq!(proxy.pending(), 0, "every fault was hit: {:?}", proxy.log());
    assert!(stdout.contains("retrying"), "{stdout}");
    assert_eq!(operations(&runner), ["created"]);
    assert_eq!(
        images::digest(&format!("{}/mirror/app:v1.0.0", target.addr), None),
        s.digest
    );
}

mod tls {
    use super::*;
    use crate::support::tls::TestCa;

    /// `retag` as the runner starts it, trusting exactly the CAs in `trusted` (a PEM file).
    fn retag_trusting(
        trusted: &std::path::Path,
        inputs: &[(&str, &str)],
    ) -> (Runner, std::process::Output) {
        let runner = Runner::new();
        let mut all = vec![("mode", "retag")];
        all.extend_from_slice(inputs);
        let out = runner
            .action(runner.dir.path(), &all)
            // The machine exports a bundle of its own; the test says exactly what is trusted.
            .env("SSL_CERT_FILE", trusted)
            .env_remove("SSL_CERT_DIR")
            .output()
            .expect("run");
        (runner, out)
    }

    #[test]
    fn a_loopback_registry_with_a_private_ca_is_verified_and_an_untrusted_one_refused() {
        // Regression: the registry client's TLS path had only a unit test, and a loopback registry always got
        // plain http, so a registry serving TLS on loopback could not be reached at all.
        let ca = TestCa::new("gitops-promote test CA");
        let registry = Registry::start_tls(&ca);
        let tmp = tempfile::tempdir().expect("tempdir");
        let source = format!("{}/app:v1.0.0", registry.addr);
        images::push(
            &images::layout(tmp.path(), 2, 1, 1024),
            &source,
            Format::Oci,
            None,
        );
        let digest = images::digest(&source, None);

        // Trusted (and no `insecure-registry`): verified TLS, the tag written.
        let (runner, out) = retag_trusting(&ca.ca, &[("source", &source), ("tags", "stable")]);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(operations(&runner), ["created"]);
        assert_eq!(runner.outputs()["digest"], digest);
        assert_eq!(
            images::digest(&format!("{}/app:stable", registry.addr), None),
            digest
        );

        // Not trusted: a clear error naming the registry and how to trust a private CA, at once, nothing written.
        let other = TestCa::new("another CA");
        let writes = registry.writes().len();
        let started = Instant::now();
        let (_, out) = retag_trusting(&other.ca, &[("source", &source), ("tags", "refused")]);
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert_eq!(out.status.code(), Some(1), "{stdout}");
        assert!(
            stdout.contains(&format!(
                "the TLS certificate of registry `{}` is not trusted",
                registry.addr
            )),
            "{stdout}"
        );
        assert!(
            stdout.contains("SSL_CERT_FILE") && stdout.contains("private CA"),
            "{stdout}"
        );
        assert!(
            !stdout.contains("attempts"),
            "a certificate is not retried: {stdout}"
        );
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!(registry.writes().len(), writes, "nothing written");
        assert!(!images::exists(
            &format!("{}/app:refused", registry.addr),
            None
        ));
    }
}
