//! Signatures, attestations, SBOMs and OCI referrers follow the image: real CNCF registries on loopback (A with
//! htpasswd, B behind token auth, different logins), an image in A with cosign's `.sig`, `.att` and `.sbom`
//! tags and an OCI 1.1 referrer (made here as plain OCI artifacts, listed in the fallback tag as a client does
//! for a registry without the referrers API, which distribution 2.8 is), and a cross-registry retag and
//! promotion. The referrers API itself is met through a stand-in (the proxy, indexing what is PUT with a
//! `subject`, as a registry with the API does).

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use crate::harness::Runner;
use crate::support::images::{self, Format, OCI_INDEX, OCI_MANIFEST, digest_of};
use crate::support::proxy::Proxy;
use crate::support::registry::{Auth, Registry};
use crate::support::token::Issuer;

const USER_A: &str = "staging-bot";
const PASS_A: &str = "pass-of-staging-AAAA";
const USER_B: &str = "prod-bot";
const PASS_B: &str = "pass-of-prod-BBBB";
const EMPTY: &[u8] = b"{}";
const EMPTY_TYPE: &str = "application/vnd.oci.empty.v1+json";
const SBOM_TYPE: &str = "application/spdx+json";

/// Raw pushes to a registry with basic auth: what cosign or oras would send.
struct Pusher {
    base: String,
    login: Option<(&'static str, &'static str)>,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Pusher {
    fn new(addr: &str, login: Option<(&'static str, &'static str)>) -> Self {
        Self {
            base: format!("http://{addr}"),
            login,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
        }
    }

    /// A monolithic blob upload; the descriptor of the blob.
    fn blob(&self, repo: &str, bytes: &[u8], media_type: &str) -> serde_json::Value {
        let digest = digest_of(bytes);
        self.rt.block_on(async {
            let resp = self
                .http
                .post(format!("{}/v2/{repo}/blobs/uploads/", self.base))
                .basic_auth_opt(self.login)
                .header("content-length", "0")
                .send()
                .await
                .expect("upload");
            assert_eq!(resp.status(), 202, "{:?}", resp.text().await);
            let location = resp.headers()["location"]
                .to_str()
                .expect("location")
                .to_string();
            let url = reqwest::Url::parse(&self.base)
                .expect("base")
                .join(&location)
                .expect("location url");
            let resp = self
                .http
                .put(url)
                .query(&[("digest", &digest)])
                .basic_auth_opt(self.login)
                .header("content-type", "application/octet-stream")
                .body(bytes.to_vec())
                .send()
                .await
                .expect("put blob");
            assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
        });
        json!({"mediaType": media_type, "digest": digest, "size": bytes.len()})
    }

    /// PUTs a manifest under `locator` (a tag or its digest); its digest.
    fn manifest(&self, repo: &str, locator: &str, manifest: &serde_json::Value) -> String {
        let bytes = serde_json::to_vec(manifest).expect("json");
        let media_type = manifest["mediaType"]
            .as_str()
            .expect("mediaType")
            .to_string();
        self.rt.block_on(async {
            let resp = self
                .http
                .put(format!("{}/v2/{repo}/manifests/{locator}", self.base))
                .basic_auth_opt(self.login)
                .header("content-type", media_type)
                .body(bytes.clone())
                .send()
                .await
                .expect("put manifest");
            assert_eq!(resp.status(), 201, "{:?}", resp.text().await);
        });
        digest_of(&bytes)
    }

    /// `GET /v2/<repo>/referrers/<digest>`: the status.
    fn referrers_status(&self, repo: &str, digest: &str) -> u16 {
        self.rt.block_on(async {
            self.http
                .get(format!("{}/v2/{repo}/referrers/{digest}", self.base))
                .basic_auth_opt(self.login)
                .send()
                .await
                .expect("referrers")
                .status()
                .as_u16()
        })
    }
}

trait BasicAuthOpt {
    fn basic_auth_opt(self, login: Option<(&str, &str)>) -> Self;
}

impl BasicAuthOpt for reqwest::RequestBuilder {
    fn basic_auth_opt(self, login: Option<(&str, &str)>) -> Self {
        match login {
            Some((user, pass)) => self.basic_auth(user, Some(pass)),
            None => self,
        }
    }
}

/// What [`attach`] made: cosign's tags (and the digest each points to), the referrer, the fallback index.
struct Attachments {
    cosign: Vec<(String, String)>,
    referrer: String,
    source_index: String,
}

/// Pushes into `repo` everything a signer attaches to `digest` (the manifest `raw`, of type `media_type`):
/// cosign's `.sig`, `.att` and `.sbom` tags, shaped as cosign writes them (a config, one layer each), and an
/// OCI 1.1 referrer (what `oras attach` or cosign's OCI 1.1 mode push) with the fallback index a client keeps
/// for it on a registry without the referrers API.
fn attach(push: &Pusher, repo: &str, digest: &str, raw: &[u8], media_type: &str) -> Attachments {
    let config = push.blob(
        repo,
        br#"{"architecture":"","os":"","config":{},"rootfs":{"type":"layers","diff_ids":[]}}"#,
        "application/vnd.oci.image.config.v1+json",
    );
    let mut cosign = Vec::new();
    for (suffix, layer_type, payload) in [
        (
            "sig",
            "application/vnd.dev.cosign.simplesigning.v1+json",
            json!({"critical": {"image": {"docker-manifest-digest": digest}, "type": "cosign container image signature"}}),
        ),
        (
            "att",
            "application/vnd.dsse.envelope.v1+json",
            json!({"payloadType": "application/vnd.in-toto+json", "payload": STANDARD.encode(format!("{{\"subject\":[{{\"digest\":{{\"sha256\":\"{}\"}}}}]}}", &digest[7..])), "signatures": []}),
        ),
        (
            "sbom",
            SBOM_TYPE,
            json!({"spdxVersion": "SPDX-2.3", "name": "app", "nonce": rand::random::<u64>()}),
        ),
    ] {
        let mut layer = push.blob(
            repo,
            &serde_json::to_vec(&payload).expect("json"),
            layer_type,
        );
        if suffix == "sig" {
            layer["annotations"] = json!({"dev.cosignproject.cosign/signature": "MEUCIQDtest"});
        }
        let manifest = json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer],
        });
        let tag = format!("{}.{suffix}", tag_of(digest));
        let d = push.manifest(repo, &tag, &manifest);
        cosign.push((tag, d));
    }
    let (referrer, bytes) = push_referrer(push, repo, digest, raw, media_type);
    assert_eq!(
        push.referrers_status(repo, digest),
        404,
        "distribution 2.8 has no referrers API: this test's fallback-tag path assumes so"
    );
    // With an annotation of the tool that kept it, as some do: the target's index is rebuilt, not copied.
    let index = json!({
        "schemaVersion": 2, "mediaType": OCI_INDEX,
        "annotations": {"org.example.kept-by": "a test"},
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": referrer, "size": bytes.len(),
                       "artifactType": SBOM_TYPE, "annotations": {"org.opencontainers.image.created": CREATED}}],
    });
    let source_index = push.manifest(repo, &tag_of(digest), &index);
    Attachments {
        cosign,
        referrer,
        source_index,
    }
}

