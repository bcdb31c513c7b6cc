//! The test GitHub itself, over plain HTTP: every request checked against GitHub's description, its state
//! flows on a real bare repository, and the refusals GitHub answers.

use base64::Engine as _;
use serde_json::{Value, json};

use crate::harness::{Scratch, git};
use crate::support::github::{Fault, Permissions, TOKEN, TestGithub};

const KUSTOMIZATION: &str = "flux/apps/app/kustomization.yaml";

/// A bare `origin.git` whose `main` has one file, and the test GitHub serving it as `org/app`.
fn setup() -> (Scratch, TestGithub) {
    let scratch = Scratch::new();
    let file = scratch.work.join(KUSTOMIZATION);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(&file, "images:\n  - name: app\n    newTag: 1.0.0\n").expect("write");
    scratch.git(&["add", "."]);
    scratch.git(&["commit", "-q", "-m", "seed"]);
    scratch.git(&["push", "-q", "origin", "main"]);
    let github = TestGithub::start(&scratch.origin, "org", "app");
    (scratch, github)
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: Value,
}

impl Answer {
    fn message(&self) -> String {
        let mut text = self.body["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for error in self.body["errors"].as_array().into_iter().flatten() {
            text.push_str(&format!(
                " | {}",
                error["message"].as_str().unwrap_or_default()
            ));
        }
        text
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A plain HTTP client for the test GitHub, sending what a well-behaved GitHub client sends by default.
struct Api {
    url: String,
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
}

const DEFAULT_HEADERS: &[(&str, &str)] = &[
    ("user-agent", "gitops-promote-tests"),
    ("accept", "application/vnd.github+json"),
    ("x-github-api-version", "2022-11-28"),
];

impl Api {
    fn new(github: &TestGithub) -> Self {
        Api {
            url: github.url(),
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("client"),
        }
    }

    /// Exactly these headers (nothing added) and body.
    fn raw(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&str>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.http.request(method, format!("{}{path}", self.url));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(body.to_string());
        }
        self.runtime.block_on(async {
            let response = request.send().await.expect("the test GitHub answers");
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            let text = response.text().await.expect("body");
            let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
            Answer {
                status,
                headers,
                body,
            }
        })
    }

    fn call_as(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> Answer {
        let auth = format!("Bearer {token}");
        let mut headers = DEFAULT_HEADERS.to_vec();
        headers.push(("authorization", &auth));
        let body = body.map(|b| b.to_string());
        self.raw(method, path, &headers, body.as_deref())
    }

    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call_as(TOKEN, method, path, body)
    }

    fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None)
    }

    fn post(&self, path: &str, body: Value) -> Answer {
        self.call("POST", path, Some(body))
    }

    fn patch(&self, path: &str, body: Value) -> Answer {
        self.call("PATCH", path, Some(body))
    }

    /// A commit on top of `parent` that writes `text` to `path` (blob → tree → commit), through the API.
    fn commit_file(&self, parent: &str, path: &str, text: &str, message: &str) -> String {
        let commit = self.get(&format!("/repos/org/app/git/commits/{parent}"));
        assert_eq!(commit.status, 200, "{}", commit.body);
        let blob = self.post(
            "/repos/org/app/git/blobs",
            json!({ "content": base64::engine::general_purpose::STANDARD.encode(text), "encoding": "base64" }),
        );
        assert_eq!(blob.status, 201, "{}", blob.body);
        let tree = self.post(
            "/repos/org/app/git/trees",
            json!({
                "base_tree": commit.body["tree"]["sha"],
                "tree": [{ "path": path, "mode": "100644", "type": "blob", "sha": blob.body["sha"] }],
            }),
        );
        assert_eq!(tree.status, 201, "{}", tree.body);
        let created = self.post(
            "/repos/org/app/git/commits",
            json!({ "message": message, "tree": tree.body["sha"], "parents": [parent] }),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        created.body["sha"].as_str().expect("sha").to_string()
    }

    fn branch(&self, name: &str) -> String {
        let name = name.replace('/', "%2F");
        let answer = self.get(&format!("/repos/org/app/git/ref/heads%2F{name}"));
        assert_eq!(answer.status, 200, "{}", answer.body);
        answer.body["object"]["sha"]
            .as_str()
            .expect("sha")
            .to_string()
    }

    /// A branch `name` off main with one commit changing the kustomization.
    fn branch_with_change(&self, name: &str, tag: &str) -> String {
        let main = self.branch("main");
        let text = format!("images:\n  - name: app\n    newTag: {tag}\n");
        let sha = self.commit_file(&main, KUSTOMIZATION, &text, &format!("promote app {tag}"));
        let created = self.post(
            "/repos/org/app/git/refs",
            json!({ "ref": format!("refs/heads/{name}"), "sha": sha }),
        );
        assert_eq!(created.status, 201, "{}", created.body);
        sha
    }
}

