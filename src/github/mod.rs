//! Owns talking to GitHub's REST API, with only the verbs the promote plan needs: read the repository, a
//! branch tip, a commit and a file; write a commit through the Git Data API (so GitHub signs it "Verified"
//! and no push credentials are needed), create or move a branch; find, open and update a pull request, add
//! labels and request reviewers. Nothing here touches git, a registry or local files.
//!
//! `octocrab` is the client: its typed methods where its models parse GitHub's answers and its builders
//! send what the description declares (the repository, pull requests, labels, blobs, commits;
//! `tests/fixtures/github/` holds the description's examples and required-fields-only answers they are
//! tested against), its raw `_get`/`_post`/`_patch` where a path, a body or a model does not fit (refs,
//! trees, contents, reviewers, the pull request update; each place says why). It runs on the project's one `reqwest`
//! (`build_with_reqwest`-style leaf service), without octocrab's own retry layer: that layer cannot read
//! `Retry-After` or `x-ratelimit-reset`, so the one loop in [`Client::send`] does retries for every call.
//!
//! This file is the transport (the client, its one retry loop, raw requests, redaction); the verbs live in
//! `repos.rs`, `pulls.rs` and `releases.rs`, the error mapping in `errors.rs`.
//!
//! A blocking API over a private current-thread runtime, like `registry`, so the synchronous planner and
//! executor call it directly; progress lines are drained by the caller.

mod checks;
mod errors;
mod pulls;
mod releases;
mod repos;
mod retry;
mod statuses;

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use octocrab::service::middleware::auth_header::AuthHeaderLayer;
use octocrab::service::middleware::base_uri::BaseUriLayer;
use octocrab::service::middleware::extra_headers::ExtraHeadersLayer;
use octocrab::service::middleware::reqwest_connector::ReqwestConnector;
use octocrab::{AuthState, Octocrab, OctocrabBuilder};
use reqwest::header::{ACCEPT, HeaderMap, HeaderValue, USER_AGENT};
use serde::{Deserialize, Serialize};

use crate::error::{Error, InputProblem, Kind, Result};
use crate::inputs::Secret;
pub use checks::{CheckRun, CommitStatus};
pub use errors::workflow_token_notice;
use errors::{Answer, Need, Op};
use retry::Verdict;
pub use statuses::NewStatus;

/// GitHub.com's REST API; GHES serves it under `https://HOST/api/v3`.
pub const DEFAULT_API_URL: &str = "https://api.github.com";
/// Sent on every request, as GitHub asks (Prism answers 406 to the first value alone).
pub const ACCEPT_VALUE: &str = "application/vnd.github+json, application/json";
/// The REST API version every request asks for. octocrab adds this header itself (from its
/// `package.metadata.github-api`); the integration tests check that it arrives exactly once.
pub const API_VERSION: &str = "2022-11-28";
pub const USER_AGENT_VALUE: &str = concat!("gitops-promote/", env!("CARGO_PKG_VERSION"));

/// Where the client talks to, as whom, and how patiently.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `GITHUB_API_URL`: `https://api.github.com`, or GHES's `https://HOST/api/v3`.
    pub api_url: String,
    pub token: Option<Secret>,
    pub owner: String,
    pub repo: String,
    /// Attempts per request, the first included, for 5xx, rate limits and broken connections.
    pub max_attempts: u32,
    /// The first backoff; doubled per attempt, with jitter, capped at 8 s.
    pub base_delay: Duration,
    /// The longest single wait this run accepts for `Retry-After` or a rate-limit reset; a longer one fails
    /// at once, saying when to come back.
    pub max_wait: Duration,
    /// Every request of the run together must finish within this time from the client's creation.
    pub timeout: Duration,
}

impl Settings {
    /// Defaults for everything but the repository: GitHub.com, no token, 5 attempts from 500 ms, waits of
    /// up to 60 s, 300 s in all.
    pub fn new(owner: impl Into<String>, repo: impl Into<String>) -> Self {
        Self {
            api_url: DEFAULT_API_URL.to_string(),
            token: None,
            owner: owner.into(),
            repo: repo.into(),
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_wait: Duration::from_secs(60),
            timeout: Duration::from_secs(300),
        }
    }
}

