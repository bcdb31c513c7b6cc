//! Owns the `select` mode: "what would Flux pick?" — a provider filter or ImagePolicy applied to a tag list,
//! printed in Flux's order, one tag per line and nothing else on stdout.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::actions::{Annotation, Console};
use crate::env::GithubContext;
use crate::error::{Error, InputProblem, Kind, Result};
use crate::flux::discover::{at, filter_spec, image_policy_spec, parse_docs};
use crate::flux::filter::{ImagePolicySpec, PolicyError, ProviderFilter, ProviderFilterSpec};
use crate::inputs::Invocation;
use crate::registry_settings::{mask_login, read_registry_settings};
use crate::report::Report;
use crate::tag_lister::{TagReader, TagSource, parse_image, parse_tags, read_source};

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

/// The kinds of object a selection can be made with.
const SELECTOR_KINDS: [&str; 2] = ["ResourceSetInputProvider", "ImagePolicy"];

/// Reads the filter file's text: a `ResourceSetInputProvider`, an `ImagePolicy`, or a bare `filter:` mapping.
/// A file with several documents (a provider and its ResourceSet, as the seed keeps them) is fine: the object
/// is `name` (`NAME` or `KIND/NAME`), or the only provider or ImagePolicy in the file. An error says which
/// objects the file holds and how to pick one.
pub fn parse_selector(
    file: &str,
    text: &str,
    name: Option<&str>,
) -> std::result::Result<Selector, String> {
    let (docs, errors) = parse_docs(file, text);
    if let Some((line, e)) = errors.first() {
        return Err(format!("{file}:{line}: not valid YAML: {e}"));
    }
    let is_bare_filter =
        |d: &&crate::flux::discover::Doc| d.kind().is_empty() && d.value.get("filter").is_some();
    let candidates: Vec<_> = docs
        .iter()
        .filter(|d| SELECTOR_KINDS.contains(&d.kind()) || is_bare_filter(d))
        .collect();
    let label = |d: &crate::flux::discover::Doc| {
        if d.kind().is_empty() {
            "a bare `filter:` mapping".to_string()
        } else {
            format!("{}/{}", d.kind(), d.name())
        }
    };
    let listed = |docs: &[&crate::flux::discover::Doc]| {
        docs.iter().map(|d| label(d)).collect::<Vec<_>>().join(", ")
    };
    let doc = match name {
        Some(wanted) => {
            let (kind, object) = match wanted.split_once('/') {
                Some((k, n)) => (Some(k), n),
                None => (None, wanted),
            };
            let found: Vec<_> = candidates
                .iter()
                .copied()
                .filter(|d| {
                    d.name() == object && kind.is_none_or(|k| k.eq_ignore_ascii_case(d.kind()))
                })
                .collect();
            match found.as_slice() {
                [one] => *one,
                [] if candidates.is_empty() => {
                    return Err(format!(
                        "{file} holds no ResourceSetInputProvider or ImagePolicy, so none is named `{wanted}`"
                    ));
                }
                [] => {
                    return Err(format!(
                        "{file} holds no ResourceSetInputProvider or ImagePolicy named `{wanted}`; it holds {}",
                        listed(&candidates)
                    ));
                }
                several => {
                    return Err(format!(
                        "{file} holds several objects named `{object}`: {}; give `name` as KIND/NAME, e.g. `{}`",
                        listed(several),
                        label(several[0])
                    ));
                }
            }
        }
        None => match candidates.as_slice() {
            [one] => *one,
            [] => {
                return Err(match docs.as_slice() {
                    [] => format!("{file} holds no YAML document"),
                    [doc] if doc.kind().is_empty() => format!(
                        "{file} has no `kind` and no `filter:` key; give a ResourceSetInputProvider, an ImagePolicy or a `filter:` mapping"
                    ),
                    [doc] => format!(
                        "{file} holds a `{}`; give a ResourceSetInputProvider, an ImagePolicy or a `filter:` mapping",
                        doc.kind()
                    ),
                    many => format!(
                        "{file} holds {} YAML documents and none is a ResourceSetInputProvider or an ImagePolicy",
                        many.len()
                    ),
                });
            }
            several => {
                return Err(format!(
                    "{file} holds {} objects a selection can be made with: {}; pick one with `name` (`--name {}`)",
                    several.len(),
                    listed(several),
                    several[0].name()
                ));
            }
        },
    };
    let v = &doc.value;
    match doc.kind() {
        "ResourceSetInputProvider" => {
            let (spec, ignored) = filter_spec(at(v, &["spec", "filter"]).unwrap_or(&Value::Null));
            Ok(Selector::Provider {
                name: doc.name(),
                spec,
                ignored,
            })
        }
        "ImagePolicy" => Ok(Selector::Policy {
            name: doc.name(),
            spec: image_policy_spec(v).map_err(|e| format!("{}: {e}", label(doc)))?,
        }),
        _ => {
            let (spec, ignored) = filter_spec(v.get("filter").unwrap_or(&Value::Null));
            Ok(Selector::Provider {
                name: "filter".into(),
                spec,
                ignored,
            })
        }
    }
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
            Err(PolicyError::NothingMatches(e)) => {
                annotations.push(Annotation::warning(
                    "gitops-promote: ImagePolicy selects nothing",
                    format!("no tag matches: Flux's ImagePolicy would report: {e}"),
                ));
                (format!("ImagePolicy/{name}"), Vec::new())
            }
            // Not an empty selection: Flux fails the policy on these tags, and so does `select`.
            Err(PolicyError::Fails(e)) => {
                return Err(Error::new(
                    Kind::Flux,
                    format!("ImagePolicy/{name} fails in Flux on these tags: {e}"),
                )
                .with_help(
                    "Flux marks the ImagePolicy failed and keeps the previous image; let only tags the policy can order reach it (`filterTags.pattern`, with `extract` for a number)",
                ));
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
    let name = r.text("name");
    let image = r.parse("image", parse_image);
    let registry = read_registry_settings(&mut r, github);
    if tags_file.is_none() && r.text("image").is_none() {
        r.problem(
            InputProblem::new("tags-file", "is required when `image` is not given").help(
                "give a file with one tag per line (`-` for standard input), or `image` to list the registry's tags",
            ),
        );
    }
    if filter_file == "-" && tags_file.as_deref() == Some("-") {
        r.problem(InputProblem::new(
            "tags-file",
            "standard input can feed only one of `filter-file` and `tags-file`",
        ));
    }
    r.finish()?;
    // Relative paths are the user's, as on any command line: resolved against the working directory.
    let cwd = std::path::PathBuf::from(".");
    let filter_text = read_source(&filter_file, &cwd)?;
    let selector = parse_selector(&filter_file, &filter_text, name.as_deref()).map_err(|e| {
        Error::input(InputProblem::new(
            if name.is_some() {
                "name"
            } else {
                "filter-file"
            },
            e,
        ))
    })?;
    let (tags, source) = match (tags_file, image) {
        (Some(file), _) => (
            parse_tags(&read_source(&file, &cwd)?),
            TagSource::File(file),
        ),
        (None, Some(image)) => {
            mask_login(console, &registry);
            let reader = TagReader::new(registry, false)?;
            console.group_on_runner(&format!("List the tags of `{image}`"));
            let tags = reader.list(&image, console);
            console.end_group();
            let tags = tags?;
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
        let s = parse_selector("f.yaml", "filter:\n  includeTag: '^v'\n  limit: 2\n", None)
            .expect("selector");
        let r = select(&s, &parse_tags("v1.9.3\nv1.10.0\nlatest\n")).expect("select");
        assert_eq!(r.text, "v1.9.3\nv1.10.0\n");
    }

    #[test]
    fn an_empty_selection_prints_nothing_and_warns() {
        let s =
            parse_selector("f.yaml", "filter:\n  includeTag: '^nope$'\n", None).expect("selector");
        let r = select(&s, &parse_tags("v1\n")).expect("select");
        assert_eq!(r.text, "");
        assert!(
            r.annotations
                .iter()
                .any(|a| a.message.contains("garbage-collect"))
        );
    }
}
