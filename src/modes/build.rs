//! Owns `develop-build` and `staging-build`: inputs → git facts → version decision and tag → plan (cut the
//! stable git tag) → apply → report.

use std::collections::BTreeMap;

use semver::Version;
use serde::Serialize;
use serde_json::json;

use crate::actions::{Annotation, Console};
use crate::apply::{self, Effects};
use crate::env::GithubContext;
use crate::error::{Error, InputProblem, Kind, Result};
use crate::flux::check::{CheckSettings, parse_level};
use crate::git::{GitRepo, Head};
use crate::image::ImageName;
use crate::inputs::{Invocation, Mode, Secret};
use crate::plan::{Applied, Operation, Plan, Step};
use crate::registry::{self, Reference};
use crate::registry_settings::read_registry_settings;
use crate::report::{Report, markdown_table, text_table};
use crate::retag_plan::SourceImage;
use crate::template::{TagTemplate, TemplateValues};
use crate::version::{self, BaseTag, CommitInfo, Decision};

/// The remote release tags are pushed to (what actions/checkout names it).
pub const REMOTE: &str = "origin";

/// Typed inputs of the build modes.
#[derive(Debug, Clone)]
pub struct BuildSettings {
    pub mode: Mode,
    pub image: ImageName,
    pub version: Option<Version>,
    pub tag_prefix: String,
    pub initial_version: Version,
    pub template: TagTemplate,
    /// The input the template came from, for errors.
    pub template_input: &'static str,
    pub git_tag: bool,
    pub dry_run: bool,
    pub github_token: Option<Secret>,
    /// `source-image`: an already pushed image to retag to the computed tag.
    pub source_image: Option<Reference>,
    /// The registry inputs (for `source-image` and the flux check's tag listing).
    pub registry: registry::Settings,
    pub flux: CheckSettings,
}

impl BuildSettings {
    /// Phase two of input parsing: every problem at once.
    pub fn read(invocation: &Invocation, github: &GithubContext) -> Result<Self> {
        let mut r = invocation.reader();
        let mode = invocation.mode;
        let image_raw = r.required(
            "image",
            "set `image` to the image repository, e.g. `ghcr.io/org/app`",
        );
        let image = if image_raw.is_empty() {
            None
        } else {
            r.parse("image", ImageName::parse)
        };
        let version = r.parse("version", version::parse_version_input);
        let tag_prefix = r.text("tag-prefix").unwrap_or_default();
        let initial_version = r.parse("initial-version", version::parse_version_input);
        let template_input = match mode {
            Mode::StagingBuild => "staging-tag-template",
            _ => "develop-tag-template",
        };
        let template = r.parse(template_input, TagTemplate::parse);
        let git_tag = mode == Mode::StagingBuild && r.bool("git-tag");
        let dry_run = r.bool("dry-run");
        let github_token = r.secret("github-token");
        let source_image = SourceImage::read_reference(&mut r);
        let registry = read_registry_settings(&mut r, github);
        let flux_level = r.parse("flux-check", parse_level);
        let flux_path = r.text("flux-path").unwrap_or_else(|| "flux".to_string());
        r.finish()?;
        // `finish` succeeded, so every parse above produced a value.
        let missing = |name: &str| Error::new(Kind::Input, format!("input `{name}` is missing"));
        Ok(Self {
            mode,
            image: image.ok_or_else(|| missing("image"))?,
            version,
            tag_prefix,
            initial_version: initial_version.ok_or_else(|| missing("initial-version"))?,
            template: template.ok_or_else(|| missing(template_input))?,
            template_input,
            git_tag,
            dry_run,
            github_token,
            source_image,
            flux: CheckSettings {
                level: flux_level.ok_or_else(|| missing("flux-check"))?,
                flux_path,
                dry_run,
                registry: registry.clone(),
            },
            registry,
        })
    }
}

/// What git says, read before deciding anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildFacts {
    pub head: Head,
    pub base: Option<BaseTag>,
    pub commits: Vec<CommitInfo>,
    /// Every tag name in the repository (the Flux check's fallback when the registry can't be read).
    pub tag_names: Vec<String>,
}

