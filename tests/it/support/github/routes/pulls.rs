//! Pull requests: list (with the `head=owner:branch` filter), open, read, update, merge (squash), labels and
//! reviewers.

use super::*;

/// Commits the head has that the base lacks, and the diff from their merge base.
pub(super) fn diff_stats(repo: &Repository, pull: &PullState) -> (usize, usize, usize, usize) {
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
pub(super) fn merge_pull(ctx: &mut Ctx<'_>) -> Reply {
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

pub(super) fn list_pulls(ctx: &mut Ctx<'_>) -> Reply {
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
pub(super) fn link_header(ctx: &Ctx<'_>, rest: &str, page: usize, last: usize) -> String {
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

pub(super) fn pull_exists_message(ctx: &Ctx<'_>, head: &str) -> Value {
    json!([{
        "resource": "PullRequest",
        "code": "custom",
        "message": format!("A pull request already exists for {}:{head}.", ctx.owner),
    }])
}

pub(super) fn create_pull(ctx: &mut Ctx<'_>) -> Reply {
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

pub(super) fn pull_number(ctx: &Ctx<'_>, key: &str) -> Option<usize> {
    let number: u64 = ctx.param(key).parse().ok()?;
    ctx.state.pulls.iter().position(|p| p.number == number)
}

pub(super) fn get_pull(ctx: &mut Ctx<'_>) -> Reply {
    refresh_heads(ctx.repo, ctx.state);
    match pull_number(ctx, "pull_number") {
        Some(index) => Reply::json(200, ctx.pull_json(&ctx.state.pulls[index], true)),
        None => ctx.not_found(),
    }
}

/// The pull request as `GET /pulls/{pull_number}` answers it now: what an event payload's `pull_request` holds.
pub fn pull_payload(ctx: Ctx<'_>) -> Value {
    let index = pull_number(&ctx, "pull_number").expect("no such pull request");
    ctx.pull_json(&ctx.state.pulls[index], true)
}

pub(super) fn update_pull(ctx: &mut Ctx<'_>) -> Reply {
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

pub(super) fn add_labels(ctx: &mut Ctx<'_>) -> Reply {
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

pub(super) fn request_reviewers(ctx: &mut Ctx<'_>) -> Reply {
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
