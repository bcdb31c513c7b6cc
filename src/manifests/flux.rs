//! Owns the Flux form: scalars marked `# {"$imagepolicy": "NAMESPACE:NAME"}` and its `:tag`, `:name` and
//! `:digest` variants, set the way image-automation-controller's setters set them
//! (`internal/update/setters.go`: the whole marker gets `name:tag[@digest]`, `:tag` the tag, `:name` the
//! repository, `:digest` the digest; a marker is the line comment of the scalar it sets).

use std::collections::BTreeMap;
use std::sync::LazyLock;

use super::yaml::{self, Node, Scalar, Tree};
use super::{Change, Collected, Form, Planned, Request, same_image, split_reference};
use regex::Regex;

static MARKER: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern
    Regex::new(r#"^#\s*\{\s*"\$imagepolicy"\s*:\s*"([^"]+)"\s*\}\s*$"#).unwrap()
});

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Part {
    Whole,
    Tag,
    Name,
    Digest,
}

struct Marker<'t> {
    setter: String,
    part: Part,
    scalar: Scalar,
    node: Node<'t>,
}

fn parse_setter(setter: &str) -> Option<(String, Part)> {
    let parts: Vec<&str> = setter.split(':').collect();
    match parts.as_slice() {
        [ns, name] => Some((format!("{ns}:{name}"), Part::Whole)),
        [ns, name, part] => {
            let part = match *part {
                "tag" => Part::Tag,
                "name" => Part::Name,
                "digest" => Part::Digest,
                _ => return None,
            };
            Some((format!("{ns}:{name}"), part))
        }
        _ => None,
    }
}

fn markers<'t>(src: &str, tree: &'t Tree) -> Vec<Marker<'t>> {
    let mut out = Vec::new();
    let mut scalars: Option<Vec<Node<'t>>> = None;
    for comment in yaml::comments(tree) {
        let text = &src[comment.range.clone()];
        // Most comments are prose: skip the pattern unless the marker's key is there.
        if !text.contains("$imagepolicy") {
            continue;
        }
        let Some(caps) = MARKER.captures(text) else {
            continue;
        };
        let Some(setter) = caps.get(1).map(|m| m.as_str().to_string()) else {
            continue;
        };
        let Some((policy, part)) = parse_setter(&setter) else {
            continue;
        };
        let scalars = scalars.get_or_insert_with(|| yaml::value_scalars(tree));
        let target = scalars
            .iter()
            .filter(|s| s.end_line() == comment.line && s.end_byte() <= comment.range.start)
            .max_by_key(|s| s.end_byte());
        if let Some(node) = target
            && let Some(scalar) = yaml::scalar(*node)
        {
            out.push(Marker {
                setter: format!(
                    "{policy}{}",
                    setter.strip_prefix(policy.as_str()).unwrap_or("")
                ),
                part,
                scalar,
                node: *node,
            });
        }
    }
    out
}

/// The image a `:tag`/`:digest` marker's mapping names in a sibling `repository`/`image`/`name` key.
fn sibling_image(node: Node<'_>) -> Option<String> {
    let mapping = node.parent()?;
    if !yaml::is_mapping(mapping) || node.is_key() {
        return None;
    }
    let get = |key: &str| {
        yaml::find_pair(mapping, key)
            .and_then(|p| p.value)
            .and_then(|v| v.scalar_value())
    };
    let repo = get("repository")
        .or_else(|| get("image"))
        .or_else(|| get("name"))?;
    match get("registry") {
        Some(registry) if !registry.is_empty() => Some(format!("{registry}/{repo}")),
        _ => Some(repo.to_string()),
    }
}

pub fn collect(
    src: &str,
    tree: &Tree,
    request: &Request,
    out: &mut Collected,
) -> Result<(), String> {
    let mut groups: BTreeMap<String, Vec<Marker<'_>>> = BTreeMap::new();
    for m in markers(src, tree) {
        let policy = m
            .setter
            .splitn(3, ':')
            .take(2)
            .collect::<Vec<_>>()
            .join(":");
        groups.entry(policy).or_default().push(m);
    }
    let ours = |name: &str| {
        same_image(name, &request.image)
            || request
                .new_name
                .as_deref()
                .is_some_and(|n| same_image(name, n))
    };
    for markers in groups.into_values() {
        let matched = markers.iter().any(|m| match m.part {
            Part::Whole => ours(split_reference(&m.scalar.value).0),
            Part::Name => ours(&m.scalar.value),
            Part::Tag | Part::Digest => {
                sibling_image(m.node).is_some_and(|i| ours(split_reference(&i).0))
            }
        });
        if !matched {
            continue;
        }
        for m in &markers {
            let current = &m.scalar.value;
            let new = match m.part {
                Part::Whole => Some(super::set_reference(current, request)),
                Part::Tag => request.tag.clone(),
                Part::Name => request.new_name.clone(),
                Part::Digest => match (&request.digest, &request.tag) {
                    (Some(d), _) => Some(d.clone()),
                    (None, Some(_)) if !current.is_empty() => {
                        return Err(format!(
                            "line {}: the `{}` marker pins digest `{current}`, which a new tag alone would leave stale",
                            yaml::line_number(src, m.scalar.range.start),
                            m.setter
                        ));
                    }
                    _ => None,
                },
            };
            let field = format!(
                "line {} $imagepolicy {}",
                yaml::line_number(src, m.scalar.range.start),
                m.setter
            );
            let Some(new) = new else { continue };
            if &new == current {
                out.unchanged.push(field);
                continue;
            }
            out.planned.push(Planned {
                edit: yaml::Edit {
                    range: m.scalar.range.clone(),
                    text: yaml::render_scalar(&new, m.scalar.style),
                },
                change: Change {
                    form: Form::FluxSetter,
                    field,
                    line: yaml::line_number(src, m.scalar.range.start),
                    old: Some(current.clone()),
                    new: Some(new),
                },
            });
        }
    }
    Ok(())
}