impl BuildFacts {
    /// What was read, for the log group of the read.
    pub fn describe(&self, tag_prefix: &str) -> Vec<String> {
        let short = |sha: &str| sha.get(..7).unwrap_or(sha).to_string();
        let mut lines = vec![format!(
            "HEAD is `{}`{}",
            short(&self.head.sha),
            match &self.head.branch {
                Some(b) => format!(" on `{}`", b.trim_start_matches("refs/heads/")),
                None => " (detached)".to_string(),
            }
        )];
        lines.push(format!("{} tag(s) in the repository", self.tag_names.len()));
        lines.push(match &self.base {
            Some(b) => format!(
                "base: `{}` ({}) on `{}`, {} commit(s) since",
                b.tag,
                b.version,
                short(&b.commit),
                self.commits.len()
            ),
            None => format!(
                "no stable `{tag_prefix}X.Y.Z` tag: no base, {} commit(s) in the history",
                self.commits.len()
            ),
        });
        lines
    }

    pub fn gather(git: &GitRepo, settings: &BuildSettings) -> Result<Self> {
        // A given version with a template that needs no history works on a shallow clone.
        let needs_history = settings.version.is_none() || settings.template.uses("count");
        if needs_history {
            git.ensure_full_history()?;
        }
        let head = git.head()?;
        let tags = git.tags()?;
        let base = version::highest_stable(
            tags.iter().map(|t| (t.name.as_str(), t.commit.as_str())),
            &settings.tag_prefix,
        );
        let commits = git.commits_since(base.as_ref().map(|b| b.commit.as_str()))?;
        Ok(Self {
            head,
            base,
            commits,
            tag_names: tags.into_iter().map(|t| t.name).collect(),
        })
    }
}

/// Where the release tag stands, locally and on the remote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagState {
    pub name: String,
    pub local: Option<String>,
    pub remote: Option<String>,
}

/// Everything the build modes compute, before any effect.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildOutcome {
    pub image: ImageName,
    pub decision: Decision,
    pub tag: String,
    pub references: Vec<String>,
    pub labels: BTreeMap<String, String>,
    /// The git tag name when this run should cut one, or why not.
    pub release_tag: Result<String, String>,
}

/// Pure: the version, the tag and the labels from settings and facts.
pub fn compute(
    settings: &BuildSettings,
    facts: &BuildFacts,
    github: &GithubContext,
) -> Result<BuildOutcome> {
    let decision = version::decide(
        settings.version.as_ref(),
        facts.base.as_ref(),
        &facts.commits,
        &settings.initial_version,
    );
    let ts = utc_timestamp(facts.head.time);
    let values = TemplateValues {
        version: decision.version.clone(),
        sha_long: facts.head.sha.clone(),
        count: facts.commits.len(),
        run: github.run_number.clone().filter(|r| !r.is_empty()),
        ts: ts.compact,
    };
    let tag = settings
        .template
        .render(&values)
        .map_err(|mut p: InputProblem| {
            p.input = settings.template_input.to_string();
            Error::input(p)
        })?;
    let mut labels = BTreeMap::new();
    labels.insert(
        "org.opencontainers.image.version".to_string(),
        decision.version.to_string(),
    );
    labels.insert(
        "org.opencontainers.image.revision".to_string(),
        facts.head.sha.clone(),
    );
    if let Some(url) = github.repository_url() {
        labels.insert("org.opencontainers.image.source".to_string(), url);
    }
    labels.insert("org.opencontainers.image.created".to_string(), ts.rfc3339);
    let release_tag = release_tag(settings, &decision.version, &tag);
    Ok(BuildOutcome {
        image: settings.image.clone(),
        references: vec![settings.image.with_tag(&tag)],
        decision,
        tag,
        labels,
        release_tag,
    })
}

