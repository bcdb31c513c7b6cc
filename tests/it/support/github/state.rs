//! What the test GitHub remembers besides git: tokens, pull requests, labels, reviewers, releases, pending
//! faults, and every request it saw.

use std::collections::BTreeMap;

use serde_json::Value;

/// What a token may do. The Actions `GITHUB_TOKEN` of a workflow with `contents: write` and
/// `pull-requests: write` is [`Permissions::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Permissions {
    /// Blobs, trees, commits, refs and releases.
    pub contents_write: bool,
    /// Pull requests, their labels and reviewers.
    pub pull_requests_write: bool,
    /// The repository setting "Allow GitHub Actions to create and approve pull requests".
    pub actions_may_create_pulls: bool,
}

impl Permissions {
    pub const ALL: Permissions = Permissions {
        contents_write: true,
        pull_requests_write: true,
        actions_may_create_pulls: true,
    };
    pub const READ_ONLY: Permissions = Permissions {
        contents_write: false,
        pull_requests_write: false,
        actions_may_create_pulls: true,
    };
}

impl Default for Permissions {
    fn default() -> Self {
        Self::ALL
    }
}

/// A failure to inject; each fires once, on the next request it matches.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Answers `status` (e.g. 502) instead of serving the request.
    ServerError { path_contains: String, status: u16 },
    /// 403 with `retry-after` and GitHub's secondary-rate-limit message.
    SecondaryRateLimit {
        path_contains: String,
        retry_after_secs: u64,
    },
    /// 403 with `x-ratelimit-remaining: 0` and `x-ratelimit-reset` `reset_in_secs` from now.
    PrimaryRateLimit {
        path_contains: String,
        reset_in_secs: u64,
    },
    /// On the next ref update of `branch`, someone else pushes a commit to it first.
    MoveBranchFirst { branch: String },
    /// Serves the next `method` request whose path contains `path_contains` (the write happens), then closes the
    /// connection without the answer: "applied, then the answer lost".
    LoseAnswer {
        method: String,
        path_contains: String,
    },
    /// Runs `hook` (another whole run, or killing the client) before serving the next matching request, or with
    /// `after` once it is served and before the answer goes out: races in a forced order, and "process killed".
    Hook {
        method: String,
        path_contains: String,
        after: bool,
        hook: Hook,
    },
}

/// A closure a [`Fault::Hook`] runs, on a thread of its own (the server goes on answering meanwhile).
#[derive(Clone)]
pub struct Hook(pub std::sync::Arc<dyn Fn() + Send + Sync>);

impl Hook {
    pub fn new(f: impl Fn() + Send + Sync + 'static) -> Self {
        Hook(std::sync::Arc::new(f))
    }
}

impl std::fmt::Debug for Hook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hook")
    }
}

impl PartialEq for Hook {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Fault {
    /// A [`Fault::LoseAnswer`] or [`Fault::Hook`] that fires on this request.
    pub fn around(&self, method: &str, path: &str) -> bool {
        match self {
            Fault::LoseAnswer {
                method: m,
                path_contains,
            }
            | Fault::Hook {
                method: m,
                path_contains,
                ..
            } => m == method && path.contains(path_contains.as_str()),
            _ => false,
        }
    }
}

/// A pull request as the test GitHub holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct PullState {
    pub number: u64,
    pub title: String,
    pub body: Option<String>,
    /// The head branch (in this repository).
    pub head: String,
    pub base: String,
    /// `open` or `closed`.
    pub state: String,
    pub merged: bool,
    pub draft: bool,
    pub labels: Vec<String>,
    pub requested_reviewers: Vec<String>,
    pub requested_teams: Vec<String>,
    /// The head branch's tip (while open; frozen when closed).
    pub head_sha: String,
    pub merge_commit_sha: Option<String>,
    pub maintainer_can_modify: bool,
    pub created_at: i64,
    pub updated_at: i64,
    pub closed_at: Option<i64>,
    pub merged_at: Option<i64>,
}

/// One request as it arrived, and the status it got.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    /// The path as sent (still percent-encoded), without the query.
    pub path: String,
    pub query: Option<String>,
    /// The description's `operationId` it matched (`repos/get-branch`), if any.
    pub operation: Option<String>,
    pub status: u16,
    /// The JSON body (`Null` when there was none or it did not parse).
    pub body: Value,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Label {
    pub id: u64,
    pub name: String,
    pub color: String,
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Release {
    pub id: u64,
    pub tag_name: String,
    pub target_commitish: String,
    pub name: Option<String>,
    pub body: Option<String>,
    pub draft: bool,
    pub prerelease: bool,
    pub created_at: i64,
    pub published_at: Option<i64>,
}

/// A check run as the test GitHub holds it (`status` queued / in_progress / completed).
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    pub head_sha: String,
    pub status: String,
    pub conclusion: Option<String>,
    pub details_url: Option<String>,
    pub started_at: i64,
    pub completed_at: Option<i64>,
}

/// A commit status (`state` error / failure / pending / success).
#[derive(Debug, Clone, PartialEq)]
pub struct CommitStatus {
    pub id: u64,
    pub sha: String,
    pub state: String,
    pub context: String,
    pub target_url: Option<String>,
    pub description: Option<String>,
    pub created_at: i64,
}

#[derive(Debug, Default)]
pub struct State {
    pub tokens: BTreeMap<String, Permissions>,
    pub pulls: Vec<PullState>,
    pub labels: Vec<Label>,
    pub collaborators: Vec<String>,
    pub releases: Vec<Release>,
    /// The release `make_latest: "true"` named last (GitHub's "latest" when set explicitly).
    pub latest_release: Option<u64>,
    pub faults: Vec<Fault>,
    pub requests: Vec<Recorded>,
    pub violations: Vec<String>,
    pub response_mismatches: Vec<String>,
    /// Verification of the commits created through the API, by SHA (GitHub signs those it authors).
    pub verified: BTreeMap<String, (bool, String)>,
    pub concurrent_pushes: u64,
    pub check_runs: Vec<CheckRun>,
    pub statuses: Vec<CommitStatus>,
    /// Permissions the token lacks on top of [`Permissions`], as GitHub names them (`checks=read`).
    pub denied: Vec<String>,
}

impl State {
    pub fn pull_mut(&mut self, number: u64) -> Option<&mut PullState> {
        self.pulls.iter_mut().find(|p| p.number == number)
    }

    /// Takes the first pending fault `matches` accepts.
    pub fn take_fault(&mut self, matches: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let index = self.faults.iter().position(matches)?;
        Some(self.faults.remove(index))
    }
}
