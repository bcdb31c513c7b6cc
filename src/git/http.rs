//! Owns git's smart HTTP protocol for `http://` and `https://` remotes: libgit2 negotiates, this subtransport
//! carries its requests over reqwest and the process's one TLS trust ([`crate::tls`]).
//!
//! Why not libgit2's own transport: built with git2's `https` feature, libgit2 initialises OpenSSL when the
//! library starts, before it opens a repository, and OpenSSL 3 then parses the whole CA bundle
//! (`SSL_CTX_set_default_verify_paths` in `git_openssl_stream_global_init`): about 50 ms of a 64 ms run that
//! derives a version and never reaches a remote. libgit2 defers that only in its `GIT_OPENSSL_DYNAMIC` build,
//! which libgit2-sys does not offer. So git2 is built without `https` and its smart protocol runs over this
//! subtransport (registered for both schemes, so every HTTP remote takes one path for credentials and errors):
//! nothing about TLS happens until a command talks to a remote, and git, the registry and GitHub share one
//! TLS stack and one trust setting (`SSL_CERT_FILE`, `SSL_CERT_DIR`). Static builds no longer compile OpenSSL.
//!
//! Stateless ("rpc") smart HTTP, as git's `http-backend` and GitHub serve it: `GET …/info/refs?service=…`
//! for the advertisement, then one `POST …/git-upload-pack` per negotiation round (or one
//! `POST …/git-receive-pack`), each request's body written whole by libgit2 before it reads the answer (a
//! push reads the server's `report-status`, which git's servers and GitHub always send). Proxies come from
//! `HTTPS_PROXY`/`HTTP_PROXY`/`NO_PROXY` as for curl and git; a loopback remote is never proxied.

use std::cell::RefCell;
use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::{Buf, Bytes};
use git2::transport::{Service, SmartSubtransport, SmartSubtransportStream, Transport};
use git2::{ErrorClass, ErrorCode};
use reqwest::header::{ACCEPT, CONTENT_TYPE, USER_AGENT};
use reqwest::{StatusCode, Url};

use crate::inputs::Secret;

/// The user name GitHub expects beside a token (actions/checkout's too).
const TOKEN_USER: &str = "x-access-token";

/// In the form git servers expect of a git client (`git/…`), as libgit2's `git/2.0 (libgit2 …)`.
const AGENT: &str = concat!("git/2.0 (gitops-promote ", env!("CARGO_PKG_VERSION"), ")");

thread_local! {
    /// The token of the remote operation running on this thread, for the transport libgit2 creates inside it
    /// (libgit2 builds and drives the transport on the thread that called it). Set by [`Credentials`].
    static TOKEN: RefCell<Option<Secret>> = const { RefCell::new(None) };
}

/// The credentials of the remote operations (`connect`, `fetch`, `push`) started on this thread while it
/// lives; the previous ones come back when it is dropped.
pub struct Credentials {
    previous: Option<Secret>,
    /// Bound to the thread whose slot it set.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Credentials {
    pub fn set(token: Option<&Secret>) -> Self {
        Self {
            previous: TOKEN.replace(token.cloned()),
            _not_send: std::marker::PhantomData,
        }
    }
}

impl Drop for Credentials {
    fn drop(&mut self) {
        TOKEN.set(self.previous.take());
    }
}

/// Makes libgit2 reach `http://` and `https://` remotes through this module. Once per process, before any
/// remote is used.
///
/// # Safety
/// As `git2::transport::register`: not concurrently with libgit2 creating a transport.
#[allow(unsafe_code)]
pub unsafe fn register() -> Result<(), git2::Error> {
    for scheme in ["http", "https"] {
        // SAFETY: the caller's contract.
        unsafe {
            git2::transport::register(scheme, |remote| {
                let token = TOKEN.with_borrow(Clone::clone);
                Transport::smart(remote, true, SmartHttp::new(token))
            })?;
        }
    }
    Ok(())
}

