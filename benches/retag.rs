//! Retag benchmark: a 5-layer two-platform image retagged by gitops-promote and by `skopeo copy --all` (the
//! tool that keeps the digest; without `--all` it copies one platform and changes the digest), at several
//! image sizes, with and without latency added per request by the proxy. Reports wall time and HTTP requests
//! (counted at the proxy) side by side; then the same for a copy into a new repository on the same
//! registry (blobs mounted, not uploaded).
//!
//! `cargo bench --bench retag -- --sizes 20,200,1024` (MB, total image size; these are the defaults).

#![allow(clippy::print_stdout)] // a benchmark prints its table

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::images::{self, Format};
use support::proxy::Proxy;
use support::registry::{Auth, Registry};

struct Row {
    size_mb: usize,
    latency_ms: u64,
    what: &'static str,
    tool: &'static str,
    seconds: f64,
    requests: u64,
}

fn sizes() -> Vec<usize> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--sizes")
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![20, 200, 1024])
}

fn timed(mut cmd: Command) -> f64 {
    let start = Instant::now();
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    start.elapsed().as_secs_f64()
}

fn main() {
    let registry = Registry::start(Auth::Anonymous);
    let proxy = Proxy::start(&registry.addr);
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut rows = Vec::new();
    let mut n = 0;
    for size_mb in sizes() {
        let layer = size_mb * 1_000_000 / 10;
        let layout = images::layout(tmp.path(), 2, 5, layer);
        let source_tag = format!("src-{size_mb}");
        images::push(
            &layout,
            &format!("{}/app:{source_tag}", registry.addr),
            Format::Oci,
            None,
        );
        std::fs::remove_dir_all(&layout.dir).expect("remove layout");
        let source = format!("{}/app:{source_tag}", proxy.addr);
        let digest = images::digest(&source, None);
        for latency_ms in [0, 50] {
            for (what, repo) in [("retag", "app"), ("copy to another repository", "")] {
                for tool in ["gitops-promote retag", "skopeo copy --all"] {
                    n += 1;
                    // A fresh repository per copy, so no blob is there yet.
                    let target = if repo.is_empty() {
                        format!("{}/copy-{n}/app:v1", proxy.addr)
                    } else {
                        format!("{}/{repo}:t-{n}", proxy.addr)
                    };
                    let mut cmd = if tool.starts_with("gitops") {
                        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gitops-promote"));
                        cmd.args(["retag", "--source", &source, "--tags", &target]);
                        cmd
                    } else {
                        let mut cmd = images::skopeo();
                        cmd.args([
                            "copy",
                            "--all",
                            "--quiet",
                            "--src-tls-verify=false",
                            "--dest-tls-verify=false",
                        ])
                        .arg(format!("docker://{source}"))
                        .arg(format!("docker://{target}"));
                        cmd
                    };
                    cmd.stdout(std::process::Stdio::null());
                    proxy.set_latency(Duration::from_millis(latency_ms));
                    proxy.reset_count();
                    let seconds = timed(cmd);
                    let requests = proxy.requests();
                    proxy.set_latency(Duration::ZERO);
                    assert_eq!(images::digest(&target, None), digest, "{tool} {what}");
                    rows.push(Row {
                        size_mb,
                        latency_ms,
                        what,
                        tool,
                        seconds,
                        requests,
                    });
                }
            }
        }
    }
    let mut table = String::from(
        "| image size | added latency | operation | tool | wall time | HTTP requests |\n|---:|---:|---|---|---:|---:|\n",
    );
    for r in &rows {
        table.push_str(&format!(
            "| {} MB | {} ms | {} | {} | {:.2} s | {} |\n",
            r.size_mb, r.latency_ms, r.what, r.tool, r.seconds, r.requests
        ));
    }
    print!("{table}");
}
