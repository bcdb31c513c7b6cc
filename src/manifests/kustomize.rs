//! Owns the Kustomize form: the `images:` list of a Kustomization (`name`, `newName`, `newTag`, `digest`),
//! edited, extended or created in the file's own style.

use std::path::Path;

use super::yaml::{self, Edit, Kind, Node, Style, Tree};
use super::{Change, Collected, Form, Planned, Request, same_image};

/// File names `kustomize build` reads as a Kustomization.
pub const FILE_NAMES: &[&str] = &["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Whether the file is a Kustomization: by its name, or by `kind: Kustomization` from kustomize's API group.
pub fn applies(tree: &Tree, file: &str) -> bool {
    let base = Path::new(file)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(file);
    FILE_NAMES.contains(&base) || document(tree).is_some_and(|(_, by_kind)| by_kind)
}

/// The document holding the Kustomization: one with `kind: Kustomization` of the kustomize API, else one
/// with `images`, else the first mapping. The flag says whether `kind` identified it.
fn document(tree: &Tree) -> Option<(Node<'_>, bool)> {
    let mappings: Vec<_> = yaml::documents(tree)
        .into_iter()
        .filter(|n| yaml::is_mapping(*n))
        .collect();
    let is_kustomize = |m: &Node<'_>| {
        text(*m, "kind") == Some("Kustomization")
            && text(*m, "apiVersion").is_some_and(|a| a.starts_with("kustomize.config.k8s.io/"))
    };
    if let Some(m) = mappings.iter().find(|m| is_kustomize(m)) {
        return Some((*m, true));
    }
    mappings
        .iter()
        .find(|m| yaml::find_pair(**m, "images").is_some())
        .or(mappings.first())
        .map(|m| (*m, false))
}

/// The scalar value of `key` in mapping `m`.
fn text<'t>(m: Node<'t>, key: &str) -> Option<&'t str> {
    yaml::find_pair(m, key)
        .and_then(|p| p.value)
        .and_then(|v| v.scalar_value())
}

/// The fields to set (`Some`) or remove (`None`), in kustomize's own order.
fn wanted(request: &Request) -> Vec<(&'static str, Option<String>)> {
    let mut want = Vec::new();
    if let Some(n) = &request.new_name {
        want.push(("newName", Some(n.clone())));
    }
    if let Some(t) = &request.tag {
        want.push(("newTag", Some(t.clone())));
    }
    match (&request.digest, &request.tag) {
        (Some(d), _) => want.push(("digest", Some(d.clone()))),
        // A digest left from an earlier pin would win over the new tag (kustomize renders `name:tag@digest`).
        (None, Some(_)) => want.push(("digest", None)),
        (None, None) => {}
    }
    want
}

