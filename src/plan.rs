//! Owns the plan: the plain value every mode computes without side effects, that `dry-run` prints and the
//! executor (`apply.rs`) carries out, and the record of what each step did.

use std::path::PathBuf;

use serde::Serialize;

use crate::inputs::Mode;
use crate::manifests::{Change, Request};

/// One effect on the outside world, with the state observed when planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    /// Create the annotated tag `tag` on `commit` (unless `exists_locally`) and push it to `remote`
    /// (unless `exists_on_remote`). Both present means nothing to do: `unchanged`.
    GitTag {
        tag: String,
        commit: String,
        remote: String,
        exists_locally: bool,
        exists_on_remote: bool,
    },
    /// Point `target` (a full reference with a tag) at `digest`, the manifest read from `source`, by
    /// writing the manifest's exact bytes. `old_digest` is where `target` pointed when planning.
    Retag {
        source: String,
        target: String,
        digest: String,
        media_type: String,
        old_digest: Option<String>,
        transfer: Transfer,
        /// A moving tag that production follows moves only while the base branch still pins what it releases:
        /// read again right before the write (and after it), so a run that lost a race never moves it back.
        #[serde(skip_serializing_if = "Option::is_none")]
        guard: Option<PinGuard>,
    },
    /// Copy what is attached to `digest` in the repository `source` (cosign's `.sig`, `.att`, `.sbom` tags and
    /// the digest's OCI referrers) to the repository `target`, before any tag there points at the digest, so a
    /// signature check of the copied image finds them. `attached` is what was found when planning; nothing
    /// missing means `unchanged`. Never planned within one repository (the digest, and so everything attached
    /// to it, is the same there).
    Signatures {
        source: String,
        target: String,
        digest: String,
        attached: crate::registry::AttachedFacts,
    },
    /// Replace the manifest `file` (relative to the repository) by `after`, provided it still reads `before`.
    /// `changes` empty means the file already holds the values: `unchanged`.
    Patch {
        file: String,
        image: String,
        changes: Vec<Change>,
        /// Places that already hold the requested values.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        unchanged: Vec<String>,
        /// The edit as a unified diff (what dry-run, the summary and a PR body show).
        diff: String,
        #[serde(skip)]
        path: PathBuf,
        #[serde(skip)]
        before: String,
        #[serde(skip)]
        after: String,
    },
    /// Commit `file` as `edit` sets it on top of `base_branch`'s tip, on `branch`. `branch == base_branch` is a
    /// direct commit (never forced: when the base moved, re-read, re-apply and retry); any other branch is the
    /// promotion branch, created or reset onto the base's tip.
    Commit {
        via: CommitVia,
        /// `owner/name` (API) or the remote's URL (git), for messages.
        repository: String,
        branch: String,
        base_branch: String,
        /// The base branch's tip when planning: the commit's parent.
        base_sha: String,
        /// The branch's tip when planning; `None` when it does not exist yet.
        branch_sha: Option<String>,
        /// The branch already holds exactly this change on top of `base_sha`: `unchanged`.
        up_to_date: bool,
        file: String,
        message: String,
        /// What the commit sets, so the change can be re-applied on a base branch that moved.
        edit: Edit,
        /// The edit as a unified diff against `base_sha`.
        diff: String,
        #[serde(skip)]
        after: String,
    },
    /// Open the pull request `branch` → `base_branch`, or bring the open one (`existing`) up to date: title,
    /// body, labels and reviewers.
    PullRequest {
        repository: String,
        branch: String,
        base_branch: String,
        title: String,
        body: String,
        labels: Vec<String>,
        reviewers: Vec<String>,
        team_reviewers: Vec<String>,
        draft: bool,
        /// The open pull request's number when planning.
        existing: Option<u64>,
        /// That pull request as read when planning (title, body, labels, reviewers): what the step compares
        /// with, so it is not read again.
        #[serde(skip)]
        found: Option<crate::github::Pull>,
    },
    /// Publish the GitHub release `tag` (on the existing git tag), or bring the existing one's notes up to date.
    Release {
        repository: String,
        tag: String,
        name: String,
        body: String,
        /// Marked the repository's latest release: only the highest version is.
        latest: bool,
        /// The release found when planning: its id, and whether it already says exactly this.
        existing: Option<u64>,
        up_to_date: bool,
    },
    /// Set the commit status `context` on a pull request's head: `state` and `description`, unless the newest
    /// status of that context there already says exactly that (`unchanged`).
    CommitStatus {
        repository: String,
        /// The commit; `None`: the one the `Commit` step of `branch` in this plan leaves.
        sha: Option<String>,
        branch: String,
        context: String,
        state: String,
        description: String,
        /// Where the status links (the pull request); `None`: the pull request the step before opened.
        #[serde(skip_serializing_if = "Option::is_none")]
        target_url: Option<String>,
        /// The newest status of `context` as read when planning, and the commit it was read on; `None` when it
        /// was not read (the step reads it, unless the commit is one this run just made).
        #[serde(skip)]
        found: Option<SeenStatus>,
        /// A token that may not set statuses is a warning, not a failure: the pull request is the proposal's
        /// point, and the `checklist` mode sets the status on its next event.
        #[serde(skip)]
        warn_only: bool,
    },
}

