//! Patches a generated GitOps repository of 1,000 Kustomize overlays (many styles: comments, blank lines,
//! 2/4-space and indentless lists, quoting, CRLF, missing final newline) and compares, on the same files in
//! the same run, what people script today: a `ruamel.yaml` round-trip edit and Debian's `yq -y -i`.
//! For each tool it reports the time per file and how many bytes it changed beyond the value itself
//! (a character diff against the file with only the value replaced).
//!
//! `cargo bench --bench patch` (set `PATCH_BENCH_FILES` for fewer files). Installs `ruamel.yaml` with pip
//! when it is missing; `yq` comes from Debian (`apt-get install yq`).

#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use gitops_promote::manifests::{self, Request, files};

const IMAGE: &str = "ghcr.io/ldbl/backend";
const OLD: &str = "v1.2.2";
const NEW: &str = "v1.2.3";

/// One overlay in style `i`, holding `tag`.
fn overlay(i: usize, tag: &str) -> String {
    let indent = if i.is_multiple_of(3) { 4 } else { 2 };
    let indentless = i.is_multiple_of(2);
    let seq = if indentless { 0 } else { indent };
    let dash = " ".repeat(seq);
    let field = " ".repeat(seq + 2);
    let quote = match i % 5 {
        0 => format!("\"{tag}\""),
        1 => format!("'{tag}'"),
        _ => tag.to_string(),
    };
    let mut s = String::new();
    if i % 4 != 3 {
        s.push_str(&format!(
            "# app{i}: production overlay\n# promoted by CI, reviewed in a PR\n\n"
        ));
    }
    s.push_str("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n");
    s.push_str(&format!("namespace: production   # team {}\n", i % 7));
    s.push_str(&format!(
        "resources:\n{dash}- ../../base/app{i}\n{dash}- ingress.yaml  # public\n\n"
    ));
    s.push_str(&format!(
        "labels:\n{dash}- pairs:\n{field}{}app: app{i}\n",
        " ".repeat(indent.saturating_sub(2))
    ));
    if i.is_multiple_of(6) {
        s.push_str(&format!(
            "patches:\n{dash}- target: {{kind: Deployment, name: app{i}}}\n{field}patch: |-\n{field}  - op: replace\n{field}    path: /spec/replicas\n{field}    value: 3\n"
        ));
    }
    s.push_str("\nimages:\n");
    if i.is_multiple_of(8) {
        s.push_str(&format!("{dash}- name: nginx\n{field}newTag: \"1.27\"\n"));
    }
    s.push_str(&format!("{dash}# the application\n{dash}- name: {IMAGE}\n"));
    s.push_str(&format!("{field}newTag: {quote}  # bumped by promotion\n"));
    if i % 7 == 6 {
        s.pop();
    }
    if i % 10 == 9 {
        s = s.replace('\n', "\r\n");
    }
    s
}

fn generate(root: &Path, n: usize) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let dir = root.join(format!("flux/apps/app{i}/production"));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("kustomization.yaml");
            std::fs::write(&path, overlay(i, OLD)).unwrap();
            path
        })
        .collect()
}

/// Bytes inserted or deleted to turn `expected` into `actual`.
fn extra_bytes(expected: &str, actual: &str) -> usize {
    similar::TextDiff::from_chars(expected, actual)
        .iter_all_changes()
        .filter(|c| c.tag() != similar::ChangeTag::Equal)
        .map(|c| c.value().len())
        .sum()
}

struct Row {
    tool: &'static str,
    elapsed: Duration,
    files: usize,
    touched: usize,
    extra: usize,
    worst: usize,
}

fn measure(tool: &'static str, paths: &[PathBuf], run: impl FnOnce(&[PathBuf])) -> Row {
    let start = Instant::now();
    run(paths);
    let elapsed = start.elapsed();
    let (mut touched, mut extra, mut worst) = (0, 0, 0);
    for (i, path) in paths.iter().enumerate() {
        let actual = std::fs::read_to_string(path).unwrap();
        let e = extra_bytes(&overlay(i, NEW), &actual);
        if e > 0 {
            touched += 1;
        }
        extra += e;
        worst = worst.max(e);
    }
    Row {
        tool,
        elapsed,
        files: paths.len(),
        touched,
        extra,
        worst,
    }
}

