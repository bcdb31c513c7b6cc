//! Owns reading a YAML file as a syntax tree with exact byte spans, and the byte-level facts an edit needs:
//! spans of mappings, pairs and scalars in every document of a stream, comments, the file's line ending,
//! indentation unit and sequence style, and how to write a scalar in a given quoting style.
//!
//! The tree is built from the events of `granit-parser`, the YAML 1.2 parser the loader `serde-saphyr` runs
//! on, so every span we edit comes from the parse a loader makes (no second grammar to agree with), in one
//! pass. Nothing here re-serialises anything: callers turn these spans into [`Edit`]s, which replace exact
//! byte ranges of the original text.

use std::ops::Range;
use std::sync::LazyLock;

use granit_parser::{Event, ScalarStyle, StructureStyle};
use regex::Regex;

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

/// What a node of the tree is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    BlockMapping,
    FlowMapping,
    BlockSequence,
    FlowSequence,
    Scalar,
    Alias,
}

const NONE: usize = usize::MAX;

#[derive(Debug)]
struct NodeData {
    kind: Kind,
    /// Scalars: the token, quotes included, anchor and tag excluded. Block collections: first key or dash to
    /// the end of the last child. Flow collections: bracket to bracket.
    range: Range<usize>,
    /// 1-based lines of the first and last byte.
    line: usize,
    end_line: usize,
    parent: usize,
    first_child: usize,
    last_child: usize,
    next_sibling: usize,
    children: usize,
    /// Whether the node is a mapping key.
    is_key: bool,
    /// Scalars: `Some` for flow scalars (plain, quoted), `None` for block scalars (`|`, `>`).
    style: Option<Style>,
    /// Scalars: where in [`Tree::values`] the value as the loader reads it lies ("" for an empty value).
    value: Range<usize>,
}

/// A comment (`#` to the end of its line, line break excluded).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub range: Range<usize>,
    /// 1-based.
    pub line: usize,
}

/// A parsed YAML stream.
#[derive(Debug)]
pub struct Tree {
    nodes: Vec<NodeData>,
    /// Every scalar's value, one after the other (one allocation instead of one per scalar).
    values: String,
    documents: Vec<usize>,
    comments: Vec<Comment>,
    /// Whether the stream uses something whose meaning to a loader is not checked while building the tree
    /// (see [`parse`]).
    needs_loader: bool,
}

/// A node of a [`Tree`]: cheap to copy, compared by identity.
#[derive(Clone, Copy)]
pub struct Node<'t> {
    tree: &'t Tree,
    id: usize,
}

impl PartialEq for Node<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.tree, other.tree) && self.id == other.id
    }
}

impl Eq for Node<'_> {}

impl std::fmt::Debug for Node<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}@{:?}", self.kind(), self.byte_range())
    }
}

impl<'t> Node<'t> {
    fn data(self) -> &'t NodeData {
        &self.tree.nodes[self.id]
    }

    fn at(self, id: usize) -> Option<Node<'t>> {
        (id != NONE).then_some(Node {
            tree: self.tree,
            id,
        })
    }

    pub fn kind(self) -> Kind {
        self.data().kind
    }

    pub fn byte_range(self) -> Range<usize> {
        self.data().range.clone()
    }

    pub fn start_byte(self) -> usize {
        self.data().range.start
    }

    pub fn end_byte(self) -> usize {
        self.data().range.end
    }

    /// 1-based line of the node's first byte.
    pub fn line(self) -> usize {
        self.data().line
    }

    /// 1-based line of the node's last byte.
    pub fn end_line(self) -> usize {
        self.data().end_line
    }

    /// The mapping or sequence holding this node (`None` for a document's top node).
    pub fn parent(self) -> Option<Node<'t>> {
        self.at(self.data().parent)
    }

    /// Whether the node is a mapping key.
    pub fn is_key(self) -> bool {
        self.data().is_key
    }

    /// Children in order: for a mapping, key, value, key, value…
    pub fn children(self) -> impl Iterator<Item = Node<'t>> + 't {
        std::iter::successors(self.at(self.data().first_child), |n| {
            n.at(n.data().next_sibling)
        })
    }

    /// A flow scalar's style; `None` for anything else.
    pub fn style(self) -> Option<Style> {
        let d = self.data();
        if d.kind == Kind::Scalar {
            d.style
        } else {
            None
        }
    }

    /// A scalar's loaded value; `None` for anything else.
    pub fn scalar_value(self) -> Option<&'t str> {
        let d = self.data();
        (d.kind == Kind::Scalar && d.style.is_some()).then(|| &self.tree.values[d.value.clone()])
    }
}

