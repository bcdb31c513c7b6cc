//! Owns carrying out a plan: each step checks the world again, acts only when needed, re-reads what it wrote,
//! and records `created` / `unchanged` / … so a rerun converges and says so.

use std::collections::BTreeMap;

use crate::actions::Console;
use crate::branches::BranchHost;
use crate::error::{Error, Kind, Result};
use crate::git::GitRepo;
use crate::github;
use crate::inputs::Secret;
use crate::plan::{Applied, Edit, Operation, PinGuard, Plan, Step, Transfer, retag_operation};
use crate::registry::{self, Reference};

/// The real systems a plan acts on. Modes fill in what their steps need.
pub struct Effects<'a> {
    pub git: Option<&'a GitRepo>,
    pub github_token: Option<&'a Secret>,
    pub registry: Option<&'a registry::Client>,
    /// Where `Commit` steps write (GitHub's API or a git remote).
    pub branches: Option<&'a dyn BranchHost>,
    /// For `PullRequest` steps.
    pub github: Option<&'a github::Client>,
    pub console: &'a mut Console,
}

/// How often a direct commit re-reads a base branch that moved under it before giving up.
pub const COMMIT_ATTEMPTS: u32 = 3;

type Produced = BTreeMap<String, String>;

/// Carries out every step in order; the first failure stops the run.
/// A dry-run plan is only printed: nothing is carried out and nothing is returned.
pub fn apply(plan: &Plan, effects: &mut Effects<'_>) -> Result<Vec<Applied>> {
    if plan.dry_run {
        return Ok(Vec::new());
    }
    let mut applied = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        effects.console.group(&step.describe());
        let done = apply_step(step, &applied, effects);
        if let Some(registry) = effects.registry {
            for secret in registry.take_secrets() {
                effects.console.mask(&secret);
            }
            for line in registry.take_progress() {
                effects.console.info(&line);
            }
        }
        if let Some(github) = effects.github {
            for line in github.take_progress() {
                effects.console.info(&line);
            }
        }
        // The outcome is the step's last line, inside its group (a failure is reported once, by the caller).
        if let Ok((operation, _)) = &done {
            effects
                .console
                .info(&format!("{}: {}", operation.as_str(), step.describe()));
        }
        effects.console.end_group();
        let (operation, produced) = done.map_err(|e| already_done(e, &applied))?;
        applied.push(Applied {
            step: step.clone(),
            operation,
            produced,
        });
    }
    Ok(applied)
}

/// A step failed after others changed something: the error says what is already written (it is right, and a
/// rerun reports it `unchanged`), so a half-done run is not read as "nothing happened".
fn already_done(error: Error, applied: &[Applied]) -> Error {
    let written: Vec<String> = applied
        .iter()
        .filter(|a| !matches!(a.operation, Operation::Unchanged | Operation::Skipped))
        .map(|a| format!("{}: {}", a.operation.as_str(), a.step.describe()))
        .collect();
    if written.is_empty() {
        return error;
    }
    let message = format!(
        "{}\nalready written by this run (correct, and reported `unchanged` by a rerun): {}",
        error.message,
        written.join("; ")
    );
    Error { message, ..error }
}

/// The commit an earlier `Commit` step of this run left on `branch`, with the file and image it pins.
fn made_on<'s>(applied: &'s [Applied], on: &str) -> Option<(&'s str, &'s str, &'s str)> {
    applied.iter().rev().find_map(|a| match &a.step {
        Step::Commit {
            branch,
            file,
            edit: Edit::Image(request),
            ..
        } if branch == on => a
            .produced
            .get("commit")
            .map(|c| (c.as_str(), file.as_str(), request.image.as_str())),
        _ => None,
    })
}

