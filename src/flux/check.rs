//! Owns the check before pushing: would the tag a build is about to produce be the one Flux deploys to its
//! environment, given the tags already there? Used by `develop-build` and `staging-build` (`flux-check`).

use std::path::Path;

use super::discover::Model;
use super::filter::{Dropped, ProviderFilter};
use super::{Environment, Finding, Severity, normalize_image};
use crate::actions::{Annotation, Console};
use crate::error::{Error, InputProblem, Kind, Result};
use crate::image::ImageName;
use crate::inputs::Mode;
use crate::registry;
use crate::registry_settings::mask_login;
use crate::tag_lister::{TagReader, TagSource};

/// The tags Flux would list: the existing ones plus the new one, in registry order (lexical, as
/// `distribution` lists them).
fn listing(existing: &[String], new_tag: &str) -> Vec<String> {
    let mut tags: Vec<String> = existing.to_vec();
    if !tags.iter().any(|t| t == new_tag) {
        tags.push(new_tag.to_string());
    }
    tags.sort();
    tags
}

fn why_not(
    filter: &ProviderFilter,
    spec: &super::filter::ProviderFilterSpec,
    new_tag: &str,
    winner: Option<&str>,
    reason: Option<&Dropped>,
) -> String {
    match reason {
        Some(Dropped::NotIncluded) => format!(
            "`{new_tag}` does not match `includeTag: {}`",
            spec.include_tag.as_deref().unwrap_or("")
        ),
        Some(Dropped::Excluded) => format!(
            "`{new_tag}` matches `excludeTag: {}`",
            spec.exclude_tag.as_deref().unwrap_or("")
        ),
        Some(Dropped::NotAVersion(e)) => format!(
            "`{new_tag}` is not a version Flux can parse ({e}), and the filter has `semver`"
        ),
        Some(Dropped::OutsideRange {
            prerelease_gate: true,
        }) => format!(
            "`{new_tag}` is a prerelease and `semver: {}` names no prerelease, so Flux admits none (use e.g. `>=0.0.0-0`)",
            spec.semver.as_deref().unwrap_or("")
        ),
        Some(Dropped::OutsideRange { .. }) => format!(
            "`{new_tag}` is outside `semver: {}`",
            spec.semver.as_deref().unwrap_or("")
        ),
        _ => match (winner, &filter.semver) {
            (Some(w), Some(_)) => format!("`{w}` is a higher version than `{new_tag}`"),
            (Some(w), None) => format!(
                "`{w}` sorts above `{new_tag}` because the filter has no `semver` (Flux orders tags as strings, descending)"
            ),
            (None, _) => format!("the filter selects nothing, not even `{new_tag}`"),
        },
    }
}

/// Checks that `new_tag` would be the first tag each provider or ImagePolicy for `image` in `environment` selects
/// from `existing_tags` plus `new_tag`. Objects for other images or environments are ignored; no object, no finding.
pub fn check_tag(
    repo_root: &Path,
    flux_path: &str,
    image: &str,
    environment: Environment,
    new_tag: &str,
    existing_tags: &[String],
) -> Vec<Finding> {
    let model = Model::load(repo_root, flux_path);
    check_model(&model, image, environment, new_tag, existing_tags)
}

/// [`check_tag`] on a loaded model.
pub fn check_model(
    model: &Model,
    image: &str,
    environment: Environment,
    new_tag: &str,
    existing_tags: &[String],
) -> Vec<Finding> {
    let image = normalize_image(image);
    let tags = listing(existing_tags, new_tag);
    let mut out = Vec::new();
    for p in &model.providers {
        if p.image != image || model.provider_environment(p) != Some(environment) {
            continue;
        }
        let object = format!("ResourceSetInputProvider/{}", p.name);
        let line = p.doc.line_of(&["spec", "filter"]);
        let filter = match ProviderFilter::compile(&p.filter) {
            Ok(f) => f,
            Err(e) => {
                out.push(Finding {
                    severity: Severity::Error,
                    rule: "invalid-filter",
                    file: p.doc.file.clone(),
                    line,
                    object,
                    message: format!(
                        "Flux refuses this filter, so `{new_tag}` would not deploy: {e}"
                    ),
                    help: None,
                });
                continue;
            }
        };
        let eval = filter.evaluate(&tags);
        if eval.selected.first().map(String::as_str) == Some(new_tag) {
            continue;
        }
        let why = why_not(
            &filter,
            &p.filter,
            new_tag,
            eval.selected.first().map(String::as_str),
            eval.reason(new_tag),
        );
        out.push(Finding {
            severity: Severity::Error,
            rule: "tag-not-selected",
            file: p.doc.file.clone(),
            line,
            object,
            message: format!("{environment} would not deploy `{new_tag}`: {why}"),
            help: Some(
                "fix the filter (see `gitops-promote lint`) or the tag template, then rebuild"
                    .to_string(),
            ),
        });
    }
    for policy in &model.policies {
        if model.policy_image(policy).as_deref() != Some(image.as_str())
            || model.policy_environment(policy) != Some(environment)
        {
            continue;
        }
        let Ok(spec) = &policy.spec else { continue };
        let latest = spec.latest(&tags);
        if matches!(&latest, Ok(t) if t == new_tag) {
            continue;
        }
        let why = match latest {
            Ok(w) => format!("the policy picks `{w}`"),
            Err(e) => format!("the policy fails: {e}"),
        };
        out.push(Finding {
            severity: Severity::Error,
            rule: "tag-not-selected",
            file: policy.doc.file.clone(),
            line: policy.doc.line_of(&["spec", "policy"]),
            object: format!("ImagePolicy/{}", policy.name),
            message: format!("{environment} would not deploy `{new_tag}`: {why}"),
            help: Some(
                "fix the policy (see `gitops-promote lint`) or the tag template, then rebuild"
                    .to_string(),
            ),
        });
    }
    out
}

