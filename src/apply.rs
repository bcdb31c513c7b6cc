//! Owns carrying out a plan: each step checks the world again, acts only when needed, re-reads what it wrote,
//! and records `created` / `unchanged` / … so a rerun converges and says so.

use crate::actions::Console;
use crate::error::{Error, Kind, Result};
use crate::git::GitRepo;
use crate::inputs::Secret;
use crate::plan::{Applied, Operation, Plan, Step, Transfer, retag_operation};
use crate::registry::{self, Reference};

/// The real systems a plan acts on. Modes fill in what their steps need.
pub struct Effects<'a> {
    pub git: Option<&'a GitRepo>,
    pub github_token: Option<&'a Secret>,
    pub registry: Option<&'a registry::Client>,
    pub console: &'a mut Console,
}

/// Carries out every step in order; the first failure stops the run.
/// A dry-run plan is only printed: nothing is carried out and nothing is returned.
pub fn apply(plan: &Plan, effects: &mut Effects<'_>) -> Result<Vec<Applied>> {
    if plan.dry_run {
        return Ok(Vec::new());
    }
    let mut applied = Vec::with_capacity(plan.steps.len());
    for step in &plan.steps {
        effects.console.group(&step.describe());
        let operation = apply_step(step, effects);
        if let Some(registry) = effects.registry {
            for secret in registry.take_secrets() {
                effects.console.mask(&secret);
            }
            for line in registry.take_progress() {
                effects.console.info(&line);
            }
        }
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
        Step::Retag {
            source,
            target,
            digest,
            old_digest,
            transfer,
            ..
        } => {
            let registry = effects
                .registry
                .ok_or_else(|| Error::new(Kind::Upstream, "no registry client to retag with"))?;
            let operation = retag_operation(old_digest.as_deref(), digest);
            if operation == Operation::Unchanged {
                return Ok(operation);
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
            registry.put_manifest(&target.image, &tag, &manifest)?;
            // Re-read: another writer, or a registry that rewrote the manifest, must not pass silently.
            let now = registry.resolve(&target)?;
            match now {
                Some(d) if d.digest == *digest => Ok(operation),
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
