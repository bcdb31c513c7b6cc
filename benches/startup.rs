//! Benchmark: what the action costs before it does any work. Runs, in the same run on the same files, the
//! binary directly, and the action's wrapper (`node action/main.js`, as the runner runs it) cold (an empty tool
//! cache: download from a release served on 127.0.0.1, verify, decompress, verify, cache, run) and warm (a later
//! step of the job: verify the cached binary, run it), each doing the same small `select`. Prints a table and
//! the release asset's size; asserts nothing.
//!
//! Run: `cargo bench --bench startup` (optional args: BINARY ITERATIONS; BINARY defaults to the
//! release-profile binary cargo builds for the bench, e.g. pass the static musl build to measure that).

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use support::files::FileServer;

const VERSION: &str = "v0.0.0-bench";

fn target() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "x86_64-unknown-linux-musl",
        ("linux", "aarch64") => "aarch64-unknown-linux-musl",
        ("macos", "x86_64") => "x86_64-apple-darwin",
        ("macos", "aarch64") => "aarch64-apple-darwin",
        ("windows", "x86_64") => "x86_64-pc-windows-msvc",
        other => panic!("no release target for {other:?}"),
    }
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

struct Setup {
    root: PathBuf,
    workspace: PathBuf,
    script: PathBuf,
    tool_cache: PathBuf,
    temp: PathBuf,
    server: FileServer,
}

impl Setup {
    /// The step as the runner starts it; `program` is the binary itself or `node action/main.js`.
    fn step(&self, program: &[&Path]) -> Command {
        let mut cmd = Command::new(program[0]);
        cmd.args(&program[1..])
            .current_dir(&self.workspace)
            .env("GITHUB_ACTIONS", "true")
            .env("GITHUB_WORKSPACE", &self.workspace)
            .env("GITHUB_OUTPUT", self.root.join("output"))
            .env("GITHUB_STEP_SUMMARY", self.root.join("summary"))
            .env("RUNNER_TOOL_CACHE", &self.tool_cache)
            .env("RUNNER_TEMP", &self.temp)
            .env("GITOPS_PROMOTE_DOWNLOAD_URL", self.server.url())
            .env("INPUT_MODE", "select")
            .env("INPUT_FILTER-FILE", "filter.yaml")
            .env("INPUT_TAGS-FILE", "tags.txt");
        cmd
    }

    fn time(&self, program: &[&Path], before: impl Fn()) -> Duration {
        before();
        let started = Instant::now();
        let out = self.step(program).output().expect("runs");
        let elapsed = started.elapsed();
        assert!(
            out.status.success(),
            "{:?}: {}{}",
            program,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        elapsed
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let binary = args
        .first()
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_gitops-promote")));
    let iterations: usize = args.get(1).and_then(|n| n.parse().ok()).unwrap_or(21);
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));

    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().to_path_buf();
    let releases = root.join("releases");
    let out = Command::new("bash")
        .arg(repo.join("scripts/package.sh"))
        .arg(&binary)
        .arg(target())
        .arg(VERSION)
        .arg(releases.join(VERSION))
        .output()
        .expect("bash");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let asset = format!("gitops-promote-{VERSION}-{}.gz", target());
    let checksum = std::fs::read_to_string(releases.join(VERSION).join(format!("{asset}.sha256")))
        .expect("checksum line");
    let action = root.join("action-checkout/action");
    std::fs::create_dir_all(&action).expect("mkdir");
    let script = action.join("main.js");
    std::fs::copy(repo.join("action/main.js"), &script).expect("main.js");
    std::fs::write(action.join("SHA256SUMS"), &checksum).expect("SHA256SUMS");
    let workspace = root.join("workspace");
    std::fs::create_dir_all(&workspace).expect("mkdir");
    std::fs::write(
        workspace.join("filter.yaml"),
        "filter:\n  includeTag: '^v\\d+\\.\\d+\\.\\d+$'\n  semver: '>=0.0.0'\n  limit: 1\n",
    )
    .expect("filter");
    std::fs::write(workspace.join("tags.txt"), "v1.9.3\nv1.10.0\nlatest\n").expect("tags");
    let temp = root.join("temp");
    std::fs::create_dir_all(&temp).expect("mkdir");
    let setup = Setup {
        tool_cache: root.join("tool-cache"),
        temp,
        workspace,
        script,
        server: FileServer::start(&releases),
        root,
    };

    let node = PathBuf::from("node");
    let wrapper = [node.as_path(), setup.script.as_path()];
    let direct = [binary.as_path()];
    let clear_cache = || {
        let _ = std::fs::remove_dir_all(&setup.tool_cache);
    };
    // One untimed run of each first (page cache, node's compile cache).
    setup.time(&wrapper, clear_cache);
    setup.time(&direct, || {});

    let node_alone = median(
        (0..iterations)
            .map(|_| {
                let started = Instant::now();
                let status = Command::new("node")
                    .args(["-e", "0"])
                    .status()
                    .expect("node");
                assert!(status.success());
                started.elapsed()
            })
            .collect(),
    );
    let version = median(
        (0..iterations)
            .map(|_| {
                let started = Instant::now();
                let out = Command::new(&binary)
                    .arg("--version")
                    .output()
                    .expect("binary");
                assert!(out.status.success());
                started.elapsed()
            })
            .collect(),
    );
    let direct_t = median(
        (0..iterations)
            .map(|_| setup.time(&direct, || {}))
            .collect(),
    );
    let cold = median(
        (0..iterations)
            .map(|_| setup.time(&wrapper, clear_cache))
            .collect(),
    );
    let warm = median(
        (0..iterations)
            .map(|_| setup.time(&wrapper, || {}))
            .collect(),
    );
    let binary_size = std::fs::metadata(&binary).expect("binary").len();
    let asset_size = std::fs::metadata(releases.join(VERSION).join(&asset))
        .expect("asset")
        .len();

    println!(
        "binary: {} ({:.1} MB), release asset {asset}: {:.1} MB",
        binary.display(),
        binary_size as f64 / 1e6,
        asset_size as f64 / 1e6
    );
    println!("median of {iterations} runs\n");
    println!("| what | median |");
    println!("|---|---:|");
    println!("| `gitops-promote --version` | {} |", ms(version));
    println!(
        "| `gitops-promote` select step, run directly | {} |",
        ms(direct_t)
    );
    println!("| `node -e 0` (Node.js start alone) | {} |", ms(node_alone));
    println!(
        "| wrapper, warm (verify the cached binary, run the step) | {} |",
        ms(warm)
    );
    println!(
        "| wrapper, cold (download from 127.0.0.1, verify, decompress, cache, run the step) | {} |",
        ms(cold)
    );
    println!(
        "| wrapper's own cost, warm (warm − direct) | {} |",
        ms(warm.saturating_sub(direct_t))
    );
    println!(
        "| wrapper's own cost, cold (cold − direct) | {} |",
        ms(cold.saturating_sub(direct_t))
    );
}