/// The newest status of one context on commit `sha`, as read when planning: `(state, description)`, `None` when
/// there is none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeenStatus {
    pub sha: String,
    pub status: Option<(String, String)>,
}

/// What a moving tag's move rests on: `branch`'s `file` pins `image` to `digest` (the release `version`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PinGuard {
    pub branch: String,
    pub file: String,
    pub image: String,
    pub version: String,
    pub digest: String,
}

/// What a `Commit` step sets in its file, so the change can be applied again on a base branch that moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Edit {
    /// An image's tag and digest in a manifest (byte-exact elsewhere).
    Image(Request),
    /// A Keep a Changelog entry for `version`, placed above the newest one (the file is created when missing).
    ChangelogEntry { version: String, entry: String },
}

impl Edit {
    /// The file's new text, or `None` when it already holds the change. `before` is `None` for a missing file.
    pub fn apply(&self, file: &str, before: Option<&str>) -> crate::error::Result<Option<String>> {
        match self {
            Edit::Image(request) => {
                let before = before.ok_or_else(|| {
                    crate::error::Error::new(
                        crate::error::Kind::NotFound,
                        format!("`{file}` does not exist"),
                    )
                })?;
                let patched = crate::manifests::patch(before, file, request)?;
                Ok(patched.changed().then_some(patched.text))
            }
            Edit::ChangelogEntry { version, entry } => {
                Ok(crate::changes::prepend_entry(before, version, entry))
            }
        }
    }
}

/// How a commit reaches the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommitVia {
    /// GitHub's Git Data API: GitHub signs the commit, no push credentials needed.
    Api,
    /// A commit pushed with git to `origin`.
    Git,
}

impl CommitVia {
    pub fn as_str(self) -> &'static str {
        match self {
            CommitVia::Api => "the GitHub API",
            CommitVia::Git => "git",
        }
    }
}

/// How an image reaches a retag's target repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Transfer {
    /// Same repository: the manifest is written under the new tag, no blob moves.
    SameRepository,
    /// Same registry, other repository: missing blobs are mounted across repositories.
    Mount,
    /// Another registry: missing blobs are streamed from the source.
    Copy,
}

/// What a retag does given where the target points now.
pub fn retag_operation(old_digest: Option<&str>, digest: &str) -> Operation {
    match old_digest {
        None => Operation::Created,
        Some(old) if old == digest => Operation::Unchanged,
        Some(_) => Operation::Moved,
    }
}

fn short_digest(digest: &str) -> &str {
    digest.get(..19).unwrap_or(digest)
}