/// The fake's own answers follow the description's response schemas (so clients that deserialize GitHub's
/// models parse them).
fn assert_answers_follow_the_description(github: &TestGithub) {
    let mismatches = github.response_mismatches();
    assert!(
        mismatches.is_empty(),
        "answers break the description:\n{}",
        mismatches.join("\n")
    );
}

#[test]
fn requests_the_description_rejects_get_422_and_are_recorded() {
    let (_scratch, github) = setup();
    let api = Api::new(&github);
    let main = api.branch("main");
    let tree_sha =
        api.get(&format!("/repos/org/app/git/commits/{main}")).body["tree"]["sha"].clone();

    let mode_as_number = api.post(
        "/repos/org/app/git/trees",
        json!({ "base_tree": tree_sha, "tree": [{ "path": "a.txt", "mode": 644, "type": "blob", "content": "x" }] }),
    );
    assert_eq!(mode_as_number.status, 422);
    let message = mode_as_number.message();
    assert!(message.starts_with("Invalid request.\n\n"), "{message}");
    assert!(message.contains("/tree/0/mode"), "{message}");

    let draft_as_text = api.post(
        "/repos/org/app/pulls",
        json!({ "title": "t", "head": "org:x", "base": "main", "draft": "yes" }),
    );
    assert_eq!(draft_as_text.status, 422);
    assert!(
        draft_as_text.message().contains("/draft"),
        "{}",
        draft_as_text.message()
    );

    // `body` is not nullable: a client must leave it out rather than send null.
    let null_body = api.post(
        "/repos/org/app/pulls",
        json!({ "title": "t", "head": "org:x", "base": "main", "body": null }),
    );
    assert_eq!(null_body.status, 422);

    let make_latest_bool = api.post(
        "/repos/org/app/releases",
        json!({ "tag_name": "v1", "make_latest": true }),
    );
    assert_eq!(make_latest_bool.status, 422);
    let missing_required = api.post("/repos/org/app/git/refs", json!({ "ref": "refs/heads/x" }));
    assert_eq!(missing_required.status, 422);
    assert!(
        missing_required
            .message()
            .contains("\"sha\" is a required property")
    );

    let unknown_state = api.get("/repos/org/app/pulls?state=merged");
    assert_eq!(unknown_state.status, 422);
    assert!(unknown_state.message().contains("query parameter `state`"));
    let not_a_number = api.get("/repos/org/app/pulls/abc");
    assert_eq!(not_a_number.status, 422);
    assert!(
        not_a_number
            .message()
            .contains("path parameter `pull_number`")
    );

    // A ref's slash must be sent as %2F; `git/refs/{ref}` has no GET in the description.
    assert_eq!(api.get("/repos/org/app/git/ref/heads/main").status, 404);
    assert_eq!(api.get("/repos/org/app/git/refs/heads%2Fmain").status, 404);
    let malformed = api.raw(
        "POST",
        "/repos/org/app/git/blobs",
        &[
            ("user-agent", "t"),
            ("accept", "application/vnd.github+json"),
            ("authorization", &format!("token {TOKEN}")),
        ],
        Some("{not json"),
    );
    assert_eq!(malformed.status, 400);
    assert_eq!(malformed.message(), "Problems parsing JSON");

    let violations = github.take_violations();
    assert_eq!(violations.len(), 10, "{violations:#?}");
    assert!(
        violations[0].starts_with("POST /repos/org/app/git/trees: request body at /tree/0/mode")
    );
    assert!(
        violations
            .iter()
            .any(|v| v.contains("GET /repos/org/app/git/ref/heads/main"))
    );
    // Nothing was written.
    assert_eq!(github.pulls(), vec![]);
    assert!(
        github
            .requests()
            .iter()
            .all(|r| r.method == "GET" || r.status >= 400)
    );
    assert_answers_follow_the_description(&github);
}

#[test]
#[should_panic(expected = "request(s) that GitHub's OpenAPI description rejects")]
fn a_test_whose_client_breaks_the_description_fails_when_the_fake_is_dropped() {
    let (_scratch, github) = setup();
    let api = Api::new(&github);
    api.patch(
        "/repos/org/app/git/refs/heads%2Fmain",
        json!({ "sha": "0000000000000000000000000000000000000000", "force": "yes" }),
    );
}