fn apply_step(
    step: &Step,
    applied: &[Applied],
    effects: &mut Effects<'_>,
) -> Result<(Operation, Produced)> {
    match step {
        Step::Commit {
            branch,
            base_branch,
            base_sha,
            branch_sha,
            up_to_date,
            file,
            message,
            edit,
            after,
            ..
        } => {
            let host = effects
                .branches
                .ok_or_else(|| Error::new(Kind::Upstream, "no repository to commit to"))?;
            let target = CommitTarget {
                branch,
                base_branch,
                file,
                message,
                edit,
            };
            commit(
                host,
                &target,
                (base_sha, after),
                branch_sha.as_deref(),
                *up_to_date,
                effects.console,
            )
        }
        Step::PullRequest {
            branch,
            base_branch,
            title,
            body,
            labels,
            reviewers,
            team_reviewers,
            draft,
            existing,
            found,
            ..
        } => {
            let github = effects.github.ok_or_else(|| {
                Error::new(
                    Kind::Upstream,
                    "no GitHub client to open a pull request with",
                )
            })?;
            let wanted = WantedPull {
                title,
                body,
                labels,
                reviewers,
                team_reviewers,
            };
            // The pull request says what this run committed only while the branch still holds that commit:
            // another promotion sharing the branch may have reset it meanwhile.
            let owner = Owner {
                host: effects.branches,
                branch,
                made: made_on(applied, branch),
            };
            // The open pull request read when planning, moments ago, is what this step compares with: it is read
            // again only when the plan names one without carrying it, or when opening one finds that another run
            // opened it meanwhile (GitHub's 422 "A pull request already exists").
            let open = match (found, existing) {
                (Some(pull), _) => Some(pull.clone()),
                (None, Some(_)) => github.find_pull(branch, base_branch)?,
                (None, None) => None,
            };
            let (operation, pull) = match open {
                Some(pull) => bring_up_to_date(github, pull, &wanted, &owner)?,
                None => {
                    let new = github::NewPull {
                        title: title.clone(),
                        head: branch.clone(),
                        base: base_branch.clone(),
                        body: body.clone(),
                        draft: *draft,
                    };
                    match github.create_pull(&new) {
                        Ok(pull) => {
                            owner.check(&pull.head_sha)?;
                            if !labels.is_empty() {
                                github.add_labels(pull.number, labels)?;
                            }
                            // Reviewers are requested once, when the pull request opens: GitHub drops a
                            // reviewer from the requested list once they review, and asking again on every
                            // rerun would nag them.
                            if !reviewers.is_empty() || !team_reviewers.is_empty() {
                                github.request_reviewers(pull.number, reviewers, team_reviewers)?;
                            }
                            (Operation::Created, pull)
                        }
                        Err(e) if e.kind == Kind::Conflict => {
                            match github.find_pull(branch, base_branch)? {
                                Some(pull) => bring_up_to_date(github, pull, &wanted, &owner)?,
                                None => return Err(e),
                            }
                        }
                        Err(e) => return Err(e),
                    }
                }
            };
            let mut produced = Produced::new();
            produced.insert("pr-number".into(), pull.number.to_string());
            produced.insert("pr-url".into(), pull.html_url.clone());
            Ok((operation, produced))
        }
        Step::CommitStatus {
            sha,
            branch,
            context,
            state,
            description,
            target_url,
            found,
            warn_only,
            ..
        } => {
            let github = effects.github.ok_or_else(|| {
                Error::new(Kind::Upstream, "no GitHub client to set a status with")
            })?;
            let sha = match sha {
                Some(sha) => sha.clone(),
                None => made_on(applied, branch)
                    .map(|(commit, _, _)| commit.to_string())
                    .ok_or_else(|| {
                        Error::new(
                            Kind::Upstream,
                            format!("no commit on `{branch}` to set `{context}` on"),
                        )
                    })?,
            };
            // The pull request the step before opened or updated, when the plan could not know its address.
            let target_url = target_url.clone().or_else(|| {
                applied.iter().rev().find_map(|a| match &a.step {
                    Step::PullRequest { branch: b, .. } if b == branch => {
                        a.produced.get("pr-url").cloned()
                    }
                    _ => None,
                })
            });
            let wanted = github::NewStatus {
                state: state.clone(),
                context: context.clone(),
                description: description.clone(),
                target_url,
            };
            // A commit this run just made carries no status yet: no read before the write.
            let fresh = sha_is_new(applied, branch, &sha);
            let known = match (found, fresh) {
                (_, true) => Some(None),
                (Some(seen), false) if seen.sha == sha => Some(seen.status.clone()),
                _ => None,
            };
            let done = set_status(github, &sha, &wanted, known);
            match done {
                Err(e) if *warn_only && e.kind == Kind::Permission => {
                    effects
                        .console
                        .annotate(&crate::actions::Annotation::warning(
                            format!("gitops-promote: {context} not set"),
                            format!(
                                "{}{}",
                                e.message,
                                e.help.map(|h| format!("\nhelp: {h}")).unwrap_or_default()
                            ),
                        ));
                    Ok((Operation::Skipped, Produced::new()))
                }
                other => other.map(|op| (op, Produced::from([("commit".to_string(), sha)]))),
            }
        }
        Step::Release {
            tag,
            name,
            body,
            latest,
            ..
        } => {
            let github = effects.github.ok_or_else(|| {
                Error::new(Kind::Upstream, "no GitHub client to publish a release with")
            })?;
            let new = github::NewRelease {
                tag_name: tag.clone(),
                name: name.clone(),
                body: body.clone(),
                latest: *latest,
            };
            let existing = match github.release_by_tag(tag)? {
                None => match github.create_release(&new) {
                    Ok(release) => {
                        return Ok((
                            Operation::Created,
                            Produced::from([("release-url".to_string(), release.html_url)]),
                        ));
                    }
                    // `already_exists`: a retry after a lost answer, or another run published it meanwhile.
                    // What exists is read back and compared, like any release found when planning.
                    Err(e) if e.kind == Kind::Conflict => github.release_by_tag(tag)?.ok_or(e)?,
                    Err(e) => return Err(e),
                },
                Some(r) => r,
            };
            let (operation, release) =
                if existing.name == *name && existing.body.trim_end() == body.trim_end() {
                    (Operation::Unchanged, existing)
                } else {
                    (
                        Operation::Updated,
                        github.update_release(existing.id, name, body, *latest)?,
                    )
                };
            Ok((
                operation,
                Produced::from([("release-url".to_string(), release.html_url)]),
            ))
        }
        Step::GitTag {
            tag,
            commit,
            remote,
            exists_locally,
            exists_on_remote,
        } => {
            let git = effects
                .git
                .ok_or_else(|| Error::new(Kind::Git, "no git repository to tag"))?;
            if *exists_locally && *exists_on_remote {
                return Ok((Operation::Unchanged, Produced::new()));
            }
            if !exists_locally {
                git.create_tag(tag, commit, &format!("Release {tag}"))?;
            }
            if !exists_on_remote {
                // Read again right before the push: another run (or this one, before a lost answer) may have
                // pushed it since planning, and not every remote refuses to overwrite a tag.
                if let Some(there) = git.remote_tag_commit(remote, tag, effects.github_token)? {
                    if there == *commit {
                        return Ok((Operation::Unchanged, Produced::new()));
                    }
                    return Err(Error::new(
                        Kind::Conflict,
                        format!("`{remote}` has tag `{tag}` on {there}, not on {commit}: it is never moved"),
                    )
                    .with_help("another run released this version from another commit; delete the tag by hand if it is wrong"));
                }
                let pushed = git.push_tag(remote, tag, effects.github_token);
                // A push refused (or whose answer was lost) may still have left the tag there, by this run or
                // another one: what the remote has decides.
                let now = git.remote_tag_commit(remote, tag, effects.github_token)?;
                match (pushed, now.as_deref()) {
                    (Err(_), Some(c)) if c == commit => {
                        return Ok((Operation::Unchanged, Produced::new()));
                    }
                    (Err(e), _) => return Err(e),
                    (Ok(()), _) => {}
                }
                if now.as_deref() != Some(commit.as_str()) {
                    return Err(Error::new(
                        Kind::Conflict,
                        format!(
                            "after pushing, `{remote}` has tag `{tag}` on {} instead of {commit}",
                            now.as_deref().unwrap_or("nothing")
                        ),
                    ));
                }
            }
            Ok((Operation::Created, Produced::new()))
        }
        Step::Retag {
            source,
            target,
            digest,
            old_digest,
            transfer,
            guard,
            ..
        } => {
            let registry = effects
                .registry
                .ok_or_else(|| Error::new(Kind::Upstream, "no registry client to retag with"))?;
            let operation = retag_operation(old_digest.as_deref(), digest);
            if operation == Operation::Unchanged {
                return Ok((operation, Produced::new()));
            }
            let parse = |r: &str| {
                Reference::parse(r)
                    .map_err(|p| Error::new(Kind::Input, format!("`{r}`: {}", p.message)))
            };
            let (source, target) = (parse(source)?, parse(target)?);
            let tag = target
                .tag
                .clone()
                .ok_or_else(|| Error::new(Kind::Input, format!("`{target}` has no tag")))?;
            let manifest = match registry.cached_manifest(digest) {
                Some(m) => m,
                None => registry.get_manifest(&Reference {
                    digest: Some(digest.clone()),
                    ..source.clone()
                })?,
            };
            if *transfer != Transfer::SameRepository {
                let stats = registry.copy_image(&source.image, &target.image, &manifest)?;
                effects.console.info(&format!(
                    "blobs in `{}`: {} present, {} mounted, {} copied ({:.1} MB); {} child manifests written",
                    target.image,
                    stats.blobs_present,
                    stats.blobs_mounted,
                    stats.blobs_copied,
                    stats.bytes_copied as f64 / 1e6,
                    stats.manifests_written
                ));
            }
            if let Some(guard) = guard
                && let Some(other) = pinned_elsewhere(effects.branches, guard)?
            {
                effects
                    .console
                    .annotate(&lost_race(guard, &tag, &other, "not moved"));
                return Ok((Operation::Skipped, Produced::new()));
            }
            registry.put_manifest(&target.image, &tag, &manifest)?;
            // The other promotion may have moved the tag between the check and the write: then it is put back on
            // what the branch pins, so the tag and the branch agree whichever run wrote last.
            if let Some(guard) = guard
                && let Some(other) = pinned_elsewhere(effects.branches, guard)?
            {
                let Some(pinned) = other.digest.clone() else {
                    return Err(Error::new(
                        Kind::Conflict,
                        format!(
                            "`{}` pins no digest for `{}` now: `{target}` was moved to {digest} and not put back",
                            guard.branch, guard.image
                        ),
                    ));
                };
                let theirs = registry.get_manifest(&Reference {
                    digest: Some(pinned),
                    tag: None,
                    ..target.clone()
                })?;
                registry.put_manifest(&target.image, &tag, &theirs)?;
                effects
                    .console
                    .annotate(&lost_race(guard, &tag, &other, "put back on it"));
                return Ok((Operation::Skipped, Produced::new()));
            }
            // Re-read: another writer, or a registry that rewrote the manifest, must not pass silently.
            let now = registry.resolve(&target)?;
            match now {
                Some(d) if d.digest == *digest => Ok((operation, Produced::new())),
                other => Err(Error::new(
                    Kind::Conflict,
                    format!(
                        "after writing, `{target}` points to {} instead of {digest}",
                        other
                            .map(|d| d.digest)
                            .unwrap_or_else(|| "nothing".to_string())
                    ),
                )
                .with_help("another process is writing this tag; rerun once it is done")),
            }
        }
        Step::Signatures {
            source,
            target,
            digest,
            attached,
        } => {
            let registry = effects.registry.ok_or_else(|| {
                Error::new(Kind::Upstream, "no registry client to copy signatures with")
            })?;
            if attached.is_done() {
                return Ok((Operation::Unchanged, Produced::new()));
            }
            let parse = |r: &str| {
                crate::image::ImageName::parse(r)
                    .map_err(|p| Error::new(Kind::Input, format!("`{r}`: {}", p.message)))
            };
            let (source, target) = (parse(source)?, parse(target)?);
            let subject = match registry.cached_manifest(digest) {
                Some(m) => m,
                None => registry.get_manifest(&Reference {
                    image: source.clone(),
                    tag: None,
                    digest: Some(digest.clone()),
                })?,
            };
            let stats = registry.copy_attached(&source, &target, &subject, attached)?;
            effects.console.info(&format!(
                "signatures in `{target}`: {} copied ({} manifests written; blobs: {} present, {} mounted, {} copied)",
                attached.list(true),
                stats.manifests_written,
                stats.blobs_present,
                stats.blobs_mounted,
                stats.blobs_copied
            ));
            Ok((Operation::Created, Produced::new()))
        }
        Step::Patch {
            file,
            changes,
            path,
            before,
            after,
            ..
        } => {
            if changes.is_empty() {
                return Ok((Operation::Unchanged, Produced::new()));
            }
            let now = std::fs::read_to_string(path)
                .map_err(|e| Error::new(Kind::Io, format!("can't read `{file}`: {e}")))?;
            if now == *after {
                return Ok((Operation::Unchanged, Produced::new()));
            }
            if now != *before {
                return Err(Error::new(
                    Kind::Conflict,
                    format!("`{file}` changed on disk after it was read; nothing was written"),
                )
                .with_help("run again"));
            }
            crate::manifests::files::write_atomic(path, after.as_bytes())?;
            let written = std::fs::read_to_string(path)
                .map_err(|e| Error::new(Kind::Io, format!("can't re-read `{file}`: {e}")))?;
            if written != *after {
                return Err(Error::new(
                    Kind::Io,
                    format!("`{file}` does not read back as written"),
                ));
            }
            Ok((Operation::Changed, Produced::new()))
        }
    }
}

