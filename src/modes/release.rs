//! Owns the `release` mode, which finishes a promotion once its pull request is merged: inputs → facts (the
//! production overlay at the pushed commit and before it, the digest it pins in the registry, where the moving
//! tag points, the git tag, the existing GitHub release) → plan (move the moving tag; cut the git tag; publish
//! or update the release) → apply → report. A push that lowered the version is a rollback: the moving tag moves
//! back and nothing is published.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::json;

use crate::actions::{Annotation, Console};
use crate::apply::{self, Effects};
use crate::branches::{BranchHost, GitRemote};
use crate::changes;
use crate::env::GithubContext;
use crate::error::{Error, InputProblem, Kind, Result};
use crate::git::GitRepo;
use crate::github;
use crate::image::ImageName;
use crate::inputs::{Invocation, Mode, Secret};
use crate::manifests::{self, Pin, files};
use crate::plan::{Applied, CommitVia, Edit, Operation, Plan, Step, retag_operation};
use crate::promotion_rules::{self, trailer};
use crate::proposal;
use crate::registry::{self, Client, Reference};
use crate::registry_settings::{mask_login, read_registry_settings};
use crate::release_steps::{self, REVISION, Release};
use crate::report::{Report, markdown_table, text_table};
use crate::retag_plan::{Rules, drain, gather, plan_steps};

/// Typed inputs of `release`.
#[derive(Debug, Clone)]
pub struct ReleaseSettings {
    pub image: ImageName,
    pub manifest: String,
    pub moving_tag: String,
    /// `None`: what the promotion commit recorded, else `true`.
    pub create_release: Option<bool>,
    pub github_token: Option<Secret>,
    pub changelog_file: Option<String>,
    pub commit_via: CommitVia,
    pub dry_run: bool,
    pub registry: registry::Settings,
}

impl ReleaseSettings {
    /// Phase two of input parsing: every problem at once.
    pub fn read(invocation: &Invocation, github: &GithubContext) -> Result<Self> {
        let mut r = invocation.reader();
        let image_raw = r.required(
            "image",
            "set `image` to the image the production overlay pins, e.g. `ghcr.io/org/app`",
        );
        let image = if image_raw.is_empty() {
            None
        } else {
            r.parse("image", ImageName::parse)
        };
        let (_app, _environment, manifest) = proposal::read_overlay(&mut r, image.as_ref());
        let moving_tag = r.text("moving-tag").unwrap_or_default();
        if !crate::template::is_valid_oci_tag(&moving_tag) {
            r.problem(InputProblem::new(
                "moving-tag",
                format!("`{moving_tag}` is not a valid OCI tag"),
            ));
        }
        let create_release = match r.given("create-release").as_deref() {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(other) => {
                r.problem(
                    InputProblem::new("create-release", format!("`{other}` is not a boolean"))
                        .help("use `true`, `false`, or leave it empty for what the promotion recorded"),
                );
                None
            }
        };
        let github_token = r.secret("github-token");
        let changelog_file = r.text("changelog-file");
        if let Some(f) = &changelog_file
            && let Err(p) = files::check_relative("changelog-file", f)
        {
            r.problem(p);
        }
        let commit_via = proposal::read_commit_via(&mut r);
        let dry_run = r.bool("dry-run");
        let registry = read_registry_settings(&mut r, github);
        r.finish()?;
        Ok(Self {
            image: image.ok_or_else(|| Error::new(Kind::Input, "input `image` is missing"))?,
            manifest,
            moving_tag,
            create_release,
            github_token,
            changelog_file,
            commit_via,
            dry_run,
            registry,
        })
    }
}

/// What the push changed in the overlay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverlayChange {
    pub commit: String,
    pub before: Option<Pin>,
    pub after: Pin,
}

impl OverlayChange {
    /// A lower version than before: the push reverted a promotion.
    pub fn is_rollback(&self) -> bool {
        let version = |t: &str| semver::Version::parse(t.strip_prefix('v').unwrap_or(t)).ok();
        match (
            self.before
                .as_ref()
                .and_then(|b| b.tag.as_deref())
                .and_then(version),
            self.after.tag.as_deref().and_then(version),
        ) {
            (Some(before), Some(after)) => after < before,
            _ => false,
        }
    }
}

