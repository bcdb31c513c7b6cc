//! Owns the `retag` mode: inputs → registry facts (the source's manifest, where each target tag points) → plan
//! (created / unchanged / moved, or a conflict; `retag_plan.rs`) → apply (exact bytes PUT, then re-read) →
//! report (`digest`, `media-type`, `result`).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::json;

use crate::actions::Console;
use crate::apply::{self, Effects};
use crate::env::GithubContext;
use crate::error::{Error, InputProblem, Kind, Result};
use crate::inputs::{Invocation, split_list};
use crate::plan::{Applied, Plan, Step, retag_operation};
use crate::registry::{self, Client, Reference};
use crate::registry_settings::{mask_login, read_registry_settings};
use crate::report::{Report, markdown_table, text_table};
use crate::retag_plan::{
    ALWAYS_MOVING, RetagFacts, Rules, drain, gather, insert_signatures, plan_steps,
    signature_steps, signatures_cell,
};

/// Typed inputs of `retag`.
#[derive(Debug, Clone)]
pub struct RetagSettings {
    pub source: Reference,
    pub targets: Vec<Reference>,
    pub force: bool,
    pub moving_tags: BTreeSet<String>,
    pub registry: registry::Settings,
    /// Copy the digest's signatures, attestations, SBOMs and referrers to targets in other repositories.
    pub copy_signatures: bool,
    pub dry_run: bool,
}

/// One entry of `tags`, before the source is known: a bare tag, or a full reference with a tag.
enum Target {
    Tag(String),
    Reference(Reference),
}

/// Reads `tags` without the source, so a bad `tags` is reported even when `source` is bad too.
fn parse_target_list(value: &str) -> std::result::Result<Vec<Target>, InputProblem> {
    let mut out = Vec::new();
    for item in split_list(value) {
        if registry::is_tag(&item) {
            out.push(Target::Tag(item));
            continue;
        }
        let r = Reference::parse(&item).map_err(|p| {
            InputProblem::new("tags", format!("`{item}` is neither a tag nor a reference with a tag: {}", p.message))
                .help("give tags like `v1.2.0` or full references like `ghcr.io/org/app:v1.2.0`, comma- or newline-separated")
        })?;
        if r.digest.is_some() || r.tag.is_none() {
            return Err(InputProblem::new(
                "tags",
                format!("`{item}` must name a tag, not a digest"),
            )
            .help("a digest can't be written to; give `REGISTRY/PATH:TAG`"));
        }
        out.push(Target::Reference(r));
    }
    if out.is_empty() {
        return Err(InputProblem::new("tags", "no tag given")
            .help("set `tags`, e.g. `v1.2.0,production-latest`"));
    }
    Ok(out)
}

/// The targets of `tags`: a bare tag lives in the source's repository, a full reference elsewhere.
///
/// ```
/// use gitops_promote::modes::retag::parse_targets;
/// use gitops_promote::registry::Reference;
/// let src = Reference::parse("ghcr.io/o/app:v1").unwrap();
/// let t = parse_targets("v1.0, production-latest\nghcr.io/o/prod:v1", &src).unwrap();
/// let t: Vec<String> = t.iter().map(|r| r.to_string()).collect();
/// assert_eq!(t, ["ghcr.io/o/app:v1.0", "ghcr.io/o/app:production-latest", "ghcr.io/o/prod:v1"]);
/// ```
pub fn parse_targets(
    value: &str,
    source: &Reference,
) -> std::result::Result<Vec<Reference>, InputProblem> {
    let mut out: Vec<Reference> = Vec::new();
    for target in parse_target_list(value)? {
        let target = match target {
            Target::Tag(tag) => source.with_tag(&tag),
            Target::Reference(r) => r,
        };
        if !out.contains(&target) {
            out.push(target);
        }
    }
    Ok(out)
}

