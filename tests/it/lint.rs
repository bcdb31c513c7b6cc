//! `lint` and the build modes' `flux-check`, end to end on fixture repositories laid out like the seed's `flux/`
//! tree: the seed's own provider definitions (tests/data/flux-fixtures/seed) and the corrected ones
//! (tests/data/flux-fixtures/corrected).

use std::path::{Path, PathBuf};

use crate::harness::{Runner, Scratch, gitops_promote};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/flux-fixtures")
        .join(name)
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read fixture") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// `(file, line, rule)` of every finding, from the CLI's text output.
fn findings(stdout: &str) -> Vec<(String, usize, String)> {
    stdout
        .lines()
        .filter_map(|l| {
            let (place, rest) = l.split_once(": ")?;
            let (file, line) = place.rsplit_once(':')?;
            let rule = rest.split_once('[')?.1.split_once(']')?.0;
            Some((file.to_string(), line.parse().ok()?, rule.to_string()))
        })
        .collect()
}

#[test]
fn a_finding_is_printed_once_on_a_terminal() {
    // Regression: on a terminal each finding was printed twice, in the report on stdout and as an annotation
    // on stderr.
    let out = gitops_promote()
        .args(["lint", "--tags-file", "/dev/null", "--repo"])
        .arg(fixture("seed"))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    let finding = "`includeTag: production-latest` matches every tag";
    let both = format!("{stdout}{stderr}");
    assert_eq!(both.matches(finding).count(), 1, "{both}");
    assert!(stdout.contains(finding), "{stdout}");
    // On a runner the finding is still an annotation on its file and line.
    let runner = Runner::new();
    let out = runner
        .action(
            &fixture("seed"),
            &[("mode", "lint"), ("tags-file", "/dev/null")],
        )
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("::error title=gitops-promote flux%3A ResourceSetInputProvider/backend-production (unanchored-fixed-tag),file=flux/bootstrap/apps/production/backend.yaml,line=10::"),
        "{stdout}"
    );
}

#[test]
fn the_seed_providers_get_the_findings_they_deserve() {
    let out = gitops_promote()
        .args(["lint", "--repo"])
        .arg(fixture("seed"))
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let dev = "flux/bootstrap/apps/develop/backend.yaml".to_string();
    let stg = "flux/bootstrap/apps/staging/backend.yaml".to_string();
    let prod = "flux/bootstrap/apps/production/backend.yaml".to_string();
    let got = findings(&stdout);
    let want = vec![
        (dev.clone(), 10, "rc-ordered-by-sha".to_string()),
        (dev.clone(), 10, "unknown-filter-field".to_string()),
        (dev.clone(), 10, "version-without-semver".to_string()),
        (dev.clone(), 32, "template-key-permute-only".to_string()),
        (prod.clone(), 10, "unanchored-fixed-tag".to_string()),
        (prod.clone(), 32, "moving-tag-without-digest".to_string()),
        (prod.clone(), 32, "template-key-permute-only".to_string()),
        (stg.clone(), 10, "unknown-filter-field".to_string()),
        (stg.clone(), 10, "version-without-semver".to_string()),
        (stg.clone(), 32, "template-key-permute-only".to_string()),
    ];
    assert_eq!(got, want, "{stdout}");
    assert!(
        stdout.contains("`v1.9.3` sorts above `v1.10.0`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("`production-latest-old` would match too"),
        "{stdout}"
    );
    // Each finding once: in the report on stdout, not again on stderr.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("--> flux/bootstrap/apps/production/backend.yaml:10"),
        "{stderr}"
    );
}

#[test]
fn the_corrected_providers_get_none() {
    let out = gitops_promote()
        .args(["lint", "--repo"])
        .arg(fixture("corrected"))
        .args(["--tags-file", "-"])
        .write_stdin("v1.9.3\nv1.10.0\nv1.10.0-rc.1.gabc1234\nproduction-latest\n")
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(findings(&stdout).is_empty(), "{stdout}");
    assert!(
        stdout.contains("0 error(s), 0 warning(s) in 6 Flux object(s)"),
        "{stdout}"
    );
    for (env, object, tag) in [
        (
            "develop",
            "ResourceSetInputProvider/backend-develop",
            "v1.10.0-rc.1.gabc1234",
        ),
        (
            "staging",
            "ResourceSetInputProvider/backend-staging",
            "v1.10.0",
        ),
        (
            "production",
            "ResourceSetInputProvider/backend-production",
            "production-latest",
        ),
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == [env, object, tag]),
            "{env} should deploy {tag}: {stdout}"
        );
    }
}

#[test]
fn lint_predicts_what_the_seed_deploys_and_it_is_wrong() {
    let out = gitops_promote()
        .args(["lint", "--repo"])
        .arg(fixture("seed"))
        .args(["--tags-file", "-"])
        .write_stdin(
            "v1.9.3\nv1.10.0\nv1.10.0-rc.1.gabc1234\nproduction-latest\nproduction-latest-old\n",
        )
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    for (env, tag) in [
        ("develop", "v1.9.3"),
        ("staging", "v1.9.3"),
        ("production", "production-latest-old"),
    ] {
        assert!(
            stdout
                .lines()
                .any(|l| l.trim_start().starts_with(env) && l.trim_end().ends_with(tag)),
            "{env} deploys {tag} with the seed's filters: {stdout}"
        );
    }
}