fn short_sha(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

impl Step {
    /// One line for logs and the Markdown plan.
    pub fn describe(&self) -> String {
        match self {
            Step::GitTag {
                tag,
                commit,
                remote,
                exists_locally,
                exists_on_remote,
            } => {
                let short = commit.get(..7).unwrap_or(commit);
                match (exists_locally, exists_on_remote) {
                    (true, true) => {
                        format!("git tag `{tag}` is already on `{short}` and on `{remote}`")
                    }
                    (true, false) => format!("push git tag `{tag}` (on `{short}`) to `{remote}`"),
                    (false, _) => {
                        format!("create git tag `{tag}` on `{short}` and push it to `{remote}`")
                    }
                }
            }
            Step::Retag {
                source,
                target,
                digest,
                old_digest,
                transfer,
                ..
            } => {
                let d = short_digest(digest);
                let how = match transfer {
                    Transfer::SameRepository => String::new(),
                    Transfer::Mount => " (mounting blobs)".to_string(),
                    Transfer::Copy => " (copying missing blobs)".to_string(),
                };
                match retag_operation(old_digest.as_deref(), digest) {
                    Operation::Unchanged => format!("`{target}` already points to `{d}`"),
                    Operation::Moved => format!(
                        "move `{target}` from `{}` to `{d}` (from `{source}`){how}",
                        short_digest(old_digest.as_deref().unwrap_or(""))
                    ),
                    _ => format!("point `{target}` at `{d}` (from `{source}`){how}"),
                }
            }
            Step::Signatures {
                source,
                target,
                digest,
                attached,
            } => {
                let d = short_digest(digest);
                if attached.artifacts.is_empty() {
                    format!(
                        "`{source}` has no signature, attestation, SBOM or referrer of `{d}`: nothing to copy to `{target}`"
                    )
                } else if attached.is_done() {
                    format!(
                        "`{target}` already has the signatures of `{d}` ({})",
                        attached.list(false)
                    )
                } else {
                    format!(
                        "copy the signatures of `{d}` ({}) from `{source}` to `{target}`{}",
                        attached.list(true),
                        if attached.rebuild_index && !attached.target_referrers_api {
                            " and list the referrers in its tag `sha256-…`"
                        } else {
                            ""
                        }
                    )
                }
            }
            Step::Patch {
                file,
                image,
                changes,
                ..
            } => {
                if changes.is_empty() {
                    return format!("`{file}` already sets `{image}` as asked: no change");
                }
                let what = changes
                    .iter()
                    .map(|c| match (&c.old, &c.new) {
                        (Some(o), Some(n)) => format!("{} `{o}` → `{n}`", c.field),
                        (None, Some(n)) => format!("add {} `{n}`", c.field),
                        (Some(o), None) => format!("remove {} `{o}`", c.field),
                        (None, None) => c.field.clone(),
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                format!("patch `{file}`: {what}")
            }
            Step::Commit {
                via,
                repository,
                branch,
                base_branch,
                base_sha,
                branch_sha,
                up_to_date,
                file,
                ..
            } => {
                let base = short_sha(base_sha);
                if *up_to_date {
                    if branch == base_branch {
                        format!(
                            "`{base_branch}` of `{repository}` already has `{file}` as promoted"
                        )
                    } else {
                        format!(
                            "`{branch}` of `{repository}` already has the promotion commit on `{base_branch}` (`{base}`)"
                        )
                    }
                } else if branch == base_branch {
                    format!(
                        "commit `{file}` to `{base_branch}` of `{repository}` on `{base}`, via {}",
                        via.as_str()
                    )
                } else if branch_sha.is_none() {
                    format!(
                        "create branch `{branch}` of `{repository}` from `{base_branch}` (`{base}`) with a commit of `{file}`, via {}",
                        via.as_str()
                    )
                } else {
                    format!(
                        "reset branch `{branch}` of `{repository}` onto `{base_branch}` (`{base}`) with a commit of `{file}`, via {}",
                        via.as_str()
                    )
                }
            }
            Step::PullRequest {
                repository,
                branch,
                base_branch,
                title,
                existing,
                ..
            } => match existing {
                Some(number) => format!(
                    "bring pull request #{number} of `{repository}` ({branch} → {base_branch}) up to date: \"{title}\""
                ),
                None => format!(
                    "open a pull request on `{repository}`: {branch} → {base_branch}, \"{title}\""
                ),
            },
            Step::Release {
                repository,
                tag,
                latest,
                existing,
                up_to_date,
                ..
            } => match (existing, up_to_date) {
                (Some(_), true) => format!("release `{tag}` of `{repository}` already says this"),
                (Some(_), false) => {
                    format!("update the notes of release `{tag}` of `{repository}`")
                }
                (None, _) => format!(
                    "publish release `{tag}` of `{repository}`{}",
                    if *latest {
                        " as the latest"
                    } else {
                        " (not the latest: a higher version exists)"
                    }
                ),
            },
            Step::CommitStatus {
                repository,
                sha,
                branch,
                context,
                state,
                description,
                found,
                ..
            } => {
                let on = match sha {
                    Some(sha) => format!("`{}`", short_sha(sha)),
                    None => format!("the head of `{branch}`"),
                };
                match found.as_ref().and_then(|f| f.status.as_ref()) {
                    Some((s, d)) if s == state && d == description => format!(
                        "commit status `{context}` on {on} of `{repository}` already says {state}: \"{description}\""
                    ),
                    _ => format!(
                        "set commit status `{context}` on {on} of `{repository}` to {state}: \"{description}\""
                    ),
                }
            }
        }
    }
}

/// What a mode will do.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Plan {
    pub mode: Mode,
    pub dry_run: bool,
    pub steps: Vec<Step>,
    /// Why a step that could have been planned was not (e.g. why no git tag is cut).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub skipped: Vec<String>,
}

impl Plan {
    pub fn new(mode: Mode, dry_run: bool) -> Self {
        Self {
            mode,
            dry_run,
            steps: Vec::new(),
            skipped: Vec::new(),
        }
    }

    /// The plan as Markdown: a numbered list of steps.
    pub fn to_markdown(&self) -> String {
        let mut md = format!(
            "### Plan: `{}`{}\n\n",
            self.mode,
            if self.dry_run { " (dry run)" } else { "" }
        );
        if self.steps.is_empty() {
            md.push_str("No changes to make.\n");
        }
        for (i, step) in self.steps.iter().enumerate() {
            md.push_str(&format!("{}. {}\n", i + 1, step.describe()));
        }
        for reason in &self.skipped {
            md.push_str(&format!("- skipped: {reason}\n"));
        }
        md
    }
}

/// What carrying out a step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Operation {
    Created,
    Unchanged,
    Moved,
    Changed,
    Updated,
    Skipped,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Created => "created",
            Operation::Unchanged => "unchanged",
            Operation::Moved => "moved",
            Operation::Changed => "changed",
            Operation::Updated => "updated",
            Operation::Skipped => "skipped",
        }
    }

    /// The operation as every `*-operation` output and `result` entry reports it. In a dry run an effect is
    /// reported as what *would* happen (`would-create`), so a workflow condition on `created` never fires for
    /// a run that did nothing; `unchanged` and `skipped` are the same either way (nothing is done in both).
    ///
    /// ```
    /// use gitops_promote::plan::Operation;
    /// assert_eq!(Operation::Created.reported(false), "created");
    /// assert_eq!(Operation::Created.reported(true), "would-create");
    /// assert_eq!(Operation::Unchanged.reported(true), "unchanged");
    /// ```
    pub fn reported(self, dry_run: bool) -> String {
        if !dry_run {
            return self.as_str().to_string();
        }
        match self {
            Operation::Unchanged | Operation::Skipped => self.as_str(),
            Operation::Created => "would-create",
            Operation::Updated => "would-update",
            Operation::Moved => "would-move",
            Operation::Changed => "would-change",
        }
        .to_string()
    }

    /// The operation in a sentence of a summary: `created`, or in a dry run `would be created`.
    pub fn phrase(self, dry_run: bool) -> String {
        match (self, dry_run) {
            (Operation::Unchanged | Operation::Skipped, _) | (_, false) => {
                self.as_str().to_string()
            }
            (_, true) => format!("would be {}", self.as_str()),
        }
    }
}

