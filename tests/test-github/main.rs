//! The test GitHub as a standalone server for the local demo (`scripts/demo.sh`): serves one repository
//! backed by a bare git repository until killed, and prints its URL on stdout's first line when ready.
//!
//! `cargo run --example test-github -- --repo <bare repo dir> --owner org --name app --token <tok> [--port N]
//! [--latency-ms N]` (`--latency-ms`: wait that long before each answer, as a distant GitHub would)

use std::io::Write as _;
use std::path::PathBuf;

#[allow(dead_code)]
#[path = "../it/support/github/mod.rs"]
mod github;

const USAGE: &str = "usage: test-github --repo <bare repo dir> --owner <owner> --name <name> --token <token> [--port N] [--latency-ms N]";

fn main() {
    let mut repo: Option<PathBuf> = None;
    let mut owner: Option<String> = None;
    let mut name: Option<String> = None;
    let mut token: Option<String> = None;
    let mut port: u16 = 0;
    let mut latency_ms: u64 = 0;
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next().unwrap_or_else(|| {
                eprintln!("test-github: {flag} needs a value\n{USAGE}");
                std::process::exit(2)
            })
        };
        match flag.as_str() {
            "--repo" => repo = Some(PathBuf::from(value())),
            "--owner" => owner = Some(value()),
            "--name" => name = Some(value()),
            "--token" => token = Some(value()),
            "--port" => {
                let text = value();
                port = text.parse().unwrap_or_else(|_| {
                    eprintln!("test-github: --port {text:?} is not a port number");
                    std::process::exit(2)
                });
            }
            "--latency-ms" => {
                let text = value();
                latency_ms = text.parse().unwrap_or_else(|_| {
                    eprintln!("test-github: --latency-ms {text:?} is not a number of milliseconds");
                    std::process::exit(2)
                });
            }
            "-h" | "--help" => {
                eprintln!("{USAGE}");
                return;
            }
            other => {
                eprintln!("test-github: unknown argument {other:?}\n{USAGE}");
                std::process::exit(2)
            }
        }
    }
    let (Some(repo), Some(owner), Some(name), Some(token)) = (repo, owner, name, token) else {
        eprintln!("test-github: --repo, --owner, --name and --token are required\n{USAGE}");
        std::process::exit(2)
    };
    let server = github::TestGithub::start_on(&repo, &owner, &name, port);
    server.add_token(&token, github::Permissions::ALL);
    server.set_latency(std::time::Duration::from_millis(latency_ms));
    // Killed, not dropped: violations go to stderr as they happen.
    server.echo_violations(true);
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "{}", server.url());
    let _ = stdout.flush();
    loop {
        std::thread::park();
    }
}
