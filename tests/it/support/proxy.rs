//! A test-only HTTP proxy in front of the registry that counts requests, adds latency, and injects faults:
//! an error status (429 with `Retry-After`, 503), a dropped connection (before or after the registry saw the
//! request), or a slow answer. Each fault hits the next request that matches it, once.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::http::{self, Dropped};

#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this status without asking the registry; `Retry-After` seconds if given.
    Status(u16, Option<u64>),
    /// Close the connection without an answer, before the registry sees the request.
    DropBefore,
    /// Forward, let the registry act, then close the connection without passing the answer on.
    DropAfter,
    /// Forward after this delay.
    Slow(Duration),
    /// Forward, let the registry act, then run this (kill the client: a process killed after the write) and
    /// close the connection without an answer.
    Then(Then),
}

/// What [`Fault::Then`] runs once the registry has acted.
#[derive(Clone)]
pub struct Then(pub Arc<dyn Fn() + Send + Sync>);

impl std::fmt::Debug for Then {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Then(..)")
    }
}

/// Which requests a fault applies to: method and a path substring.
#[derive(Debug, Clone)]
pub struct Rule {
    pub method: &'static str,
    pub path_contains: String,
    pub fault: Fault,
}

#[derive(Default)]
struct State {
    rules: VecDeque<Rule>,
    latency: Duration,
    log: Vec<String>,
    /// Every `Authorization` header received, as sent.
    authorizations: Vec<String>,
    /// Behave as an ECR repository with `imageTagMutability: IMMUTABLE`: a PUT of a tag that exists is
    /// refused with 400 `TAG_INVALID`, and no blob is mounted across repositories (the `mount`/`from` query
    /// is dropped, so the registry opens an ordinary upload).
    ecr_immutable: bool,
    /// Response headers removed from every answer (a registry that omits `Docker-Content-Digest`).
    strip: Vec<String>,
    /// Behave as a registry with the OCI 1.1 referrers API (distribution 2.8 has none): see
    /// [`Proxy::serve_referrers_api`].
    referrers_api: bool,
    /// With `referrers_api`: answer the API with an empty list and index nothing, as some registries do.
    referrers_empty: bool,
    /// Read a manifest tag `sha256-<hex>` as the digest `sha256:<hex>`, as GitLab's registry does.
    dash_is_digest: bool,
    /// What that API lists: (repository, subject digest, the referrer's descriptor), as manifests were PUT.
    referrers: Vec<(String, String, serde_json::Value)>,
    /// Answer every blob GET with a 307 to this address (`127.0.0.1:PORT`), as registries on S3, GCS or Azure
    /// blob storage redirect to the storage host.
    redirect_blobs: Option<String>,
    /// Forward with this `Authorization` instead of what arrived (logged first): blob storage's pre-signed URL,
    /// which needs no login of the client's.
    authorize_upstream: Option<String>,
}

pub struct Proxy {
    pub addr: String,
    requests: Arc<AtomicU64>,
    state: Arc<Mutex<State>>,
}

