//! Owns planning retags, shared by `retag`, the build modes' `source-image` and `promote`: the registry facts
//! (the source's manifest, where each target tag points), the steps (created / unchanged / moved), and the
//! conflict when an immutable tag already points elsewhere.

use std::collections::BTreeSet;

use serde::Serialize;

use crate::actions::Console;
use crate::error::{Error, Kind, Result};
use crate::image::ImageName;
use crate::inputs::Reader;
use crate::plan::{Applied, Operation, Plan, Step, Transfer};
use crate::registry::{self, Client, Descriptor, Reference};
use crate::registry_settings::mask_login;

/// Tags that always may move (the pipeline's production pointer).
pub const ALWAYS_MOVING: &[&str] = &["production-latest"];

/// Where each target points now, and what the source is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetagFacts {
    pub source: Descriptor,
    pub targets: Vec<(String, Option<Descriptor>)>,
}

/// Whether `tag` may move to another digest.
#[derive(Debug, Clone, Default)]
pub struct Rules {
    pub force: bool,
    pub moving_tags: BTreeSet<String>,
}

/// Pure: one step per target, or a conflict naming every immutable tag that points elsewhere.
pub fn plan_steps(
    source: &Reference,
    facts: &RetagFacts,
    targets: &[Reference],
    rules: &Rules,
) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    let mut conflicts = Vec::new();
    for (target, (_, now)) in targets.iter().zip(&facts.targets) {
        let tag = target.tag.as_deref().unwrap_or_default();
        let old_digest = now.as_ref().map(|d| d.digest.clone());
        if let Some(old) = &old_digest
            && *old != facts.source.digest
            && !rules.force
            && !rules.moving_tags.contains(tag)
        {
            conflicts.push(format!("`{target}` already points to {old}"));
            continue;
        }
        let transfer = if target.image.registry != source.image.registry {
            Transfer::Copy
        } else if target.image.repository != source.image.repository {
            Transfer::Mount
        } else {
            Transfer::SameRepository
        };
        steps.push(Step::Retag {
            source: source.to_string(),
            target: target.to_string(),
            digest: facts.source.digest.clone(),
            media_type: facts.source.media_type.clone(),
            old_digest,
            transfer,
            guard: None,
        });
    }
    if !conflicts.is_empty() {
        return Err(Error::new(
            Kind::Conflict,
            format!(
                "can't point {} at {}: {}",
                if conflicts.len() == 1 { "a tag" } else { "tags" },
                facts.source.digest,
                conflicts.join("; ")
            ),
        )
        .with_help("these tags are immutable: set `force: true` to move them anyway, or list the ones meant to move in `moving-tags`"));
    }
    Ok(steps)
}

/// Reads the source manifest (raw bytes, kept for the PUT) and HEADs every target, the targets at once. What was
/// found is queued on the client's progress lines, so the caller's log group (see [`drain`]) shows the facts the
/// plan rests on.
///
/// The source goes first and alone: the first request to a registry learns its scheme and its auth challenge,
/// so requests sent beside it would each be refused with a 401 and each fetch a token of their own.
pub fn gather(
    client: &Client,
    source: &Reference,
    targets: &[Reference],
    push: bool,
) -> Result<RetagFacts> {
    client.declare(&source.image, false);
    for t in targets {
        client.declare(&t.image, push);
    }
    let manifest = client.get_manifest(source)?;
    let d = &manifest.descriptor;
    client.note(format!(
        "`{source}` is `{}` ({}, {} bytes)",
        d.digest, d.media_type, d.size
    ));
    let mut facts = RetagFacts {
        source: manifest.descriptor,
        targets: Vec::new(),
    };
    for (t, now) in targets.iter().zip(client.resolve_all(targets)) {
        let now = now?;
        client.note(match &now {
            None => format!("`{t}` does not exist yet"),
            Some(n) if n.digest == facts.source.digest => format!("`{t}` already points to it"),
            Some(n) => format!("`{t}` points to `{}`", n.digest),
        });
        facts.targets.push((t.to_string(), now));
    }
    Ok(facts)
}