/// The git tag staging-build cuts: `{tag-prefix}{version}`, the name the next run derives its base from. Cut
/// only for a stable version whose image tag has no prerelease part either.
fn release_tag(
    settings: &BuildSettings,
    version: &Version,
    image_tag: &str,
) -> Result<String, String> {
    if settings.mode != Mode::StagingBuild {
        return Err("develop builds do not cut release tags".to_string());
    }
    if !settings.git_tag {
        return Err("`git-tag` is false".to_string());
    }
    if !version.pre.is_empty() {
        return Err(format!("version {version} is a prerelease"));
    }
    let unprefixed = image_tag
        .strip_prefix(settings.tag_prefix.as_str())
        .or_else(|| image_tag.strip_prefix('v'))
        .unwrap_or(image_tag);
    if Version::parse(unprefixed).is_ok_and(|v| !v.pre.is_empty()) {
        return Err(format!("image tag `{image_tag}` has a prerelease part"));
    }
    Ok(format!("{}{version}", settings.tag_prefix))
}

/// Pure: the plan from the outcome and the observed tag state. A tag on another commit is a conflict.
pub fn plan(
    settings: &BuildSettings,
    outcome: &BuildOutcome,
    head: &Head,
    tag_state: Option<&TagState>,
) -> Result<Plan> {
    let mut plan = Plan::new(settings.mode, settings.dry_run);
    match (&outcome.release_tag, tag_state) {
        (Ok(name), Some(state)) => {
            for (place, commit) in [("locally", &state.local), (REMOTE, &state.remote)] {
                if let Some(commit) = commit.as_deref().filter(|c| *c != head.sha) {
                    return Err(Error::new(
                        Kind::Conflict,
                        format!(
                            "git tag `{name}` already exists {} on commit {commit}, but this build is commit {}",
                            if place == "locally" { "locally".to_string() } else { format!("on `{place}`") },
                            head.sha
                        ),
                    )
                    .with_help(
                        "a stable version is cut once: merge new commits so the next version is derived, or set `version`",
                    ));
                }
            }
            plan.steps.push(Step::GitTag {
                tag: name.clone(),
                commit: head.sha.clone(),
                remote: REMOTE.to_string(),
                exists_locally: state.local.is_some(),
                exists_on_remote: state.remote.is_some(),
            });
        }
        (Ok(name), None) => plan
            .skipped
            .push(format!("git tag `{name}`: state unknown")),
        (Err(reason), _) if settings.mode == Mode::StagingBuild => {
            plan.skipped.push(format!("git tag: {reason}"));
        }
        (Err(_), _) => {}
    }
    Ok(plan)
}