/// The `Gitops-Promote-*` trailers of the pushed commits (a merge's or a squash's message carries them).
pub fn trailers(messages: &[String]) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for message in messages {
        // A squash merge whose message is the pull request's description carries the promotion's record as
        // the comment `promote` writes at the end of the body.
        if let Some(start) = message.find("<!-- gitops-promote: ")
            && let Some(end) = message[start..].find(" -->")
            && let Ok(record) = serde_json::from_str::<serde_json::Value>(
                &message[start + "<!-- gitops-promote: ".len()..start + end],
            )
        {
            for (key, field) in [
                (trailer::CREATE_RELEASE, "create_release"),
                (trailer::STAGING_TAG, "staging_tag"),
                (trailer::DIGEST, "digest"),
            ] {
                if let Some(v) = record.get(field) {
                    let v = v
                        .as_str()
                        .map(str::to_string)
                        .unwrap_or_else(|| v.to_string());
                    out.entry(key.to_string()).or_insert(v);
                }
            }
        }
        for line in message.lines() {
            if let Some((key, value)) = line.split_once(':')
                && key.starts_with("Gitops-Promote-")
            {
                out.entry(key.trim().to_string())
                    .or_insert_with(|| value.trim().to_string());
            }
        }
    }
    out
}

/// Runs `release` end to end.
pub fn run(
    invocation: &Invocation,
    github: &GithubContext,
    console: &mut Console,
) -> Result<Report> {
    let settings = ReleaseSettings::read(invocation, github)?;
    mask_login(console, &settings.registry);
    if let Some(token) = &settings.github_token {
        console.mask(token.expose());
    }
    let mut annotations = Vec::new();
    let git = GitRepo::open(&invocation.repo)?;
    let head = git.head()?;
    if let Some(sha) = github
        .sha
        .as_deref()
        .filter(|s| !s.is_empty() && *s != head.sha)
    {
        annotations.push(Annotation::warning(
            "HEAD is not GITHUB_SHA",
            format!("the checkout's HEAD is {} but the workflow runs for {sha}; the overlay is read at HEAD", head.sha),
        ));
    }
    let parents = git.parents(&head.sha)?;
    let after_text = git.file_at(&head.sha, &settings.manifest)?.ok_or_else(|| {
        Error::input(
            InputProblem::new(
                "manifest",
                format!("`{}` does not exist at {}", settings.manifest, head.sha),
            )
            .help("set `manifest` (or `app` and `environment`) to the production overlay"),
        )
    })?;
    let before_text = match parents.first() {
        Some(p) => git.file_at(p, &settings.manifest)?,
        None => None,
    };
    let image = settings.image.to_string();
    let after = manifests::pinned(&after_text, &image).ok_or_else(|| {
        Error::new(
            Kind::NotFound,
            format!(
                "`{}` has no `images:` entry for `{image}`",
                settings.manifest
            ),
        )
        .with_help("promote writes one; check `image` against the overlay's `images[].name`")
    })?;
    let before = before_text.and_then(|t| manifests::pinned(&t, &image));
    // The production tags live where the overlay's `newName` says (`promote`'s `production-image`: another
    // repository or registry); the moving tag moves there.
    let settings = match manifests::renamed(&after_text, &image)
        .and_then(|n| ImageName::parse(&n).ok())
        .filter(|n| *n != settings.image)
    {
        Some(production) => ReleaseSettings {
            image: production,
            ..settings
        },
        None => settings,
    };
    // The overlay's `images[].name`, which the pin guard reads the branch by.
    let name = image;
    let image = settings.image.to_string();
    let change = OverlayChange {
        commit: head.sha.clone(),
        before: before.clone(),
        after: after.clone(),
    };
    if before.as_ref() == Some(&after) {
        return Ok(skipped_report(&settings, &change));
    }
    let tag = after.tag.clone().ok_or_else(|| {
        Error::new(
            Kind::NotFound,
            format!(
                "`{}` pins `{image}` without a `newTag`: no version to release",
                settings.manifest
            ),
        )
    })?;

    // The registry: the pinned digest must exist (under the tag too), before anything moves.
    let client = Client::new(settings.registry.clone())?;
    console.group(&format!(
        "Check `{image}:{tag}` and `{}` in the registry",
        settings.moving_tag
    ));
    let checked = check_registry(&client, &settings, &tag, after.digest.as_deref());
    drain(&client, console);
    console.end_group();
    let (source, revision, registry_facts) = checked?;
    let digest = registry_facts.source.digest.clone();
    let (revision, warning) = release_steps::named_commit(revision, &image, &digest);
    annotations.extend(warning);
    let moving = Reference {
        image: settings.image.clone(),
        tag: Some(settings.moving_tag.clone()),
        digest: None,
    };
    let rules = Rules {
        force: false,
        moving_tags: BTreeSet::from([settings.moving_tag.clone()]),
    };
    let mut plan = Plan::new(Mode::Release, settings.dry_run);
    let targets = if promotion_rules::moves(&settings.moving_tag) {
        vec![moving]
    } else {
        Vec::new()
    };
    plan.steps = plan_steps(&source, &registry_facts, &targets, &rules)?;
    let rollback = change.is_rollback();
    let previous = before.as_ref().and_then(|b| b.tag.clone());
    let pushed_branch = github
        .git_ref
        .as_deref()
        .and_then(|r| r.strip_prefix("refs/heads/"))
        .map(str::to_string)
        .or_else(|| {
            head.branch
                .as_deref()
                .and_then(|b| b.strip_prefix("refs/heads/"))
                .map(str::to_string)
        });
    // Two merges released at once: the moving tag follows what the branch pins when it is written, not what
    // this push pinned (see `PinGuard`).
    if let Some(branch) = &pushed_branch {
        for step in &mut plan.steps {
            if let Step::Retag { guard, .. } = step {
                *guard = Some(crate::plan::PinGuard {
                    branch: branch.clone(),
                    file: settings.manifest.clone(),
                    image: name.clone(),
                    version: tag.clone(),
                    digest: digest.clone(),
                });
            }
        }
    }

    let repository = github
        .repository
        .clone()
        .filter(|r| !r.is_empty())
        .unwrap_or_default();
    let released = Release {
        image: &image,
        tag: &tag,
        digest: &digest,
        revision: revision.as_deref(),
        fallback_commit: &head.sha,
        previous: previous.clone(),
        repository: &repository,
        token: settings.github_token.as_ref(),
    };
    let messages: Vec<String> = git
        .commits_between(parents.first().map(String::as_str), &head.sha)?
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    let recorded = trailers(&messages);
    let create_release = settings.create_release.unwrap_or_else(|| {
        recorded
            .get(trailer::CREATE_RELEASE)
            .map(|v| v != "false")
            .unwrap_or(true)
    });
    let mut notes = String::new();
    let mut github_client = None;
    let mut changes_end = head.sha.clone();
    if rollback {
        plan.skipped.push(format!(
            "git tag and release: `{tag}` is a rollback from `{}`",
            previous.as_deref().unwrap_or("?")
        ));
    } else {
        // The git tag, on the commit the image was built from; then the GitHub release.
        let changes_to = release_steps::plan_git_tag(&git, &released, &mut plan, &mut annotations)?;
        changes_end = changes_to.clone();
        if create_release {
            if settings.github_token.is_none() {
                return Err(Error::input(
                    InputProblem::new("github-token", "is required to publish the GitHub release")
                        .help("pass `github-token` with `permissions: contents: write`, or set `create-release: false`"),
                ));
            }
            let client = github::Client::new(
                github::Settings::for_run(
                    github.api_url(),
                    settings.github_token.clone(),
                    &repository,
                )
                .map_err(Error::input)?,
            )?;
            notes = release_steps::plan_release(&git, &client, &released, &changes_to, &mut plan)?;
            github_client = Some(client);
        } else {
            plan.skipped
                .push("GitHub release: `create-release` is false".to_string());
        }
    }

    // The changelog, committed to the pushed branch after the release is out.
    if settings.changelog_file.is_some()
        && !rollback
        && github_client.is_none()
        && settings.commit_via == CommitVia::Api
    {
        github_client = Some(github::Client::new(
            github::Settings::for_run(github.api_url(), settings.github_token.clone(), &repository)
                .map_err(Error::input)?,
        )?);
    }
    let git_remote = GitRemote {
        repo: &git,
        remote: release_steps::REMOTE,
        token: settings.github_token.as_ref(),
    };
    let host: Option<&dyn BranchHost> = match (settings.commit_via, &github_client) {
        (CommitVia::Api, Some(c)) => Some(c),
        (CommitVia::Api, None) => None,
        (CommitVia::Git, _) => Some(&git_remote),
    };
    if let (Some(file), false) = (&settings.changelog_file, rollback) {
        let host = host.ok_or_else(|| {
            Error::input(
                InputProblem::new(
                    "github-token",
                    "is required to commit the changelog through the GitHub API",
                )
                .help("pass `github-token` (`contents: write`), or set `commit-via: git`"),
            )
        })?;
        let branch = pushed_branch.clone().ok_or_else(|| {
            Error::new(
                Kind::Git,
                "the pushed branch is unknown (detached HEAD and no GITHUB_REF)",
            )
            .with_help("run `release` on a push to a branch")
        })?;
        let tip = host.tip(&branch)?.ok_or_else(|| {
            Error::new(
                Kind::NotFound,
                format!("branch `{branch}` does not exist on the remote"),
            )
        })?;
        let before = host.file(&branch, &tip, file)?;
        let changes = changes::list_to(&git, previous.clone(), &changes_end);
        let date = time::OffsetDateTime::now_utc().date();
        let entry = changes.to_changelog_entry(&tag, &format!("{date}"));
        let edit = Edit::ChangelogEntry {
            version: tag.clone(),
            entry,
        };
        let after = edit.apply(file, before.as_deref())?;
        let old = before.clone().unwrap_or_default();
        plan.steps.push(Step::Commit {
            via: settings.commit_via,
            repository: repository.clone(),
            branch: branch.clone(),
            base_branch: branch.clone(),
            base_sha: tip.clone(),
            branch_sha: Some(tip),
            up_to_date: after.is_none(),
            file: file.clone(),
            message: format!(
                "docs(changelog): {tag} [skip ci]\n\n{}: {tag}\n",
                trailer::RELEASE
            ),
            diff: after
                .as_deref()
                .map(|a| manifests::unified_diff(file, &old, a))
                .unwrap_or_default(),
            after: after.unwrap_or(old),
            edit,
        });
    }

    let applied = apply::apply(
        &plan,
        &mut Effects {
            git: Some(&git),
            github_token: settings.github_token.as_ref(),
            registry: Some(&client),
            // The moving tag's guard reads the pushed branch through the same host, else through git.
            branches: host.or(Some(&git_remote)),
            github: github_client.as_ref(),
            console,
        },
    )?;
    drain(&client, console);
    Ok(report(
        &settings,
        &client.registries(),
        &change,
        &tag,
        &digest,
        rollback,
        &plan,
        &applied,
        &notes,
        annotations,
    ))
}

