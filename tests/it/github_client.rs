//! The GitHub client against a recorded-response server: each test scripts GitHub's answers in order
//! (bodies from GitHub's own OpenAPI examples in tests/fixtures/github/) and asserts on what the server saw:
//! paths, queries, bodies and headers; retries, waits and the errors a person reads.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::BodyExt;
use hyper::{Request, Response, body::Incoming};
use serde_json::{Value, json};

use gitops_promote::error::Kind;
use gitops_promote::github::{
    self, ACCEPT_VALUE, API_VERSION, Client, NewPull, RefUpdate, Settings, USER_AGENT_VALUE,
};
use gitops_promote::inputs::Secret;

use crate::support::http::{self, Dropped};

const TOKEN: &str = "ghs_TestTokenThatMustNeverLeak0123456789";

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../fixtures/github/", $name))
    };
}

/// One scripted answer. `{addr}` in a header value becomes the server's `127.0.0.1:PORT`.
#[derive(Clone)]
struct Canned {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: String,
    drop: bool,
}

fn answer(status: u16, body: impl Into<String>) -> Canned {
    Canned {
        status,
        headers: Vec::new(),
        body: body.into(),
        drop: false,
    }
}

fn ok(body: impl Into<String>) -> Canned {
    answer(200, body)
}

/// The connection closes without an answer.
fn dropped() -> Canned {
    Canned {
        drop: true,
        ..answer(0, "")
    }
}

impl Canned {
    fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// A request as the server saw it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    /// Path and query exactly as sent (still percent-encoded).
    target: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Seen {
    fn line(&self) -> String {
        format!("{} {}", self.method, self.target)
    }

    fn values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{}: body {e}", self.line()))
    }

    /// The decoded query parameters.
    fn query(&self) -> Vec<(String, String)> {
        let url = reqwest::Url::parse(&format!("http://x{}", self.target)).expect("target");
        url.query_pairs()
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect()
    }
}

