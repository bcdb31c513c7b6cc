//! The action as the runner runs it (`runs.using: node24`): `node action/main.js` with `INPUT_*` variables,
//! `GITHUB_OUTPUT` and `GITHUB_STEP_SUMMARY`, downloading a release of the binary under test (packaged by
//! `scripts/package.sh`, as release.yml packages it) from 127.0.0.1 and verifying it against the checksums
//! beside the script.

use std::path::PathBuf;
use std::process::Command as StdCommand;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

use crate::harness::Runner;
use crate::support::files::FileServer;

pub const VERSION: &str = "v9.8.7";

/// The release target the wrapper picks on this machine (its table in action/main.js).
pub fn host_target() -> &'static str {
    match (std::env::consts::OS, std::env::consts::ARCH) {
        ("linux", "x86_64") => "x86_64-unknown-linux-musl",
        ("linux", "aarch64") => "aarch64-unknown-linux-musl",
        ("macos", "x86_64") => "x86_64-apple-darwin",
        ("macos", "aarch64") => "aarch64-apple-darwin",
        ("windows", "x86_64") => "x86_64-pc-windows-msvc",
        other => panic!("no release target for {other:?}"),
    }
}

pub fn binary_name() -> String {
    let exe = if cfg!(windows) { ".exe" } else { "" };
    format!("gitops-promote-{VERSION}-{}{exe}", host_target())
}

pub fn asset() -> String {
    format!("{}.gz", binary_name())
}

/// The binary under test packaged once as release `VERSION`: `releases/VERSION/ASSET`, and its two checksum
/// lines (the asset's, the binary's).
pub struct Release {
    pub releases: PathBuf,
    pub checksums: String,
}

pub fn release() -> &'static Release {
    static RELEASE: OnceLock<Release> = OnceLock::new();
    RELEASE.get_or_init(|| {
        let dir = tempfile::tempdir().expect("tempdir").keep();
        let releases = dir.join("releases");
        let out = StdCommand::new("bash")
            .arg(root().join("scripts/package.sh"))
            .arg(env!("CARGO_BIN_EXE_gitops-promote"))
            .arg(host_target())
            .arg(VERSION)
            .arg(releases.join(VERSION))
            .output()
            .expect("bash runs scripts/package.sh");
        assert!(
            out.status.success(),
            "package.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let checksums =
            std::fs::read_to_string(releases.join(VERSION).join(format!("{}.sha256", asset())))
                .expect("package.sh writes the checksum lines");
        assert_eq!(checksums.lines().count(), 2, "{checksums}");
        Release {
            releases,
            checksums,
        }
    })
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of the action as a workflow checks it out (action.yml, action/main.js) with `checksums` as its
/// action/SHA256SUMS, a workspace, and the runner's files and directories.
struct Step {
    dir: tempfile::TempDir,
    script: PathBuf,
    workspace: PathBuf,
    tool_cache: PathBuf,
    temp: PathBuf,
    runner: Runner,
}

impl Step {
    fn new(checksums: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let action = dir.path().join("action-checkout");
        std::fs::create_dir_all(action.join("action")).expect("mkdir");
        std::fs::copy(root().join("action.yml"), action.join("action.yml")).expect("action.yml");
        let script = action.join("action/main.js");
        std::fs::copy(root().join("action/main.js"), &script).expect("action/main.js");
        std::fs::write(action.join("action/SHA256SUMS"), checksums).expect("SHA256SUMS");
        let workspace = dir.path().join("workspace");
        std::fs::create_dir_all(&workspace).expect("mkdir");
        std::fs::write(
            workspace.join("staging-filter.yaml"),
            "filter:\n  includeTag: '^v\\d+\\.\\d+\\.\\d+$'\n  semver: '>=0.0.0'\n  limit: 1\n",
        )
        .expect("filter");
        std::fs::write(
            workspace.join("tags.txt"),
            "v1.9.3\nv1.10.0\nv1.10.0-rc.1.gabc1234\nproduction-latest\n",
        )
        .expect("tags");
        let tool_cache = dir.path().join("tool-cache");
        let temp = dir.path().join("runner-temp");
        std::fs::create_dir_all(&temp).expect("mkdir");
        Self {
            dir,
            script,
            workspace,
            tool_cache,
            temp,
            runner: Runner::new(),
        }
    }

    /// Records where the binaries are, as release.yml does beside the checksums (action/RELEASE).
    fn record(&self, text: &str) {
        let file = self.script.with_file_name("RELEASE");
        std::fs::write(file, text).expect("action/RELEASE");
    }

    /// `node action/main.js` as the runner runs it inside a composite action: no download URL given, the
    /// release server at `server_url`, and `GITHUB_ACTION_REPOSITORY` as `action_repository`.
    fn run_composite(
        &self,
        server_url: &str,
        action_repository: &str,
        inputs: &[(&str, &str)],
    ) -> std::process::Output {
        self.runner
            .node_action(&self.script, &self.workspace, inputs)
            .env("RUNNER_TOOL_CACHE", &self.tool_cache)
            .env("RUNNER_TEMP", &self.temp)
            .env("GITHUB_SERVER_URL", server_url)
            .env("GITHUB_ACTION_REPOSITORY", action_repository)
            .output()
            .expect("node runs (apt-get install nodejs, or any Node.js 20+)")
    }

    /// `node action/main.js` as the runner runs it, downloading from `server`.
    fn run(&self, server: &FileServer, inputs: &[(&str, &str)]) -> std::process::Output {
        self.runner
            .node_action(&self.script, &self.workspace, inputs)
            .env("RUNNER_TOOL_CACHE", &self.tool_cache)
            .env("RUNNER_TEMP", &self.temp)
            .env("GITOPS_PROMOTE_DOWNLOAD_URL", server.url())
            .output()
            .expect("node runs (apt-get install nodejs, or any Node.js 20+)")
    }

    /// Where the wrapper keeps the verified binary for later steps.
    fn cached_binary(&self) -> PathBuf {
        self.tool_cache
            .join("gitops-promote")
            .join(VERSION)
            .join(host_target())
            .join(binary_name())
    }

    /// Binaries the wrapper left in RUNNER_TEMP (it removes its own after the run).
    fn leftovers(&self) -> Vec<PathBuf> {
        std::fs::read_dir(&self.temp)
            .expect("runner temp")
            .map(|e| e.expect("entry").path())
            .collect()
    }
}

const SELECT: &[(&str, &str)] = &[
    ("mode", "select"),
    ("filter-file", "staging-filter.yaml"),
    ("tags-file", "tags.txt"),
];

fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).to_string()
}

