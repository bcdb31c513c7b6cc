//! The served operations: each answers from the repository and the state, in the shape of the description's
//! example for the operation with every field the state knows overwritten.

use std::collections::BTreeMap;

use base64::Engine as _;
use git2::{ObjectType, Oid, Repository};
use serde_json::{Map, Value, json};

use super::git::{self, BOT_EMAIL, BOT_NAME};
use super::openapi::{Operation, SPEC};
use super::state::{CheckRun, CommitStatus, Fault, Label, Permissions, PullState, Release, State};

mod checks;
mod git_data;
mod pulls;
mod releases;
use checks::*;
use git_data::*;
use pulls::*;
pub use pulls::{pull_payload, squash_merge};
use releases::*;

const BOT_ID: u64 = 41_898_282;
const OWNER_ID: u64 = 9_919;
const REPO_ID: u64 = 1_296_269;
pub const NOT_ACCESSIBLE: &str = "Resource not accessible by integration";

/// An answer: status, JSON (or text) body, extra headers.
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub text: Option<String>,
    pub headers: Vec<(String, String)>,
}

impl Reply {
    pub fn json(status: u16, body: Value) -> Self {
        Reply {
            status,
            body: Some(body),
            text: None,
            headers: Vec::new(),
        }
    }

    pub fn text(status: u16, text: &str) -> Self {
        Reply {
            status,
            body: None,
            text: Some(text.to_string()),
            headers: Vec::new(),
        }
    }

    fn empty(status: u16) -> Self {
        Reply {
            status,
            body: None,
            text: None,
            headers: Vec::new(),
        }
    }

    /// GitHub's `basic-error`.
    pub fn message(status: u16, message: &str, docs: &str) -> Self {
        Reply::json(
            status,
            json!({ "message": message, "documentation_url": docs, "status": status.to_string() }),
        )
    }

    pub fn header(&mut self, name: &str, value: &str) {
        self.headers.push((name.to_string(), value.to_string()));
    }
}

pub struct Ctx<'a> {
    pub op: &'a Operation,
    pub params: &'a BTreeMap<String, String>,
    pub query: &'a [(String, String)],
    pub body: &'a Value,
    pub accept: &'a str,
    pub permissions: Permissions,
    pub base: &'a str,
    pub owner: &'a str,
    pub name: &'a str,
    pub repo: &'a Repository,
    pub state: &'a mut State,
}

pub fn handle(mut ctx: Ctx<'_>) -> Reply {
    let needs = match ctx.op.id.as_str() {
        "git/create-blob"
        | "git/create-tree"
        | "git/create-commit"
        | "git/create-ref"
        | "git/update-ref"
        | "git/delete-ref"
        | "repos/create-release"
        | "repos/update-release" => Some(("contents", ctx.permissions.contents_write)),
        "pulls/merge" => Some(("contents", ctx.permissions.contents_write)),
        "checks/create" => Some((
            "checks",
            !ctx.state.denied.iter().any(|d| d == "checks=write"),
        )),
        "pulls/create" | "pulls/update" | "issues/add-labels" | "pulls/request-reviewers" => {
            Some(("pull_requests", ctx.permissions.pull_requests_write))
        }
        _ => None,
    };
    if let Some((permission, false)) = needs {
        let mut reply = Reply::message(403, NOT_ACCESSIBLE, &ctx.op.docs_url);
        reply.header(
            "x-accepted-github-permissions",
            &format!("{permission}=write"),
        );
        return reply;
    }
    match ctx.op.id.as_str() {
        "repos/get" => get_repo(&ctx),
        "git/get-ref" => get_ref(&ctx),
        "repos/get-branch" => get_branch(&ctx),
        "repos/compare-commits-with-basehead" => compare(&ctx),
        "git/get-commit" => get_commit(&ctx),
        "repos/get-content" => get_content(&ctx),
        "git/create-blob" => create_blob(&ctx),
        "git/create-tree" => create_tree(&ctx),
        "git/create-commit" => create_commit(&mut ctx),
        "git/create-ref" => create_ref(&ctx),
        "git/update-ref" => update_ref(&mut ctx),
        "git/delete-ref" => delete_ref(&mut ctx),
        "pulls/list" => list_pulls(&mut ctx),
        "pulls/create" => create_pull(&mut ctx),
        "pulls/get" => get_pull(&mut ctx),
        "pulls/update" => update_pull(&mut ctx),
        "pulls/merge" => merge_pull(&mut ctx),
        "issues/add-labels" => add_labels(&mut ctx),
        "pulls/request-reviewers" => request_reviewers(&mut ctx),
        "repos/get-release-by-tag" => get_release_by_tag(&ctx),
        "repos/get-latest-release" => get_latest_release(&ctx),
        "repos/create-release" => create_release(&mut ctx),
        "repos/update-release" => update_release(&mut ctx),
        "checks/list-for-ref" => list_check_runs(&ctx),
        "checks/create" => create_check_run(&mut ctx),
        "repos/get-combined-status-for-ref" => combined_status(&ctx),
        "repos/list-commit-statuses-for-ref" => list_statuses(&ctx),
        "repos/create-commit-status" => create_status(&mut ctx),
        other => Reply::message(501, &format!("{other} is not served"), &ctx.op.docs_url),
    }
}

