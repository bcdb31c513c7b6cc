//! Owns the `lint` mode: reads the Flux objects under `flux-path`, reports every finding as an annotation on its
//! file and line and in the step summary, and exits 1 when any finding is an error (after the report is written,
//! through [`Report::failure`]).

use std::collections::BTreeMap;

use crate::actions::{Annotation, Console};
use crate::env::GithubContext;
use crate::error::{Error, Kind, Result};
use crate::flux::discover::Model;
use crate::flux::lint::findings_table;
use crate::flux::lint::lint_with;
use crate::flux::{Finding, Prediction, Severity, predict};
use crate::inputs::Invocation;
use crate::registry_settings::{mask_login, read_registry_settings};
use crate::report::Report;
use crate::tag_lister::TagReader;
use crate::tag_lister::{parse_tags, read_source};

/// Pure: the report for a set of findings.
pub fn report(
    flux_path: &str,
    model: &Model,
    findings: &[Finding],
    predictions: &[Prediction],
) -> Report {
    let errors = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .count();
    let warnings = findings.len() - errors;
    let objects = model.providers.len()
        + model.resource_sets.len()
        + model.policies.len()
        + model.repositories.len();
    let headline = format!(
        "{} error(s), {} warning(s) in {} Flux object(s) under `{flux_path}` ({} providers, {} ResourceSets, {} ImagePolicies)",
        errors,
        warnings,
        objects,
        model.providers.len(),
        model.resource_sets.len(),
        model.policies.len()
    );
    let mut summary = format!("## gitops-promote lint\n\n{headline}\n\n");
    let mut text = String::new();
    if !predictions.is_empty() {
        summary.push_str("| Environment | Object | Image | Deploys now |\n|---|---|---|---|\n");
        text.push_str("what each environment deploys:\n");
    }
    for p in predictions {
        let env = p.environment.map(|e| e.name()).unwrap_or("unknown");
        let deploys = match &p.selected {
            None => "(tags unknown: pass `tags-file`)".to_string(),
            Some(Ok(tags)) if tags.is_empty() => {
                "nothing (the ResourceSet's objects are garbage-collected)".to_string()
            }
            Some(Ok(tags)) => {
                let more = if tags.len() > 1 {
                    format!(" (+{} more)", tags.len() - 1)
                } else {
                    String::new()
                };
                format!("`{}`{more}", tags[0])
            }
            Some(Err(e)) => format!("nothing, Flux fails ({e})"),
        };
        summary.push_str(&format!(
            "| {env} | `{}` | `{}` | {} |\n",
            p.object,
            p.image,
            deploys.replace('|', "\\|")
        ));
        text.push_str(&format!(
            "  {env:<11} {:<45} {}\n",
            p.object,
            deploys.replace('`', "")
        ));
    }
    if !predictions.is_empty() {
        summary.push('\n');
        text.push('\n');
    }
    let (markdown, lines) = findings_table(findings);
    summary.push_str(&markdown);
    text.push_str(&lines);
    text.push_str(&format!("{headline}\n"));
    let mut outputs = BTreeMap::new();
    outputs.insert(
        "findings".to_string(),
        serde_json::to_string(findings).unwrap_or_default(),
    );
    outputs.insert(
        "json".to_string(),
        serde_json::json!({
            "mode": "lint",
            "errors": errors,
            "warnings": warnings,
            "findings": findings,
            "predictions": predictions,
        })
        .to_string(),
    );
    Report {
        outputs,
        summary,
        text,
        // Each finding is in `text` already: on a terminal it is printed once, on stdout.
        annotations: findings
            .iter()
            .map(|f| f.annotation().shown_in_text())
            .collect(),
        failure: (errors > 0).then(|| {
            Error::new(
                Kind::Flux,
                format!("lint found {errors} error(s) in the Flux objects"),
            )
            .with_help("each error is annotated on its file and line above")
        }),
    }
}

pub fn run(
    invocation: &Invocation,
    github: &GithubContext,
    console: &mut Console,
) -> Result<Report> {
    let mut r = invocation.reader();
    let flux_path = r.text("flux-path").unwrap_or_else(|| "flux".to_string());
    let tags_file = r.text("tags-file");
    let registry = read_registry_settings(&mut r, github);
    r.finish()?;
    let root = invocation.repo.join(&flux_path);
    if !root.is_dir() {
        return Err(Error::new(
            Kind::NotFound,
            format!("no Flux directory `{}`", root.display()),
        )
        .with_help("set `flux-path` to the directory holding the Flux objects"));
    }
    let model = Model::load(&invocation.repo, &flux_path);
    let current = match tags_file {
        Some(f) => CurrentTags::File(parse_tags(&read_source(&f, std::path::Path::new("."))?)),
        None => registry_tags(&model, registry, console)?,
    };
    let tags_for = |image: &str| current.of(image);
    // Each filter runs once over its image's tags; the findings read the same selections.
    let predictions = predict(&model, &tags_for);
    let findings = lint_with(&model, &tags_for, &predictions);
    let mut report = report(&flux_path, &model, &findings, &predictions);
    if let CurrentTags::Registry { unread, .. } = &current
        && !unread.is_empty()
    {
        let images = unread
            .iter()
            .map(|(image, _)| format!("`{image}`"))
            .collect::<Vec<_>>()
            .join(", ");
        let line = format!(
            "Current tags unknown for {images}: the registry could not be read, so only the checks that need no tags ran (pass `tags-file`, or the registry inputs)."
        );
        report.summary.push_str(&format!("\n{line}\n"));
        report
            .text
            .push_str(&format!("{}\n", line.replace('`', "")));
        report.annotations.push(Annotation::notice(
            "gitops-promote lint: registry not read",
            unread
                .iter()
                .map(|(image, why)| format!("can't read the tags of `{image}`: {why}"))
                .collect::<Vec<_>>()
                .join("\n"),
        ));
    }
    Ok(report)
}

/// The tags each image has now, for the checks that need them.
enum CurrentTags {
    /// `tags-file`: the same list for every image.
    File(Vec<String>),
    /// Listed from the registry per image; `unread` holds the images that could not be read, and why.
    Registry {
        tags: BTreeMap<String, Vec<String>>,
        unread: Vec<(String, String)>,
    },
}

impl CurrentTags {
    fn of(&self, image: &str) -> Option<&[String]> {
        match self {
            CurrentTags::File(tags) => Some(tags),
            CurrentTags::Registry { tags, .. } => tags.get(image).map(Vec::as_slice),
        }
    }
}

/// Lists the tags of every image the Flux objects watch, once per image; best effort.
fn registry_tags(
    model: &Model,
    registry: crate::registry::Settings,
    console: &mut Console,
) -> Result<CurrentTags> {
    let images = model.images();
    let mut tags = BTreeMap::new();
    let mut unread = Vec::new();
    if images.is_empty() {
        return Ok(CurrentTags::Registry { tags, unread });
    }
    mask_login(console, &registry);
    let reader = TagReader::new(registry, true)?;
    for (image, listed) in reader.list_each(&images, console) {
        match listed {
            Ok(list) => {
                tags.insert(image, list);
            }
            Err(e) => unread.push((image, e.message)),
        }
    }
    Ok(CurrentTags::Registry { tags, unread })
}
