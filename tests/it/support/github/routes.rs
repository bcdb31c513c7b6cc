//! The served operations: each answers from the repository and the state, in the shape of the description's
//! example for the operation with every field the state knows overwritten.

use std::collections::BTreeMap;

use base64::Engine as _;
use git2::{ObjectType, Oid, Repository};
use serde_json::{Map, Value, json};

use super::git::{self, BOT_EMAIL, BOT_NAME};
use super::openapi::{Operation, SPEC};
use super::state::{Fault, Label, Permissions, PullState, Release, State};

const BOT_ID: u64 = 41_898_282;
const OWNER_ID: u64 = 9_919;
const REPO_ID: u64 = 1_296_269;
const NOT_ACCESSIBLE: &str = "Resource not accessible by integration";

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

/// Commits the head has that the base lacks, and the diff from their merge base.
fn diff_stats(repo: &Repository, pull: &PullState) -> (usize, usize, usize, usize) {
    let head = Oid::from_str(&pull.head_sha).ok();
    let base = git::branch_tip(repo, &pull.base);
    let (Some(head), Some(base)) = (head, base) else {
        return (0, 0, 0, 0);
    };
    let Ok(merge_base) = repo.merge_base(head, base) else {
        return (0, 0, 0, 0);
    };
    let commits = repo
        .revwalk()
        .and_then(|mut walk| {
            walk.push(head)?;
            walk.hide(merge_base)?;
            Ok(walk.count())
        })
        .unwrap_or(0);
    let tree = |oid: Oid| repo.find_commit(oid).and_then(|c| c.tree()).ok();
    let stats = repo
        .diff_tree_to_tree(tree(merge_base).as_ref(), tree(head).as_ref(), None)
        .and_then(|diff| diff.stats());
    match stats {
        Ok(stats) => (
            commits,
            stats.insertions(),
            stats.deletions(),
            stats.files_changed(),
        ),
        Err(_) => (commits, 0, 0, 0),
    }
}

/// Open pull requests follow their head branch; closed ones keep the head they had.
pub fn refresh_heads(repo: &Repository, state: &mut State) {
    for pull in state.pulls.iter_mut().filter(|p| p.state == "open") {
        if let Some(tip) = git::branch_tip(repo, &pull.head) {
            pull.head_sha = tip.to_string();
        }
    }
}

pub fn squash_merge(repo: &Repository, state: &mut State, number: u64) -> String {
    refresh_heads(repo, state);
    let pull = state
        .pull_mut(number)
        .unwrap_or_else(|| panic!("no pull request #{number}"));
    assert_eq!(pull.state, "open", "pull request #{number} is not open");
    let head = Oid::from_str(&pull.head_sha).expect("head SHA");
    let base = git::branch_tip(repo, &pull.base)
        .unwrap_or_else(|| panic!("base branch {} is gone", pull.base));
    let tree = repo
        .find_commit(head)
        .and_then(|c| c.tree())
        .expect("head tree");
    let parent = repo.find_commit(base).expect("base commit");
    let now = git::now();
    let message = match &pull.body {
        Some(body) if !body.is_empty() => format!("{} (#{number})\n\n{body}", pull.title),
        _ => format!("{} (#{number})", pull.title),
    };
    let author = git::signature(BOT_NAME, BOT_EMAIL, (now, 0));
    let committer = git::signature(git::WEB_FLOW_NAME, git::WEB_FLOW_EMAIL, (now, 0));
    let merged = repo
        .commit(None, &author, &committer, &message, &tree, &[&parent])
        .expect("write the squash commit");
    repo.reference(
        &format!("refs/heads/{}", pull.base),
        merged,
        true,
        "squash merge",
    )
    .expect("move the base branch");
    pull.state = "closed".to_string();
    pull.merged = true;
    pull.merged_at = Some(now);
    pull.closed_at = Some(now);
    pull.updated_at = now;
    pull.merge_commit_sha = Some(merged.to_string());
    let sha = merged.to_string();
    state
        .verified
        .insert(sha.clone(), (true, "valid".to_string()));
    sha
}