impl Proxy {
    /// A proxy forwarding to `upstream` (`127.0.0.1:PORT`).
    pub fn start(upstream: &str) -> Self {
        let requests = Arc::new(AtomicU64::new(0));
        let state = Arc::new(Mutex::new(State::default()));
        let upstream = upstream.to_string();
        let (counter, shared) = (requests.clone(), state.clone());
        let client: Client<HttpConnector, Incoming> =
            Client::builder(TokioExecutor::new()).build_http();
        let addr = http::serve(Arc::new(move |req: Request<Incoming>| {
            counter.fetch_add(1, Ordering::Relaxed);
            let (state, client, upstream) = (shared.clone(), client.clone(), upstream.clone());
            Box::pin(async move {
                let method = req.method().to_string();
                let path = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.to_string())
                    .unwrap_or_default();
                let mut req = req;
                let (
                    fault,
                    latency,
                    ecr,
                    strip,
                    referrers_api,
                    dash_is_digest,
                    redirect,
                    authorize,
                ) = {
                    let mut s = state.lock().expect("proxy state");
                    s.log.push(format!("{method} {path}"));
                    if let Some(a) = req
                        .headers()
                        .get("authorization")
                        .and_then(|v| v.to_str().ok())
                    {
                        s.authorizations.push(a.to_string());
                    }
                    let i = s
                        .rules
                        .iter()
                        .position(|r| r.method == method && path.contains(&r.path_contains));
                    (
                        i.and_then(|i| s.rules.remove(i)).map(|r| r.fault),
                        s.latency,
                        s.ecr_immutable,
                        s.strip.clone(),
                        s.referrers_api,
                        s.dash_is_digest,
                        s.redirect_blobs.clone(),
                        s.authorize_upstream.clone(),
                    )
                };
                if let Some(storage) = redirect
                    && method == "GET"
                    && path.contains("/blobs/sha256:")
                {
                    return Ok(Response::builder()
                        .status(307)
                        .header("location", format!("http://{storage}{path}"))
                        .body(http::full(""))
                        .expect("response"));
                }
                if let Some(value) = authorize {
                    req.headers_mut()
                        .insert("authorization", value.parse().expect("header"));
                }
                if referrers_api {
                    match referrers_stand_in(&state, &upstream, req, &method, &path).await {
                        Ok(resp) => return Ok(resp),
                        Err(r) => req = r,
                    }
                }
                let mut path = path;
                if dash_is_digest
                    && matches!(method.as_str(), "GET" | "HEAD")
                    && let Some((before, after)) = path.split_once("/manifests/sha256-")
                    && after.len() == 64
                {
                    path = format!("{before}/manifests/sha256:{after}");
                }
                if ecr {
                    if let Some(refused) = ecr_refusal(&upstream, &method, &path).await {
                        let _ = req.into_body().collect().await;
                        return Ok(refused);
                    }
                    if method == "POST" && path.contains("mount=") {
                        path = path.split('?').next().unwrap_or_default().to_string();
                    }
                }
                if !latency.is_zero() {
                    tokio::time::sleep(latency).await;
                }
                match &fault {
                    Some(Fault::Status(code, retry_after)) => {
                        let mut b = Response::builder()
                            .status(*code)
                            .header("content-type", "application/json");
                        if let Some(s) = retry_after {
                            b = b.header("retry-after", s.to_string());
                        }
                        let body = format!(
                            r#"{{"errors":[{{"code":"INJECTED","message":"injected {code}"}}]}}"#
                        );
                        // Drain the request body so the connection stays usable.
                        let _ = req.into_body().collect().await;
                        return Ok(b.body(http::full(body)).expect("response"));
                    }
                    Some(Fault::DropBefore) => return Err(Dropped),
                    Some(Fault::Slow(d)) => tokio::time::sleep(*d).await,
                    _ => {}
                }
                let (mut parts, body) = req.into_parts();
                parts.uri = format!("http://{upstream}{path}").parse().expect("uri");
                let resp = client
                    .request(Request::from_parts(parts, body))
                    .await
                    .map_err(|_| Dropped)?;
                if let Some(Fault::Then(then)) = &fault {
                    let _ = resp.into_body().collect().await;
                    (then.0)();
                    return Err(Dropped);
                }
                if matches!(fault, Some(Fault::DropAfter)) {
                    let _ = resp.into_body().collect().await;
                    return Err(Dropped);
                }
                let mut resp = resp;
                for name in &strip {
                    resp.headers_mut().remove(name.as_str());
                }
                Ok(resp.map(|b| b.boxed()))
            })
        }));
        Self {
            addr,
            requests,
            state,
        }
    }

    pub fn fault(&self, method: &'static str, path_contains: &str, fault: Fault) {
        self.state.lock().expect("state").rules.push_back(Rule {
            method,
            path_contains: path_contains.to_string(),
            fault,
        });
    }

    /// From now on, behave as an ECR repository with immutable tags (see `State::ecr_immutable`).
    pub fn act_as_immutable_ecr(&self) {
        self.state.lock().expect("state").ecr_immutable = true;
    }

    /// From now on, behave as a registry with the OCI 1.1 referrers API (OCI distribution spec v1.1, "Listing
    /// Referrers"): a manifest PUT with a `subject` is recorded (and answered with `OCI-Subject`), and `GET
    /// /v2/<name>/referrers/<digest>` lists what was recorded for that subject as an image index.
    pub fn serve_referrers_api(&self) {
        self.state.lock().expect("state").referrers_api = true;
    }

    /// From now on, answer `GET /v2/<name>/referrers/<digest>` with an empty image index (200) while indexing
    /// nothing and sending no `OCI-Subject`: a registry that looks as if it had the API and has not.
    pub fn pretend_referrers_api(&self) {
        let mut state = self.state.lock().expect("state");
        state.referrers_api = true;
        state.referrers_empty = true;
    }

    /// From now on, read a manifest reference `sha256-<hex>` as the digest `sha256:<hex>` (GitLab's registry
    /// does: the referrers fallback tag then resolves to the image itself, oras-project/oras-go#1396).
    pub fn read_dash_as_digest(&self) {
        self.state.lock().expect("state").dash_is_digest = true;
    }

    /// The referrers the stand-in lists for `subject` in `repo`.
    pub fn referrers(&self, repo: &str, subject: &str) -> Vec<serde_json::Value> {
        let state = self.state.lock().expect("state");
        state
            .referrers
            .iter()
            .filter(|(r, s, _)| r == repo && s == subject)
            .map(|(_, _, d)| d.clone())
            .collect()
    }

    /// From now on, answer every blob GET with a redirect to `storage` (see `State::redirect_blobs`).
    pub fn redirect_blobs_to(&self, storage: &str) {
        self.state.lock().expect("state").redirect_blobs = Some(storage.to_string());
    }

    /// From now on, forward every request with this `Authorization` (see `State::authorize_upstream`).
    pub fn authorize_upstream(&self, value: &str) {
        self.state.lock().expect("state").authorize_upstream = Some(value.to_string());
    }

    /// From now on, remove this header from every answer.
    pub fn strip_header(&self, name: &str) {
        self.state
            .lock()
            .expect("state")
            .strip
            .push(name.to_ascii_lowercase());
    }

    pub fn set_latency(&self, latency: Duration) {
        self.state.lock().expect("state").latency = latency;
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn reset_count(&self) {
        self.requests.store(0, Ordering::Relaxed);
        self.state.lock().expect("state").log.clear();
    }

    /// `METHOD /path?query` of every request seen.
    pub fn log(&self) -> Vec<String> {
        self.state.lock().expect("state").log.clone()
    }

    /// Every `Authorization` header the proxy received.
    pub fn authorizations(&self) -> Vec<String> {
        self.state.lock().expect("state").authorizations.clone()
    }

    /// Faults not yet triggered.
    pub fn pending(&self) -> usize {
        self.state.lock().expect("state").rules.len()
    }
}