/// One `Signatures` step per target repository other than the source's: what is attached to `digest` in the
/// source (cosign's `.sig`, `.att`, `.sbom` tags, its OCI referrers) and what the target lacks. Reads the
/// registry. Targets in the source's own repository get none: the digest is the same there, so its signatures
/// already apply.
pub fn signature_steps(
    client: &Client,
    source: &Reference,
    digest: &str,
    targets: &[Reference],
) -> Result<Vec<Step>> {
    let mut steps = Vec::new();
    let mut seen: Vec<&ImageName> = Vec::new();
    for target in targets {
        if target.image == source.image || seen.contains(&&target.image) {
            continue;
        }
        seen.push(&target.image);
        let attached = client.find_attached(&source.image, digest, &target.image)?;
        client.note(format!(
            "attached to `{digest}` in `{}`: {}; missing in `{}`: {}",
            source.image,
            attached.list(false),
            target.image,
            attached.list(true)
        ));
        steps.push(Step::Signatures {
            source: source.image.to_string(),
            target: target.image.to_string(),
            digest: digest.to_string(),
            attached,
        });
    }
    Ok(steps)
}

/// Puts each `Signatures` step right before the first `Retag` step into its repository, so everything attached
/// to the image is there before a tag points at it (a policy controller admits by tag as soon as it exists).
pub fn insert_signatures(steps: &mut Vec<Step>, signatures: Vec<Step>) {
    for signature in signatures {
        let Step::Signatures { target: repo, .. } = &signature else {
            continue;
        };
        let first = steps.iter().position(|s| {
            matches!(s, Step::Retag { target, .. }
                if Reference::parse(target).is_ok_and(|r| r.image.to_string() == *repo))
        });
        steps.insert(first.unwrap_or(steps.len()), signature);
    }
}

/// Logs what the client collected (retries) and masks the tokens it obtained.
pub fn drain(client: &Client, console: &mut Console) {
    for secret in client.take_secrets() {
        console.mask(&secret);
    }
    for line in client.take_progress() {
        console.info(&line);
    }
}

/// The `source-image` retag of `develop-build` / `staging-build`: its own registry client, shared by
/// planning and applying.
pub struct SourceImage {
    pub source: Reference,
    pub client: Client,
}

impl SourceImage {
    /// Reads `source-image` (a problem is recorded in the reader, so the build modes report it with their other
    /// inputs). `None` when it is empty or bad.
    pub fn read_reference(r: &mut Reader<'_>) -> Option<Reference> {
        r.parse("source-image", |v| {
            Reference::parse(v).map_err(|p| {
                let mut p = p;
                p.input = "source-image".to_string();
                p
            })
        })
    }

    /// The client for an already validated source; masks the credentials first.
    pub fn new(
        source: Reference,
        settings: registry::Settings,
        console: &mut Console,
    ) -> Result<Self> {
        mask_login(console, &settings);
        Ok(Self {
            source,
            client: Client::new(settings)?,
        })
    }

    /// Steps pointing `image:tag` for every tag at the source's digest. Reads the registry; every tag is
    /// immutable (a version tag never moves).
    pub fn steps(
        &self,
        image: &ImageName,
        tags: &[String],
        dry_run: bool,
        console: &mut Console,
    ) -> Result<Vec<Step>> {
        let targets: Vec<Reference> = tags
            .iter()
            .map(|t| Reference {
                image: image.clone(),
                tag: Some(t.clone()),
                digest: None,
            })
            .collect();
        console.group(&format!("Read `{}` and the target tags", self.source));
        let facts = gather(&self.client, &self.source, &targets, !dry_run);
        drain(&self.client, console);
        console.end_group();
        plan_steps(&self.source, &facts?, &targets, &Rules::default())
    }
}

