//! The integration-test harness: real temporary git repositories with a bare `origin`, and the real binary run
//! in an environment scrubbed of everything GitHub or a runner could have set, then set exactly as the test
//! declares.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command as StdCommand;

use assert_cmd::Command;
use tempfile::TempDir;

/// A proxy address nothing listens on (port 9, discard).
pub const DEAD_PROXY: &str = "http://127.0.0.1:9";

const SCRUBBED_PREFIXES: &[&str] = &[
    "GITHUB_",
    "RUNNER_",
    "ACTIONS_",
    "INPUT_",
    "GIT_",
    "GITOPS_PROMOTE_",
];

/// The binary under test with a scrubbed environment.
pub fn gitops_promote() -> Command {
    scrubbed(Command::cargo_bin("gitops-promote").expect("binary is built by cargo test"))
}

/// `cmd` with the environment scrubbed of everything GitHub or a runner could have set.
pub fn scrubbed(mut cmd: Command) -> Command {
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().to_string();
        if SCRUBBED_PREFIXES.iter().any(|p| key.starts_with(p))
            || key == "CI"
            || key.to_ascii_uppercase().ends_with("_PROXY")
        {
            cmd.env_remove(&key);
        }
    }
    // No test reaches the internet: the fixtures' `ghcr.io/...` images are read through a proxy that is not
    // there, so a machine with internet access sees the same unreadable registry as one without. The test
    // registries are on loopback, which the registry client never reaches through a proxy.
    cmd.env("HTTPS_PROXY", DEAD_PROXY);
    // No test reads the machine's registry logins: Docker's and the containers' stores point at nothing
    // unless a test gives its own.
    cmd.env_remove("XDG_RUNTIME_DIR")
        .env("DOCKER_CONFIG", "/nonexistent/gitops-promote-tests/docker")
        .env(
            "REGISTRY_AUTH_FILE",
            "/nonexistent/gitops-promote-tests/auth.json",
        );
    cmd
}

/// Runs `git` for fixture setup, with a fixed identity and no user or system config.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = StdCommand::new("git")
        .current_dir(dir)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Dev")
        .env("GIT_AUTHOR_EMAIL", "dev@example.com")
        .env("GIT_COMMITTER_NAME", "Dev")
        .env("GIT_COMMITTER_EMAIL", "dev@example.com")
        .env("GIT_AUTHOR_DATE", "2026-01-02T03:04:05Z")
        .env("GIT_COMMITTER_DATE", "2026-01-02T03:04:05Z")
        .output()
        .expect("git is installed (apt-get install git)");
    assert!(
        out.status.success(),
        "git {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// A scratch repository `work/` cloned from a bare `origin.git/`, both in one temp dir.
pub struct Scratch {
    pub dir: TempDir,
    pub work: PathBuf,
    pub origin: PathBuf,
}

impl Scratch {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let origin = dir.path().join("origin.git");
        let work = dir.path().join("work");
        git(
            dir.path(),
            &["init", "-q", "--bare", "-b", "main", "origin.git"],
        );
        git(dir.path(), &["init", "-q", "-b", "main", "work"]);
        git(
            &work,
            &[
                "remote",
                "add",
                "origin",
                origin.to_str().expect("utf-8 path"),
            ],
        );
        Self { dir, work, origin }
    }

    /// An empty commit with `message`; returns its SHA.
    pub fn commit(&self, message: &str) -> String {
        git(
            &self.work,
            &["commit", "-q", "--allow-empty", "-m", message],
        );
        self.head()
    }

    pub fn head(&self) -> String {
        git(&self.work, &["rev-parse", "HEAD"])
    }

    pub fn git(&self, args: &[&str]) -> String {
        git(&self.work, args)
    }

    /// The commit a tag points to in `origin`, if it exists there.
    pub fn origin_tag(&self, tag: &str) -> Option<String> {
        let out = StdCommand::new("git")
            .current_dir(&self.origin)
            .args([
                "rev-parse",
                "--verify",
                "--quiet",
                &format!("refs/tags/{tag}^{{commit}}"),
            ])
            .output()
            .expect("git");
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }
}

/// The files a GitHub runner gives a step, and the environment that points at them.
pub struct Runner {
    pub dir: TempDir,
    pub output: PathBuf,
    pub summary: PathBuf,
}

impl Runner {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let output = dir.path().join("github_output");
        let summary = dir.path().join("step_summary");
        Self {
            dir,
            output,
            summary,
        }
    }

    /// The binary as the runner starts a Docker action: no arguments, `INPUT_*` and `GITHUB_*` set.
    pub fn action(&self, workspace: &Path, inputs: &[(&str, &str)]) -> Command {
        self.step(gitops_promote(), workspace, inputs)
    }

    /// A JavaScript action's script as the runner starts it: `node SCRIPT`, in the workspace, with the same
    /// environment as [`Runner::action`].
    pub fn node_action(&self, script: &Path, workspace: &Path, inputs: &[(&str, &str)]) -> Command {
        let mut node = scrubbed(Command::new("node"));
        node.arg(script).current_dir(workspace);
        self.step(node, workspace, inputs)
    }

    fn step(&self, mut cmd: Command, workspace: &Path, inputs: &[(&str, &str)]) -> Command {
        cmd.env("GITHUB_ACTIONS", "true")
            .env("GITHUB_OUTPUT", &self.output)
            .env("GITHUB_STEP_SUMMARY", &self.summary)
            .env("GITHUB_WORKSPACE", workspace)
            .env("GITHUB_REPOSITORY", "org/app")
            .env("GITHUB_SERVER_URL", "https://github.com")
            .env("GITHUB_RUN_NUMBER", "17")
            .env("GITHUB_ACTOR", "octocat");
        for (name, value) in inputs {
            cmd.env(format!("INPUT_{}", name.to_uppercase()), value);
        }
        cmd
    }

    /// The outputs the step wrote, parsed as the runner parses them.
    pub fn outputs(&self) -> BTreeMap<String, String> {
        let text = std::fs::read_to_string(&self.output).unwrap_or_default();
        gitops_promote::actions::parse_outputs(&text)
    }

    pub fn output_written(&self) -> bool {
        self.output.exists()
    }

    pub fn summary(&self) -> String {
        std::fs::read_to_string(&self.summary).unwrap_or_default()
    }
}