/// ECR's answer to a PUT of a tag that already exists in an immutable repository, when this is one; the
/// upstream is asked whether the tag exists (anonymously: the stand-in fronts an anonymous registry).
async fn ecr_refusal(upstream: &str, method: &str, path: &str) -> Option<Response<http::Body>> {
    if method != "PUT" {
        return None;
    }
    let (repo, tag) = path.strip_prefix("/v2/")?.split_once("/manifests/")?;
    if tag.starts_with("sha256:") {
        return None;
    }
    let client: Client<HttpConnector, http_body_util::Empty<hyper::body::Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let head = Request::head(format!("http://{upstream}{path}"))
        .header(
            "accept",
            "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json",
        )
        .body(http_body_util::Empty::new())
        .ok()?;
    let exists = client.request(head).await.ok()?.status().is_success();
    exists.then(|| {
        let body = format!(
            r#"{{"errors":[{{"code":"TAG_INVALID","message":"The image tag '{tag}' already exists in the '{repo}' repository and cannot be overwritten because the repository is immutable."}}]}}"#
        );
        Response::builder()
            .status(400)
            .header("content-type", "application/json")
            .body(http::full(body))
            .expect("response")
    })
}

/// The referrers API stand-in: answers `GET …/referrers/<digest>` itself, and forwards a manifest PUT (buffered,
/// to read its `subject`) recording the referrer. Any other request is handed back to be forwarded as usual.
async fn referrers_stand_in(
    state: &Mutex<State>,
    upstream: &str,
    req: Request<Incoming>,
    method: &str,
    path: &str,
) -> Result<Response<http::Body>, Request<Incoming>> {
    let Some(rest) = path.split('?').next().and_then(|p| p.strip_prefix("/v2/")) else {
        return Err(req);
    };
    let empty = state.lock().expect("state").referrers_empty;
    if method == "GET"
        && let Some((repo, subject)) = rest.split_once("/referrers/")
    {
        let manifests: Vec<serde_json::Value> = state
            .lock()
            .expect("state")
            .referrers
            .iter()
            .filter(|(r, s, _)| !empty && r == repo && s == subject)
            .map(|(_, _, d)| d.clone())
            .collect();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": manifests,
        });
        return Ok(Response::builder()
            .status(200)
            .header("content-type", "application/vnd.oci.image.index.v1+json")
            .body(http::full(serde_json::to_vec(&index).expect("json")))
            .expect("response"));
    }
    let Some((repo, _)) = rest.split_once("/manifests/") else {
        return Err(req);
    };
    if method != "PUT" || empty {
        return Err(req);
    }
    let repo = repo.to_string();
    let (mut parts, body) = req.into_parts();
    let bytes = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let manifest: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    parts.uri = format!("http://{upstream}{path}").parse().expect("uri");
    let client: Client<HttpConnector, http_body_util::Full<hyper::body::Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    let Ok(resp) = client
        .request(Request::from_parts(
            parts,
            http_body_util::Full::new(bytes.clone()),
        ))
        .await
    else {
        return Ok(Response::builder()
            .status(502)
            .body(http::full("upstream failed"))
            .expect("response"));
    };
    let mut resp = resp.map(|b| b.boxed());
    if let Some(subject) = manifest["subject"]["digest"].as_str()
        && resp.status().is_success()
    {
        use sha2::Digest as _;
        let digest = format!("sha256:{:x}", sha2::Sha256::digest(&bytes));
        let mut descriptor = serde_json::json!({
            "mediaType": manifest["mediaType"],
            "digest": digest,
            "size": bytes.len(),
            "artifactType": manifest.get("artifactType").unwrap_or(&manifest["config"]["mediaType"]),
        });
        if let Some(a) = manifest.get("annotations") {
            descriptor["annotations"] = a.clone();
        }
        let mut s = state.lock().expect("state");
        if !s
            .referrers
            .iter()
            .any(|(r, _, d)| *r == repo && d["digest"] == digest)
        {
            s.referrers.push((repo, subject.to_string(), descriptor));
        }
        resp.headers_mut()
            .insert("oci-subject", subject.parse().expect("header"));
    }
    Ok(resp)
}