const CREATED: &str = "2026-12-07T00:00:00Z";

/// Pushes an OCI 1.1 referrer of `digest` into `repo` (an SBOM as `oras attach` pushes one): its digest and bytes.
fn push_referrer(
    push: &Pusher,
    repo: &str,
    digest: &str,
    raw: &[u8],
    media_type: &str,
) -> (String, Vec<u8>) {
    let empty = push.blob(repo, EMPTY, EMPTY_TYPE);
    let layer = push.blob(
        repo,
        format!("{{\"sbom\":{}}}", rand::random::<u32>()).as_bytes(),
        SBOM_TYPE,
    );
    let artifact = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": SBOM_TYPE,
        "config": empty, "layers": [layer],
        "subject": {"mediaType": media_type, "digest": digest, "size": raw.len()},
        "annotations": {"org.opencontainers.image.created": CREATED},
    });
    let bytes = serde_json::to_vec(&artifact).expect("json");
    (push.manifest(repo, &digest_of(&bytes), &artifact), bytes)
}

/// An image in A (`app:v1`) with everything a signer attaches to it; B empty.
struct Signed {
    a: Registry,
    b: Registry,
    _issuer: Issuer,
    digest: String,
    /// cosign's tags and the digest each points to.
    cosign: Vec<(String, String)>,
    referrer: String,
    source_index: String,
    tmp: tempfile::TempDir,
}