/// `PUT /pulls/{n}/merge`: a squash merge (the only method the fake knows; others are refused as a repository
/// that allows only squash merging refuses them).
fn merge_pull(ctx: &mut Ctx<'_>) -> Reply {
    refresh_heads(ctx.repo, ctx.state);
    let Some(index) = pull_number(ctx, "pull_number") else {
        return ctx.not_found();
    };
    let pull = ctx.state.pulls[index].clone();
    if pull.state != "open" {
        return Reply::message(405, "Pull Request is not mergeable", &ctx.op.docs_url);
    }
    if let Some(method) = string(ctx.body, "merge_method").filter(|m| *m != "squash") {
        return Reply::message(
            405,
            &format!("{method} merges are not allowed on this repository."),
            &ctx.op.docs_url,
        );
    }
    if let Some(sha) = string(ctx.body, "sha").filter(|s| *s != pull.head_sha) {
        return Reply::message(
            409,
            &format!("Head branch was modified. Review and try the merge again. ({sha})"),
            &ctx.op.docs_url,
        );
    }
    let sha = squash_merge(ctx.repo, ctx.state, pull.number);
    Reply::json(
        200,
        json!({ "sha": sha, "merged": true, "message": "Pull Request successfully merged" }),
    )
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

fn get_ref(ctx: &Ctx<'_>) -> Reply {
    let full_name = format!("refs/{}", ctx.param("ref"));
    match git::ref_target(ctx.repo, &full_name) {
        Some(oid) => Reply::json(200, ctx.ref_json(&full_name, oid)),
        None => ctx.not_found(),
    }
}

fn get_branch(ctx: &Ctx<'_>) -> Reply {
    let name = ctx.param("branch").to_string();
    let Some(tip) = git::branch_tip(ctx.repo, &name) else {
        return Reply::message(404, "Branch not found", ctx.docs());
    };
    let mut value = ctx.example("repos/get-branch", 200, None);
    let template = value["commit"].clone();
    let url = ctx.api(&format!("/branches/{name}"));
    set_fields(
        &mut value,
        [
            ("name", json!(name)),
            ("commit", ctx.rest_commit_json(tip, &template)),
            (
                "_links",
                json!({ "self": url, "html": ctx.html(&format!("/tree/{name}")) }),
            ),
            ("protected", json!(false)),
            ("protection_url", json!(format!("{url}/protection"))),
        ],
    );
    Reply::json(200, value)
}

/// `BASE...HEAD`, each side a branch, tag or SHA of this repository (`owner:` in front allowed), as GitHub
/// compares them: from their merge base to the head.
fn compare(ctx: &Ctx<'_>) -> Reply {
    let basehead = ctx.param("basehead").to_string();
    let Some((base_text, head_text)) = basehead.split_once("...") else {
        return ctx.not_found();
    };
    let side = |text: &str| {
        let rev = match text.split_once(':') {
            Some((owner, rev)) if owner.eq_ignore_ascii_case(ctx.owner) => rev,
            Some(_) => return None,
            None => text,
        };
        git::commit_for(ctx.repo, rev)
    };
    let (Some(base), Some(head)) = (side(base_text), side(head_text)) else {
        return ctx.not_found();
    };
    let Ok(merge_base) = ctx.repo.merge_base(base, head) else {
        return Reply::message(
            404,
            &format!("No common ancestor between {base_text} and {head_text}."),
            ctx.docs(),
        );
    };
    let walk = |from: Oid| -> Vec<Oid> {
        let mut walk = ctx.repo.revwalk().expect("revwalk");
        walk.push(from).expect("push");
        walk.hide(merge_base).expect("hide");
        walk.set_sorting(git2::Sort::TOPOLOGICAL | git2::Sort::REVERSE)
            .expect("sorting");
        walk.filter_map(Result::ok).collect()
    };
    let ahead = walk(head);
    let behind = walk(base).len();
    let status = match (ahead.len(), behind) {
        (0, 0) => "identical",
        (_, 0) => "ahead",
        (0, _) => "behind",
        _ => "diverged",
    };
    let per_page = ctx
        .query("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(250)
        .min(250);
    let page = ctx
        .query("page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let mut value = ctx.example("repos/compare-commits-with-basehead", 200, None);
    let template = value["base_commit"].clone();
    let commits: Vec<Value> = ahead
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|oid| ctx.rest_commit_json(*oid, &template))
        .collect();
    let tree = |oid: Oid| ctx.repo.find_commit(oid).and_then(|c| c.tree()).ok();
    let mut files = Vec::new();
    if let Ok(diff) =
        ctx.repo
            .diff_tree_to_tree(tree(merge_base).as_ref(), tree(head).as_ref(), None)
    {
        for (index, delta) in diff.deltas().enumerate() {
            let (status, file) = match delta.status() {
                git2::Delta::Added => ("added", delta.new_file()),
                git2::Delta::Deleted => ("removed", delta.old_file()),
                git2::Delta::Renamed => ("renamed", delta.new_file()),
                _ => ("modified", delta.new_file()),
            };
            let path = file
                .path()
                .map(|p| p.to_string_lossy().to_string())
                .unwrap_or_default();
            let (additions, deletions) = git2::Patch::from_diff(&diff, index)
                .ok()
                .flatten()
                .and_then(|patch| patch.line_stats().ok())
                .map(|(_, added, deleted)| (added, deleted))
                .unwrap_or((0, 0));
            let at = head.to_string();
            files.push(json!({
                "sha": file.id().to_string(),
                "filename": path,
                "status": status,
                "additions": additions,
                "deletions": deletions,
                "changes": additions + deletions,
                "blob_url": ctx.html(&format!("/blob/{at}/{path}")),
                "raw_url": ctx.html(&format!("/raw/{at}/{path}")),
                "contents_url": ctx.api(&format!("/contents/{path}?ref={at}")),
            }));
        }
    }
    set_fields(
        &mut value,
        [
            ("url", json!(ctx.api(&format!("/compare/{basehead}")))),
            ("html_url", json!(ctx.html(&format!("/compare/{basehead}")))),
            (
                "permalink_url",
                json!(ctx.html(&format!(
                    "/compare/{}:{base}...{}:{head}",
                    ctx.owner, ctx.owner
                ))),
            ),
            (
                "diff_url",
                json!(ctx.html(&format!("/compare/{basehead}.diff"))),
            ),
            (
                "patch_url",
                json!(ctx.html(&format!("/compare/{basehead}.patch"))),
            ),
            ("base_commit", ctx.rest_commit_json(base, &template)),
            (
                "merge_base_commit",
                ctx.rest_commit_json(merge_base, &template),
            ),
            ("status", json!(status)),
            ("ahead_by", json!(ahead.len())),
            ("behind_by", json!(behind)),
            ("total_commits", json!(ahead.len())),
            ("commits", Value::Array(commits)),
            ("files", Value::Array(files)),
        ],
    );
    Reply::json(200, value)
}

fn get_commit(ctx: &Ctx<'_>) -> Reply {
    match git::existing(ctx.repo, ctx.param("commit_sha")) {
        Some(oid) if git::kind_of(ctx.repo, oid) == Some(ObjectType::Commit) => {
            Reply::json(200, ctx.commit_json(oid))
        }
        _ => ctx.not_found(),
    }
}

fn content_links(ctx: &Ctx<'_>, path: &str, rev: &str, oid: Oid, kind: &str) -> Map<String, Value> {
    let git_url = if kind == "dir" {
        ctx.api(&format!("/git/trees/{oid}"))
    } else {
        ctx.api(&format!("/git/blobs/{oid}"))
    };
    let html_url = if kind == "dir" {
        ctx.html(&format!("/tree/{rev}/{path}"))
    } else {
        ctx.html(&format!("/blob/{rev}/{path}"))
    };
    let url = ctx.api(&format!("/contents/{path}?ref={rev}"));
    let download_url = if kind == "dir" {
        Value::Null
    } else {
        json!(format!(
            "https://raw.githubusercontent.com/{}/{}/{rev}/{path}",
            ctx.owner, ctx.name
        ))
    };
    let name = path.rsplit('/').next().unwrap_or(path);
    let mut map = Map::new();
    for (key, value) in [
        ("type", json!(kind)),
        ("name", json!(name)),
        ("path", json!(path)),
        ("sha", json!(oid.to_string())),
        ("url", json!(url)),
        ("git_url", json!(git_url)),
        ("html_url", json!(html_url)),
        ("download_url", download_url),
        (
            "_links",
            json!({ "self": url, "git": git_url, "html": html_url }),
        ),
    ] {
        map.insert(key.to_string(), value);
    }
    map
}

fn get_content(ctx: &Ctx<'_>) -> Reply {
    let path = ctx.param("path").trim_matches('/').to_string();
    let default_branch = git::default_branch(ctx.repo);
    let rev = ctx.query("ref").unwrap_or(&default_branch).to_string();
    let Some(commit) = git::commit_for(ctx.repo, &rev) else {
        return Reply::message(
            404,
            &format!("No commit found for the ref {rev}"),
            ctx.docs(),
        );
    };
    let Some((oid, kind, _mode)) = git::entry_at(ctx.repo, commit, &path) else {
        return ctx.not_found();
    };
    match kind {
        ObjectType::Blob => {
            let blob = ctx.repo.find_blob(oid).expect("blob");
            let mut map = content_links(ctx, &path, &rev, oid, "file");
            map.insert("size".into(), json!(blob.size()));
            map.insert("encoding".into(), json!("base64"));
            map.insert("content".into(), json!(github_base64(blob.content())));
            Reply::json(200, Value::Object(map))
        }
        ObjectType::Tree => {
            let tree = ctx.repo.find_tree(oid).expect("tree");
            let entries: Vec<Value> = tree
                .iter()
                .map(|entry| {
                    let name = entry.name().unwrap_or_default();
                    let child = if path.is_empty() {
                        name.to_string()
                    } else {
                        format!("{path}/{name}")
                    };
                    let kind = match entry.kind() {
                        Some(ObjectType::Tree) => "dir",
                        Some(ObjectType::Commit) => "submodule",
                        _ => "file",
                    };
                    let size = match entry.kind() {
                        Some(ObjectType::Blob) => ctx
                            .repo
                            .find_blob(entry.id())
                            .map(|b| b.size())
                            .unwrap_or(0),
                        _ => 0,
                    };
                    let mut map = content_links(ctx, &child, &rev, entry.id(), kind);
                    map.insert("size".into(), json!(size));
                    Value::Object(map)
                })
                .collect();
            if ctx.accept.contains("vnd.github.object") {
                let mut map = content_links(ctx, &path, &rev, oid, "dir");
                map.insert("size".into(), json!(0));
                map.insert("entries".into(), Value::Array(entries));
                return Reply::json(200, Value::Object(map));
            }
            Reply::json(200, Value::Array(entries))
        }
        _ => ctx.not_found(),
    }
}

/// Base64 as GitHub sends file contents: lines of 60 characters, each ending in a newline.
fn github_base64(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 60 + 1);
    for chunk in encoded.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out
}

fn create_blob(ctx: &Ctx<'_>) -> Reply {
    let content = string(ctx.body, "content").unwrap_or_default();
    let bytes = match string(ctx.body, "encoding").unwrap_or("utf-8") {
        "utf-8" | "utf8" => content.as_bytes().to_vec(),
        "base64" => {
            let compact: String = content.chars().filter(|c| !c.is_whitespace()).collect();
            match base64::engine::general_purpose::STANDARD.decode(compact) {
                Ok(bytes) => bytes,
                Err(_) => return ctx.unprocessable("content is not valid Base64"),
            }
        }
        other => {
            return ctx.unprocessable(&format!(
                "encoding {other:?} is not supported: use \"utf-8\" or \"base64\""
            ));
        }
    };
    let oid = ctx.repo.blob(&bytes).expect("write blob");
    let url = ctx.api(&format!("/git/blobs/{oid}"));
    created(
        Reply::json(201, json!({ "url": url, "sha": oid.to_string() })),
        url,
    )
}

fn tree_json(ctx: &Ctx<'_>, oid: Oid) -> Value {
    let tree = ctx.repo.find_tree(oid).expect("tree");
    let entries: Vec<Value> = tree
        .iter()
        .map(|entry| {
            let kind = git::kind_name(entry.kind());
            let mut item = json!({
                "path": entry.name().unwrap_or_default(),
                "mode": format!("{:06o}", entry.filemode()),
                "type": kind,
                "sha": entry.id().to_string(),
            });
            match entry.kind() {
                Some(ObjectType::Blob) => {
                    item["size"] = json!(
                        ctx.repo
                            .find_blob(entry.id())
                            .map(|b| b.size())
                            .unwrap_or(0)
                    );
                    item["url"] = json!(ctx.api(&format!("/git/blobs/{}", entry.id())));
                }
                Some(ObjectType::Tree) => {
                    item["url"] = json!(ctx.api(&format!("/git/trees/{}", entry.id())));
                }
                _ => {}
            }
            item
        })
        .collect();
    json!({
        "sha": oid.to_string(),
        "url": ctx.api(&format!("/git/trees/{oid}")),
        "tree": entries,
        "truncated": false,
    })
}

fn create_tree(ctx: &Ctx<'_>) -> Reply {
    let base = match string(ctx.body, "base_tree") {
        None => None,
        Some(sha) => match git::existing(ctx.repo, sha) {
            Some(oid) if git::kind_of(ctx.repo, oid) == Some(ObjectType::Tree) => Some(oid),
            _ => return ctx.unprocessable("base_tree is not a valid tree oid"),
        },
    };
    let mut edits = Vec::new();
    for entry in ctx.body["tree"].as_array().into_iter().flatten() {
        let Some(path) = string(entry, "path") else {
            return ctx.unprocessable("Must supply tree.path");
        };
        let components: Vec<String> = path.split('/').map(str::to_string).collect();
        if components
            .iter()
            .any(|c| c.is_empty() || c == "." || c == ".." || c.eq_ignore_ascii_case(".git"))
        {
            return ctx.unprocessable(&format!(
                "tree.path {path:?} contains a malformed path component"
            ));
        }
        let Some(mode_text) = string(entry, "mode") else {
            return ctx.unprocessable("Must supply a valid tree.mode");
        };
        let mode = i32::from_str_radix(mode_text, 8).unwrap_or(0);
        let kind = match mode_text {
            "040000" => "tree",
            "160000" => "commit",
            _ => "blob",
        };
        if string(entry, "type").is_some_and(|t| t != kind) {
            return ctx.unprocessable(&format!(
                "tree.type does not match tree.mode {mode_text} for {path}"
            ));
        }
        let sha = entry.get("sha");
        let content = string(entry, "content");
        let change = match (sha, content) {
            (Some(sha), Some(_)) if !sha.is_null() => {
                return ctx.unprocessable("Must supply either tree.sha or tree.content, not both");
            }
            (Some(Value::Null), None) => None,
            (_, Some(content)) => {
                if kind != "blob" {
                    return ctx.unprocessable("tree.content is only for blobs");
                }
                Some((ctx.repo.blob(content.as_bytes()).expect("write blob"), mode))
            }
            (Some(Value::String(sha)), None) => {
                let valid = match kind {
                    // A submodule's commit lives in another repository.
                    "commit" => Oid::from_str(sha).ok().filter(|_| sha.len() == 40),
                    _ => git::existing(ctx.repo, sha)
                        .filter(|oid| git::kind_name(git::kind_of(ctx.repo, *oid)) == kind),
                };
                match valid {
                    Some(oid) => Some((oid, mode)),
                    None => {
                        return ctx.unprocessable(&format!("tree.sha {sha} is not a valid {kind}"));
                    }
                }
            }
            _ => return ctx.unprocessable("Must supply a valid tree.sha or tree.content"),
        };
        edits.push(git::TreeEdit {
            path: components,
            change,
        });
    }
    match git::edit_tree(ctx.repo, base, &edits) {
        Ok(oid) => {
            let url = ctx.api(&format!("/git/trees/{oid}"));
            created(Reply::json(201, tree_json(ctx, oid)), url)
        }
        Err(err) => ctx.unprocessable(&format!("tree could not be written: {}", err.message())),
    }
}

fn person(
    value: &Value,
    fallback: Option<&git2::Signature<'static>>,
    now: i64,
) -> Option<git2::Signature<'static>> {
    if !value.is_object() {
        return None;
    }
    let name = string(value, "name")
        .map(str::to_string)
        .or_else(|| fallback.and_then(|f| f.name().ok().map(str::to_string)))
        .unwrap_or_else(|| BOT_NAME.to_string());
    let email = string(value, "email")
        .map(str::to_string)
        .or_else(|| fallback.and_then(|f| f.email().ok().map(str::to_string)))
        .unwrap_or_else(|| BOT_EMAIL.to_string());
    let when = string(value, "date")
        .and_then(git::parse_date)
        .unwrap_or((now, 0));
    Some(git::signature(&name, &email, when))
}

