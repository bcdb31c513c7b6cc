//! The big registries' rules, met by stand-ins (a proxy in front of the real CNCF registry): an ECR repository
//! with immutable tags (a PUT of an existing tag answers 400 `TAG_INVALID`; no cross-repository mount) and a
//! registry that omits `Docker-Content-Digest`.

use serde_json::Value;

use crate::harness::Runner;
use crate::support::images::{self, Format};
use crate::support::proxy::Proxy;
use crate::support::registry::{Auth, Registry};

/// The real registry with `app:v1.0.0` (the new image) and `app:production-latest` on an older one, and a
/// proxy in front of it.
struct Stand {
    registry: Registry,
    proxy: Proxy,
    _tmp: tempfile::TempDir,
    digest: String,
    old: String,
}

impl Stand {
    fn start() -> Self {
        let registry = Registry::start(Auth::Anonymous);
        let tmp = tempfile::tempdir().expect("tmp");
        let source = format!("{}/app:v1.0.0", registry.addr);
        images::push(
            &images::layout(&tmp.path().join("new"), 2, 2, 2048),
            &source,
            Format::Oci,
            None,
        );
        let latest = format!("{}/app:production-latest", registry.addr);
        images::push(
            &images::layout(&tmp.path().join("old"), 1, 1, 512),
            &latest,
            Format::Oci,
            None,
        );
        let proxy = Proxy::start(&registry.addr);
        Stand {
            digest: images::digest(&source, None),
            old: images::digest(&latest, None),
            registry,
            proxy,
            _tmp: tmp,
        }
    }

    /// `repository:tag` through the proxy.
    fn at(&self, reference: &str) -> String {
        format!("{}/{reference}", self.proxy.addr)
    }

    /// `repository:tag` in the registry itself (the independent check).
    fn direct(&self, reference: &str) -> String {
        format!("{}/{reference}", self.registry.addr)
    }
}

fn retag(inputs: &[(&str, &str)]) -> (Runner, std::process::Output) {
    let runner = Runner::new();
    let mut all = vec![("mode", "retag")];
    all.extend_from_slice(inputs);
    let out = runner
        .action(runner.dir.path(), &all)
        .output()
        .expect("run retag");
    (runner, out)
}

fn log(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr)
}

fn operations(runner: &Runner) -> Vec<String> {
    let result: Vec<Value> =
        serde_json::from_str(&runner.outputs()["result"]).expect("result is JSON");
    result
        .iter()
        .map(|r| r["operation"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn an_immutable_ecr_repository_refuses_the_moving_tag_naming_the_setting_and_what_was_written() {
    let s = Stand::start();
    s.proxy.act_as_immutable_ecr();
    let source = s.at("app:v1.0.0");
    let inputs = [
        ("source", source.as_str()),
        ("tags", "v1.1.0,production-latest"),
        ("moving-tags", "production-latest"),
    ];
    let (_, out) = retag(&inputs);
    let text = log(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("::error")
            && text.contains("TAG_INVALID")
            && text.contains("imageTagMutability")
            && text.contains("IMMUTABLE_WITH_EXCLUSION")
            && text.contains("filter=production-latest")
            && text.contains("no moving tag"),
        "the error names ECR's setting and the way out: {text}"
    );
    assert!(
        text.contains("already written by this run") && text.contains("v1.1.0"),
        "the error lists the version tag written before it: {text}"
    );
    // The version tag is right; the moving tag was not half-moved.
    assert_eq!(images::digest(&s.direct("app:v1.1.0"), None), s.digest);
    assert_eq!(
        images::digest(&s.direct("app:production-latest"), None),
        s.old
    );
    // A rerun finds the version tag in place; only the moving tag is refused again.
    let (_, again) = retag(&inputs);
    let text = log(&again);
    assert_eq!(again.status.code(), Some(1), "{text}");
    assert!(
        !text.contains("already written by this run"),
        "nothing new was written: {text}"
    );
    assert!(text.contains("unchanged"), "{text}");
}

#[test]
fn without_cross_repository_mounts_a_copy_to_another_repository_streams_the_blobs_silently() {
    let s = Stand::start();
    s.proxy.act_as_immutable_ecr();
    let source = s.at("app:v1.0.0");
    // A full reference: another repository of the same registry.
    let target = s.at("other/app:v1.0.0");
    let (runner, out) = retag(&[("source", source.as_str()), ("tags", target.as_str())]);
    let text = log(&out);
    assert!(out.status.success(), "{text}");
    assert!(!text.contains("::warning"), "{text}");
    assert_eq!(operations(&runner), ["created"]);
    assert_eq!(
        images::digest(&s.direct("other/app:v1.0.0"), None),
        s.digest
    );
    assert!(
        s.proxy
            .log()
            .iter()
            .any(|l| l.starts_with("POST") && l.contains("mount=")),
        "a mount was asked for, and refused by the stand-in: {:?}",
        s.proxy.log()
    );
    // Another tag of the same image in that repository: the blobs are there, so none is uploaded again
    // (after a refused mount the target is asked first), and nothing is mounted or copied at all.
    let seen = s.proxy.log().len();
    let second = s.at("other/app:v1");
    let (_, out) = retag(&[("source", source.as_str()), ("tags", second.as_str())]);
    let text = log(&out);
    assert!(out.status.success(), "{text}");
    let uploads: Vec<String> = s.proxy.log()[seen..]
        .iter()
        .filter(|l| l.contains("/blobs/uploads/"))
        .cloned()
        .collect();
    assert!(uploads.is_empty(), "{uploads:?}");
    assert_eq!(images::digest(&s.direct("other/app:v1"), None), s.digest);
}

#[test]
fn a_registry_that_omits_the_content_digest_header_is_answered_from_the_bytes() {
    let s = Stand::start();
    s.proxy.strip_header("Docker-Content-Digest");
    let source = s.at("app:v1.0.0");
    let inputs = [("source", source.as_str()), ("tags", "t1,t2")];
    let (runner, out) = retag(&inputs);
    assert!(out.status.success(), "{}", log(&out));
    assert_eq!(operations(&runner), ["created", "created"]);
    assert_eq!(
        runner.outputs()["digest"],
        s.digest,
        "{:?}",
        runner.outputs()
    );
    for tag in ["t1", "t2"] {
        assert_eq!(
            images::digest(&s.direct(&format!("app:{tag}")), None),
            s.digest
        );
    }
    let (again, out) = retag(&inputs);
    assert!(out.status.success(), "{}", log(&out));
    assert_eq!(operations(&again), ["unchanged", "unchanged"]);
}

#[test]
fn an_anonymous_rate_limit_that_does_not_end_says_to_log_in_and_nothing_is_written() {
    let s = Stand::start();
    // Docker Hub's answer to anonymous pulls over the limit, every time.
    for _ in 0..20 {
        s.proxy.fault(
            "GET",
            "/manifests/v1.0.0",
            crate::support::proxy::Fault::Status(429, Some(0)),
        );
    }
    let source = s.at("app:v1.0.0");
    let (_, out) = retag(&[("source", source.as_str()), ("tags", "t1")]);
    let text = log(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("429") && text.contains("log in") && text.contains("docker/login-action"),
        "{text}"
    );
    assert!(
        !images::exists(&s.direct("app:t1"), None),
        "nothing written"
    );
}