/// Runs a build mode end to end.
pub fn run(
    invocation: &Invocation,
    github: &GithubContext,
    console: &mut Console,
) -> Result<Report> {
    let settings = BuildSettings::read(invocation, github)?;
    // `source-image`: retag an already-built image to the computed tag (see modes/retag.rs).
    let source_image = match &settings.source_image {
        Some(source) => Some(SourceImage::new(
            source.clone(),
            settings.registry.clone(),
            console,
        )?),
        None => None,
    };
    if let Some(token) = &settings.github_token {
        console.mask(token.expose());
    }
    let git = GitRepo::open(&invocation.repo)?;
    console.group("Read git history");
    let facts = BuildFacts::gather(&git, &settings);
    if let Ok(facts) = &facts {
        for line in facts.describe(&settings.tag_prefix) {
            console.info(&line);
        }
    }
    console.end_group();
    let facts = facts?;
    let outcome = compute(&settings, &facts, github)?;

    let mut annotations = Vec::new();
    // Before any effect: would Flux deploy this tag? (`flux-check`)
    console.group(&format!(
        "Flux check: would `{}` be deployed?",
        settings.image.with_tag(&outcome.tag)
    ));
    let flux_check = crate::flux::check::for_build(
        &settings.flux,
        settings.mode,
        crate::flux::check::Checkout {
            root: git.path(),
            git_tags: &facts.tag_names,
        },
        &settings.image,
        &outcome.tag,
        console,
        &mut annotations,
    );
    if let Ok(verdict) = &flux_check {
        console.info(verdict);
    }
    console.end_group();
    let flux_check = flux_check?;
    let tag_state = match &outcome.release_tag {
        Ok(name) => {
            console.group(&format!("Read git tag `{name}` locally and on `{REMOTE}`"));
            let local = git.tag_commit(name);
            let remote = git.remote_tag_commit(REMOTE, name, settings.github_token.as_ref());
            let at = |commit: &Option<String>| match commit {
                Some(c) => format!("on `{}`", c.get(..7).unwrap_or(c)),
                None => "absent".to_string(),
            };
            console.info(&format!("locally: {}", at(&local)));
            match &remote {
                Ok(commit) => console.info(&format!("on `{REMOTE}`: {}", at(commit))),
                Err(e) => console.info(&format!("on `{REMOTE}`: can't read it: {}", e.message)),
            }
            console.end_group();
            match remote {
                Ok(remote) => Some(TagState {
                    name: name.clone(),
                    local,
                    remote,
                }),
                // A dry run shows what it can; a real run must know before it pushes.
                Err(e) if settings.dry_run => {
                    annotations.push(Annotation::warning(
                        "remote not readable",
                        format!("dry run: {e}"),
                    ));
                    None
                }
                Err(e) => return Err(e),
            }
        }
        Err(_) => None,
    };
    let mut plan = plan(&settings, &outcome, &facts.head, tag_state.as_ref())?;
    if let Some(source) = &source_image {
        let steps = source.steps(
            &outcome.image,
            std::slice::from_ref(&outcome.tag),
            settings.dry_run,
            console,
        )?;
        // The image first: a failed retag must not leave a release tag behind.
        plan.steps.splice(0..0, steps);
    }

    if let Some(base) = &outcome.decision.base
        && facts.commits.is_empty()
        && settings.version.is_none()
    {
        annotations.push(Annotation::notice(
            "no new commits",
            format!(
                "no commits since `{}`: the version is {} again",
                base.tag, base.version
            ),
        ));
    }

    if let Some(sha) = github.sha.as_deref().filter(|s| !s.is_empty())
        && sha != facts.head.sha
    {
        annotations.push(Annotation::warning(
            "HEAD is not GITHUB_SHA",
            format!(
                "the repository's HEAD is {} but the workflow runs for {sha}; tags and labels describe HEAD",
                facts.head.sha
            ),
        ));
    }

    let applied = apply::apply(
        &plan,
        &mut Effects {
            git: Some(&git),
            github_token: settings.github_token.as_ref(),
            registry: source_image.as_ref().map(|s| &s.client),
            branches: None,
            github: None,
            console,
        },
    )?;
    Ok(report(
        &settings,
        &facts,
        &outcome,
        &plan,
        &applied,
        &flux_check,
        annotations,
    ))
}

fn git_tag_operation(plan: &Plan, applied: &[Applied]) -> Operation {
    let step = applied
        .iter()
        .find(|a| matches!(a.step, Step::GitTag { .. }));
    match step {
        Some(a) => a.operation,
        None => {
            // Dry run: say what would happen.
            match plan.steps.iter().find(|s| matches!(s, Step::GitTag { .. })) {
                Some(Step::GitTag {
                    exists_locally: true,
                    exists_on_remote: true,
                    ..
                }) => Operation::Unchanged,
                Some(_) => Operation::Created,
                None => Operation::Skipped,
            }
        }
    }
}

