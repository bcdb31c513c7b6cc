//! Owns the `select` mode: "what would Flux pick?" — a provider filter or ImagePolicy applied to a tag list,
//! printed in Flux's order, one tag per line and nothing else on stdout.

use std::collections::BTreeMap;
use std::io::Read;

use serde_json::Value;

use crate::actions::{Annotation, Console};
use crate::env::GithubContext;
use crate::error::{Error, InputProblem, Kind, Result};
use crate::flux::discover::{at, filter_spec, image_policy_spec, parse_docs};
use crate::flux::filter::{ImagePolicySpec, ProviderFilter, ProviderFilterSpec};
use crate::inputs::Invocation;
use crate::modes::registry_inputs::{mask_login, read_registry_settings};
use crate::modes::tags::{TagReader, TagSource, parse_image};
use crate::report::Report;

/// What the filter file holds.
#[derive(Debug, Clone)]
pub enum Selector {
    Provider {
        name: String,
        spec: ProviderFilterSpec,
        ignored: Vec<String>,
    },
    Policy {
        name: String,
        spec: ImagePolicySpec,
    },
}

/// Reads the filter file's text: one `ResourceSetInputProvider`, one `ImagePolicy`, or a bare `filter:` mapping.
pub fn parse_selector(file: &str, text: &str) -> std::result::Result<Selector, String> {
    let (docs, errors) = parse_docs(file, text);
    if let Some((line, e)) = errors.first() {
        return Err(format!("{file}:{line}: not valid YAML: {e}"));
    }
    let [doc] = docs.as_slice() else {
        return Err(format!(
            "{file} holds {} YAML documents; it must hold exactly one",
            docs.len()
        ));
    };
    let v = &doc.value;
    let name = doc.name();
    match doc.kind() {
        "ResourceSetInputProvider" => {
            let (spec, ignored) = filter_spec(at(v, &["spec", "filter"]).unwrap_or(&Value::Null));
            Ok(Selector::Provider {
                name,
                spec,
                ignored,
            })
        }
        "ImagePolicy" => Ok(Selector::Policy {
            name,
            spec: image_policy_spec(v)?,
        }),
        "" => match v.get("filter") {
            Some(f) => {
                let (spec, ignored) = filter_spec(f);
                Ok(Selector::Provider {
                    name: "filter".into(),
                    spec,
                    ignored,
                })
            }
            None => Err(format!(
                "{file} has no `kind` and no `filter:` key; give a ResourceSetInputProvider, an ImagePolicy or a `filter:` mapping"
            )),
        },
        other => Err(format!(
            "{file} holds a `{other}`; give a ResourceSetInputProvider, an ImagePolicy or a `filter:` mapping"
        )),
    }
}

/// Tags, one per line; blank lines and surrounding whitespace are ignored.
pub fn parse_tags(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Pure: the report for a selector and a tag list.
pub fn select(selector: &Selector, tags: &[String]) -> Result<Report> {
    select_from(selector, tags, None)
}

/// Pure: [`select`], with the summary and the JSON output saying where the tags came from.
pub fn select_from(
    selector: &Selector,
    tags: &[String],
    source: Option<&TagSource>,
) -> Result<Report> {
    let mut annotations = Vec::new();
    let (object, selected) = match selector {
        Selector::Provider {
            name,
            spec,
            ignored,
        } => {
            for key in ignored {
                annotations.push(Annotation::warning(
                    "gitops-promote: field ignored by Flux",
                    format!("`filter.{key}` is not a field of a ResourceSetInputProvider filter; Flux drops it, and so does this selection"),
                ));
            }
            let filter = ProviderFilter::compile(spec).map_err(|e| {
                Error::input(
                    InputProblem::new("filter-file", e).help("Flux would refuse this filter too"),
                )
            })?;
            (
                format!("ResourceSetInputProvider/{name}"),
                filter.select(tags),
            )
        }
        Selector::Policy { name, spec } => match spec.latest(tags) {
            Ok(tag) => (format!("ImagePolicy/{name}"), vec![tag]),
            Err(e) => {
                annotations.push(Annotation::warning(
                    "gitops-promote: ImagePolicy selects nothing",
                    format!("Flux's ImagePolicy would report: {e}"),
                ));
                (format!("ImagePolicy/{name}"), Vec::new())
            }
        },
    };
    if selected.is_empty() && matches!(selector, Selector::Provider { .. }) {
        annotations.push(Annotation::warning(
            "gitops-promote: empty selection",
            format!(
                "{object} selects none of the {} tags: Flux would garbage-collect everything the ResourceSet generated from it\nhelp: annotate the generated objects with `fluxcd.controlplane.io/prune: disabled` to keep them",
                tags.len()
            ),
        ));
    }
    let text: String = selected.iter().map(|t| format!("{t}\n")).collect();
    let from = source
        .map(|s| format!(" ({})", s.describe()))
        .unwrap_or_default();
    let mut summary = format!(
        "## gitops-promote select\n\n{object} selects {} of {} tags{from}.\n\n",
        selected.len(),
        tags.len()
    );
    for (i, t) in selected.iter().enumerate() {
        summary.push_str(&format!("{}. `{t}`\n", i + 1));
    }
    let mut outputs = BTreeMap::new();
    outputs.insert("selected".to_string(), selected.join("\n"));
    outputs.insert(
        "json".to_string(),
        serde_json::json!({
            "mode": "select",
            "object": object,
            "selected": selected,
            "tags_from": source.map(TagSource::kind),
        })
        .to_string(),
    );
    Ok(Report {
        outputs,
        summary,
        text,
        annotations,
        failure: None,
    })
}

/// Reads a file, or standard input for `-`.
pub fn read_source(path: &str, base: &std::path::Path) -> Result<String> {
    if path == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Error::new(Kind::Io, format!("can't read standard input: {e}")))?;
        return Ok(s);
    }
    let p = std::path::Path::new(path);
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    std::fs::read_to_string(&full)
        .map_err(|e| Error::new(Kind::Io, format!("can't read `{}`: {e}", full.display())))
}