impl Settings {
    /// The settings of a workflow run: `GITHUB_API_URL`, the `github-token` input and `GITHUB_REPOSITORY`.
    pub fn for_run(
        api_url: &str,
        token: Option<Secret>,
        repository: &str,
    ) -> Result<Self, InputProblem> {
        let (owner, repo) = parse_repository(repository)?;
        Ok(Self {
            api_url: api_url.to_string(),
            token,
            ..Self::new(owner, repo)
        })
    }
}

/// `owner/name` (`GITHUB_REPOSITORY`) → its two parts.
///
/// ```
/// use gitops_promote::github::parse_repository;
/// assert_eq!(parse_repository("octo-org/app.gitops").unwrap(), ("octo-org".into(), "app.gitops".into()));
/// assert!(parse_repository("app").is_err() && parse_repository("a/b/c").is_err() && parse_repository("a/..").is_err());
/// ```
pub fn parse_repository(s: &str) -> Result<(String, String), InputProblem> {
    let problem = |why: &str| {
        InputProblem::new("GITHUB_REPOSITORY", format!("`{s}` {why}"))
            .help("give the repository as `owner/name`, e.g. `octo-org/gitops` (Actions sets `GITHUB_REPOSITORY` itself)")
    };
    let (owner, name) = s
        .trim()
        .split_once('/')
        .ok_or_else(|| problem("is not `owner/name`"))?;
    // GitHub's names: letters, digits, `-` (owners), plus `.` and `_` (repositories); `.`/`..` are not names.
    let owner_ok = !owner.is_empty()
        && owner
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    let name_ok = !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !owner_ok || !name_ok {
        return Err(problem(
            "is not `owner/name` (letters, digits, `-`, `_`, and `.` in the name)",
        ));
    }
    Ok((owner.to_string(), name.to_string()))
}

/// The repository, as far as promotion cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repository {
    pub full_name: String,
    pub default_branch: String,
    pub html_url: String,
}

/// A commit object of the Git Data API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GitCommit {
    pub sha: String,
    /// The commit's tree.
    pub tree: String,
    pub parents: Vec<String>,
    pub message: String,
}

/// A file at a ref: its text and the blob it is stored in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct File {
    pub text: String,
    pub blob_sha: String,
}

/// A pull request, as far as promotion cares.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pull {
    pub number: u64,
    pub html_url: String,
    pub title: String,
    pub body: String,
    pub draft: bool,
    pub labels: Vec<String>,
    /// Logins.
    pub requested_reviewers: Vec<String>,
    /// Team slugs.
    pub requested_teams: Vec<String>,
    pub head_sha: String,
    /// The branch it merges into.
    pub base: String,
    /// The repository's default branch, as the answer's base repository says (every pull request answer carries
    /// it, so a run that found one needs no read of the repository).
    pub default_branch: Option<String>,
    /// `open` or `closed`.
    pub state: String,
}

/// A branch's tip as `GET /branches/{branch}` reports it: the commit and the commit's tree (a new commit on the
/// tip is written on that tree, so no second read is needed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BranchTip {
    pub sha: String,
    pub tree: String,
}

/// A head branch compared with a base commit (`GET /compare/{base}...{head}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Comparison {
    pub ahead_by: u64,
    pub behind_by: u64,
    /// The head's tip; `None` only when it is ahead by more commits than the answer lists.
    pub head_sha: Option<String>,
    /// The commits on the head that the base lacks, as listed (up to 250): each SHA with its parents.
    pub commits: Vec<(String, Vec<String>)>,
    /// The files that differ between the merge base and the head.
    pub files: Vec<ChangedFile>,
}

/// One file of a [`Comparison`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChangedFile {
    pub filename: String,
    /// `added`, `modified`, `removed`, …
    pub status: String,
    /// The file's blob at the head (`None` when GitHub leaves it out).
    pub blob_sha: Option<String>,
}