fn tag_of(digest: &str) -> String {
    digest.replacen(':', "-", 1)
}

impl Signed {
    fn start() -> Self {
        let issuer = Issuer::start_as(USER_B, PASS_B);
        let a = Registry::start(Auth::HtpasswdAs(USER_A, PASS_A));
        let b = Registry::start(Auth::Token(&issuer));
        let tmp = tempfile::tempdir().expect("tmp");
        let layout = images::layout(&tmp.path().join("layout"), 1, 1, 1024);
        let image = format!("{}/app:v1", a.addr);
        images::push(&layout, &image, Format::Oci, Some((USER_A, PASS_A)));
        let raw = images::inspect_raw(&image, Some((USER_A, PASS_A)));
        let digest = digest_of(&raw);
        let push = Pusher::new(&a.addr, Some((USER_A, PASS_A)));
        let Attachments {
            cosign,
            referrer,
            source_index,
        } = attach(&push, "app", &digest, &raw, OCI_MANIFEST);
        Self {
            a,
            b,
            _issuer: issuer,
            digest,
            cosign,
            referrer,
            source_index,
            tmp,
        }
    }

    fn source(&self) -> String {
        format!("{}/app:v1", self.a.addr)
    }

    fn target(&self, tag: &str) -> String {
        format!("{}/prod/app:{tag}", self.b.addr)
    }

    fn in_b(&self, locator: &str) -> String {
        let sep = if locator.starts_with("sha256:") {
            "@"
        } else {
            ":"
        };
        format!("{}/prod/app{sep}{locator}", self.b.addr)
    }

    /// A's login from the inputs, B's from a `config.json` `auths` entry.
    fn retag(&self, extra: &[(&str, &str)]) -> Run {
        let docker = self.tmp.path().join("docker");
        write(
            &docker.join("config.json"),
            &format!(
                r#"{{"auths":{{"{b}":{{"auth":"{auth}"}}}}}}"#,
                b = self.b.addr,
                auth = STANDARD.encode(format!("{USER_B}:{PASS_B}"))
            ),
        );
        let (source, target) = (self.source(), self.target("v1"));
        let mut inputs = vec![
            ("mode", "retag"),
            ("source", source.as_str()),
            ("tags", target.as_str()),
            ("registry-username", USER_A),
            ("registry-password", PASS_A),
        ];
        inputs.extend_from_slice(extra);
        let runner = Runner::new();
        let out = runner
            .action(runner.dir.path(), &inputs)
            .env("DOCKER_CONFIG", &docker)
            .output()
            .expect("run");
        let seen = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Run {
            ok: out.status.success(),
            summary: runner.summary(),
            seen,
        }
    }
}

struct Run {
    ok: bool,
    summary: String,
    seen: String,
}