pub fn run(
    invocation: &Invocation,
    github: &GithubContext,
    console: &mut Console,
) -> Result<Report> {
    let mut r = invocation.reader();
    let filter_file = r.required(
        "filter-file",
        "give the YAML file with the provider, ImagePolicy or `filter:`",
    );
    let tags_file = r.text("tags-file");
    let image = r.parse("image", parse_image);
    let registry = read_registry_settings(&mut r, github);
    if tags_file.is_none() && r.text("image").is_none() {
        r.problem(
            InputProblem::new("tags-file", "is required when `image` is not given").help(
                "give a file with one tag per line (`-` for standard input), or `image` to list the registry's tags",
            ),
        );
    }
    r.finish()?;
    if filter_file == "-" && tags_file.as_deref() == Some("-") {
        return Err(Error::input(InputProblem::new(
            "tags-file",
            "standard input can feed only one of `filter-file` and `tags-file`",
        )));
    }
    // Relative paths are the user's, as on any command line: resolved against the working directory.
    let cwd = std::path::PathBuf::from(".");
    let filter_text = read_source(&filter_file, &cwd)?;
    let selector = parse_selector(&filter_file, &filter_text)
        .map_err(|e| Error::input(InputProblem::new("filter-file", e)))?;
    let (tags, source) = match (tags_file, image) {
        (Some(file), _) => (
            parse_tags(&read_source(&file, &cwd)?),
            TagSource::File(file),
        ),
        (None, Some(image)) => {
            mask_login(console, &registry);
            let reader = TagReader::new(registry, false)?;
            let tags = reader.list(&image, console)?;
            (tags, TagSource::Registry(image.to_string()))
        }
        (None, None) => unreachable_input("tags-file")?,
    };
    select_from(&selector, &tags, Some(&source))
}

/// `finish` succeeded, so an input it checked is there; this is the error if that ever breaks.
fn unreachable_input<T>(name: &str) -> Result<T> {
    Err(Error::new(
        Kind::Input,
        format!("input `{name}` is missing"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bare_filter_mapping_selects() {
        let s = parse_selector("f.yaml", "filter:\n  includeTag: '^v'\n  limit: 2\n")
            .expect("selector");
        let r = select(&s, &parse_tags("v1.9.3\nv1.10.0\nlatest\n")).expect("select");
        assert_eq!(r.text, "v1.9.3\nv1.10.0\n");
    }

    #[test]
    fn an_empty_selection_prints_nothing_and_warns() {
        let s = parse_selector("f.yaml", "filter:\n  includeTag: '^nope$'\n").expect("selector");
        let r = select(&s, &parse_tags("v1\n")).expect("select");
        assert_eq!(r.text, "");
        assert!(
            r.annotations
                .iter()
                .any(|a| a.message.contains("garbage-collect"))
        );
    }
}