/// The process's HTTP clients and the runtime they run on, made when the first remote is reached.
struct Http {
    rt: tokio::runtime::Runtime,
    proxied: reqwest::Client,
    /// For loopback remotes: never through a proxy (as the registry client).
    direct: reqwest::Client,
}

fn http() -> Result<&'static Http, git2::Error> {
    static HTTP: OnceLock<Result<Http, String>> = OnceLock::new();
    HTTP.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("can't start the async runtime: {e}"))?;
        let tls = crate::tls::client_config().map_err(|e| format!("can't set up TLS: {e}"))?;
        let builder = || {
            reqwest::Client::builder()
                .tls_backend_preconfigured(tls.clone())
                .connect_timeout(Duration::from_secs(15))
                .read_timeout(Duration::from_secs(60))
        };
        let build = |b: reqwest::ClientBuilder| {
            b.build()
                .map_err(|e| format!("can't build the HTTP client: {e}"))
        };
        Ok(Http {
            proxied: build(builder())?,
            direct: build(builder().no_proxy())?,
            rt,
        })
    })
    .as_ref()
    .map_err(|e| git2::Error::new(ErrorCode::GenericError, ErrorClass::Http, e))
}

impl Http {
    fn client(&self, url: &Url) -> &reqwest::Client {
        let loopback = url.host_str().is_some_and(crate::registry::is_loopback);
        if loopback {
            &self.direct
        } else {
            &self.proxied
        }
    }

    /// Runs `future` on the transport's runtime, also when the caller is itself inside one (on a scoped
    /// thread then: a runtime can't block inside another).
    fn block_on<F: Future + Send>(&self, future: F) -> F::Output
    where
        F::Output: Send,
    {
        if tokio::runtime::Handle::try_current().is_err() {
            return self.rt.block_on(future);
        }
        std::thread::scope(|s| {
            s.spawn(|| self.rt.block_on(future))
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        })
    }
}

/// One remote's transport: the credentials it was created with and what its requests learned.
struct SmartHttp {
    session: Arc<Session>,
}

struct Session {
    token: Option<Secret>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Where the remote's repository is, when its first request was redirected (git and libgit2 follow
    /// redirects of that request only, and send the rest where it ended).
    base: Option<Url>,
    /// The server asked for credentials: every later request carries them from the start.
    authenticate: bool,
}

impl SmartHttp {
    fn new(token: Option<Secret>) -> Self {
        Self {
            session: Arc::new(Session {
                token,
                state: Mutex::default(),
            }),
        }
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|e| e.into_inner())
}

fn net_error(code: ErrorCode, message: impl AsRef<str>) -> git2::Error {
    git2::Error::new(code, ErrorClass::Http, message.as_ref())
}

impl SmartSubtransport for SmartHttp {
    fn action(
        &self,
        url: &str,
        action: Service,
    ) -> Result<Box<dyn SmartSubtransportStream>, git2::Error> {
        let remote = Url::parse(url)
            .map_err(|e| net_error(ErrorCode::GenericError, format!("not a URL: {e}")))?;
        let (service, advertisement) = match action {
            Service::UploadPackLs => ("git-upload-pack", true),
            Service::UploadPack => ("git-upload-pack", false),
            Service::ReceivePackLs => ("git-receive-pack", true),
            Service::ReceivePack => ("git-receive-pack", false),
        };
        let request = Request {
            session: self.session.clone(),
            remote,
            service,
        };
        if advertisement {
            // Asked now, so a refusal reaches libgit2 as an authentication error with its code.
            let body = request.send(None)?;
            Ok(Box::new(Stream::Answer(body)))
        } else {
            Ok(Box::new(Stream::Pending {
                request,
                body: Vec::new(),
            }))
        }
    }

    fn close(&self) -> Result<(), git2::Error> {
        Ok(())
    }
}

struct Request {
    session: Arc<Session>,
    /// The remote's URL as configured (credentials go to its origin only).
    remote: Url,
    service: &'static str,
}

