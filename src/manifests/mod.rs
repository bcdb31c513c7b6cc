//! Owns manifest patching: changing an image's name, tag or digest in a hand-written YAML file and leaving
//! every other byte as it was. Three forms are understood: a Kustomization's `images:` list, Flux image
//! automation's setter markers (`# {"$imagepolicy": "NS:NAME[:tag|:name|:digest]"}`), and an explicit
//! field path (`spec.values.image.tag`) for Helm values and anything else.
//!
//! Why span edits and not `yamlpatch` operations (read from yamlpatch/yamlpath 1.25):
//! - `Op::Replace` writes the new value through `serde_yaml`, so `newTag: "v1"` loses its quotes, and in a
//!   flow mapping it rewrites the whole `{ k: v }` with its own spacing;
//! - every operation appends a final newline, so a file without one gains a byte;
//! - `Op::Add` nests added mappings by a fixed two spaces and `Op::Append` cannot follow an indentless
//!   sequence's own dash column, and neither handles flow sequences or CRLF files;
//! - `yamlpath` queries only the first document of a stream.
//!
//! So edits here are byte ranges located on a syntax tree built from the loader's own parser ([`yaml`]),
//! with new text written in the style of the text around it. After editing, the result is parsed again
//! and every value written is read back from it.

mod fieldpath;
pub mod files;
mod flux;
pub(crate) mod kustomize;
pub mod yaml;

use serde::Serialize;

use crate::error::{Error, Kind, Result};
use crate::image::ImageName;

pub use fieldpath::FieldPath;

/// What to set, for which image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Request {
    /// The image as manifests name it (`ghcr.io/org/app`).
    pub image: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
    pub new_name: Option<String>,
    /// Edit only the scalar at this path.
    pub field_path: Option<FieldPath>,
}

/// Which form of reference an edit went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Form {
    Kustomize,
    FluxSetter,
    FieldPath,
}

/// One value set, added or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Change {
    pub form: Form,
    /// Where, in the file's terms (`images[0].newTag`, `spec.template.spec.containers[0].image`).
    pub field: String,
    /// 1-based line in the original file (for an addition: the line it follows).
    pub line: usize,
    pub old: Option<String>,
    pub new: Option<String>,
}

/// The result of planning an edit of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Patched {
    pub text: String,
    pub changes: Vec<Change>,
    /// Places that refer to the image and already hold the requested values.
    pub unchanged: Vec<String>,
    /// Requested values the file has no place for (e.g. a digest next to a Flux `:tag` marker only).
    pub warnings: Vec<String>,
}

impl Patched {
    pub fn changed(&self) -> bool {
        !self.changes.is_empty()
    }
}

/// An edit with what it means.
#[derive(Debug, Clone)]
pub(crate) struct Planned {
    pub edit: yaml::Edit,
    pub change: Change,
}

/// What every form collects: edits, and places already up to date.
#[derive(Debug, Default)]
pub(crate) struct Collected {
    pub planned: Vec<Planned>,
    pub unchanged: Vec<String>,
}

impl Collected {
    pub fn found(&self) -> bool {
        !self.planned.is_empty() || !self.unchanged.is_empty()
    }
}

/// What a Kustomization's `images:` entry for an image sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Pin {
    pub tag: Option<String>,
    pub digest: Option<String>,
}

/// The `newName` of the Kustomization `src`'s `images:` entry for `image` (by `name`), when it renames it: where
/// the production tags live when they are not in `image`'s repository (`promote`'s `production-image`).
///
/// ```
/// use gitops_promote::manifests::renamed;
/// let src = "images:\n  - name: ghcr.io/o/app\n    newName: 1.dkr.ecr.eu-west-1.amazonaws.com/app\n    newTag: v1\n";
/// assert_eq!(renamed(src, "ghcr.io/o/app").as_deref(), Some("1.dkr.ecr.eu-west-1.amazonaws.com/app"));
/// assert_eq!(renamed("images:\n  - name: ghcr.io/o/app\n    newTag: v1\n", "ghcr.io/o/app"), None);
/// ```
pub fn renamed(src: &str, image: &str) -> Option<String> {
    let value: serde_json::Value = serde_saphyr::from_str(src).ok()?;
    let entries = value.get("images")?.as_array()?;
    entries
        .iter()
        .find(|e| {
            e.get("name")
                .and_then(|n| n.as_str())
                .is_some_and(|n| n == image || same_image(n, image))
        })?
        .get("newName")?
        .as_str()
        .map(str::to_string)
}