/// Sets `wanted` on `sha` unless the newest status of its context there already says it: read first, so a
/// rerun adds no duplicate status.
/// `known`: the newest `(state, description)` of the context on `sha` when it is already known (`Some(None)`:
/// none), so it is not read again.
fn set_status(
    github: &github::Client,
    sha: &str,
    wanted: &github::NewStatus,
    known: Option<Option<(String, String)>>,
) -> Result<Operation> {
    let now = match known {
        Some(known) => known,
        None => github
            .status_of(sha, &wanted.context)?
            .map(|s| (s.state, s.description.unwrap_or_default())),
    };
    let operation = match &now {
        Some((state, description))
            if *state == wanted.state && *description == wanted.description =>
        {
            return Ok(Operation::Unchanged);
        }
        Some(_) => Operation::Updated,
        None => Operation::Created,
    };
    github.create_status(sha, wanted)?;
    Ok(operation)
}

/// Whether `sha` is a commit an earlier `Commit` step of this run created on `branch`.
fn sha_is_new(applied: &[Applied], branch: &str, sha: &str) -> bool {
    applied.iter().any(|a| {
        matches!(&a.step, Step::Commit { branch: b, .. } if b == branch)
            && matches!(a.operation, Operation::Created | Operation::Updated)
            && a.produced.get("commit").map(String::as_str) == Some(sha)
    })
}