#[test]
fn lint_in_actions_annotates_files_and_writes_the_summary() {
    let runner = Runner::new();
    let out = runner
        .action(&fixture("seed"), &[("mode", "lint")])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("::error title=gitops-promote flux%3A ResourceSetInputProvider/backend-production (unanchored-fixed-tag),file=flux/bootstrap/apps/production/backend.yaml,line=10::"),
        "{stdout}"
    );
    let summary = runner.summary();
    assert!(
        summary.contains("| ❌ | `flux/bootstrap/apps/develop/backend.yaml:10` |"),
        "{summary}"
    );
    let outputs = runner.outputs();
    let findings: serde_json::Value = serde_json::from_str(&outputs["findings"]).expect("json");
    assert_eq!(findings.as_array().map(Vec::len), Some(10));
}

#[test]
fn a_provider_that_selects_nothing_warns_unless_pruning_is_disabled() {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_tree(&fixture("corrected"), dir.path());
    let file = dir
        .path()
        .join("flux/bootstrap/apps/production/backend.yaml");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(
        &file,
        text.replace("          fluxcd.controlplane.io/prune: disabled\n", ""),
    )
    .expect("write");
    let out = gitops_promote()
        .args(["lint", "--repo"])
        .arg(dir.path())
        .args(["--tags-file", "-"])
        .write_stdin("v1.0.0\nv1.1.0-rc.1.gabc1234\n")
        .output()
        .expect("run");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "warnings only: {stdout}");
    assert_eq!(
        findings(&stdout),
        vec![(
            "flux/bootstrap/apps/production/backend.yaml".to_string(),
            9,
            "selects-nothing".to_string()
        )],
        "{stdout}"
    );
    assert!(stdout.contains("fluxcd.controlplane.io/prune: disabled"));
}

/// A scratch repository holding a fixture's `flux/` tree, a release tag `v1.9.3` and a `feat:` commit after it,
/// so staging-build computes `v1.10.0`.
fn repo_with(fixture_name: &str) -> Scratch {
    let s = Scratch::new();
    copy_tree(&fixture(fixture_name), &s.work);
    s.git(&["add", "-A"]);
    s.git(&["commit", "-q", "-m", "chore: flux objects"]);
    s.git(&["tag", "v1.9.3"]);
    s.commit("feat: a feature");
    s
}

#[test]
fn staging_build_refuses_a_tag_the_seed_filter_would_not_deploy() {
    let s = repo_with("seed");
    let out = gitops_promote()
        .args(["staging-build", "--image", "ghcr.io/ldbl/backend", "--repo"])
        .arg(&s.work)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("staging would not deploy `v1.10.0`: `v1.9.3` sorts above `v1.10.0` because the filter has no `semver`"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--> flux/bootstrap/apps/staging/backend.yaml:9"),
        "{stderr}"
    );
    assert_eq!(
        s.origin_tag("v1.10.0"),
        None,
        "the check runs before any effect"
    );

    let dry = gitops_promote()
        .args([
            "staging-build",
            "--image",
            "ghcr.io/ldbl/backend",
            "--dry-run",
            "--repo",
        ])
        .arg(&s.work)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&dry.stderr);
    assert!(dry.status.success(), "{stderr}");
    assert!(stderr.contains("warning: gitops-promote flux"), "{stderr}");
    assert!(
        stderr.contains("dry run (a real run fails here)"),
        "{stderr}"
    );
}

#[test]
fn staging_build_passes_with_the_corrected_filter() {
    let s = repo_with("corrected");
    let out = gitops_promote()
        .args(["staging-build", "--image", "ghcr.io/ldbl/backend", "--repo"])
        .arg(&s.work)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(s.origin_tag("v1.10.0").is_some());

    let other = gitops_promote()
        .args([
            "staging-build",
            "--image",
            "ghcr.io/ldbl/frontend",
            "--dry-run",
            "--repo",
        ])
        .arg(&s.work)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&other.stderr);
    assert!(other.status.success(), "{stderr}");
    assert!(
        stderr.contains("notice: gitops-promote: flux check skipped"),
        "{stderr}"
    );
}

#[test]
fn develop_build_checks_too_and_warn_only_annotates() {
    let s = repo_with("seed");
    let out = gitops_promote()
        .args([
            "develop-build",
            "--image",
            "ghcr.io/ldbl/backend",
            "--flux-check",
            "warn",
            "--repo",
        ])
        .arg(&s.work)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("warning: gitops-promote flux: ResourceSetInputProvider/backend-develop (tag-not-selected)"), "{stderr}");
    assert!(
        stderr.contains("`v1.9.3` sorts above `v1.10.0-rc.1.g"),
        "{stderr}"
    );

    let corrected = repo_with("corrected");
    let out = gitops_promote()
        .args(["develop-build", "--image", "ghcr.io/ldbl/backend", "--repo"])
        .arg(&corrected.work)
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = gitops_promote()
        .args([
            "develop-build",
            "--image",
            "ghcr.io/ldbl/backend",
            "--flux-check",
            "maybe",
            "--repo",
        ])
        .arg(&corrected.work)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn seed_lint_report_snapshot() {
    let runner = Runner::new();
    let out = runner
        .action(&fixture("seed"), &[("mode", "lint")])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    insta::assert_snapshot!("seed_lint_summary", runner.summary());
    let cli = gitops_promote()
        .args(["lint", "--repo"])
        .arg(fixture("seed"))
        .output()
        .expect("run");
    insta::assert_snapshot!("seed_lint_text", String::from_utf8_lossy(&cli.stdout));
}