/// The summary's "Signatures" cell: what each `Signatures` step copied (or, in a dry run, would copy), e.g.
/// `` `.sig`, `.att`, 1 referrer copied to `ghcr.io/org/prod` ``. `None` when there is nothing to say (every
/// target in the source's repository); `disabled` says `copy-signatures: false` kept them from being copied.
pub fn signatures_cell(plan: &Plan, applied: &[Applied], disabled: bool) -> Option<String> {
    if disabled {
        return Some("not copied (`copy-signatures: false`)".to_string());
    }
    let cells: Vec<String> = plan
        .steps
        .iter()
        .filter_map(|step| {
            let Step::Signatures {
                source,
                target,
                attached,
                ..
            } = step
            else {
                return None;
            };
            let operation = applied
                .iter()
                .find(|a| &a.step == step)
                .map(|a| a.operation)
                .unwrap_or(if attached.is_done() {
                    Operation::Unchanged
                } else {
                    Operation::Created
                });
            Some(if attached.artifacts.is_empty() {
                format!("none in `{source}`")
            } else if operation == Operation::Unchanged {
                format!("{} already in `{target}`", attached.list(false))
            } else {
                format!(
                    "{} {} to `{target}`",
                    attached.list(true),
                    if plan.dry_run {
                        "would be copied"
                    } else {
                        "copied"
                    }
                )
            })
        })
        .collect();
    (!cells.is_empty()).then(|| cells.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::{Attached, AttachedFacts, AttachedKind};

    fn retag(target: &str) -> Step {
        Step::Retag {
            source: "r.io/app:v1".to_string(),
            target: target.to_string(),
            digest: "sha256:a".to_string(),
            media_type: registry::OCI_MANIFEST.to_string(),
            old_digest: None,
            transfer: Transfer::Copy,
            guard: None,
        }
    }

    fn attached(kind: AttachedKind, tag: Option<&str>, present: bool) -> Attached {
        Attached {
            kind,
            tag: tag.map(str::to_string),
            digest: format!("sha256:{}", rand::random::<u32>()),
            media_type: registry::OCI_MANIFEST.to_string(),
            size: 1,
            artifact_type: None,
            annotations: Default::default(),
            present,
        }
    }

    #[test]
    fn signatures_go_before_the_first_tag_of_their_repository() {
        let facts = AttachedFacts {
            artifacts: vec![
                attached(AttachedKind::Signature, Some("sha256-a.sig"), true),
                attached(AttachedKind::Sbom, Some("sha256-a.sbom"), false),
                attached(AttachedKind::Referrer, None, false),
                attached(AttachedKind::Referrer, None, true),
            ],
            ..AttachedFacts::default()
        };
        assert_eq!(facts.list(false), "`.sig`, `.sbom`, 2 referrers");
        assert_eq!(facts.list(true), "`.sbom`, 1 referrer");
        assert!(!facts.is_done());
        let sig = |target: &str| Step::Signatures {
            source: "r.io/app".to_string(),
            target: target.to_string(),
            digest: "sha256:a".to_string(),
            attached: facts.clone(),
        };
        let mut steps = vec![
            retag("r.io/app:v1.0"),
            retag("q.io/prod/app:v1"),
            retag("q.io/prod/app:production-latest"),
        ];
        insert_signatures(&mut steps, vec![sig("q.io/prod/app"), sig("z.io/app")]);
        let order: Vec<String> = steps
            .iter()
            .map(|s| match s {
                Step::Retag { target, .. } => target.clone(),
                Step::Signatures { target, .. } => format!("signatures of {target}"),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(
            order,
            [
                "r.io/app:v1.0",
                "signatures of q.io/prod/app",
                "q.io/prod/app:v1",
                "q.io/prod/app:production-latest",
                "signatures of z.io/app",
            ]
        );
    }
}