#[test]
fn git_data_writes_real_objects_and_refs_in_the_bare_repository() {
    let (scratch, github) = setup();
    let api = Api::new(&github);

    let repo = api.get("/repos/org/app");
    assert_eq!(repo.status, 200, "{}", repo.body);
    assert_eq!(repo.body["default_branch"], "main");
    assert_eq!(repo.body["full_name"], "org/app");
    assert_eq!(repo.body["owner"]["login"], "org");
    assert_eq!(repo.body["permissions"]["push"], true);

    let main = api.branch("main");
    assert_eq!(main, git(&scratch.origin, &["rev-parse", "main"]));
    let missing = api.get("/repos/org/app/git/ref/heads%2Fnope");
    assert_eq!(
        (missing.status, missing.message().as_str()),
        (404, "Not Found")
    );

    // A tree entry with inline content at a nested path that does not exist yet, one by blob SHA.
    let blob = api.post("/repos/org/app/git/blobs", json!({ "content": "hello\n" }));
    assert_eq!(blob.status, 201);
    let base_tree =
        api.get(&format!("/repos/org/app/git/commits/{main}")).body["tree"]["sha"].clone();
    let tree = api.post(
        "/repos/org/app/git/trees",
        json!({
            "base_tree": base_tree,
            "tree": [
                { "path": "flux/apps/new/kustomization.yaml", "mode": "100644", "type": "blob", "content": "resources: []\n" },
                { "path": "README.md", "mode": "100644", "type": "blob", "sha": blob.body["sha"] },
            ],
        }),
    );
    assert_eq!(tree.status, 201, "{}", tree.body);
    let entries: Vec<&str> = tree.body["tree"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["path"].as_str().expect("path"))
        .collect();
    assert_eq!(entries, ["README.md", "flux"]);

    let commit = api.post(
        "/repos/org/app/git/commits",
        json!({ "message": "add new app", "tree": tree.body["sha"], "parents": [main] }),
    );
    assert_eq!(commit.status, 201, "{}", commit.body);
    // GitHub signs the commits it authors (no author given).
    assert_eq!(commit.body["verification"]["verified"], true);
    assert_eq!(commit.body["verification"]["reason"], "valid");
    assert_eq!(commit.body["author"]["name"], "github-actions[bot]");
    let sha = commit.body["sha"].as_str().expect("sha").to_string();

    let created = api.post(
        "/repos/org/app/git/refs",
        json!({ "ref": "refs/heads/promote", "sha": sha }),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["ref"], "refs/heads/promote");
    assert_eq!(git(&scratch.origin, &["rev-parse", "promote"]), sha);
    assert_eq!(
        git(
            &scratch.origin,
            &["show", "promote:flux/apps/new/kustomization.yaml"]
        ),
        "resources: []"
    );
    assert_eq!(
        git(&scratch.origin, &["show", "promote:README.md"]),
        "hello"
    );
    assert_eq!(
        git(
            &scratch.origin,
            &["show", &format!("promote:{KUSTOMIZATION}")]
        ),
        git(&scratch.origin, &["show", &format!("main:{KUSTOMIZATION}")])
    );
    let again = api.post(
        "/repos/org/app/git/refs",
        json!({ "ref": "refs/heads/promote", "sha": sha }),
    );
    assert_eq!(
        (again.status, again.message().as_str()),
        (422, "Reference already exists")
    );

    let file = api.get("/repos/org/app/contents/flux/apps/new/kustomization.yaml?ref=promote");
    assert_eq!(file.status, 200, "{}", file.body);
    assert_eq!(file.body["encoding"], "base64");
    let content: String = file.body["content"]
        .as_str()
        .expect("content")
        .split('\n')
        .collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(content)
        .expect("base64");
    assert_eq!(decoded, b"resources: []\n");
    assert_eq!(
        file.body["sha"].as_str(),
        Some(
            git(
                &scratch.origin,
                &["rev-parse", "promote:flux/apps/new/kustomization.yaml"]
            )
            .as_str()
        )
    );
    assert_eq!(
        api.get("/repos/org/app/contents/flux/apps/new/kustomization.yaml")
            .status,
        404
    );
    let listing = api.get("/repos/org/app/contents/flux/apps?ref=promote");
    assert_eq!(
        listing.body.as_array().map(Vec::len),
        Some(2),
        "{}",
        listing.body
    );

    // main moves on: promote's commit is no longer a fast forward of it.
    let other = api.commit_file(&main, "other.txt", "x\n", "other");
    let moved = api.patch(
        "/repos/org/app/git/refs/heads%2Fmain",
        json!({ "sha": other }),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    let not_ff = api.patch(
        "/repos/org/app/git/refs/heads%2Fmain",
        json!({ "sha": sha }),
    );
    assert_eq!(
        (not_ff.status, not_ff.message().as_str()),
        (422, "Update is not a fast forward")
    );
    assert_eq!(git(&scratch.origin, &["rev-parse", "main"]), other);
    let forced = api.patch(
        "/repos/org/app/git/refs/heads%2Fmain",
        json!({ "sha": sha, "force": true }),
    );
    assert_eq!(forced.status, 200);
    assert_eq!(git(&scratch.origin, &["rev-parse", "main"]), sha);
    let unknown = api.patch(
        "/repos/org/app/git/refs/heads%2Fmain",
        json!({ "sha": "1234567890123456789012345678901234567890" }),
    );
    assert_eq!(
        (unknown.status, unknown.message().as_str()),
        (422, "Object does not exist")
    );
    let no_ref = api.patch(
        "/repos/org/app/git/refs/heads%2Fnope",
        json!({ "sha": sha }),
    );
    assert_eq!(
        (no_ref.status, no_ref.message().as_str()),
        (422, "Reference does not exist")
    );

    // With an author, GitHub does not sign.
    let authored = api.post(
        "/repos/org/app/git/commits",
        json!({
            "message": "by a person",
            "tree": tree.body["sha"],
            "parents": [sha],
            "author": { "name": "Dev", "email": "dev@example.com", "date": "2026-01-02T03:04:05+02:00" },
        }),
    );
    assert_eq!(authored.status, 201, "{}", authored.body);
    assert_eq!(authored.body["verification"]["verified"], false);
    assert_eq!(authored.body["author"]["date"], "2026-01-02T01:04:05Z");
    let bad_parent = api.post(
        "/repos/org/app/git/commits",
        json!({ "message": "m", "tree": tree.body["sha"], "parents": ["1234567890123456789012345678901234567890"] }),
    );
    assert_eq!(bad_parent.status, 422);

    let deleted = api.call("DELETE", "/repos/org/app/git/refs/heads%2Fpromote", None);
    assert_eq!(deleted.status, 204);
    assert_eq!(github.branch_sha("promote"), None);
    assert_answers_follow_the_description(&github);
}

#[test]
fn pull_requests_are_found_by_owner_and_branch_updated_labelled_reviewed_and_merged() {
    let (scratch, github) = setup();
    let api = Api::new(&github);
    api.branch_with_change("promote/staging", "1.1.0");
    api.branch_with_change("other", "9.9.9");

    let created = api.post(
        "/repos/org/app/pulls",
        json!({ "title": "Promote app 1.1.0", "head": "promote/staging", "base": "main", "body": "first" }),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["number"], 1);
    assert_eq!(created.body["head"]["ref"], "promote/staging");
    assert_eq!(created.body["head"]["label"], "org:promote/staging");
    assert_eq!(created.body["base"]["ref"], "main");
    assert_eq!(
        created.body["html_url"],
        "https://github.com/org/app/pull/1"
    );
    assert_eq!(created.body["changed_files"], 1);
    let other = api.post(
        "/repos/org/app/pulls",
        json!({ "title": "Other", "head": "org:other", "base": "main", "draft": true }),
    );
    assert_eq!(other.status, 201, "{}", other.body);

    let mine = api.get("/repos/org/app/pulls?state=open&head=org%3Apromote%2Fstaging&base=main");
    assert_eq!(mine.status, 200, "{}", mine.body);
    let numbers = |answer: &Answer| -> Vec<u64> {
        answer
            .body
            .as_array()
            .expect("list")
            .iter()
            .map(|p| p["number"].as_u64().expect("number"))
            .collect()
    };
    assert_eq!(numbers(&mine), [1]);
    // A bare branch name is no filter at all.
    let bare = api.get("/repos/org/app/pulls?head=promote%2Fstaging");
    assert_eq!(numbers(&bare), [2, 1]);
    let elsewhere = api.get("/repos/org/app/pulls?head=someone%3Apromote%2Fstaging");
    assert_eq!(numbers(&elsewhere), Vec::<u64>::new());
    let paged = api.get("/repos/org/app/pulls?per_page=1");
    assert_eq!(numbers(&paged), [2]);
    let link = paged.header("link").expect("a Link header");
    assert!(link.contains("page=2>; rel=\"next\""), "{link}");

    let duplicate = api.post(
        "/repos/org/app/pulls",
        json!({ "title": "again", "head": "org:promote/staging", "base": "main" }),
    );
    assert_eq!(duplicate.status, 422);
    assert!(
        duplicate
            .message()
            .contains("A pull request already exists for org:promote/staging."),
        "{}",
        duplicate.message()
    );
    git(&scratch.origin, &["branch", "same-as-main", "main"]);
    let empty = api.post(
        "/repos/org/app/pulls",
        json!({ "title": "nothing", "head": "same-as-main", "base": "main" }),
    );
    assert_eq!(empty.status, 422);
    assert!(
        empty
            .message()
            .contains("No commits between main and same-as-main"),
        "{}",
        empty.message()
    );
    let no_branch = api.post(
        "/repos/org/app/pulls",
        json!({ "title": "t", "head": "missing", "base": "main" }),
    );
    assert_eq!(no_branch.status, 422);

    let updated = api.patch(
        "/repos/org/app/pulls/1",
        json!({ "title": "Promote app 1.2.0", "body": "second" }),
    );
    assert_eq!(updated.status, 200, "{}", updated.body);
    assert_eq!(updated.body["title"], "Promote app 1.2.0");
    // The head branch moves on: the pull request follows it.
    let tip = api.branch("promote/staging");
    let text = "images:\n  - name: app\n    newTag: 1.2.0\n";
    let next = api.commit_file(&tip, KUSTOMIZATION, text, "promote app 1.2.0");
    let moved = api.patch(
        "/repos/org/app/git/refs/heads%2Fpromote%2Fstaging",
        json!({ "sha": next }),
    );
    assert_eq!(moved.status, 200);
    assert_eq!(api.get("/repos/org/app/pulls/1").body["head"]["sha"], next);

    let labels = api.post(
        "/repos/org/app/issues/1/labels",
        json!({ "labels": ["promotion", "staging"] }),
    );
    assert_eq!(labels.status, 200, "{}", labels.body);
    assert_eq!(labels.body.as_array().map(Vec::len), Some(2));
    let again = api.post(
        "/repos/org/app/issues/1/labels",
        json!({ "labels": ["Promotion"] }),
    );
    assert_eq!(again.body.as_array().map(Vec::len), Some(2));

    let stranger = api.post(
        "/repos/org/app/pulls/1/requested_reviewers",
        json!({ "reviewers": ["alice"] }),
    );
    assert_eq!(stranger.status, 422);
    assert!(
        stranger
            .message()
            .starts_with("Reviews may only be requested from collaborators.")
    );
    github.collaborators(&["alice", "bob"]);
    let reviewers = api.post(
        "/repos/org/app/pulls/1/requested_reviewers",
        json!({ "reviewers": ["alice"], "team_reviewers": ["platform"] }),
    );
    assert_eq!(reviewers.status, 201, "{}", reviewers.body);
    assert_eq!(reviewers.body["requested_reviewers"][0]["login"], "alice");

    let pulls = github.pulls();
    let first = &pulls[0];
    assert_eq!(first.title, "Promote app 1.2.0");
    assert_eq!(first.body.as_deref(), Some("second"));
    assert_eq!(first.labels, ["promotion", "staging"]);
    assert_eq!(first.requested_reviewers, ["alice"]);
    assert_eq!(first.requested_teams, ["platform"]);
    assert_eq!(first.head_sha, next);
    assert!(pulls[1].draft);

    let merged = github.merge(1);
    assert_eq!(git(&scratch.origin, &["rev-parse", "main"]), merged);
    assert_eq!(
        git(&scratch.origin, &["show", &format!("main:{KUSTOMIZATION}")]),
        text.trim_end()
    );
    assert_eq!(
        git(&scratch.origin, &["log", "-1", "--format=%s%n%P", "main"]),
        format!(
            "Promote app 1.2.0 (#1)\n{}",
            git(&scratch.origin, &["rev-parse", "main~1"])
        )
    );
    let after = api.get("/repos/org/app/pulls/1");
    assert_eq!(after.body["state"], "closed");
    assert_eq!(after.body["merged"], true);
    assert_eq!(after.body["merge_commit_sha"], merged.as_str());
    assert_eq!(numbers(&api.get("/repos/org/app/pulls")), [2]);
    assert_eq!(numbers(&api.get("/repos/org/app/pulls?state=closed")), [1]);
    let closed = api.patch("/repos/org/app/pulls/2", json!({ "state": "closed" }));
    assert_eq!(closed.body["state"], "closed");
    assert_answers_follow_the_description(&github);
}

#[test]
fn a_concurrent_push_makes_the_next_update_not_a_fast_forward_until_reapplied() {
    let (scratch, github) = setup();
    let api = Api::new(&github);
    let base = api.branch_with_change("promote/staging", "1.1.0");
    let mine = api.commit_file(&base, "notes.txt", "mine\n", "mine");
    github.inject(Fault::MoveBranchFirst {
        branch: "promote/staging".to_string(),
    });
    let path = "/repos/org/app/git/refs/heads%2Fpromote%2Fstaging";
    let refused = api.patch(path, json!({ "sha": mine }));
    assert_eq!(
        (refused.status, refused.message().as_str()),
        (422, "Update is not a fast forward")
    );
    let theirs = git(&scratch.origin, &["rev-parse", "promote/staging"]);
    assert_ne!(theirs, base);
    assert_eq!(
        git(&scratch.origin, &["rev-parse", "promote/staging~1"]),
        base
    );
    // Re-read, re-apply on the new tip: accepted, and the fault does not fire again.
    assert_eq!(api.branch("promote/staging"), theirs);
    let reapplied = api.commit_file(&theirs, "notes.txt", "mine\n", "mine");
    let accepted = api.patch(path, json!({ "sha": reapplied }));
    assert_eq!(accepted.status, 200, "{}", accepted.body);
    assert_eq!(
        git(&scratch.origin, &["rev-parse", "promote/staging"]),
        reapplied
    );
    assert!(github.pending_faults().is_empty());
    assert_answers_follow_the_description(&github);
}

#[test]
fn server_errors_and_rate_limits_fire_once() {
    let (_scratch, github) = setup();
    let api = Api::new(&github);
    github.inject(Fault::ServerError {
        path_contains: "/pulls".to_string(),
        status: 502,
    });
    assert_eq!(api.get("/repos/org/app").status, 200);
    assert_eq!(api.get("/repos/org/app/pulls").status, 502);
    assert_eq!(api.get("/repos/org/app/pulls").status, 200);

    github.inject(Fault::SecondaryRateLimit {
        path_contains: "/git/ref/".to_string(),
        retry_after_secs: 7,
    });
    let limited = api.get("/repos/org/app/git/ref/heads%2Fmain");
    assert_eq!(limited.status, 403);
    assert_eq!(limited.header("retry-after"), Some("7"));
    assert!(
        limited
            .message()
            .starts_with("You have exceeded a secondary rate limit.")
    );
    assert_eq!(api.get("/repos/org/app/git/ref/heads%2Fmain").status, 200);

    github.inject(Fault::PrimaryRateLimit {
        path_contains: "/repos/org/app".to_string(),
        reset_in_secs: 60,
    });
    let exhausted = api.get("/repos/org/app");
    assert_eq!(exhausted.status, 403);
    assert_eq!(exhausted.header("x-ratelimit-remaining"), Some("0"));
    let reset: i64 = exhausted
        .header("x-ratelimit-reset")
        .expect("reset")
        .parse()
        .expect("epoch seconds");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    assert!((now + 55..=now + 65).contains(&reset), "{reset} vs {now}");
    let fine = api.get("/repos/org/app");
    assert_eq!(fine.status, 200);
    assert_ne!(fine.header("x-ratelimit-remaining"), Some("0"));

    let statuses: Vec<u16> = github.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [200, 502, 200, 403, 200, 403, 200]);
    assert_answers_follow_the_description(&github);
}

