//! Check runs and commit statuses: list a commit's check runs (`filter=latest`: the newest run per name),
//! create one (how tests seed CI results), the combined status (newest per context) and the statuses list,
//! create a status. Reads answer 403 when a permission is denied ([`super::super::TestGithub::deny`]).

use super::*;

/// 403 with the permission GitHub names in `x-accepted-github-permissions`, when the test denied it.
fn denied(ctx: &Ctx<'_>, permission: &str) -> Option<Reply> {
    if !ctx.state.denied.iter().any(|d| d == permission) {
        return None;
    }
    let mut reply = Reply::message(403, NOT_ACCESSIBLE, &ctx.op.docs_url);
    reply.header("x-accepted-github-permissions", permission);
    Some(reply)
}

/// The commit `{ref}` names (SHA, branch, tag, `heads/…`, `tags/…`), or GitHub's 422 for an unknown one.
fn commit_of(ctx: &Ctx<'_>, rev: &str) -> Result<String, Reply> {
    let rev_name = rev
        .strip_prefix("heads/")
        .or_else(|| rev.strip_prefix("tags/"))
        .unwrap_or(rev);
    git::commit_for(ctx.repo, rev_name)
        .or_else(|| git::existing(ctx.repo, rev))
        .map(|oid| oid.to_string())
        .ok_or_else(|| ctx.unprocessable(&format!("No commit found for SHA: {rev}")))
}

fn page_of(ctx: &Ctx<'_>) -> (usize, usize) {
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
    (per_page, page)
}

impl Ctx<'_> {
    fn check_run_json(&self, run: &CheckRun) -> Value {
        let mut value = self.example("checks/list-for-ref", 200, None)["check_runs"][0].clone();
        let html = self.html(&format!("/runs/{}", run.id));
        set_fields(
            &mut value,
            [
                ("id", json!(run.id)),
                ("node_id", json!(format!("CR_{}", run.id))),
                ("head_sha", json!(run.head_sha)),
                ("external_id", json!(run.id.to_string())),
                ("url", json!(self.api(&format!("/check-runs/{}", run.id)))),
                ("html_url", json!(html)),
                (
                    "details_url",
                    json!(run.details_url.clone().unwrap_or(html)),
                ),
                ("status", json!(run.status)),
                ("conclusion", json!(run.conclusion)),
                ("started_at", json!(git::format_date(run.started_at))),
                (
                    "completed_at",
                    json!(run.completed_at.map(git::format_date)),
                ),
                ("name", json!(run.name)),
                ("check_suite", json!({ "id": 5 })),
                ("pull_requests", json!([])),
                (
                    "output",
                    json!({
                        "title": run.conclusion.as_deref().map(|c| format!("{} {c}", run.name)),
                        "summary": null,
                        "text": null,
                        "annotations_count": 0,
                        "annotations_url": self.api(&format!("/check-runs/{}/annotations", run.id)),
                    }),
                ),
            ],
        );
        if let Value::Object(map) = &mut value {
            map.remove("deployment");
        }
        value
    }

    fn status_json(&self, status: &CommitStatus, full: bool) -> Value {
        let mut value = json!({
            "url": self.api(&format!("/statuses/{}", status.sha)),
            "avatar_url": "https://avatars.githubusercontent.com/u/41898282?v=4",
            "id": status.id,
            "node_id": format!("SC_{}", status.id),
            "state": status.state,
            "description": status.description,
            "target_url": status.target_url,
            "context": status.context,
            "created_at": git::format_date(status.created_at),
            "updated_at": git::format_date(status.created_at),
        });
        if full {
            value["creator"] = self.bot();
        } else {
            value["required"] = json!(false);
        }
        value
    }
}

/// `GET /commits/{ref}/check-runs`: newest first; `filter=latest` (the default) keeps the newest run per name.
pub(super) fn list_check_runs(ctx: &Ctx<'_>) -> Reply {
    if let Some(reply) = denied(ctx, "checks=read") {
        return reply;
    }
    let sha = match commit_of(ctx, ctx.param("ref")) {
        Ok(sha) => sha,
        Err(reply) => return reply,
    };
    let latest = ctx.query("filter").unwrap_or("latest") == "latest";
    let mut runs: Vec<&CheckRun> = ctx
        .state
        .check_runs
        .iter()
        .filter(|r| r.head_sha == sha)
        .filter(|r| ctx.query("check_name").is_none_or(|n| n == r.name))
        .filter(|r| ctx.query("status").is_none_or(|s| s == r.status))
        .collect();
    runs.sort_by_key(|r| std::cmp::Reverse(r.id));
    if latest {
        let mut seen = Vec::new();
        runs.retain(|r| {
            let fresh = !seen.contains(&r.name.as_str());
            seen.push(r.name.as_str());
            fresh
        });
    }
    let (per_page, page) = page_of(ctx);
    let last = runs.len().div_ceil(per_page).max(1);
    let items: Vec<Value> = runs
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|r| ctx.check_run_json(r))
        .collect();
    let mut reply = Reply::json(
        200,
        json!({ "total_count": runs.len(), "check_runs": items }),
    );
    if last > 1 {
        let rest = format!("/commits/{}/check-runs", ctx.param("ref"));
        reply.header("link", &link_header(ctx, &rest, page, last));
    }
    reply
}

