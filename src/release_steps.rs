//! Owns the release steps shared by `release` (after a merged promotion) and `promote` with
//! `pull-request: false` (right after its commit), so both paths end in the same state: the git tag
//! `{production-tag}` on the commit the image was built from, and the GitHub release with its notes.

use crate::actions::Annotation;
use crate::changes::{self, Changes};
use crate::error::Result;
use crate::git::GitRepo;
use crate::github;
use crate::inputs::Secret;
use crate::plan::{Plan, Step};
use crate::registry::Revision;

/// The remote the git tag is pushed to.
pub const REMOTE: &str = "origin";

/// The annotation (or, on images `docker/build-push-action` builds, the config label) an image's build commit
/// is read from.
pub const REVISION: &str = "org.opencontainers.image.revision";

/// What is released.
pub struct Release<'a> {
    pub image: &'a str,
    pub tag: &'a str,
    pub digest: &'a str,
    /// The image's `org.opencontainers.image.revision`, when it carries one.
    pub revision: Option<&'a str>,
    /// Where the git tag goes when the image names no commit of this repository.
    pub fallback_commit: &'a str,
    /// The previous production release (the tag the overlay held).
    pub previous: Option<String>,
    /// `owner/name`, for the release step's description.
    pub repository: &'a str,
    pub token: Option<&'a Secret>,
}

/// The stable version a tag names (`v1.2.3`, `1.2.3`), `None` for anything else.
fn stable(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag))
        .ok()
        .filter(|v| v.pre.is_empty())
}

/// The production release before `version`, from the record rather than from what a patch changes (a rerun's
/// patch changes nothing): walking the checkout's first-parent history back from HEAD, the tag `file` pinned
/// before the commit that pinned `version` (a checkout behind that commit pins the previous one at HEAD). When
/// the history never pinned another version, the highest stable git tag below `version`.
pub fn previous_release(git: &GitRepo, file: &str, image: &str, version: &str) -> Option<String> {
    let pinned = |commit: &str| {
        git.file_at(commit, file)
            .ok()
            .flatten()
            .and_then(|text| crate::manifests::pinned(&text, image))
            .and_then(|pin| pin.tag)
    };
    let mut commit = git.head().ok()?.sha;
    // Bounded: a history this long without another version is answered from the tags.
    for _ in 0..1000 {
        match pinned(&commit) {
            Some(tag) if tag != version => return Some(tag),
            None => break,
            Some(_) => {}
        }
        match git.parents(&commit).ok()?.into_iter().next() {
            Some(parent) => commit = parent,
            None => break,
        }
    }
    let mine = stable(version)?;
    git.tags()
        .ok()?
        .into_iter()
        .filter_map(|t| stable(&t.name).filter(|v| *v < mine).map(|v| (v, t.name)))
        .max()
        .map(|(_, name)| name)
}

/// A direct promotion only moves production forward: `before` (the base branch's overlay) pinning a higher
/// version than `version` is refused before anything is written (`rollback` goes back).
pub fn refuse_going_back(
    before: &str,
    file: &str,
    image: &str,
    version: &str,
    branch: &str,
) -> Result<()> {
    let pinned = crate::manifests::pinned(before, image).and_then(|p| p.tag);
    match (pinned.as_deref().and_then(stable), stable(version)) {
        (Some(now), Some(mine)) if now > mine => Err(crate::error::Error::new(
            crate::error::Kind::Conflict,
            format!(
                "`{file}` on `{branch}` already pins {}, newer than {version}: a promotion only moves production forward; nothing was written",
                pinned.unwrap_or_default()
            ),
        )
        .with_help("another promotion released a newer version; to go back on purpose, use `mode: rollback`")),
        _ => Ok(()),
    }
}

/// The commit `image@digest` names, and a warning when its platform images disagree about it or it could not
/// be read (then the release falls back as for an image that names none).
pub fn named_commit(
    revision: Revision,
    image: &str,
    digest: &str,
) -> (Option<String>, Option<Annotation>) {
    match revision {
        Revision::Known(commit) => (Some(commit), None),
        Revision::Unknown => (None, None),
        Revision::Disagree(platforms) => {
            let each: Vec<String> = platforms
                .iter()
                .map(|(p, r)| format!("{p}: {}", r.as_deref().unwrap_or("none")))
                .collect();
            (
                None,
                Some(Annotation::warning(
                    "gitops-promote: image revision ambiguous",
                    format!(
                        "the platform images of `{image}@{digest}` name different `{REVISION}` commits ({}); none is used",
                        each.join(", ")
                    ),
                )),
            )
        }
        Revision::Unreadable(why) => (
            None,
            Some(Annotation::warning(
                "gitops-promote: image revision unreadable",
                format!("`{REVISION}` of `{image}@{digest}` could not be read: {why}"),
            )),
        ),
    }
}

