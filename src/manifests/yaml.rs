//! Owns reading a YAML file as a concrete syntax tree (tree-sitter-yaml, the grammar `yamlpath` uses) and the
//! byte-level facts an edit needs: spans of mappings, pairs and scalars in every document of a stream, the
//! file's line ending, indentation unit and sequence style, and how to write a scalar in a given quoting style.
//!
//! Nothing here re-serialises anything: callers turn these spans into [`Edit`]s, which replace exact byte
//! ranges of the original text.

use std::ops::Range;
use std::sync::LazyLock;

use regex::Regex;
use tree_sitter::{Node, Parser, Tree};

/// A file that does not parse, with the 1-based line and column of the first problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

static LOADER_PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern
    Regex::new(r"^(?:error: )?(?:line \d+,? column \d+: )?").unwrap()
});

/// Parses `src`. A file is accepted only when both a YAML 1.2 loader (`serde-saphyr`, which reports precise
/// positions) and the tree-sitter grammar accept it, so every span we edit comes from a tree a loader agrees with.
pub fn parse(src: &str) -> Result<Tree, SyntaxError> {
    if let Err(e) = serde_saphyr::from_multiple::<serde::de::IgnoredAny>(src) {
        let (line, column) = e
            .location()
            .map(|l| (l.line() as usize, l.column() as usize))
            .unwrap_or((1, 1));
        let message = e.to_string();
        let message = message.lines().next().unwrap_or("invalid YAML");
        // The position is reported separately; drop the loader's own `error: line N column M:` prefix.
        let message = LOADER_PREFIX.replace(message, "").to_string();
        return Err(SyntaxError {
            line,
            column,
            message,
        });
    }
    let mut parser = Parser::new();
    let language: tree_sitter::Language = tree_sitter_yaml::LANGUAGE.into();
    parser.set_language(&language).map_err(|e| SyntaxError {
        line: 1,
        column: 1,
        message: format!("the YAML grammar could not be loaded: {e}"),
    })?;
    let tree = parser.parse(src, None).ok_or_else(|| SyntaxError {
        line: 1,
        column: 1,
        message: "the YAML parser gave up".to_string(),
    })?;
    if tree.root_node().has_error() {
        let bad = first_error(tree.root_node()).unwrap_or(tree.root_node());
        let p = bad.start_position();
        return Err(SyntaxError {
            line: p.row + 1,
            column: p.column + 1,
            message: "syntax the editor cannot locate spans in".to_string(),
        });
    }
    Ok(tree)
}

fn first_error(node: Node<'_>) -> Option<Node<'_>> {
    if node.is_error() || node.is_missing() {
        return Some(node);
    }
    let mut cursor = node.walk();
    let children: Vec<_> = node.children(&mut cursor).collect();
    children
        .into_iter()
        .filter(|c| c.has_error() || c.is_error() || c.is_missing())
        .find_map(first_error)
}

/// One replacement of a byte range of the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub range: Range<usize>,
    pub text: String,
}

/// Applies non-overlapping edits; insertions at the same offset keep their order.
pub fn apply_edits(src: &str, edits: &[Edit]) -> Result<String, String> {
    let mut sorted: Vec<(usize, &Edit)> = edits.iter().enumerate().collect();
    sorted.sort_by_key(|(i, e)| (e.range.start, e.range.end, *i));
    let mut out = String::with_capacity(src.len() + 64);
    let mut at = 0;
    for (_, e) in sorted {
        if e.range.start < at {
            return Err(format!(
                "two edits overlap at byte {} (an internal error)",
                e.range.start
            ));
        }
        out.push_str(&src[at..e.range.start]);
        out.push_str(&e.text);
        at = e.range.end;
    }
    out.push_str(&src[at..]);
    Ok(out)
}

