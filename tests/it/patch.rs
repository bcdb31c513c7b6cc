//! `gitops-promote patch` end to end: the real binary on files in a temporary repository.

use std::path::Path;

use predicates::prelude::*;

use crate::harness::{Runner, gitops_promote};

const KUSTOMIZATION: &str = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n# promoted by CI\nresources:\n- deployment.yaml\n\nimages:\n- name: ghcr.io/ldbl/backend  # app\n  newTag: v1.2.2\n";
const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

fn repo_with(path: &str, text: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join(path);
    std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
    std::fs::write(file, text).expect("write");
    dir
}

fn read(dir: &Path, path: &str) -> String {
    std::fs::read_to_string(dir.join(path)).expect("read")
}

#[test]
fn patches_the_default_manifest_and_prints_the_diff() {
    let path = "flux/apps/backend/production/kustomization.yaml";
    let repo = repo_with(path, KUSTOMIZATION);
    gitops_promote()
        .args(["patch", "--app", "backend", "--environment", "production"])
        .args([
            "--image",
            "ghcr.io/ldbl/backend",
            "--tag",
            "v1.2.3",
            "--digest",
            DIGEST,
        ])
        .arg("--repo")
        .arg(repo.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(format!("--- a/{path}")))
        .stdout(predicate::str::contains(
            "-  newTag: v1.2.2\n+  newTag: v1.2.3\n",
        ))
        .stdout(predicate::str::contains(format!("+  digest: {DIGEST}\n")));
    assert_eq!(
        read(repo.path(), path),
        KUSTOMIZATION.replace(
            "  newTag: v1.2.2\n",
            &format!("  newTag: v1.2.3\n  digest: {DIGEST}\n")
        )
    );
}

#[test]
fn action_outputs_changed_and_diff_and_a_second_run_changes_nothing() {
    let path = "deploy/kustomization.yaml";
    let repo = repo_with(path, KUSTOMIZATION);
    let inputs = [
        ("mode", "patch"),
        ("manifest", path),
        ("image", "ghcr.io/ldbl/backend"),
        ("tag", "v1.2.3"),
    ];
    let runner = Runner::new();
    runner.action(repo.path(), &inputs).assert().success();
    let outputs = runner.outputs();
    assert_eq!(outputs["changed"], "true");
    assert!(
        outputs["diff"].contains("+  newTag: v1.2.3"),
        "{}",
        outputs["diff"]
    );
    assert!(runner.summary().contains("```diff"), "{}", runner.summary());
    let after = read(repo.path(), path);

    let second = Runner::new();
    second
        .action(repo.path(), &inputs)
        .assert()
        .success()
        .stdout(predicate::str::contains("no change"));
    assert_eq!(second.outputs()["changed"], "false");
    assert_eq!(second.outputs()["diff"], "");
    assert_eq!(
        read(repo.path(), path),
        after,
        "the second run rewrote the file"
    );
}

#[test]
fn a_directory_means_its_kustomization() {
    let repo = repo_with("overlays/prod/Kustomization", KUSTOMIZATION);
    gitops_promote()
        .args([
            "patch",
            "--manifest",
            "overlays/prod",
            "--image",
            "ghcr.io/ldbl/backend",
        ])
        .args(["--tag", "v1.2.3", "--repo"])
        .arg(repo.path())
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "--- a/overlays/prod/Kustomization",
        ));
    assert!(read(repo.path(), "overlays/prod/Kustomization").contains("newTag: v1.2.3"));
}

#[test]
fn dry_run_shows_the_diff_and_touches_nothing() {
    let repo = repo_with("k/kustomization.yaml", KUSTOMIZATION);
    gitops_promote()
        .args([
            "patch",
            "--manifest",
            "k/kustomization.yaml",
            "--image",
            "ghcr.io/ldbl/backend",
        ])
        .args(["--tag", "v9.9.9", "--dry-run"])
        .arg("--repo")
        .arg(repo.path())
        .assert()
        .success()
        .stdout(predicate::str::contains("+  newTag: v9.9.9"))
        .stdout(predicate::str::contains("\"step\": \"patch\""));
    assert_eq!(read(repo.path(), "k/kustomization.yaml"), KUSTOMIZATION);
}

#[test]
fn a_dry_run_outputs_changed_false_and_would_change() {
    // Regression: a dry run output `changed=true`, so `if: steps.patch.outputs.changed == 'true'` committed a
    // file that was never written.
    let path = "deploy/kustomization.yaml";
    let repo = repo_with(path, KUSTOMIZATION);
    let inputs = [
        ("mode", "patch"),
        ("manifest", path),
        ("image", "ghcr.io/ldbl/backend"),
        ("tag", "v1.2.3"),
    ];
    let dry = Runner::new();
    let mut dry_inputs = inputs.to_vec();
    dry_inputs.push(("dry-run", "true"));
    dry.action(repo.path(), &dry_inputs).assert().success();
    assert_eq!(dry.outputs()["changed"], "false");
    assert_eq!(dry.outputs()["manifest-operation"], "would-change");
    assert!(dry.outputs()["diff"].contains("+  newTag: v1.2.3"));
    assert!(
        dry.summary().contains("would be changed (1 value(s))"),
        "{}",
        dry.summary()
    );
    assert_eq!(read(repo.path(), path), KUSTOMIZATION);

    let real = Runner::new();
    real.action(repo.path(), &inputs).assert().success();
    assert_eq!(real.outputs()["changed"], "true");
    assert_eq!(real.outputs()["manifest-operation"], "changed");
    let again = Runner::new();
    again.action(repo.path(), &dry_inputs).assert().success();
    assert_eq!(again.outputs()["manifest-operation"], "unchanged");
}

