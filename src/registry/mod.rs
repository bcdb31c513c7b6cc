//! Owns talking to OCI registries, with only the verbs the plan needs: resolve a reference to digest and
//! media type, read a manifest's raw bytes, write raw bytes under a tag, list tags, and copy an image's
//! blobs between repositories (cross-repository mount on one registry, streaming between registries).
//!
//! `oci-client` supplies the media types and the manifest structs used to *walk* an image (which blobs and
//! child manifests a copy needs). Every HTTP exchange goes through `reqwest` here because a retag must PUT
//! the exact bytes it read: `oci-client`'s `push_manifest` serialises its own struct (a different byte string
//! is a different digest), and its per-call auth and absent retry policy would cost requests and robustness
//! that the one policy below (auth challenge once per host, bounded retries with backoff, one deadline) does
//! not.

pub mod auth;
mod copy;
pub mod credential_store;
mod reference;
mod referrers;
pub use referrers::{Attached, AttachedFacts, AttachedKind, digest_tag};
// The revision an image names (annotation, config label, platform images): issue 22.
mod revision;
pub use revision::Revision;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::stream::{self, StreamExt, TryStreamExt};
use rand::Rng;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION, RETRY_AFTER};
use reqwest::{RequestBuilder, Response, StatusCode, Url};
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Kind, Result};
pub use crate::http::parse_retry_after;
use crate::image::ImageName;
use crate::inputs::Secret;
use crate::tls::rustls_error as tls_error;
use auth::{Challenge, Credentials, Login, LoginSource, Scopes};
use credential_store::CredentialStore;
pub use reference::{Reference, is_digest, is_tag};

pub const OCI_MANIFEST: &str = oci_client::manifest::OCI_IMAGE_MEDIA_TYPE;
pub const OCI_INDEX: &str = oci_client::manifest::OCI_IMAGE_INDEX_MEDIA_TYPE;
pub const DOCKER_MANIFEST: &str = oci_client::manifest::IMAGE_MANIFEST_MEDIA_TYPE;
pub const DOCKER_LIST: &str = oci_client::manifest::IMAGE_MANIFEST_LIST_MEDIA_TYPE;
/// Every manifest type, always all four: a registry answers 404 for a manifest whose type is not accepted.
pub const MANIFEST_TYPES: [&str; 4] = [OCI_MANIFEST, OCI_INDEX, DOCKER_MANIFEST, DOCKER_LIST];

const DOCKER_CONTENT_DIGEST: &str = "docker-content-digest";
const WWW_AUTHENTICATE: &str = "www-authenticate";

/// What a manifest or blob is: `Docker-Content-Digest`, `Content-Type`, `Content-Length`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Descriptor {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

/// A manifest exactly as the registry served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub descriptor: Descriptor,
    pub bytes: Bytes,
}

impl Manifest {
    pub fn is_index(&self) -> bool {
        matches!(self.descriptor.media_type.as_str(), OCI_INDEX | DOCKER_LIST)
    }

    /// A top-level annotation (`org.opencontainers.image.revision`), when the manifest carries it.
    pub fn annotation(&self, key: &str) -> Option<String> {
        let v: serde_json::Value = serde_json::from_slice(&self.bytes).ok()?;
        v.get("annotations")?.get(key)?.as_str().map(str::to_string)
    }

    /// For an index, its manifests; for an image, its config and layers. Read only to walk a copy.
    pub fn children(&self) -> Result<Vec<Descriptor>> {
        let bad = |e: serde_json::Error| {
            Error::new(
                Kind::Upstream,
                format!("manifest {} can't be read: {e}", self.descriptor.digest),
            )
        };
        let size = |s: i64| u64::try_from(s).unwrap_or(0);
        if self.is_index() {
            let index: oci_client::manifest::OciImageIndex =
                serde_json::from_slice(&self.bytes).map_err(bad)?;
            Ok(index
                .manifests
                .into_iter()
                .map(|m| Descriptor {
                    digest: m.digest,
                    media_type: m.media_type,
                    size: size(m.size),
                })
                .collect())
        } else {
            let image: oci_client::manifest::OciImageManifest =
                serde_json::from_slice(&self.bytes).map_err(bad)?;
            Ok(std::iter::once(image.config)
                .chain(image.layers)
                .map(|d| Descriptor {
                    digest: d.digest,
                    media_type: d.media_type,
                    size: size(d.size),
                })
                .collect())
        }
    }
}