/// The top-level node of each document in the stream (documents without content are skipped).
pub fn documents(tree: &Tree) -> Vec<Node<'_>> {
    let root = tree.root_node();
    let mut cursor = root.walk();
    let docs: Vec<_> = root
        .named_children(&mut cursor)
        .filter(|n| n.kind() == "document")
        .collect();
    docs.into_iter()
        .filter_map(|d| {
            let mut c = d.walk();
            d.named_children(&mut c)
                .find(|n| matches!(n.kind(), "block_node" | "flow_node"))
        })
        .collect()
}

/// The node inside a `block_node`/`flow_node` wrapper, past any anchor and tag: a mapping, sequence, scalar
/// or alias.
pub fn inner(node: Node<'_>) -> Node<'_> {
    if !matches!(node.kind(), "block_node" | "flow_node") {
        return node;
    }
    let mut cursor = node.walk();
    let found = node
        .named_children(&mut cursor)
        .find(|n| !matches!(n.kind(), "anchor" | "tag" | "comment"));
    found.unwrap_or(node)
}

pub fn is_mapping(node: Node<'_>) -> bool {
    matches!(node.kind(), "block_mapping" | "flow_mapping")
}

pub fn is_sequence(node: Node<'_>) -> bool {
    matches!(node.kind(), "block_sequence" | "flow_sequence")
}

/// A key/value pair of a mapping.
#[derive(Debug, Clone, Copy)]
pub struct Pair<'t> {
    pub node: Node<'t>,
    pub key: Node<'t>,
    pub value: Option<Node<'t>>,
}

/// The pairs of a block or flow mapping, in order.
pub fn pairs(mapping: Node<'_>) -> Vec<Pair<'_>> {
    let mut cursor = mapping.walk();
    let children: Vec<_> = mapping.named_children(&mut cursor).collect();
    children
        .into_iter()
        .filter(|n| matches!(n.kind(), "block_mapping_pair" | "flow_pair"))
        .filter_map(|n| {
            Some(Pair {
                node: n,
                key: n.child_by_field_name("key")?,
                value: n.child_by_field_name("value"),
            })
        })
        .collect()
}

/// The pair whose key reads `key`.
pub fn find_pair<'t>(src: &str, mapping: Node<'t>, key: &str) -> Option<Pair<'t>> {
    pairs(mapping)
        .into_iter()
        .find(|p| scalar(src, p.key).is_some_and(|s| s.value == key))
}

/// The value nodes of a block or flow sequence, in order.
pub fn items(sequence: Node<'_>) -> Vec<Node<'_>> {
    let mut cursor = sequence.walk();
    let children: Vec<_> = sequence.named_children(&mut cursor).collect();
    let mut out = Vec::new();
    for child in children {
        match child.kind() {
            "block_sequence_item" => {
                let mut c = child.walk();
                if let Some(v) = child
                    .named_children(&mut c)
                    .find(|n| matches!(n.kind(), "block_node" | "flow_node"))
                {
                    out.push(v);
                }
            }
            "flow_node" | "flow_pair" => out.push(child),
            _ => {}
        }
    }
    out
}

/// How a scalar is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Style {
    Plain,
    Single,
    Double,
}

/// A scalar's span (quotes included), style and value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scalar {
    pub range: Range<usize>,
    pub style: Style,
    pub value: String,
}

/// What a value node holds, for the editor's purposes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueKind {
    Scalar(Scalar),
    /// `*name`: the value lives at an anchor, possibly shared.
    Alias,
    /// `|` / `>` scalars, mappings, sequences.
    Other,
}

/// Reads a flow scalar (plain, single- or double-quoted) at or inside `node`.
pub fn scalar(src: &str, node: Node<'_>) -> Option<Scalar> {
    match value_kind(src, node) {
        ValueKind::Scalar(s) => Some(s),
        _ => None,
    }
}