// Limits under which the tree builder's own checks are all a loader would do (see `parse`): serde-saphyr's
// budget refuses nesting deeper than 64 and, far above these, more than 250,000 nodes or 1,024 documents.
const FAST_MAX_DEPTH: usize = 32;
const FAST_MAX_BYTES: usize = 128 * 1024;
const FAST_MAX_DOCUMENTS: usize = 512;

/// Parses `src`. A file is accepted exactly when the loader `serde-saphyr` accepts it (multi-document, into
/// any value), which is what the rest of a GitOps toolchain will do with it.
///
/// One `granit-parser` pass both builds the tree and checks the syntax: serde-saphyr runs on that same
/// parser with the same settings, so they reject the same text. Beyond syntax, serde-saphyr refuses
/// duplicate keys, non-finite floats (`.inf`, `1e999`), values that contradict their tags, bad merge keys
/// and alias bombs. The builder looks for everything those refusals depend on (tags, anchors and aliases,
/// merge keys, keys that are equal or that a loader could read as numbers, booleans or nulls, plain scalars
/// that could read as non-finite floats, deep nesting, big inputs); only a file that has any of them is
/// also run through serde-saphyr itself (about twice the cost), so both paths accept the same files.
/// Error messages are serde-saphyr's in both cases.
pub fn parse(src: &str) -> Result<Tree, SyntaxError> {
    parse_with(src, Comments::Keep)
}

/// Whether [`parse`] collects the file's comments ([`comments`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comments {
    Keep,
    /// Not needed: the parse is about 15 % faster without them (the verdict is the same, see [`parse_with`]).
    Skip,
}

/// [`parse`], collecting comments or not. Skipping them changes no verdict: the parser still reads and
/// checks them; the one limit that counts comments (32 buffered in one place, serde-saphyr's setting) can
/// only be reached by a file with more than 32 `#`, and such a file is parsed with comments whatever is asked.
pub fn parse_with(src: &str, comments: Comments) -> Result<Tree, SyntaxError> {
    match build(src, comments) {
        Ok(tree) if !tree.needs_loader => Ok(tree),
        Ok(tree) => match loader_error(src) {
            Some(e) => Err(e),
            None => Ok(tree),
        },
        Err(scan) => Err(loader_error(src).unwrap_or_else(|| {
            let m = scan.marker();
            SyntaxError {
                line: m.line(),
                column: m.col() + 1,
                message: scan.to_string(),
            }
        })),
    }
}

/// Whether `src` parses without needing serde-saphyr's own pass too.
#[cfg(test)]
fn checked_in_one_pass(src: &str) -> bool {
    build(src, Comments::Keep).is_ok_and(|t| !t.needs_loader)
}

/// serde-saphyr's verdict on `src`, as a [`SyntaxError`] when it refuses it.
fn loader_error(src: &str) -> Option<SyntaxError> {
    let e = serde_saphyr::from_multiple::<serde::de::IgnoredAny>(src).err()?;
    let (line, column) = e
        .location()
        .map(|l| (l.line() as usize, l.column() as usize))
        .unwrap_or((1, 1));
    let message = e.to_string();
    let message = message.lines().next().unwrap_or("invalid YAML");
    // The position is reported separately; drop the loader's own `error: line N column M:` prefix.
    let message = LOADER_PREFIX.replace(message, "").to_string();
    Some(SyntaxError {
        line,
        column,
        message,
    })
}