/// What the Kustomization `src` pins `image` to (its `images:` entry by `name`, the same repository spelled
/// differently included), `None` when it has no entry for it. Reading needs no byte-exactness: a parse.
///
/// ```
/// use gitops_promote::manifests::pinned;
/// let src = "images:\n  - name: ghcr.io/org/app\n    newTag: v1.2.3\n    digest: sha256:abc\n";
/// let pin = pinned(src, "ghcr.io/org/app").unwrap();
/// assert_eq!((pin.tag.as_deref(), pin.digest.as_deref()), (Some("v1.2.3"), Some("sha256:abc")));
/// assert!(pinned(src, "ghcr.io/org/other").is_none());
/// ```
pub fn pinned(src: &str, image: &str) -> Option<Pin> {
    let value: serde_json::Value = serde_saphyr::from_str(src).ok()?;
    let entries = value.get("images")?.as_array()?;
    let entry = entries
        .iter()
        .find(|e| e.get("name").and_then(|n| n.as_str()) == Some(image))
        .or_else(|| {
            entries.iter().find(|e| {
                e.get("name")
                    .and_then(|n| n.as_str())
                    .is_some_and(|n| same_image(n, image))
            })
        })?;
    let text = |key: &str| {
        entry.get(key).and_then(|v| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        })
    };
    Some(Pin {
        tag: text("newTag"),
        digest: text("digest"),
    })
}

/// Patches `src` (the text of the file called `file` in messages). Pure: no I/O.
pub fn patch(src: &str, file: &str, request: &Request) -> Result<Patched> {
    if request.tag.is_none() && request.digest.is_none() && request.new_name.is_none() {
        return Err(Error::new(Kind::Input, "nothing to set")
            .with_help("give at least one of `tag`, `digest` or `new-name`"));
    }
    // Only Flux's setter markers are read from comments.
    let comments = if src.contains("$imagepolicy") {
        yaml::Comments::Keep
    } else {
        yaml::Comments::Skip
    };
    let tree = yaml::parse_with(src, comments).map_err(|e| syntax_error(file, &e))?;
    let mut collected = Collected::default();
    if let Some(path) = &request.field_path {
        fieldpath::collect(src, &tree, request, path, &mut collected).map_err(|m| {
            Error::new(Kind::NotFound, format!("{file}: {m}")).with_help(
                "check `field-path` against the file: keys separated by `.`, list items as `[0]`",
            )
        })?;
    } else {
        flux::collect(src, &tree, request, &mut collected)
            .map_err(|m| Error::new(Kind::Conflict, format!("{file}: {m}")))?;
        if kustomize::applies(&tree, file) {
            kustomize::collect(src, &tree, request, &mut collected)
                .map_err(|m| Error::new(Kind::Conflict, format!("{file}: {m}")))?;
        }
        if !collected.found() {
            return Err(Error::new(
                Kind::NotFound,
                format!(
                    "{file}: nothing refers to image `{}`: it is not a Kustomization and has no `$imagepolicy` marker for it",
                    request.image
                ),
            )
            .with_help("point `field-path` at the value to set, e.g. `spec.values.image.tag`"));
        }
    }
    let Collected {
        mut planned,
        unchanged,
    } = collected;
    // A Kustomization whose `newTag` also carries a Flux marker gets the same edit from both forms.
    // Several changes may share one edit (a new entry's fields): apply each distinct edit once.
    planned.sort_by_key(|p| (p.edit.range.start, p.edit.range.end));
    planned.dedup_by(|a, b| {
        a.edit == b.edit && a.change.old == b.change.old && a.change.new == b.change.new
    });
    let mut edits: Vec<yaml::Edit> = Vec::new();
    let mut edit_of = Vec::with_capacity(planned.len());
    for p in &planned {
        match edits.iter().position(|e| *e == p.edit) {
            Some(i) => edit_of.push(i),
            None => {
                edit_of.push(edits.len());
                edits.push(p.edit.clone());
            }
        }
    }
    let (text, placed) = yaml::splice(src, &edits)
        .map_err(|m| Error::new(Kind::Conflict, format!("{file}: {m}")))?;
    let changes: Vec<Change> = planned.into_iter().map(|p| p.change).collect();
    if !changes.is_empty() {
        let written: Vec<Written<'_>> = changes
            .iter()
            .zip(&edit_of)
            .filter_map(|(c, &i)| {
                Some(Written {
                    field: &c.field,
                    value: c.new.as_deref()?,
                    at: placed[i].clone(),
                })
            })
            .collect();
        verify(src, &text, file, &written)?;
    }
    // Flux's `:tag` marker takes the tag only; a pin the file cannot hold must not pass silently.
    let mut warnings = Vec::new();
    for (input, value) in [("digest", &request.digest), ("new-name", &request.new_name)] {
        if let Some(v) = value
            && !text.contains(v.as_str())
        {
            warnings.push(format!(
                "`{input}` `{v}` was not written: {file} has no field for it where `{}` is referenced",
                request.image
            ));
        }
    }
    Ok(Patched {
        text,
        changes,
        unchanged,
        warnings,
    })
}