fn create_commit(ctx: &mut Ctx<'_>) -> Reply {
    let message = string(ctx.body, "message").unwrap_or_default();
    let tree = match string(ctx.body, "tree").and_then(|sha| git::existing(ctx.repo, sha)) {
        Some(oid) if git::kind_of(ctx.repo, oid) == Some(ObjectType::Tree) => {
            ctx.repo.find_tree(oid).expect("tree")
        }
        _ => return ctx.unprocessable("Tree SHA does not exist"),
    };
    let mut parents = Vec::new();
    for parent in ctx.body["parents"].as_array().into_iter().flatten() {
        match parent
            .as_str()
            .and_then(|sha| git::existing(ctx.repo, sha))
            .and_then(|oid| ctx.repo.find_commit(oid).ok())
        {
            Some(commit) => parents.push(commit),
            None => {
                return ctx.unprocessable("Parent SHA does not exist or is not a commit object");
            }
        }
    }
    let now = git::now();
    let author = person(&ctx.body["author"], None, now);
    let committer = person(&ctx.body["committer"], author.as_ref(), now);
    // GitHub signs the commits it authors itself: those created with neither author nor committer.
    let by_github = author.is_none() && committer.is_none();
    let bot = git::signature(BOT_NAME, BOT_EMAIL, (now, 0));
    let author = author
        .or_else(|| committer.clone())
        .unwrap_or_else(|| bot.clone());
    let committer = committer.unwrap_or_else(|| author.clone());
    let parent_refs: Vec<&git2::Commit<'_>> = parents.iter().collect();
    let signature = string(ctx.body, "signature");
    let oid = match signature {
        None => ctx
            .repo
            .commit(None, &author, &committer, message, &tree, &parent_refs)
            .expect("write commit"),
        Some(signature) => {
            let buffer = ctx
                .repo
                .commit_create_buffer(&author, &committer, message, &tree, &parent_refs)
                .expect("commit buffer");
            let content = String::from_utf8_lossy(&buffer).into_owned();
            ctx.repo
                .commit_signed(&content, signature, None)
                .expect("write signed commit")
        }
    };
    let verification = if by_github {
        (true, "valid")
    } else if signature.is_some() {
        (false, "unknown_key")
    } else {
        (false, "unsigned")
    };
    ctx.state.verified.insert(
        oid.to_string(),
        (verification.0, verification.1.to_string()),
    );
    let url = ctx.api(&format!("/git/commits/{oid}"));
    created(Reply::json(201, ctx.commit_json(oid)), url)
}

