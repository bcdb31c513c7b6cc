//! The pieces wired together, against the real CNCF registry (anonymous and htpasswd): the registry's current
//! tags in `select --image`, the build modes' flux check and `lint` (where the tags come from changes the
//! verdict; a registry that cannot be read falls back to git tags or the static checks and says so), the build
//! modes' inputs reported in one round, their `digest` output, and registry secrets from the environment.

use std::path::Path;

use crate::harness::{Runner, Scratch, gitops_promote};
use crate::support::images::{self, Format};
use crate::support::registry::{Auth, PASSWORD, Registry, USER};

/// Pushes one small image to `addr/repo` under every tag.
fn push_tags(registry: &Registry, repo: &str, tags: &[&str], creds: Option<(&str, &str)>) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let layout = images::layout(tmp.path(), 1, 1, 256);
    for tag in tags {
        images::push(
            &layout,
            &format!("{}/{repo}:{tag}", registry.addr),
            Format::Oci,
            creds,
        );
    }
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, text).expect("write");
}

#[test]
fn select_lists_the_image_tags_from_the_registry_without_a_tags_file() {
    let registry = Registry::start(Auth::Anonymous);
    push_tags(&registry, "org/app", &["v1.9.3", "v1.10.0", "latest"], None);
    let dir = tempfile::tempdir().expect("tempdir");
    let filter = dir.path().join("filter.yaml");
    write(
        &filter,
        "filter:\n  includeTag: '^v'\n  semver: '>=0.0.0'\n",
    );
    let image = format!("oci://{}/org/app", registry.addr);
    let out = gitops_promote()
        .args(["select", "--image", &image, "--filter-file"])
        .arg(&filter)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "v1.10.0\nv1.9.3\n");

    // In Actions: the summary says where the tags came from.
    let runner = Runner::new();
    runner
        .action(
            dir.path(),
            &[
                ("mode", "select"),
                ("image", &image),
                ("filter-file", filter.to_str().expect("utf-8")),
            ],
        )
        .assert()
        .success();
    assert_eq!(runner.outputs()["selected"], "v1.10.0\nv1.9.3");
    assert!(
        runner.summary().contains(&format!(
            "selects 2 of 3 tags (the registry's tags of `{}/org/app`)",
            registry.addr
        )),
        "{}",
        runner.summary()
    );

    // An image the registry does not know has no tags: an empty selection, not an error.
    let out = gitops_promote()
        .args([
            "select",
            "--image",
            &format!("{}/org/none", registry.addr),
            "--filter-file",
        ])
        .arg(&filter)
        .output()
        .expect("run");
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
}

#[test]
fn select_needs_tags_file_or_image_and_a_registry_it_can_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let filter = dir.path().join("filter.yaml");
    write(&filter, "filter:\n  includeTag: '^v'\n");
    let out = gitops_promote()
        .args(["select", "--filter-file"])
        .arg(&filter)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("`tags-file`") && stderr.contains("`image`"),
        "{stderr}"
    );

    let out = gitops_promote()
        .args(["select", "--image", "ghcr.io/org/app:v1", "--filter-file"])
        .arg(&filter)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));

    // A registry that refuses anonymous reads is an error for `select` (there is nothing to fall back to).
    let registry = Registry::start(Auth::Htpasswd);
    push_tags(&registry, "org/app", &["v1"], Some((USER, PASSWORD)));
    let image = format!("{}/org/app", registry.addr);
    let out = gitops_promote()
        .args(["select", "--image", &image, "--filter-file"])
        .arg(&filter)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));
    let out = gitops_promote()
        .args([
            "select",
            "--image",
            &image,
            "--registry-username",
            USER,
            "--registry-password",
            PASSWORD,
            "--filter-file",
        ])
        .arg(&filter)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "v1\n");
}

/// Copies a fixture's `flux/` tree with its image moved to `image`.
fn copy_fixture(name: &str, to: &Path, image: &str) {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/flux-fixtures")
        .join(name);
    fn walk(from: &Path, to: &Path, image: &str) {
        for entry in std::fs::read_dir(from).expect("read fixture") {
            let entry = entry.expect("entry");
            let target = to.join(entry.file_name());
            if entry.path().is_dir() {
                walk(&entry.path(), &target, image);
            } else {
                let text = std::fs::read_to_string(entry.path()).expect("read");
                write(&target, &text.replace("ghcr.io/ldbl/backend", image));
            }
        }
    }
    walk(&from, to, image);
}