/// A value the edit wrote, and where its new text lies in the result.
struct Written<'a> {
    field: &'a str,
    value: &'a str,
    at: std::ops::Range<usize>,
}

/// A guard against an editor bug ever reaching a repository: the edited text must load (with the same
/// verdict a loader gives, see [`yaml::parse`]), keep its line endings, and every value written must read
/// back, as a string, from the bytes written for it.
///
/// This replaces a second serde-saphyr pass plus a tree-sitter re-parse: [`yaml::parse`] accepts exactly
/// what serde-saphyr accepts (one parser pass, and serde-saphyr itself whenever the file holds anything its
/// extra rules depend on), and tree-sitter, once the source of the spans, is no longer used; the read-back
/// is an addition, free on the tree that pass builds.
fn verify(before: &str, after: &str, file: &str, written: &[Written<'_>]) -> Result<()> {
    let bug = || "please report this with the file: it is a bug in gitops-promote";
    let tree = yaml::parse_with(after, yaml::Comments::Skip).map_err(|e| {
        Error::new(
            Kind::Conflict,
            format!(
                "{file}: the edit would make the file unparseable at line {} ({}); the file was left as it was",
                e.line, e.message
            ),
        )
        .with_help(bug())
    })?;
    if yaml::line_ending(before) != yaml::line_ending(after) {
        return Err(Error::new(
            Kind::Conflict,
            format!("{file}: the edit would change the file's line endings"),
        ));
    }
    let scalars = yaml::value_scalars(&tree);
    for w in written {
        let reads_back = scalars.iter().any(|n| {
            w.at.start <= n.start_byte()
                && n.end_byte() <= w.at.end
                && n.scalar_value() == Some(w.value)
                // Plain, it must also load as a string (`true` would not).
                && (n.style() != Some(yaml::Style::Plain) || yaml::plain_ok(w.value))
        });
        if !reads_back {
            return Err(Error::new(
                Kind::Conflict,
                format!(
                    "{file}: `{}` would not read back as `{}` after the edit; the file was left as it was",
                    w.field, w.value
                ),
            )
            .with_help(bug()));
        }
    }
    Ok(())
}

fn syntax_error(file: &str, e: &yaml::SyntaxError) -> Error {
    Error::new(
        Kind::Input,
        format!(
            "{file}:{}:{}: not valid YAML: {}; the file was left untouched",
            e.line, e.column, e.message
        ),
    )
    .with_help("fix the YAML at that line, then run again")
}

/// `name[:tag][@digest]` split into its parts.
pub fn split_reference(reference: &str) -> (&str, Option<&str>, Option<&str>) {
    let (rest, digest) = match reference.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (reference, None),
    };
    let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
    match rest[last_slash..].rfind(':') {
        Some(i) => (
            &rest[..last_slash + i],
            Some(&rest[last_slash + i + 1..]),
            digest,
        ),
        None => (rest, None, digest),
    }
}

/// A whole reference `name:tag[@digest]` with the request applied, the way Flux's whole-image setter writes
/// it: a new tag without a digest drops the old digest (it would otherwise still select the old image).
pub(crate) fn set_reference(current: &str, request: &Request) -> String {
    let (name, tag, digest) = split_reference(current);
    let name = request.new_name.as_deref().unwrap_or(name);
    let tag = request.tag.as_deref().or(tag);
    let digest = match (&request.digest, &request.tag) {
        (Some(d), _) => Some(d.as_str()),
        (None, Some(_)) => None,
        (None, None) => digest,
    };
    let mut r = name.to_string();
    if let Some(t) = tag {
        r.push(':');
        r.push_str(t);
    }
    if let Some(d) = digest {
        r.push('@');
        r.push_str(d);
    }
    r
}

/// Whether two image names name the same repository: equal as written, or equal once Docker's defaults
/// (`docker.io`, `library/`) are filled in.
pub fn same_image(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (ImageName::parse(a), ImageName::parse(b)) {
        (Ok(x), Ok(y)) => x.registry == y.registry && x.repository == y.repository,
        _ => false,
    }
}

