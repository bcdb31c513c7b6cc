//! Owns the field-path form: `spec.values.image.tag`-style paths to one scalar, for Helm values inside a
//! `HelmRelease`, plain values files and any manifest the other forms do not cover.

use std::fmt;

use super::yaml::{self, Node, Style, Tree, ValueKind};
use super::{
    Change, Collected, Form, Planned, Request, same_image, set_reference, split_reference,
};
use crate::error::InputProblem;
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Key(String),
    Index(usize),
}

/// A path of mapping keys and list indices: `spec.template.spec.containers[0].image`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath {
    source: String,
    segments: Vec<Segment>,
}

impl Serialize for FieldPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.source)
    }
}

impl FieldPath {
    /// Parses `a.b[0].c`; a key containing a dot is written in quotes: `metadata.annotations."a.b/c"`.
    ///
    /// ```
    /// use gitops_promote::manifests::FieldPath;
    /// assert!(FieldPath::parse("spec.values.image.tag").is_ok());
    /// assert!(FieldPath::parse("spec.containers[0].image").is_ok());
    /// assert!(FieldPath::parse("spec..tag").is_err());
    /// assert!(FieldPath::parse("a[x]").is_err());
    /// ```
    pub fn parse(value: &str) -> Result<Self, InputProblem> {
        let bad = |why: &str| {
            InputProblem::new(
                "field-path",
                format!("`{value}` is not a field path: {why}"),
            )
            .help(
                "write keys separated by `.` and list items as `[0]`, e.g. `spec.values.image.tag`",
            )
        };
        let mut segments = Vec::new();
        let mut chars = value.trim().chars().peekable();
        let mut expect_key = true;
        while let Some(&c) = chars.peek() {
            match c {
                '.' if !expect_key => {
                    chars.next();
                    expect_key = true;
                }
                '[' => {
                    chars.next();
                    let digits: String = chars.by_ref().take_while(|c| *c != ']').collect();
                    let index = digits
                        .parse::<usize>()
                        .map_err(|_| bad("a list index must be a number"))?;
                    segments.push(Segment::Index(index));
                    expect_key = false;
                }
                '"' if expect_key => {
                    chars.next();
                    let key: String = chars.by_ref().take_while(|c| *c != '"').collect();
                    segments.push(Segment::Key(key));
                    expect_key = false;
                }
                _ if expect_key => {
                    let mut key = String::new();
                    while let Some(&c) = chars.peek() {
                        if c == '.' || c == '[' {
                            break;
                        }
                        key.push(c);
                        chars.next();
                    }
                    if key.is_empty() {
                        return Err(bad("a key is empty"));
                    }
                    segments.push(Segment::Key(key));
                    expect_key = false;
                }
                _ => return Err(bad("expected `.` or `[`")),
            }
        }
        if expect_key {
            return Err(bad("it ends without a key"));
        }
        Ok(Self {
            source: value.trim().to_string(),
            segments,
        })
    }
}

/// The scalar's node at `path` in one document, or why not.
fn resolve<'t>(top: Node<'t>, path: &FieldPath) -> Result<Option<Node<'t>>, String> {
    let mut node = top;
    let mut walked = String::new();
    for (i, seg) in path.segments.iter().enumerate() {
        let here = if walked.is_empty() {
            "the document".to_string()
        } else {
            format!("`{walked}`")
        };
        match seg {
            Segment::Key(key) => {
                if !yaml::is_mapping(node) {
                    return Err(format!("{here} is not a mapping"));
                }
                let pair = yaml::find_pair(node, key)
                    .ok_or_else(|| format!("{here} has no key `{key}`"))?;
                match pair.value {
                    Some(v) => node = v,
                    // `tag:` with no value: only the last key may be empty.
                    None if i + 1 == path.segments.len() => return Ok(None),
                    None => return Err(format!("`{key}` under {here} is empty")),
                }
                if !walked.is_empty() {
                    walked.push('.');
                }
                walked.push_str(key);
            }
            Segment::Index(index) => {
                if !yaml::is_sequence(node) {
                    return Err(format!("{here} is not a list"));
                }
                let items = yaml::items(node);
                node = *items
                    .get(*index)
                    .ok_or_else(|| format!("{here} has {} items, not [{index}]", items.len()))?;
                walked.push_str(&format!("[{index}]"));
            }
        }
    }
    Ok(Some(node))
}