fn create_ref(ctx: &Ctx<'_>) -> Reply {
    let name = string(ctx.body, "ref").unwrap_or_default();
    if !name.starts_with("refs/")
        || name.matches('/').count() < 2
        || !git2::Reference::is_valid_name(name)
    {
        return ctx.unprocessable(
            "Reference name must start with 'refs/' and contain at least two slashes",
        );
    }
    let Some(oid) = string(ctx.body, "sha").and_then(|sha| git::existing(ctx.repo, sha)) else {
        return ctx.unprocessable("Object does not exist");
    };
    if git::ref_target(ctx.repo, name).is_some() {
        return ctx.unprocessable("Reference already exists");
    }
    ctx.repo
        .reference(name, oid, false, "created through the API")
        .expect("create ref");
    let url = ctx.api(&format!("/git/{name}"));
    created(Reply::json(201, ctx.ref_json(name, oid)), url)
}

/// Someone else's push to `branch`: a commit that adds a file, on top of its tip.
fn concurrent_push(ctx: &mut Ctx<'_>, branch: &str) {
    let Some(tip) = git::branch_tip(ctx.repo, branch) else {
        return;
    };
    ctx.state.concurrent_pushes += 1;
    let n = ctx.state.concurrent_pushes;
    let parent = ctx.repo.find_commit(tip).expect("tip commit");
    let blob = ctx
        .repo
        .blob(format!("pushed by someone else ({n})\n").as_bytes())
        .expect("blob");
    let tree = git::edit_tree(
        ctx.repo,
        Some(parent.tree_id()),
        &[git::TreeEdit {
            path: vec![format!("concurrent-push-{n}.txt")],
            change: Some((blob, 0o100644)),
        }],
    )
    .expect("tree");
    let tree = ctx.repo.find_tree(tree).expect("tree");
    let someone = git::signature("Someone Else", "someone@example.com", (git::now(), 0));
    let oid = ctx
        .repo
        .commit(
            None,
            &someone,
            &someone,
            "A concurrent push",
            &tree,
            &[&parent],
        )
        .expect("commit");
    ctx.repo
        .reference(
            &format!("refs/heads/{branch}"),
            oid,
            true,
            "concurrent push",
        )
        .expect("move branch");
}

