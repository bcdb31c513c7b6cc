//! The repository behind the test GitHub: a real bare git repository (git2), its refs, objects and files.

use std::path::Path;

use git2::{ObjectType, Oid, Repository, Signature, Time, Tree};

/// The identity GitHub gives commits an Actions token creates without `author`.
pub const BOT_NAME: &str = "github-actions[bot]";
pub const BOT_EMAIL: &str = "41898282+github-actions[bot]@users.noreply.github.com";
/// The committer of merges GitHub makes on the web.
pub const WEB_FLOW_NAME: &str = "GitHub";
pub const WEB_FLOW_EMAIL: &str = "noreply@github.com";

pub fn open(bare: &Path) -> Repository {
    Repository::open_bare(bare)
        .unwrap_or_else(|err| panic!("{} is not a bare git repository: {err}", bare.display()))
}

/// The branch `HEAD` names (`main`), whether or not it has commits yet.
pub fn default_branch(repo: &Repository) -> String {
    let head = repo.find_reference("HEAD").expect("HEAD");
    let target = head
        .symbolic_target()
        .ok()
        .flatten()
        .unwrap_or("refs/heads/main");
    target
        .strip_prefix("refs/heads/")
        .unwrap_or(target)
        .to_string()
}

/// What a ref (`refs/heads/main`) points to, if it exists.
pub fn ref_target(repo: &Repository, name: &str) -> Option<Oid> {
    repo.find_reference(name).ok()?.resolve().ok()?.target()
}

pub fn branch_tip(repo: &Repository, branch: &str) -> Option<Oid> {
    ref_target(repo, &format!("refs/heads/{branch}"))
}

pub fn kind_of(repo: &Repository, oid: Oid) -> Option<ObjectType> {
    repo.find_object(oid, None).ok()?.kind()
}

pub fn kind_name(kind: Option<ObjectType>) -> &'static str {
    match kind {
        Some(ObjectType::Commit) => "commit",
        Some(ObjectType::Tree) => "tree",
        Some(ObjectType::Blob) => "blob",
        Some(ObjectType::Tag) => "tag",
        _ => "unknown",
    }
}

/// A full 40-hex SHA of an existing object.
pub fn existing(repo: &Repository, sha: &str) -> Option<Oid> {
    if sha.len() != 40 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let oid = Oid::from_str(sha).ok()?;
    kind_of(repo, oid).map(|_| oid)
}

/// The commit `rev` names as GitHub reads `?ref=`: a branch, a tag, a full ref or a SHA.
pub fn commit_for(repo: &Repository, rev: &str) -> Option<Oid> {
    for name in [
        format!("refs/heads/{rev}"),
        format!("refs/tags/{rev}"),
        rev.to_string(),
    ] {
        if let Some(oid) = ref_target(repo, &name) {
            return repo
                .find_object(oid, None)
                .ok()?
                .peel_to_commit()
                .ok()
                .map(|c| c.id());
        }
    }
    if rev.len() >= 7 && rev.bytes().all(|b| b.is_ascii_hexdigit()) {
        return repo
            .revparse_single(rev)
            .ok()?
            .peel_to_commit()
            .ok()
            .map(|c| c.id());
    }
    None
}

/// `a` contains `b` (equal, or `b` is an ancestor of `a`).
pub fn contains(repo: &Repository, a: Oid, b: Oid) -> bool {
    a == b || repo.graph_descendant_of(a, b).unwrap_or(false)
}

/// One change to a tree: put `(oid, mode)` at `path`, or delete what is there (`None`).
pub struct TreeEdit {
    pub path: Vec<String>,
    pub change: Option<(Oid, i32)>,
}

/// The tree `base` (or an empty one) with `edits` applied in order; nested paths create or update subtrees.
pub fn edit_tree(
    repo: &Repository,
    base: Option<Oid>,
    edits: &[TreeEdit],
) -> Result<Oid, git2::Error> {
    let mut tree = base;
    for edit in edits {
        tree = edit_one(repo, tree, &edit.path, edit.change)?;
    }
    match tree {
        Some(oid) => Ok(oid),
        None => repo.treebuilder(None)?.write(),
    }
}