/// [`Client::registries`] as one line for a summary: `` `ghcr.io`: `github-token`; `docker.io`: anonymous ``.
pub fn registries_line(registries: &[(String, String)]) -> String {
    registries
        .iter()
        .map(|(host, login)| format!("`{host}`: {login}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// `host[:port]` of `url`, as registries are named (and keyed in the client's per-host state).
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

/// `sha256:<hex>` of `bytes`.
pub fn sha256_digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    let mut s = String::with_capacity(71);
    s.push_str("sha256:");
    for b in hash {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// How a client talks to registries.
#[derive(Debug, Clone)]
pub struct Settings {
    pub login: Login,
    /// Plain `http://` for every registry (otherwise only for loopback hosts, as Docker does).
    pub insecure: bool,
    /// Every request of the run must finish within this time from the client's creation.
    pub timeout: Duration,
    /// Attempts per request, the first included, for 429, 5xx and broken connections.
    pub max_attempts: u32,
    /// The first backoff; doubled per attempt, with jitter, capped at 8 s.
    pub base_delay: Duration,
    /// One request (headers and body) may take at most this long.
    pub request_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            login: Login::default(),
            insecure: false,
            timeout: Duration::from_secs(600),
            max_attempts: 6,
            base_delay: Duration::from_millis(250),
            request_timeout: Duration::from_secs(60),
        }
    }
}

/// Whether a registry host (with optional port) is a loopback address.
///
/// ```
/// use gitops_promote::registry::is_loopback;
/// assert!(is_loopback("127.0.0.1:5000") && is_loopback("localhost") && is_loopback("[::1]:5000"));
/// assert!(!is_loopback("ghcr.io") && !is_loopback("10.0.0.1:5000"));
/// ```
pub fn is_loopback(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.split(':').next().unwrap_or("")
    };
    name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[derive(Default)]
struct HostState {
    /// The header every request to the host carries, once a challenge told us which.
    authorization: Option<Secret>,
    scopes: Scopes,
    /// `https` or `http`, once known (see [`Client::scheme`]).
    scheme: Option<&'static str>,
    /// The credentials this host gets and where they came from, once a challenge asked (see
    /// [`Client::credentials`]).
    login: Option<(Credentials, LoginSource)>,
}

/// How long a loopback registry may take to show whether it speaks TLS.
const TLS_PROBE_TIMEOUT: Duration = Duration::from_secs(5);

/// Whether a TLS handshake failed on the server's certificate (as opposed to a peer that speaks no TLS).
fn is_certificate_error(e: &(dyn std::error::Error + 'static)) -> bool {
    matches!(
        tls_error(e),
        Some(rustls::Error::InvalidCertificate(_) | rustls::Error::InvalidCertRevocationList(_))
    )
}

/// What to do about a registry certificate that is not trusted.
pub const TRUST_HELP: &str = "the registry's certificate is not signed by a CA this machine trusts: for a private CA, add its certificate to the system store (`update-ca-certificates` on Debian and Ubuntu) or point `SSL_CERT_FILE` at a PEM bundle that contains it (`SSL_CERT_DIR` for a directory of certificates); `insecure-registry` does not help, it only switches to plain http";

/// A registry client for one run. Blocking API over a private single-thread runtime, so the (synchronous)
/// planner and executor call it directly.
pub struct Client {
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
    /// For loopback registries: never through a proxy (`HTTPS_PROXY` would send `127.0.0.1` to the proxy's own
    /// loopback), as Go's and Docker's clients do.
    direct: reqwest::Client,
    settings: Settings,
    deadline: Instant,
    hosts: Mutex<HashMap<String, HostState>>,
    manifests: Mutex<HashMap<String, Manifest>>,
    requests: AtomicU64,
    secrets: Mutex<Vec<String>>,
    progress: Mutex<Vec<String>>,
    /// Docker's store and `auth.json`, read when the first registry asks for credentials.
    store: Mutex<Option<CredentialStore>>,
}

enum BlobOutcome {
    Present,
    Mounted,
    Copied(u64),
}

/// What a copy moved.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CopyStats {
    pub blobs_present: usize,
    pub blobs_mounted: usize,
    pub blobs_copied: usize,
    pub bytes_copied: u64,
    pub manifests_written: usize,
}

impl Client {
    pub fn new(settings: Settings) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::new(Kind::Io, format!("can't start the async runtime: {e}")))?;
        // The roots are read on the first certificate to verify, not here (see crate::tls).
        let tls = crate::tls::client_config()
            .map_err(|e| Error::new(Kind::Io, format!("can't set up TLS: {e}")))?;
        let builder = || {
            reqwest::Client::builder()
                .tls_backend_preconfigured(tls.clone())
                .user_agent(concat!("gitops-promote/", env!("CARGO_PKG_VERSION")))
                .connect_timeout(Duration::from_secs(15))
                .read_timeout(Duration::from_secs(30))
        };
        let build = |b: reqwest::ClientBuilder| {
            b.build()
                .map_err(|e| Error::new(Kind::Io, format!("can't build the HTTP client: {e}")))
        };
        Ok(Self {
            rt,
            http: build(builder())?,
            direct: build(builder().no_proxy())?,
            deadline: Instant::now() + settings.timeout,
            settings,
            hosts: Mutex::default(),
            manifests: Mutex::default(),
            requests: AtomicU64::new(0),
            secrets: Mutex::default(),
            progress: Mutex::default(),
            store: Mutex::default(),
        })
    }

    /// The credentials `host` gets (see [`Login::resolve`]), looked up once per host. Credentials from the
    /// store are queued for masking, like tokens.
    fn credentials(&self, host: &str) -> Result<Credentials> {
        if let Some((credentials, _)) = lock(&self.hosts).get(host).and_then(|h| h.login.clone()) {
            return Ok(credentials);
        }
        let resolved = {
            let mut store = lock(&self.store);
            if store.is_none() {
                *store = Some(CredentialStore::load(&self.settings.login.store)?);
            }
            let store = store
                .as_ref()
                .map_or_else(CredentialStore::default, Clone::clone);
            self.settings.login.resolve(host, &store)?
        };
        if let (Some(secret), LoginSource::Store(_)) = (resolved.0.secret(), &resolved.1) {
            lock(&self.secrets).push(secret.expose().to_string());
        }
        let credentials = resolved.0.clone();
        lock(&self.hosts).entry(host.to_string()).or_default().login = Some(resolved);
        Ok(credentials)
    }

    /// Each registry the run talked to and which login served it, sorted by host; `no login asked` when the
    /// registry never asked for credentials. Never the secret.
    pub fn registries(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = lock(&self.hosts)
            .iter()
            .map(|(host, state)| {
                let source = match &state.login {
                    Some((_, source)) => source.to_string(),
                    None => "no login asked".to_string(),
                };
                (host.clone(), source)
            })
            .collect();
        out.sort();
        out
    }

    /// HTTP requests sent so far (token requests included).
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Credentials obtained during the run (bearer tokens), for the caller to mask. Drains.
    pub fn take_secrets(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.secrets))
    }

    /// Progress lines (retries, blob copies) for the caller to log. Drains.
    pub fn take_progress(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.progress))
    }

    /// Declares that the run will read (and, with `push`, write) `image`, so the first token fetched for its
    /// registry covers every repository and action at once (one auth round trip per registry).
    pub fn declare(&self, image: &ImageName, push: bool) {
        let mut hosts = lock(&self.hosts);
        let state = hosts.entry(image.registry.clone()).or_default();
        state.scopes.add(&image.repository, "pull");
        if push {
            state.scopes.add(&image.repository, "push");
        }
    }

    /// The manifest read earlier with this digest.
    pub fn cached_manifest(&self, digest: &str) -> Option<Manifest> {
        lock(&self.manifests).get(digest).cloned()
    }

    /// HEAD the reference: its digest, media type and size, or `None` when it does not exist.
    pub fn resolve(&self, reference: &Reference) -> Result<Option<Descriptor>> {
        self.rt.block_on(self.resolve_async(reference))
    }

    /// HEADs every reference at once (see [`Client::resolve`]), answers in the same order.
    pub fn resolve_all(&self, references: &[Reference]) -> Vec<Result<Option<Descriptor>>> {
        self.rt.block_on(futures_util::future::join_all(
            references.iter().map(|r| self.resolve_async(r)),
        ))
    }

    /// GET the manifest's raw bytes; the digest is checked against the bytes (and the reference's digest).
    pub fn get_manifest(&self, reference: &Reference) -> Result<Manifest> {
        self.rt.block_on(self.get_manifest_async(reference))
    }

    /// PUT the manifest's exact bytes under `locator` (a tag or its digest) with its media type.
    pub fn put_manifest(
        &self,
        image: &ImageName,
        locator: &str,
        manifest: &Manifest,
    ) -> Result<()> {
        self.rt
            .block_on(self.put_manifest_async(image, locator, manifest))
    }

    /// Every tag of the repository, following `Link: <…>; rel="next"` pages.
    pub fn list_tags(&self, image: &ImageName) -> Result<Vec<String>> {
        self.rt.block_on(self.list_tags_async(image))
    }

    /// [`Client::list_tags`] of each repository, in the order given, at most `concurrency` at a time.
    pub fn list_tags_each(
        &self,
        images: &[ImageName],
        concurrency: usize,
    ) -> Vec<Result<Vec<String>>> {
        self.each(images, |i| i, concurrency, |i| self.list_tags_async(i))
    }

    /// [`Client::resolve`] of each reference, in the order given, at most `concurrency` at a time.
    pub fn resolve_each(
        &self,
        references: &[Reference],
        concurrency: usize,
    ) -> Vec<Result<Option<Descriptor>>> {
        self.each(
            references,
            |r| &r.image,
            concurrency,
            |r| self.resolve_async(r),
        )
    }

    /// Runs `read` on every item, at most `concurrency` at a time, and returns the results in the items' order.
    /// The first item of each registry goes alone, so the scheme probe and the token are settled once for all
    /// the others (which would otherwise each answer the same challenge).
    fn each<'a, I, T, F, Fut>(
        &'a self,
        items: &'a [I],
        image: impl Fn(&I) -> &ImageName,
        concurrency: usize,
        read: F,
    ) -> Vec<Result<T>>
    where
        F: Fn(&'a I) -> Fut,
        Fut: std::future::Future<Output = Result<T>>,
    {
        let mut seen = std::collections::HashSet::new();
        let (first, rest): (Vec<usize>, Vec<usize>) =
            (0..items.len()).partition(|&i| seen.insert(image(&items[i]).registry.clone()));
        self.rt.block_on(async {
            let mut out: Vec<Option<Result<T>>> = items.iter().map(|_| None).collect();
            for i in first {
                out[i] = Some(read(&items[i]).await);
            }
            let done: Vec<(usize, Result<T>)> = stream::iter(rest)
                .map(|i| {
                    let pending = read(&items[i]);
                    async move { (i, pending.await) }
                })
                .buffer_unordered(concurrency.max(1))
                .collect()
                .await;
            for (i, result) in done {
                out[i] = Some(result);
            }
            out.into_iter()
                .map(|r| r.unwrap_or_else(|| Err(Error::new(Kind::Upstream, "not read"))))
                .collect()
        })
    }

    /// The HTTP client for `url`: loopback hosts are never reached through a proxy.
    fn http_for(&self, url: &str) -> &reqwest::Client {
        let loopback = Url::parse(url).is_ok_and(|u| {
            u.host_str()
                .is_some_and(|h| is_loopback(h.trim_start_matches('[').trim_end_matches(']')))
        });
        if loopback { &self.direct } else { &self.http }
    }

    /// `https`, unless `insecure-registry` (plain http everywhere). A loopback registry may speak plain http, as
    /// Docker allows there: it is asked once, and gets http only when it answers the TLS handshake with no TLS at
    /// all (a certificate it presents is always verified, so a private CA needs trusting, never `insecure`).
    async fn scheme(&self, host: &str) -> &'static str {
        if self.settings.insecure {
            return "http";
        }
        if !is_loopback(host) {
            return "https";
        }
        if let Some(scheme) = lock(&self.hosts).get(host).and_then(|h| h.scheme) {
            return scheme;
        }
        let url = format!("https://{host}/v2/");
        let scheme =
            match tokio::time::timeout(TLS_PROBE_TIMEOUT, self.http_for(&url).get(&url).send())
                .await
            {
                Ok(Ok(_)) => {
                    self.requests.fetch_add(1, Ordering::Relaxed);
                    "https"
                }
                Ok(Err(e)) if is_certificate_error(&e) => "https",
                _ => "http",
            };
        lock(&self.hosts)
            .entry(host.to_string())
            .or_default()
            .scheme = Some(scheme);
        scheme
    }

    async fn base(&self, host: &str) -> String {
        let host_for_api = if host == "docker.io" {
            "registry-1.docker.io"
        } else {
            host
        };
        format!("{}://{host_for_api}", self.scheme(host).await)
    }

    async fn url(&self, image: &ImageName, path: &str) -> String {
        format!(
            "{}/v2/{}/{path}",
            self.base(&image.registry).await,
            image.repository
        )
    }

    /// Queues a line for the caller's log, with the client's own progress lines ([`Client::take_progress`]).
    pub fn note(&self, line: String) {
        lock(&self.progress).push(line);
    }

    async fn resolve_async(&self, reference: &Reference) -> Result<Option<Descriptor>> {
        let image = &reference.image;
        let what = format!("read `{reference}`");
        let url = self
            .url(image, &format!("manifests/{}", reference.locator()))
            .await;
        let accept = MANIFEST_TYPES.join(", ");
        let resp = self
            .send(&what, Some(&image.registry), SHORT, &|| {
                self.http_for(&url).head(&url).header(ACCEPT, &accept)
            })
            .await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        if !resp.status().is_success() {
            return Err(self.failure(&what, resp).await);
        }
        let digest = header(&resp, DOCKER_CONTENT_DIGEST);
        let media_type = header(&resp, CONTENT_TYPE.as_str());
        match (digest, media_type) {
            (Some(digest), Some(media_type)) => Ok(Some(Descriptor {
                digest,
                media_type: media_type_only(&media_type),
                size: header(&resp, CONTENT_LENGTH.as_str())
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0),
            })),
            // A registry that omits the digest on HEAD: read the bytes and hash them.
            _ => Ok(Some(self.get_manifest_async(reference).await?.descriptor)),
        }
    }

    async fn get_manifest_async(&self, reference: &Reference) -> Result<Manifest> {
        let image = &reference.image;
        let what = format!("read manifest `{reference}`");
        let url = self
            .url(image, &format!("manifests/{}", reference.locator()))
            .await;
        let accept = MANIFEST_TYPES.join(", ");
        let resp = self
            .send(&what, Some(&image.registry), SHORT, &|| {
                self.http_for(&url).get(&url).header(ACCEPT, &accept)
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.failure(&what, resp).await);
        }
        let announced = header(&resp, DOCKER_CONTENT_DIGEST);
        let media_type = header(&resp, CONTENT_TYPE.as_str())
            .map(|m| media_type_only(&m))
            .unwrap_or_default();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Error::new(Kind::Upstream, format!("can't {what}: {}", chain(&e))))?;
        let digest = sha256_digest(&bytes);
        for expected in [announced.as_deref(), reference.digest.as_deref()]
            .into_iter()
            .flatten()
        {
            if expected.starts_with("sha256:") && expected != digest {
                return Err(Error::new(
                    Kind::Upstream,
                    format!(
                        "can't {what}: the registry sent bytes with digest {digest}, expected {expected}"
                    ),
                ));
            }
        }
        if !MANIFEST_TYPES.contains(&media_type.as_str()) {
            return Err(Error::new(
                Kind::Upstream,
                format!("can't {what}: unsupported manifest media type `{media_type}`"),
            )
            .with_help(format!("supported: {}", MANIFEST_TYPES.join(", "))));
        }
        let manifest = Manifest {
            descriptor: Descriptor {
                digest: digest.clone(),
                media_type,
                size: bytes.len() as u64,
            },
            bytes,
        };
        lock(&self.manifests).insert(digest, manifest.clone());
        Ok(manifest)
    }

    async fn put_manifest_async(
        &self,
        image: &ImageName,
        locator: &str,
        manifest: &Manifest,
    ) -> Result<()> {
        self.put_manifest_answer(image, locator, manifest)
            .await
            .map(|_| ())
    }

    /// [`Client::put_manifest`], with the answer's `OCI-Subject` header: a registry with the referrers API
    /// sends it for a manifest with a `subject` (OCI distribution spec v1.1, "Pushing Manifests with Subject").
    async fn put_manifest_answer(
        &self,
        image: &ImageName,
        locator: &str,
        manifest: &Manifest,
    ) -> Result<Option<String>> {
        let what = if is_digest(locator) {
            format!("write manifest {locator} to `{image}`")
        } else {
            format!("write tag `{locator}` of `{image}`")
        };
        let url = self.url(image, &format!("manifests/{locator}")).await;
        let resp = self
            .send(&what, Some(&image.registry), SHORT, &|| {
                self.http_for(&url)
                    .put(&url)
                    .header(CONTENT_TYPE, &manifest.descriptor.media_type)
                    .body(manifest.bytes.clone())
            })
            .await?;
        if !resp.status().is_success() {
            return Err(self.failure(&what, resp).await);
        }
        if let Some(written) = header(&resp, DOCKER_CONTENT_DIGEST)
            && written != manifest.descriptor.digest
        {
            return Err(Error::new(
                Kind::Upstream,
                format!(
                    "can't {what}: the registry stored digest {written} instead of {}",
                    manifest.descriptor.digest
                ),
            ));
        }
        Ok(header(&resp, "oci-subject"))
    }

    async fn list_tags_async(&self, image: &ImageName) -> Result<Vec<String>> {
        #[derive(serde::Deserialize)]
        struct Page {
            tags: Option<Vec<String>>,
        }
        let what = format!("list the tags of `{image}`");
        let mut url = self.url(image, "tags/list?n=1000").await;
        let mut tags = Vec::new();
        for _ in 0..10_000 {
            let resp = self
                .send(&what, Some(&image.registry), SHORT, &|| {
                    self.http_for(&url).get(&url)
                })
                .await?;
            if resp.status() == StatusCode::NOT_FOUND {
                return Ok(tags);
            }
            if !resp.status().is_success() {
                return Err(self.failure(&what, resp).await);
            }
            let next = header(&resp, "link").and_then(|l| next_link(&l));
            let page: Page = resp
                .json()
                .await
                .map_err(|e| Error::new(Kind::Upstream, format!("can't {what}: {}", chain(&e))))?;
            tags.extend(page.tags.unwrap_or_default());
            match next {
                Some(next) => url = join_link(&url, &next, &what)?,
                None => return Ok(tags),
            }
        }
        Err(Error::new(
            Kind::Upstream,
            format!("can't {what}: too many pages"),
        ))
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .settings
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(10))
            .min(Duration::from_secs(8));
        // Jitter between half and the whole delay, so clients retrying together spread out.
        exp.mul_f64(rand::rng().random_range(0.5..=1.0))
    }

    fn wait_or_fail(&self, what: &str, wait: Duration, last: &str) -> Result<()> {
        if wait >= self.remaining() {
            return Err(Error::new(
                Kind::Upstream,
                format!(
                    "can't {what}: gave up, the {}s timeout leaves no time to retry after: {last}",
                    self.settings.timeout.as_secs()
                ),
            )
            .with_help("the registry is failing or rate limiting; rerun later (a rerun resumes where this one stopped)"));
        }
        Ok(())
    }

    /// Sends one logical request: answers a 401 challenge (once or twice), retries 429/5xx and broken
    /// connections with backoff (honouring `Retry-After`), and never goes past the run's deadline. Returns the
    /// final response, whatever its status; callers turn a failure status into an error with
    /// [`Client::failure`]. `host` is `None` for the token endpoint (no registry auth).
    async fn send(
        &self,
        what: &str,
        host: Option<&str>,
        opts: Opts,
        build: &(dyn Fn() -> RequestBuilder + Sync),
    ) -> Result<Response> {
        let max = opts.attempts.unwrap_or(self.settings.max_attempts).max(1);
        let mut attempt = 0;
        let mut reauth = 0;
        loop {
            attempt += 1;
            let remaining = self.remaining();
            if remaining.is_zero() {
                return Err(Error::new(
                    Kind::Upstream,
                    format!(
                        "can't {what}: the {}s timeout is over",
                        self.settings.timeout.as_secs()
                    ),
                ));
            }
            let limit = if opts.long {
                remaining
            } else {
                self.settings.request_timeout.min(remaining)
            };
            let mut request = build().timeout(limit);
            if let Some(host) = host
                && let Some(value) = lock(&self.hosts)
                    .get(host)
                    .and_then(|s| s.authorization.clone())
            {
                request = request.header(AUTHORIZATION, value.expose());
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let last;
            let mut retry_after = None;
            match request.send().await {
                Ok(resp)
                    if resp.status() == StatusCode::UNAUTHORIZED
                        && host.is_some()
                        && reauth < 2 =>
                {
                    let challenge =
                        header(&resp, WWW_AUTHENTICATE).and_then(|h| auth::parse_challenge(&h));
                    match challenge {
                        Some(c)
                            if Box::pin(self.authenticate(what, host.unwrap_or(""), c.clone()))
                                .await? =>
                        {
                            reauth += 1;
                            attempt -= 1;
                            continue;
                        }
                        _ => return Ok(resp),
                    }
                }
                Ok(resp) if is_retryable(resp.status()) => {
                    let status = resp.status();
                    retry_after = header(&resp, RETRY_AFTER.as_str())
                        .and_then(|v| parse_retry_after(&v, std::time::SystemTime::now()));
                    let body = body_text(resp).await;
                    last = format!("registry answered {status}: {body}");
                    if attempt >= max {
                        // Docker Hub limits anonymous pulls per IP address (a GitHub-hosted runner shares
                        // its address) and answers 429 (docs.docker.com/docker-hub/usage/pulls/): logging in
                        // is the fix, not waiting.
                        let anonymous = host.is_none_or(|h| {
                            lock(&self.hosts)
                                .get(h)
                                .and_then(|s| s.authorization.as_ref())
                                .is_none()
                        });
                        let help = if status == StatusCode::TOO_MANY_REQUESTS && anonymous {
                            "the registry rate-limits anonymous requests (Docker Hub limits anonymous pulls per IP address, and runners share addresses): log in, e.g. `docker/login-action` before this step, whose login is read from Docker's config.json; then rerun (a rerun resumes where this one stopped)"
                        } else {
                            "the registry is failing or rate limiting; rerun later (a rerun resumes where this one stopped)"
                        };
                        return Err(Error::new(
                            Kind::Upstream,
                            format!("can't {what}: gave up after {attempt} attempts: {last}"),
                        )
                        .with_help(help));
                    }
                }
                Ok(resp) => return Ok(resp),
                // Not transient: retrying can't make the certificate trusted.
                Err(e) if is_certificate_error(&e) => {
                    let registry = host
                        .map(str::to_string)
                        .unwrap_or_else(|| e.url().map(authority).unwrap_or_default());
                    let why = tls_error(&e).map(|t| t.to_string()).unwrap_or_default();
                    return Err(Error::new(
                        Kind::Upstream,
                        format!(
                            "can't {what}: the TLS certificate of registry `{registry}` is not trusted ({why})"
                        ),
                    )
                    .with_help(TRUST_HELP));
                }
                Err(e) => {
                    last = chain(&e);
                    if attempt >= max {
                        return Err(Error::new(
                            Kind::Upstream,
                            format!("can't {what}: gave up after {attempt} attempts: {last}"),
                        )
                        .with_help(if e.is_connect() {
                            "check that the registry is reachable (and `insecure-registry` for a plain-http registry that is not on loopback)"
                        } else {
                            "the connection failed; rerun later (a rerun resumes where this one stopped)"
                        }));
                    }
                }
            }
            let wait = retry_after.unwrap_or_else(|| self.backoff(attempt));
            self.wait_or_fail(what, wait, &last)?;
            self.note(format!(
                "retrying: {what} (attempt {}/{max} in {:.1}s): {last}",
                attempt + 1,
                wait.as_secs_f64()
            ));
            tokio::time::sleep(wait).await;
        }
    }

    /// Answers a challenge by setting the host's `Authorization`. False when there is nothing new to try
    /// (the credentials were already refused), so the caller reports the 401.
    async fn authenticate(&self, what: &str, host: &str, challenge: Challenge) -> Result<bool> {
        let credentials = self.credentials(host)?;
        match challenge {
            Challenge::Basic => {
                let Credentials::Basic { username, password } = &credentials else {
                    return Ok(false);
                };
                let value = format!(
                    "Basic {}",
                    base64_encode(format!("{username}:{}", password.expose()).as_bytes())
                );
                let mut hosts = lock(&self.hosts);
                let state = hosts.entry(host.to_string()).or_default();
                if state.authorization.as_ref().map(Secret::expose) == Some(value.as_str()) {
                    return Ok(false);
                }
                state.authorization = Some(Secret::new(value));
                Ok(true)
            }
            Challenge::Bearer {
                realm,
                service,
                scope,
            } => {
                if let Credentials::Bearer(token) = &credentials {
                    let value = format!("Bearer {}", token.expose());
                    let mut hosts = lock(&self.hosts);
                    let state = hosts.entry(host.to_string()).or_default();
                    if state.authorization.as_ref().map(Secret::expose) == Some(value.as_str()) {
                        return Ok(false);
                    }
                    state.authorization = Some(Secret::new(value));
                    return Ok(true);
                }
                let params = {
                    let mut hosts = lock(&self.hosts);
                    let state = hosts.entry(host.to_string()).or_default();
                    for s in &scope {
                        state.scopes.add_raw(s);
                    }
                    state.scopes.to_params()
                };
                let token_what = format!("get a registry token from {realm} to {what}");
                // Docker's OAuth2 flow for a stored refresh token: POST the form to the realm (the registry's own
                // challenge names it, so the token goes nowhere else).
                let joined_scope = params.join(" ");
                let mut form: Vec<(&str, &str)> = vec![("grant_type", "refresh_token")];
                if let Credentials::IdentityToken(refresh) = &credentials {
                    form.push(("refresh_token", refresh.expose()));
                    form.push(("client_id", "gitops-promote"));
                    if let Some(service) = &service {
                        form.push(("service", service));
                    }
                    if !joined_scope.is_empty() {
                        form.push(("scope", &joined_scope));
                    }
                }
                let mut query: Vec<(&str, &str)> = Vec::new();
                if let Some(service) = &service {
                    query.push(("service", service));
                }
                for p in &params {
                    query.push(("scope", p));
                }
                let resp = self
                    .send(&token_what, None, SHORT, &|| {
                        if matches!(credentials, Credentials::IdentityToken(_)) {
                            return self.http_for(&realm).post(&realm).form(&form);
                        }
                        let mut req = self.http_for(&realm).get(&realm).query(&query);
                        if let Credentials::Basic { username, password } = &credentials {
                            req = req.basic_auth(username, Some(password.expose()));
                        }
                        req
                    })
                    .await?;
                if !resp.status().is_success() {
                    let refused = resp.status() == StatusCode::UNAUTHORIZED;
                    let error = self.failure(&token_what, resp).await;
                    // The realm refused the registry's login: say where that login came from.
                    return Err(if refused {
                        error.with_help(self.refused_login_help(host))
                    } else {
                        error
                    });
                }
                let body = resp.bytes().await.map_err(|e| {
                    Error::new(Kind::Upstream, format!("can't {token_what}: {}", chain(&e)))
                })?;
                let token = auth::token_from_response(&body).ok_or_else(|| {
                    Error::new(
                        Kind::Upstream,
                        format!(
                            "can't {token_what}: the answer has neither `token` nor `access_token`"
                        ),
                    )
                })?;
                lock(&self.secrets).push(token.clone());
                let mut hosts = lock(&self.hosts);
                let state = hosts.entry(host.to_string()).or_default();
                let value = format!("Bearer {token}");
                state.authorization = Some(Secret::new(value));
                Ok(true)
            }
        }
    }

    /// What to fix when `host` refused its login: the help names where that login came from (a token realm
    /// on another host is answered for the registry that sent there).
    fn refused_login_help(&self, host: &str) -> String {
        let source = lock(&self.hosts)
            .get(host)
            .and_then(|state| state.login.as_ref().map(|(_, source)| source.clone()));
        match source {
            Some(LoginSource::Inputs) => format!(
                "`{host}` refused `registry-username`/`registry-password` (or `registry-token`): check them; on ghcr.io the job needs `permissions: packages: write` for writes"
            ),
            Some(LoginSource::Store(origin)) => format!(
                "`{host}` refused the login from {origin}: log in again before this step (the registry's login action, or `docker login {host}`), or give `registry-username`/`registry-password` for it"
            ),
            Some(LoginSource::GithubToken) => format!(
                "`{host}` refused `github-token`: the job needs `permissions: packages: write` for writes, and the package's settings must give this repository access"
            ),
            Some(LoginSource::Anonymous) => format!(
                "`{host}` needs a login and none was found for it: log in before this step (`docker/login-action` or the registry's own login action; its login is read from Docker's config.json), or give `registry-username`/`registry-password` when it is the image's registry"
            ),
            None => "the registry refused the credentials: check the login for it (`registry-username`/`registry-password`, `registry-token`, or Docker's config.json); on ghcr.io the job needs `permissions: packages: write` for writes".to_string(),
        }
    }

    /// Turns a failed answer into an error that names the operation, keeps the registry's body and says
    /// what to fix.
    async fn failure(&self, what: &str, resp: Response) -> Error {
        let status = resp.status();
        let host = authority(resp.url());
        let body = body_text(resp).await;
        let (kind, help) = match status.as_u16() {
            401 => (Kind::Permission, self.refused_login_help(&host)),
            403 => (
                Kind::Permission,
                "the credentials lack the permission: on ghcr.io add `permissions: packages: write` to the job and give this repository write access in the package's settings".to_string(),
            ),
            404 => (
                Kind::NotFound,
                "check the image name, and that the tag or digest exists in that repository".to_string(),
            ),
            // ECR refuses to overwrite a tag of a repository whose `imageTagMutability` is `IMMUTABLE`
            // (docs.aws.amazon.com/AmazonECR/latest/userguide/image-tag-mutability.html): 400 `TAG_INVALID`
            // ("The image tag 'x' already exists … and cannot be overwritten because the repository is
            // immutable"). It can't be known before the write: a repository's settings are not in the
            // registry API.
            400 if body.contains("TAG_INVALID") => (
                Kind::Conflict,
                "the repository's tags are immutable (ECR `imageTagMutability: IMMUTABLE`): version tags are written once, but a moving tag such as `production-latest` must move. Either exclude it from immutability (`IMMUTABLE_WITH_EXCLUSION` with an exclusion filter `production-latest`, or `MUTABLE_WITH_EXCLUSION`: `aws ecr put-image-tag-mutability --repository-name NAME --image-tag-mutability IMMUTABLE_WITH_EXCLUSION --image-tag-mutability-exclusion-filters filterType=WILDCARD,filter=production-latest`), or make the repository `MUTABLE`, or write no moving tag (`moving-tag: none`, where Flux applies the production overlay from git, which pins the version tag by digest); the version tags already written are right and a rerun reports them `unchanged`".to_string(),
            ),
            400 if body.contains("BLOB_UNKNOWN") => (
                Kind::Upstream,
                "the repository lacks the image's blobs: give the target as a full reference so they are copied first".to_string(),
            ),
            _ => (Kind::Upstream, String::new()),
        };
        let mut error = Error::new(
            kind,
            format!("can't {what}: registry answered {status}: {body}"),
        );
        if !help.is_empty() {
            error = error.with_help(help);
        }
        error
    }
}

