//! Benchmark: derive the version on a 10,000-commit history with 500 tags, in process and as the processes a
//! CI step starts (`develop-build --dry-run`, and `--version` for the start-up alone), next to the three git
//! commands a script would run (`git describe`, `git rev-list --count`, `git log`) on the same repository in
//! the same run. Prints a table with the ratios and the binary's size; asserts nothing.
//!
//! Run: `cargo bench --bench version` (optional args: COMMITS TAGS ITERATIONS, numbers, and BINARY, a path:
//! the binary to time instead of the one cargo builds for the bench, e.g. the static musl build or an older
//! build to compare with).

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use gitops_promote::actions::Console;
use gitops_promote::env::GithubContext;
use gitops_promote::inputs::{Invocation, Mode};

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git is installed");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Builds the history with `git fast-import`: a linear main line of conventional commits, a stable tag every
/// `commits / tags` commits.
fn make_repo(dir: &Path, commits: usize, tags: usize) {
    git(dir, &["init", "-q", "-b", "main"]);
    let mut stream = String::new();
    let every = (commits / tags).max(1);
    let types = ["feat", "fix", "chore", "docs", "perf", "refactor"];
    let mut tagged = 0;
    for i in 1..=commits {
        let msg = format!("{}: change number {i}\n", types[i % types.len()]);
        stream.push_str(&format!(
            "commit refs/heads/main\nmark :{i}\ncommitter Dev <dev@example.com> {} +0000\ndata {}\n{msg}",
            1_700_000_000 + i * 60,
            msg.len()
        ));
        if i > 1 {
            stream.push_str(&format!("from :{}\n", i - 1));
        }
        stream.push('\n');
        if i % every == 0 && tagged < tags && i < commits - 7 {
            tagged += 1;
            stream.push_str(&format!("reset refs/tags/v1.{}.0\nfrom :{i}\n\n", tagged));
        }
    }
    let mut child = Command::new("git")
        .current_dir(dir)
        .args(["fast-import", "--quiet"])
        .stdin(Stdio::piped())
        .spawn()
        .expect("git fast-import");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stream.as_bytes())
        .expect("write stream");
    assert!(child.wait().expect("wait").success());
    git(dir, &["checkout", "-q", "main"]);
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// `iterations` timings of each job, the runs interleaved (one of each per round, after one untimed round that
/// warms the page cache), so a change in the shared machine's load falls on every figure alike.
fn interleaved(iterations: usize, jobs: &mut [&mut dyn FnMut()]) -> Vec<Vec<Duration>> {
    for job in jobs.iter_mut() {
        job();
    }
    let mut samples = vec![Vec::with_capacity(iterations); jobs.len()];
    for _ in 0..iterations {
        for (job, samples) in jobs.iter_mut().zip(&mut samples) {
            let start = Instant::now();
            job();
            samples.push(start.elapsed());
        }
    }
    samples
}

fn main() {
    let raw: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let args: Vec<usize> = raw.iter().filter_map(|a| a.parse().ok()).collect();
    let binary_path = raw
        .iter()
        .find(|a| a.parse::<usize>().is_err())
        .map(String::as_str)
        .unwrap_or(env!("CARGO_BIN_EXE_gitops-promote"));
    let commits = args.first().copied().unwrap_or(10_000);
    let tags = args.get(1).copied().unwrap_or(500);
    let iterations = args.get(2).copied().unwrap_or(15);
    let dir = tempfile::tempdir().expect("tempdir");
    let repo = dir.path();
    let setup = Instant::now();
    make_repo(repo, commits, tags);
    eprintln!(
        "made {commits} commits and {tags} tags in {:?}",
        setup.elapsed()
    );

    let mut raw = std::collections::BTreeMap::new();
    raw.insert("image".to_string(), "ghcr.io/org/app".to_string());
    raw.insert("dry-run".to_string(), "true".to_string());
    let invocation = Invocation {
        mode: Mode::DevelopBuild,
        raw,
        repo: repo.to_path_buf(),
        in_actions: false,
    };
    let github = GithubContext::default();
    let mut tag = String::new();
    let base = git(repo, &["describe", "--tags", "--abbrev=0"]);
    let range = format!("{base}..HEAD");
    let repo_arg = repo.to_str().expect("a UTF-8 temp path");
    let process = |args: &[&str]| {
        let out = Command::new(binary_path)
            .args(args)
            .output()
            .expect("run binary");
        assert!(out.status.success());
    };
    let samples = interleaved(
        iterations,
        &mut [
            &mut || {
                let report = gitops_promote::run(&invocation, &github, &mut Console::sink())
                    .expect("derive");
                tag = report.outputs["tag"].clone();
            },
            &mut || {
                process(&[
                    "develop-build",
                    "--image",
                    "ghcr.io/org/app",
                    "--dry-run",
                    "--repo",
                    repo_arg,
                ])
            },
            &mut || process(&["--version"]),
            &mut || {
                git(repo, &["describe", "--tags", "--abbrev=0"]);
            },
            &mut || {
                git(repo, &["rev-list", "--count", &range]);
            },
            &mut || {
                git(repo, &["log", "--format=%s%n%b", &range]);
            },
        ],
    );
    // What a script pays: the three commands one after another, in the same round.
    let scripted = median(
        (0..iterations)
            .map(|i| samples[3][i] + samples[4][i] + samples[5][i])
            .collect(),
    );
    let [library, binary, version, describe, count, log] =
        std::array::from_fn(|i| median(samples[i].clone()));

    let size = std::fs::metadata(binary_path).expect("binary").len();

    println!(
        "version derivation: {commits} commits, {tags} tags, median of {iterations} interleaved runs"
    );
    println!("derived tag: {tag} (base {base})");
    println!("binary: {binary_path} ({:.1} MB)", size as f64 / 1e6);
    println!("| what | median | vs the three git commands |");
    println!("|---|---|---|");
    let row = |name: &str, d: Duration| {
        println!(
            "| {name} | {:.2} ms | {:.2}× |",
            d.as_secs_f64() * 1e3,
            d.as_secs_f64() / scripted.as_secs_f64()
        );
    };
    row("gitops-promote library call (in process)", library);
    row("`gitops-promote develop-build --dry-run` (process)", binary);
    row("`gitops-promote --version` (process)", version);
    row("`git describe --tags --abbrev=0`", describe);
    row("`git rev-list --count BASE..HEAD`", count);
    row("`git log BASE..HEAD` (messages to classify)", log);
    row("the three git commands a script would run", scripted);
}