/// A pull request to open: `head` is a branch of this repository.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewPull {
    pub title: String,
    pub head: String,
    pub base: String,
    pub body: String,
    pub draft: bool,
}

/// How moving a branch went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RefUpdate {
    Updated,
    /// The branch moved since it was read (422 "Update is not a fast forward"): re-read and re-apply.
    NotFastForward,
}

/// Percent-encodes one path segment (everything but RFC 3986's unreserved characters), so a branch
/// `promote/prod` becomes `promote%2Fprod` inside `heads%2F…`.
///
/// ```
/// use gitops_promote::github::encode_segment;
/// assert_eq!(encode_segment("heads/promote/prod"), "heads%2Fpromote%2Fprod");
/// assert_eq!(encode_segment("a b#?%"), "a%20b%23%3F%25");
/// ```
pub fn encode_segment(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A repository file path for `/contents/{path}`: each segment encoded, the `/` between them kept.
///
/// ```
/// use gitops_promote::github::encode_path;
/// assert_eq!(encode_path("/flux/apps/my app/kustomization.yaml"), "flux/apps/my%20app/kustomization.yaml");
/// ```
pub fn encode_path(path: &str) -> String {
    path.trim_matches('/')
        .split('/')
        .map(encode_segment)
        .collect::<Vec<_>>()
        .join("/")
}

/// Why a call did not return a value.
enum Failure {
    /// GitHub answered with an error retrying can't fix (or the attempts ran out): the caller decides
    /// (a 404 may be "absent").
    Answer(Answer),
    /// Already a final error (timeout, unreachable, an answer that can't be read).
    Final(Error),
}

impl Failure {
    fn status(&self) -> Option<u16> {
        match self {
            Failure::Answer(a) => Some(a.status),
            Failure::Final(_) => None,
        }
    }

    fn into_error(self, op: &Op) -> Error {
        match self {
            Failure::Answer(a) => errors::describe(op, &a),
            Failure::Final(e) => e,
        }
    }
}

// Wire shapes of the raw calls: only the fields used, so an answer that follows the description is read
// whatever else it carries.
#[derive(Deserialize)]
struct RefAnswer {
    object: RefObject,
}

#[derive(Deserialize)]
struct RefObject {
    sha: String,
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct ShaAnswer {
    sha: String,
}

/// `GET /branches/{branch}` and the commits of a comparison: a commit with its tree and parents.
#[derive(Deserialize)]
struct CommitAnswer {
    sha: String,
    commit: CommitTree,
    #[serde(default)]
    parents: Vec<ShaAnswer>,
}

#[derive(Deserialize)]
struct CommitTree {
    tree: ShaAnswer,
}

#[derive(Deserialize)]
struct BranchAnswer {
    commit: CommitAnswer,
}

#[derive(Deserialize)]
struct CompareAnswer {
    base_commit: CommitAnswer,
    merge_base_commit: CommitAnswer,
    ahead_by: u64,
    behind_by: u64,
    #[serde(default)]
    commits: Vec<CommitAnswer>,
    #[serde(default)]
    files: Vec<DiffEntry>,
}

#[derive(Deserialize)]
struct DiffEntry {
    filename: String,
    status: String,
    #[serde(default)]
    sha: Option<String>,
}

#[derive(Deserialize)]
struct ContentAnswer {
    #[serde(rename = "type")]
    kind: String,
    sha: String,
    #[serde(default)]
    content: Option<String>,
    #[serde(default)]
    encoding: Option<String>,
}

#[derive(Deserialize)]
struct BlobAnswer {
    content: String,
    encoding: String,
}

#[derive(Serialize)]
struct NewTree<'a> {
    base_tree: &'a str,
    tree: Vec<TreeEntry<'a>>,
}

#[derive(Serialize)]
struct TreeEntry<'a> {
    path: &'a str,
    /// A string, as the description has it (`644` or a number is refused).
    mode: &'static str,
    #[serde(rename = "type")]
    kind: &'static str,
    /// The new text itself: GitHub writes the blob while it writes the tree, one request fewer per file than a
    /// blob of its own.
    content: &'a str,
}