fn update_ref(ctx: &mut Ctx<'_>) -> Reply {
    let short = ctx.param("ref").to_string();
    let full_name = format!("refs/{short}");
    if let Some(branch) = short.strip_prefix("heads/")
        && let Some(Fault::MoveBranchFirst { branch }) = ctx.state.take_fault(
            |fault| matches!(fault, Fault::MoveBranchFirst { branch: b } if b == branch),
        )
    {
        concurrent_push(ctx, &branch);
    }
    let Some(current) = git::ref_target(ctx.repo, &full_name) else {
        return ctx.unprocessable("Reference does not exist");
    };
    let Some(new) = string(ctx.body, "sha").and_then(|sha| git::existing(ctx.repo, sha)) else {
        return ctx.unprocessable("Object does not exist");
    };
    let force = ctx.body["force"].as_bool().unwrap_or(false);
    if !force && !git::contains(ctx.repo, new, current) {
        return ctx.unprocessable("Update is not a fast forward");
    }
    ctx.repo
        .reference(&full_name, new, true, "updated through the API")
        .expect("update ref");
    Reply::json(200, ctx.ref_json(&full_name, new))
}

fn delete_ref(ctx: &mut Ctx<'_>) -> Reply {
    let short = ctx.param("ref").to_string();
    let full_name = format!("refs/{short}");
    let Ok(mut reference) = ctx.repo.find_reference(&full_name) else {
        return ctx.unprocessable("Reference does not exist");
    };
    reference.delete().expect("delete ref");
    // GitHub closes the open pull requests whose head branch is deleted.
    if let Some(branch) = short.strip_prefix("heads/") {
        let now = git::now();
        for pull in ctx
            .state
            .pulls
            .iter_mut()
            .filter(|p| p.state == "open" && p.head == branch)
        {
            pull.state = "closed".to_string();
            pull.closed_at = Some(now);
            pull.updated_at = now;
        }
    }
    Reply::empty(204)
}

// ---- pull requests ----------------------------------------------------------------------------------