#[test]
fn a_patched_manifest_keeps_its_owner_and_mode() {
    // Regression: under the Docker action the binary runs as root over the runner's workspace, and the atomic
    // replace made a patched manifest root-owned.
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let path = "flux/apps/backend/production/kustomization.yaml";
    let repo = repo_with(path, KUSTOMIZATION);
    let file = repo.path().join(path);
    // The runner's user (uid 1001 on GitHub's hosted runners), not the binary's.
    let (uid, gid) = (1001, 121);
    std::os::unix::fs::chown(&file, Some(uid), Some(gid)).expect(
        "chown the fixture: this test runs as root, as the Docker action does (CI runs the tests as root)",
    );
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o640)).expect("chmod");
    let runner = Runner::new();
    runner
        .action(
            repo.path(),
            &[
                ("mode", "patch"),
                ("app", "backend"),
                ("environment", "production"),
                ("image", "ghcr.io/ldbl/backend"),
                ("tag", "v1.2.3"),
            ],
        )
        .assert()
        .success();
    assert!(read(repo.path(), path).contains("newTag: v1.2.3"));
    let meta = std::fs::metadata(&file).expect("stat");
    assert_eq!((meta.uid(), meta.gid()), (uid, gid), "owner and group kept");
    assert_eq!(meta.mode() & 0o7777, 0o640, "mode kept");
}

#[test]
fn paths_leaving_the_repository_are_refused() {
    let outer = tempfile::tempdir().expect("tempdir");
    let repo = outer.path().join("repo");
    std::fs::create_dir_all(&repo).expect("mkdir");
    std::fs::write(outer.path().join("outside.yaml"), KUSTOMIZATION).expect("write");
    std::os::unix::fs::symlink(outer.path().join("outside.yaml"), repo.join("link.yaml"))
        .expect("symlink");
    let outside = outer.path().join("outside.yaml");
    for manifest in [
        "../outside.yaml".to_string(),
        outside.to_string_lossy().to_string(),
        "link.yaml".to_string(),
    ] {
        gitops_promote()
            .args([
                "patch",
                "--manifest",
                &manifest,
                "--image",
                "ghcr.io/ldbl/backend",
            ])
            .args(["--tag", "v1.2.3", "--repo"])
            .arg(&repo)
            .assert()
            .code(2)
            .stderr(predicate::str::contains("manifest"));
    }
    assert_eq!(
        std::fs::read_to_string(outside).expect("read"),
        KUSTOMIZATION
    );
}

#[test]
fn an_unparseable_file_is_named_with_its_line_and_left_untouched() {
    let broken = "images:\n- name: ghcr.io/ldbl/backend\n  newTag: [v1.2.2\n";
    let repo = repo_with("kustomization.yaml", broken);
    gitops_promote()
        .args([
            "patch",
            "--manifest",
            "kustomization.yaml",
            "--image",
            "ghcr.io/ldbl/backend",
        ])
        .args(["--tag", "v1.2.3", "--repo"])
        .arg(repo.path())
        .assert()
        .failure()
        .stderr(
            predicate::str::is_match(r"kustomization\.yaml:[0-9]+:[0-9]+: not valid YAML")
                .expect("regex"),
        );
    assert_eq!(read(repo.path(), "kustomization.yaml"), broken);
}

#[test]
fn bad_tag_and_digest_are_reported_together() {
    let repo = repo_with("kustomization.yaml", KUSTOMIZATION);
    gitops_promote()
        .args([
            "patch",
            "--manifest",
            "kustomization.yaml",
            "--image",
            "ghcr.io/ldbl/backend",
        ])
        .args(["--tag", "v1+build", "--digest", "sha256:abc", "--repo"])
        .arg(repo.path())
        .assert()
        .code(2)
        .stderr(predicate::str::contains("`tag`"))
        .stderr(predicate::str::contains("`digest`"));
    assert_eq!(read(repo.path(), "kustomization.yaml"), KUSTOMIZATION);
}

#[test]
fn an_image_the_file_does_not_mention_is_not_found() {
    let repo = repo_with(
        "app/values.yaml",
        "image:\n  repository: ghcr.io/ldbl/backend\n  tag: v1\n",
    );
    gitops_promote()
        .args([
            "patch",
            "--manifest",
            "app/values.yaml",
            "--image",
            "ghcr.io/ldbl/backend",
        ])
        .args(["--tag", "v2", "--repo"])
        .arg(repo.path())
        .assert()
        .code(1)
        .stderr(predicate::str::contains("field-path"));
    gitops_promote()
        .args([
            "patch",
            "--manifest",
            "app/values.yaml",
            "--image",
            "ghcr.io/ldbl/backend",
        ])
        .args(["--tag", "v2", "--field-path", "image.tag", "--repo"])
        .arg(repo.path())
        .assert()
        .success();
    assert_eq!(
        read(repo.path(), "app/values.yaml"),
        "image:\n  repository: ghcr.io/ldbl/backend\n  tag: v2\n"
    );
}