pub fn collect(
    src: &str,
    tree: &Tree,
    request: &Request,
    out: &mut Collected,
) -> Result<(), String> {
    let Some((top, _)) = document(tree) else {
        return Err("the Kustomization is not a mapping".to_string());
    };
    let eol = yaml::line_ending(src);
    let layout = yaml::layout(src, tree);
    let want = wanted(request);
    let images = yaml::find_pair(top, "images");
    let seq = images.as_ref().and_then(|p| p.value);
    match (images, seq) {
        (None, _) => {
            // No `images:` yet: append the list to the top mapping.
            if top.kind() != Kind::BlockMapping {
                return Err(
                    "the Kustomization is a flow mapping `{…}`: add `images:` by hand once".into(),
                );
            }
            let key_col = yaml::column(src, top.start_byte());
            let dash = key_col + if layout.indentless { 0 } else { layout.unit };
            let mut lines = vec![format!("{}images:", " ".repeat(key_col))];
            lines.extend(entry_lines(request, &want, dash, 2, Style::Plain));
            let last = yaml::pairs(top).last().map(|p| p.range.end);
            push_lines(
                src,
                eol,
                last.unwrap_or(top.end_byte()),
                &lines,
                out,
                |line| new_entry_changes(request, &want, 0, line),
            );
            Ok(())
        }
        (Some(pair), Some(seq)) if yaml::is_sequence(seq) => {
            let entries = yaml::items(seq);
            let field_of = |item: Node<'_>, key: &str| {
                yaml::find_pair(item, key)
                    .and_then(|p| p.value)
                    .and_then(yaml::scalar)
            };
            let name_of = |item: Node<'_>| field_of(item, "name");
            let new_name_of = |item: Node<'_>| field_of(item, "newName");
            // kustomize matches `name` as written; then the same repository spelled differently; then an
            // entry that already renames some placeholder to this image.
            let found = entries
                .iter()
                .position(|i| name_of(*i).is_some_and(|n| n.value == request.image))
                .or_else(|| {
                    entries.iter().position(|i| {
                        name_of(*i).is_some_and(|n| same_image(&n.value, &request.image))
                    })
                })
                .or_else(|| {
                    entries.iter().position(|i| {
                        new_name_of(*i).is_some_and(|n| same_image(&n.value, &request.image))
                    })
                });
            match found {
                Some(index) => edit_entry(src, eol, entries[index], index, &want, out),
                None => {
                    let style = entries
                        .first()
                        .and_then(|i| name_of(*i))
                        .map(|s| s.style)
                        .unwrap_or(Style::Plain);
                    add_entry(
                        src, eol, layout, &pair, seq, &entries, request, &want, style, out,
                    )
                }
            }
        }
        (Some(pair), value) => {
            let null = value.is_none_or(|v| {
                yaml::scalar(v).is_some_and(|s| {
                    s.style == Style::Plain
                        && matches!(s.value.as_str(), "" | "~" | "null" | "Null" | "NULL")
                })
            });
            if !null {
                return Err("`images` is not a list".to_string());
            }
            // `images:` with no value (or `~`): the entry goes under the key.
            let key_col = yaml::column(src, pair.range.start);
            let dash = key_col + if layout.indentless { 0 } else { layout.unit };
            let lines = entry_lines(request, &want, dash, 2, Style::Plain);
            let colon = after_colon(src, &pair);
            let range = match value {
                Some(v) => colon..v.end_byte(),
                None => colon..colon,
            };
            let text = lines
                .iter()
                .map(|l| format!("{eol}{l}"))
                .collect::<String>();
            let line = yaml::line_number(src, pair.range.start);
            for change in new_entry_changes(request, &want, 0, line) {
                out.planned.push(Planned {
                    edit: Edit {
                        range: range.clone(),
                        text: text.clone(),
                    },
                    change,
                });
            }
            Ok(())
        }
    }
}

/// The lines of a new block entry: `- name: …` then each field under it.
fn entry_lines(
    request: &Request,
    want: &[(&str, Option<String>)],
    dash: usize,
    pad: usize,
    style: Style,
) -> Vec<String> {
    let mut lines = vec![format!(
        "{}- name: {}",
        " ".repeat(dash),
        yaml::render_scalar(&request.image, style)
    )];
    for (key, value) in want {
        if let Some(v) = value {
            lines.push(format!(
                "{}{key}: {}",
                " ".repeat(dash + pad),
                yaml::render_scalar(v, style)
            ));
        }
    }
    lines
}

fn new_entry_changes(
    request: &Request,
    want: &[(&str, Option<String>)],
    index: usize,
    line: usize,
) -> Vec<Change> {
    let mut changes = vec![Change {
        form: Form::Kustomize,
        field: format!("images[{index}].name"),
        line,
        old: None,
        new: Some(request.image.clone()),
    }];
    for (key, value) in want {
        if let Some(v) = value {
            changes.push(Change {
                form: Form::Kustomize,
                field: format!("images[{index}].{key}"),
                line,
                old: None,
                new: Some(v.clone()),
            });
        }
    }
    changes
}

/// Inserts whole lines after the line holding `after`, keeping a missing final newline missing.
fn push_lines(
    src: &str,
    eol: &str,
    after: usize,
    lines: &[String],
    out: &mut Collected,
    changes: impl FnOnce(usize) -> Vec<Change>,
) {
    let at = yaml::next_line_start(src, after);
    let text = if at == src.len() && !src.ends_with('\n') {
        lines
            .iter()
            .map(|l| format!("{eol}{l}"))
            .collect::<String>()
    } else {
        lines
            .iter()
            .map(|l| format!("{l}{eol}"))
            .collect::<String>()
    };
    let line = yaml::line_number(src, after);
    for change in changes(line) {
        out.planned.push(Planned {
            edit: Edit {
                range: at..at,
                text: text.clone(),
            },
            change,
        });
    }
}

