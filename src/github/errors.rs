//! Owns turning a failed GitHub answer into an error a person can act on: the category, GitHub's own
//! `message` and `documentation_url` kept, and a `help:` line with the exact fix. Never request headers.

use crate::error::{Error, Kind};

/// The permission a call needs from the job's `permissions:` block (or from the token).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Need {
    /// A read of code or git objects: `contents: read`, which a job token has unless taken away.
    Read,
    /// A read of pull requests: `pull-requests: read`.
    ReadPulls,
    /// Blobs, trees, commits and refs.
    Contents,
    /// Pull requests, their labels and reviewers.
    PullRequests,
    /// A commit's check runs: `checks: read`.
    ReadChecks,
    /// A commit's statuses: `statuses: read`.
    ReadStatuses,
    /// Setting a commit status: `statuses: write`.
    WriteStatuses,
}

impl Need {
    fn scope(self) -> &'static str {
        match self {
            Need::Read => "contents: read",
            Need::ReadPulls => "pull-requests: read",
            Need::Contents => "contents: write",
            Need::PullRequests => "pull-requests: write",
            Need::ReadChecks => "checks: read",
            Need::ReadStatuses => "statuses: read",
            Need::WriteStatuses => "statuses: write",
        }
    }
}

/// One logical call, as errors and progress lines name it.
#[derive(Debug, Clone)]
pub(crate) struct Op {
    /// What we were doing, after "can't": `read branch main of octo/app`.
    pub what: String,
    pub method: &'static str,
    /// The path as sent, without the API base (`/repos/o/r/git/ref/heads%2Fmain`).
    pub path: String,
    pub need: Need,
    /// A 404 here means the repository itself is wrong or invisible.
    pub repository: bool,
}

/// A failed answer as GitHub describes it in its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    pub status: u16,
    pub message: String,
    pub documentation_url: Option<String>,
    /// The `errors` array of a 422, each entry as one line (`message`, or `resource.field code`).
    pub errors: Vec<String>,
}

impl Answer {
    pub(crate) fn from_octocrab(e: &octocrab::GitHubError) -> Self {
        Self {
            status: e.status_code.as_u16(),
            message: one_line(&e.message),
            documentation_url: e.documentation_url.clone(),
            errors: e
                .errors
                .as_deref()
                .unwrap_or_default()
                .iter()
                .map(error_line)
                .collect(),
        }
    }

    /// The message and the 422 details, for matching.
    fn text(&self) -> String {
        let mut s = self.message.clone();
        for e in &self.errors {
            s.push(' ');
            s.push_str(e);
        }
        s
    }

    fn says(&self, needle: &str) -> bool {
        self.text()
            .to_ascii_lowercase()
            .contains(&needle.to_ascii_lowercase())
    }
}

/// `{"resource":"PullRequest","code":"custom","message":"A pull request already exists for o:b."}` → its
/// message; otherwise `PullRequest.head invalid`.
fn error_line(v: &serde_json::Value) -> String {
    if let Some(m) = v.get("message").and_then(|m| m.as_str()) {
        return one_line(m);
    }
    if let Some(s) = v.as_str() {
        return one_line(s);
    }
    let part = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or("");
    let mut line = part("resource").to_string();
    if !part("field").is_empty() {
        line.push('.');
        line.push_str(part("field"));
    }
    if !part("code").is_empty() {
        line.push(' ');
        line.push_str(part("code"));
    }
    line.trim().to_string()
}

pub(crate) fn one_line(s: &str) -> String {
    let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
    match s.char_indices().nth(1000) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s,
    }
}

const PERMISSIONS_BLOCK: &str = "permissions:\n    contents: write        # commit and move the promotion branch\n    pull-requests: write   # open and update the pull request";

const BAD_CREDENTIALS: &str = "GitHub refused the token (it expired, was revoked, or none was passed): pass a valid token as `github-token` (the default is the workflow's `GITHUB_TOKEN`, which lives only as long as the job)";

const ACTIONS_MAY_NOT_OPEN_PULLS: &str = "in the repository's (or the organisation's) Settings → Actions → General → Workflow permissions, tick \"Allow GitHub Actions to create and approve pull requests\"; or pass a GitHub App token (actions/create-github-app-token) or a fine-grained personal access token as `github-token`";

/// The error for a failed answer to `op`.
pub(crate) fn describe(op: &Op, answer: &Answer) -> Error {
    let (kind, help) = classify(op, answer);
    let error = Error::new(kind, message(op, answer));
    match help {
        Some(help) => error.with_help(help),
        None => error,
    }
}

/// `can't open a pull request …: GitHub answered 403 to POST /repos/o/r/pulls: <message> (see <doc>)`.
pub(crate) fn message(op: &Op, answer: &Answer) -> String {
    let mut m = format!(
        "can't {}: GitHub answered {} to {} {}",
        op.what, answer.status, op.method, op.path
    );
    if !answer.message.is_empty() {
        m.push_str(": ");
        m.push_str(&answer.message);
    }
    if !answer.errors.is_empty() {
        m.push_str(" (");
        m.push_str(&answer.errors.join("; "));
        m.push(')');
    }
    if let Some(doc) = &answer.documentation_url {
        m.push_str(&format!(" (see {doc})"));
    }
    m
}

