//! Owns carrying out a plan: each step checks the world again, acts only when needed, re-reads what it wrote,
//! and records `created` / `unchanged` / … so a rerun converges and says so.

use crate::actions::Console;
use crate::error::{Error, Kind, Result};
use crate::git::GitRepo;
use crate::inputs::Secret;
use crate::plan::{Applied, Operation, Plan, Step};

/// The real systems a plan acts on. Modes fill in what their steps need.
pub struct Effects<'a> {
    pub git: Option<&'a GitRepo>,
    pub github_token: Option<&'a Secret>,
    pub console: &'a mut Console,
}

/// Carries out every step in order; the first failure stops the run.
pub fn apply(plan: &Plan, effects: &mut Effects<'_>) -> Result<Vec<Applied>> {
    let mut applied = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        effects.console.group(&step.describe());
        let operation = apply_step(step, effects);
        effects.console.end_group();
        let operation = operation?;
        effects
            .console
            .info(&format!("{}: {}", operation.as_str(), step.describe()));
        applied.push(Applied {
            step: step.clone(),
            operation,
        });
    }
    Ok(applied)
}

fn apply_step(step: &Step, effects: &mut Effects<'_>) -> Result<Operation> {
    match step {
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
                return Ok(Operation::Unchanged);
            }
            if !exists_locally {
                git.create_tag(tag, commit, &format!("Release {tag}"))?;
            }
            if !exists_on_remote {
                git.push_tag(remote, tag, effects.github_token)?;
                let now = git.remote_tag_commit(remote, tag, effects.github_token)?;
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
            Ok(Operation::Created)
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
                return Ok(Operation::Unchanged);
            }
            let now = std::fs::read_to_string(path)
                .map_err(|e| Error::new(Kind::Io, format!("can't read `{file}`: {e}")))?;
            if now == *after {
                return Ok(Operation::Unchanged);
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
            Ok(Operation::Changed)
        }
    }
}