/// `POST /check-runs` (needs `checks: write`): how a test plays the CI that reports on a commit.
pub(super) fn create_check_run(ctx: &mut Ctx<'_>) -> Reply {
    let head_sha = string(ctx.body, "head_sha").unwrap_or_default();
    let Some(oid) = git::existing(ctx.repo, head_sha) else {
        return ctx.unprocessable(&format!("No commit found for SHA: {head_sha}"));
    };
    let conclusion = string(ctx.body, "conclusion").map(str::to_string);
    let status = match (&conclusion, string(ctx.body, "status")) {
        (Some(_), _) => "completed".to_string(),
        (None, Some("completed")) => {
            return ctx.validation_failed(
                json!([{ "resource": "CheckRun", "code": "missing_field", "field": "conclusion" }]),
            );
        }
        (None, Some(status)) => status.to_string(),
        (None, None) => "queued".to_string(),
    };
    let now = git::now();
    let run = CheckRun {
        id: ctx.state.check_runs.len() as u64 + 1,
        name: string(ctx.body, "name").unwrap_or_default().to_string(),
        head_sha: oid.to_string(),
        status,
        completed_at: conclusion.is_some().then_some(now),
        conclusion,
        details_url: string(ctx.body, "details_url").map(str::to_string),
        started_at: now,
    };
    let reply = Reply::json(201, ctx.check_run_json(&run));
    ctx.state.check_runs.push(run);
    reply
}

fn statuses_for<'s>(state: &'s State, sha: &str) -> Vec<&'s CommitStatus> {
    let mut statuses: Vec<&CommitStatus> = state.statuses.iter().filter(|s| s.sha == sha).collect();
    statuses.sort_by_key(|s| std::cmp::Reverse(s.id));
    statuses
}

/// `GET /commits/{ref}/status`: the newest status per context, and their combined state.
pub(super) fn combined_status(ctx: &Ctx<'_>) -> Reply {
    if let Some(reply) = denied(ctx, "statuses=read") {
        return reply;
    }
    let sha = match commit_of(ctx, ctx.param("ref")) {
        Ok(sha) => sha,
        Err(reply) => return reply,
    };
    let mut latest: Vec<&CommitStatus> = Vec::new();
    for status in statuses_for(ctx.state, &sha) {
        if !latest
            .iter()
            .any(|s| s.context.eq_ignore_ascii_case(&status.context))
        {
            latest.push(status);
        }
    }
    let state = if latest
        .iter()
        .any(|s| s.state == "failure" || s.state == "error")
    {
        "failure"
    } else if latest.is_empty() || latest.iter().any(|s| s.state == "pending") {
        "pending"
    } else {
        "success"
    };
    let (per_page, page) = page_of(ctx);
    let items: Vec<Value> = latest
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|s| ctx.status_json(s, false))
        .collect();
    let mut value = ctx.example("repos/get-combined-status-for-ref", 200, None);
    let mut repository = value["repository"].clone();
    ctx.overlay_repo(&mut repository);
    set_fields(
        &mut value,
        [
            ("state", json!(state)),
            ("statuses", Value::Array(items)),
            ("sha", json!(sha)),
            ("total_count", json!(latest.len())),
            ("repository", repository),
            ("commit_url", json!(ctx.api(&format!("/commits/{sha}")))),
            (
                "url",
                json!(ctx.api(&format!("/commits/{}/status", ctx.param("ref")))),
            ),
        ],
    );
    Reply::json(200, value)
}

/// `GET /commits/{ref}/statuses`: every status, newest first.
pub(super) fn list_statuses(ctx: &Ctx<'_>) -> Reply {
    if let Some(reply) = denied(ctx, "statuses=read") {
        return reply;
    }
    let sha = match commit_of(ctx, ctx.param("ref")) {
        Ok(sha) => sha,
        Err(reply) => return reply,
    };
    let all = statuses_for(ctx.state, &sha);
    let (per_page, page) = page_of(ctx);
    let last = all.len().div_ceil(per_page).max(1);
    let items: Vec<Value> = all
        .iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .map(|s| ctx.status_json(s, true))
        .collect();
    let mut reply = Reply::json(200, Value::Array(items));
    if last > 1 {
        let rest = format!("/commits/{}/statuses", ctx.param("ref"));
        reply.header("link", &link_header(ctx, &rest, page, last));
    }
    reply
}

/// `POST /statuses/{sha}` (needs `statuses: write`): 422 for a SHA the repository lacks.
pub(super) fn create_status(ctx: &mut Ctx<'_>) -> Reply {
    if let Some(reply) = denied(ctx, "statuses=write") {
        return reply;
    }
    let sha = ctx.param("sha").to_string();
    let Some(oid) = git::existing(ctx.repo, &sha) else {
        return ctx.unprocessable(&format!("No commit found for SHA: {sha}"));
    };
    let status = CommitStatus {
        id: ctx.state.statuses.len() as u64 + 1,
        sha: oid.to_string(),
        state: string(ctx.body, "state").unwrap_or_default().to_string(),
        context: string(ctx.body, "context").unwrap_or("default").to_string(),
        target_url: string(ctx.body, "target_url").map(str::to_string),
        description: string(ctx.body, "description").map(str::to_string),
        created_at: git::now(),
    };
    let url = ctx.api(&format!("/statuses/{}", status.sha));
    let reply = Reply::json(201, ctx.status_json(&status, true));
    ctx.state.statuses.push(status);
    created(reply, url)
}