fn permission_help(op: &Op) -> String {
    match op.need {
        // The gates read both lists: name both lines, so one edit of the workflow fixes the run.
        Need::ReadChecks | Need::ReadStatuses => "the token can't read the commit's checks: add to the job's `permissions:` block:\n  checks: read\n  statuses: read\n(or pass a token with those permissions as `github-token`)".to_string(),
        Need::WriteStatuses => "the token can't set the commit status `gitops-promote/checklist`: add to the job's `permissions:` block:\n  statuses: write\n(or pass a token with that permission as `github-token`)".to_string(),
        Need::Read | Need::ReadPulls => format!(
            "the token can't read this: give the job `{}` in its `permissions:` block, or pass a token with access as `github-token`",
            op.need.scope()
        ),
        need => format!(
            "the token lacks `{}`: add it to the job's `permissions:` block:\n  {PERMISSIONS_BLOCK}\n(or pass a GitHub App token or fine-grained personal access token with that permission as `github-token`)",
            need.scope()
        ),
    }
}

fn classify(op: &Op, a: &Answer) -> (Kind, Option<String>) {
    if a.says("not permitted to create or approve pull requests") {
        return (
            Kind::Permission,
            Some(ACTIONS_MAY_NOT_OPEN_PULLS.to_string()),
        );
    }
    if a.says("resource not accessible by") {
        return (Kind::Permission, Some(permission_help(op)));
    }
    match a.status {
        401 => (Kind::Permission, Some(BAD_CREDENTIALS.to_string())),
        403 if a.says("rate limit") => (
            Kind::Upstream,
            Some("GitHub is rate limiting this token; rerun later (a rerun picks up where this one stopped), or pass a token with its own limit (a GitHub App token) as `github-token`".to_string()),
        ),
        403 => (Kind::Permission, Some(permission_help(op))),
        404 if op.repository => (
            Kind::NotFound,
            Some("check `GITHUB_REPOSITORY` (`owner/name`); GitHub also answers 404 when the token can't see the repository: pass a token with access as `github-token`".to_string()),
        ),
        404 if !matches!(op.need, Need::Read | Need::ReadPulls | Need::ReadChecks | Need::ReadStatuses) => (
            Kind::NotFound,
            Some(format!(
                "GitHub also answers 404 when the token may not write here: check that the target exists and that the job has `{}` (or pass a token that has it as `github-token`)",
                op.need.scope()
            )),
        ),
        404 => (Kind::NotFound, None),
        409 => (Kind::Conflict, None),
        // `code: already_exists` is how a release (or a ref) names it; a retry after a lost answer gets it.
        422 if a.says("already exists") || a.says("already_exists") => (Kind::Conflict, None),
        422 if a.says("reference does not exist") => (Kind::NotFound, None),
        422 if a.says("review cannot be requested from pull request author") => (
            Kind::Input,
            Some("GitHub doesn't let a pull request's author review it: leave the token's own user out of the reviewers".to_string()),
        ),
        422 if a.says("collaborator") => (
            Kind::Input,
            Some("reviewers must be collaborators on the repository (teams: teams with access to it); check the reviewer and team names".to_string()),
        ),
        s if s >= 500 => (
            Kind::Upstream,
            Some("GitHub is failing; rerun later (a rerun picks up where this one stopped)".to_string()),
        ),
        _ => (Kind::Upstream, None),
    }
}