#[derive(Serialize)]
struct NewRef<'a> {
    #[serde(rename = "ref")]
    name: String,
    sha: &'a str,
}

#[derive(Serialize)]
struct RefPatch<'a> {
    sha: &'a str,
    /// Sent only when true: without it GitHub refuses a move that is not a fast forward.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    force: bool,
}

#[derive(Serialize)]
struct PullPatch<'a> {
    title: &'a str,
    body: &'a str,
}

#[derive(Serialize)]
struct ReviewRequest<'a> {
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    reviewers: &'a [String],
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    team_reviewers: &'a [String],
}

#[derive(Deserialize)]
struct ReleaseAnswer {
    id: u64,
    tag_name: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    body: Option<String>,
    html_url: String,
}

impl From<ReleaseAnswer> for Release {
    fn from(r: ReleaseAnswer) -> Self {
        Release {
            id: r.id,
            tag_name: r.tag_name,
            name: r.name.unwrap_or_default(),
            body: r.body.unwrap_or_default(),
            html_url: r.html_url,
        }
    }
}

#[derive(Serialize)]
struct ReleaseWrite<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    tag_name: Option<&'a str>,
    name: &'a str,
    body: &'a str,
    /// A string enum in the description (`"true"`, `"false"`, `"legacy"`), not a boolean.
    make_latest: &'static str,
}

/// A published GitHub release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    pub name: String,
    pub body: String,
    pub html_url: String,
}

/// A release to publish on an existing tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRelease {
    pub tag_name: String,
    pub name: String,
    pub body: String,
    /// Mark it the repository's latest release.
    pub latest: bool,
}

/// Pages `find_pull` follows at most; with the `head` filter there is one page.
const MAX_PAGES: usize = 50;

/// A GitHub client for one run.
pub struct Client {
    rt: tokio::runtime::Runtime,
    octocrab: Octocrab,
    settings: Settings,
    deadline: Instant,
    requests: AtomicU64,
    progress: Mutex<Vec<String>>,
    /// The tree of every commit read this run, by commit SHA (immutable, so never stale): a commit written on a
    /// tip read earlier needs no read of that tip's commit.
    trees: Mutex<HashMap<String, String>>,
}