pub fn value_kind(src: &str, node: Node<'_>) -> ValueKind {
    let n = inner(node);
    let raw = &src[n.byte_range()];
    match n.kind() {
        "plain_scalar" => ValueKind::Scalar(Scalar {
            range: n.byte_range(),
            style: Style::Plain,
            // A multi-line plain scalar folds its line breaks into spaces.
            value: raw
                .split(['\n', '\r'])
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join(" "),
        }),
        "single_quote_scalar" => ValueKind::Scalar(Scalar {
            range: n.byte_range(),
            style: Style::Single,
            value: raw
                .get(1..raw.len().saturating_sub(1))
                .unwrap_or("")
                .replace("''", "'"),
        }),
        "double_quote_scalar" => ValueKind::Scalar(Scalar {
            range: n.byte_range(),
            style: Style::Double,
            value: unescape_double(raw.get(1..raw.len().saturating_sub(1)).unwrap_or("")),
        }),
        "alias" => ValueKind::Alias,
        _ => ValueKind::Other,
    }
}

fn unescape_double(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('"') => out.push('"'),
            Some('\\') => out.push('\\'),
            Some('/') => out.push('/'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

// Plain scalars a YAML 1.1 or 1.2 loader (Helm, kyaml, PyYAML) would read as something other than a string.
static NOT_A_STRING: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern
    Regex::new(
        r"(?i)^(?:~|null|true|false|yes|no|y|n|on|off|[-+]?(?:\.inf|\.nan)|[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?(?:e[-+]?[0-9]+)?|[-+]?\.[0-9][0-9_]*(?:e[-+]?[0-9]+)?|0x[0-9a-f_]+|0o?[0-7_]+|0b[01_]+|[0-9]+(?::[0-5]?[0-9])+(?:\.[0-9_]*)?|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*)$",
    )
    .unwrap()
});

// What a plain scalar may safely contain here: image names, tags, digests and references.
static PLAIN_SAFE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern
    Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_./@:+\-\[\]]*$").unwrap()
});

/// Whether `value` reads back as the same string when written plain.
pub fn plain_ok(value: &str) -> bool {
    PLAIN_SAFE.is_match(value) && !NOT_A_STRING.is_match(value) && !value.contains(": ")
}

/// `value` written in `style`. A plain scalar that would read back as a number, boolean or null is written
/// double-quoted instead: keeping the style would change the value's type (`newTag: 1.10` is the float 1.1).
pub fn render_scalar(value: &str, style: Style) -> String {
    match style {
        Style::Plain if plain_ok(value) => value.to_string(),
        Style::Single => format!("'{}'", value.replace('\'', "''")),
        Style::Plain | Style::Double => format!(
            "\"{}\"",
            value
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n")
        ),
    }
}

/// The file's line ending: CRLF when its first line ends with one.
pub fn line_ending(src: &str) -> &'static str {
    match src.find('\n') {
        Some(i) if i > 0 && src.as_bytes()[i - 1] == b'\r' => "\r\n",
        _ => "\n",
    }
}

/// Byte offset of the start of the line containing `pos`.
pub fn line_start(src: &str, pos: usize) -> usize {
    src[..pos].rfind('\n').map(|i| i + 1).unwrap_or(0)
}

/// Byte offset just past the line break of the line containing `pos` (or the end of the text).
pub fn next_line_start(src: &str, pos: usize) -> usize {
    src[pos..]
        .find('\n')
        .map(|i| pos + i + 1)
        .unwrap_or(src.len())
}

/// 0-based column of `pos` in bytes.
pub fn column(src: &str, pos: usize) -> usize {
    pos - line_start(src, pos)
}

/// 1-based line number of `pos`.
pub fn line_number(src: &str, pos: usize) -> usize {
    src[..pos].bytes().filter(|b| *b == b'\n').count() + 1
}

/// Whether only spaces (and an optional `- ` sequence dash) precede `pos` on its line.
pub fn starts_line(src: &str, pos: usize) -> bool {
    src[line_start(src, pos)..pos]
        .chars()
        .all(|c| c == ' ' || c == '-' || c == '\t')
}