/// How [`Client::send`] treats one request.
#[derive(Debug, Clone, Copy)]
struct Opts {
    /// Attempts; `None` is the configured maximum.
    attempts: Option<u32>,
    /// A blob transfer: bounded by the run's deadline and the read timeout, not the per-request timeout.
    long: bool,
}

const SHORT: Opts = Opts {
    attempts: None,
    long: false,
};
const LONG: Opts = Opts {
    attempts: None,
    long: true,
};

fn is_retryable(status: StatusCode) -> bool {
    status == StatusCode::TOO_MANY_REQUESTS || status.is_server_error()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// `application/json; charset=utf-8` → `application/json`.
fn media_type_only(value: &str) -> String {
    value.split(';').next().unwrap_or("").trim().to_string()
}

/// The registry's error body, shortened, on one line.
async fn body_text(resp: Response) -> String {
    let text = resp.text().await.unwrap_or_default();
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.is_empty() {
        return "(empty body)".to_string();
    }
    match text.char_indices().nth(1000) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}

/// An error with its causes (`error sending request: connection closed before message completed`).
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

/// `next` (a `Link` target, often relative) resolved against the page `url` it came with.
fn join_link(url: &str, next: &str, what: &str) -> Result<String> {
    Url::parse(url)
        .and_then(|base| base.join(next))
        .map(|u| u.to_string())
        .map_err(|e| {
            Error::new(
                Kind::Upstream,
                format!("can't {what}: bad Link `{next}`: {e}"),
            )
        })
}

/// The target of `Link: </v2/…?last=x&n=100>; rel="next"`.
///
/// ```
/// use gitops_promote::registry::next_link;
/// assert_eq!(next_link(r#"</v2/a/tags/list?last=b&n=2>; rel="next""#).as_deref(), Some("/v2/a/tags/list?last=b&n=2"));
/// assert_eq!(next_link(r#"<https://x/p>; rel="prev""#), None);
/// ```
pub fn next_link(header: &str) -> Option<String> {
    header.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            p.trim()
                .replace(' ', "")
                .eq_ignore_ascii_case("rel=\"next\"")
                || p.trim().eq_ignore_ascii_case("rel=next")
        });
        is_next.then(|| {
            target
                .trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .to_string()
        })
    })
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests;