/// What the pull request must say.
struct WantedPull<'a> {
    title: &'a str,
    body: &'a str,
    labels: &'a [String],
    reviewers: &'a [String],
    team_reviewers: &'a [String],
}

/// Brings an open pull request up to date: its title and body, missing labels, and reviewers when no one is
/// requested at all.
fn bring_up_to_date(
    github: &github::Client,
    pull: github::Pull,
    wanted: &WantedPull<'_>,
    owner: &Owner<'_>,
) -> Result<(Operation, github::Pull)> {
    let mut operation = Operation::Unchanged;
    let pull = if pull.title != wanted.title || pull.body.trim_end() != wanted.body.trim_end() {
        owner.check(&pull.head_sha)?;
        operation = Operation::Updated;
        github.update_pull(pull.number, wanted.title, wanted.body)?
    } else {
        pull
    };
    let missing: Vec<String> = wanted
        .labels
        .iter()
        .filter(|l| !pull.labels.contains(l))
        .cloned()
        .collect();
    if !missing.is_empty() {
        operation = Operation::Updated;
        github.add_labels(pull.number, &missing)?;
    }
    // No one requested at all: an earlier run opened it but could not ask (a reviewer who is not a
    // collaborator yet). Someone who already reviewed is not asked again otherwise.
    if pull.requested_reviewers.is_empty()
        && pull.requested_teams.is_empty()
        && (!wanted.reviewers.is_empty() || !wanted.team_reviewers.is_empty())
    {
        operation = Operation::Updated;
        github.request_reviewers(pull.number, wanted.reviewers, wanted.team_reviewers)?;
    }
    Ok((operation, pull))
}