impl Run {
    fn signatures_row(&self) -> String {
        self.summary
            .lines()
            .find(|l| l.contains("| Signatures |"))
            .unwrap_or("(no Signatures row)")
            .to_string()
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

/// B's write log lines (access log, in order) that PUT a manifest.
fn manifest_puts(b: &Registry) -> Vec<String> {
    b.writes()
        .into_iter()
        .filter(|l| l.contains("\"PUT ") && l.contains("/manifests/"))
        .collect()
}

#[test]
fn a_cross_registry_retag_copies_signatures_attestations_sbom_and_referrers_before_the_tag() {
    let s = Signed::start();
    let creds_b = Some((USER_B, PASS_B));

    // Dry run: the plan names what would be copied, and nothing is written.
    let dry = s.retag(&[("dry-run", "true")]);
    assert!(dry.ok, "{}", dry.seen);
    assert!(
        dry.signatures_row()
            .contains("`.sig`, `.att`, `.sbom`, 1 referrer would be copied to"),
        "{}",
        dry.summary
    );
    assert!(
        dry.seen.contains("\"step\": \"signatures\""),
        "the plan JSON has the step: {}",
        dry.seen
    );
    assert!(s.b.writes().is_empty(), "{:?}", s.b.writes());

    let run = s.retag(&[]);
    assert!(run.ok, "{}", run.seen);
    assert_eq!(images::digest(&s.target("v1"), creds_b), s.digest);
    // Every cosign tag and the referrer arrive with identical digests (read by skopeo).
    for (tag, digest) in &s.cosign {
        assert_eq!(&images::digest(&s.in_b(tag), creds_b), digest, "{tag}");
    }
    assert_eq!(images::digest(&s.in_b(&s.referrer), creds_b), s.referrer);
    let raw = images::inspect_raw(&s.in_b(&s.referrer), creds_b);
    let artifact: serde_json::Value = serde_json::from_slice(&raw).expect("json");
    assert_eq!(
        artifact["subject"]["digest"],
        s.digest.as_str(),
        "subject intact"
    );
    // B has no referrers API either: the fallback tag lists the referrer there, rebuilt with B's own bytes.
    let fallback = images::inspect_raw(&s.in_b(&tag_of(&s.digest)), creds_b);
    let index: serde_json::Value = serde_json::from_slice(&fallback).expect("json");
    assert_eq!(index["mediaType"], OCI_INDEX);
    assert_eq!(index["manifests"][0]["digest"], s.referrer.as_str());
    assert_eq!(index["manifests"][0]["artifactType"], SBOM_TYPE);
    assert_eq!(index["manifests"].as_array().map(Vec::len), Some(1));
    assert_ne!(digest_of(&fallback), s.source_index, "rebuilt, not copied");
    // Every one of them written before the version tag.
    let puts = manifest_puts(&s.b);
    let tag_put = puts
        .iter()
        .position(|l| l.contains("/prod/app/manifests/v1 "))
        .unwrap_or_else(|| panic!("no PUT of the version tag: {puts:#?}"));
    let mut expected: Vec<String> = s.cosign.iter().map(|(t, _)| t.clone()).collect();
    expected.push(s.referrer.clone());
    expected.push(tag_of(&s.digest));
    for what in &expected {
        let at = puts
            .iter()
            .position(|l| l.contains(&format!("/prod/app/manifests/{what} ")))
            .unwrap_or_else(|| panic!("{what} was not written: {puts:#?}"));
        assert!(at < tag_put, "{what} after the version tag: {puts:#?}");
    }
    assert!(
        run.signatures_row()
            .contains("`.sig`, `.att`, `.sbom`, 1 referrer copied to"),
        "{}",
        run.summary
    );

    // A rerun writes nothing and says so.
    let before = s.b.writes().len();
    let again = s.retag(&[]);
    assert!(again.ok, "{}", again.seen);
    assert_eq!(s.b.writes().len(), before, "{:#?}", s.b.writes());
    assert!(
        again.signatures_row().contains("already in"),
        "{}",
        again.summary
    );
    assert!(
        again.summary.contains("already has the signatures of"),
        "{}",
        again.summary
    );
}

#[test]
fn copy_signatures_false_copies_none_of_them() {
    let s = Signed::start();
    let creds_b = Some((USER_B, PASS_B));
    let run = s.retag(&[("copy-signatures", "false")]);
    assert!(run.ok, "{}", run.seen);
    assert_eq!(images::digest(&s.target("v1"), creds_b), s.digest);
    for (tag, _) in &s.cosign {
        assert!(!images::exists(&s.in_b(tag), creds_b), "{tag} was copied");
    }
    assert!(!images::exists(&s.in_b(&s.referrer), creds_b));
    assert!(!images::exists(&s.in_b(&tag_of(&s.digest)), creds_b));
    assert!(
        run.signatures_row().contains("`copy-signatures: false`"),
        "{}",
        run.summary
    );
}

#[test]
fn a_retag_within_the_repository_copies_no_signatures() {
    let s = Signed::start();
    let before = s.a.writes().len();
    let runner = Runner::new();
    let source = s.source();
    let out = runner
        .action(
            runner.dir.path(),
            &[
                ("mode", "retag"),
                ("source", &source),
                ("tags", "v1.0"),
                ("registry-username", USER_A),
                ("registry-password", PASS_A),
            ],
        )
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");
    let writes = s.a.writes();
    let new: Vec<&String> = writes[before..].iter().collect();
    assert_eq!(new.len(), 1, "only the tag: {new:#?}");
    assert!(new[0].contains("PUT /v2/app/manifests/v1.0 "), "{new:#?}");
    let summary = runner.summary();
    assert!(!summary.contains("Signatures"), "{summary}");
    assert!(s.b.writes().is_empty());
}

#[test]
fn a_promotion_to_another_registry_copies_the_signatures_before_the_production_tag() {
    // Staging: the promote tests' world (anonymous); production: B, behind token auth with its own login.
    let w = crate::promote::world();
    let issuer = Issuer::start_as(USER_B, PASS_B);
    let b = Registry::start(Auth::Token(&issuer));
    let creds_b = Some((USER_B, PASS_B));
    let staged = format!("{}:v0.2.0", w.image);
    let raw = images::inspect_raw(&staged, None);
    let digest = digest_of(&raw);
    let push = Pusher::new(&w.registry.addr, None);
    let made = attach(&push, "org/backend", &digest, &raw, OCI_INDEX);
    let docker = tempfile::tempdir().expect("tmp");
    write(
        &docker.path().join("config.json"),
        &format!(
            r#"{{"auths":{{"{b}":{{"auth":"{auth}"}}}}}}"#,
            b = b.addr,
            auth = STANDARD.encode(format!("{USER_B}:{PASS_B}"))
        ),
    );
    let production = format!("{}/prod/backend", b.addr);
    let promote = |extra: &[(&str, &str)]| {
        let runner = Runner::new();
        let mut inputs = vec![
            ("mode", "promote"),
            ("image", w.image.as_str()),
            ("production-image", production.as_str()),
            ("staging-tag", "v0.2.0"),
            ("commit-via", "git"),
            ("pull-request", "false"),
        ];
        inputs.extend_from_slice(extra);
        let out = runner
            .action(&w.scratch.work, &inputs)
            .env("DOCKER_CONFIG", docker.path())
            .output()
            .expect("run");
        Run {
            ok: out.status.success(),
            summary: runner.summary(),
            seen: format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    };
    let at_b = |locator: &str| {
        let sep = if locator.starts_with("sha256:") {
            "@"
        } else {
            ":"
        };
        format!("{production}{sep}{locator}")
    };

    let run = promote(&[]);
    assert!(run.ok, "{}", run.seen);
    assert_eq!(images::digest(&at_b("v0.2.0"), creds_b), digest);
    for (tag, d) in &made.cosign {
        assert_eq!(&images::digest(&at_b(tag), creds_b), d, "{tag}");
    }
    assert_eq!(
        images::digest(&at_b(&made.referrer), creds_b),
        made.referrer
    );
    let fallback = images::inspect_raw(&at_b(&tag_of(&digest)), creds_b);
    assert!(
        String::from_utf8_lossy(&fallback).contains(&made.referrer),
        "the referrer is listed in B's fallback tag"
    );
    assert_ne!(digest_of(&fallback), made.source_index);
    let puts = manifest_puts(&b);
    let first_tag = puts
        .iter()
        .position(|l| {
            l.contains("/prod/backend/manifests/v0.2.0 ")
                || l.contains("/prod/backend/manifests/production-latest ")
        })
        .unwrap_or_else(|| panic!("no production tag written: {puts:#?}"));
    for (tag, _) in &made.cosign {
        let at = puts
            .iter()
            .position(|l| l.contains(&format!("/manifests/{tag} ")))
            .unwrap_or_else(|| panic!("{tag} not written: {puts:#?}"));
        assert!(at < first_tag, "{tag} after a production tag: {puts:#?}");
    }
    assert!(
        run.signatures_row()
            .contains("`.sig`, `.att`, `.sbom`, 1 referrer copied to"),
        "{}",
        run.summary
    );

    // A rerun writes nothing in B.
    let before = b.writes().len();
    let again = promote(&[]);
    assert!(again.ok, "{}", again.seen);
    assert_eq!(b.writes().len(), before, "{:#?}", b.writes());
    assert!(
        again.signatures_row().contains("already in"),
        "{}",
        again.summary
    );
}

#[test]
fn referrers_read_from_the_referrers_api_land_in_the_target_api_or_in_a_rebuilt_fallback_tag() {
    // A and B each behind a stand-in that serves the referrers API; A reached directly has none.
    let a = Registry::start(Auth::Anonymous);
    let b = Registry::start(Auth::Anonymous);
    let (pa, pb) = (Proxy::start(&a.addr), Proxy::start(&b.addr));
    pa.serve_referrers_api();
    pb.serve_referrers_api();
    let tmp = tempfile::tempdir().expect("tmp");
    let layout = images::layout(tmp.path(), 1, 1, 512);
    let source = format!("{}/app:v1", pa.addr);
    images::push(&layout, &source, Format::Oci, None);
    let raw = images::inspect_raw(&source, None);
    let digest = digest_of(&raw);
    let (referrer, _) = push_referrer(
        &Pusher::new(&pa.addr, None),
        "app",
        &digest,
        &raw,
        OCI_MANIFEST,
    );
    assert_eq!(pa.referrers("app", &digest).len(), 1, "the API lists it");
    assert!(
        !images::exists(&format!("{}/app:{}", a.addr, tag_of(&digest)), None),
        "no fallback tag in the source: only the API knows the referrer"
    );
    let api_target = format!("{}/prod/app", pb.addr);
    let plain_target = format!("{}/other/app", a.addr);
    let tags = format!("{api_target}:v1,{plain_target}:v1");
    let retag = || {
        let runner = Runner::new();
        let out = runner
            .action(
                runner.dir.path(),
                &[("mode", "retag"), ("source", &source), ("tags", &tags)],
            )
            .output()
            .expect("run");
        let seen = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{seen}");
        runner.summary()
    };
    let summary = retag();
    // The target with the API lists it by itself: no fallback tag is written there.
    assert_eq!(
        images::digest(&format!("{api_target}@{referrer}"), None),
        referrer
    );
    let listed = pb.referrers("prod/app", &digest);
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["digest"], referrer.as_str());
    assert!(!images::exists(
        &format!("{}/prod/app:{}", b.addr, tag_of(&digest)),
        None
    ));
    // The target without it gets the fallback tag, listing the referrer with its artifactType.
    assert_eq!(
        images::digest(&format!("{plain_target}@{referrer}"), None),
        referrer
    );
    let index: serde_json::Value = serde_json::from_slice(&images::inspect_raw(
        &format!("{plain_target}:{}", tag_of(&digest)),
        None,
    ))
    .expect("json");
    assert_eq!(index["manifests"][0]["digest"], referrer.as_str());
    assert_eq!(index["manifests"][0]["artifactType"], SBOM_TYPE);
    // Both before the tag.
    for (registry, repo) in [(&b, "prod/app"), (&a, "other/app")] {
        let puts = manifest_puts(registry);
        let at = |what: &str| {
            puts.iter()
                .position(|l| l.contains(&format!("/v2/{repo}/manifests/{what} ")))
                .unwrap_or_else(|| panic!("{what} not written in {repo}: {puts:#?}"))
        };
        assert!(at(&referrer) < at("v1"), "{puts:#?}");
    }
    assert!(
        summary.contains(&format!("1 referrer copied to `{api_target}`"))
            && summary.contains(&format!("1 referrer copied to `{plain_target}`")),
        "{summary}"
    );

    let (before_a, before_b) = (a.writes().len(), b.writes().len());
    let again = retag();
    assert_eq!((a.writes().len(), b.writes().len()), (before_a, before_b));
    assert!(again.contains("already in"), "{again}");
}

#[test]
fn a_referrers_api_that_lists_nothing_neither_hides_the_fallback_tag_nor_keeps_the_copy_unlisted() {
    // Both registries answer the referrers API with an empty list and index nothing (no `OCI-Subject`).
    let a = Registry::start(Auth::Anonymous);
    let b = Registry::start(Auth::Anonymous);
    let (pa, pb) = (Proxy::start(&a.addr), Proxy::start(&b.addr));
    let tmp = tempfile::tempdir().expect("tmp");
    let layout = images::layout(tmp.path(), 1, 1, 512);
    let source = format!("{}/app:v1", a.addr);
    images::push(&layout, &source, Format::Oci, None);
    let raw = images::inspect_raw(&source, None);
    let digest = digest_of(&raw);
    let push = Pusher::new(&a.addr, None);
    let (referrer, bytes) = push_referrer(&push, "app", &digest, &raw, OCI_MANIFEST);
    // The fallback tag a client (e.g. GitHub's artifact attestations) wrote.
    push.manifest(
        "app",
        &tag_of(&digest),
        &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": referrer, "size": bytes.len(), "artifactType": SBOM_TYPE}]}),
    );
    pa.pretend_referrers_api();
    pb.pretend_referrers_api();
    let (source, target) = (
        format!("{}/app:v1", pa.addr),
        format!("{}/prod/app:v1", pb.addr),
    );
    let retag = || {
        let runner = Runner::new();
        let out = runner
            .action(
                runner.dir.path(),
                &[("mode", "retag"), ("source", &source), ("tags", &target)],
            )
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        runner.summary()
    };
    let summary = retag();
    assert!(summary.contains("1 referrer copied to"), "{summary}");
    let in_b = |locator: &str| format!("{}/prod/app{locator}", b.addr);
    assert_eq!(
        images::digest(&in_b(&format!("@{referrer}")), None),
        referrer
    );
    let index: serde_json::Value = serde_json::from_slice(&images::inspect_raw(
        &in_b(&format!(":{}", tag_of(&digest))),
        None,
    ))
    .expect("json");
    assert_eq!(index["manifests"][0]["digest"], referrer.as_str());
    let before = b.writes().len();
    let again = retag();
    assert_eq!(b.writes().len(), before, "{:#?}", b.writes());
    assert!(again.contains("already in"), "{again}");
}

#[test]
fn a_fallback_tag_that_resolves_to_the_image_itself_lists_no_referrers() {
    // GitLab's registry reads `sha256-<hex>` as the digest: the "fallback index" would be the image, and a
    // multi-platform image's own platforms would pass for its referrers.
    let a = Registry::start(Auth::Anonymous);
    let b = Registry::start(Auth::Anonymous);
    let pa = Proxy::start(&a.addr);
    let tmp = tempfile::tempdir().expect("tmp");
    let layout = images::layout(tmp.path(), 2, 1, 512);
    images::push(&layout, &format!("{}/app:v1", a.addr), Format::Oci, None);
    pa.read_dash_as_digest();
    let digest = images::digest(&format!("{}/app:v1", a.addr), None);
    assert_eq!(
        images::digest(&format!("{}/app:{}", pa.addr, tag_of(&digest)), None),
        digest,
        "the stand-in resolves the fallback tag to the image"
    );
    let runner = Runner::new();
    let (source, target) = (
        format!("{}/app:v1", pa.addr),
        format!("{}/prod/app:v1", b.addr),
    );
    let out = runner
        .action(
            runner.dir.path(),
            &[("mode", "retag"), ("source", &source), ("tags", &target)],
        )
        .output()
        .expect("run");
    assert!(out.status.success(), "{out:?}");
    let summary = runner.summary();
    assert!(
        summary.contains(&format!("| Signatures | none in `{}/app` |", pa.addr)),
        "{summary}"
    );
    assert!(!images::exists(
        &format!("{}/prod/app:{}", b.addr, tag_of(&digest)),
        None
    ));
}