/// A step and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub step: Step,
    pub operation: Operation,
    /// What the step produced that later steps and the report name (`commit`, `pr-number`, `pr-url`).
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub produced: std::collections::BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [Operation; 6] = [
        Operation::Created,
        Operation::Unchanged,
        Operation::Moved,
        Operation::Changed,
        Operation::Updated,
        Operation::Skipped,
    ];

    #[test]
    fn dry_run_operations_cannot_be_mistaken_for_effects() {
        assert_eq!(Operation::Created.reported(true), "would-create");
        assert_eq!(Operation::Updated.reported(true), "would-update");
        assert_eq!(Operation::Moved.reported(true), "would-move");
        assert_eq!(Operation::Changed.reported(true), "would-change");
        assert_eq!(Operation::Unchanged.reported(true), "unchanged");
        assert_eq!(Operation::Skipped.reported(true), "skipped");
        for op in ALL {
            assert_eq!(op.reported(false), op.as_str());
            let dry = op.reported(true);
            if matches!(op, Operation::Unchanged | Operation::Skipped) {
                assert_eq!(dry, op.as_str(), "nothing is done either way");
            } else {
                // No dry-run word is a word a real run reports for an effect.
                assert!(ALL.iter().all(|o| o.as_str() != dry), "{dry}");
            }
        }
        assert_eq!(Operation::Created.phrase(true), "would be created");
        assert_eq!(Operation::Created.phrase(false), "created");
        assert_eq!(Operation::Unchanged.phrase(true), "unchanged");
    }
}