/// Who owns a promotion branch: the commit this run left on it (with its file and image), if it made one.
struct Owner<'a> {
    host: Option<&'a dyn BranchHost>,
    branch: &'a str,
    made: Option<(&'a str, &'a str, &'a str)>,
}

impl Owner<'_> {
    /// The branch still holds this run's commit (`seen`: the head GitHub's answer about the pull request
    /// gave, which saves the read when it is this run's commit); else a conflict naming what it holds now.
    fn check(&self, seen: &str) -> Result<()> {
        let (Some(host), Some((commit, file, image))) = (self.host, self.made) else {
            return Ok(());
        };
        if seen == commit {
            return Ok(());
        }
        let Some(tip) = host.tip(self.branch)? else {
            return Err(Error::new(
                Kind::Conflict,
                format!(
                    "branch `{}` was deleted while this promotion opened its pull request",
                    self.branch
                ),
            )
            .with_help("rerun the promotion"));
        };
        if tip == commit {
            return Ok(());
        }
        let holds = host
            .file(self.branch, &tip, file)?
            .and_then(|text| crate::manifests::pinned(&text, image))
            .map(|pin| pin.tag.or(pin.digest).unwrap_or_default())
            .unwrap_or_else(|| format!("commit {}", &tip[..tip.len().min(7)]));
        Err(Error::new(
            Kind::Conflict,
            format!(
                "another promotion owns `{}` now: {holds}; the pull request was not changed to say this run's version",
                self.branch
            ),
        )
        .with_help("two promotions share this branch (a `branch` template without `{production-tag}`, or workflows without one `concurrency:` group); let the other one finish, then rerun if this version is still wanted"))
    }
}