fn build(src: &str, comments: Comments) -> Result<Tree, granit_parser::ScanError> {
    let emit_comments =
        comments == Comments::Keep || src.bytes().filter(|b| *b == b'#').count() > 32;
    // serde-saphyr's parser settings (its `Budget::parser_options`; the rest are granit's defaults).
    let options = granit_parser::options! {
        max_buffered_comment_events: 32,
        emit_comments: emit_comments,
    };
    let mut tree = Tree {
        nodes: Vec::with_capacity(64),
        values: String::with_capacity(src.len() / 2),
        documents: Vec::new(),
        comments: Vec::new(),
        needs_loader: src.len() > FAST_MAX_BYTES,
    };
    let mut open: Vec<usize> = Vec::with_capacity(16);
    let mut keys = Vec::with_capacity(16);
    for item in granit_parser::Parser::new_from_str_with_options(src, options) {
        let (event, span) = item?;
        let start = span.start.byte_offset().unwrap_or(0);
        let end = span.end.byte_offset().unwrap_or(start).max(start);
        let (line, end_line) = (span.start.line(), span.end.line());
        match event {
            Event::Comment(..) => tree.comments.push(Comment {
                range: start..end,
                line,
            }),
            Event::Scalar(value, style, anchor, tag) => {
                let flow = match style {
                    ScalarStyle::Plain => Some(Style::Plain),
                    ScalarStyle::SingleQuoted => Some(Style::Single),
                    ScalarStyle::DoubleQuoted => Some(Style::Double),
                    _ => None,
                };
                if anchor != 0 || tag.is_some() {
                    tree.needs_loader = true;
                }
                let mut range = start..end;
                let mut value: &str = &value;
                if flow == Some(Style::Plain) {
                    if could_be_non_finite(value) {
                        tree.needs_loader = true;
                    }
                    if start == end {
                        // An empty value (`key:`, `- `): the loader's `~` has no bytes.
                        value = "";
                    }
                }
                let mut end_line = end_line;
                if flow.is_none() {
                    // A block scalar's span runs on to the next line's indentation: end it at its content.
                    let content = src[range.clone()].trim_end();
                    range.end = start + content.len();
                    end_line = line + content.matches('\n').count();
                }
                let at = tree.values.len();
                tree.values.push_str(value);
                let value = at..tree.values.len();
                tree.push(
                    src,
                    &open,
                    NodeData {
                        kind: Kind::Scalar,
                        range,
                        line,
                        end_line,
                        parent: NONE,
                        first_child: NONE,
                        last_child: NONE,
                        next_sibling: NONE,
                        children: 0,
                        is_key: false,
                        style: flow,
                        value,
                    },
                );
            }
            Event::Alias(_) => {
                tree.needs_loader = true;
                tree.push(src, &open, bare(Kind::Alias, start..end, line));
            }
            Event::SequenceStart(style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    tree.needs_loader = true;
                }
                let (kind, start, line) = match style {
                    StructureStyle::Block => {
                        // The parser starts an indented block sequence at its first dash but an indentless
                        // one (`key:\n- a`) at the first item's content: start both at the dash.
                        let dash = first_dash(src, start);
                        let lines_back = src[dash..start].matches('\n').count();
                        (Kind::BlockSequence, dash, line - lines_back)
                    }
                    StructureStyle::Flow => (Kind::FlowSequence, start, line),
                };
                let id = tree.push(src, &open, bare(kind, start..end.max(start), line));
                open.push(id);
                if open.len() > FAST_MAX_DEPTH {
                    tree.needs_loader = true;
                }
            }
            Event::MappingStart(style, anchor, tag) => {
                if anchor != 0 || tag.is_some() {
                    tree.needs_loader = true;
                }
                let kind = match style {
                    StructureStyle::Block => Kind::BlockMapping,
                    StructureStyle::Flow => Kind::FlowMapping,
                };
                let id = tree.push(src, &open, bare(kind, start..end, line));
                open.push(id);
                if open.len() > FAST_MAX_DEPTH {
                    tree.needs_loader = true;
                }
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if let Some(id) = open.pop() {
                    tree.close(id, end, end_line, &mut keys);
                }
            }
            _ => {}
        }
    }
    if tree.documents.len() > FAST_MAX_DOCUMENTS {
        tree.needs_loader = true;
    }
    tree.comments.sort_by_key(|c| c.range.start);
    Ok(tree)
}