impl RetagSettings {
    /// Phase two of input parsing: every problem at once, before any request.
    pub fn read(invocation: &Invocation, github: &GithubContext) -> Result<Self> {
        let mut r = invocation.reader();
        let source_raw = r.required(
            "source",
            "set `source` to the image to retag, e.g. `ghcr.io/org/app:v1.2.0`",
        );
        let tags_raw = r.required("tags", "set `tags`, e.g. `v1.2.0,production-latest`");
        let source = if source_raw.is_empty() {
            None
        } else {
            r.parse("source", Reference::parse)
        };
        let targets = match (&source, tags_raw.is_empty()) {
            (Some(source), false) => r.parse("tags", |v| parse_targets(v, source)),
            // Without a usable source the tags are still checked, so every bad input is reported at once.
            (None, false) => {
                r.parse("tags", parse_target_list);
                None
            }
            (_, true) => None,
        };
        let force = r.bool("force");
        let mut moving_tags: BTreeSet<String> =
            ALWAYS_MOVING.iter().map(|s| s.to_string()).collect();
        if let Some(list) = r.text("moving-tags") {
            for tag in split_list(&list) {
                if registry::is_tag(&tag) {
                    moving_tags.insert(tag);
                } else {
                    r.problem(
                        InputProblem::new("moving-tags", format!("`{tag}` is not a valid tag"))
                            .help("list tags only, e.g. `latest,production-latest`"),
                    );
                }
            }
        }
        let registry = read_registry_settings(&mut r, github);
        let copy_signatures = r.bool("copy-signatures");
        let dry_run = r.bool("dry-run");
        r.finish()?;
        let missing = |name: &str| Error::new(Kind::Input, format!("input `{name}` is missing"));
        Ok(Self {
            source: source.ok_or_else(|| missing("source"))?,
            targets: targets.ok_or_else(|| missing("tags"))?,
            force,
            moving_tags,
            registry,
            copy_signatures,
            dry_run,
        })
    }
}

/// One entry of the `result` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagResult {
    pub tag: String,
    pub reference: String,
    pub operation: String,
    pub old_digest: Option<String>,
}

/// The `result` entries: what was done, or (dry run) what would be (`would-create`, `would-move`).
pub fn results(plan: &Plan, applied: &[Applied]) -> Vec<TagResult> {
    plan.steps
        .iter()
        .filter_map(|step| {
            let Step::Retag {
                target,
                digest,
                old_digest,
                ..
            } = step
            else {
                return None;
            };
            let operation = applied
                .iter()
                .find(|a| &a.step == step)
                .map(|a| a.operation)
                .unwrap_or_else(|| retag_operation(old_digest.as_deref(), digest));
            Some(TagResult {
                tag: target
                    .rsplit_once(':')
                    .map(|(_, t)| t.to_string())
                    .unwrap_or_default(),
                reference: target.clone(),
                operation: operation.reported(plan.dry_run),
                old_digest: old_digest.clone(),
            })
        })
        .collect()
}

/// Runs `retag` end to end.
pub fn run(
    invocation: &Invocation,
    github: &GithubContext,
    console: &mut Console,
) -> Result<Report> {
    let settings = RetagSettings::read(invocation, github)?;
    mask_login(console, &settings.registry);
    if let Some(token) = invocation.reader().secret("github-token") {
        console.mask(token.expose());
    }
    let client = Client::new(settings.registry.clone())?;
    console.group(&format!("Read `{}` and the target tags", settings.source));
    let facts = gather(
        &client,
        &settings.source,
        &settings.targets,
        !settings.dry_run,
    );
    drain(&client, console);
    console.end_group();
    let facts = facts?;
    let rules = Rules {
        force: settings.force,
        moving_tags: settings.moving_tags.clone(),
    };
    let mut plan = Plan::new(invocation.mode, settings.dry_run);
    plan.steps = plan_steps(&settings.source, &facts, &settings.targets, &rules)?;
    let elsewhere = settings
        .targets
        .iter()
        .any(|t| t.image != settings.source.image);
    if settings.copy_signatures && elsewhere {
        console.group("Find the signatures, attestations, SBOMs and referrers to copy");
        let signatures = signature_steps(
            &client,
            &settings.source,
            &facts.source.digest,
            &settings.targets,
        );
        drain(&client, console);
        console.end_group();
        insert_signatures(&mut plan.steps, signatures?);
    }
    let applied = apply::apply(
        &plan,
        &mut Effects {
            git: None,
            github_token: None,
            registry: Some(&client),
            branches: None,
            github: None,
            console,
        },
    )?;
    drain(&client, console);
    Ok(report(
        &settings,
        &facts,
        &plan,
        &applied,
        client.requests(),
        &client.registries(),
    ))
}

