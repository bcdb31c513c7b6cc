//! Owns the `retag` mode (and the `source-image` retag of the build modes): inputs → registry facts (the
//! source's manifest, where each target tag points) → plan (created / unchanged / moved, or a conflict) →
//! apply (exact bytes PUT, then re-read) → report (`digest`, `media-type`, `result`).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use crate::actions::Console;
use crate::apply::{self, Effects};
use crate::env::GithubContext;
use crate::error::{Error, InputProblem, Kind, Result};
use crate::image::ImageName;
use crate::inputs::{Invocation, Reader};
use crate::plan::{Applied, Plan, Step, Transfer, retag_operation};
use crate::registry::auth::{Credentials, Login};
use crate::registry::{self, Client, Descriptor, Reference};
use crate::report::{Report, markdown_table, text_table};

/// Tags that always may move (the pipeline's production pointer).
pub const ALWAYS_MOVING: &[&str] = &["production-latest"];

/// Typed inputs of `retag`.
#[derive(Debug, Clone)]
pub struct RetagSettings {
    pub source: Reference,
    pub targets: Vec<Reference>,
    pub force: bool,
    pub moving_tags: BTreeSet<String>,
    pub registry: registry::Settings,
    pub dry_run: bool,
}

/// Splits a comma- or newline-separated list, dropping blanks.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
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
    for item in split_list(value) {
        let target = if registry::is_tag(&item) {
            source.with_tag(&item)
        } else {
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
            r
        };
        if !out.contains(&target) {
            out.push(target);
        }
    }
    if out.is_empty() {
        return Err(InputProblem::new("tags", "no tag given")
            .help("set `tags`, e.g. `v1.2.0,production-latest`"));
    }
    Ok(out)
}

/// Reads the registry inputs (shared by `retag` and the build modes' `source-image`). Without any, the
/// workflow's `github-token` and `GITHUB_ACTOR` are the credentials for ghcr.io only.
pub fn read_registry_settings(r: &mut Reader<'_>, github: &GithubContext) -> registry::Settings {
    let username = r.text("registry-username");
    let password = r.secret("registry-password");
    let token = r.secret("registry-token");
    let insecure = r.bool("insecure-registry");
    let timeout = r
        .parse("registry-timeout", |v| {
            v.parse::<u64>()
                .ok()
                .filter(|s| (1..=86_400).contains(s))
                .ok_or_else(|| {
                    InputProblem::new(
                        "registry-timeout",
                        format!("`{v}` is not a number of seconds"),
                    )
                    .help("give whole seconds between 1 and 86400, e.g. `600`")
                })
        })
        .unwrap_or(600);
    let login = match (username, password, token) {
        (_, Some(_), Some(_)) => {
            r.problem(
                InputProblem::new(
                    "registry-token",
                    "is given together with `registry-password`",
                )
                .help("give either a bearer token or a user and password"),
            );
            Login::default()
        }
        (_, None, Some(token)) => Login {
            credentials: Credentials::Bearer(token),
            only_host: None,
        },
        (Some(username), Some(password), None) => Login {
            credentials: Credentials::Basic { username, password },
            only_host: None,
        },
        (Some(_), None, None) => {
            r.problem(
                InputProblem::new("registry-username", "is given without `registry-password`")
                    .help("set `registry-password` too (a password or access token)"),
            );
            Login::default()
        }
        (None, Some(password), None) => match github.actor.clone().filter(|a| !a.is_empty()) {
            Some(actor) => Login {
                credentials: Credentials::Basic {
                    username: actor,
                    password,
                },
                only_host: None,
            },
            None => {
                r.problem(
                    InputProblem::new("registry-password", "is given without `registry-username`")
                        .help("set `registry-username` too"),
                );
                Login::default()
            }
        },
        // ghcr.io accepts the workflow's token with the actor's name; nothing is sent to other registries.
        (None, None, None) => match (
            r.secret("github-token"),
            github.actor.clone().filter(|a| !a.is_empty()),
        ) {
            (Some(password), Some(actor)) => Login {
                credentials: Credentials::Basic {
                    username: actor,
                    password,
                },
                only_host: Some("ghcr.io".to_string()),
            },
            _ => Login::default(),
        },
    };
    registry::Settings {
        login,
        insecure,
        timeout: Duration::from_secs(timeout),
        ..registry::Settings::default()
    }
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
            _ => None,
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
        let dry_run = r.bool("dry-run");
        r.finish()?;
        let missing = |name: &str| Error::new(Kind::Input, format!("input `{name}` is missing"));
        Ok(Self {
            source: source.ok_or_else(|| missing("source"))?,
            targets: targets.ok_or_else(|| missing("tags"))?,
            force,
            moving_tags,
            registry,
            dry_run,
        })
    }
}

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