/// The indentation habits of a file, read from its existing block structure so added lines look like the
/// lines around them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Spaces a nested block mapping is indented by.
    pub unit: usize,
    /// Whether a block sequence under a key starts at the key's column (`key:\n- a`).
    pub indentless: bool,
}

/// Reads the [`Layout`] of the whole tree; defaults (2 spaces, indentless as kustomize writes) when the file
/// has no example to follow.
pub fn layout(src: &str, tree: &Tree) -> Layout {
    let mut unit = None;
    let mut indentless = None;
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.kind() == "block_mapping_pair"
            && let (Some(key), Some(value)) = (
                node.child_by_field_name("key"),
                node.child_by_field_name("value"),
            )
        {
            let v = inner(value);
            let key_col = column(src, key.start_byte());
            let v_col = column(src, v.start_byte());
            let on_new_line = line_number(src, v.start_byte()) > line_number(src, key.start_byte());
            if on_new_line && v.kind() == "block_mapping" && unit.is_none() && v_col > key_col {
                unit = Some(v_col - key_col);
            }
            if on_new_line && v.kind() == "block_sequence" && indentless.is_none() {
                indentless = Some(v_col == key_col);
            }
        }
        if unit.is_some() && indentless.is_some() {
            break;
        }
        let mut cursor = node.walk();
        let children: Vec<_> = node.named_children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    Layout {
        unit: unit.unwrap_or(2),
        indentless: indentless.unwrap_or(true),
    }
}

/// Every comment node, in order.
pub fn comments(tree: &Tree) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if node.kind() == "comment" {
            out.push(node);
            continue;
        }
        let mut cursor = node.walk();
        let children: Vec<_> = node.children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    out
}

/// Every flow scalar that is a value (of a pair or a sequence item), with the node holding it.
pub fn value_scalars(tree: &Tree) -> Vec<Node<'_>> {
    let mut out = Vec::new();
    let mut stack = vec![tree.root_node()];
    while let Some(node) = stack.pop() {
        if matches!(
            node.kind(),
            "plain_scalar" | "single_quote_scalar" | "double_quote_scalar"
        ) {
            let is_key = node
                .parent()
                .and_then(|wrapper| {
                    let pair = wrapper.parent()?;
                    let key = pair.child_by_field_name("key")?;
                    Some(key.id() == wrapper.id())
                })
                .unwrap_or(false);
            if !is_key {
                out.push(node);
            }
            continue;
        }
        let mut cursor = node.walk();
        let children: Vec<_> = node.named_children(&mut cursor).collect();
        stack.extend(children.into_iter().rev());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_values_that_would_change_type_are_quoted() {
        for v in [
            "1.10",
            "20240101",
            "true",
            "no",
            "1e5",
            "0x1F",
            "null",
            "2024-01-02",
        ] {
            assert_eq!(render_scalar(v, Style::Plain), format!("\"{v}\""), "{v}");
        }
        for v in [
            "v1.2.3",
            "sha256:abc",
            "ghcr.io/org/app",
            "1.2.3-rc.1",
            "latest",
        ] {
            assert_eq!(render_scalar(v, Style::Plain), v, "{v}");
        }
        assert_eq!(render_scalar("it's", Style::Single), "'it''s'");
    }

    #[test]
    fn syntax_errors_name_the_line() {
        let err = parse("a: 1\nb: [1, 2\nc: 3\n").expect_err("unclosed");
        assert!(err.line >= 2, "{err:?}");
    }

    #[test]
    fn layout_reads_indentation_habits() {
        let src = "a:\n    b: 1\nlist:\n  - x\n";
        let tree = parse(src).expect("parse");
        assert_eq!(
            layout(src, &tree),
            Layout {
                unit: 4,
                indentless: false
            }
        );
    }
}
