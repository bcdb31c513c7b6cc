//! Owns the `lint` mode: reads the Flux objects under `flux-path`, reports every finding as an annotation on its
//! file and line and in the step summary, and exits 1 when any finding is an error (after the report is written,
//! through [`Report::failure`]).

use std::collections::BTreeMap;

use crate::actions::Console;
use crate::env::GithubContext;
use crate::error::{Error, Kind, Result};
use crate::flux::discover::Model;
use crate::flux::lint::lint;
use crate::flux::{Finding, Prediction, Severity, predict};
use crate::inputs::Invocation;
use crate::modes::select::{parse_tags, read_source};
use crate::report::Report;

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
    if !findings.is_empty() {
        summary.push_str("| | Where | Object | Finding |\n|---|---|---|---|\n");
    }
    for f in findings {
        let icon = match f.severity {
            Severity::Error => "❌",
            Severity::Warning => "⚠️",
        };
        let mut message = f.message.clone();
        if let Some(h) = &f.help {
            message.push_str(&format!("<br>**help:** {h}"));
        }
        summary.push_str(&format!(
            "| {icon} | `{}:{}` | `{}` | **{}**: {} |\n",
            f.file,
            f.line,
            f.object,
            f.rule,
            message.replace('|', "\\|").replace('\n', "<br>")
        ));
        text.push_str(&format!(
            "{}:{}: {} [{}] {}: {}\n",
            f.file,
            f.line,
            match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
            f.rule,
            f.object,
            f.message
        ));
        if let Some(h) = &f.help {
            text.push_str(&format!("  help: {h}\n"));
        }
    }
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
        annotations: findings.iter().map(Finding::annotation).collect(),
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
    _github: &GithubContext,
    _console: &mut Console,
) -> Result<Report> {
    let r = invocation.reader();
    let flux_path = r.text("flux-path").unwrap_or_else(|| "flux".to_string());
    let tags_file = r.text("tags-file");
    r.finish()?;
    let root = invocation.repo.join(&flux_path);
    if !root.is_dir() {
        return Err(Error::new(
            Kind::NotFound,
            format!("no Flux directory `{}`", root.display()),
        )
        .with_help("set `flux-path` to the directory holding the Flux objects"));
    }
    let tags = match tags_file {
        Some(f) => Some(parse_tags(&read_source(&f, std::path::Path::new("."))?)),
        None => None,
    };
    let model = Model::load(&invocation.repo, &flux_path);
    let tags_for = |_image: &str| tags.clone();
    let findings = lint(&model, &tags_for);
    let predictions = predict(&model, &tags_for);
    Ok(report(&flux_path, &model, &findings, &predictions))
}