/// Reads the source manifest (raw bytes, kept for the PUT) and HEADs every target.
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
    let mut facts = RetagFacts {
        source: manifest.descriptor,
        targets: Vec::new(),
    };
    for t in targets {
        facts.targets.push((t.to_string(), client.resolve(t)?));
    }
    Ok(facts)
}

/// One entry of the `result` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagResult {
    pub tag: String,
    pub reference: String,
    pub operation: String,
    pub old_digest: Option<String>,
}

/// The `result` entries: what was done, or (dry run) what would be.
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
                operation: operation.as_str().to_string(),
                old_digest: old_digest.clone(),
            })
        })
        .collect()
}

pub(crate) fn mask_login(console: &mut Console, settings: &registry::Settings) {
    match &settings.login.credentials {
        Credentials::Basic { password, .. } => console.mask(password.expose()),
        Credentials::Bearer(token) => console.mask(token.expose()),
        Credentials::Anonymous => {}
    }
}

fn drain(client: &Client, console: &mut Console) {
    for secret in client.take_secrets() {
        console.mask(&secret);
    }
    for line in client.take_progress() {
        console.info(&line);
    }
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
    let applied = apply::apply(
        &plan,
        &mut Effects {
            git: None,
            github_token: None,
            registry: Some(&client),
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
    ))
}

fn report(
    settings: &RetagSettings,
    facts: &RetagFacts,
    plan: &Plan,
    applied: &[Applied],
    requests: u64,
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

    let rows = vec![
        ("Source", format!("`{}`", settings.source)),
        ("Digest", format!("`{}`", facts.source.digest)),
        ("Media type", format!("`{}`", facts.source.media_type)),
        ("Registry requests", requests.to_string()),
    ];
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
            "  {:<9}  {}{}\n",
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

#[cfg(test)]
mod tests {
    use super::*;

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

    fn invocation(pairs: &[(&str, &str)]) -> Invocation {
        Invocation {
            mode: crate::inputs::Mode::Retag,
            raw: pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            repo: ".".into(),
            in_actions: true,
        }
    }

    #[test]
    fn ghcr_defaults_to_the_actor_and_the_workflow_token_and_nothing_else_gets_them() {
        let github = GithubContext {
            actor: Some("octocat".into()),
            ..Default::default()
        };
        let inv = invocation(&[("github-token", "ghs_x")]);
        let mut r = inv.reader();
        let settings = read_registry_settings(&mut r, &github);
        r.finish().expect("valid");
        assert_eq!(settings.login.only_host.as_deref(), Some("ghcr.io"));
        assert!(matches!(
            settings.login.for_host("ghcr.io"),
            Credentials::Basic { username, .. } if username == "octocat"
        ));
        assert_eq!(
            settings.login.for_host("docker.io"),
            &Credentials::Anonymous
        );
        assert!(!settings.insecure);
        assert_eq!(settings.timeout, Duration::from_secs(600));

        let inv = invocation(&[
            ("registry-username", "u"),
            ("registry-password", "p"),
            ("registry-token", "t"),
            ("registry-timeout", "0"),
        ]);
        let mut r = inv.reader();
        read_registry_settings(&mut r, &github);
        let err = r.finish().expect_err("conflicting credentials");
        let inputs: Vec<_> = err.problems.iter().map(|p| p.input.as_str()).collect();
        assert_eq!(inputs, ["registry-timeout", "registry-token"]);
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
            dry_run: true,
        };
        let report = report(&settings, &f, &plan, &[], 4);
        insta::assert_snapshot!("retag_summary", report.summary);
        let result: serde_json::Value =
            serde_json::from_str(&report.outputs["result"]).expect("json");
        assert_eq!(result[1]["operation"], "moved");
        assert_eq!(
            result[1]["old_digest"],
            format!("sha256:{}", "b".repeat(64))
        );
    }
}