/// Right before (and right after) a moving tag is written: what `guard.branch` pins when that is not
/// `guard.digest` (another promotion released after this one), so a run that lost a race never moves
/// production back.
fn pinned_elsewhere(
    host: Option<&dyn BranchHost>,
    guard: &PinGuard,
) -> Result<Option<crate::manifests::Pin>> {
    let Some(host) = host else {
        return Ok(None);
    };
    let tip = host.tip(&guard.branch)?.ok_or_else(|| {
        Error::new(
            Kind::NotFound,
            format!("branch `{}` does not exist", guard.branch),
        )
    })?;
    let pin = host
        .file(&guard.branch, &tip, &guard.file)?
        .and_then(|text| crate::manifests::pinned(&text, &guard.image))
        .unwrap_or(crate::manifests::Pin {
            tag: None,
            digest: None,
        });
    Ok((pin.digest.as_deref() != Some(guard.digest.as_str())).then_some(pin))
}

/// The warning of a moving tag left to the promotion that released after this one.
fn lost_race(
    guard: &PinGuard,
    tag: &str,
    other: &crate::manifests::Pin,
    what: &str,
) -> crate::actions::Annotation {
    let now = match (&other.tag, &other.digest) {
        (Some(t), Some(d)) => format!("{t} (`{d}`)"),
        (t, d) => t.clone().or(d.clone()).unwrap_or_else(|| "nothing".into()),
    };
    crate::actions::Annotation::warning(
        "gitops-promote: another promotion released after this one",
        format!(
            "`{}` on `{}` pins {now} now, not {}: `{tag}` {what}, so it equals what the branch pins",
            guard.file, guard.branch, guard.version
        ),
    )
}