/// What to write over `current`, judged from what the field holds now.
fn new_value(current: &str, request: &Request, path: &FieldPath) -> Result<Option<String>, String> {
    let (name, tag, digest) = split_reference(current);
    let ours = same_image(name, &request.image)
        || request
            .new_name
            .as_deref()
            .is_some_and(|n| same_image(name, n));
    if current.starts_with("sha256:") {
        return match (&request.digest, &request.tag) {
            (Some(d), _) => Ok(Some(d.clone())),
            (None, Some(_)) => Err(format!(
                "`{path}` holds a digest, which a new tag alone would leave stale: give `digest` too"
            )),
            (None, None) => Ok(None),
        };
    }
    if ours && (tag.is_some() || digest.is_some()) {
        return Ok(Some(set_reference(current, request)));
    }
    if ours {
        // The repository half of a `repository`/`tag` pair.
        return match &request.new_name {
            Some(n) => Ok(Some(n.clone())),
            None => Err(format!(
                "`{path}` holds the image name `{current}`: point `field-path` at the tag field, or give `new-name`"
            )),
        };
    }
    match (&request.tag, &request.digest) {
        (Some(t), Some(d)) => Ok(Some(format!("{t}@{d}"))),
        (Some(t), None) => Ok(Some(t.clone())),
        (None, Some(_)) => Err(format!(
            "`{path}` holds the tag `{current}`: a digest alone cannot go there; give `tag` too, or point at the digest field"
        )),
        (None, None) => Ok(None),
    }
}

pub fn collect(
    src: &str,
    tree: &Tree,
    request: &Request,
    path: &FieldPath,
    out: &mut Collected,
) -> Result<(), String> {
    let docs = yaml::documents(tree);
    let mut first_error = None;
    let mut found = false;
    for (d, top) in docs.iter().enumerate() {
        let field = if docs.len() > 1 {
            format!("document {} {path}", d + 1)
        } else {
            path.to_string()
        };
        let node = match resolve(*top, path) {
            Ok(node) => node,
            Err(e) => {
                first_error.get_or_insert(e);
                continue;
            }
        };
        found = true;
        let Some(node) = node else {
            return Err(format!("`{path}` has no value to replace"));
        };
        match yaml::value_kind(node) {
            ValueKind::Scalar(s) => {
                let Some(new) = new_value(&s.value, request, path)? else {
                    continue;
                };
                if new == s.value {
                    out.unchanged.push(field);
                    continue;
                }
                let style = if s.value.is_empty() && s.style == Style::Plain {
                    Style::Plain
                } else {
                    s.style
                };
                out.planned.push(Planned {
                    edit: yaml::Edit {
                        range: s.range.clone(),
                        text: yaml::render_scalar(&new, style),
                    },
                    change: Change {
                        form: Form::FieldPath,
                        field,
                        line: yaml::line_number(src, s.range.start),
                        old: Some(s.value),
                        new: Some(new),
                    },
                });
            }
            ValueKind::Alias => {
                return Err(format!(
                    "`{path}` is an alias (`*…`): its value lives at an anchor other fields may share; point `field-path` at the anchored value instead"
                ));
            }
            ValueKind::Other => {
                return Err(format!("`{path}` is not a one-line scalar"));
            }
        }
    }
    if !found {
        return Err(first_error.unwrap_or_else(|| "the file has no documents".to_string()));
    }
    Ok(())
}
