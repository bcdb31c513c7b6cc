//! Patches a generated GitOps repository of 1,000 Kustomize overlays (many styles: comments, blank lines,
//! 2/4-space and indentless lists, quoting, CRLF, missing final newline) and compares, on the same files in
//! the same run, what people script today: a `ruamel.yaml` round-trip edit and Debian's `yq -y -i`.
//! For each tool it reports the time per file, how many times slower than `gitops-promote` that is, and how
//! many bytes it changed beyond the value itself (a character diff against the file with only the value
//! replaced). It also times the edit alone, without file I/O, for `gitops-promote` and for `ruamel.yaml`.
//!
//! Like for like: neither side fsyncs (`gitops-promote` renames a temporary file into place, see
//! `manifests::files::write_atomic`; the ruamel.yaml script writes the file in place, as such scripts do).
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
import io, sys, time
from ruamel.yaml import YAML
yaml = YAML()               # round-trip mode: keeps comments
yaml.preserve_quotes = True
image, tag = sys.argv[1], sys.argv[2]

def edit(stream):
    data = yaml.load(stream)
    for entry in data["images"]:
        if entry["name"] == image:
            entry["newTag"] = tag
    return data

texts = []
for path in sys.argv[3:]:
    with open(path) as f:
        texts.append(f.read())
# The files, as a script edits them; then the same edit in memory (best of 3 passes). Timed here, without
# the interpreter's start-up and the import.
start = time.perf_counter()
for path in sys.argv[3:]:
    with open(path) as f:
        data = edit(f)
    with open(path, "w") as f:
        yaml.dump(data, f)
files = time.perf_counter() - start
best = None
for _ in range(3):
    start = time.perf_counter()
    for text in texts:
        yaml.dump(edit(text), io.StringIO())
    elapsed = time.perf_counter() - start
    best = elapsed if best is None else min(best, elapsed)
print(files, best)
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
    // What `gitops-promote patch` does per file: resolve the path inside the repository, read, edit and
    // verify, diff (its `diff` output), then apply: re-read to check nothing changed meanwhile, write
    // through a temporary file and a rename, re-read the result.
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
            let diff = manifests::unified_diff(&rel, &before, &patched.text);
            assert!(!diff.is_empty());
            assert_eq!(std::fs::read_to_string(&real).unwrap(), before);
            files::write_atomic(&real, patched.text.as_bytes()).unwrap();
            assert_eq!(std::fs::read_to_string(&real).unwrap(), patched.text);
        }
    });

    // The same edits in memory: how much of the time above is parsing, editing and verifying, and how much
    // file I/O. Best of three passes, as for the ruamel.yaml figure it is compared with.
    let texts: Vec<String> = (0..n).map(|i| overlay(i, OLD)).collect();
    let in_memory = (0..3)
        .map(|_| {
            let start = Instant::now();
            for text in &texts {
                let patched = manifests::patch(text, "kustomization.yaml", &request).unwrap();
                assert!(patched.changed());
            }
            start.elapsed()
        })
        .min()
        .unwrap();
    let start = Instant::now();
    for text in &texts {
        let patched = manifests::patch(text, "kustomization.yaml", &request).unwrap();
        std::hint::black_box(manifests::unified_diff(
            "kustomization.yaml",
            text,
            &patched.text,
        ));
    }
    let in_memory_with_diff = start.elapsed();

    let ruamel = generate(&scratch.path().join("ruamel"), n);
    let (mut ruamel_files, mut ruamel_in_memory) = (Duration::ZERO, Duration::ZERO);
    let ruamel_row = measure(
        "ruamel.yaml round-trip (one python3 process, timed inside it)",
        &ruamel,
        |paths| {
            let out = Command::new("python3")
                .args(["-c", RUAMEL, IMAGE, NEW])
                .args(paths)
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "ruamel.yaml script failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let stdout = String::from_utf8_lossy(&out.stdout);
            let seconds: Vec<f64> = stdout
                .split_whitespace()
                .map(|s| s.parse().unwrap())
                .collect();
            ruamel_files = Duration::from_secs_f64(seconds[0]);
            ruamel_in_memory = Duration::from_secs_f64(seconds[1]);
        },
    );
    // Python's start-up and import are left out, as a library call leaves out the binary's.
    let ruamel_row = Row {
        elapsed: ruamel_files,
        ..ruamel_row
    };

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

    let per_file = |d: Duration| d.as_secs_f64() * 1000.0 / n as f64;
    let ours_ms = per_file(ours_row.elapsed);
    println!("\n{n} Kustomize overlays, tag {OLD} -> {NEW}\n");
    println!(
        "| tool | time per file | vs gitops-promote | files changed beyond the value | bytes changed beyond the value (total / worst file) |"
    );
    println!("|---|---:|---:|---:|---:|");
    for row in [&ours_row, &ruamel_row, &yq_row] {
        let ms = per_file(row.elapsed);
        println!(
            "| {} | {:.3} ms | {} | {} of {} | {} / {} |",
            row.tool,
            ms,
            if std::ptr::eq(row, &ours_row) {
                "1×".to_string()
            } else {
                format!("{:.1}× slower", ms / ours_ms)
            },
            row.touched,
            row.files,
            row.extra,
            row.worst
        );
    }
    let ours_mem = per_file(in_memory);
    let ruamel_mem = per_file(ruamel_in_memory);
    println!(
        "\nThe edit alone, in memory (no file I/O), per file:\n\
         | what | time per file | vs gitops-promote |\n|---|---:|---:|\n\
         | gitops-promote: parse, edit, re-parse and read back (best of 3) | {:.4} ms ({:.1} µs) | 1× |\n\
         | gitops-promote: the same and the unified diff it prints | {:.4} ms | {:.1}× |\n\
         | ruamel.yaml: load and dump to a string (best of 3) | {:.4} ms | {:.1}× slower |",
        ours_mem,
        ours_mem * 1000.0,
        per_file(in_memory_with_diff),
        per_file(in_memory_with_diff) / ours_mem,
        ruamel_mem,
        ruamel_mem / ours_mem,
    );
    println!(
        "\nOf gitops-promote's {ours_ms:.3} ms per file, {:.3} ms is the edit; the rest is resolving, reading, \
         writing (temporary file + rename, no fsync) and re-reading the file.",
        per_file(in_memory_with_diff)
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
