//! The project's test GitHub: a stateful REST API server on 127.0.0.1 backed by a real bare git repository,
//! which checks every request against GitHub's official OpenAPI description and refuses what GitHub refuses.
//!
//! Self-contained (only crates, no `super::` outside this directory), so `tests/test-github/main.rs` compiles
//! it into a standalone server for the local demo.

pub mod git;
pub mod openapi;
mod routes;
mod state;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::http::request::Parts;
use hyper::{Request, Response};
use serde_json::{Value, json};

#[allow(unused_imports)] // the cut-and-race tests use it; the stand-alone test GitHub does not
pub use state::Hook;
pub use state::{CheckRun, CommitStatus, Fault, Permissions, PullState, Recorded, Release};

use openapi::{NoRoute, SPEC};
use routes::Reply;
use state::State;

/// The token [`TestGithub::start`] registers, with [`Permissions::ALL`].
pub const TOKEN: &str = "ghs_test_token_0123456789";

/// The API version GitHub serves (`X-GitHub-Api-Version`).
pub const API_VERSION: &str = "2022-11-28";

/// A running test GitHub serving one repository. Dropping it stops the server and, unless the thread is
/// already panicking, fails the test when any request broke GitHub's description.
pub struct TestGithub {
    shared: Arc<Shared>,
    url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    base_url: String,
    owner: String,
    name: String,
    bare: PathBuf,
    /// Print each violation to stderr as it happens (the standalone server).
    echo: AtomicBool,
    /// Added before every answer, in microseconds (see [`TestGithub::set_latency`]).
    latency_us: AtomicU64,
    state: Mutex<State>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panicking handler must not hide the other requests' records.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl TestGithub {
    /// Serves the repository `owner/name` backed by the bare git repository at `bare` (branches = its
    /// `refs/heads`). The default branch is the bare repository's `HEAD` branch. [`TOKEN`] may do everything.
    pub fn start(bare: &Path, owner: &str, name: &str) -> Self {
        Self::start_on(bare, owner, name, 0)
    }

