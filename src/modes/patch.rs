//! Owns the `patch` mode: inputs → the manifest inside the workspace → the edit (pure, with its diff) → plan
//! (`Step::Patch`) → apply (atomic write) → report (`changed`, `diff`).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::json;

use crate::actions::{Annotation, Console};
use crate::apply::{self, Effects};
use crate::env::GithubContext;
use crate::error::{Error, InputProblem, Kind, Result};
use crate::image::ImageName;
use crate::inputs::{Invocation, Mode};
use crate::manifests::{self, FieldPath, Request, files};
use crate::plan::{Applied, Operation, Plan, Step};
use crate::report::{Report, markdown_table, text_table};
use crate::template::is_valid_oci_tag;

static DIGEST: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern
    Regex::new(r"^sha256:[0-9a-f]{64}$").unwrap()
});

/// Typed inputs of `patch`.
#[derive(Debug, Clone)]
pub struct PatchSettings {
    /// Relative to the repository root.
    pub manifest: String,
    /// The input the path came from (`manifest`, or `app`/`environment` for the default).
    pub manifest_input: &'static str,
    pub request: Request,
    pub dry_run: bool,
}

/// Checks a digest input: `sha256:` and 64 lower-case hex digits.
///
/// ```
/// use gitops_promote::modes::patch::parse_digest;
/// assert!(parse_digest(&format!("sha256:{}", "a".repeat(64))).is_ok());
/// assert!(parse_digest("sha256:abc").is_err());
/// ```
pub fn parse_digest(value: &str) -> std::result::Result<String, InputProblem> {
    if DIGEST.is_match(value) {
        Ok(value.to_string())
    } else {
        Err(InputProblem::new("digest", format!("`{value}` is not a sha256 digest"))
            .help("give `sha256:` followed by 64 lower-case hex digits, as `skopeo inspect` prints it"))
    }
}

fn parse_tag(value: &str) -> std::result::Result<String, InputProblem> {
    if is_valid_oci_tag(value) {
        Ok(value.to_string())
    } else {
        Err(
            InputProblem::new("tag", format!("`{value}` is not a valid OCI tag"))
                .help("a tag is `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`"),
        )
    }
}

impl PatchSettings {
    /// Phase two of input parsing: every problem at once.
    pub fn read(invocation: &Invocation) -> Result<Self> {
        let mut r = invocation.reader();
        let image_raw = r.required(
            "image",
            "set `image` to the image as the manifest names it, e.g. `ghcr.io/org/app`",
        );
        if !image_raw.is_empty() {
            r.parse("image", ImageName::parse);
        }
        let tag = r.parse("tag", parse_tag);
        let digest = r.parse("digest", parse_digest);
        let new_name = r.parse("new-name", |v| {
            ImageName::parse(v).map(|_| v.to_string()).map_err(|mut p| {
                p.input = "new-name".into();
                p
            })
        });
        let field_path = r.parse("field-path", FieldPath::parse);
        if r.text("tag").is_none() && r.text("digest").is_none() && r.text("new-name").is_none() {
            r.problem(
                InputProblem::new("tag", "nothing to set")
                    .help("give at least one of `tag`, `digest` or `new-name`"),
            );
        }
        let (manifest, manifest_input) = match r.text("manifest") {
            Some(m) => {
                if let Err(p) = files::check_relative("manifest", &m) {
                    r.problem(p);
                }
                (m, "manifest")
            }
            None => match (r.text("app"), r.text("environment")) {
                (Some(app), Some(env)) => {
                    for (input, value) in [("app", &app), ("environment", &env)] {
                        if value.contains('/') || value.contains('\\') || value == ".." {
                            r.problem(InputProblem::new(
                                input,
                                format!("`{value}` must be one directory name"),
                            ));
                        }
                    }
                    (files::default_manifest(&app, &env), "manifest")
                }
                _ => {
                    r.problem(
                        InputProblem::new("manifest", "no manifest given").help(format!(
                            "set `manifest`, or `app` and `environment` for `{}`",
                            files::DEFAULT_MANIFEST
                        )),
                    );
                    (String::new(), "manifest")
                }
            },
        };
        let dry_run = r.bool("dry-run");
        r.finish()?;
        Ok(Self {
            manifest,
            manifest_input,
            request: Request {
                image: image_raw,
                tag,
                digest,
                new_name,
                field_path,
            },
            dry_run,
        })
    }
}

/// Pure: the plan for patching `before` (the text of `settings.manifest`, found at `path`).
pub fn plan(settings: &PatchSettings, path: std::path::PathBuf, before: String) -> Result<Plan> {
    let patched = manifests::patch(&before, &settings.manifest, &settings.request)?;
    let diff = manifests::unified_diff(&settings.manifest, &before, &patched.text);
    let mut plan = Plan::new(Mode::Patch, settings.dry_run);
    plan.skipped.extend(patched.warnings.iter().cloned());
    plan.steps.push(Step::Patch {
        file: settings.manifest.clone(),
        image: settings.request.image.clone(),
        changes: patched.changes,
        unchanged: patched.unchanged,
        diff,
        path,
        before,
        after: patched.text,
    });
    Ok(plan)
}