type Checked = (Reference, registry::Revision, crate::retag_plan::RetagFacts);

/// The pinned digest (or the tag's, when the overlay pins none) exists and the tag agrees with it; the moving
/// tag's state; the image's build commit.
fn check_registry(
    client: &Client,
    settings: &ReleaseSettings,
    tag: &str,
    digest: Option<&str>,
) -> Result<Checked> {
    let image = &settings.image;
    let tagged = Reference {
        image: image.clone(),
        tag: Some(tag.to_string()),
        digest: None,
    };
    client.declare(image, !settings.dry_run);
    let under_tag = client.resolve(&tagged)?;
    let digest = match (digest, &under_tag) {
        (Some(d), Some(t)) if t.digest != d => {
            return Err(Error::new(
                Kind::Conflict,
                format!("the overlay pins `{image}:{tag}` to {d}, but the registry's `{tag}` is {}: nothing was moved", t.digest),
            )
            .with_help("promote again (it retags the version to the digest it pins), or fix the overlay"));
        }
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.digest.clone(),
        (None, None) => {
            return Err(Error::new(
                Kind::NotFound,
                format!("`{image}:{tag}` does not exist in the registry: nothing was moved"),
            ));
        }
    };
    let source = Reference {
        image: image.clone(),
        tag: None,
        digest: Some(digest.clone()),
    };
    let moving = Reference {
        image: image.clone(),
        tag: Some(settings.moving_tag.clone()),
        digest: None,
    };
    // `moving-tag: none`: only the pinned digest is checked.
    let targets = if promotion_rules::moves(&settings.moving_tag) {
        vec![moving]
    } else {
        Vec::new()
    };
    let facts = gather(client, &source, &targets, !settings.dry_run).map_err(|e| {
        if e.kind == Kind::NotFound {
            Error::new(
                Kind::NotFound,
                format!("the overlay pins `{image}@{digest}`, which the registry does not have: nothing was moved"),
            )
            .with_help("the image was deleted, or the overlay names another registry")
        } else {
            e
        }
    })?;
    let revision = client.revision(image, &digest, REVISION);
    Ok((source, revision, facts))
}

