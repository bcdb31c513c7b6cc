//! Owns the plan: the plain value every mode computes without side effects, that `dry-run` prints and the
//! executor (`apply.rs`) carries out, and the record of what each step did.

use std::path::PathBuf;

use serde::Serialize;

use crate::inputs::Mode;
use crate::manifests::Change;

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
    Skipped,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Created => "created",
            Operation::Unchanged => "unchanged",
            Operation::Moved => "moved",
            Operation::Changed => "changed",
            Operation::Skipped => "skipped",
        }
    }
}

/// A step and what happened to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Applied {
    pub step: Step,
    pub operation: Operation,
}