fn report(
    settings: &RetagSettings,
    facts: &RetagFacts,
    plan: &Plan,
    applied: &[Applied],
    requests: u64,
    registries: &[(String, String)],
) -> Report {
    let results = results(plan, applied);
    let result_json = serde_json::to_string(&results).unwrap_or_default();
    let json = json!({
        "mode": plan.mode,
        "dry_run": settings.dry_run,
        "source": settings.source.to_string(),
        "digest": facts.source.digest,
        "media_type": facts.source.media_type,
        "result": results,
        "requests": requests,
        "registries": registries
            .iter()
            .map(|(host, login)| json!({"registry": host, "login": login}))
            .collect::<Vec<_>>(),
        "plan": plan,
        "applied": applied,
    });
    let mut outputs = BTreeMap::new();
    outputs.insert("digest".to_string(), facts.source.digest.clone());
    outputs.insert("media-type".to_string(), facts.source.media_type.clone());
    outputs.insert("result".to_string(), result_json);
    outputs.insert(
        "json".to_string(),
        serde_json::to_string(&json).unwrap_or_default(),
    );

    let mut rows = vec![
        ("Source", format!("`{}`", settings.source)),
        ("Digest", format!("`{}`", facts.source.digest)),
        ("Media type", format!("`{}`", facts.source.media_type)),
    ];
    let elsewhere = settings
        .targets
        .iter()
        .any(|t| t.image != settings.source.image);
    if let Some(cell) = signatures_cell(plan, applied, elsewhere && !settings.copy_signatures) {
        rows.push(("Signatures", cell));
    }
    rows.push(("Registry requests", requests.to_string()));
    rows.push(("Registries", registry::registries_line(registries)));
    let title = format!(
        "gitops-promote retag{}",
        if settings.dry_run { " (dry run)" } else { "" }
    );
    let mut summary = format!(
        "## {title}\n\n{}\n| Tag | Operation | Old digest |\n|---|---|---|\n",
        markdown_table(&rows)
    );
    let mut text = format!("{title}\n{}\n", text_table(&rows));
    for r in &results {
        let old = r.old_digest.as_deref().unwrap_or("");
        let old_cell = if old.is_empty() {
            "–".to_string()
        } else {
            format!("`{old}`")
        };
        summary.push_str(&format!(
            "| `{}` | {} | {old_cell} |\n",
            r.reference, r.operation
        ));
        text.push_str(&format!(
            "  {:<12}  {}{}\n",
            r.operation,
            r.reference,
            if old.is_empty() || r.operation == "unchanged" {
                String::new()
            } else {
                format!(" (was {old})")
            }
        ));
    }
    summary.push('\n');
    summary.push_str(&plan.to_markdown());
    if settings.dry_run {
        let plan_json = serde_json::to_string_pretty(plan).unwrap_or_default();
        text.push_str(&format!(
            "\nplan (JSON):\n{plan_json}\n\n{}",
            plan.to_markdown()
        ));
    }
    Report {
        outputs,
        summary,
        text,
        annotations: Vec::new(),
        failure: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Transfer;
    use crate::registry::Descriptor;

    fn desc(d: &str) -> Descriptor {
        Descriptor {
            digest: format!("sha256:{}", d.repeat(64)),
            media_type: registry::OCI_INDEX.to_string(),
            size: 1,
        }
    }

    fn facts(targets: &[Option<&str>]) -> RetagFacts {
        RetagFacts {
            source: desc("a"),
            targets: targets
                .iter()
                .enumerate()
                .map(|(i, d)| (format!("t{i}"), d.map(desc)))
                .collect(),
        }
    }

    #[test]
    fn plan_says_created_unchanged_moved_and_refuses_immutable_moves() {
        let src = Reference::parse("127.0.0.1:5000/app:v1").expect("ref");
        let targets = parse_targets(
            "new,same,production-latest,127.0.0.1:5000/other:x,ghcr.io/o/a:y",
            &src,
        )
        .expect("targets");
        let f = facts(&[None, Some("a"), Some("b"), None, None]);
        let steps = plan_steps(
            &src,
            &f,
            &targets,
            &Rules {
                force: false,
                moving_tags: ALWAYS_MOVING.iter().map(|s| s.to_string()).collect(),
            },
        )
        .expect("plan");
        let ops: Vec<_> = steps
            .iter()
            .map(|s| match s {
                Step::Retag {
                    digest,
                    old_digest,
                    transfer,
                    ..
                } => (
                    retag_operation(old_digest.as_deref(), digest).as_str(),
                    *transfer,
                ),
                other => panic!("unexpected {other:?}"),
            })
            .collect();
        assert_eq!(
            ops,
            [
                ("created", Transfer::SameRepository),
                ("unchanged", Transfer::SameRepository),
                ("moved", Transfer::SameRepository),
                ("created", Transfer::Mount),
                ("created", Transfer::Copy),
            ]
        );
        let f = facts(&[Some("b"), Some("c"), None, None, None]);
        let err = plan_steps(&src, &f, &targets, &Rules::default()).expect_err("conflict");
        assert_eq!(err.kind, Kind::Conflict);
        assert!(
            err.message.contains(":new` already points")
                && err.message.contains(":same` already points"),
            "{}",
            err.message
        );
        let forced = plan_steps(
            &src,
            &f,
            &targets,
            &Rules {
                force: true,
                ..Rules::default()
            },
        )
        .expect("forced");
        assert_eq!(forced.len(), 5);
    }

    #[test]
    fn targets_refuse_digests_and_garbage() {
        let src = Reference::parse("ghcr.io/o/app:v1").expect("ref");
        assert!(parse_targets(&format!("ghcr.io/o/app@sha256:{}", "a".repeat(64)), &src).is_err());
        assert!(parse_targets("bad tag!", &src).is_err());
        assert!(parse_targets(" , \n", &src).is_err());
        assert_eq!(parse_targets("a,a", &src).expect("dedupe").len(), 1);
    }

    #[test]
    fn summary_lists_every_tag_with_its_operation() {
        let src = Reference::parse("ghcr.io/org/app:v1.2.0-rc.3.gabc1234").expect("ref");
        let targets = parse_targets("v1.2.0,production-latest", &src).expect("targets");
        let f = facts(&[None, Some("b")]);
        let mut plan = Plan::new(crate::inputs::Mode::Retag, true);
        plan.steps = plan_steps(
            &src,
            &f,
            &targets,
            &Rules {
                force: false,
                moving_tags: ALWAYS_MOVING.iter().map(|s| s.to_string()).collect(),
            },
        )
        .expect("plan");
        let settings = RetagSettings {
            source: src,
            targets,
            force: false,
            moving_tags: BTreeSet::new(),
            registry: registry::Settings::default(),
            copy_signatures: true,
            dry_run: true,
        };
        let registries = [("ghcr.io".to_string(), "`github-token`".to_string())];
        let report = report(&settings, &f, &plan, &[], 4, &registries);
        insta::assert_snapshot!("retag_summary", report.summary);
        let result: serde_json::Value =
            serde_json::from_str(&report.outputs["result"]).expect("json");
        assert_eq!(result[0]["operation"], "would-create", "a dry run");
        assert_eq!(result[1]["operation"], "would-move");
        assert_eq!(
            result[1]["old_digest"],
            format!("sha256:{}", "b".repeat(64))
        );
    }
}