// ---- shared shapes ------------------------------------------------------------------------------------

impl Ctx<'_> {
    fn api(&self, rest: &str) -> String {
        format!("{}/repos/{}/{}{rest}", self.base, self.owner, self.name)
    }

    fn html(&self, rest: &str) -> String {
        format!("https://github.com/{}/{}{rest}", self.owner, self.name)
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn param(&self, name: &str) -> &str {
        self.params.get(name).map(String::as_str).unwrap_or("")
    }

    fn docs(&self) -> &str {
        &self.op.docs_url
    }

    fn unprocessable(&self, message: &str) -> Reply {
        Reply::message(422, message, self.docs())
    }

    fn not_found(&self) -> Reply {
        Reply::message(404, "Not Found", self.docs())
    }

    fn validation_failed(&self, errors: Value) -> Reply {
        Reply::json(
            422,
            json!({
                "message": "Validation Failed",
                "errors": errors,
                "documentation_url": self.docs(),
                "status": "422",
            }),
        )
    }

    /// The description's example answer of operation `id`, pointed at this server and repository.
    fn example(&self, id: &str, status: u16, name: Option<&str>) -> Value {
        let op = SPEC
            .operations
            .iter()
            .find(|op| op.id == id)
            .unwrap_or_else(|| panic!("operation {id} is not served"));
        let mut value = op.example(status, name);
        self.localize(&mut value);
        value
    }

    fn localize(&self, value: &mut Value) {
        match value {
            Value::String(text)
                if text.contains("api.github.com") || text.contains("octocat/Hello-World") =>
            {
                *text = text.replace("https://api.github.com", self.base).replace(
                    "octocat/Hello-World",
                    &format!("{}/{}", self.owner, self.name),
                );
            }
            Value::Array(items) => items.iter_mut().for_each(|item| self.localize(item)),
            Value::Object(map) => map.values_mut().for_each(|item| self.localize(item)),
            _ => {}
        }
    }

    fn user(&self, login: &str, id: u64, kind: &str) -> Value {
        let url = format!("{}/users/{login}", self.base);
        json!({
            "login": login,
            "id": id,
            "node_id": format!("U_{id}"),
            "avatar_url": format!("https://avatars.githubusercontent.com/u/{id}?v=4"),
            "gravatar_id": "",
            "url": url,
            "html_url": format!("https://github.com/{login}"),
            "followers_url": format!("{url}/followers"),
            "following_url": format!("{url}/following{{/other_user}}"),
            "gists_url": format!("{url}/gists{{/gist_id}}"),
            "starred_url": format!("{url}/starred{{/owner}}{{/repo}}"),
            "subscriptions_url": format!("{url}/subscriptions"),
            "organizations_url": format!("{url}/orgs"),
            "repos_url": format!("{url}/repos"),
            "events_url": format!("{url}/events{{/privacy}}"),
            "received_events_url": format!("{url}/received_events"),
            "type": kind,
            "site_admin": false,
            "user_view_type": "public",
        })
    }

    fn bot(&self) -> Value {
        self.user(BOT_NAME, BOT_ID, "Bot")
    }

    fn owner_user(&self) -> Value {
        self.user(self.owner, OWNER_ID, "Organization")
    }

    fn reviewer(&self, login: &str) -> Value {
        let index = self
            .state
            .collaborators
            .iter()
            .position(|c| c.eq_ignore_ascii_case(login))
            .unwrap_or(0);
        self.user(login, 10_000 + index as u64, "User")
    }

    fn team(&self, slug: &str) -> Value {
        let id = 100 + slug.len() as u64;
        let url = format!("{}/organizations/{OWNER_ID}/team/{id}", self.base);
        json!({
            "id": id,
            "node_id": format!("T_{id}"),
            "url": url,
            "html_url": format!("https://github.com/orgs/{}/teams/{slug}", self.owner),
            "name": slug,
            "slug": slug,
            "description": null,
            "privacy": "closed",
            "notification_setting": "notifications_enabled",
            "permission": "pull",
            "members_url": format!("{url}/members{{/member}}"),
            "repositories_url": format!("{url}/repos"),
            "parent": null,
            "type": "organization",
        })
    }

    /// Overwrites the identity of a repository object (the description's examples are octocat/Hello-World).
    fn overlay_repo(&self, repo: &mut Value) {
        let default_branch = git::default_branch(self.repo);
        let fields = [
            ("id", json!(REPO_ID)),
            ("node_id", json!(format!("R_{REPO_ID}"))),
            ("name", json!(self.name)),
            ("full_name", json!(format!("{}/{}", self.owner, self.name))),
            ("owner", self.owner_user()),
            ("html_url", json!(self.html(""))),
            ("url", json!(self.api(""))),
            ("default_branch", json!(default_branch)),
        ];
        if let Value::Object(map) = repo {
            for (key, value) in fields {
                map.insert(key.to_string(), value);
            }
        }
    }

    fn ref_json(&self, full_name: &str, oid: Oid) -> Value {
        let kind = git::kind_name(git::kind_of(self.repo, oid));
        let object_url = match kind {
            "tag" => self.api(&format!("/git/tags/{oid}")),
            "tree" => self.api(&format!("/git/trees/{oid}")),
            "blob" => self.api(&format!("/git/blobs/{oid}")),
            _ => self.api(&format!("/git/commits/{oid}")),
        };
        json!({
            "ref": full_name,
            "node_id": format!("REF_{}", base64::engine::general_purpose::STANDARD.encode(full_name)),
            "url": self.api(&format!("/git/{full_name}")),
            "object": { "type": kind, "sha": oid.to_string(), "url": object_url },
        })
    }

    fn commit_json(&self, oid: Oid) -> Value {
        let commit = self.repo.find_commit(oid).expect("an existing commit");
        let mut value = self.example("git/get-commit", 200, None);
        let person = |sig: git2::Signature<'_>| {
            json!({
                "name": sig.name().unwrap_or_default(),
                "email": sig.email().unwrap_or_default(),
                "date": git::format_date(sig.when().seconds()),
            })
        };
        let sha = oid.to_string();
        let verification = match self.state.verified.get(&sha) {
            Some((true, reason)) => json!({
                "verified": true,
                "reason": reason,
                "signature": "-----BEGIN PGP SIGNATURE-----\n\nwsBcBAABCAAQBQJ0ZXN0CRBK7hj4Ov3rIwAAdHIIAH8=\n-----END PGP SIGNATURE-----\n",
                "payload": raw_commit(self.repo, oid),
                "verified_at": git::format_date(commit.committer().when().seconds()),
            }),
            Some((false, reason)) => json!({
                "verified": false,
                "reason": reason,
                "signature": commit_signature(self.repo, oid),
                "payload": commit_signature(self.repo, oid).map(|_| raw_commit(self.repo, oid)),
                "verified_at": null,
            }),
            None => json!({
                "verified": false, "reason": "unsigned", "signature": null, "payload": null, "verified_at": null,
            }),
        };
        let parents: Vec<Value> = commit
            .parent_ids()
            .map(|parent| {
                json!({
                    "sha": parent.to_string(),
                    "url": self.api(&format!("/git/commits/{parent}")),
                    "html_url": self.html(&format!("/commit/{parent}")),
                })
            })
            .collect();
        let fields = [
            ("sha", json!(sha)),
            ("node_id", json!(format!("C_{sha}"))),
            ("url", json!(self.api(&format!("/git/commits/{sha}")))),
            ("html_url", json!(self.html(&format!("/commit/{sha}")))),
            ("author", person(commit.author())),
            ("committer", person(commit.committer())),
            ("message", json!(commit.message().unwrap_or_default())),
            (
                "tree",
                json!({ "sha": commit.tree_id().to_string(), "url": self.api(&format!("/git/trees/{}", commit.tree_id())) }),
            ),
            ("parents", Value::Array(parents)),
            ("verification", verification),
        ];
        set_fields(&mut value, fields);
        value
    }

    /// A commit as the REST commits endpoints show it (`commit` in the description), from `template` (one of the
    /// description's examples) with every field git knows overwritten; no diff stats or files.
    fn rest_commit_json(&self, oid: Oid, template: &Value) -> Value {
        let commit = self.repo.find_commit(oid).expect("an existing commit");
        let git_commit = self.commit_json(oid);
        let sha = oid.to_string();
        let mut value = template.clone();
        if let Value::Object(map) = &mut value {
            map.remove("stats");
            map.remove("files");
        }
        let parents: Vec<Value> = commit
            .parent_ids()
            .map(|parent| {
                json!({
                    "sha": parent.to_string(),
                    "url": self.api(&format!("/commits/{parent}")),
                    "html_url": self.html(&format!("/commit/{parent}")),
                })
            })
            .collect();
        set_fields(
            &mut value,
            [
                ("url", json!(self.api(&format!("/commits/{sha}")))),
                ("sha", json!(sha)),
                ("node_id", json!(format!("C_{sha}"))),
                ("html_url", json!(self.html(&format!("/commit/{sha}")))),
                (
                    "comments_url",
                    json!(self.api(&format!("/commits/{sha}/comments"))),
                ),
                (
                    "commit",
                    json!({
                        "url": git_commit["url"],
                        "author": git_commit["author"],
                        "committer": git_commit["committer"],
                        "message": git_commit["message"],
                        "tree": git_commit["tree"],
                        "comment_count": 0,
                        "verification": git_commit["verification"],
                    }),
                ),
                // The commits here are authored by names, not GitHub accounts.
                ("author", Value::Null),
                ("committer", Value::Null),
                ("parents", Value::Array(parents)),
            ],
        );
        value
    }

    fn label_json(&self, label: &Label) -> Value {
        json!({
            "id": label.id,
            "node_id": format!("LA_{}", label.id),
            "url": self.api(&format!("/labels/{}", label.name.replace(' ', "%20"))),
            "name": label.name,
            "description": label.description,
            "color": label.color,
            "default": false,
        })
    }

    fn pull_json(&self, pull: &PullState, full: bool) -> Value {
        let mut value = if full {
            self.example("pulls/get", 200, None)
        } else {
            match self.example("pulls/list", 200, None) {
                Value::Array(mut items) if !items.is_empty() => items.remove(0),
                other => panic!("pulls/list example is not a list: {other}"),
            }
        };
        let n = pull.number;
        let labels: Vec<Value> = pull
            .labels
            .iter()
            .filter_map(|name| self.state.labels.iter().find(|l| l.name == *name))
            .map(|label| self.label_json(label))
            .collect();
        let reviewers: Vec<Value> = pull
            .requested_reviewers
            .iter()
            .map(|login| self.reviewer(login))
            .collect();
        let teams: Vec<Value> = pull
            .requested_teams
            .iter()
            .map(|slug| self.team(slug))
            .collect();
        let branch = |name: &str, sha: &str, template: &Value| {
            let mut repo = template["repo"].clone();
            self.overlay_repo(&mut repo);
            json!({
                "label": format!("{}:{name}", self.owner),
                "ref": name,
                "sha": sha,
                "user": self.owner_user(),
                "repo": repo,
            })
        };
        let base_sha = git::branch_tip(self.repo, &pull.base)
            .map(|oid| oid.to_string())
            .unwrap_or_default();
        let head = branch(&pull.head, &pull.head_sha, &value["head"]);
        let base = branch(&pull.base, &base_sha, &value["base"]);
        let link = |href: String| json!({ "href": href });
        let date = |seconds: Option<i64>| seconds.map(git::format_date);
        let mut fields = vec![
            ("url", json!(self.api(&format!("/pulls/{n}")))),
            ("id", json!(1_000_000 + n)),
            ("node_id", json!(format!("PR_{n}"))),
            ("html_url", json!(self.html(&format!("/pull/{n}")))),
            ("diff_url", json!(self.html(&format!("/pull/{n}.diff")))),
            ("patch_url", json!(self.html(&format!("/pull/{n}.patch")))),
            ("issue_url", json!(self.api(&format!("/issues/{n}")))),
            (
                "commits_url",
                json!(self.api(&format!("/pulls/{n}/commits"))),
            ),
            (
                "review_comments_url",
                json!(self.api(&format!("/pulls/{n}/comments"))),
            ),
            (
                "review_comment_url",
                json!(self.api("/pulls/comments{/number}")),
            ),
            (
                "comments_url",
                json!(self.api(&format!("/issues/{n}/comments"))),
            ),
            (
                "statuses_url",
                json!(self.api(&format!("/statuses/{}", pull.head_sha))),
            ),
            ("number", json!(n)),
            ("state", json!(pull.state)),
            ("locked", json!(false)),
            ("title", json!(pull.title)),
            ("user", self.bot()),
            ("body", json!(pull.body)),
            ("labels", Value::Array(labels)),
            ("milestone", Value::Null),
            ("active_lock_reason", Value::Null),
            ("created_at", json!(git::format_date(pull.created_at))),
            ("updated_at", json!(git::format_date(pull.updated_at))),
            ("closed_at", json!(date(pull.closed_at))),
            ("merged_at", json!(date(pull.merged_at))),
            ("merge_commit_sha", json!(pull.merge_commit_sha)),
            ("assignee", Value::Null),
            ("assignees", json!([])),
            ("requested_reviewers", Value::Array(reviewers)),
            ("requested_teams", Value::Array(teams)),
            ("head", head),
            ("base", base),
            (
                "_links",
                json!({
                    "self": link(self.api(&format!("/pulls/{n}"))),
                    "html": link(self.html(&format!("/pull/{n}"))),
                    "issue": link(self.api(&format!("/issues/{n}"))),
                    "comments": link(self.api(&format!("/issues/{n}/comments"))),
                    "review_comments": link(self.api(&format!("/pulls/{n}/comments"))),
                    "review_comment": link(self.api("/pulls/comments{/number}")),
                    "commits": link(self.api(&format!("/pulls/{n}/commits"))),
                    "statuses": link(self.api(&format!("/statuses/{}", pull.head_sha))),
                }),
            ),
            ("author_association", json!("NONE")),
            ("auto_merge", Value::Null),
            ("draft", json!(pull.draft)),
        ];
        if full {
            let (commits, additions, deletions, changed_files) = diff_stats(self.repo, pull);
            let open = pull.state == "open";
            fields.extend([
                ("merged", json!(pull.merged)),
                ("mergeable", if open { json!(true) } else { Value::Null }),
                ("rebaseable", if open { json!(true) } else { Value::Null }),
                (
                    "mergeable_state",
                    json!(if !open {
                        "unknown"
                    } else if pull.draft {
                        "draft"
                    } else {
                        "clean"
                    }),
                ),
                (
                    "merged_by",
                    if pull.merged { self.bot() } else { Value::Null },
                ),
                ("comments", json!(0)),
                ("review_comments", json!(0)),
                ("maintainer_can_modify", json!(pull.maintainer_can_modify)),
                ("commits", json!(commits)),
                ("additions", json!(additions)),
                ("deletions", json!(deletions)),
                ("changed_files", json!(changed_files)),
            ]);
        }
        set_fields(&mut value, fields);
        value
    }

    fn release_json(&self, release: &Release) -> Value {
        let mut value = self.example("repos/get-release-by-tag", 200, None);
        let id = release.id;
        let tag = &release.tag_name;
        let html = if release.draft {
            self.html(&format!("/releases/tag/untagged-{id}"))
        } else {
            self.html(&format!("/releases/tag/{tag}"))
        };
        let fields = [
            ("url", json!(self.api(&format!("/releases/{id}")))),
            ("html_url", json!(html)),
            (
                "assets_url",
                json!(self.api(&format!("/releases/{id}/assets"))),
            ),
            (
                "upload_url",
                json!(format!(
                    "https://uploads.github.com/repos/{}/{}/releases/{id}/assets{{?name,label}}",
                    self.owner, self.name
                )),
            ),
            ("tarball_url", json!(self.api(&format!("/tarball/{tag}")))),
            ("zipball_url", json!(self.api(&format!("/zipball/{tag}")))),
            ("id", json!(id)),
            ("node_id", json!(format!("RE_{id}"))),
            ("tag_name", json!(tag)),
            ("target_commitish", json!(release.target_commitish)),
            ("name", json!(release.name)),
            ("body", json!(release.body)),
            ("draft", json!(release.draft)),
            ("prerelease", json!(release.prerelease)),
            ("created_at", json!(git::format_date(release.created_at))),
            (
                "published_at",
                json!(release.published_at.map(git::format_date)),
            ),
            ("author", self.bot()),
            ("assets", json!([])),
        ];
        set_fields(&mut value, fields);
        if let Value::Object(map) = &mut value {
            map.remove("discussion_url");
        }
        value
    }
}