/// Why a pull request opened with the workflow's own token runs no CI, and what to use instead. `what` names
/// the pull request of the mode that runs (`promotion`, `rollback`), so a rollback's notice speaks of its own.
pub fn workflow_token_notice(what: &str) -> String {
    format!(
        "a pull request or tag created with the workflow's `GITHUB_TOKEN` starts no other workflow: GitHub \
         suppresses those events to prevent loops, so `on: pull_request` checks will not run on the {what} \
         pull request (and `on: push` tag workflows will not start). To have them run, pass a GitHub App \
         installation token (from actions/create-github-app-token) or a fine-grained personal access token \
         with `contents: write` and `pull-requests: write` as `github-token`."
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(need: Need, repository: bool) -> Op {
        Op {
            what: "do the thing".into(),
            method: "POST",
            path: "/repos/o/r/pulls".into(),
            need,
            repository,
        }
    }

    /// A recorded error body, as GitHub sends it, through octocrab's own error model.
    fn answer(status: u16, body: &str) -> Answer {
        let v: serde_json::Value = serde_json::from_str(body).expect("json");
        Answer {
            status,
            message: v["message"].as_str().unwrap_or("").to_string(),
            documentation_url: v["documentation_url"].as_str().map(str::to_string),
            errors: v["errors"]
                .as_array()
                .map(|a| a.iter().map(error_line).collect())
                .unwrap_or_default(),
        }
    }

    #[test]
    fn actions_may_not_open_pull_requests() {
        let a = answer(
            403,
            r#"{"message":"GitHub Actions is not permitted to create or approve pull requests.","documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request","status":"403"}"#,
        );
        let e = describe(&op(Need::PullRequests, false), &a);
        assert_eq!(e.kind, Kind::Permission);
        assert!(
            e.message
                .contains("GitHub Actions is not permitted to create or approve pull requests"),
            "{e}"
        );
        assert!(
            e.message
                .contains("(see https://docs.github.com/rest/pulls/pulls#create-a-pull-request)")
        );
        let help = e.help.expect("help");
        assert!(help.contains("Allow GitHub Actions to create and approve pull requests"));
        assert!(help.contains("Settings → Actions → General → Workflow permissions"));
        assert!(help.contains("`github-token`"));
    }

    #[test]
    fn resource_not_accessible_names_the_permission_and_shows_the_block() {
        let body = r#"{"message":"Resource not accessible by integration","documentation_url":"https://docs.github.com/rest/git/refs#create-a-reference","status":"403"}"#;
        let e = describe(&op(Need::Contents, false), &answer(403, body));
        assert_eq!(e.kind, Kind::Permission);
        let help = e.help.expect("help");
        assert!(
            help.starts_with("the token lacks `contents: write`"),
            "{help}"
        );
        assert!(help.contains("add it to the job's `permissions:` block"));
        assert!(help.contains("permissions:\n    contents: write"));

        let e = describe(&op(Need::PullRequests, false), &answer(404, body));
        assert_eq!(e.kind, Kind::Permission);
        assert!(
            e.help
                .expect("help")
                .starts_with("the token lacks `pull-requests: write`")
        );
    }

    #[test]
    fn bad_credentials_say_the_token_was_refused() {
        let a = answer(
            401,
            r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}"#,
        );
        let e = describe(&op(Need::Read, true), &a);
        assert_eq!(e.kind, Kind::Permission);
        assert!(e.message.contains("GitHub answered 401"));
        assert!(e.message.contains("Bad credentials"));
        let help = e.help.expect("help");
        assert!(help.contains("refused the token") && help.contains("`github-token`"));
    }

    #[test]
    fn missing_repository_points_at_github_repository() {
        let a = answer(
            404,
            r#"{"message":"Not Found","documentation_url":"https://docs.github.com/rest/repos/repos#get-a-repository","status":"404"}"#,
        );
        let e = describe(&op(Need::Read, true), &a);
        assert_eq!(e.kind, Kind::NotFound);
        assert!(e.help.expect("help").contains("`GITHUB_REPOSITORY`"));
        // Elsewhere a read's 404 is plain "not found"; a write's may be a hidden permission.
        assert_eq!(describe(&op(Need::Read, false), &a).help, None);
        assert!(
            describe(&op(Need::Contents, false), &a)
                .help
                .expect("help")
                .contains("`contents: write`")
        );
    }

    #[test]
    fn validation_failures_keep_the_details() {
        let a = answer(
            422,
            r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","code":"custom","message":"A pull request already exists for octo:promote/production."}],"documentation_url":"https://docs.github.com/rest/pulls/pulls#create-a-pull-request","status":"422"}"#,
        );
        let e = describe(&op(Need::PullRequests, false), &a);
        assert_eq!(e.kind, Kind::Conflict);
        assert!(
            e.message.contains(
                "Validation Failed (A pull request already exists for octo:promote/production.)"
            ),
            "{}",
            e.message
        );
        let a = answer(
            422,
            r#"{"message":"Validation Failed","errors":[{"resource":"PullRequest","field":"head","code":"invalid"}]}"#,
        );
        let e = describe(&op(Need::PullRequests, false), &a);
        assert_eq!(e.kind, Kind::Upstream);
        assert!(
            e.message
                .ends_with("Validation Failed (PullRequest.head invalid)")
        );
    }

    #[test]
    fn other_answers_map_to_their_category() {
        let cases = [
            (
                409,
                r#"{"message":"Git Repository is empty."}"#,
                Kind::Conflict,
            ),
            (
                422,
                r#"{"message":"Reference already exists"}"#,
                Kind::Conflict,
            ),
            (
                422,
                r#"{"message":"Reference does not exist"}"#,
                Kind::NotFound,
            ),
            (
                422,
                r#"{"message":"Validation Failed","errors":[{"resource":"Release","code":"already_exists","field":"tag_name"}]}"#,
                Kind::Conflict,
            ),
            (
                422,
                r#"{"message":"Review cannot be requested from pull request author."}"#,
                Kind::Input,
            ),
            (502, r#"{"message":"Server Error"}"#, Kind::Upstream),
            (
                403,
                r#"{"message":"Must have admin rights to Repository."}"#,
                Kind::Permission,
            ),
        ];
        for (status, body, kind) in cases {
            let e = describe(&op(Need::Contents, false), &answer(status, body));
            assert_eq!(e.kind, kind, "{status} {body}");
        }
    }

    #[test]
    fn notice_names_the_alternatives() {
        let n = workflow_token_notice("rollback");
        assert!(n.contains("`GITHUB_TOKEN`") && n.contains("starts no other workflow"));
        assert!(n.contains("on the rollback pull request") && !n.contains("promotion"));
        assert!(n.contains("actions/create-github-app-token") && n.contains("`github-token`"));
    }
}
