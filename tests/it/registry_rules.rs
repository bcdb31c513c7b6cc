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
            && text.contains("`moving-tag: none`"),
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

/// The promote tests' world with production in the classic layout: Flux applies the production overlay from
/// git (a plain Kustomization, no provider following a moving tag), its registry an ECR repository with
/// immutable tags.
fn classic_world_on_immutable_ecr() -> crate::promote::World {
    let w = crate::promote::world_behind_proxy();
    std::fs::write(
        w.scratch.work.join("flux/bootstrap/apps/production/backend.yaml"),
        "apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata:\n  name: backend-production\n  namespace: flux-system\nspec:\n  interval: 10m\n  path: ./flux/apps/backend/production\n  prune: true\n  sourceRef:\n    kind: GitRepository\n    name: flux-system\n",
    )
    .expect("write");
    w.scratch.git(&[
        "commit",
        "-q",
        "-am",
        "chore: production applies the overlay from git",
    ]);
    w.scratch.git(&["push", "-q", "origin", "main"]);
    w.proxy.as_ref().expect("proxy").act_as_immutable_ecr();
    w
}

#[test]
fn with_moving_tag_none_an_immutable_ecr_repository_gets_only_version_tags_through_promote_release_and_rollback()
 {
    let w = classic_world_on_immutable_ecr();
    let latest = format!("{}:production-latest", w.image);
    let none = ("moving-tag", "none");
    let runner = Runner::new();
    w.promote(&runner, &[("staging-tag", "v0.2.0"), none])
        .success();
    let body = w
        .github
        .pulls()
        .last()
        .expect("a pull request")
        .body
        .clone()
        .unwrap_or_default();
    assert!(
        body.contains("none (`moving-tag: none`)") && body.contains("No moving tag is written"),
        "{body}"
    );
    assert!(
        runner
            .summary()
            .contains("| Moving tag | none (`moving-tag: none`)")
    );
    let number = w.github.pulls().last().expect("a pull request").number;
    w.github.merge(number);
    w.scratch
        .git(&["pull", "-q", "--ff-only", "origin", "main"]);

    let released = Runner::new();
    crate::release::release(&w, &released, &[none]).success();
    let out = released.outputs();
    assert_eq!(out["release-operation"], "created");
    assert_eq!(out["moving-tag-operation"], "skipped");
    assert!(!images::exists(&latest, None), "no moving tag is written");
    let writes = (w.registry.writes().len(), w.github_writes().len());
    let again = Runner::new();
    crate::release::release(&w, &again, &[none]).success();
    assert_eq!(again.outputs()["release-operation"], "unchanged");
    assert_eq!((w.registry.writes().len(), w.github_writes().len()), writes);

    // An immediate rollback has no moving tag to move: refused before anything is written.
    let rollback = Runner::new();
    let assert = crate::rollback::rollback(&w, &rollback, &[none, ("immediate", "true")]).failure();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(
        stdout.contains("::error")
            && stdout.contains("immediate")
            && stdout.contains("moving-tag: none"),
        "{stdout}"
    );
    assert_eq!((w.registry.writes().len(), w.github_writes().len()), writes);
    // Through the pull request it works: the overlay goes back, still no moving tag.
    let rollback = Runner::new();
    crate::rollback::rollback(&w, &rollback, &[none]).success();
    assert_eq!(rollback.outputs()["to-tag"], "v0.1.0");
    assert!(!images::exists(&latest, None));
}

#[test]
fn moving_tag_none_where_a_flux_provider_follows_the_moving_tag_is_refused_before_anything_is_written()
 {
    let w = crate::promote::world();
    let writes = (w.registry.writes().len(), w.github_writes().len());
    let runner = Runner::new();
    let assert = w
        .promote(
            &runner,
            &[("staging-tag", "v0.2.0"), ("moving-tag", "none")],
        )
        .failure()
        .code(2);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(
        stdout.contains("::error")
            && stdout.contains("moving-tag")
            && stdout.contains("production would never deploy"),
        "{stdout}"
    );
    assert_eq!((w.registry.writes().len(), w.github_writes().len()), writes);
}