impl Request {
    /// `GET …/info/refs` (no body) or `POST …/{service}`; the answer's body, once its status and type say
    /// it is the smart protocol's.
    fn send(&self, body: Option<Bytes>) -> Result<Body, git2::Error> {
        let http = http()?;
        let base = lock(&self.session.state)
            .base
            .clone()
            .unwrap_or_else(|| self.remote.clone());
        let (url, expected) = match body {
            None => (
                join(&base, &format!("info/refs?service={}", self.service))?,
                format!("application/x-{}-advertisement", self.service),
            ),
            Some(_) => (
                join(&base, self.service)?,
                format!("application/x-{}-result", self.service),
            ),
        };
        let mut sent_credentials = false;
        let mut asked_again = false;
        let response = loop {
            let authenticate = lock(&self.session.state).authenticate;
            let credentials = match &self.session.token {
                // Only to the remote's own origin, never to a host a redirect named.
                Some(token) if authenticate && same_origin(&url, &self.remote) => Some(token),
                _ => None,
            };
            let mut request = match &body {
                None => http.client(&url).get(url.clone()).header(ACCEPT, &expected),
                Some(body) => http
                    .client(&url)
                    .post(url.clone())
                    .header(
                        CONTENT_TYPE,
                        format!("application/x-{}-request", self.service),
                    )
                    .header(ACCEPT, &expected)
                    .body(body.clone()),
            }
            .header(USER_AGENT, AGENT);
            if let Some(token) = credentials {
                request = request.basic_auth(TOKEN_USER, Some(token.expose()));
                sent_credentials = true;
            }
            let response = http
                // reqwest starts its timers when `send` is called: inside the runtime, so in the future.
                .block_on(async { request.send().await })
                .map_err(|e| net_error(ErrorCode::GenericError, describe(&e.without_url())))?;
            // As git and libgit2 do: credentials only once the server asks for them, then on every request.
            if response.status() == StatusCode::UNAUTHORIZED
                && !sent_credentials
                && !asked_again
                && self.session.token.is_some()
                && same_origin(&url, &self.remote)
            {
                lock(&self.session.state).authenticate = true;
                asked_again = true;
                continue;
            }
            break response;
        };
        let status = response.status();
        if status == StatusCode::UNAUTHORIZED {
            // The words `authentication` and 401 are what the caller's error mapping looks for.
            return Err(net_error(
                ErrorCode::Auth,
                if sent_credentials {
                    "authentication failed: the server refused the token (HTTP 401)"
                } else {
                    "authentication required: the server answered HTTP 401"
                },
            ));
        }
        if !status.is_success() {
            let code = if status == StatusCode::NOT_FOUND {
                ErrorCode::NotFound
            } else {
                ErrorCode::GenericError
            };
            let says = http.block_on(first_line(response));
            return Err(net_error(
                code,
                format!("the server answered HTTP {status}{says}"),
            ));
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        if !content_type
            .split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case(&expected))
        {
            return Err(net_error(
                ErrorCode::GenericError,
                format!(
                    "the server does not speak git's smart HTTP protocol: it answered `{content_type}`, not `{expected}`"
                ),
            ));
        }
        if body.is_none() {
            let suffix = format!("info/refs?service={}", self.service);
            let landed = response.url().as_str();
            if landed != url.as_str()
                && let Some(base) = landed
                    .strip_suffix(&suffix)
                    .and_then(|b| Url::parse(b).ok())
            {
                lock(&self.session.state).base = Some(base);
            }
        }
        Ok(Body {
            response,
            chunk: Bytes::new(),
        })
    }
}

/// `base` (a repository URL, with or without a trailing `/`) and a path below it (`Url::join` would replace
/// the repository's last segment).
fn join(base: &Url, path: &str) -> Result<Url, git2::Error> {
    let base = base.as_str().trim_end_matches('/');
    Url::parse(&format!("{base}/{path}"))
        .map_err(|e| net_error(ErrorCode::GenericError, format!("not a URL: {e}")))
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.origin() == b.origin()
}