fn list_pulls(ctx: &mut Ctx<'_>) -> Reply {
    refresh_heads(ctx.repo, ctx.state);
    let state = ctx.query("state").unwrap_or("open");
    // `head` filters only as `owner:branch`; a bare branch name is ignored, as GitHub does.
    let head = ctx.query("head").and_then(|head| head.split_once(':'));
    let base = ctx.query("base");
    let sort = ctx.query("sort").unwrap_or("created");
    let descending = match ctx.query("direction") {
        Some(direction) => direction == "desc",
        None => sort == "created",
    };
    let mut pulls: Vec<&PullState> = ctx
        .state
        .pulls
        .iter()
        .filter(|p| state == "all" || p.state == state)
        .filter(|p| {
            head.is_none_or(|(owner, branch)| {
                owner.eq_ignore_ascii_case(ctx.owner) && p.head == branch
            })
        })
        .filter(|p| base.is_none_or(|base| p.base == base))
        .collect();
    match sort {
        "updated" => pulls.sort_by_key(|p| (p.updated_at, p.number)),
        _ => pulls.sort_by_key(|p| p.number),
    }
    if descending {
        pulls.reverse();
    }
    let per_page = ctx
        .query("per_page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(30)
        .min(100);
    let page = ctx
        .query("page")
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|n| *n > 0)
        .unwrap_or(1);
    let last = pulls.len().div_ceil(per_page).max(1);
    let items: Vec<Value> = pulls
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|p| ctx.pull_json(p, false))
        .collect();
    let mut reply = Reply::json(200, Value::Array(items));
    if last > 1 {
        reply.header("link", &link_header(ctx, "/pulls", page, last));
    }
    reply
}

/// GitHub's `Link` header: next/last (and prev/first) pages of the same query.
fn link_header(ctx: &Ctx<'_>, rest: &str, page: usize, last: usize) -> String {
    let url = |n: usize| {
        let mut pairs: Vec<String> = ctx
            .query
            .iter()
            .filter(|(key, _)| key != "page")
            .map(|(key, value)| format!("{}={}", encode(key), encode(value)))
            .collect();
        pairs.push(format!("page={n}"));
        format!("<{}?{}>", ctx.api(rest), pairs.join("&"))
    };
    let mut links = Vec::new();
    if page > 1 {
        links.push(format!("{}; rel=\"prev\"", url(page - 1)));
    }
    if page < last {
        links.push(format!("{}; rel=\"next\"", url(page + 1)));
        links.push(format!("{}; rel=\"last\"", url(last)));
    }
    if page > 1 {
        links.push(format!("{}; rel=\"first\"", url(1)));
    }
    links.join(", ")
}

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

fn pull_exists_message(ctx: &Ctx<'_>, head: &str) -> Value {
    json!([{
        "resource": "PullRequest",
        "code": "custom",
        "message": format!("A pull request already exists for {}:{head}.", ctx.owner),
    }])
}

fn create_pull(ctx: &mut Ctx<'_>) -> Reply {
    if !ctx.permissions.actions_may_create_pulls {
        return Reply::message(
            403,
            "GitHub Actions is not permitted to create or approve pull requests.",
            ctx.docs(),
        );
    }
    if ctx.body.get("issue").is_some() {
        return ctx.unprocessable("the test GitHub does not turn issues into pull requests");
    }
    let Some(title) = string(ctx.body, "title") else {
        return ctx.validation_failed(
            json!([{ "resource": "PullRequest", "code": "missing_field", "field": "title" }]),
        );
    };
    let head_text = string(ctx.body, "head").unwrap_or_default();
    let head = match head_text.split_once(':') {
        Some((owner, branch)) if owner.eq_ignore_ascii_case(ctx.owner) => branch,
        Some(_) => {
            return ctx.validation_failed(
                json!([{ "resource": "PullRequest", "field": "head", "code": "invalid" }]),
            );
        }
        None => head_text,
    }
    .to_string();
    let base = string(ctx.body, "base").unwrap_or_default().to_string();
    let Some(base_tip) = git::branch_tip(ctx.repo, &base) else {
        return ctx.validation_failed(
            json!([{ "resource": "PullRequest", "field": "base", "code": "invalid" }]),
        );
    };
    let Some(head_tip) = git::branch_tip(ctx.repo, &head) else {
        return ctx.validation_failed(
            json!([{ "resource": "PullRequest", "field": "head", "code": "invalid" }]),
        );
    };
    if ctx
        .state
        .pulls
        .iter()
        .any(|p| p.state == "open" && p.head == head && p.base == base)
    {
        return ctx.validation_failed(pull_exists_message(ctx, &head));
    }
    if git::contains(ctx.repo, base_tip, head_tip) {
        return ctx.validation_failed(json!([{
            "resource": "PullRequest",
            "code": "custom",
            "message": format!("No commits between {base} and {head}"),
        }]));
    }
    let now = git::now();
    let pull = PullState {
        number: ctx.state.pulls.len() as u64 + 1,
        title: title.to_string(),
        body: string(ctx.body, "body").map(str::to_string),
        head,
        base,
        state: "open".to_string(),
        merged: false,
        draft: ctx.body["draft"].as_bool().unwrap_or(false),
        labels: Vec::new(),
        requested_reviewers: Vec::new(),
        requested_teams: Vec::new(),
        head_sha: head_tip.to_string(),
        merge_commit_sha: None,
        maintainer_can_modify: ctx.body["maintainer_can_modify"].as_bool().unwrap_or(false),
        created_at: now,
        updated_at: now,
        closed_at: None,
        merged_at: None,
    };
    let url = ctx.api(&format!("/pulls/{}", pull.number));
    let reply = Reply::json(201, ctx.pull_json(&pull, true));
    ctx.state.pulls.push(pull);
    created(reply, url)
}