/// A node without scalar data (a collection or an alias), its children still to come.
fn bare(kind: Kind, range: Range<usize>, line: usize) -> NodeData {
    NodeData {
        kind,
        range,
        line,
        end_line: line,
        parent: NONE,
        first_child: NONE,
        last_child: NONE,
        next_sibling: NONE,
        children: 0,
        is_key: false,
        style: None,
        value: 0..0,
    }
}

impl Tree {
    /// Adds a node under the innermost open collection (or as a document's top node).
    fn push(&mut self, src: &str, open: &[usize], mut node: NodeData) -> usize {
        let id = self.nodes.len();
        match open.last() {
            None => {
                // A document without content reads as an empty null: it has no node to edit.
                if !(node.kind == Kind::Scalar && node.range.is_empty()) {
                    self.documents.push(id);
                }
            }
            Some(&parent) => {
                let p = &self.nodes[parent];
                let is_value = matches!(p.kind, Kind::BlockMapping | Kind::FlowMapping)
                    && !p.children.is_multiple_of(2);
                if is_value && node.kind == Kind::Scalar && node.range.is_empty() {
                    // `key:` with no value: place the empty value just past the colon, so the pair ends
                    // there and an inserted value goes after it.
                    let key_end = self.nodes[p.last_child].range.end;
                    let at = colon_after(src, key_end).map_or(key_end, |c| c + 1);
                    node.range = at..at;
                }
                node.parent = parent;
                node.is_key = matches!(p.kind, Kind::BlockMapping | Kind::FlowMapping)
                    && p.children.is_multiple_of(2);
                let prev = p.last_child;
                if prev == NONE {
                    self.nodes[parent].first_child = id;
                } else {
                    self.nodes[prev].next_sibling = id;
                }
                let p = &mut self.nodes[parent];
                p.last_child = id;
                p.children += 1;
            }
        }
        self.nodes.push(node);
        id
    }

    /// Ends collection `id`; `end` is the end of its closing event (a flow bracket, or nothing for a block).
    /// `keys` is scratch space, kept between calls.
    fn close(&mut self, id: usize, end: usize, end_line: usize, keys: &mut Vec<Range<usize>>) {
        let last = self.nodes[id].last_child;
        let node = &mut self.nodes[id];
        if matches!(node.kind, Kind::FlowMapping | Kind::FlowSequence) {
            node.range.end = end.max(node.range.start);
            node.end_line = end_line;
        } else if last != NONE {
            let (last_end, last_line) = (self.nodes[last].range.end, self.nodes[last].end_line);
            let node = &mut self.nodes[id];
            node.range.end = last_end.max(node.range.start);
            node.end_line = last_line;
        }
        if matches!(self.nodes[id].kind, Kind::BlockMapping | Kind::FlowMapping)
            && !self.keys_are_plainly_distinct(id, keys)
        {
            self.needs_loader = true;
        }
    }

    /// Whether a loader could not object to this mapping's keys: all scalars, none a merge key `<<`, no two
    /// equal, and at most one that a loader might read as a number, boolean or null (serde-saphyr compares
    /// such keys by what they load as: `0x1` and `1` are the same key).
    fn keys_are_plainly_distinct(&self, mapping: usize, keys: &mut Vec<Range<usize>>) -> bool {
        keys.clear();
        let mut typed = 0;
        let mut id = self.nodes[mapping].first_child;
        let mut is_key = true;
        while id != NONE {
            let d = &self.nodes[id];
            if is_key {
                if d.kind != Kind::Scalar || d.style.is_none() {
                    return false;
                }
                let value = &self.values[d.value.clone()];
                if value == "<<" {
                    return false;
                }
                if may_load_as_non_string(value) {
                    typed += 1;
                }
                keys.push(d.value.clone());
            }
            is_key = !is_key;
            id = d.next_sibling;
        }
        if typed > 1 {
            return false;
        }
        let text = |r: &Range<usize>| &self.values[r.clone()];
        keys.sort_unstable_by(|a, b| text(a).cmp(text(b)));
        keys.windows(2).all(|w| text(&w[0]) != text(&w[1]))
    }
}