pub fn run(
    invocation: &Invocation,
    _github: &GithubContext,
    console: &mut Console,
) -> Result<Report> {
    let mut settings = PatchSettings::read(invocation)?;
    let path = files::resolve(
        &invocation.repo,
        settings.manifest_input,
        &settings.manifest,
    )?;
    // A directory resolves to its Kustomization: name the file itself from here on.
    if let Some(name) = path.file_name().and_then(|n| n.to_str())
        && std::path::Path::new(&settings.manifest)
            .file_name()
            .and_then(|n| n.to_str())
            != Some(name)
    {
        settings.manifest = format!("{}/{name}", settings.manifest.trim_end_matches('/'));
    }
    let bytes = std::fs::read(&path)
        .map_err(|e| Error::new(Kind::Io, format!("can't read `{}`: {e}", settings.manifest)))?;
    let before = String::from_utf8(bytes).map_err(|e| {
        Error::new(
            Kind::Input,
            format!(
                "`{}` is not UTF-8 text (byte {}); the file was left untouched",
                settings.manifest,
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    let plan = plan(&settings, path, before)?;
    let applied = apply::apply(
        &plan,
        &mut Effects {
            git: None,
            github_token: None,
            registry: None,
            branches: None,
            github: None,
            console,
        },
    )?;
    Ok(report(&settings, &plan, &applied))
}

fn report(settings: &PatchSettings, plan: &Plan, applied: &[Applied]) -> Report {
    let Some(Step::Patch {
        file,
        changes,
        unchanged,
        diff,
        ..
    }) = plan.steps.first()
    else {
        return Report::default();
    };
    let changes_file = !changes.is_empty();
    let operation = applied
        .first()
        .map(|a| a.operation)
        .unwrap_or(if changes_file {
            Operation::Changed
        } else {
            Operation::Unchanged
        });
    // What this run did to the file: a dry run changed nothing, whatever it would do.
    let changed = operation == Operation::Changed && !settings.dry_run;
    let r = &settings.request;
    let mut rows = vec![
        ("Manifest", format!("`{file}`")),
        ("Image", format!("`{}`", r.image)),
    ];
    for (name, value) in [
        ("Tag", &r.tag),
        ("Digest", &r.digest),
        ("New name", &r.new_name),
    ] {
        if let Some(v) = value {
            rows.push((name, format!("`{v}`")));
        }
    }
    if let Some(p) = &r.field_path {
        rows.push(("Field path", format!("`{p}`")));
    }
    rows.push((
        "Result",
        if changes_file {
            format!(
                "{} ({} value(s))",
                operation.phrase(settings.dry_run),
                changes.len()
            )
        } else {
            format!("unchanged: already set ({})", unchanged.join(", "))
        },
    ));

    let json = json!({
        "mode": Mode::Patch,
        "dry_run": settings.dry_run,
        "manifest": file,
        "changed": changed,
        "operation": operation.reported(settings.dry_run),
        "changes": changes,
        "diff": diff,
        "plan": plan,
        "applied": applied,
    });
    let mut outputs = BTreeMap::new();
    outputs.insert("changed".to_string(), changed.to_string());
    outputs.insert(
        "manifest-operation".to_string(),
        operation.reported(settings.dry_run),
    );
    outputs.insert("diff".to_string(), diff.clone());
    outputs.insert(
        "json".to_string(),
        serde_json::to_string(&json).unwrap_or_default(),
    );

    let title = format!(
        "gitops-promote patch{}",
        if settings.dry_run { " (dry run)" } else { "" }
    );
    let mut summary = format!("## {title}\n\n{}\n", markdown_table(&rows));
    let mut text = format!("{title}\n{}", text_table(&rows));
    if changes_file {
        summary.push_str(&format!("```diff\n{diff}```\n\n"));
        text.push_str(&format!("\n{diff}"));
    } else {
        text.push_str(&format!(
            "\nno change: `{file}` already sets `{}` as asked\n",
            r.image
        ));
    }
    summary.push_str(&plan.to_markdown());
    if settings.dry_run {
        text.push_str(&format!(
            "\nplan (JSON):\n{}\n\n{}",
            serde_json::to_string_pretty(&json).unwrap_or_default(),
            plan.to_markdown()
        ));
    }
    Report {
        outputs,
        summary,
        text,
        annotations: plan
            .skipped
            .iter()
            .map(|w| Annotation::warning("gitops-promote: value not written", w.clone()))
            .collect(),
        failure: None,
    }
}