#[allow(clippy::too_many_arguments)]
fn add_entry(
    src: &str,
    eol: &str,
    layout: yaml::Layout,
    pair: &yaml::Pair<'_>,
    seq: Node<'_>,
    entries: &[Node<'_>],
    request: &Request,
    want: &[(&str, Option<String>)],
    style: Style,
    out: &mut Collected,
) -> Result<(), String> {
    let index = entries.len();
    if seq.kind() == Kind::FlowSequence {
        let mut fields = vec![format!(
            "name: {}",
            yaml::render_scalar(&request.image, style)
        )];
        for (key, value) in want {
            if let Some(v) = value {
                fields.push(format!("{key}: {}", yaml::render_scalar(v, style)));
            }
        }
        let entry = format!("{{{}}}", fields.join(", "));
        let (at, text) = match entries.last() {
            Some(last) => (last.end_byte(), format!(", {entry}")),
            None => (seq.start_byte() + 1, entry),
        };
        let line = yaml::line_number(src, at);
        for change in new_entry_changes(request, want, index, line) {
            out.planned.push(Planned {
                edit: Edit {
                    range: at..at,
                    text: text.clone(),
                },
                change,
            });
        }
        return Ok(());
    }
    // Follow the existing entries: their dash column and the offset of their keys from the dash.
    // A block sequence starts at its first dash.
    let dash = if entries.is_empty() {
        yaml::column(src, pair.range.start) + if layout.indentless { 0 } else { layout.unit }
    } else {
        yaml::column(src, seq.start_byte())
    };
    let pad = entries
        .first()
        .filter(|m| m.kind() == Kind::BlockMapping)
        .map(|m| yaml::column(src, m.start_byte()).saturating_sub(dash))
        .filter(|p| *p > 0)
        .unwrap_or(2);
    let lines = entry_lines(request, want, dash, pad, style);
    push_lines(src, eol, seq.end_byte(), &lines, out, |line| {
        new_entry_changes(request, want, index, line)
    });
    Ok(())
}

fn edit_entry(
    src: &str,
    eol: &str,
    mapping: Node<'_>,
    index: usize,
    want: &[(&str, Option<String>)],
    out: &mut Collected,
) -> Result<(), String> {
    if !yaml::is_mapping(mapping) {
        return Err(format!("images[{index}] is not a mapping"));
    }
    let pairs = yaml::pairs(mapping);
    let mut additions: Vec<(&str, String)> = Vec::new();
    for (key, value) in want {
        let field = format!("images[{index}].{key}");
        let existing = pairs
            .iter()
            .enumerate()
            .find(|(_, p)| p.key.scalar_value() == Some(*key));
        match (existing, value) {
            (None, None) => {}
            (None, Some(v)) => additions.push((key, v.clone())),
            (Some((i, pair)), None) => {
                let old = pair.value.and_then(yaml::scalar).map(|s| s.value);
                out.planned.push(Planned {
                    edit: Edit {
                        range: removal_range(src, mapping, &pairs, i)?,
                        text: String::new(),
                    },
                    change: Change {
                        form: Form::Kustomize,
                        field,
                        line: yaml::line_number(src, pair.range.start),
                        old,
                        new: None,
                    },
                });
            }
            (Some((_, pair)), Some(v)) => {
                let line = yaml::line_number(src, pair.range.start);
                match pair.value.map(yaml::value_kind) {
                    None => {
                        // `newTag:` with no value: write one after the colon.
                        let colon = after_colon(src, pair);
                        out.planned.push(Planned {
                            edit: Edit {
                                range: colon..colon,
                                text: format!(" {}", yaml::render_scalar(v, Style::Plain)),
                            },
                            change: Change {
                                form: Form::Kustomize,
                                field,
                                line,
                                old: None,
                                new: Some(v.clone()),
                            },
                        });
                    }
                    Some(yaml::ValueKind::Scalar(s)) if s.value == *v => {
                        out.unchanged.push(field);
                    }
                    Some(yaml::ValueKind::Scalar(s)) => out.planned.push(Planned {
                        edit: Edit {
                            range: s.range.clone(),
                            text: yaml::render_scalar(v, s.style),
                        },
                        change: Change {
                            form: Form::Kustomize,
                            field,
                            line,
                            old: Some(s.value),
                            new: Some(v.clone()),
                        },
                    }),
                    Some(yaml::ValueKind::Alias) => {
                        return Err(format!(
                            "{field} is an alias (`*…`): its value lives at an anchor other fields may share; set it there by hand or replace the alias"
                        ));
                    }
                    Some(yaml::ValueKind::Other) => {
                        return Err(format!(
                            "{field} is not a one-line scalar; only plain or quoted values are edited"
                        ));
                    }
                }
            }
        }
    }
    if additions.is_empty() {
        return Ok(());
    }
    let style = pairs
        .iter()
        .find_map(|p| p.value.and_then(yaml::scalar))
        .map(|s| s.style)
        .unwrap_or(Style::Plain);
    let line = pairs
        .last()
        .map(|p| yaml::line_number(src, p.range.end))
        .unwrap_or(1);
    let change = |key: &str, v: &str| Change {
        form: Form::Kustomize,
        field: format!("images[{index}].{key}"),
        line,
        old: None,
        new: Some(v.to_string()),
    };
    if mapping.kind() == Kind::FlowMapping {
        let at = pairs
            .last()
            .map(|p| p.range.end)
            .unwrap_or(mapping.start_byte() + 1);
        for (n, (key, v)) in additions.iter().enumerate() {
            let sep = if pairs.is_empty() && n == 0 { "" } else { ", " };
            out.planned.push(Planned {
                edit: Edit {
                    range: at..at,
                    text: format!("{sep}{key}: {}", yaml::render_scalar(v, style)),
                },
                change: change(key, v),
            });
        }
        return Ok(());
    }
    let indent = pairs
        .first()
        .map(|p| yaml::column(src, p.range.start))
        .unwrap_or(0);
    let last = pairs
        .last()
        .map(|p| p.range.end)
        .unwrap_or(mapping.end_byte());
    // Kustomize's own order is name, newName, newTag, digest: an added field follows its predecessor.
    let order = ["name", "newName", "newTag", "digest"];
    for (key, v) in additions {
        let position = order.iter().position(|k| *k == key).unwrap_or(order.len());
        let after = order[..position]
            .iter()
            .rev()
            .find_map(|k| pairs.iter().find(|p| p.key.scalar_value() == Some(*k)))
            .map(|p| p.range.end)
            .unwrap_or(last);
        let line_text = format!(
            "{}{key}: {}",
            " ".repeat(indent),
            yaml::render_scalar(&v, style)
        );
        push_lines(src, eol, after, &[line_text], out, |_| {
            vec![change(key, &v)]
        });
    }
    Ok(())
}

/// The bytes to delete to remove pair `i` of `mapping`, with its line and trailing comment when it has a
/// line of its own.
fn removal_range(
    src: &str,
    mapping: Node<'_>,
    pairs: &[yaml::Pair<'_>],
    i: usize,
) -> Result<std::ops::Range<usize>, String> {
    let pair = pairs[i].range.clone();
    if mapping.kind() == Kind::FlowMapping {
        return Ok(
            match (i.checked_sub(1).map(|p| &pairs[p]), pairs.get(i + 1)) {
                (Some(prev), _) => prev.range.end..pair.end,
                (None, Some(next)) => pair.start..next.range.start,
                (None, None) => pair,
            },
        );
    }
    let start = yaml::line_start(src, pair.start);
    let prefix = &src[start..pair.start];
    if prefix.chars().all(|c| c == ' ') {
        let end = yaml::next_line_start(src, pair.end);
        if end == src.len() && !src.ends_with('\n') && start > 0 {
            // The last line of a file without a final newline: take the line break before it instead,
            // so the file still ends without one.
            let before = if src[..start].ends_with("\r\n") { 2 } else { 1 };
            return Ok(start - before..end);
        }
        return Ok(start..end);
    }
    // The pair shares its line with the item's dash (`- digest: …`): pull the next pair up to the dash.
    match pairs.get(i + 1) {
        Some(next) => Ok(pair.start..next.range.start),
        None => {
            Err("a stale `digest` shares its line with the entry's dash; remove it by hand".into())
        }
    }
}

/// Just past the colon of `pair` (`newTag:|`), where a value for an empty key goes.
fn after_colon(src: &str, pair: &yaml::Pair<'_>) -> usize {
    let key_end = pair.key.end_byte();
    src[key_end..pair.range.end.max(key_end)]
        .find(':')
        .map(|i| key_end + i + 1)
        .unwrap_or(pair.range.end)
}