/// The dash of a block sequence's first item: at `start`, or the first `-` before it with only white
/// space between.
fn first_dash(src: &str, start: usize) -> usize {
    if src.as_bytes().get(start) == Some(&b'-') {
        return start;
    }
    let before = &src[..start];
    let trimmed = before.trim_end_matches([' ', '\t', '\r', '\n']);
    if trimmed.ends_with('-') {
        trimmed.len() - 1
    } else {
        start
    }
}

/// The byte offset of the `:` that follows a mapping key ending at `key_end` (spaces may come between).
fn colon_after(src: &str, key_end: usize) -> Option<usize> {
    let rest = src.get(key_end..)?;
    let skipped = rest.len() - rest.trim_start_matches([' ', '\t']).len();
    (rest.as_bytes().get(skipped) == Some(&b':')).then_some(key_end + skipped)
}

/// Whether a plain scalar might load as an infinite or NaN float, which serde-saphyr refuses: `.inf`,
/// `.nan` and their spellings, and numerals that overflow (`1e999`, 400 digits).
fn could_be_non_finite(value: &str) -> bool {
    // A plain scalar's value has no surrounding white space to trim.
    let t = value.strip_prefix(['+', '-']).unwrap_or(value);
    match t.as_bytes().first() {
        Some(b'.') => t.bytes().any(|b| matches!(b, b'i' | b'I' | b'n' | b'N')),
        Some(b) if b.is_ascii_digit() => {
            t.len() > 300 || t.bytes().any(|b| matches!(b, b'e' | b'E'))
        }
        _ => false,
    }
}

/// Whether a key might load as something other than a string (a superset: only used to be careful).
fn may_load_as_non_string(value: &str) -> bool {
    match value.as_bytes().first() {
        None => true,
        Some(b) if b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'~') => true,
        // The words YAML 1.1 and 1.2 loaders read as booleans or null.
        Some(_) => {
            value.len() <= 5
                && ["null", "true", "false", "yes", "no", "y", "n", "on", "off"]
                    .iter()
                    .any(|w| w.eq_ignore_ascii_case(value))
        }
    }
}

/// One replacement of a byte range of the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edit {
    pub range: Range<usize>,
    pub text: String,
}

/// Applies non-overlapping edits; insertions at the same offset keep their order.
pub fn apply_edits(src: &str, edits: &[Edit]) -> Result<String, String> {
    splice(src, edits).map(|(text, _)| text)
}

/// Like [`apply_edits`], also returning where each edit's new text lies in the result.
pub fn splice(src: &str, edits: &[Edit]) -> Result<(String, Vec<Range<usize>>), String> {
    let mut order: Vec<usize> = (0..edits.len()).collect();
    order.sort_by_key(|&i| (edits[i].range.start, edits[i].range.end, i));
    let mut out = String::with_capacity(src.len() + 64);
    let mut placed = vec![0..0; edits.len()];
    let mut at = 0;
    for i in order {
        let e = &edits[i];
        if e.range.start < at || e.range.end > src.len() {
            return Err(format!(
                "two edits overlap at byte {} (an internal error)",
                e.range.start
            ));
        }
        out.push_str(&src[at..e.range.start]);
        let start = out.len();
        out.push_str(&e.text);
        placed[i] = start..out.len();
        at = e.range.end;
    }
    out.push_str(&src[at..]);
    Ok((out, placed))
}

/// The top-level node of each document in the stream (documents without content are skipped).
pub fn documents(tree: &Tree) -> Vec<Node<'_>> {
    tree.documents.iter().map(|&id| Node { tree, id }).collect()
}

pub fn is_mapping(node: Node<'_>) -> bool {
    matches!(node.kind(), Kind::BlockMapping | Kind::FlowMapping)
}

pub fn is_sequence(node: Node<'_>) -> bool {
    matches!(node.kind(), Kind::BlockSequence | Kind::FlowSequence)
}

/// A key/value pair of a mapping.
#[derive(Debug, Clone)]
pub struct Pair<'t> {
    /// From the key's first byte to the value's last (to just past the colon when there is no value).
    pub range: Range<usize>,
    pub key: Node<'t>,
    /// `None` for `key:` with nothing after it.
    pub value: Option<Node<'t>>,
}