/// `: ` and the first line of a plain-text error body (GitHub's `remote: Permission to … denied`), if any.
async fn first_line(response: reqwest::Response) -> String {
    let text = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/plain"));
    if !text {
        return String::new();
    }
    let body = response.text().await.unwrap_or_default();
    match body.lines().map(str::trim).find(|l| !l.is_empty()) {
        Some(line) => format!(": {}", line.chars().take(200).collect::<String>()),
        None => String::new(),
    }
}

/// An error and its causes on one line (reqwest's own text is only "error sending request").
fn describe(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(e) = next {
        let text = e.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        next = e.source();
    }
    let text = parts.join(": ");
    if crate::tls::is_certificate_error(e) {
        format!("the server's TLS certificate is not trusted: {text}")
    } else {
        text
    }
}

/// The answer being read, a chunk at a time.
struct Body {
    response: reqwest::Response,
    chunk: Bytes,
}

impl Read for Body {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while !self.chunk.has_remaining() {
            let http = http().map_err(io::Error::other)?;
            match http.block_on(self.response.chunk()) {
                Ok(Some(chunk)) => self.chunk = chunk,
                Ok(None) => return Ok(0),
                Err(e) => return Err(io::Error::other(describe(&e.without_url()))),
            }
        }
        let n = buf.len().min(self.chunk.remaining());
        self.chunk.copy_to_slice(&mut buf[..n]);
        Ok(n)
    }
}

enum Stream {
    /// A `POST` whose body libgit2 is still writing: sent on its first read.
    Pending {
        request: Request,
        body: Vec<u8>,
    },
    Answer(Body),
    Failed,
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Stream::Pending { .. } = self {
            let Stream::Pending { request, body } = std::mem::replace(self, Stream::Failed) else {
                return Err(io::Error::other("unreachable"));
            };
            let answer = request
                .send(Some(Bytes::from(body)))
                .map_err(|e| io::Error::other(e.message().to_string()))?;
            *self = Stream::Answer(answer);
        }
        match self {
            Stream::Answer(body) => body.read(buf),
            _ => Err(io::Error::other("the request failed")),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Pending { body, .. } => {
                body.extend_from_slice(data);
                Ok(data.len())
            }
            _ => Err(io::Error::other(
                "git wrote to a request that was already sent",
            )),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).expect("url")
    }

    #[test]
    fn service_paths_go_below_the_repository_with_or_without_a_trailing_slash() {
        for base in ["https://host/org/app.git", "https://host/org/app.git/"] {
            assert_eq!(
                join(&url(base), "info/refs?service=git-upload-pack")
                    .expect("url")
                    .as_str(),
                "https://host/org/app.git/info/refs?service=git-upload-pack"
            );
        }
    }

    #[test]
    fn credentials_stay_on_the_remotes_scheme_host_and_port() {
        let remote = url("https://host/org/app.git");
        assert!(same_origin(&url("https://host/other/info/refs"), &remote));
        assert!(!same_origin(&url("http://host/org/app.git"), &remote));
        assert!(!same_origin(&url("https://host:8443/org/app.git"), &remote));
        assert!(!same_origin(&url("https://elsewhere/org/app.git"), &remote));
    }

    #[test]
    fn the_token_of_an_operation_is_set_on_its_thread_only_while_it_runs() {
        let token = Secret::new("ghs_x");
        {
            let _outer = Credentials::set(Some(&token));
            assert_eq!(TOKEN.with_borrow(Clone::clone), Some(token.clone()));
            std::thread::spawn(|| assert_eq!(TOKEN.with_borrow(Clone::clone), None))
                .join()
                .expect("thread");
            {
                let _inner = Credentials::set(None);
                assert_eq!(TOKEN.with_borrow(Clone::clone), None);
            }
            assert_eq!(TOKEN.with_borrow(Clone::clone), Some(token.clone()));
        }
        assert_eq!(TOKEN.with_borrow(Clone::clone), None);
    }
}