/// A repository with the corrected Flux objects for `image`, a release tag `v1.9.3` and a `feat:` commit after it,
/// so staging-build computes `v1.10.0`.
fn repo_for(image: &str) -> Scratch {
    let s = Scratch::new();
    copy_fixture("corrected", &s.work, image);
    s.git(&["add", "-A"]);
    s.git(&["commit", "-q", "-m", "chore: flux objects"]);
    s.git(&["tag", "v1.9.3"]);
    s.commit("feat: a feature");
    s
}

#[test]
fn flux_check_compares_with_the_registry_tags_and_falls_back_to_git() {
    let registry = Registry::start(Auth::Htpasswd);
    // In the registry, not in git: a higher version that staging's `semver` filter prefers.
    push_tags(
        &registry,
        "ldbl/backend",
        &["v1.9.3", "v2.0.0"],
        Some((USER, PASSWORD)),
    );
    let image = format!("{}/ldbl/backend", registry.addr);
    let s = repo_for(&image);
    let writes = registry.writes().len();

    // Anonymous reads are refused: the check compares with the git tags, passes, and says so.
    let runner = Runner::new();
    let out = runner
        .action(
            &s.work,
            &[
                ("mode", "staging-build"),
                ("image", &image),
                ("dry-run", "true"),
            ],
        )
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let summary = runner.summary();
    assert!(
        summary.contains("| Flux check | staging would deploy `v1.10.0` (compared with 1 tag(s): the repository's git tags (the registry could not be read); registry: "),
        "{summary}"
    );
    assert!(summary.contains("401"), "{summary}");

    // With the credentials, the registry's `v2.0.0` changes the verdict. A dry run annotates and writes nothing.
    let creds = [
        ("mode", "staging-build"),
        ("image", image.as_str()),
        ("registry-username", USER),
        ("registry-password", PASSWORD),
        ("dry-run", "true"),
    ];
    let runner = Runner::new();
    let out = runner.action(&s.work, &creds).output().expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("dry run (a real run fails here): staging would not deploy `v1.10.0`: `v2.0.0` is a higher version than `v1.10.0` (existing tags: the registry's tags of"),
        "{stdout}"
    );
    // The password shows only in the runner's `::add-mask::` command, which the runner consumes.
    assert!(
        stdout
            .lines()
            .filter(|l| l.contains(PASSWORD))
            .all(|l| l == format!("::add-mask::{PASSWORD}")),
        "{stdout}"
    );
    assert!(
        runner
            .summary()
            .contains("(compared with 2 tag(s): the registry's tags of"),
        "{}",
        runner.summary()
    );
    assert_eq!(registry.writes().len(), writes, "a dry run writes nothing");

    // A real run fails before the git tag is cut.
    let out = runner.action(&s.work, &creds[..4]).output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert_eq!(s.origin_tag("v1.10.0"), None);
    assert_eq!(registry.writes().len(), writes);
}