impl Client {
    pub fn new(settings: Settings) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::new(Kind::Io, format!("can't start the async runtime: {e}")))?;
        let api_url = settings.api_url.trim_end_matches('/').to_string();
        // Named in errors without any credentials it might carry.
        let shown = match reqwest::Url::parse(&api_url) {
            Ok(mut url) => {
                let _ = url.set_username("");
                let _ = url.set_password(None);
                format!("`{url}`")
            }
            Err(_) if api_url.contains('@') => "the value".to_string(),
            Err(_) => format!("`{api_url}`"),
        };
        let bad_url = |why: String| {
            Error::input(
                InputProblem::new(
                    "GITHUB_API_URL",
                    format!("{shown} is not an API URL: {why}"),
                )
                .help("leave it unset for GitHub.com, or give GHES's `https://HOST/api/v3`"),
            )
        };
        let parsed = reqwest::Url::parse(&api_url).map_err(|e| bad_url(e.to_string()))?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
            return Err(bad_url("it needs an http(s) scheme and a host".into()));
        }
        if parsed.query().is_some() || !parsed.username().is_empty() || parsed.password().is_some()
        {
            return Err(bad_url("it may carry no query and no credentials".into()));
        }
        let base: http::Uri = match api_url.parse() {
            Ok(uri) => uri,
            Err(e) => return Err(bad_url(format!("{e}"))),
        };
        let auth = match &settings.token {
            Some(token) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {}", token.expose()))
                    .map_err(|_| {
                        Error::input(InputProblem::new(
                            "github-token",
                            "the token has characters an HTTP header can't carry (a line break?)",
                        ))
                    })?;
                value.set_sensitive(true);
                Some(value)
            }
            None => None,
        };
        let tls = crate::tls::client_config()
            .map_err(|e| Error::new(Kind::Io, format!("can't set up TLS: {e}")))?;
        let http = reqwest::Client::builder()
            // The roots are read on the first certificate to verify, not here (see crate::tls).
            .tls_backend_preconfigured(tls)
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(30))
            // A redirect could carry the Authorization header to another host; GitHub's API answers
            // renamed repositories with 301, which is reported, not followed.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| Error::new(Kind::Io, format!("can't build the HTTP client: {e}")))?;
        let headers = vec![
            (USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE)),
            (ACCEPT, HeaderValue::from_static(ACCEPT_VALUE)),
        ];
        // octocrab's buffer spawns its worker on the runtime it is built in.
        let octocrab = {
            let _inside = rt.enter();
            // The custom-service build: no default `User-Agent: octocrab` to duplicate ours, no retry layer
            // that can't read rate-limit headers, no HTTP cache. The Authorization header is added only to
            // requests for the API base (every path here is relative to it).
            OctocrabBuilder::new_empty()
                .with_service(ReqwestConnector::new(http))
                .with_layer(&BaseUriLayer::new(base.clone()))
                .with_layer(&ExtraHeadersLayer::new(std::sync::Arc::new(headers)))
                .with_layer(&AuthHeaderLayer::new(auth, base.clone(), base))
                .with_auth(AuthState::None)
                .build()
                .map_err(|e| Error::new(Kind::Io, format!("can't build the GitHub client: {e}")))?
        };
        Ok(Self {
            rt,
            octocrab,
            deadline: Instant::now() + settings.timeout,
            settings: Settings {
                api_url,
                ..settings
            },
            requests: AtomicU64::new(0),
            progress: Mutex::default(),
            trees: Mutex::default(),
        })
    }

    /// HTTP requests sent so far, retries included.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Progress lines (retries and waits) for the caller to log. Drains.
    pub fn take_progress(&self) -> Vec<String> {
        std::mem::take(&mut *lock(&self.progress))
    }

    /// Runs `reads` (several of the `*_async` reads, joined) to completion on the client's runtime: how a caller
    /// sends independent reads at once. No error leaves with the token in it.
    pub fn block_on<T>(&self, reads: impl Future<Output = Result<T>>) -> Result<T> {
        self.run(reads)
    }

    fn owner(&self) -> &str {
        &self.settings.owner
    }

    fn repo(&self) -> &str {
        &self.settings.repo
    }

    fn repo_path(&self) -> String {
        format!(
            "/repos/{}/{}",
            encode_segment(self.owner()),
            encode_segment(self.repo())
        )
    }

    fn op(&self, what: String, method: &'static str, path: String, need: Need) -> Op {
        Op {
            what,
            method,
            path,
            need,
            repository: false,
        }
    }

    fn note(&self, line: String) {
        let line = self.redact(line);
        lock(&self.progress).push(line);
    }

    /// Blocks on `fut`; no error leaves with the token in it, whatever a server echoed.
    fn run<T>(&self, fut: impl Future<Output = Result<T>>) -> Result<T> {
        self.rt.block_on(fut).map_err(|mut e| {
            e.message = self.redact(e.message);
            e.help = e.help.map(|h| self.redact(h));
            e
        })
    }

    fn redact(&self, s: String) -> String {
        match &self.settings.token {
            Some(t) if !t.expose().is_empty() && s.contains(t.expose()) => {
                s.replace(t.expose(), "***")
            }
            _ => s,
        }
    }

    /// One raw request's body text; a failure status becomes octocrab's GitHub error (with headers), like
    /// the typed calls, so [`Client::send`] treats both alike.
    async fn raw_get(&self, path: &str) -> octocrab::Result<String> {
        let resp = self.octocrab._get(path).await?;
        let resp = octocrab::map_github_error(resp).await?;
        self.octocrab.body_to_string(resp).await
    }

    async fn raw_post<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> octocrab::Result<String> {
        let resp = self.octocrab._post(path, Some(body)).await?;
        let resp = octocrab::map_github_error(resp).await?;
        self.octocrab.body_to_string(resp).await
    }

    async fn raw_patch<B: Serialize + ?Sized>(
        &self,
        path: &str,
        body: &B,
    ) -> octocrab::Result<String> {
        let resp = self.octocrab._patch(path, Some(body)).await?;
        let resp = octocrab::map_github_error(resp).await?;
        self.octocrab.body_to_string(resp).await
    }

    fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Sends one logical request: retries 5xx and broken connections with backoff, honours `Retry-After`
    /// and a used-up rate limit's reset when the wait is within `max_wait`, never past the attempts or the
    /// run's deadline, and logs each retry as a progress line. Other failures return at once.
    async fn send<T, F, Fut>(&self, op: &Op, call: F) -> Result<T, Failure>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = octocrab::Result<T>>,
    {
        let max = self.settings.max_attempts.max(1);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let remaining = self.remaining();
            if remaining.is_zero() {
                return Err(Failure::Final(self.out_of_time(op, None)));
            }
            self.requests.fetch_add(1, Ordering::Relaxed);
            let outcome = match tokio::time::timeout(remaining, call()).await {
                Ok(outcome) => outcome,
                Err(_) => return Err(Failure::Final(self.out_of_time(op, None))),
            };
            let now = SystemTime::now();
            let (verdict, last, answer) = match outcome {
                Ok(value) => return Ok(value),
                Err(octocrab::Error::GitHub { source, .. }) => {
                    let answer = Answer::from_octocrab(&source);
                    let empty = HeaderMap::new();
                    let headers = source.headers.as_ref().unwrap_or(&empty);
                    let verdict = retry::classify(answer.status, headers, &answer.message, now);
                    if verdict == Verdict::Final {
                        return Err(Failure::Answer(answer));
                    }
                    (
                        verdict,
                        format!("GitHub answered {}", answer.status),
                        Some(answer),
                    )
                }
                Err(e) if is_transport(&e) => (
                    Verdict::Backoff,
                    format!("GitHub could not be reached ({})", chain(&e)),
                    None,
                ),
                Err(e) => {
                    return Err(Failure::Final(Error::new(
                        Kind::Upstream,
                        format!(
                            "can't {}: {} {} failed: {}",
                            op.what,
                            op.method,
                            op.path,
                            chain(&e)
                        ),
                    )));
                }
            };
            let (wait, why) = match &verdict {
                Verdict::Wait { wait, why } => (*wait, format!(" ({why} {})", retry::human(*wait))),
                Verdict::Reset { at } => (
                    retry::until_reset(*at, now),
                    format!(" (rate limit used up until {})", retry::utc(*at)),
                ),
                _ => (
                    retry::backoff(self.settings.base_delay, attempt),
                    String::new(),
                ),
            };
            if wait > self.settings.max_wait {
                return Err(Failure::Final(
                    self.wait_too_long(op, &verdict, wait, answer),
                ));
            }
            if attempt >= max {
                return Err(Failure::Final(match answer {
                    Some(a) => {
                        let mut e = errors::describe(op, &a);
                        e.message
                            .push_str(&format!(" (gave up after {attempt} attempts)"));
                        e
                    }
                    None => Error::new(
                        Kind::Upstream,
                        format!(
                            "can't {}: {last} for {} {}; gave up after {attempt} attempts",
                            op.what, op.method, op.path
                        ),
                    )
                    .with_help(format!(
                        "check that `GITHUB_API_URL` ({}) is reachable from the runner, then rerun",
                        self.settings.api_url
                    )),
                }));
            }
            if wait >= self.remaining() {
                let mut e = self.out_of_time(op, Some(&format!("{last}{why}")));
                if let Some(a) = answer {
                    e.message
                        .push_str(&format!(": {}", errors::message(op, &a)));
                }
                return Err(Failure::Final(e));
            }
            self.note(format!(
                "{last}{why} on {} {}; retry {}/{max} in {}",
                op.method,
                op.path,
                attempt + 1,
                retry::human(wait)
            ));
            tokio::time::sleep(wait).await;
        }
    }

    fn out_of_time(&self, op: &Op, last: Option<&str>) -> Error {
        let secs = self.settings.timeout.as_secs();
        let message = match last {
            Some(last) => format!(
                "can't {}: {last} for {} {}, and the {secs}s this run allows for GitHub leave no time to retry",
                op.what, op.method, op.path
            ),
            None => format!(
                "can't {}: no answer to {} {} within the {secs}s this run allows for GitHub",
                op.what, op.method, op.path
            ),
        };
        Error::new(Kind::Upstream, message)
            .with_help("rerun later (a rerun picks up where this one stopped)")
    }

    fn wait_too_long(
        &self,
        op: &Op,
        verdict: &Verdict,
        wait: Duration,
        answer: Option<Answer>,
    ) -> Error {
        let limit = retry::human(self.settings.max_wait);
        let said = answer
            .map(|a| format!(": {}", errors::message(op, &a)))
            .unwrap_or_default();
        match verdict {
            Verdict::Reset { at } => Error::new(
                Kind::Upstream,
                format!(
                    "can't {}: the token's GitHub API rate limit is used up until {} ({} from now, longer than the {limit} this run waits){said}",
                    op.what,
                    retry::utc(*at),
                    retry::human(wait)
                ),
            )
            .with_help(format!(
                "rerun after {}, or pass a token with its own rate limit (a GitHub App installation token) as `github-token`",
                retry::utc(*at)
            )),
            _ => Error::new(
                Kind::Upstream,
                format!(
                    "can't {}: GitHub asked to wait {} before retrying (a secondary rate limit), longer than the {limit} this run waits{said}",
                    op.what,
                    retry::human(wait)
                ),
            )
            .with_help("rerun later; GitHub's secondary limits punish bursts of writes, so avoid running many promotions at once (a `concurrency:` group)"),
        }
    }
}