/// Whether `tag` is the highest stable version among `tags` (itself included).
pub fn is_highest(tag: &str, tags: &[String]) -> bool {
    let Some(mine) = stable(tag) else {
        return false;
    };
    tags.iter().filter_map(|t| stable(t)).all(|v| v <= mine)
}

/// The release notes: what production runs now, how to pull it, and the change list.
pub fn release_notes(image: &str, tag: &str, digest: &str, changes: &Changes) -> String {
    format!(
        "Production runs `{image}:{tag}`, pinned to `{digest}`.\n\n```sh\ndocker pull {image}@{digest}\n```\n\n{}",
        changes.to_markdown()
    )
}

/// Adds the git tag step (when the tag is missing) to `plan`, and returns the commit the release's change list
/// ends at. A tag that exists is left where it is, with a warning when that is not the image's commit.
pub fn plan_git_tag(
    git: &GitRepo,
    release: &Release<'_>,
    plan: &mut Plan,
    annotations: &mut Vec<Annotation>,
) -> Result<String> {
    let tag = release.tag;
    let local = git.tag_commit(tag);
    let remote = git.remote_tag_commit(REMOTE, tag, release.token)?;
    let revision = release.revision.filter(|r| git.parents(r).is_ok());
    let existing = remote.as_ref().or(local.as_ref());
    let tag_commit = match (revision, existing) {
        (Some(r), _) => {
            let mut elsewhere: Vec<&String> = [&local, &remote].into_iter().flatten().collect();
            elsewhere.dedup();
            for commit in elsewhere.into_iter().filter(|c| c.as_str() != r) {
                annotations.push(Annotation::warning(
                    "gitops-promote: git tag left where it is",
                    format!("git tag `{tag}` is on {commit}, not on the image's commit {r}; it is never moved"),
                ));
            }
            r.to_string()
        }
        // Without the image's commit an existing tag is the best evidence of it (staging-build cut it where the
        // image was built): no conflict to report.
        (None, Some(existing)) => existing.clone(),
        (None, None) => {
            annotations.push(Annotation::warning(
                "gitops-promote: image revision unknown",
                format!(
                    "`{}@{}` has no `{REVISION}` annotation or label naming a commit of this repository; the git tag `{tag}` goes on {}",
                    release.image, release.digest, release.fallback_commit
                ),
            ));
            release.fallback_commit.to_string()
        }
    };
    match (&local, &remote) {
        (_, Some(_)) => plan.skipped.push(format!(
            "git tag `{tag}` exists on `{REMOTE}`: left as it is"
        )),
        (local, None) => plan.steps.push(Step::GitTag {
            tag: tag.to_string(),
            commit: local.clone().unwrap_or_else(|| tag_commit.clone()),
            remote: REMOTE.to_string(),
            exists_locally: local.is_some(),
            exists_on_remote: false,
        }),
    }
    Ok(remote.or(local).unwrap_or(tag_commit))
}

/// Adds the GitHub release step to `plan` (reading the existing release), and returns its notes.
pub fn plan_release(
    git: &GitRepo,
    client: &github::Client,
    release: &Release<'_>,
    changes_to: &str,
    plan: &mut Plan,
) -> Result<String> {
    let changes = changes::list_to(git, release.previous.clone(), changes_to);
    let notes = release_notes(release.image, release.tag, release.digest, &changes);
    let existing = client.release_by_tag(release.tag)?;
    let tags: Vec<String> = git.tags()?.into_iter().map(|t| t.name).collect();
    let name = release.tag.to_string();
    plan.steps.push(Step::Release {
        repository: release.repository.to_string(),
        tag: release.tag.to_string(),
        up_to_date: existing
            .as_ref()
            .is_some_and(|r| r.name == name && r.body.trim_end() == notes.trim_end()),
        existing: existing.map(|r| r.id),
        name,
        body: notes.clone(),
        latest: is_highest(release.tag, &tags),
    });
    Ok(notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_highest_stable_version_is_latest() {
        let tags: Vec<String> = ["v1.2.0", "v1.3.0", "v1.4.0-rc.1", "production-latest"]
            .map(String::from)
            .to_vec();
        assert!(is_highest("v1.3.0", &tags));
        assert!(!is_highest("v1.2.0", &tags));
        assert!(is_highest("v1.3.1", &tags));
    }

    #[test]
    fn platforms_that_disagree_are_named_in_the_warning() {
        let (commit, warning) = named_commit(
            Revision::Disagree(vec![
                ("linux/amd64".into(), Some("abc".into())),
                ("linux/arm64".into(), None),
            ]),
            "ghcr.io/o/a",
            "sha256:1",
        );
        assert_eq!(commit, None);
        let text = warning.expect("a warning").to_command();
        assert!(
            text.contains("linux/amd64: abc") && text.contains("linux/arm64: none"),
            "{text}"
        );
        assert_eq!(
            named_commit(Revision::Known("abc".into()), "i", "d"),
            (Some("abc".into()), None)
        );
    }
}