fn edit_one(
    repo: &Repository,
    base: Option<Oid>,
    path: &[String],
    change: Option<(Oid, i32)>,
) -> Result<Option<Oid>, git2::Error> {
    let base_tree: Option<Tree<'_>> = base.map(|oid| repo.find_tree(oid)).transpose()?;
    let mut builder = repo.treebuilder(base_tree.as_ref())?;
    let name = path[0].as_str();
    if path.len() == 1 {
        match change {
            Some((oid, mode)) => {
                builder.insert(name, oid, mode)?;
            }
            None => {
                if builder.get(name)?.is_some() {
                    builder.remove(name)?;
                }
            }
        }
    } else {
        let subtree = builder
            .get(name)?
            .filter(|entry| entry.kind() == Some(ObjectType::Tree))
            .map(|entry| entry.id());
        match edit_one(repo, subtree, &path[1..], change)? {
            Some(oid) => {
                builder.insert(name, oid, 0o040000)?;
            }
            None => {
                if builder.get(name)?.is_some() {
                    builder.remove(name)?;
                }
            }
        }
    }
    // Git has no empty directories: a subtree left empty disappears from its parent.
    if builder.is_empty() {
        return Ok(None);
    }
    builder.write().map(Some)
}

/// The blob at `path` in `commit`'s tree, with its mode.
pub fn entry_at(repo: &Repository, commit: Oid, path: &str) -> Option<(Oid, ObjectType, i32)> {
    let tree = repo.find_commit(commit).ok()?.tree().ok()?;
    if path.is_empty() {
        return Some((tree.id(), ObjectType::Tree, 0o040000));
    }
    let entry = tree.get_path(Path::new(path)).ok()?;
    Some((entry.id(), entry.kind()?, entry.filemode()))
}

pub fn file_text(repo: &Repository, commit: Oid, path: &str) -> Option<String> {
    let (oid, kind, _) = entry_at(repo, commit, path)?;
    if kind != ObjectType::Blob {
        return None;
    }
    let blob = repo.find_blob(oid).ok()?;
    Some(String::from_utf8_lossy(blob.content()).into_owned())
}

pub fn signature(name: &str, email: &str, when: (i64, i32)) -> Signature<'static> {
    Signature::new(name, email, &Time::new(when.0, when.1)).expect("a valid signature")
}

pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// GitHub's timestamps: `2026-01-02T03:04:05Z`.
pub fn format_date(seconds: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(seconds)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| "1970-01-01T00:00:00Z".to_string())
}

/// An ISO 8601 date-time (`2026-01-02T03:04:05Z`, `…+02:00`, fractions allowed) as seconds and offset minutes.
pub fn parse_date(text: &str) -> Option<(i64, i32)> {
    let (date, rest) = text.split_once(['T', 't', ' '])?;
    let mut date_parts = date.split('-');
    let year: i64 = date_parts.next()?.parse().ok()?;
    let month: i64 = date_parts.next()?.parse().ok()?;
    let day: i64 = date_parts.next()?.parse().ok()?;
    let split = rest.find(['Z', 'z', '+', '-']).unwrap_or(rest.len());
    let (clock, zone) = rest.split_at(split);
    let clock = clock.split('.').next()?;
    let mut clock_parts = clock.split(':');
    let hour: i64 = clock_parts.next()?.parse().ok()?;
    let minute: i64 = clock_parts.next()?.parse().ok()?;
    let second: i64 = clock_parts.next().unwrap_or("0").parse().ok()?;
    let offset_minutes: i32 = match zone {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = if zone.starts_with('-') { -1 } else { 1 };
            let (h, m) = zone[1..].split_once(':').unwrap_or((&zone[1..], "0"));
            sign * (h.parse::<i32>().ok()? * 60 + m.parse::<i32>().ok()?)
        }
    };
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let local = days * 86_400 + hour * 3600 + minute * 60 + second;
    Some((local - i64::from(offset_minutes) * 60, offset_minutes))
}
