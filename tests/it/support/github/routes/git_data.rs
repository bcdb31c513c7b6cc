//! The Git Data API and the repository reads: refs, branches, compare, commits, contents, blobs, trees.

use super::*;

pub(super) fn get_ref(ctx: &Ctx<'_>) -> Reply {
    let full_name = format!("refs/{}", ctx.param("ref"));
    match git::ref_target(ctx.repo, &full_name) {
        Some(oid) => Reply::json(200, ctx.ref_json(&full_name, oid)),
        None => ctx.not_found(),
    }
}

pub(super) fn get_branch(ctx: &Ctx<'_>) -> Reply {
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
pub(super) fn compare(ctx: &Ctx<'_>) -> Reply {
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

pub(super) fn get_commit(ctx: &Ctx<'_>) -> Reply {
    match git::existing(ctx.repo, ctx.param("commit_sha")) {
        Some(oid) if git::kind_of(ctx.repo, oid) == Some(ObjectType::Commit) => {
            Reply::json(200, ctx.commit_json(oid))
        }
        _ => ctx.not_found(),
    }
}

pub(super) fn content_links(
    ctx: &Ctx<'_>,
    path: &str,
    rev: &str,
    oid: Oid,
    kind: &str,
) -> Map<String, Value> {
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

pub(super) fn get_content(ctx: &Ctx<'_>) -> Reply {
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
pub(super) fn github_base64(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 60 + 1);
    for chunk in encoded.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out
}

pub(super) fn create_blob(ctx: &Ctx<'_>) -> Reply {
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

pub(super) fn tree_json(ctx: &Ctx<'_>, oid: Oid) -> Value {
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

pub(super) fn create_tree(ctx: &Ctx<'_>) -> Reply {
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

pub(super) fn person(
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

pub(super) fn create_commit(ctx: &mut Ctx<'_>) -> Reply {
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

pub(super) fn create_ref(ctx: &Ctx<'_>) -> Reply {
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
pub(super) fn concurrent_push(ctx: &mut Ctx<'_>, branch: &str) {
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

pub(super) fn update_ref(ctx: &mut Ctx<'_>) -> Reply {
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

pub(super) fn delete_ref(ctx: &mut Ctx<'_>) -> Reply {
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