fn report(
    settings: &BuildSettings,
    facts: &BuildFacts,
    outcome: &BuildOutcome,
    plan: &Plan,
    applied: &[Applied],
    flux_check: &str,
    annotations: Vec<Annotation>,
) -> Report {
    let d = &outcome.decision;
    let operation = git_tag_operation(plan, applied);
    let why = d.explain(&settings.initial_version);
    let by_type = d
        .commits_by_type
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    let base = match &d.base {
        Some(b) => format!(
            "`{}` at `{}`",
            b.tag,
            b.commit.get(..7).unwrap_or(&b.commit)
        ),
        None => "none".to_string(),
    };
    let git_tag = match (&outcome.release_tag, operation) {
        (Ok(name), op) => format!("`{name}` {}", op.phrase(settings.dry_run)),
        (Err(reason), _) => format!("skipped ({reason})"),
    };
    let head = facts.head.sha.get(..7).unwrap_or(&facts.head.sha);
    // With `source-image`, every retag step carries the source's digest.
    let digest = plan.steps.iter().find_map(|step| match step {
        Step::Retag { digest, .. } => Some(digest.clone()),
        _ => None,
    });
    let mut rows = vec![
        ("Image", format!("`{}`", outcome.image)),
        ("Version", format!("`{}`", d.version)),
        ("Tag", format!("`{}`", outcome.tag)),
        ("Commit", format!("`{head}`")),
        ("Base tag", base),
        (
            "Commits since base",
            if by_type.is_empty() {
                "0".to_string()
            } else {
                format!("{} ({by_type})", d.commit_count)
            },
        ),
        ("Why", why),
        ("Git tag", git_tag),
        ("Flux check", flux_check.to_string()),
    ];
    if let Some(digest) = &digest {
        rows.insert(3, ("Digest", format!("`{digest}`")));
    }

    let labels = outcome
        .labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("\n");
    let json = json!({
        "mode": settings.mode,
        "dry_run": settings.dry_run,
        "image": outcome.image,
        "version": d.version.to_string(),
        "tag": outcome.tag,
        "tags": outcome.references,
        "labels": outcome.labels,
        "decision": d,
        "git_tag": outcome.release_tag.as_ref().ok(),
        "git_tag_operation": operation.reported(settings.dry_run),
        "flux_check": flux_check,
        "digest": digest,
        "plan": plan,
        "applied": applied,
    });
    let json_text = serde_json::to_string_pretty(&json).unwrap_or_default();

    let mut outputs = BTreeMap::new();
    outputs.insert("version".to_string(), d.version.to_string());
    outputs.insert("tag".to_string(), outcome.tag.clone());
    outputs.insert("tags".to_string(), outcome.references.join("\n"));
    outputs.insert("labels".to_string(), labels.clone());
    outputs.insert(
        "git-tag-operation".to_string(),
        operation.reported(settings.dry_run),
    );
    if let Some(digest) = &digest {
        outputs.insert("digest".to_string(), digest.clone());
    }
    outputs.insert(
        "json".to_string(),
        serde_json::to_string(&json).unwrap_or_default(),
    );

    let title = format!(
        "gitops-promote {}{}",
        settings.mode,
        if settings.dry_run { " (dry run)" } else { "" }
    );
    let mut summary = format!("## {title}\n\n{}\n", markdown_table(&rows));
    summary.push_str(&flow_diagram(
        settings.mode,
        head,
        outcome,
        digest.as_deref(),
        flux_check,
    ));
    summary.push_str(&plan.to_markdown());

    let mut text = format!("{title}\n{}", text_table(&rows));
    text.push_str(&format!("\nlabels:\n{}\n", indent(&labels)));
    if settings.dry_run {
        text.push_str(&format!(
            "\nplan (JSON):\n{json_text}\n\n{}",
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

/// What runs where, at a glance: the commit, the image it became, and the environment that will run it.
fn flow_diagram(
    mode: Mode,
    head: &str,
    outcome: &BuildOutcome,
    digest: Option<&str>,
    flux_check: &str,
) -> String {
    let environment = if mode == Mode::StagingBuild {
        "staging"
    } else {
        "develop"
    };
    // Mermaid labels are quoted strings: keep them free of quotes and backticks.
    let clean = |s: &str| s.replace(['"', '`'], "");
    let image = match digest {
        Some(d) => format!(
            "{}<br/>{}",
            outcome.references.join("<br/>"),
            d.get(..19).unwrap_or(d)
        ),
        None => outcome.references.join("<br/>"),
    };
    format!(
        "```mermaid\nflowchart LR\n  commit[\"commit {head}\"] --> image[\"{}\"] --> env[\"{environment}<br/>{}\"]\n```\n\n",
        clean(&image),
        clean(flux_check)
    )
}

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("  {l}\n"))
        .collect::<String>()
        .trim_end()
        .to_string()
}

struct Timestamp {
    compact: String,
    rfc3339: String,
}

fn utc_timestamp(seconds: i64) -> Timestamp {
    let t = time::OffsetDateTime::from_unix_timestamp(seconds)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let compact = format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    let rfc3339 = format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    );
    Timestamp { compact, rfc3339 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flux::check::CheckLevel;

    fn settings(mode: Mode) -> BuildSettings {
        BuildSettings {
            mode,
            image: ImageName::parse("ghcr.io/org/app").expect("image"),
            version: None,
            tag_prefix: "v".into(),
            initial_version: Version::new(0, 1, 0),
            template: TagTemplate::parse(if mode == Mode::StagingBuild {
                "v{version}"
            } else {
                "v{version}-rc.{count}.g{sha}"
            })
            .expect("template"),
            template_input: "develop-tag-template",
            git_tag: true,
            dry_run: false,
            github_token: None,
            source_image: None,
            registry: registry::Settings::default(),
            flux: CheckSettings {
                level: CheckLevel::Off,
                flux_path: "flux".into(),
                dry_run: false,
                registry: registry::Settings::default(),
            },
        }
    }

    fn facts(base: Option<&str>, msgs: &[&str]) -> BuildFacts {
        BuildFacts {
            head: Head {
                sha: "abcdef0123456789abcdef0123456789abcdef01".into(),
                time: 1_790_000_000,
                branch: Some("refs/heads/main".into()),
            },
            base: base.map(|b| {
                BaseTag::new(format!("v{b}"), Version::parse(b).expect("v"), "1111111111")
            }),
            commits: msgs.iter().map(|m| CommitInfo::new(*m)).collect(),
            tag_names: Vec::new(),
        }
    }

    #[test]
    fn develop_tag_sorts_by_count_then_sha() {
        let o = compute(
            &settings(Mode::DevelopBuild),
            &facts(Some("1.2.0"), &["feat: a", "fix: b", "chore: c"]),
            &GithubContext::default(),
        )
        .expect("compute");
        assert_eq!(o.tag, "v1.3.0-rc.3.gabcdef0");
        assert_eq!(o.references, vec!["ghcr.io/org/app:v1.3.0-rc.3.gabcdef0"]);
        assert_eq!(
            o.labels["org.opencontainers.image.created"],
            "2026-09-21T14:13:20Z"
        );
        assert!(o.release_tag.is_err());
    }

    #[test]
    fn staging_plans_a_git_tag_and_refuses_one_on_another_commit() {
        let s = settings(Mode::StagingBuild);
        let f = facts(Some("1.2.0"), &["fix: a"]);
        let o = compute(&s, &f, &GithubContext::default()).expect("compute");
        assert_eq!(o.release_tag.as_deref(), Ok("v1.2.1"));
        let fresh = TagState {
            name: "v1.2.1".into(),
            local: None,
            remote: None,
        };
        let p = plan(&s, &o, &f.head, Some(&fresh)).expect("plan");
        assert!(matches!(
            &p.steps[..],
            [Step::GitTag {
                exists_locally: false,
                ..
            }]
        ));
        let elsewhere = TagState {
            remote: Some("2222222".into()),
            ..fresh
        };
        let err = plan(&s, &o, &f.head, Some(&elsewhere)).expect_err("conflict");
        assert_eq!(err.kind, Kind::Conflict);
        assert!(err.message.contains("2222222") && err.message.contains(&f.head.sha));
    }

    #[test]
    fn prerelease_staging_tags_cut_no_git_tag() {
        let mut s = settings(Mode::StagingBuild);
        s.template = TagTemplate::parse("v{version}-rc.{run}").expect("t");
        let gh = GithubContext {
            run_number: Some("4".into()),
            ..Default::default()
        };
        let o = compute(&s, &facts(Some("1.2.0"), &["fix: a"]), &gh).expect("compute");
        assert_eq!(o.tag, "v1.2.1-rc.4");
        assert!(o.release_tag.expect_err("skipped").contains("prerelease"));
    }
}