#[test]
fn refuses_what_github_refuses() {
    let (_scratch, github) = setup();
    let api = Api::new(&github);
    let auth = format!("Bearer {TOKEN}");

    let no_agent = api.raw(
        "GET",
        "/repos/org/app",
        &[
            ("accept", "application/vnd.github+json"),
            ("authorization", &auth),
        ],
        None,
    );
    assert_eq!(no_agent.status, 403);
    let anonymous = api.raw("GET", "/repos/org/app", &DEFAULT_HEADERS[..2], None);
    assert_eq!(
        (anonymous.status, anonymous.message().as_str()),
        (401, "Requires authentication")
    );
    let wrong = api.call_as("ghs_wrong", "GET", "/repos/org/app", None);
    assert_eq!(
        (wrong.status, wrong.message().as_str()),
        (401, "Bad credentials")
    );
    let token_scheme = api.raw(
        "GET",
        "/repos/org/app",
        &[
            ("user-agent", "t"),
            ("authorization", &format!("token {TOKEN}")),
        ],
        None,
    );
    assert_eq!(token_scheme.status, 200, "no Accept at all is fine");
    assert_eq!(api.get("/repos/other/app").status, 404);

    github.add_token("ghs_read_only", Permissions::READ_ONLY);
    let blob = api.call_as(
        "ghs_read_only",
        "POST",
        "/repos/org/app/git/blobs",
        Some(json!({ "content": "x" })),
    );
    assert_eq!(blob.status, 403);
    assert_eq!(blob.message(), "Resource not accessible by integration");
    assert_eq!(
        blob.header("x-accepted-github-permissions"),
        Some("contents=write")
    );

    api.branch_with_change("promote/staging", "1.1.0");
    let pull = json!({ "title": "t", "head": "org:promote/staging", "base": "main" });
    github.add_token(
        "ghs_contents_only",
        Permissions {
            contents_write: true,
            pull_requests_write: false,
            actions_may_create_pulls: true,
        },
    );
    let forbidden = api.call_as(
        "ghs_contents_only",
        "POST",
        "/repos/org/app/pulls",
        Some(pull.clone()),
    );
    assert_eq!(
        (forbidden.status, forbidden.message().as_str()),
        (403, "Resource not accessible by integration")
    );
    github.add_token(
        "ghs_setting_off",
        Permissions {
            actions_may_create_pulls: false,
            ..Permissions::ALL
        },
    );
    let setting = api.call_as(
        "ghs_setting_off",
        "POST",
        "/repos/org/app/pulls",
        Some(pull),
    );
    assert_eq!(setting.status, 403);
    assert_eq!(
        setting.body["message"],
        "GitHub Actions is not permitted to create or approve pull requests."
    );
    assert_eq!(github.pulls(), vec![]);
    github.revoke_token("ghs_read_only");
    assert_eq!(
        api.call_as("ghs_read_only", "GET", "/repos/org/app", None)
            .status,
        401
    );

    let html_only = api.raw(
        "GET",
        "/repos/org/app",
        &[
            ("user-agent", "t"),
            ("accept", "text/html"),
            ("authorization", &auth),
        ],
        None,
    );
    assert_eq!(html_only.status, 415);
    let violations = github.take_violations();
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert!(
        violations[0].contains("Accept `text/html`"),
        "{}",
        violations[0]
    );
    assert_answers_follow_the_description(&github);
}