fn operation_of(plan: &Plan, applied: &[Applied], pick: fn(&Step) -> bool) -> Option<Operation> {
    let step = plan.steps.iter().find(|s| pick(s))?;
    if let Some(a) = applied.iter().find(|a| &a.step == step) {
        return Some(a.operation);
    }
    Some(match step {
        Step::Retag {
            digest, old_digest, ..
        } => retag_operation(old_digest.as_deref(), digest),
        Step::GitTag {
            exists_locally: true,
            exists_on_remote: true,
            ..
        } => Operation::Unchanged,
        Step::Release {
            up_to_date: true, ..
        } => Operation::Unchanged,
        Step::Release {
            existing: Some(_), ..
        } => Operation::Updated,
        Step::Commit {
            up_to_date: true, ..
        } => Operation::Unchanged,
        _ => Operation::Created,
    })
}

fn word(op: Option<Operation>, dry_run: bool) -> String {
    op.map(|o| o.reported(dry_run))
        .unwrap_or_else(|| "skipped".to_string())
}

fn skipped_report(settings: &ReleaseSettings, change: &OverlayChange) -> Report {
    let why = format!(
        "the pushed commit {} does not change what `{}` pins `{}` to",
        change.commit.get(..7).unwrap_or(&change.commit),
        settings.manifest,
        settings.image
    );
    let mut outputs = BTreeMap::new();
    for name in ["moving-tag-operation", "tag-operation", "release-operation"] {
        outputs.insert(name.to_string(), "skipped".to_string());
    }
    outputs.insert(
        "digest".into(),
        change.after.digest.clone().unwrap_or_default(),
    );
    outputs.insert(
        "production-tag".into(),
        change.after.tag.clone().unwrap_or_default(),
    );
    outputs.insert("release-url".into(), String::new());
    outputs.insert(
        "json".into(),
        json!({"mode": Mode::Release, "skipped": why, "overlay": change}).to_string(),
    );
    Report {
        outputs,
        summary: format!("## gitops-promote release\n\nNothing to release: {why}.\n"),
        text: format!("gitops-promote release\n  nothing to release: {why}\n"),
        annotations: vec![Annotation::notice(
            "gitops-promote: nothing to release",
            why,
        )],
        failure: None,
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    settings: &ReleaseSettings,
    registries: &[(String, String)],
    change: &OverlayChange,
    tag: &str,
    digest: &str,
    rollback: bool,
    plan: &Plan,
    applied: &[Applied],
    notes: &str,
    annotations: Vec<Annotation>,
) -> Report {
    let dry = settings.dry_run;
    let moving_op = operation_of(plan, applied, |s| matches!(s, Step::Retag { .. }));
    let tag_op = operation_of(plan, applied, |s| matches!(s, Step::GitTag { .. }));
    let release_op = operation_of(plan, applied, |s| matches!(s, Step::Release { .. }));
    let changelog_op = operation_of(plan, applied, |s| matches!(s, Step::Commit { .. }));
    let release_url = applied
        .iter()
        .find_map(|a| a.produced.get("release-url").cloned())
        .unwrap_or_default();
    let previous = change
        .before
        .as_ref()
        .and_then(|b| b.tag.clone())
        .unwrap_or_else(|| "none".to_string());
    let tag_word = match (tag_op, rollback) {
        (Some(op), _) => word(Some(op), dry),
        (None, true) => "skipped".to_string(),
        // The tag exists on the remote already: left as it is.
        (None, false) => "unchanged".to_string(),
    };
    let mut outputs = BTreeMap::new();
    outputs.insert("digest".to_string(), digest.to_string());
    outputs.insert("production-tag".to_string(), tag.to_string());
    outputs.insert("moving-tag-operation".to_string(), word(moving_op, dry));
    outputs.insert("tag-operation".to_string(), tag_word.clone());
    outputs.insert("release-operation".to_string(), word(release_op, dry));
    outputs.insert("release-url".to_string(), release_url.clone());
    let json = json!({
        "mode": Mode::Release,
        "dry_run": dry,
        "overlay": change,
        "rollback": rollback,
        "production_tag": tag,
        "previous_tag": previous,
        "digest": digest,
        "moving_tag_operation": word(moving_op, dry),
        "tag_operation": tag_word,
        "release_operation": word(release_op, dry),
        "release_url": release_url,
        "changelog_operation": word(changelog_op, dry),
        "plan": plan,
        "applied": applied,
    });
    outputs.insert("json".to_string(), json.to_string());

    let image = settings.image.to_string();
    let rows = vec![
        ("Production runs", format!("`{image}:{tag}` @ `{digest}`")),
        (
            "Change",
            if rollback {
                format!("rolled back from `{previous}` to `{tag}`")
            } else {
                format!("`{previous}` → `{tag}`")
            },
        ),
        (
            "Moving tag",
            if promotion_rules::moves(&settings.moving_tag) {
                format!("`{}` {}", settings.moving_tag, word(moving_op, dry))
            } else {
                "none (`moving-tag: none`)".to_string()
            },
        ),
        ("Git tag", format!("`{tag}` {tag_word}")),
        (
            "GitHub release",
            if release_url.is_empty() {
                word(release_op, dry)
            } else {
                format!("[{tag}]({release_url}) {}", word(release_op, dry))
            },
        ),
        (
            "Changelog",
            match (&settings.changelog_file, changelog_op) {
                (Some(file), op) => format!("`{file}` {}", word(op, dry)),
                (None, _) => "not kept (`changelog-file` is empty)".to_string(),
            },
        ),
        (
            "Pushed commit",
            format!("`{}`", change.commit.get(..7).unwrap_or(&change.commit)),
        ),
        // Which login served the registry the moving tag is written in.
        ("Registries", registry::registries_line(registries)),
    ];
    let title = format!(
        "gitops-promote release{}",
        if dry { " (dry run)" } else { "" }
    );
    let clean = |s: &str| s.replace(['"', '`'], "");
    let mut summary = format!("## {title}\n\n{}\n", markdown_table(&rows));
    summary.push_str(&format!(
        "```mermaid\nflowchart LR\n  before[\"production was<br/>{}\"] -->|\"{}\"| now[\"production runs<br/>{}<br/>{}\"]\n```\n\n",
        clean(&previous),
        if rollback { "rollback" } else { "release" },
        clean(tag),
        digest.get(..19).unwrap_or(digest)
    ));
    if !rollback && plan.steps.iter().any(|s| matches!(s, Step::Release { .. })) {
        summary.push_str(&format!(
            "<details><summary>Release notes</summary>\n\n{notes}\n</details>\n\n"
        ));
    }
    summary.push_str(&plan.to_markdown());
    let mut text = format!("{title}\n{}", text_table(&rows));
    if dry {
        text.push_str(&format!(
            "\nplan (JSON):\n{}\n\n{}",
            serde_json::to_string_pretty(plan).unwrap_or_default(),
            plan.to_markdown()
        ));
    }
    Report {
        outputs,
        summary,
        text,
        annotations,
        failure: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin(tag: &str) -> Pin {
        Pin {
            tag: Some(tag.into()),
            digest: None,
        }
    }

    #[test]
    fn a_lower_version_is_a_rollback() {
        let change = |before: Option<&str>, after: &str| OverlayChange {
            commit: "c".into(),
            before: before.map(pin),
            after: pin(after),
        };
        assert!(change(Some("v1.3.0"), "v1.2.0").is_rollback());
        assert!(!change(Some("v1.2.0"), "v1.3.0").is_rollback());
        assert!(!change(None, "v1.3.0").is_rollback());
    }

    #[test]
    fn trailers_come_from_any_pushed_commit() {
        let t = trailers(&[
            "Merge pull request #3 from org/promote-v1.2.3".into(),
            "chore(release): promote\n\nGitops-Promote-Create-Release: false\n".into(),
        ]);
        assert_eq!(
            t.get(trailer::CREATE_RELEASE).map(String::as_str),
            Some("false")
        );
        let squash = trailers(&[
            "Promote backend v1.2.3 to production (#3)\n\n## Promote\n\n<!-- gitops-promote: {\"create_release\":false,\"digest\":\"sha256:x\"} -->\n".into(),
        ]);
        assert_eq!(
            squash.get(trailer::CREATE_RELEASE).map(String::as_str),
            Some("false")
        );
        assert_eq!(
            squash.get(trailer::DIGEST).map(String::as_str),
            Some("sha256:x")
        );
    }
}
