//! Owns the `lint` mode: reads the Flux objects under `flux-path`, reports every finding as an annotation on its
//! file and line and in the step summary, and exits 1 when any finding is an error (after the report is written,
//! through [`Report::failure`]).

use std::collections::BTreeMap;

use crate::actions::Console;
use crate::env::GithubContext;
use crate::error::{Error, Kind, Result};
use crate::flux::discover::Model;
use crate::flux::lint::lint;
use crate::flux::{Finding, Severity};
use crate::inputs::Invocation;
use crate::modes::select::{parse_tags, read_source};
use crate::report::Report;

/// Pure: the report for a set of findings.
pub fn report(flux_path: &str, model: &Model, findings: &[Finding]) -> Report {
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
    let json = serde_json::to_string(findings).unwrap_or_default();
    outputs.insert("findings".to_string(), json.clone());
    outputs.insert(
        "json".to_string(),
        format!(
            "{{\"mode\":\"lint\",\"errors\":{errors},\"warnings\":{warnings},\"findings\":{json}}}"
        ),
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
    let findings = lint(&model, &|_image| tags.clone());
    Ok(report(&flux_path, &model, &findings))
}
