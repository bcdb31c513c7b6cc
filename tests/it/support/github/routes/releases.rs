//! Releases: by tag, latest, create, update (with `make_latest`).

use super::*;

pub(super) fn get_release_by_tag(ctx: &Ctx<'_>) -> Reply {
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

pub(super) fn latest_release(state: &State) -> Option<&Release> {
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

pub(super) fn get_latest_release(ctx: &Ctx<'_>) -> Reply {
    match latest_release(ctx.state) {
        Some(release) => Reply::json(200, ctx.release_json(release)),
        None => ctx.not_found(),
    }
}

/// A published release's tag exists: GitHub creates it at `target_commitish` when it is missing.
pub(super) fn ensure_tag(ctx: &Ctx<'_>, release: &Release) -> Result<(), Reply> {
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

pub(super) fn apply_make_latest(state: &mut State, id: u64, make_latest: Option<&str>) {
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

pub(super) fn create_release(ctx: &mut Ctx<'_>) -> Reply {
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

pub(super) fn update_release(ctx: &mut Ctx<'_>) -> Reply {
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