fn pull_from(p: octocrab::models::pulls::PullRequest) -> Pull {
    let state = p
        .state
        .and_then(|s| serde_json::to_value(s).ok())
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    Pull {
        number: p.number,
        html_url: p.html_url.map(|u| u.to_string()).unwrap_or_default(),
        title: p.title.unwrap_or_default(),
        body: p.body.unwrap_or_default(),
        draft: p.draft.unwrap_or(false),
        labels: p
            .labels
            .unwrap_or_default()
            .into_iter()
            .map(|l| l.name)
            .collect(),
        requested_reviewers: p
            .requested_reviewers
            .unwrap_or_default()
            .into_iter()
            .map(|u| u.login)
            .collect(),
        requested_teams: p
            .requested_teams
            .unwrap_or_default()
            .into_iter()
            .map(|t| t.slug)
            .collect(),
        head_sha: p.head.sha,
        default_branch: p.base.repo.and_then(|r| r.default_branch),
        base: p.base.ref_field,
        state,
    }
}

fn parse<T: serde::de::DeserializeOwned>(op: &Op, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        Error::new(
            Kind::Upstream,
            format!(
                "can't {}: GitHub's answer to {} {} can't be read: {e}",
                op.what, op.method, op.path
            ),
        )
    })
}

/// A broken connection or timeout, worth another attempt; not a request we failed to build.
fn is_transport(e: &octocrab::Error) -> bool {
    match e {
        octocrab::Error::Reqwest { source, .. } => !source.is_builder(),
        octocrab::Error::Hyper { .. } | octocrab::Error::Service { .. } => true,
        _ => false,
    }
}

/// An error with its causes, on one line.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !s.contains(&text) {
            s.push_str(": ");
            s.push_str(&text);
        }
        source = cause.source();
    }
    errors::one_line(&s)
}

/// GitHub's base64 (RFC 4648 with line breaks).
fn decode_base64(s: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let clean: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