/// A server that answers from a script, in order, and records every request.
struct Fake {
    addr: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Fake {
    fn start(script: Vec<Canned>) -> Self {
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let addr_cell: Arc<OnceLock<String>> = Arc::new(OnceLock::new());
        let (log, cell) = (seen.clone(), addr_cell.clone());
        let addr = http::serve(Arc::new(move |req: Request<Incoming>| {
            let (script, log, cell) = (script.clone(), log.clone(), cell.clone());
            Box::pin(async move {
                let method = req.method().to_string();
                let target = req
                    .uri()
                    .path_and_query()
                    .map(|p| p.to_string())
                    .unwrap_or_default();
                let headers = req
                    .headers()
                    .iter()
                    .map(|(n, v)| {
                        (
                            n.as_str().to_string(),
                            v.to_str().unwrap_or("<binary>").to_string(),
                        )
                    })
                    .collect();
                let body = req.into_body().collect().await.map_err(|_| Dropped)?;
                let body = String::from_utf8_lossy(&body.to_bytes()).into_owned();
                log.lock().expect("log").push(Seen {
                    method,
                    target,
                    headers,
                    body,
                });
                let next = script.lock().expect("script").pop_front();
                let Some(canned) = next else {
                    let body =
                        r#"{"message":"the test script has no answer left for this request"}"#;
                    return Ok(Response::builder()
                        .status(418)
                        .body(http::full(body))
                        .expect("response"));
                };
                if canned.drop {
                    return Err(Dropped);
                }
                let addr = cell.get().cloned().unwrap_or_default();
                let mut b = Response::builder()
                    .status(canned.status)
                    .header("content-type", "application/json; charset=utf-8");
                for (name, value) in &canned.headers {
                    b = b.header(*name, value.replace("{addr}", &addr));
                }
                Ok(b.body(http::full(canned.body)).expect("response"))
            })
        }));
        addr_cell.set(addr.clone()).expect("addr once");
        Self { addr, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    fn lines(&self) -> Vec<String> {
        self.seen().iter().map(Seen::line).collect()
    }

    fn settings(&self) -> Settings {
        Settings {
            api_url: format!("http://{}", self.addr),
            token: Some(Secret::new(TOKEN)),
            base_delay: Duration::from_millis(10),
            max_wait: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            ..Settings::new("octo", "app")
        }
    }

    fn client(&self) -> Client {
        Client::new(self.settings()).expect("client")
    }
}

/// GitHub's example pull request, from `promote/production` into `main`.
fn pull_json(number: u64, head: &str, draft: bool) -> Value {
    let mut pull: Value = serde_json::from_str(fixture!("pull.json")).expect("pull fixture");
    pull["number"] = json!(number);
    pull["head"]["ref"] = json!(head);
    pull["head"]["label"] = json!(format!("octo:{head}"));
    pull["base"]["ref"] = json!("main");
    pull["draft"] = json!(draft);
    pull["html_url"] = json!(format!("https://github.com/octo/app/pull/{number}"));
    pull
}

fn epoch_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

#[test]
fn a_502_is_retried_and_both_requests_are_counted() {
    let fake = Fake::start(vec![
        answer(502, r#"{"message":"Server Error"}"#),
        ok(fixture!("repository.json")),
    ]);
    let client = fake.client();
    let repo = client.repository().expect("repository after a retry");
    assert_eq!(repo.default_branch, "master");
    assert_eq!(repo.full_name, "octocat/Hello-World");
    assert_eq!(client.requests(), 2);
    assert_eq!(fake.lines(), ["GET /repos/octo/app", "GET /repos/octo/app"]);
    let progress = client.take_progress();
    assert_eq!(progress.len(), 1, "{progress:?}");
    assert!(
        progress[0].starts_with("GitHub answered 502 on GET /repos/octo/app; retry 2/5 in "),
        "{progress:?}"
    );
    assert!(client.take_progress().is_empty(), "progress drains");
}

#[test]
fn a_broken_connection_is_retried() {
    let fake = Fake::start(vec![dropped(), ok(fixture!("git-ref.json"))]);
    let client = fake.client();
    let tip = client.branch_tip("main").expect("tip after a retry");
    assert_eq!(
        tip.as_deref(),
        Some("aa218f56b14c9653891f9e74264a383fa43fefbd")
    );
    assert_eq!(client.requests(), 2);
    let progress = client.take_progress();
    assert!(
        progress[0].starts_with("GitHub could not be reached"),
        "{progress:?}"
    );
}

#[test]
fn server_errors_that_persist_give_up_after_the_attempts() {
    let fake = Fake::start(vec![answer(503, r#"{"message":"Service Unavailable"}"#); 5]);
    let client = fake.client();
    let e = client.repository().expect_err("five 503s");
    assert_eq!(e.kind, Kind::Upstream);
    assert!(e.message.contains("GitHub answered 503"), "{e}");
    assert!(e.message.contains("gave up after 5 attempts"), "{e}");
    assert_eq!(client.requests(), 5);
    assert_eq!(client.take_progress().len(), 4);
}

#[test]
fn a_secondary_rate_limit_waits_for_retry_after() {
    let fake = Fake::start(vec![
        answer(
            403,
            r#"{"message":"You have exceeded a secondary rate limit. Please wait a few minutes before you try again.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"}"#,
        )
        .header("retry-after", "1")
        .header("x-ratelimit-remaining", "4000"),
        ok(fixture!("git-ref.json")),
    ]);
    let client = fake.client();
    let started = Instant::now();
    let tip = client.branch_tip("main").expect("tip after the wait");
    let waited = started.elapsed();
    assert!(tip.is_some());
    assert!(waited >= Duration::from_secs(1), "waited only {waited:?}");
    assert!(waited < Duration::from_secs(4), "waited {waited:?}");
    assert_eq!(client.requests(), 2);
    let progress = client.take_progress();
    assert_eq!(
        progress,
        [
            "GitHub answered 403 (Retry-After 1s) on GET /repos/octo/app/git/ref/heads%2Fmain; retry 2/5 in 1s"
        ]
    );
}

#[test]
fn a_used_up_rate_limit_resetting_soon_is_waited_for() {
    let reset = epoch_now() + 1;
    let fake = Fake::start(vec![
        answer(
            403,
            r#"{"message":"API rate limit exceeded for installation ID 1.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}"#,
        )
        .header("x-ratelimit-remaining", "0")
        .header("x-ratelimit-reset", reset.to_string()),
        ok(fixture!("git-ref.json")),
    ]);
    let client = fake.client();
    let started = Instant::now();
    client.branch_tip("main").expect("tip after the reset");
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(client.requests(), 2);
    assert!(client.take_progress()[0].contains("rate limit used up until"));
}

#[test]
fn a_used_up_rate_limit_resetting_later_fails_at_once_with_the_reset_time() {
    let reset = epoch_now() + 3600;
    let fake = Fake::start(vec![
        answer(
            403,
            r#"{"message":"API rate limit exceeded for installation ID 1.","documentation_url":"https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"}"#,
        )
        .header("x-ratelimit-remaining", "0")
        .header("x-ratelimit-reset", reset.to_string()),
    ]);
    let client = fake.client();
    let started = Instant::now();
    let e = client.branch_tip("main").expect_err("an hour away");
    assert!(started.elapsed() < Duration::from_secs(1), "it waited");
    assert_eq!(client.requests(), 1);
    let at = time::OffsetDateTime::from_unix_timestamp(i64::try_from(reset).expect("i64"))
        .expect("time")
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format");
    assert_eq!(e.kind, Kind::Upstream);
    assert!(e.message.contains(&format!("used up until {at}")), "{e}");
    assert!(
        e.message
            .contains("API rate limit exceeded for installation ID 1."),
        "{e}"
    );
    assert!(
        e.help
            .as_deref()
            .expect("help")
            .contains(&format!("rerun after {at}"))
    );
}

#[test]
fn other_client_errors_are_not_retried_and_say_what_to_fix() {
    let fake = Fake::start(vec![answer(
        403,
        r#"{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/git/refs#create-a-reference","status":"403"}"#,
    )
    .header("x-ratelimit-remaining", "4999")]);
    let client = fake.client();
    let e = client
        .create_branch(
            "promote/production",
            "aa218f56b14c9653891f9e74264a383fa43fefbd",
        )
        .expect_err("403");
    assert_eq!(client.requests(), 1);
    assert_eq!(e.kind, Kind::Permission);
    assert!(e.message.starts_with("can't create branch promote/production: GitHub answered 403 to POST /repos/octo/app/git/refs: Resource not accessible by integration"), "{e}");
    let help = e.help.expect("help");
    assert!(
        help.contains("`contents: write`") && help.contains("`permissions:` block"),
        "{help}"
    );
}

#[test]
fn actions_without_pull_request_permission_get_the_setting_to_tick() {
    let fake = Fake::start(vec![answer(
        403,
        r#"{"message":"GitHub Actions is not permitted to create or approve pull requests.","documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request","status":"403"}"#,
    )]);
    let e = fake
        .client()
        .create_pull(&NewPull {
            title: "Promote".into(),
            head: "promote/production".into(),
            base: "main".into(),
            body: String::new(),
            draft: false,
        })
        .expect_err("403");
    assert_eq!(e.kind, Kind::Permission);
    assert!(e.to_string().contains(
        "help: in the repository's (or the organisation's) Settings → Actions → General → Workflow permissions, tick \"Allow GitHub Actions to create and approve pull requests\""
    ), "{e}");
}

#[test]
fn the_token_never_appears_in_errors_or_progress() {
    // A server that echoes the request's Authorization header back in its messages.
    let echoed = format!(r#"{{"message":"upstream trouble for Bearer {TOKEN}"}}"#);
    let fake = Fake::start(vec![
        answer(502, echoed.clone()),
        answer(
            401,
            format!(
                r#"{{"message":"Bad credentials: {TOKEN}","documentation_url":"https://docs.github.com/rest"}}"#
            ),
        ),
    ]);
    let client = fake.client();
    let e = client.repository().expect_err("401");
    let progress = client.take_progress();
    assert_eq!(e.kind, Kind::Permission);
    assert!(
        e.help
            .as_deref()
            .expect("help")
            .contains("refused the token")
    );
    let text = format!("{e}\n{e:?}\n{}", progress.join("\n"));
    assert!(!text.contains(TOKEN), "{text}");
    assert!(text.contains("Bad credentials: ***"), "{text}");
    // It was sent, as a header only.
    for seen in fake.seen() {
        assert_eq!(seen.values("authorization"), [format!("Bearer {TOKEN}")]);
        assert!(!seen.target.contains(TOKEN));
    }
}

#[test]
fn every_request_carries_the_required_headers() {
    let fake = Fake::start(vec![
        ok(fixture!("repository.json")),
        ok(fixture!("git-ref.json")),
        answer(201, fixture!("git-ref.json")),
        ok(format!("[{}]", pull_json(7, "promote/production", false))),
        answer(201, pull_json(8, "promote/production", false).to_string()),
        ok(fixture!("labels.json")),
    ]);
    let client = fake.client();
    client.repository().expect("repository");
    client.branch_tip("main").expect("tip");
    client
        .create_branch(
            "promote/production",
            "aa218f56b14c9653891f9e74264a383fa43fefbd",
        )
        .expect("create branch");
    client
        .find_pull("promote/production", "main")
        .expect("find");
    client
        .create_pull(&NewPull {
            title: "Promote".into(),
            head: "promote/production".into(),
            base: "main".into(),
            body: "body".into(),
            draft: false,
        })
        .expect("create pull");
    client
        .add_labels(8, &["promotion".to_string()])
        .expect("labels");
    let seen = fake.seen();
    assert_eq!(seen.len(), 6);
    for s in &seen {
        let line = s.line();
        assert_eq!(s.values("accept"), [ACCEPT_VALUE], "{line}");
        assert_eq!(s.values("x-github-api-version"), [API_VERSION], "{line}");
        assert_eq!(s.values("user-agent"), [USER_AGENT_VALUE], "{line}");
        assert!(USER_AGENT_VALUE.starts_with("gitops-promote/"));
        assert_eq!(
            s.values("authorization"),
            [format!("Bearer {TOKEN}")],
            "{line}"
        );
        if s.method == "POST" {
            assert_eq!(s.values("content-type"), ["application/json"], "{line}");
        }
    }
}

#[test]
fn without_a_token_no_authorization_is_sent() {
    let fake = Fake::start(vec![ok(fixture!("repository.json"))]);
    let client = Client::new(Settings {
        token: None,
        ..fake.settings()
    })
    .expect("client");
    client.repository().expect("public repository");
    assert!(fake.seen()[0].values("authorization").is_empty());
}

#[test]
fn find_pull_sends_owner_colon_branch_and_follows_pages_on_ghes() {
    // GHES serves the API under /api/v3; the `Link` is absolute, with that prefix.
    let fake = Fake::start(vec![
        ok(format!("[{}]", pull_json(3, "someone-else", false))).header(
            "link",
            r#"<http://{addr}/api/v3/repositories/1/pulls?state=open&page=2>; rel="next", <http://{addr}/api/v3/repositories/1/pulls?state=open&page=2>; rel="last""#,
        ),
        ok(format!("[{}]", pull_json(9, "promote/production", true))),
    ]);
    let client = Client::new(Settings {
        api_url: format!("http://{}/api/v3/", fake.addr),
        ..fake.settings()
    })
    .expect("client");
    let pull = client
        .find_pull("promote/production", "main")
        .expect("find")
        .expect("found on page 2");
    assert_eq!(pull.number, 9);
    assert!(pull.draft);
    assert_eq!(pull.html_url, "https://github.com/octo/app/pull/9");
    assert_eq!(pull.labels, ["bug"]);
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    assert!(
        seen[0].target.starts_with("/api/v3/repos/octo/app/pulls?"),
        "{}",
        seen[0].target
    );
    let mut query = seen[0].query();
    query.sort();
    assert_eq!(
        query,
        [
            ("base".to_string(), "main".to_string()),
            ("head".to_string(), "octo:promote/production".to_string()),
            ("per_page".to_string(), "100".to_string()),
            ("state".to_string(), "open".to_string()),
        ]
    );
    assert_eq!(
        seen[1].target,
        "/api/v3/repositories/1/pulls?state=open&page=2"
    );
    assert_eq!(seen[1].values("authorization"), [format!("Bearer {TOKEN}")]);
}

#[test]
fn find_pull_ignores_pull_requests_from_other_branches() {
    // A server that ignored the `head` filter would hand back every open pull request.
    let fake = Fake::start(vec![ok(format!(
        "[{}, {}]",
        pull_json(1, "feature", false),
        pull_json(2, "promote/staging", false)
    ))]);
    let found = fake
        .client()
        .find_pull("promote/production", "main")
        .expect("find");
    assert_eq!(found, None);
}

#[test]
fn create_commit_sends_a_tree_with_the_texts_on_the_parents_tree_then_the_commit() {
    let parent = "7638417db6d59f3c431d3e1f261cc637155684cd";
    let fake = Fake::start(vec![
        ok(fixture!("git-commit.json")),
        answer(201, fixture!("git-tree-created.json")),
        answer(201, fixture!("git-commit-created.json")),
    ]);
    let client = fake.client();
    let files = vec![
        (
            "flux/apps/backend/production/kustomization.yaml".to_string(),
            "newTag: v1.2.3\n".to_string(),
        ),
        (
            "flux/apps/frontend/production/kustomization.yaml".to_string(),
            "newTag: v2.0.0\n".to_string(),
        ),
    ];
    let sha = client
        .create_commit(parent, &files, "promote: backend v1.2.3 to production")
        .expect("commit");
    assert_eq!(sha, "7638417db6d59f3c431d3e1f261cc637155684cd");
    assert_eq!(client.requests(), 3, "no blob of its own per file");
    let seen = fake.seen();
    assert_eq!(
        fake.lines(),
        [
            format!("GET /repos/octo/app/git/commits/{parent}"),
            "POST /repos/octo/app/git/trees".to_string(),
            "POST /repos/octo/app/git/commits".to_string(),
        ]
    );
    assert_eq!(
        seen[1].json(),
        json!({
            "base_tree": "691272480426f78a0138979dd3ce63b77f706feb",
            "tree": [
                {"path": "flux/apps/backend/production/kustomization.yaml", "mode": "100644", "type": "blob", "content": "newTag: v1.2.3\n"},
                {"path": "flux/apps/frontend/production/kustomization.yaml", "mode": "100644", "type": "blob", "content": "newTag: v2.0.0\n"},
            ]
        })
    );
    // No author or committer: GitHub then signs the commit as the token's identity.
    assert_eq!(
        seen[2].json(),
        json!({
            "message": "promote: backend v1.2.3 to production",
            "tree": "cd8274d15fa3ae2ab983129fb037999f264ba9a7",
            "parents": [parent],
        })
    );
}

#[test]
fn a_commit_on_a_tip_read_with_its_branch_reads_no_commit() {
    let tip = "7638417db6d59f3c431d3e1f261cc637155684cd";
    let tree = "691272480426f78a0138979dd3ce63b77f706feb";
    let fake = Fake::start(vec![
        ok(format!(
            r#"{{"name":"promote/prod","commit":{{"sha":"{tip}","commit":{{"tree":{{"sha":"{tree}"}}}},"parents":[]}},"_links":{{"html":"h","self":"s"}},"protected":false}}"#
        )),
        answer(201, fixture!("git-tree-created.json")),
        answer(201, fixture!("git-commit-created.json")),
    ]);
    let client = fake.client();
    let read = client
        .branch("promote/prod")
        .expect("branch")
        .expect("exists");
    assert_eq!((read.sha.as_str(), read.tree.as_str()), (tip, tree));
    client
        .create_commit(tip, &[("a.yaml".into(), "a: 1\n".into())], "m")
        .expect("commit");
    assert_eq!(
        fake.lines(),
        [
            "GET /repos/octo/app/branches/promote%2Fprod",
            "POST /repos/octo/app/git/trees",
            "POST /repos/octo/app/git/commits",
        ]
    );
    assert_eq!(fake.seen()[1].json()["base_tree"], tree);
}

#[test]
fn branches_are_read_and_moved_with_the_slash_sent_as_2f() {
    let fake = Fake::start(vec![
        answer(
            404,
            r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest/git/refs#get-a-reference","status":"404"}"#,
        ),
        answer(
            422,
            r#"{"message":"Update is not a fast forward","documentation_url":"https://docs.github.com/rest/git/refs#update-a-reference","status":"422"}"#,
        ),
        ok(fixture!("git-ref.json")),
        answer(
            422,
            r#"{"message":"Reference does not exist","status":"422"}"#,
        ),
    ]);
    let client = fake.client();
    assert_eq!(
        client.branch_tip("promote/production").expect("absent"),
        None
    );
    assert_eq!(
        client
            .update_branch("promote/production", "abc", false)
            .expect("moved on"),
        RefUpdate::NotFastForward
    );
    assert_eq!(
        client
            .update_branch("promote/production", "abc", true)
            .expect("forced"),
        RefUpdate::Updated
    );
    let e = client
        .update_branch("gone", "abc", false)
        .expect_err("no such branch");
    assert_eq!(e.kind, Kind::NotFound);
    let seen = fake.seen();
    assert_eq!(
        fake.lines(),
        [
            "GET /repos/octo/app/git/ref/heads%2Fpromote%2Fproduction",
            "PATCH /repos/octo/app/git/refs/heads%2Fpromote%2Fproduction",
            "PATCH /repos/octo/app/git/refs/heads%2Fpromote%2Fproduction",
            "PATCH /repos/octo/app/git/refs/heads%2Fgone",
        ]
    );
    assert_eq!(seen[1].json(), json!({"sha": "abc"}));
    assert_eq!(seen[2].json(), json!({"sha": "abc", "force": true}));
    assert_eq!(client.requests(), 4);
}

#[test]
fn create_branch_sends_the_full_ref_and_reports_an_existing_one_as_a_conflict() {
    let fake = Fake::start(vec![
        answer(201, fixture!("git-ref.json")),
        answer(
            422,
            r#"{"message":"Reference already exists","documentation_url":"https://docs.github.com/rest/git/refs#create-a-reference","status":"422"}"#,
        ),
    ]);
    let client = fake.client();
    client
        .create_branch("promote/production", "abc")
        .expect("created");
    let e = client
        .create_branch("promote/production", "abc")
        .expect_err("exists");
    assert_eq!(e.kind, Kind::Conflict);
    assert!(e.message.contains("Reference already exists"), "{e}");
    assert_eq!(
        fake.seen()[0].json(),
        json!({"ref": "refs/heads/promote/production", "sha": "abc"})
    );
}

#[test]
fn files_are_decoded_and_a_missing_one_is_none() {
    let text = "images:\n  - name: ghcr.io/octo/backend\n    newTag: v1.2.3 # pinned\n";
    let encoded = {
        use base64::Engine as _;
        let b = base64::engine::general_purpose::STANDARD.encode(text);
        // GitHub breaks the base64 into lines of 60.
        b.as_bytes()
            .chunks(60)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let content = json!({
        "type": "file", "encoding": "base64", "size": text.len(), "name": "kustomization.yaml",
        "path": "flux/apps/my app/kustomization.yaml", "content": encoded,
        "sha": "3d21ec53a331a6f037a91c368710b99387d012c1",
        "url": "https://api.github.com/repos/octo/app/contents/x", "git_url": null, "html_url": null, "download_url": null,
        "_links": {"git": null, "html": null, "self": "https://api.github.com/repos/octo/app/contents/x"}
    });
    let fake = Fake::start(vec![
        ok(content.to_string()),
        answer(404, r#"{"message":"Not Found","status":"404"}"#),
    ]);
    let client = fake.client();
    let file = client
        .file("flux/apps/my app/kustomization.yaml", "promote/production")
        .expect("read")
        .expect("present");
    assert_eq!(file.text, text);
    assert_eq!(file.blob_sha, "3d21ec53a331a6f037a91c368710b99387d012c1");
    assert_eq!(client.file("nope.yaml", "main").expect("read"), None);
    assert_eq!(
        fake.lines(),
        [
            "GET /repos/octo/app/contents/flux/apps/my%20app/kustomization.yaml?ref=promote%2Fproduction",
            "GET /repos/octo/app/contents/nope.yaml?ref=main",
        ]
    );
}

#[test]
fn a_file_over_a_megabyte_is_read_from_its_blob() {
    // Over 1 MB GitHub leaves `content` empty with `encoding: none`.
    let fake = Fake::start(vec![
        ok(
            r#"{"type":"file","encoding":"none","size":2000000,"name":"big.yaml","path":"big.yaml","content":"","sha":"b1g","url":"u","git_url":null,"html_url":null,"download_url":null,"_links":{"git":null,"html":null,"self":"u"}}"#,
        ),
        ok(
            r#"{"content":"a2luZDogQmln\n","encoding":"base64","url":"u","sha":"b1g","size":9,"node_id":"n"}"#,
        ),
    ]);
    let client = fake.client();
    let file = client
        .file("big.yaml", "main")
        .expect("read")
        .expect("present");
    assert_eq!(file.text, "kind: Big");
    assert_eq!(fake.lines()[1], "GET /repos/octo/app/git/blobs/b1g");
}

#[test]
fn pull_requests_are_opened_and_updated_with_only_the_fields_set() {
    let fake = Fake::start(vec![
        answer(201, pull_json(5, "promote/production", false).to_string()),
        answer(201, pull_json(6, "promote/staging", true).to_string()),
        ok(pull_json(6, "promote/staging", true).to_string()),
    ]);
    let client = fake.client();
    let pull = client
        .create_pull(&NewPull {
            title: "Promote backend v1.2.3 to production".into(),
            head: "promote/production".into(),
            base: "main".into(),
            body: "| app | from | to |".into(),
            draft: false,
        })
        .expect("open");
    assert_eq!(
        (pull.number, pull.draft, pull.state.as_str()),
        (5, false, "open")
    );
    let draft = client
        .create_pull(&NewPull {
            title: "t".into(),
            head: "promote/staging".into(),
            base: "main".into(),
            body: "b".into(),
            draft: true,
        })
        .expect("open draft");
    assert!(draft.draft);
    client
        .update_pull(6, "new title", "new body")
        .expect("update");
    let seen = fake.seen();
    assert_eq!(seen[0].line(), "POST /repos/octo/app/pulls");
    assert_eq!(
        seen[0].json(),
        json!({"title": "Promote backend v1.2.3 to production", "head": "promote/production", "base": "main", "body": "| app | from | to |"})
    );
    assert_eq!(seen[1].json()["draft"], json!(true));
    assert_eq!(seen[2].line(), "PATCH /repos/octo/app/pulls/6");
    assert_eq!(
        seen[2].json(),
        json!({"title": "new title", "body": "new body"})
    );
}

#[test]
fn labels_and_reviewers_send_their_lists_and_nothing_when_empty() {
    let fake = Fake::start(vec![
        ok(fixture!("labels.json")),
        answer(201, pull_json(5, "promote/production", false).to_string()),
        answer(201, pull_json(5, "promote/production", false).to_string()),
    ]);
    let client = fake.client();
    client.add_labels(5, &[]).expect("no labels");
    client.request_reviewers(5, &[], &[]).expect("no reviewers");
    assert_eq!(client.requests(), 0);
    client
        .add_labels(5, &["promotion".to_string(), "production".to_string()])
        .expect("labels");
    client
        .request_reviewers(5, &["octocat".to_string()], &["platform".to_string()])
        .expect("reviewers");
    client
        .request_reviewers(5, &[], &["platform".to_string()])
        .expect("team only");
    let seen = fake.seen();
    assert_eq!(seen[0].line(), "POST /repos/octo/app/issues/5/labels");
    assert_eq!(
        seen[0].json(),
        json!({"labels": ["promotion", "production"]})
    );
    assert_eq!(
        seen[1].line(),
        "POST /repos/octo/app/pulls/5/requested_reviewers"
    );
    assert_eq!(
        seen[1].json(),
        json!({"reviewers": ["octocat"], "team_reviewers": ["platform"]})
    );
    assert_eq!(seen[2].json(), json!({"team_reviewers": ["platform"]}));
}

#[test]
fn a_missing_repository_points_at_github_repository() {
    let fake = Fake::start(vec![answer(
        404,
        r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest/repos/repos#get-a-repository","status":"404"}"#,
    )]);
    let e = fake.client().repository().expect_err("404");
    assert_eq!(e.kind, Kind::NotFound);
    assert!(e.to_string().contains("`GITHUB_REPOSITORY`"), "{e}");
}

#[test]
fn the_runs_deadline_bounds_the_retries() {
    let fake = Fake::start(vec![answer(502, r#"{"message":"Server Error"}"#); 10]);
    let client = Client::new(Settings {
        base_delay: Duration::from_millis(400),
        max_attempts: 10,
        timeout: Duration::from_millis(700),
        ..fake.settings()
    })
    .expect("client");
    let started = Instant::now();
    let e = client.repository().expect_err("out of time");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(e.kind, Kind::Upstream);
    assert!(e.message.contains("leave no time to retry"), "{e}");
    assert!(client.requests() < 10);
}

#[test]
fn the_workflow_token_notice_is_exported() {
    assert!(github::workflow_token_notice("promotion").contains("`github-token`"));
}