fn pull_number(ctx: &Ctx<'_>, key: &str) -> Option<usize> {
    let number: u64 = ctx.param(key).parse().ok()?;
    ctx.state.pulls.iter().position(|p| p.number == number)
}

fn get_pull(ctx: &mut Ctx<'_>) -> Reply {
    refresh_heads(ctx.repo, ctx.state);
    match pull_number(ctx, "pull_number") {
        Some(index) => Reply::json(200, ctx.pull_json(&ctx.state.pulls[index], true)),
        None => ctx.not_found(),
    }
}

fn update_pull(ctx: &mut Ctx<'_>) -> Reply {
    refresh_heads(ctx.repo, ctx.state);
    let Some(index) = pull_number(ctx, "pull_number") else {
        return ctx.not_found();
    };
    let mut pull = ctx.state.pulls[index].clone();
    if let Some(base) = string(ctx.body, "base") {
        if git::branch_tip(ctx.repo, base).is_none() {
            return ctx.validation_failed(
                json!([{ "resource": "PullRequest", "field": "base", "code": "invalid" }]),
            );
        }
        pull.base = base.to_string();
    }
    if let Some(title) = string(ctx.body, "title") {
        pull.title = title.to_string();
    }
    if let Some(body) = string(ctx.body, "body") {
        pull.body = Some(body.to_string());
    }
    if let Some(modify) = ctx.body["maintainer_can_modify"].as_bool() {
        pull.maintainer_can_modify = modify;
    }
    let now = git::now();
    match string(ctx.body, "state") {
        Some("closed") if pull.state == "open" => {
            pull.state = "closed".to_string();
            pull.closed_at = Some(now);
        }
        Some("open") if pull.state == "closed" => {
            if pull.merged {
                return ctx.validation_failed(json!([{
                    "resource": "PullRequest", "code": "custom",
                    "message": "state cannot be changed. The pull request has already been merged.",
                }]));
            }
            if git::branch_tip(ctx.repo, &pull.head).is_none() {
                return ctx.validation_failed(json!([{
                    "resource": "PullRequest", "code": "custom",
                    "message": "state cannot be changed. The head branch has been deleted.",
                }]));
            }
            if ctx.state.pulls.iter().any(|p| {
                p.number != pull.number
                    && p.state == "open"
                    && p.head == pull.head
                    && p.base == pull.base
            }) {
                return ctx.validation_failed(pull_exists_message(ctx, &pull.head));
            }
            pull.state = "open".to_string();
            pull.closed_at = None;
        }
        _ => {}
    }
    if pull.state == "open"
        && ctx.state.pulls.iter().any(|p| {
            p.number != pull.number
                && p.state == "open"
                && p.head == pull.head
                && p.base == pull.base
        })
    {
        return ctx.validation_failed(pull_exists_message(ctx, &pull.head));
    }
    pull.updated_at = now;
    ctx.state.pulls[index] = pull;
    refresh_heads(ctx.repo, ctx.state);
    Reply::json(200, ctx.pull_json(&ctx.state.pulls[index], true))
}

fn add_labels(ctx: &mut Ctx<'_>) -> Reply {
    let Some(index) = pull_number(ctx, "issue_number") else {
        return ctx.not_found();
    };
    let names: Vec<String> = ctx.body["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|label| label.as_str().or_else(|| string(label, "name")))
        .map(str::to_string)
        .collect();
    for name in names {
        // GitHub creates a label the repository lacks; names match case-insensitively.
        let existing = ctx
            .state
            .labels
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(&name))
            .map(|l| l.name.clone());
        let name = match existing {
            Some(name) => name,
            None => {
                let id = 208_045_946 + ctx.state.labels.len() as u64;
                ctx.state.labels.push(Label {
                    id,
                    name: name.clone(),
                    color: "ededed".to_string(),
                    description: None,
                });
                name
            }
        };
        let pull = &mut ctx.state.pulls[index];
        if !pull.labels.contains(&name) {
            pull.labels.push(name);
            pull.updated_at = git::now();
        }
    }
    let labels: Vec<Value> = ctx.state.pulls[index]
        .labels
        .iter()
        .filter_map(|name| ctx.state.labels.iter().find(|l| l.name == *name))
        .map(|label| ctx.label_json(label))
        .collect();
    Reply::json(200, Value::Array(labels))
}