#[test]
fn the_wrapper_downloads_verifies_and_runs_the_release_with_the_step_inputs() {
    let release = release();
    let server = FileServer::start(&release.releases);
    let step = Step::new(&format!("# header\n{}", release.checksums));

    let out = step.run(&server, SELECT);
    let log = stdout(&out);
    assert!(
        out.status.success(),
        "{log}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        log.contains(&format!(
            "gitops-promote {VERSION} ({}), sha256 verified, downloaded",
            host_target()
        )),
        "{log}"
    );
    // INPUT_FILTER-FILE and INPUT_TAGS-FILE (hyphens kept) reached the binary: it selected and wrote outputs.
    let outputs = step.runner.outputs();
    assert_eq!(
        outputs.get("selected").map(String::as_str),
        Some("v1.10.0"),
        "{outputs:?}\n{log}"
    );
    assert!(
        step.runner.summary().contains("v1.10.0"),
        "{}",
        step.runner.summary()
    );
    assert_eq!(server.requests(), vec![format!("/{VERSION}/{}", asset())]);
    assert!(step.leftovers().is_empty(), "{:?}", step.leftovers());

    // A second step of the job runs the verified copy in the tool cache: no second download.
    let again = step.run(&server, SELECT);
    assert!(again.status.success(), "{}", stdout(&again));
    assert!(
        stdout(&again).contains("sha256 verified, cached"),
        "{}",
        stdout(&again)
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn the_binarys_exit_code_and_annotations_are_the_steps() {
    let release = release();
    let server = FileServer::start(&release.releases);
    let step = Step::new(&release.checksums);
    let out = step.run(&server, &[("mode", "promote-everything")]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("::error title=invalid input `mode`::"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn a_release_whose_checksum_does_not_match_is_refused_and_never_run() {
    let release = release();
    // The "release" served is a script that would leave a marker if it ever ran; the committed checksum is
    // the real binary's.
    let dir = tempfile::tempdir().expect("tempdir");
    let marker = dir.path().join("it-ran");
    let tampered = format!("#!/bin/sh\ntouch '{}'\n", marker.display());
    let served = dir.path().join("releases").join(VERSION);
    std::fs::create_dir_all(&served).expect("mkdir");
    let gz = StdCommand::new("gzip")
        .args(["-n", "-c"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(tampered.as_bytes())?;
            child.wait_with_output()
        })
        .expect("gzip");
    std::fs::write(served.join(asset()), &gz.stdout).expect("write");
    let server = FileServer::start(&dir.path().join("releases"));
    let step = Step::new(&release.checksums);

    let out = step.run(&server, SELECT);
    let log = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    let expected = release.checksums.split_whitespace().next().expect("hash");
    let actual = hex(&Sha256::digest(&gz.stdout));
    assert!(
        log.contains(&format!(
            "::error title=gitops-promote::checksum mismatch for {}",
            asset()
        )) && log.contains(&format!("expected sha256 {expected}"))
            && log.contains(&format!("got {actual}"))
            && log.contains("the download was refused and nothing was run"),
        "{log}"
    );
    assert!(!marker.exists(), "the refused download ran");
    assert!(
        !step.runner.output_written(),
        "no step output without a verified binary"
    );
    assert!(
        !step.cached_binary().exists(),
        "a refused download is not cached"
    );
    assert!(step.leftovers().is_empty(), "{:?}", step.leftovers());
}

#[test]
fn a_tampered_cache_entry_is_replaced_by_a_verified_download() {
    let release = release();
    let server = FileServer::start(&release.releases);
    let step = Step::new(&release.checksums);
    std::fs::create_dir_all(step.cached_binary().parent().expect("dir")).expect("mkdir");
    std::fs::write(step.cached_binary(), b"#!/bin/sh\necho not the release\n").expect("write");

    let out = step.run(&server, SELECT);
    assert!(out.status.success(), "{}", stdout(&out));
    assert!(
        stdout(&out).contains("sha256 verified, downloaded"),
        "{}",
        stdout(&out)
    );
    assert!(
        !stdout(&out).contains("not the release"),
        "{}",
        stdout(&out)
    );
    let cached = std::fs::read(step.cached_binary()).expect("cached");
    assert!(
        release.checksums.contains(&format!(
            "{}  {}\n",
            hex(&Sha256::digest(&cached)),
            binary_name()
        )),
        "the cache holds the released binary again"
    );
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn the_committed_checksums_of_a_commit_that_is_not_a_release_say_to_use_one() {
    let release = release();
    let server = FileServer::start(&release.releases);
    let committed =
        std::fs::read_to_string(root().join("action/SHA256SUMS")).expect("action/SHA256SUMS");
    let step = Step::new(&committed);
    let out = step.run(&server, SELECT);
    let log = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{log}");
    assert!(
        log.contains(&format!(
            "::error title=gitops-promote::action/SHA256SUMS has no release binary for {}",
            host_target()
        )) && log.contains("use a released version"),
        "{log}"
    );
    assert!(server.requests().is_empty());
    assert!(!step.runner.output_written());
    drop(step.dir);
}

/// A GitHub-shaped release server: `/{repository}/releases/download/{version}/{asset}`.
pub fn github_releases(repository: &str) -> (tempfile::TempDir, FileServer) {
    let release = release();
    let dir = tempfile::tempdir().expect("tempdir");
    let served = dir
        .path()
        .join(repository)
        .join("releases/download")
        .join(VERSION);
    std::fs::create_dir_all(&served).expect("mkdir");
    std::fs::copy(
        release.releases.join(VERSION).join(asset()),
        served.join(asset()),
    )
    .expect("asset");
    let server = FileServer::start(dir.path());
    (dir, server)
}

#[test]
fn inside_a_composite_action_the_recorded_repository_is_where_the_binary_comes_from() {
    let release = release();
    let (_dir, server) = github_releases("org/gitops-promote");
    // Empty, or the outer (composite) action's name: both seen on GitHub's runners.
    for action_repository in ["", "org/platform-actions"] {
        let step = Step::new(&release.checksums);
        step.record(&format!(
            "# written by release.yml\nrepository=org/gitops-promote\nversion={VERSION}\n"
        ));
        let out = step.run_composite(&server.url(), action_repository, SELECT);
        let log = stdout(&out);
        assert!(
            out.status.success(),
            "GITHUB_ACTION_REPOSITORY={action_repository:?}: {log}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            step.runner.outputs().get("selected").map(String::as_str),
            Some("v1.10.0")
        );
    }
    let wanted = format!(
        "/org/gitops-promote/releases/download/{VERSION}/{}",
        asset()
    );
    assert_eq!(server.requests(), vec![wanted.clone(), wanted]);
}

#[test]
fn a_malformed_or_mismatched_release_record_is_refused_and_nothing_is_downloaded() {
    let release = release();
    let (_dir, server) = github_releases("org/gitops-promote");
    for (record, says) in [
        (
            "repository=not a repository\n".to_string(),
            "not a `repository=owner/name` or `version=vX.Y.Z` line",
        ),
        (
            format!("version={VERSION}\n"),
            "action/RELEASE has no valid `repository=owner/name` line",
        ),
        (
            "repository=org/gitops-promote\nversion=v0.0.1\n".to_string(),
            "action/RELEASE is for v0.0.1, action/SHA256SUMS for",
        ),
    ] {
        let step = Step::new(&release.checksums);
        step.record(&record);
        let out = step.run_composite(&server.url(), "org/gitops-promote", SELECT);
        let log = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{record}: {log}");
        assert!(
            log.contains("::error title=gitops-promote::") && log.contains(says),
            "{record}: {log}"
        );
        assert!(!step.runner.output_written(), "{record}");
    }
    assert!(server.requests().is_empty(), "{:?}", server.requests());
}

#[test]
fn the_wrapper_uses_nodes_standard_library_only() {
    let script = std::fs::read_to_string(root().join("action/main.js")).expect("action/main.js");
    let requires: Vec<&str> = script
        .match_indices("require(")
        .map(|(i, _)| {
            let rest = &script[i + "require(".len()..];
            &rest[..rest.find(')').expect("closing parenthesis")]
        })
        .collect();
    assert!(!requires.is_empty());
    for module in &requires {
        assert!(
            module.starts_with("'node:"),
            "the shipped action must not need npm packages: require({module})"
        );
    }
    for file in ["package.json", "node_modules"] {
        assert!(!root().join("action").join(file).exists(), "action/{file}");
        assert!(!root().join(file).exists(), "{file}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