#[test]
fn lint_predicts_from_the_registry_tags_and_says_once_when_it_cannot_read_them() {
    let registry = Registry::start(Auth::Anonymous);
    push_tags(
        &registry,
        "ldbl/backend",
        &["v1.0.0", "v1.1.0-rc.1.gabc1234"],
        None,
    );
    let image = format!("{}/ldbl/backend", registry.addr);
    let dir = tempfile::tempdir().expect("tempdir");
    copy_fixture("corrected", dir.path(), &image);
    // Without the prune guard, production's empty selection is a warning.
    let file = dir
        .path()
        .join("flux/bootstrap/apps/production/backend.yaml");
    let text = std::fs::read_to_string(&file).expect("read");
    write(
        &file,
        &text.replace("          fluxcd.controlplane.io/prune: disabled\n", ""),
    );
    let out = gitops_promote()
        .args(["lint", "--repo"])
        .arg(dir.path())
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    for (env, deploys) in [
        ("develop", "v1.1.0-rc.1.gabc1234"),
        ("staging", "v1.0.0"),
        (
            "production",
            "nothing (the ResourceSet's objects are garbage-collected)",
        ),
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.trim_start().starts_with(env) && l.trim_end().ends_with(deploys)),
            "{env} deploys {deploys}: {stdout}"
        );
    }
    assert!(
        stdout.contains("error(s)") && stdout.contains("[selects-nothing]"),
        "{stdout}"
    );

    // A registry that refuses anonymous reads: the static checks still run, and one notice says why.
    let private = Registry::start(Auth::Htpasswd);
    let image = format!("{}/ldbl/backend", private.addr);
    let dir = tempfile::tempdir().expect("tempdir");
    copy_fixture("seed", dir.path(), &image);
    let out = gitops_promote()
        .args(["lint", "--repo"])
        .arg(dir.path())
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "the seed's static findings: {stdout}"
    );
    assert!(stdout.contains("[unanchored-fixed-tag]"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "Current tags unknown for {image}: the registry could not be read"
        )),
        "{stdout}"
    );
    assert_eq!(
        stderr.matches("registry not read").count(),
        1,
        "said once: {stderr}"
    );
    assert!(stderr.contains("401"), "{stderr}");

    // With the credentials, it reads them.
    let out = gitops_promote()
        .args([
            "lint",
            "--registry-username",
            USER,
            "--registry-password",
            PASSWORD,
            "--repo",
        ])
        .arg(dir.path())
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("Current tags unknown"), "{stdout}");
    assert!(!stdout.contains("tags unknown"), "{stdout}");
}

#[test]
fn build_inputs_are_reported_in_one_round_with_source_image_and_flux_check() {
    let s = Scratch::new();
    s.commit("feat: first");
    let runner = Runner::new();
    let out = runner
        .action(
            &s.work,
            &[
                ("mode", "staging-build"),
                ("flux-check", "sometimes"),
                ("source-image", "NOT A REFERENCE"),
            ],
        )
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let errors: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("::error "))
        .collect();
    assert_eq!(errors.len(), 3, "{stdout}");
    for input in ["image", "source-image", "flux-check"] {
        assert!(
            errors.iter().any(|l| l.contains(&format!("`{input}`"))),
            "{input}: {stdout}"
        );
    }
    assert_eq!(s.origin_tag("v0.1.0"), None);
}

#[test]
fn build_modes_output_the_source_image_digest() {
    let registry = Registry::start(Auth::Anonymous);
    push_tags(&registry, "org/app", &["build-17"], None);
    let source = format!("{}/org/app:build-17", registry.addr);
    let digest = images::digest(&source, None);
    let s = Scratch::new();
    s.commit("feat: first");
    let image = format!("{}/org/app", registry.addr);
    let runner = Runner::new();
    let out = runner
        .action(
            &s.work,
            &[
                ("mode", "develop-build"),
                ("image", &image),
                ("source-image", &source),
            ],
        )
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let outputs = runner.outputs();
    assert_eq!(outputs["digest"], digest);
    let tag = &outputs["tag"];
    assert_eq!(images::digest(&format!("{image}:{tag}"), None), digest);
    assert!(
        runner
            .summary()
            .contains(&format!("| Digest | `{digest}` |")),
        "{}",
        runner.summary()
    );

    // Without `source-image` there is no digest to report.
    let runner = Runner::new();
    runner
        .action(&s.work, &[("mode", "develop-build"), ("image", &image)])
        .assert()
        .success();
    assert!(!runner.outputs().contains_key("digest"));
    assert!(!runner.summary().contains("| Digest |"));
}