/// What a `Commit` step writes, and where.
struct CommitTarget<'a> {
    branch: &'a str,
    base_branch: &'a str,
    file: &'a str,
    message: &'a str,
    edit: &'a Edit,
}

/// Commits the change on the base branch's tip as planning read it, moments ago (not read again). A direct commit
/// to the base is never forced: when the base moved meanwhile, GitHub (or the git remote) refuses the update,
/// and then the tip and the file are read again and the edit re-applied on the new tip, so someone else's change
/// is never reverted; this retries up to [`COMMIT_ATTEMPTS`] times. The promotion branch is ours and is reset
/// onto the base; a promotion branch that already holds the change is left as it is.
fn commit(
    host: &dyn BranchHost,
    target: &CommitTarget<'_>,
    planned: (&str, &str),
    branch_sha: Option<&str>,
    up_to_date: bool,
    console: &mut Console,
) -> Result<(Operation, Produced)> {
    let direct = target.branch == target.base_branch;
    let produced = |commit: &str| Produced::from([("commit".to_string(), commit.to_string())]);
    if let (false, true, Some(tip)) = (direct, up_to_date, branch_sha) {
        return Ok((Operation::Unchanged, produced(tip)));
    }
    let (mut base, mut content) = (planned.0.to_string(), planned.1.to_string());
    let mut up_to_date = up_to_date;
    for attempt in 1..=COMMIT_ATTEMPTS {
        if attempt > 1 {
            let base_now = host.tip(target.base_branch)?.ok_or_else(|| {
                Error::new(
                    Kind::NotFound,
                    format!(
                        "branch `{}` disappeared while committing",
                        target.base_branch
                    ),
                )
            })?;
            if base_now != base {
                console.info(&format!(
                    "`{}` moved from {} to {}: reading `{}` again and re-applying the change",
                    target.base_branch,
                    &base[..base.len().min(7)],
                    &base_now[..base_now.len().min(7)],
                    target.file
                ));
                let before = host.file(target.base_branch, &base_now, target.file)?;
                // The branch moved to another promotion: a newer version there is never replaced by this one.
                if let (Edit::Image(request), Some(text)) = (target.edit, &before)
                    && let Some(tag) = &request.tag
                {
                    crate::release_steps::refuse_going_back(
                        text,
                        target.file,
                        &request.image,
                        tag,
                        target.base_branch,
                    )?;
                }
                match target.edit.apply(target.file, before.as_deref())? {
                    Some(text) => {
                        up_to_date = false;
                        content = text;
                    }
                    None => up_to_date = true,
                }
                base = base_now;
            }
        }
        if direct && up_to_date {
            return Ok((Operation::Unchanged, produced(&base)));
        }
        let commit = host.commit_file(&base, target.file, &content, target.message)?;
        if direct {
            if host.set_branch(target.branch, &commit, false, false)? {
                return Ok((Operation::Created, produced(&commit)));
            }
            console.info(&format!(
                "`{}` moved before the commit landed (attempt {attempt}/{COMMIT_ATTEMPTS}); retrying",
                target.base_branch
            ));
            continue;
        }
        host.set_branch(target.branch, &commit, branch_sha.is_none(), true)?;
        let operation = if branch_sha.is_none() {
            Operation::Created
        } else {
            Operation::Updated
        };
        return Ok((operation, produced(&commit)));
    }
    Err(Error::new(
        Kind::Conflict,
        format!(
            "`{}` kept moving: {COMMIT_ATTEMPTS} attempts to commit `{}` on its tip lost the race",
            target.base_branch, target.file
        ),
    )
    .with_help("another job is pushing to the same branch; rerun once it is done (a `concurrency:` group on the workflow avoids this)"))
}