    /// [`TestGithub::start`] on a given port (0: any free one).
    pub fn start_on(bare: &Path, owner: &str, name: &str, port: u16) -> Self {
        // Parse the description here, so a missing file fails the test with its message, not a server thread.
        std::sync::LazyLock::force(&SPEC);
        git::open(bare);
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("bind 127.0.0.1");
        let addr = listener.local_addr().expect("local address");
        listener
            .set_nonblocking(true)
            .expect("nonblocking listener");
        let url = format!("http://{addr}");
        let mut state = State::default();
        state.tokens.insert(TOKEN.to_string(), Permissions::ALL);
        let shared = Arc::new(Shared {
            base_url: url.clone(),
            owner: owner.to_string(),
            name: name.to_string(),
            bare: bare.to_path_buf(),
            echo: AtomicBool::new(false),
            latency_us: AtomicU64::new(0),
            state: Mutex::new(state),
        });
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let thread = serve(listener, shared.clone(), stopped);
        TestGithub {
            shared,
            url,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`: the `GITHUB_API_URL` for the binary under test.
    pub fn url(&self) -> String {
        self.url.clone()
    }

    pub fn owner(&self) -> &str {
        &self.shared.owner
    }

    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Registers (or replaces) a token.
    pub fn add_token(&self, token: &str, permissions: Permissions) {
        self.shared
            .lock()
            .tokens
            .insert(token.to_string(), permissions);
    }

    /// The token stops working (401 Bad credentials), e.g. an expired installation token.
    pub fn revoke_token(&self, token: &str) {
        self.shared.lock().tokens.remove(token);
    }

    /// Each fault fires once, on the next request it matches.
    pub fn inject(&self, fault: Fault) {
        self.shared.lock().faults.push(fault);
    }

    /// Faults injected that have not fired yet.
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.shared.lock().faults.clone()
    }

    /// Every pull request ever created, oldest first, with the head SHA of the open ones as of now.
    pub fn pulls(&self) -> Vec<PullState> {
        let mut state = self.shared.lock();
        let repo = git::open(&self.shared.bare);
        routes::refresh_heads(&repo, &mut state);
        state.pulls.clone()
    }

    /// A person opens a pull request from `head` into `base` in GitHub's page; returns its number.
    pub fn open_pull(&self, head: &str, base: &str, title: &str, body: &str) -> u64 {
        let mut state = self.shared.lock();
        let repo = git::open(&self.shared.bare);
        let head_sha = git::branch_tip(&repo, head)
            .expect("the head branch is on origin")
            .to_string();
        let now = git::now();
        let number = state.pulls.len() as u64 + 1;
        state.pulls.push(PullState {
            number,
            title: title.to_string(),
            body: Some(body.to_string()),
            head: head.to_string(),
            base: base.to_string(),
            state: "open".to_string(),
            merged: false,
            draft: false,
            labels: Vec::new(),
            requested_reviewers: Vec::new(),
            requested_teams: Vec::new(),
            head_sha,
            merge_commit_sha: None,
            maintainer_can_modify: false,
            created_at: now,
            updated_at: now,
            closed_at: None,
            merged_at: None,
        });
        number
    }

    /// A person edits pull request `number`'s body in GitHub's page (ticking a task-list box is such an edit).
    pub fn edit_pull_body(&self, number: u64, body: &str) {
        let mut state = self.shared.lock();
        let pull = state.pull_mut(number).expect("no such pull request");
        pull.body = Some(body.to_string());
        pull.updated_at = git::now();
    }

    /// Writes the payload of a `pull_request` event (`action`: `opened`, `edited`, `synchronize`, …) for pull
    /// request `number` to `path`, as the runner does for `GITHUB_EVENT_PATH`: its `pull_request` is what
    /// `GET /pulls/{number}` answers now.
    pub fn write_pull_request_event(&self, number: u64, action: &str, path: &Path) {
        let pull = {
            let shared = &self.shared;
            let mut state = shared.lock();
            let repo = git::open(&shared.bare);
            routes::refresh_heads(&repo, &mut state);
            let op = SPEC
                .operations
                .iter()
                .find(|op| op.id == "pulls/get")
                .expect("pulls/get in the description");
            let params = BTreeMap::from([("pull_number".to_string(), number.to_string())]);
            let empty = Value::Null;
            routes::pull_payload(routes::Ctx {
                op,
                params: &params,
                query: &[],
                body: &empty,
                accept: "application/json",
                permissions: Permissions::ALL,
                base: &shared.base_url,
                owner: &shared.owner,
                name: &shared.name,
                repo: &repo,
                state: &mut state,
            })
        };
        let event = json!({
            "action": action,
            "number": number,
            "pull_request": pull,
            "repository": pull["base"]["repo"].clone(),
            "sender": pull["user"].clone(),
        });
        std::fs::write(path, serde_json::to_vec_pretty(&event).expect("json"))
            .expect("event payload");
    }

    /// Every release, oldest first.
    pub fn releases(&self) -> Vec<Release> {
        self.shared.lock().releases.clone()
    }

    /// Squash-merges pull request `number` as GitHub does: a new commit on the base branch with the head's
    /// tree and the base tip as its only parent; the pull request becomes merged and closed. Returns the SHA.
    pub fn merge(&self, number: u64) -> String {
        let mut state = self.shared.lock();
        let repo = git::open(&self.shared.bare);
        routes::squash_merge(&repo, &mut state, number)
    }

    /// Every request, in order: method, path as sent, query, status, body.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// The requests GitHub's description rejects, described.
    pub fn violations(&self) -> Vec<String> {
        self.shared.lock().violations.clone()
    }

    /// Returns the violations and forgets them, for a test that sends invalid requests on purpose.
    pub fn take_violations(&self) -> Vec<String> {
        std::mem::take(&mut self.shared.lock().violations)
    }

    /// Where the test GitHub's own answers break the description's response schemas (a bug of the fake).
    pub fn response_mismatches(&self) -> Vec<String> {
        self.shared.lock().response_mismatches.clone()
    }

    /// Who may be requested as a reviewer (besides them: 422, as GitHub answers for non-collaborators).
    pub fn collaborators(&self, users: &[&str]) {
        let mut state = self.shared.lock();
        for user in users {
            if !state
                .collaborators
                .iter()
                .any(|c| c.eq_ignore_ascii_case(user))
            {
                state.collaborators.push(user.to_string());
            }
        }
    }

    /// The commit a branch points to in the bare repository.
    pub fn branch_sha(&self, branch: &str) -> Option<String> {
        let repo = git::open(&self.shared.bare);
        git::branch_tip(&repo, branch).map(|oid| oid.to_string())
    }

    /// The text of `path` on `branch` in the bare repository.
    pub fn file_at(&self, branch: &str, path: &str) -> Option<String> {
        let repo = git::open(&self.shared.bare);
        let tip = git::branch_tip(&repo, branch)?;
        git::file_text(&repo, tip, path)
    }

    pub fn default_branch(&self) -> String {
        git::default_branch(&git::open(&self.shared.bare))
    }

    /// Waits `latency` before answering each request, as a distant GitHub would (requests sent at once wait
    /// together: the wait is outside the server's lock).
    pub fn set_latency(&self, latency: Duration) {
        self.shared
            .latency_us
            .store(latency.as_micros() as u64, Ordering::Relaxed);
    }

    /// Every token lacks `permission` as GitHub names it: `checks=read`, `statuses=read` (reads answer 403
    /// "Resource not accessible by integration"), `checks=write`, `statuses=write`.
    pub fn deny(&self, permission: &str) {
        let mut state = self.shared.lock();
        if !state.denied.iter().any(|d| d == permission) {
            state.denied.push(permission.to_string());
        }
    }

    /// Gives `permission` back (see [`TestGithub::deny`]).
    pub fn allow(&self, permission: &str) {
        self.shared.lock().denied.retain(|d| d != permission);
    }

    /// A CI result on `sha`, as `POST /check-runs` records it: `conclusion` None is a run still in progress.
    /// Returns its id. A later run of the same name is the one `filter=latest` answers.
    pub fn add_check_run(&self, name: &str, sha: &str, conclusion: Option<&str>) -> u64 {
        let mut state = self.shared.lock();
        let id = state.check_runs.len() as u64 + 1;
        let now = git::now();
        state.check_runs.push(CheckRun {
            id,
            name: name.to_string(),
            head_sha: sha.to_string(),
            status: if conclusion.is_some() {
                "completed"
            } else {
                "in_progress"
            }
            .to_string(),
            conclusion: conclusion.map(str::to_string),
            details_url: None,
            started_at: now,
            completed_at: conclusion.map(|_| now),
        });
        id
    }

    /// A commit status on `sha`, as `POST /statuses/{sha}` records it.
    pub fn add_status(&self, sha: &str, context: &str, state_name: &str, target_url: Option<&str>) {
        let mut state = self.shared.lock();
        let id = state.statuses.len() as u64 + 1;
        state.statuses.push(CommitStatus {
            id,
            sha: sha.to_string(),
            state: state_name.to_string(),
            context: context.to_string(),
            target_url: target_url.map(str::to_string),
            description: None,
            created_at: git::now(),
        });
    }

    /// Every check run, oldest first.
    pub fn check_runs(&self) -> Vec<CheckRun> {
        self.shared.lock().check_runs.clone()
    }

    /// Every commit status, oldest first.
    pub fn statuses(&self) -> Vec<CommitStatus> {
        self.shared.lock().statuses.clone()
    }

    /// The newest status of `context` on `sha` as (state, description), and how many were set.
    pub fn newest_status(&self, sha: &str, context: &str) -> (Option<(String, String)>, usize) {
        let ours: Vec<CommitStatus> = self
            .statuses()
            .into_iter()
            .filter(|s| s.sha == sha && s.context == context)
            .collect();
        let newest = ours
            .iter()
            .max_by_key(|s| s.id)
            .map(|s| (s.state.clone(), s.description.clone().unwrap_or_default()));
        (newest, ours.len())
    }

    /// Print each violation to stderr as it happens (for the standalone server, which is killed, not dropped).
    pub fn echo_violations(&self, on: bool) {
        self.shared.echo.store(on, Ordering::Relaxed);
    }
}

impl Drop for TestGithub {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        if std::thread::panicking() {
            return;
        }
        let violations = self.violations();
        if !violations.is_empty() {
            panic!(
                "the test GitHub received {} request(s) that GitHub's OpenAPI description rejects:\n  - {}",
                violations.len(),
                violations.join("\n  - ")
            );
        }
    }
}

fn serve(
    listener: std::net::TcpListener,
    shared: Arc<Shared>,
    mut stopped: tokio::sync::oneshot::Receiver<()>,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let shared = shared.clone();
                        tokio::spawn(async move {
                            let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                                let shared = shared.clone();
                                async move {
                                    let (parts, body) = request.into_parts();
                                    let bytes = body.collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                                    let latency = shared.latency_us.load(Ordering::Relaxed);
                                    if latency > 0 {
                                        tokio::time::sleep(Duration::from_micros(latency)).await;
                                    }
                                    let (method, path) = (parts.method.as_str(), parts.uri.path());
                                    let around = shared.lock().take_fault(|f| f.around(method, path));
                                    let run = |hook: &state::Hook| {
                                        let hook = hook.0.clone();
                                        tokio::task::spawn_blocking(move || hook())
                                    };
                                    if let Some(Fault::Hook { after: false, hook, .. }) = &around {
                                        let _ = run(hook).await;
                                    }
                                    let response = answer(&shared, &parts, &bytes);
                                    match &around {
                                        Some(Fault::Hook { after: true, hook, .. }) => {
                                            let _ = run(hook).await;
                                        }
                                        Some(Fault::LoseAnswer { .. }) => {
                                            return Err(AnswerLost);
                                        }
                                        _ => {}
                                    }
                                    Ok::<_, AnswerLost>(response)
                                }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await;
                        });
                    }
                }
            }
        });
    })
}

/// A [`Fault::LoseAnswer`]: hyper closes the connection when the service fails.
#[derive(Debug)]
struct AnswerLost;

impl std::fmt::Display for AnswerLost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the answer is lost (a test fault)")
    }
}

impl std::error::Error for AnswerLost {}

fn header<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map(str::trim)
        .filter(|value| !value.is_empty())
}

/// Media ranges that get GitHub's JSON: `Accept` must allow one of them (or a type the operation declares).
const JSON_MEDIA: &[&str] = &[
    "*/*",
    "application/*",
    "application/json",
    "application/vnd.github+json",
    "application/vnd.github.v3+json",
];

fn accepts_json(accept: Option<&str>, declared: &[String]) -> bool {
    let Some(accept) = accept else {
        return true;
    };
    accept.split(',').any(|range| {
        let media = range
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        JSON_MEDIA.contains(&media.as_str()) || declared.contains(&media)
    })
}

fn token_of(parts: &Parts) -> Option<String> {
    let value = header(parts, "authorization")?;
    let (scheme, token) = value.split_once(' ')?;
    (scheme.eq_ignore_ascii_case("bearer") || scheme.eq_ignore_ascii_case("token"))
        .then(|| token.trim().to_string())
}

fn answer(shared: &Shared, parts: &Parts, bytes: &Bytes) -> Response<Full<Bytes>> {
    let method = parts.method.as_str().to_string();
    let path = parts.uri.path().to_string();
    let query = parts.uri.query().map(str::to_string);
    let mut state = shared.lock();
    let mut problems = Vec::new();
    let body: Option<Value> = serde_json::from_slice(bytes).ok();
    let reply = decide(
        shared,
        &mut state,
        parts,
        bytes,
        body.as_ref(),
        &mut problems,
    );
    if !problems.is_empty() {
        let line = format!("{method} {path}: {}", problems.join("; "));
        if shared.echo.load(Ordering::Relaxed) {
            eprintln!("test-github: violation: {line}");
        }
        state.violations.push(line);
    }
    let operation = SPEC.route(&method, &path).ok().map(|(op, _)| op.id.clone());
    state.requests.push(Recorded {
        method,
        path,
        query,
        operation,
        status: reply.status,
        body: body.unwrap_or(Value::Null),
    });
    let used = state.requests.len();
    drop(state);
    to_response(reply, used)
}

fn decide(
    shared: &Shared,
    state: &mut State,
    parts: &Parts,
    bytes: &Bytes,
    body: Option<&Value>,
    problems: &mut Vec<String>,
) -> Reply {
    let method = parts.method.as_str();
    let raw_path = parts.uri.path();
    if header(parts, "user-agent").is_none() {
        return Reply::text(
            403,
            "Request forbidden by administrative rules. Please make sure your request has a User-Agent header \
             (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check \
             https://developer.github.com for other possible causes.\n",
        );
    }
    let (op, path_params) = match SPEC.route(method, raw_path) {
        Ok(found) => found,
        Err(NoRoute::NotDeclared) => {
            problems.push("GitHub's description has no such operation".to_string());
            return Reply::message(404, "Not Found", "https://docs.github.com/rest");
        }
        Err(NoRoute::NotServed { template }) => {
            problems.push(format!(
                "{method} {template} is in GitHub's description, but the test GitHub does not serve it \
                 (add it to tests/it/support/github)"
            ));
            return Reply::message(
                501,
                "Not Implemented by the test GitHub",
                "https://docs.github.com/rest",
            );
        }
    };
    let accept = header(parts, "accept");
    if !accepts_json(accept, &op.success_media_types()) {
        let accept = accept.unwrap_or_default();
        problems.push(format!(
            "Accept `{accept}` allows none of the media types the description declares ({:?})",
            op.success_media_types()
        ));
        return Reply::message(
            415,
            &format!("Unsupported 'Accept' header: '{accept}'. Must accept 'application/json'."),
            &op.docs_url,
        );
    }
    if let Some(version) = header(parts, "x-github-api-version")
        && version != API_VERSION
    {
        return Reply::message(
            400,
            &format!("Unsupported API version: {version}. Supported versions: {API_VERSION}."),
            "https://docs.github.com/rest/about-the-rest-api/api-versions",
        );
    }
    if !bytes.is_empty() && body.is_none() {
        problems.push("the request body is not JSON".to_string());
        return Reply::message(400, "Problems parsing JSON", &op.docs_url);
    }
    let query = openapi::parse_query(parts.uri.query());
    let invalid = op.check_request(&path_params, &query, header(parts, "content-type"), body);
    problems.extend(invalid.iter().cloned());

    let permissions = match token_of(parts) {
        None => {
            return Reply::message(
                401,
                "Requires authentication",
                "https://docs.github.com/rest",
            );
        }
        Some(token) => match state.tokens.get(&token) {
            Some(permissions) => *permissions,
            None => return Reply::message(401, "Bad credentials", "https://docs.github.com/rest"),
        },
    };
    if let Some(fault) = state.take_fault(|fault| fires_on(fault, raw_path)) {
        return fault_reply(&fault);
    }
    if !invalid.is_empty() {
        return Reply::json(
            422,
            json!({
                "message": format!("Invalid request.\n\n{}", invalid.join("\n")),
                "documentation_url": op.docs_url,
                "status": "422",
            }),
        );
    }
    let owner = path_params.get("owner").map(String::as_str).unwrap_or("");
    let repo_name = path_params.get("repo").map(String::as_str).unwrap_or("");
    if !owner.eq_ignore_ascii_case(&shared.owner) || !repo_name.eq_ignore_ascii_case(&shared.name) {
        return Reply::message(404, "Not Found", &op.docs_url);
    }
    let repo = git::open(&shared.bare);
    let empty = Value::Null;
    let reply = routes::handle(routes::Ctx {
        op,
        params: &path_params,
        query: &query,
        body: body.unwrap_or(&empty),
        accept: accept.unwrap_or(""),
        permissions,
        base: &shared.base_url,
        owner: &shared.owner,
        name: &shared.name,
        repo: &repo,
        state,
    });
    // GitHub answers 422 "No commit found for SHA" for an unknown commit, and 403 "Resource not accessible by
    // integration" for a missing permission, on operations whose description declares neither: the fake
    // answers as GitHub does.
    let undeclared_error = matches!(reply.status, 403 | 422)
        && reply.body.as_ref().is_some_and(|b| {
            b["message"].as_str().is_some_and(|m| {
                m.starts_with("No commit found for SHA") || m == routes::NOT_ACCESSIBLE
            })
        });
    if let Some(body) = reply.body.as_ref() {
        for mismatch in op.check_response(reply.status, body) {
            if undeclared_error && mismatch.ends_with("is not declared") {
                continue;
            }
            // GitHub answers `null` for a label without a description, though `pull-request-simple` declares
            // a string there: the fake answers as GitHub does.
            if mismatch.contains("/description: null is not of type")
                && mismatch.contains("/labels/")
            {
                continue;
            }
            state.response_mismatches.push(mismatch);
        }
    }
    reply
}

fn fires_on(fault: &Fault, raw_path: &str) -> bool {
    match fault {
        Fault::ServerError { path_contains, .. }
        | Fault::SecondaryRateLimit { path_contains, .. }
        | Fault::PrimaryRateLimit { path_contains, .. } => {
            raw_path.contains(path_contains.as_str())
        }
        // Fires inside the ref update itself, which first pushes the other commit.
        Fault::MoveBranchFirst { .. } => false,
        // Fire around the request, in the connection's handler.
        Fault::LoseAnswer { .. } | Fault::Hook { .. } => false,
    }
}

fn fault_reply(fault: &Fault) -> Reply {
    match fault {
        Fault::ServerError { status, .. } => {
            Reply::json(*status, json!({ "message": "Server Error" }))
        }
        Fault::SecondaryRateLimit {
            retry_after_secs, ..
        } => {
            let mut reply = Reply::json(
                403,
                json!({
                    "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try \
                                again. If you reach out to GitHub Support for help, please include the request ID \
                                0000:1111:2222:3333:44444444.",
                    "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits",
                    "status": "403",
                }),
            );
            reply.header("retry-after", &retry_after_secs.to_string());
            reply
        }
        Fault::PrimaryRateLimit { reset_in_secs, .. } => {
            let mut reply = Reply::json(
                403,
                json!({
                    "message": "API rate limit exceeded for installation ID 1234567.",
                    "documentation_url": "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-primary-rate-limits",
                    "status": "403",
                }),
            );
            let reset = git::now() + *reset_in_secs as i64;
            reply.header("x-ratelimit-limit", "5000");
            reply.header("x-ratelimit-remaining", "0");
            reply.header("x-ratelimit-used", "5000");
            reply.header("x-ratelimit-reset", &reset.to_string());
            reply.header("x-ratelimit-resource", "core");
            reply
        }
        Fault::MoveBranchFirst { .. } => unreachable!("fires inside the ref update"),
        Fault::LoseAnswer { .. } | Fault::Hook { .. } => unreachable!("fires around the request"),
    }
}

fn to_response(reply: Reply, used: usize) -> Response<Full<Bytes>> {
    let mut builder = Response::builder().status(reply.status);
    let mut names: BTreeMap<String, ()> = BTreeMap::new();
    for (name, value) in &reply.headers {
        names.insert(name.to_ascii_lowercase(), ());
        builder = builder.header(name.as_str(), value.as_str());
    }
    let mut default = |name: &str, value: String| {
        if !names.contains_key(name) {
            builder = std::mem::take(&mut builder).header(name, value);
        }
    };
    default("x-github-api-version-selected", API_VERSION.to_string());
    default("x-github-media-type", "github.v3; format=json".to_string());
    default("x-github-request-id", format!("0000:{used:04X}"));
    default("x-ratelimit-limit", "5000".to_string());
    default(
        "x-ratelimit-remaining",
        5000usize.saturating_sub(used).to_string(),
    );
    default("x-ratelimit-used", used.to_string());
    default("x-ratelimit-reset", (git::now() + 3600).to_string());
    default("x-ratelimit-resource", "core".to_string());
    let body = match (&reply.body, &reply.text) {
        (Some(body), _) => {
            default(
                "content-type",
                "application/json; charset=utf-8".to_string(),
            );
            Bytes::from(serde_json::to_vec(body).expect("JSON"))
        }
        (None, Some(text)) => {
            default("content-type", "text/plain; charset=utf-8".to_string());
            Bytes::from(text.clone())
        }
        (None, None) => Bytes::new(),
    };
    builder.body(Full::new(body)).expect("a valid response")
}