#[test]
fn the_cli_reads_the_registry_password_from_the_environment_and_never_prints_it() {
    let registry = Registry::start(Auth::Htpasswd);
    push_tags(&registry, "org/app", &["v1.0.0"], Some((USER, PASSWORD)));
    let source = format!("{}/org/app:v1.0.0", registry.addr);
    let out = gitops_promote()
        .args([
            "retag",
            "--source",
            &source,
            "--tags",
            "stable",
            "--registry-username",
            USER,
        ])
        .env(
            gitops_promote::env::GITOPS_PROMOTE_REGISTRY_PASSWORD,
            PASSWORD,
        )
        .output()
        .expect("run");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{all}");
    assert!(!all.contains(PASSWORD), "{all}");
    assert_eq!(
        images::digest(
            &format!("{}/org/app:stable", registry.addr),
            Some((USER, PASSWORD))
        ),
        images::digest(&source, Some((USER, PASSWORD)))
    );

    // A wrong one fails with the registry's answer, and still does not show.
    let out = gitops_promote()
        .args([
            "retag",
            "--source",
            &source,
            "--tags",
            "other",
            "--registry-username",
            USER,
        ])
        .env(
            gitops_promote::env::GITOPS_PROMOTE_REGISTRY_PASSWORD,
            "wrong-pass-123",
        )
        .output()
        .expect("run");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(1), "{all}");
    assert!(
        all.contains("401") && !all.contains("wrong-pass-123"),
        "{all}"
    );
}

/// The log's `::group::` blocks (name and the lines inside) and the lines outside every group.
fn log_groups(stdout: &str) -> (Vec<(String, Vec<String>)>, Vec<String>) {
    let (mut groups, mut outside) = (Vec::new(), Vec::new());
    let mut open: Option<(String, Vec<String>)> = None;
    for line in stdout.lines() {
        if let Some(name) = line.strip_prefix("::group::") {
            assert!(open.is_none(), "nested group `{name}`:\n{stdout}");
            open = Some((name.to_string(), Vec::new()));
        } else if line == "::endgroup::" {
            groups.push(open.take().expect("an ::endgroup:: closes an open group"));
        } else if let Some((_, lines)) = open.as_mut() {
            lines.push(line.to_string());
        } else {
            outside.push(line.to_string());
        }
    }
    assert!(open.is_none(), "a group is never closed:\n{stdout}");
    (groups, outside)
}

#[test]
fn log_groups_hold_what_their_step_prints() {
    // Regression: every `::group::` was empty; each step's outcome ("created: …") came after `::endgroup::`.
    let registry = Registry::start(Auth::Anonymous);
    push_tags(&registry, "org/app", &["build-17"], None);
    let source = format!("{}/org/app:build-17", registry.addr);
    let s = Scratch::new();
    s.commit("feat: first");
    let image = format!("{}/org/app", registry.addr);
    let runner = Runner::new();
    let out = runner
        .action(
            &s.work,
            &[
                ("mode", "staging-build"),
                ("image", &image),
                ("source-image", &source),
            ],
        )
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}");
    let (groups, outside) = log_groups(&stdout);
    assert!(groups.len() >= 5, "{stdout}");
    for (name, lines) in &groups {
        assert!(
            lines.iter().any(|l| !l.starts_with("::")),
            "group `{name}` is empty:\n{stdout}"
        );
    }
    let inside = |prefix: &str| {
        groups
            .iter()
            .find(|(name, _)| name.starts_with(prefix))
            .map(|(_, lines)| lines.join("\n"))
            .unwrap_or_else(|| panic!("no group `{prefix}…`:\n{stdout}"))
    };
    assert!(inside("Read git history").contains("HEAD is `"), "{stdout}");
    assert!(
        inside(&format!("Read `{source}`")).contains("does not exist yet"),
        "{stdout}"
    );
    assert!(
        inside(&format!("point `{image}:v0.1.0`")).contains("created: point"),
        "{stdout}"
    );
    assert!(
        inside("create git tag `v0.1.0`").contains("created: create git tag"),
        "{stdout}"
    );
    for line in &outside {
        for word in ["created:", "unchanged:", "moved:", "changed:"] {
            assert!(
                !line.starts_with(word),
                "a step's outcome outside its group: {line}\n{stdout}"
            );
        }
    }

    // `retag` too: the facts it read are in its read group.
    let runner = Runner::new();
    let out = runner
        .action(
            runner.dir.path(),
            &[
                ("mode", "retag"),
                ("source", &source),
                ("tags", "production-latest"),
            ],
        )
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{stdout}");
    let (groups, _) = log_groups(&stdout);
    assert_eq!(groups.len(), 2, "{stdout}");
    assert!(
        groups[0].1.iter().any(|l| l.contains("sha256:")),
        "{stdout}"
    );
    assert!(
        groups[1].1.iter().any(|l| l.starts_with("created: ")),
        "{stdout}"
    );
}