/// The pairs of a block or flow mapping, in order.
pub fn pairs(mapping: Node<'_>) -> Vec<Pair<'_>> {
    if !is_mapping(mapping) {
        return Vec::new();
    }
    let mut out = Vec::with_capacity(mapping.data().children / 2);
    let mut children = mapping.children();
    while let (Some(key), Some(value)) = (children.next(), children.next()) {
        out.push(pair(key, value));
    }
    out
}

fn pair<'t>(key: Node<'t>, value: Node<'t>) -> Pair<'t> {
    let empty = value.kind() == Kind::Scalar && value.byte_range().is_empty();
    Pair {
        range: key.start_byte()..value.end_byte().max(key.end_byte()),
        key,
        value: (!empty).then_some(value),
    }
}

/// The pair whose key reads `key`.
pub fn find_pair<'t>(mapping: Node<'t>, key: &str) -> Option<Pair<'t>> {
    if !is_mapping(mapping) {
        return None;
    }
    let mut children = mapping.children();
    while let (Some(k), Some(v)) = (children.next(), children.next()) {
        if k.scalar_value() == Some(key) {
            return Some(pair(k, v));
        }
    }
    None
}

/// The items of a block or flow sequence, in order (an empty item `- ` is an empty scalar).
pub fn items(sequence: Node<'_>) -> Vec<Node<'_>> {
    if !is_sequence(sequence) {
        return Vec::new();
    }
    sequence.children().collect()
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
    /// `|` / `>` scalars, mappings, sequences, an empty sequence item.
    Other,
}

/// Reads a flow scalar (plain, single- or double-quoted).
pub fn scalar(node: Node<'_>) -> Option<Scalar> {
    match value_kind(node) {
        ValueKind::Scalar(s) => Some(s),
        _ => None,
    }
}

pub fn value_kind(node: Node<'_>) -> ValueKind {
    let d = node.data();
    match (d.kind, d.style) {
        // An empty sequence item has no bytes to replace.
        (Kind::Scalar, Some(_)) if d.range.is_empty() && !node.parent().is_some_and(is_mapping) => {
            ValueKind::Other
        }
        (Kind::Scalar, Some(style)) => ValueKind::Scalar(Scalar {
            range: d.range.clone(),
            style,
            value: node.tree.values[d.value.clone()].to_string(),
        }),
        (Kind::Alias, _) => ValueKind::Alias,
        _ => ValueKind::Other,
    }
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

/// Reads the [`Layout`] of the whole tree, from the first examples in document order; defaults (2 spaces,
/// indentless as kustomize writes) when the file has no example to follow.
pub fn layout(src: &str, tree: &Tree) -> Layout {
    let mut unit = None;
    let mut indentless = None;
    // Nodes are stored in document order (pre-order): the keys in id order are the pairs as they appear.
    for (id, d) in tree.nodes.iter().enumerate() {
        let block_key = d.is_key && tree.nodes[d.parent].kind == Kind::BlockMapping;
        if !block_key || d.next_sibling == NONE {
            continue;
        }
        let key = Node { tree, id };
        let v = Node {
            tree,
            id: d.next_sibling,
        };
        let key_col = column(src, key.start_byte());
        let v_col = column(src, v.start_byte());
        let on_new_line = v.line() > key.line();
        if on_new_line && v.kind() == Kind::BlockMapping && unit.is_none() && v_col > key_col {
            unit = Some(v_col - key_col);
        }
        if on_new_line && v.kind() == Kind::BlockSequence && indentless.is_none() {
            indentless = Some(v_col == key_col);
        }
        if unit.is_some() && indentless.is_some() {
            break;
        }
    }
    Layout {
        unit: unit.unwrap_or(2),
        indentless: indentless.unwrap_or(true),
    }
}

/// Every comment, in order.
pub fn comments(tree: &Tree) -> &[Comment] {
    &tree.comments
}

/// Every flow scalar that is a value (of a pair or a sequence item) and has bytes, in order.
pub fn value_scalars(tree: &Tree) -> Vec<Node<'_>> {
    (0..tree.nodes.len())
        .map(|id| Node { tree, id })
        .filter(|n| n.scalar_value().is_some() && !n.byte_range().is_empty() && !n.is_key())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

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
        // The first example in the file counts, however deep it is.
        let src = "x:\n  - y:\n        z: 1\nw:\n  k: 1\nl:\n- a\n";
        let tree = parse(src).expect("parse");
        assert_eq!(
            layout(src, &tree),
            Layout {
                unit: 4,
                indentless: false
            }
        );
    }

    #[test]
    fn spans_are_the_bytes_a_splice_needs() {
        let src = "# c\nimages:\n- name: 'app'  # x\n  newTag:\n  list:\n    - \"q\\\"\"\n  lit: |\n    text\n\nz: {a: [1]}\n";
        let tree = parse(src).expect("parse");
        let top = documents(&tree)[0];
        let images = find_pair(top, "images")
            .and_then(|p| p.value)
            .expect("images");
        // An indentless sequence starts at its dash, like an indented one.
        assert_eq!(images.kind(), Kind::BlockSequence);
        assert_eq!(&src[images.start_byte()..images.start_byte() + 2], "- ");
        let entry = items(images)[0];
        let name = find_pair(entry, "name")
            .and_then(|p| p.value)
            .expect("name");
        assert_eq!(&src[name.byte_range()], "'app'");
        assert_eq!(
            scalar(name).map(|s| (s.style, s.value)),
            Some((Style::Single, "app".into()))
        );
        // `key:` with nothing after it: no value, and the pair ends just past the colon.
        let tag = find_pair(entry, "newTag").expect("newTag");
        assert!(tag.value.is_none());
        assert_eq!(&src[tag.range.clone()], "newTag:");
        // Quoted values are the loader's, escapes resolved.
        let list = find_pair(entry, "list")
            .and_then(|p| p.value)
            .expect("list");
        assert_eq!(items(list)[0].scalar_value(), Some("q\""));
        // A block scalar ends with its text, not at the next key, and is not a value to edit.
        let lit = find_pair(entry, "lit").and_then(|p| p.value).expect("lit");
        assert!(src[..lit.end_byte()].ends_with("    text"), "{:?}", lit);
        assert_eq!(value_kind(lit), ValueKind::Other);
        assert_eq!(entry.end_byte(), lit.end_byte());
        // Flow collections span their brackets.
        let z = find_pair(top, "z").and_then(|p| p.value).expect("z");
        assert_eq!(&src[z.byte_range()], "{a: [1]}");
        assert_eq!(
            comments(&tree).iter().map(|c| c.line).collect::<Vec<_>>(),
            [1, 3]
        );
        assert!(name.parent() == Some(entry) && !name.is_key());
    }

    #[test]
    fn ordinary_manifests_need_one_pass_and_unusual_ones_the_loader_too() {
        let ordinary = "# overlay\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n  - ../../base\nimages:\n- name: ghcr.io/org/app\n  newTag: \"1.27\"\n  digest: sha256:0123\nreplicas: [{name: app, count: 3}]\n";
        assert!(checked_in_one_pass(ordinary));
        for unusual in [
            "a: &x 1\nb: *x\n",
            "a: !!str 1\n",
            "a: 1\na: 2\n",
            "0x1: a\n1: b\n",
            "<<: {a: 1}\n",
            "a: .inf\n",
            "a: 1e999\n",
            "? [a]\n: 1\n",
        ] {
            assert!(!checked_in_one_pass(unusual), "{unusual:?}");
        }
        assert!(
            parse("a: 1\na: 2\n")
                .expect_err("duplicate")
                .message
                .contains("duplicate")
        );
    }

    fn loader_accepts(src: &str) -> bool {
        serde_saphyr::from_multiple::<serde::de::IgnoredAny>(src).is_ok()
    }

    // Pieces of YAML, ordinary and not, that the loader's verdict depends on, in well-formed block structure
    // (so that most documents get past the syntax to what the loader checks beyond it).
    fn key() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => "[a-z]{1,8}",
            1 => prop::sample::select(vec![
                "a", "'a'", "\"a\"", "1", "0x1", "+1", "01", "true", "True", "null", "~", "<<", ".inf",
                "? a", "&k a", "!!str a", "[a]", "{a: 1}", "a b", "\"\"",
            ])
            .prop_map(String::from),
        ]
    }

    fn value() -> impl Strategy<Value = String> {
        prop_oneof![
            6 => "[a-z][a-z0-9.:/-]{0,12}",
            2 => prop::sample::select(vec!["'v1'", "\"v1\"", "", "~", "1.10", "1e5", "|", "[1, 2]", "{a: 1}"])
                .prop_map(String::from),
            1 => prop::sample::select(vec![
                ".inf", "-.Inf", "+.nan", ".nan", ".NaN", "1e999", "9".repeat(400).leak(), "&x v", "*x",
                "!!int 5", "!!int abc", "!!str 1", "! x", "{a: 1, a: 2}", "[", "'open", "\"\\q\"",
                "x # c", "# c", "a: b", "{<<: {a: 1}}", "{0x1: a, 1: b}", "[.inf]", "{? a}",
            ])
            .prop_map(String::from),
        ]
    }

    #[derive(Debug, Clone)]
    enum Shape {
        Scalar(String),
        Map(Vec<(String, Shape)>),
        Seq(Vec<Shape>),
    }

    fn shape() -> impl Strategy<Value = Shape> {
        value()
            .prop_map(Shape::Scalar)
            .prop_recursive(3, 24, 4, |inner| {
                prop_oneof![
                    prop::collection::vec((key(), inner.clone()), 1..5).prop_map(Shape::Map),
                    prop::collection::vec(inner, 1..4).prop_map(Shape::Seq),
                ]
            })
    }

    fn render(shape: &Shape, indent: usize, out: &mut String) {
        let pad = " ".repeat(indent);
        match shape {
            Shape::Scalar(v) if v == "|" => out.push_str(&format!("|\n{pad}  text\n")),
            Shape::Scalar(v) => out.push_str(&format!("{v}\n")),
            Shape::Map(pairs) => {
                for (i, (k, v)) in pairs.iter().enumerate() {
                    // The first key of an item follows its dash on the same line.
                    if i > 0 || !out.ends_with("- ") {
                        out.push_str(&pad);
                    }
                    match k.strip_prefix("? ") {
                        Some(k) => out.push_str(&format!("? {k}\n{pad}:")),
                        None => out.push_str(&format!("{k}:")),
                    }
                    match v {
                        Shape::Scalar(_) => {
                            out.push(' ');
                            render(v, indent, out);
                        }
                        _ => {
                            out.push('\n');
                            render(v, indent + 2, out);
                        }
                    }
                }
            }
            Shape::Seq(items) => {
                for item in items {
                    out.push_str(&format!("{pad}- "));
                    match item {
                        Shape::Seq(_) => {
                            out.push('\n');
                            render(item, indent + 2, out);
                        }
                        _ => render(item, indent + 2, out),
                    }
                }
            }
        }
    }

    fn document() -> impl Strategy<Value = String> {
        (prop::collection::vec((key(), shape()), 1..6), 0usize..3).prop_map(|(pairs, comments)| {
            let mut out = "# a comment\n".repeat(comments * 20);
            render(&Shape::Map(pairs), 0, &mut out);
            out
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// The one-pass checks plus the loader where they defer to it give serde-saphyr's verdict, with or
        /// without comments collected.
        #[test]
        fn the_verdict_is_the_loaders(docs in prop::collection::vec(document(), 1..3)) {
            let src = docs.join("---\n");
            let ours = parse(&src);
            prop_assert_eq!(ours.is_ok(), loader_accepts(&src), "{:?}: {:?}", src, ours.err());
            prop_assert_eq!(parse_with(&src, Comments::Skip).is_ok(), ours.is_ok(), "{:?}", src);
        }
    }

    #[test]
    fn the_generated_documents_are_both_accepted_and_refused() {
        use proptest::strategy::ValueTree;
        let mut runner = proptest::test_runner::TestRunner::deterministic();
        let (mut accepted, mut fast) = (0, 0);
        for _ in 0..500 {
            let src = document().new_tree(&mut runner).expect("tree").current();
            if loader_accepts(&src) {
                accepted += 1;
                fast += usize::from(checked_in_one_pass(&src));
            }
        }
        assert!((50..450).contains(&accepted), "{accepted} of 500 accepted");
        assert!(
            fast > 10 && fast < accepted,
            "{fast} of {accepted} accepted in one pass"
        );
    }
}