fn set_fields(value: &mut Value, fields: impl IntoIterator<Item = (&'static str, Value)>) {
    if let Value::Object(map) = value {
        for (key, field) in fields {
            map.insert(key.to_string(), field);
        }
    }
}

fn raw_commit(repo: &Repository, oid: Oid) -> String {
    let Ok(odb) = repo.odb() else {
        return String::new();
    };
    odb.read(oid)
        .map(|object| String::from_utf8_lossy(object.data()).into_owned())
        .unwrap_or_default()
}

fn commit_signature(repo: &Repository, oid: Oid) -> Option<String> {
    repo.extract_signature(&oid, None)
        .ok()
        .map(|(signature, _)| String::from_utf8_lossy(&signature).into_owned())
}

/// Open pull requests follow their head branch; closed ones keep the head they had.
pub fn refresh_heads(repo: &Repository, state: &mut State) {
    for pull in state.pulls.iter_mut().filter(|p| p.state == "open") {
        if let Some(tip) = git::branch_tip(repo, &pull.head) {
            pull.head_sha = tip.to_string();
        }
    }
}

fn string<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

fn created(mut reply: Reply, location: String) -> Reply {
    reply.header("location", &location);
    reply
}

// ---- repository and git data ------------------------------------------------------------------------

fn get_repo(ctx: &Ctx<'_>) -> Reply {
    let mut value = ctx.example("repos/get", 200, None);
    ctx.overlay_repo(&mut value);
    if let Value::Object(map) = &mut value {
        // Not a fork, not from a template; the description's example (a fork) lacks the required `language`.
        for key in ["parent", "source", "template_repository"] {
            map.remove(key);
        }
        map.insert("fork".into(), json!(false));
        map.entry("language").or_insert(Value::Null);
    }
    let p = ctx.permissions;
    set_fields(
        &mut value,
        [(
            "permissions",
            json!({
                "admin": false,
                "maintain": false,
                "push": p.contents_write,
                "triage": p.pull_requests_write,
                "pull": true,
            }),
        )],
    );
    Reply::json(200, value)
}

// ---- pull requests ----------------------------------------------------------------------------------

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

// ---- releases ---------------------------------------------------------------------------------------