#[test]
fn releases_are_created_found_by_tag_and_latest() {
    let (scratch, github) = setup();
    let api = Api::new(&github);
    assert_eq!(api.get("/repos/org/app/releases/latest").status, 404);
    let created = api.post(
        "/repos/org/app/releases",
        json!({ "tag_name": "v1.0.0", "name": "v1.0.0", "body": "notes", "make_latest": "true" }),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(
        git(&scratch.origin, &["rev-parse", "v1.0.0^{commit}"]),
        git(&scratch.origin, &["rev-parse", "main"])
    );
    let again = api.post("/repos/org/app/releases", json!({ "tag_name": "v1.0.0" }));
    assert_eq!(again.status, 422);
    let draft = api.post(
        "/repos/org/app/releases",
        json!({ "tag_name": "v1.1.0", "draft": true }),
    );
    assert_eq!(draft.status, 201);
    assert_eq!(api.get("/repos/org/app/releases/tags/v1.1.0").status, 404);
    let by_tag = api.get("/repos/org/app/releases/tags/v1.0.0");
    assert_eq!(by_tag.body["body"], "notes");
    let id = draft.body["id"].as_u64().expect("id");
    let published = api.patch(
        &format!("/repos/org/app/releases/{id}"),
        json!({ "draft": false }),
    );
    assert_eq!(published.status, 200, "{}", published.body);
    assert_eq!(
        api.get("/repos/org/app/releases/latest").body["tag_name"],
        "v1.1.0"
    );
    assert!(!git(&scratch.origin, &["tag", "--list", "v1.1.0"]).is_empty());
    assert_answers_follow_the_description(&github);
}

#[test]
fn check_runs_and_commit_statuses_are_seeded_listed_latest_first_and_refused_as_github_refuses() {
    let (_scratch, github) = setup();
    let api = Api::new(&github);
    let sha = api.branch("main");

    // Check runs: created through the API and the helper; the newest run per name is the one listed.
    let first = api.post(
        "/repos/org/app/check-runs",
        json!({ "name": "test", "head_sha": sha, "status": "completed", "conclusion": "failure" }),
    );
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["conclusion"], "failure");
    github.add_check_run("test", &sha, Some("success"));
    github.add_check_run("lint", &sha, None);
    for n in 0..3 {
        github.add_check_run(&format!("extra-{n}"), &sha, Some("skipped"));
    }
    let runs = api.get(&format!(
        "/repos/org/app/commits/{sha}/check-runs?per_page=2"
    ));
    assert_eq!(runs.status, 200, "{}", runs.body);
    assert_eq!(
        runs.body["total_count"], 5,
        "latest per name: {}",
        runs.body
    );
    assert_eq!(runs.body["check_runs"].as_array().expect("runs").len(), 2);
    assert!(
        runs.header("link")
            .is_some_and(|l| l.contains("rel=\"next\""))
    );
    let page3 = api.get(&format!(
        "/repos/org/app/commits/{sha}/check-runs?per_page=2&page=3"
    ));
    let test_run = &page3.body["check_runs"][0];
    assert_eq!(
        (test_run["name"].as_str(), test_run["conclusion"].as_str()),
        (Some("test"), Some("success")),
        "{}",
        page3.body
    );
    let all = api.get(&format!(
        "/repos/org/app/commits/{sha}/check-runs?filter=all"
    ));
    assert_eq!(all.body["total_count"], 6);
    let by_branch = api.get("/repos/org/app/commits/heads%2Fmain/check-runs?check_name=lint");
    assert_eq!(
        by_branch.body["check_runs"][0]["status"], "in_progress",
        "{}",
        by_branch.body
    );

    // Statuses: 422 for an unknown SHA or state; the combined status is the newest per context.
    let unknown = api.post(
        &format!("/repos/org/app/statuses/{}", "0".repeat(40)),
        json!({ "state": "success", "context": "ci" }),
    );
    assert_eq!(unknown.status, 422, "{}", unknown.body);
    assert!(unknown.message().contains("No commit found for SHA"));
    let bad_state = api.post(
        &format!("/repos/org/app/statuses/{sha}"),
        json!({ "state": "green", "context": "ci" }),
    );
    assert_eq!(bad_state.status, 422, "{}", bad_state.body);
    assert_eq!(
        github.take_violations().len(),
        1,
        "the bad state breaks the description"
    );
    for state in ["pending", "failure", "success"] {
        let posted = api.post(
            &format!("/repos/org/app/statuses/{sha}"),
            json!({ "state": state, "context": "ci/e2e", "target_url": "https://ci.example.com/1" }),
        );
        assert_eq!(posted.status, 201, "{}", posted.body);
    }
    github.add_status(&sha, "security", "pending", None);
    let combined = api.get(&format!("/repos/org/app/commits/{sha}/status"));
    assert_eq!(combined.status, 200, "{}", combined.body);
    assert_eq!(combined.body["total_count"], 2);
    assert_eq!(combined.body["state"], "pending");
    assert_eq!(combined.body["statuses"][1]["state"], "success");
    let listed = api.get(&format!(
        "/repos/org/app/commits/{sha}/statuses?per_page=100"
    ));
    assert_eq!(listed.body.as_array().expect("statuses").len(), 4);
    assert_eq!(github.statuses().len(), 4);
    let missing = api.get("/repos/org/app/commits/nonexistent-branch/status");
    assert_eq!(missing.status, 422, "{}", missing.body);

    // A token without `checks: read` / `statuses: read`.
    github.deny("checks=read");
    github.deny("statuses=read");
    let forbidden = api.get(&format!("/repos/org/app/commits/{sha}/check-runs"));
    assert_eq!(
        (forbidden.status, forbidden.message().as_str()),
        (403, "Resource not accessible by integration")
    );
    assert_eq!(
        forbidden.header("x-accepted-github-permissions"),
        Some("checks=read")
    );
    let forbidden = api.get(&format!("/repos/org/app/commits/{sha}/status"));
    assert_eq!(forbidden.status, 403);
    github.allow("checks=read");
    assert_eq!(
        api.get(&format!("/repos/org/app/commits/{sha}/check-runs"))
            .status,
        200
    );
    assert_answers_follow_the_description(&github);
}