/// How many providers and ImagePolicies watch `image` for `environment`.
pub fn matching(model: &Model, image: &str, environment: Environment) -> usize {
    let image = normalize_image(image);
    let providers = model
        .providers
        .iter()
        .filter(|p| p.image == image && model.provider_environment(p) == Some(environment))
        .count();
    let policies = model
        .policies
        .iter()
        .filter(|p| {
            model.policy_image(p).as_deref() == Some(image.as_str())
                && model.policy_environment(p) == Some(environment)
        })
        .count();
    providers + policies
}

/// `flux-check`: what to do with a finding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckLevel {
    Error,
    Warn,
    Off,
}

pub fn parse_level(value: &str) -> std::result::Result<CheckLevel, InputProblem> {
    match value {
        "error" => Ok(CheckLevel::Error),
        "warn" => Ok(CheckLevel::Warn),
        "off" => Ok(CheckLevel::Off),
        other => Err(
            InputProblem::new("flux-check", format!("`{other}` is not a check level"))
                .help("use `error`, `warn` or `off`"),
        ),
    }
}

/// The build modes' `flux-check` inputs, read with their other inputs.
#[derive(Debug, Clone)]
pub struct CheckSettings {
    pub level: CheckLevel,
    pub flux_path: String,
    pub dry_run: bool,
    /// Credentials and transport for reading the image's current tags.
    pub registry: registry::Settings,
}

/// The build modes' check, before any effect: compares the new tag with the image's tags in the registry (the
/// git tags when the registry cannot be read), and fails (`error`) or warns (`warn`). Returns the line the
/// summary shows, which names where the existing tags came from.
/// The repository a build runs in, as the check needs it.
pub struct Checkout<'a> {
    pub root: &'a Path,
    /// Every git tag name: the tags compared with when the registry can't be read.
    pub git_tags: &'a [String],
}

pub fn for_build(
    settings: &CheckSettings,
    mode: Mode,
    checkout: Checkout<'_>,
    image: &ImageName,
    new_tag: &str,
    console: &mut Console,
    annotations: &mut Vec<Annotation>,
) -> Result<String> {
    let level = settings.level;
    let flux_path = settings.flux_path.as_str();
    let dry_run = settings.dry_run;
    let environment = match mode {
        Mode::DevelopBuild => Environment::Develop,
        Mode::StagingBuild => Environment::Staging,
        _ => return Ok("not run".to_string()),
    };
    if level == CheckLevel::Off {
        return Ok("off (`flux-check: off`)".to_string());
    }
    let model = Model::load(checkout.root, flux_path);
    let image_name = image.to_string();
    if matching(&model, &image_name, environment) == 0 {
        if !(model.providers.is_empty() && model.policies.is_empty()) {
            annotations.push(Annotation::notice(
                "gitops-promote: flux check skipped",
                format!(
                    "no ResourceSetInputProvider or ImagePolicy under `{flux_path}` watches `{image}` for {environment}, so there is nothing to check"
                ),
            ));
        }
        return Ok(format!(
            "skipped (no Flux object under `{flux_path}` watches this image for {environment})"
        ));
    }
    // Reading tags is allowed in a dry run; nothing is written.
    let (existing, source) =
        current_tags(settings.registry.clone(), checkout.git_tags, image, console);
    let findings = check_model(&model, &image_name, environment, new_tag, &existing);
    let compared = format!(
        "compared with {} tag(s): {}",
        existing.len(),
        source.describe()
    );
    let compared = match &source {
        TagSource::Git(why) => format!("{compared}; {why}"),
        _ => compared,
    };
    if findings.is_empty() {
        return Ok(format!(
            "{environment} would deploy `{new_tag}` ({compared})"
        ));
    }
    let findings: Vec<Finding> = findings
        .into_iter()
        .map(|mut f| {
            f.message = format!("{} (existing tags: {})", f.message, source.describe());
            f
        })
        .collect();
    match level {
        // A dry run shows the whole plan; the verdict a real run would act on is annotated, as for the remote.
        CheckLevel::Error if !dry_run => {
            for f in &findings {
                console.annotate(&f.annotation());
            }
            Err(Error::new(
                Kind::Flux,
                format!(
                    "Flux would not deploy `{new_tag}` to {environment} ({} finding(s) above)",
                    findings.len()
                ),
            )
            .with_help(
                "fix the Flux object or the tag template; `flux-check: warn` reports without failing",
            ))
        }
        _ => {
            let n = findings.len();
            for f in findings {
                let mut f = f;
                if level == CheckLevel::Error {
                    f.message = format!("dry run (a real run fails here): {}", f.message);
                }
                f.severity = Severity::Warning;
                annotations.push(f.annotation());
            }
            Ok(format!(
                "{environment} would not deploy `{new_tag}`: {n} finding(s) annotated ({compared})"
            ))
        }
    }
}

/// The image's tags in the registry (anonymous or with the run's credentials), else the repository's git tags
/// (already read for the version, so passed in rather than read again).
fn current_tags(
    registry: registry::Settings,
    git_tags: &[String],
    image: &ImageName,
    console: &mut Console,
) -> (Vec<String>, TagSource) {
    mask_login(console, &registry);
    let listed = TagReader::new(registry, true).and_then(|reader| reader.list(image, console));
    match listed {
        Ok(tags) => (tags, TagSource::Registry(image.to_string())),
        Err(e) => (
            git_tags.to_vec(),
            TagSource::Git(format!("registry: {}", e.message)),
        ),
    }
}
