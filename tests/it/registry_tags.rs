//! The registry's current tags wired into `select --image`, the build modes' flux check and `lint`, against the
//! real CNCF registry (anonymous and htpasswd): where the tags come from changes the verdict, and a registry
//! that cannot be read falls back (git tags, or the static checks) and says so.

use std::path::Path;

use crate::harness::{Runner, gitops_promote};
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
