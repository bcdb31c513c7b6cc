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
//! A blocking API over a private current-thread runtime, like `registry`, so the synchronous planner and
//! executor call it directly; progress lines are drained by the caller.

mod errors;
mod retry;

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
pub use errors::workflow_token_notice;
use errors::{Answer, Need, Op};
use retry::Verdict;

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

    /// The repository: its full name, default branch and page.
    pub fn repository(&self) -> Result<Repository> {
        self.run(self.repository_async())
    }

    /// [`Client::repository`], to join with other reads in [`Client::block_on`].
    pub async fn repository_async(&self) -> Result<Repository> {
        let (o, r) = (self.owner(), self.repo());
        let op = Op {
            what: format!("read repository {o}/{r}"),
            method: "GET",
            path: format!("/repos/{o}/{r}"),
            need: Need::Read,
            repository: true,
        };
        let repo = self
            .send(&op, || async move { self.octocrab.repos(o, r).get().await })
            .await
            .map_err(|f| f.into_error(&op))?;
        let default_branch = repo.default_branch.ok_or_else(|| {
            Error::new(
                Kind::Upstream,
                format!("can't {}: the answer has no `default_branch`", op.what),
            )
        })?;
        Ok(Repository {
            full_name: repo.full_name.unwrap_or_else(|| format!("{o}/{r}")),
            default_branch,
            html_url: repo.html_url.map(|u| u.to_string()).unwrap_or_default(),
        })
    }

    /// The tip of `branch` and its tree, or `None` when there is no such branch. One request, like
    /// [`Client::branch_tip`]; the tree is remembered for a commit written on this tip.
    pub fn branch(&self, branch: &str) -> Result<Option<BranchTip>> {
        self.run(self.branch_async(branch))
    }

    /// [`Client::branch`], to join with other reads in [`Client::block_on`].
    pub async fn branch_async(&self, branch: &str) -> Result<Option<BranchTip>> {
        let op = self.op(
            format!("read branch {branch}"),
            "GET",
            format!("{}/branches/{}", self.repo_path(), encode_segment(branch)),
            Need::Read,
        );
        // Raw: only the commit and its tree are needed, whatever else the answer (protection, links) carries.
        match self.send(&op, || self.raw_get(&op.path)).await {
            Ok(text) => {
                let answer: BranchAnswer = parse(&op, &text)?;
                let commit = answer.commit;
                self.remember_tree(&commit);
                Ok(Some(BranchTip {
                    sha: commit.sha,
                    tree: commit.commit.tree.sha,
                }))
            }
            Err(f) if f.status() == Some(404) => Ok(None),
            Err(f) => Err(f.into_error(&op)),
        }
    }

    /// `head_branch` compared with the commit `base`: what the branch adds (its commits and the files they
    /// change), or `None` when there is no such branch. One request answers both "does the branch exist" and
    /// "does it already hold this change".
    pub fn compare(&self, base: &str, head_branch: &str) -> Result<Option<Comparison>> {
        self.run(self.compare_async(base, head_branch))
    }

    /// [`Client::compare`], to join with other reads in [`Client::block_on`].
    pub async fn compare_async(&self, base: &str, head_branch: &str) -> Result<Option<Comparison>> {
        let op = self.op(
            format!("compare branch {head_branch} with {base}"),
            "GET",
            format!(
                "{}/compare/{}",
                self.repo_path(),
                encode_segment(&format!("{base}...{head_branch}"))
            ),
            Need::Read,
        );
        // Raw: octocrab's comparison model requires fields the description does not.
        let text = match self.send(&op, || self.raw_get(&op.path)).await {
            Ok(text) => text,
            Err(f) if f.status() == Some(404) => return Ok(None),
            Err(f) => return Err(f.into_error(&op)),
        };
        let answer: CompareAnswer = parse(&op, &text)?;
        self.remember_tree(&answer.base_commit);
        self.remember_tree(&answer.merge_base_commit);
        for commit in &answer.commits {
            self.remember_tree(commit);
        }
        // Not ahead: the head is the merge base. Ahead: the last commit listed, when the list is complete.
        let head_sha = if answer.ahead_by == 0 {
            Some(answer.merge_base_commit.sha.clone())
        } else if answer.commits.len() as u64 == answer.ahead_by {
            answer.commits.last().map(|c| c.sha.clone())
        } else {
            None
        };
        Ok(Some(Comparison {
            ahead_by: answer.ahead_by,
            behind_by: answer.behind_by,
            head_sha,
            commits: answer
                .commits
                .into_iter()
                .map(|c| (c.sha, c.parents.into_iter().map(|p| p.sha).collect()))
                .collect(),
            files: answer
                .files
                .into_iter()
                .map(|f| ChangedFile {
                    filename: f.filename,
                    status: f.status,
                    blob_sha: f.sha.filter(|s| !s.is_empty()),
                })
                .collect(),
        }))
    }

    fn remember_tree(&self, commit: &CommitAnswer) {
        lock(&self.trees).insert(commit.sha.clone(), commit.commit.tree.sha.clone());
    }

    /// The commit `branch` points at, or `None` when there is no such branch.
    pub fn branch_tip(&self, branch: &str) -> Result<Option<String>> {
        let path = format!(
            "{}/git/ref/{}",
            self.repo_path(),
            encode_segment(&format!("heads/{branch}"))
        );
        let op = self.op(format!("read branch {branch}"), "GET", path, Need::Read);
        self.run(async {
            // Raw: octocrab's `get_ref` puts `heads/{branch}` in the path unencoded, and GitHub's description
            // matches `{ref}` only with the slash sent as `%2F`.
            match self.send(&op, || self.raw_get(&op.path)).await {
                Ok(text) => {
                    let answer: RefAnswer = parse(&op, &text)?;
                    if answer.object.kind != "commit" {
                        return Err(Error::new(
                            Kind::Upstream,
                            format!(
                                "can't {}: refs/heads/{branch} points at a {}, not a commit",
                                op.what, answer.object.kind
                            ),
                        ));
                    }
                    Ok(Some(answer.object.sha))
                }
                Err(f) if f.status() == Some(404) => Ok(None),
                Err(f) => Err(f.into_error(&op)),
            }
        })
    }

    /// A commit object: its tree, parents and message.
    pub fn commit(&self, sha: &str) -> Result<GitCommit> {
        let op = self.op(
            format!("read commit {sha}"),
            "GET",
            format!("{}/git/commits/{}", self.repo_path(), encode_segment(sha)),
            Need::Read,
        );
        self.run(self.commit_async(&op, sha))
    }

    /// The text of `path` at `git_ref` (a branch, tag or SHA), or `None` when it does not exist there.
    pub fn file(&self, path: &str, git_ref: &str) -> Result<Option<File>> {
        self.run(self.file_async(path, git_ref))
    }

    /// [`Client::file`], to join with other reads in [`Client::block_on`].
    pub async fn file_async(&self, path: &str, git_ref: &str) -> Result<Option<File>> {
        let op = self.op(
            format!("read {path} at {git_ref}"),
            "GET",
            format!(
                "{}/contents/{}?ref={}",
                self.repo_path(),
                encode_path(path),
                encode_segment(git_ref)
            ),
            Need::Read,
        );
        // Raw: the path is encoded here segment by segment, and an answer for a file over 1 MB (no
        // content, `encoding: none`) is followed to its blob.
        let text = match self.send(&op, || self.raw_get(&op.path)).await {
            Ok(text) => text,
            Err(f) if f.status() == Some(404) => return Ok(None),
            Err(f) => return Err(f.into_error(&op)),
        };
        let value: serde_json::Value = parse(&op, &text)?;
        if value.is_array() {
            return Err(Error::new(
                Kind::Input,
                format!("can't {}: {path} is a directory, not a file", op.what),
            ));
        }
        let answer: ContentAnswer = parse(&op, &text)?;
        if answer.kind != "file" {
            return Err(Error::new(
                Kind::Input,
                format!("can't {}: {path} is a {}, not a file", op.what, answer.kind),
            ));
        }
        let (content, encoding) = match (answer.content, answer.encoding.as_deref()) {
            (Some(content), Some("base64")) => (content, "base64".to_string()),
            _ => {
                let blob_op = self.op(
                    format!("read {path} at {git_ref} (blob {})", answer.sha),
                    "GET",
                    format!(
                        "{}/git/blobs/{}",
                        self.repo_path(),
                        encode_segment(&answer.sha)
                    ),
                    Need::Read,
                );
                let text = self
                    .send(&blob_op, || self.raw_get(&blob_op.path))
                    .await
                    .map_err(|f| f.into_error(&blob_op))?;
                let blob: BlobAnswer = parse(&blob_op, &text)?;
                (blob.content, blob.encoding)
            }
        };
        let bytes = match encoding.as_str() {
            "base64" => decode_base64(&content).ok_or_else(|| {
                Error::new(
                    Kind::Upstream,
                    format!("can't {}: the content is not valid base64", op.what),
                )
            })?,
            "utf-8" => content.into_bytes(),
            other => {
                return Err(Error::new(
                    Kind::Upstream,
                    format!("can't {}: unknown content encoding `{other}`", op.what),
                ));
            }
        };
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::new(
                Kind::Input,
                format!("can't {}: {path} is not UTF-8 text", op.what),
            )
        })?;
        Ok(Some(File {
            text,
            blob_sha: answer.sha,
        }))
    }

    /// Writes `files` (path → full new content) on top of `parent` as one new commit and returns its SHA:
    /// a tree on the parent's tree carrying each file's text (mode `100644`; GitHub stores the blobs), and a
    /// commit with parent `parent` and no author or committer, so GitHub authors it as the token's identity and
    /// signs it. The parent's tree is read only when this run has not seen it (a tip read with
    /// [`Client::branch`] or [`Client::compare`] already gave it). Moves no branch.
    pub fn create_commit(
        &self,
        parent: &str,
        files: &[(String, String)],
        message: &str,
    ) -> Result<String> {
        let repo_path = self.repo_path();
        let (o, r) = (self.owner(), self.repo());
        self.run(async {
            let known = lock(&self.trees).get(parent).cloned();
            let base_tree = match known {
                Some(tree) => tree,
                None => {
                    let parent_op = self.op(
                        format!("read commit {parent}"),
                        "GET",
                        format!("{repo_path}/git/commits/{}", encode_segment(parent)),
                        Need::Read,
                    );
                    self.commit_async(&parent_op, parent).await?.tree
                }
            };

            let tree_op = self.op(
                format!("write the tree for {} changed file(s)", files.len()),
                "POST",
                format!("{repo_path}/git/trees"),
                Need::Contents,
            );
            let tree = NewTree {
                base_tree: &base_tree,
                tree: files
                    .iter()
                    .map(|(path, content)| TreeEntry {
                        path: path.trim_start_matches('/'),
                        mode: "100644",
                        kind: "blob",
                        content,
                    })
                    .collect(),
            };
            // Raw: octocrab's tree model requires the answer's `url`, which the description does not;
            // only the new tree's SHA is needed.
            let text = self
                .send(&tree_op, || self.raw_post(&tree_op.path, &tree))
                .await
                .map_err(|f| f.into_error(&tree_op))?;
            let tree_sha = parse::<ShaAnswer>(&tree_op, &text)?.sha;

            let commit_op = self.op(
                format!("write the commit on {parent}"),
                "POST",
                format!("{repo_path}/git/commits"),
                Need::Contents,
            );
            let tree_sha = tree_sha.as_str();
            let commit = self
                .send(&commit_op, || async move {
                    self.octocrab
                        .git(o, r)
                        .create_commit(message, tree_sha)
                        .parents(vec![parent.to_string()])
                        .send()
                        .await
                })
                .await
                .map_err(|f| f.into_error(&commit_op))?;
            Ok(commit.sha)
        })
    }

    /// Creates branch `branch` at `sha`. A branch that already exists is a [`Kind::Conflict`].
    pub fn create_branch(&self, branch: &str, sha: &str) -> Result<()> {
        let op = self.op(
            format!("create branch {branch}"),
            "POST",
            format!("{}/git/refs", self.repo_path()),
            Need::Contents,
        );
        let body = NewRef {
            name: format!("refs/heads/{branch}"),
            sha,
        };
        self.run(async {
            // Raw, like every ref call here (see `branch_tip`); only success matters.
            self.send(&op, || self.raw_post(&op.path, &body))
                .await
                .map(drop)
                .map_err(|f| f.into_error(&op))
        })
    }

    /// Moves branch `branch` to `sha`; without `force` only as a fast forward.
    pub fn update_branch(&self, branch: &str, sha: &str, force: bool) -> Result<RefUpdate> {
        let op = self.op(
            format!("move branch {branch} to {sha}"),
            "PATCH",
            format!(
                "{}/git/refs/{}",
                self.repo_path(),
                encode_segment(&format!("heads/{branch}"))
            ),
            Need::Contents,
        );
        let body = RefPatch { sha, force };
        self.run(async {
            // Raw: `{ref}` needs its slash as `%2F` (see `branch_tip`).
            match self.send(&op, || self.raw_patch(&op.path, &body)).await {
                Ok(_) => Ok(RefUpdate::Updated),
                Err(Failure::Answer(a))
                    if a.status == 422
                        && a.message
                            .to_ascii_lowercase()
                            .contains("not a fast forward") =>
                {
                    Ok(RefUpdate::NotFastForward)
                }
                Err(f) => Err(f.into_error(&op)),
            }
        })
    }

    /// The open pull request from `branch` (of this repository) into `base`, if there is one.
    pub fn find_pull(&self, branch: &str, base: &str) -> Result<Option<Pull>> {
        self.run(self.pulls_async(branch, Some(base)))
            .map(|pulls| pulls.into_iter().next())
    }

    /// The open pull requests from `branch` (of this repository), into any base: one list call, so it needs
    /// no base branch and can be sent before that is known.
    pub fn open_pulls(&self, branch: &str) -> Result<Vec<Pull>> {
        self.run(self.open_pulls_async(branch))
    }

    /// [`Client::open_pulls`], to join with other reads in [`Client::block_on`].
    pub async fn open_pulls_async(&self, branch: &str) -> Result<Vec<Pull>> {
        self.pulls_async(branch, None).await
    }

    /// The open pull requests from `branch` (into `base` when given), following pages.
    async fn pulls_async(&self, branch: &str, base: Option<&str>) -> Result<Vec<Pull>> {
        let (o, r) = (self.owner(), self.repo());
        let head = format!("{o}:{branch}");
        let mut op = self.op(
            match base {
                Some(base) => format!("look for an open pull request from {branch} into {base}"),
                None => format!("look for an open pull request from {branch}"),
            },
            "GET",
            format!("{}/pulls", self.repo_path()),
            Need::ReadPulls,
        );
        // GitHub filters by `head` only in the form `owner:branch` (a bare name is ignored and every
        // open pull request comes back), so the owner is always sent, and the answers are checked too.
        let head = head.as_str();
        let mut page = self
            .send(&op, || async move {
                let pulls = self.octocrab.pulls(o, r);
                let list = pulls.list().state(octocrab::params::State::Open).head(head);
                let list = match base {
                    Some(base) => list.base(base),
                    None => list,
                };
                list.per_page(100u8).send().await
            })
            .await
            .map_err(|f| f.into_error(&op))?;
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES {
            found.extend(
                page.items
                    .into_iter()
                    .filter(|p| {
                        p.head.ref_field == branch
                            && base.is_none_or(|base| p.base.ref_field == base)
                            && p.head.label.as_deref().is_none_or(|l| l == head)
                    })
                    .map(pull_from),
            );
            let Some(next) = page.next else {
                break;
            };
            // Only the path and query of the `Link`: the request stays on the API base, and so does
            // the token.
            let next = next
                .path_and_query()
                .map(|pq| pq.as_str().to_string())
                .unwrap_or_default();
            op.path = next.clone();
            let next = next.as_str();
            page = self
                .send(&op, || async move {
                    self.octocrab
                        .get::<octocrab::Page<octocrab::models::pulls::PullRequest>, _, ()>(
                            next, None,
                        )
                        .await
                })
                .await
                .map_err(|f| f.into_error(&op))?;
        }
        Ok(found)
    }

    /// Opens a pull request.
    pub fn create_pull(&self, new: &NewPull) -> Result<Pull> {
        let (o, r) = (self.owner(), self.repo());
        let op = self.op(
            format!("open a pull request from {} into {}", new.head, new.base),
            "POST",
            format!("{}/pulls", self.repo_path()),
            Need::PullRequests,
        );
        self.run(async {
            let pull = self
                .send(&op, || async move {
                    let pulls = self.octocrab.pulls(o, r);
                    pulls
                        .create(new.title.as_str(), new.head.as_str(), new.base.as_str())
                        .body(new.body.as_str())
                        // Not nullable: sent only when true.
                        .draft(new.draft.then_some(true))
                        .send()
                        .await
                })
                .await
                .map_err(|f| f.into_error(&op))?;
            Ok(pull_from(pull))
        })
    }

    /// Rewrites a pull request's title and body.
    pub fn update_pull(&self, number: u64, title: &str, body: &str) -> Result<Pull> {
        let op = self.op(
            format!("update pull request #{number}"),
            "PATCH",
            format!("{}/pulls/{number}", self.repo_path()),
            Need::PullRequests,
        );
        let path = op.path.as_str();
        self.run(async {
            let pull = self
                .send(&op, || async move {
                    // Our body with octocrab's model of the answer: its `update` builder also puts
                    // `pull_number` in the body, a field the description's request does not have.
                    self.octocrab
                        .patch::<octocrab::models::pulls::PullRequest, _, _>(
                            path,
                            Some(&PullPatch { title, body }),
                        )
                        .await
                })
                .await
                .map_err(|f| f.into_error(&op))?;
            Ok(pull_from(pull))
        })
    }

    /// Adds labels to a pull request (GitHub creates labels that do not exist). No request for none.
    pub fn add_labels(&self, number: u64, labels: &[String]) -> Result<()> {
        if labels.is_empty() {
            return Ok(());
        }
        let (o, r) = (self.owner(), self.repo());
        let op = self.op(
            format!("label pull request #{number}"),
            "POST",
            format!("{}/issues/{number}/labels", self.repo_path()),
            Need::PullRequests,
        );
        self.run(async {
            self.send(&op, || async move {
                self.octocrab.issues(o, r).add_labels(number, labels).await
            })
            .await
            .map(drop)
            .map_err(|f| f.into_error(&op))
        })
    }

    /// The release of `tag`, if one is published.
    pub fn release_by_tag(&self, tag: &str) -> Result<Option<Release>> {
        let op = self.op(
            format!("read release {tag}"),
            "GET",
            format!("{}/releases/tags/{}", self.repo_path(), encode_segment(tag)),
            Need::Read,
        );
        self.run(async {
            // Raw: octocrab's release model requires fields (`upload_url`, `author`) only the full answer has.
            match self.send(&op, || self.raw_get(&op.path)).await {
                Ok(text) => Ok(Some(parse::<ReleaseAnswer>(&op, &text)?.into())),
                Err(f) if f.status() == Some(404) => Ok(None),
                Err(f) => Err(f.into_error(&op)),
            }
        })
    }

    /// Publishes a release on the existing tag `new.tag_name`.
    pub fn create_release(&self, new: &NewRelease) -> Result<Release> {
        let op = self.op(
            format!("publish release {}", new.tag_name),
            "POST",
            format!("{}/releases", self.repo_path()),
            Need::Contents,
        );
        let body = ReleaseWrite {
            tag_name: Some(&new.tag_name),
            name: &new.name,
            body: &new.body,
            make_latest: if new.latest { "true" } else { "false" },
        };
        self.run(async {
            let text = self
                .send(&op, || self.raw_post(&op.path, &body))
                .await
                .map_err(|f| f.into_error(&op))?;
            Ok(parse::<ReleaseAnswer>(&op, &text)?.into())
        })
    }

    /// Rewrites a release's name and notes.
    pub fn update_release(&self, id: u64, name: &str, body: &str, latest: bool) -> Result<Release> {
        let op = self.op(
            format!("update release {id}"),
            "PATCH",
            format!("{}/releases/{id}", self.repo_path()),
            Need::Contents,
        );
        let body = ReleaseWrite {
            tag_name: None,
            name,
            body,
            make_latest: if latest { "true" } else { "false" },
        };
        self.run(async {
            let text = self
                .send(&op, || self.raw_patch(&op.path, &body))
                .await
                .map_err(|f| f.into_error(&op))?;
            Ok(parse::<ReleaseAnswer>(&op, &text)?.into())
        })
    }

    /// Requests reviews from users (logins) and teams (slugs). No request for none.
    pub fn request_reviewers(&self, number: u64, users: &[String], teams: &[String]) -> Result<()> {
        if users.is_empty() && teams.is_empty() {
            return Ok(());
        }
        let op = self.op(
            format!("request reviewers on pull request #{number}"),
            "POST",
            format!("{}/pulls/{number}/requested_reviewers", self.repo_path()),
            Need::PullRequests,
        );
        let body = ReviewRequest {
            reviewers: users,
            team_reviewers: teams,
        };
        self.run(async {
            // Raw: octocrab reads this answer as a `Review`, but GitHub answers with the pull request; and
            // an empty list is left out here rather than sent.
            self.send(&op, || self.raw_post(&op.path, &body))
                .await
                .map(drop)
                .map_err(|f| f.into_error(&op))
        })
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

    async fn commit_async(&self, op: &Op, sha: &str) -> Result<GitCommit> {
        let (o, r) = (self.owner(), self.repo());
        let commit = self
            .send(op, || async move {
                self.octocrab.git(o, r).get_commit(sha).await
            })
            .await
            .map_err(|f| f.into_error(op))?;
        lock(&self.trees).insert(commit.sha.clone(), commit.tree.sha.clone());
        Ok(GitCommit {
            sha: commit.sha,
            tree: commit.tree.sha,
            parents: commit.parents.into_iter().filter_map(|p| p.sha).collect(),
            message: commit.message,
        })
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