/// A unified diff of `old` → `new` with `a/` `b/` headers, "" when equal.
pub fn unified_diff(path: &str, old: &str, new: &str) -> String {
    if old == new {
        return String::new();
    }
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{path}"), &format!("b/{path}"))
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(tag: Option<&str>, digest: Option<&str>) -> Request {
        Request {
            image: "ghcr.io/org/app".into(),
            tag: tag.map(Into::into),
            digest: digest.map(Into::into),
            new_name: None,
            field_path: None,
        }
    }

    #[test]
    fn references_split_like_docker() {
        assert_eq!(
            split_reference("127.0.0.1:5000/app:v1@sha256:ab"),
            ("127.0.0.1:5000/app", Some("v1"), Some("sha256:ab"))
        );
        assert_eq!(
            split_reference("127.0.0.1:5000/app"),
            ("127.0.0.1:5000/app", None, None)
        );
        assert!(same_image("nginx", "docker.io/library/nginx"));
    }

    #[test]
    fn a_tag_only_edit_changes_the_tag_bytes_only() {
        let src =
            "# keep\nimages:\n  - name: ghcr.io/org/app # app\n    newTag: \"v1\"  # pinned\n";
        let p = patch(src, "kustomization.yaml", &req(Some("v2"), None)).expect("patch");
        assert_eq!(
            p.text,
            "# keep\nimages:\n  - name: ghcr.io/org/app # app\n    newTag: \"v2\"  # pinned\n"
        );
    }

    #[test]
    fn a_digest_with_nowhere_to_go_is_a_warning() {
        let src = "image:\n  repository: ghcr.io/org/app\n  tag: v1 # {\"$imagepolicy\": \"ns:app:tag\"}\n";
        let d = format!("sha256:{}", "a".repeat(64));
        let p = patch(src, "values.yaml", &req(Some("v2"), Some(&d))).expect("patch");
        assert!(p.text.contains("tag: v2 #"), "{}", p.text);
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    }

    #[test]
    fn aliases_are_refused_and_anchored_values_edited_after_the_anchor() {
        let alias = "x: &t v1\nimages:\n- name: ghcr.io/org/app\n  newTag: *t\n";
        let err = patch(alias, "kustomization.yaml", &req(Some("v2"), None)).expect_err("alias");
        assert!(err.message.contains("alias"), "{}", err.message);
        let anchored = "images:\n- name: ghcr.io/org/app\n  newTag: &t v1\nx: *t\n";
        let p = patch(anchored, "kustomization.yaml", &req(Some("v2"), None)).expect("anchor");
        assert_eq!(p.text, anchored.replace("&t v1", "&t v2"));
    }

    #[test]
    fn duplicate_keys_are_refused_as_the_loader_refuses_them() {
        let src = "images:\n- name: ghcr.io/org/app\n  newTag: v1\n  newTag: v0\n";
        let err = patch(src, "kustomization.yaml", &req(Some("v2"), None)).expect_err("duplicate");
        assert!(
            err.message.contains("duplicate mapping key"),
            "{}",
            err.message
        );
        assert!(
            err.message.starts_with("kustomization.yaml:4:"),
            "{}",
            err.message
        );
    }

    #[test]
    fn an_edit_that_does_not_read_back_is_refused() {
        let before = "a: v1\n";
        let written = |value, at| {
            vec![Written {
                field: "a",
                value,
                at,
            }]
        };
        assert!(verify(before, "a: v2\n", "f.yaml", &written("v2", 3..5)).is_ok());
        for (after, value, at, says) in [
            ("a: 'v2\n", "v2", 3..6, "unparseable"),
            ("a: v3\n", "v2", 3..5, "read back"),
            ("a: v2\n", "v2", 0..2, "read back"),
            ("a: true\n", "true", 3..7, "read back"),
            ("a: v2\r\n", "v2", 3..5, "line endings"),
        ] {
            let err = verify(before, after, "f.yaml", &written(value, at)).expect_err(after);
            assert!(err.message.contains(says), "{after:?}: {}", err.message);
        }
    }

    #[test]
    fn markers_are_found_whichever_way_comments_are_read() {
        // With more than 32 `#` the parser collects comments anyway; with a marker it must.
        let many = "# note\n".repeat(40);
        let src = format!(
            "{many}image:\n  repository: ghcr.io/org/app\n  tag: v1 # {{\"$imagepolicy\": \"ns:app:tag\"}}\n"
        );
        let p = patch(&src, "values.yaml", &req(Some("v2"), None)).expect("patch");
        assert_eq!(p.text, src.replace("tag: v1 #", "tag: v2 #"));
    }

    #[test]
    fn byte_offsets_hold_past_a_bom_and_multibyte_text() {
        let src = "\u{feff}# café ☕ déploiement\nimages:\n- name: ghcr.io/org/app # «app»\n  newTag: \"v1\" # ✓\n";
        let p = patch(src, "kustomization.yaml", &req(Some("v2"), None)).expect("patch");
        assert_eq!(p.text, src.replace("\"v1\"", "\"v2\""));
        assert_eq!(p.changes[0].line, 4);
    }

    #[test]
    fn unparseable_files_name_the_line() {
        let err = patch("images:\n  - name: [x\n", "k.yaml", &req(Some("v2"), None))
            .expect_err("bad yaml");
        assert!(err.message.starts_with("k.yaml:"), "{}", err.message);
    }
}