fn request_reviewers(ctx: &mut Ctx<'_>) -> Reply {
    refresh_heads(ctx.repo, ctx.state);
    let Some(index) = pull_number(ctx, "pull_number") else {
        return ctx.not_found();
    };
    let list = |key: &str| -> Vec<String> {
        ctx.body[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect()
    };
    let reviewers = list("reviewers");
    let teams = list("team_reviewers");
    if reviewers.iter().any(|r| r.eq_ignore_ascii_case(BOT_NAME)) {
        return ctx.unprocessable("Review cannot be requested from pull request author.");
    }
    let mut logins = Vec::new();
    for reviewer in &reviewers {
        match ctx
            .state
            .collaborators
            .iter()
            .find(|c| c.eq_ignore_ascii_case(reviewer))
        {
            Some(login) => logins.push(login.clone()),
            None => {
                return ctx.unprocessable(&format!(
                    "Reviews may only be requested from collaborators. One or more of the users or teams you \
                     specified is not a collaborator of the {}/{} repository.",
                    ctx.owner, ctx.name
                ));
            }
        }
    }
    let pull = &mut ctx.state.pulls[index];
    for login in logins {
        if !pull.requested_reviewers.contains(&login) {
            pull.requested_reviewers.push(login);
        }
    }
    for team in teams {
        if !pull.requested_teams.contains(&team) {
            pull.requested_teams.push(team);
        }
    }
    pull.updated_at = git::now();
    Reply::json(201, ctx.pull_json(&ctx.state.pulls[index], false))
}

// ---- releases ---------------------------------------------------------------------------------------

fn get_release_by_tag(ctx: &Ctx<'_>) -> Reply {
    let tag = ctx.param("tag");
    match ctx
        .state
        .releases
        .iter()
        .find(|r| r.tag_name == tag && !r.draft)
    {
        Some(release) => Reply::json(200, ctx.release_json(release)),
        None => ctx.not_found(),
    }
}

fn latest_release(state: &State) -> Option<&Release> {
    let published = |r: &&Release| !r.draft && !r.prerelease;
    state
        .latest_release
        .and_then(|id| state.releases.iter().filter(published).find(|r| r.id == id))
        .or_else(|| {
            state
                .releases
                .iter()
                .filter(published)
                .max_by_key(|r| (r.published_at, r.id))
        })
}

fn get_latest_release(ctx: &Ctx<'_>) -> Reply {
    match latest_release(ctx.state) {
        Some(release) => Reply::json(200, ctx.release_json(release)),
        None => ctx.not_found(),
    }
}

/// A published release's tag exists: GitHub creates it at `target_commitish` when it is missing.
fn ensure_tag(ctx: &Ctx<'_>, release: &Release) -> Result<(), Reply> {
    let name = format!("refs/tags/{}", release.tag_name);
    if release.draft || git::ref_target(ctx.repo, &name).is_some() {
        return Ok(());
    }
    let Some(commit) = git::commit_for(ctx.repo, &release.target_commitish) else {
        return Err(ctx.validation_failed(
            json!([{ "resource": "Release", "code": "invalid", "field": "target_commitish" }]),
        ));
    };
    ctx.repo
        .reference(&name, commit, false, "release tag")
        .expect("create tag");
    Ok(())
}

fn apply_make_latest(state: &mut State, id: u64, make_latest: Option<&str>) {
    match make_latest {
        Some("false") => {
            if state.latest_release == Some(id) {
                state.latest_release = None;
            }
        }
        Some("legacy") => state.latest_release = None,
        _ => state.latest_release = Some(id),
    }
}

fn create_release(ctx: &mut Ctx<'_>) -> Reply {
    let tag = string(ctx.body, "tag_name").unwrap_or_default().to_string();
    if ctx.body.get("discussion_category_name").is_some() {
        return ctx.not_found();
    }
    if ctx.state.releases.iter().any(|r| r.tag_name == tag) {
        return ctx.validation_failed(
            json!([{ "resource": "Release", "code": "already_exists", "field": "tag_name" }]),
        );
    }
    let now = git::now();
    let draft = ctx.body["draft"].as_bool().unwrap_or(false);
    let release = Release {
        id: ctx.state.releases.len() as u64 + 1,
        tag_name: tag,
        target_commitish: string(ctx.body, "target_commitish")
            .map(str::to_string)
            .unwrap_or_else(|| git::default_branch(ctx.repo)),
        name: string(ctx.body, "name").map(str::to_string),
        body: string(ctx.body, "body").map(str::to_string),
        draft,
        prerelease: ctx.body["prerelease"].as_bool().unwrap_or(false),
        created_at: now,
        published_at: (!draft).then_some(now),
    };
    if let Err(reply) = ensure_tag(ctx, &release) {
        return reply;
    }
    if !release.draft && !release.prerelease {
        apply_make_latest(ctx.state, release.id, string(ctx.body, "make_latest"));
    }
    let url = ctx.api(&format!("/releases/{}", release.id));
    let reply = Reply::json(201, ctx.release_json(&release));
    ctx.state.releases.push(release);
    created(reply, url)
}

fn update_release(ctx: &mut Ctx<'_>) -> Reply {
    let id: u64 = ctx.param("release_id").parse().unwrap_or(0);
    let Some(index) = ctx.state.releases.iter().position(|r| r.id == id) else {
        return ctx.not_found();
    };
    let mut release = ctx.state.releases[index].clone();
    if let Some(tag) = string(ctx.body, "tag_name") {
        if ctx
            .state
            .releases
            .iter()
            .any(|r| r.id != id && r.tag_name == tag)
        {
            return ctx.validation_failed(
                json!([{ "resource": "Release", "code": "already_exists", "field": "tag_name" }]),
            );
        }
        release.tag_name = tag.to_string();
    }
    if let Some(target) = string(ctx.body, "target_commitish") {
        release.target_commitish = target.to_string();
    }
    if let Some(name) = string(ctx.body, "name") {
        release.name = Some(name.to_string());
    }
    if let Some(body) = string(ctx.body, "body") {
        release.body = Some(body.to_string());
    }
    if let Some(prerelease) = ctx.body["prerelease"].as_bool() {
        release.prerelease = prerelease;
    }
    let mut published = false;
    if let Some(draft) = ctx.body["draft"].as_bool() {
        if release.draft && !draft {
            release.published_at = Some(git::now());
            published = true;
        }
        release.draft = draft;
    }
    if let Err(reply) = ensure_tag(ctx, &release) {
        return reply;
    }
    let make_latest = string(ctx.body, "make_latest");
    if !release.draft && !release.prerelease && (published || make_latest.is_some()) {
        apply_make_latest(ctx.state, release.id, make_latest);
    }
    ctx.state.releases[index] = release;
    Reply::json(200, ctx.release_json(&ctx.state.releases[index]))
}