const RUAMEL: &str = r#"
import sys
from ruamel.yaml import YAML
yaml = YAML()               # round-trip mode: keeps comments
yaml.preserve_quotes = True
image, tag = sys.argv[1], sys.argv[2]
for path in sys.argv[3:]:
    with open(path) as f:
        data = yaml.load(f)
    for entry in data["images"]:
        if entry["name"] == image:
            entry["newTag"] = tag
    with open(path, "w") as f:
        yaml.dump(data, f)
"#;

fn ensure_ruamel() {
    let ok = Command::new("python3")
        .args(["-c", "import ruamel.yaml"])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let status = Command::new("python3")
            .args(["-m", "pip", "install", "--quiet", "ruamel.yaml"])
            .status()
            .expect("python3 is needed for the ruamel.yaml comparison");
        assert!(status.success(), "pip install ruamel.yaml failed");
    }
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let n: usize = std::env::var("PATCH_BENCH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    ensure_ruamel();
    assert!(
        Command::new("yq")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success()),
        "yq is needed for the comparison: apt-get install yq"
    );
    let scratch = tempfile::tempdir().unwrap();
    let request = Request {
        image: IMAGE.into(),
        tag: Some(NEW.into()),
        digest: None,
        new_name: None,
        field_path: None,
    };

    let ours = generate(&scratch.path().join("ours"), n);
    let root = scratch.path().join("ours");
    let ours_row = measure("gitops-promote patch", &ours, |paths| {
        for path in paths {
            let rel = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let real = files::resolve(&root, "manifest", &rel).unwrap();
            let before = std::fs::read_to_string(&real).unwrap();
            let patched = manifests::patch(&before, &rel, &request).unwrap();
            files::write_atomic(&real, patched.text.as_bytes()).unwrap();
        }
    });

    // The same edits in memory: how much of the time above is parsing and editing, and how much the
    // durable write (fsync + rename) that the real command does.
    let texts: Vec<String> = (0..n).map(|i| overlay(i, OLD)).collect();
    let start = Instant::now();
    for text in &texts {
        let patched = manifests::patch(text, "kustomization.yaml", &request).unwrap();
        assert!(patched.changed());
    }
    let in_memory = start.elapsed();

    let ruamel = generate(&scratch.path().join("ruamel"), n);
    let ruamel_row = measure(
        "ruamel.yaml round-trip (one python3 process)",
        &ruamel,
        |paths| {
            let status = Command::new("python3")
                .args(["-c", RUAMEL, IMAGE, NEW])
                .args(paths)
                .status()
                .unwrap();
            assert!(status.success(), "ruamel.yaml script failed");
        },
    );

    let yq = generate(&scratch.path().join("yq"), n);
    let filter = format!("(.images[] | select(.name == \"{IMAGE}\") | .newTag) = \"{NEW}\"");
    let yq_row = measure("yq -y -i (Debian, one process per file)", &yq, |paths| {
        for path in paths {
            let status = Command::new("yq")
                .args(["-y", "-i", &filter])
                .arg(path)
                .status()
                .unwrap();
            assert!(status.success(), "yq failed on {}", path.display());
        }
    });

    println!("\n{n} Kustomize overlays, tag {OLD} -> {NEW}\n");
    println!(
        "| tool | time per file | files changed beyond the value | bytes changed beyond the value (total / worst file) |"
    );
    println!("|---|---:|---:|---:|");
    for row in [&ours_row, &ruamel_row, &yq_row] {
        println!(
            "| {} | {:.3} ms | {} of {} | {} / {} |",
            row.tool,
            row.elapsed.as_secs_f64() * 1000.0 / row.files as f64,
            row.touched,
            row.files,
            row.extra,
            row.worst
        );
    }
    println!(
        "\ngitops-promote's parse + edit + re-parse alone (no I/O): {:.3} ms per file",
        in_memory.as_secs_f64() * 1000.0 / n as f64
    );
    let sample = 9.min(n - 1);
    println!("\nfile {sample} as each tool left it (first 12 lines):");
    for (name, paths) in [("ruamel.yaml", &ruamel), ("yq", &yq)] {
        let text = std::fs::read_to_string(&paths[sample]).unwrap();
        println!("--- {name}");
        for line in text.lines().take(12) {
            println!("    {}", line.replace('\r', "␍"));
        }
    }
}
