//! `release` end to end, after a promotion pull request was merged on the test GitHub: the moving tag follows the
//! merged overlay, the git tag and the GitHub release are published once, a revert rolls production back, and a
//! push that does not touch the overlay is skipped. Real registry, real bare `origin`, the OpenAPI-checked fake.

use crate::harness::Runner;
use crate::promote::{World, filters, json, world};
use crate::support::github::TOKEN;
use crate::support::images;

const OVERLAY: &str = "flux/apps/backend/production/kustomization.yaml";

/// Promotes `v0.2.0` (or `production_tag`) through a pull request, merges it on the test GitHub and brings the
/// checkout to the merged commit, as `actions/checkout` of the push would.
pub fn merged_promotion(w: &World, production_tag: &str) -> String {
    w.promote(
        &Runner::new(),
        &[
            ("staging-tag", "v0.2.0"),
            ("production-tag", production_tag),
        ],
    )
    .success();
    let number = w.github.pulls().last().expect("a pull request").number;
    let merged = w.github.merge(number);
    w.scratch
        .git(&["pull", "-q", "--ff-only", "origin", "main"]);
    assert_eq!(w.scratch.head(), merged);
    merged
}

pub fn release(w: &World, runner: &Runner, inputs: &[(&str, &str)]) -> assert_cmd::assert::Assert {
    let mut all = vec![
        ("mode", "release"),
        ("image", w.image.as_str()),
        ("github-token", TOKEN),
    ];
    all.extend_from_slice(inputs);
    runner
        .action(&w.scratch.work, &all)
        .env("GITHUB_API_URL", w.github.url())
        .env("GITHUB_SHA", w.scratch.head())
        .assert()
}

#[test]
fn a_merged_promotion_moves_the_tag_and_publishes_one_release_and_a_rerun_changes_nothing() {
    let w = world();
    // A release candidate between the two releases: never the base of the notes.
    w.scratch.git(&["tag", "v0.2.0-rc.1", "v0.2.0^"]);
    merged_promotion(&w, "v0.2.0");
    let runner = Runner::new();
    let assert = release(&w, &runner, &[]).success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    // The image carries no revision: the tag staging-build cut is the evidence of its commit, not a conflict.
    assert!(!stdout.contains("::warning"), "{stdout}");
    let out = runner.outputs();
    let digest = w.digest("v0.2.0");
    assert_eq!(out["digest"], digest);
    assert_eq!(out["production-tag"], "v0.2.0");
    assert_eq!(out["moving-tag-operation"], "created");
    assert_eq!(w.digest("production-latest"), digest);
    assert_eq!(out["tag-operation"], "unchanged", "staging-build cut it");
    assert_eq!(out["release-operation"], "created");

    let releases = w.github.releases();
    assert_eq!(releases.len(), 1);
    let notes = releases[0].body.clone().unwrap_or_default();
    assert_eq!(releases[0].tag_name, "v0.2.0");
    assert!(notes.contains("### Commits since `v0.1.0`"), "{notes}");
    assert!(notes.contains(&format!("docker pull {}@{digest}", w.image)));
    assert!(
        notes.find("Breaking changes") < notes.find("Features"),
        "breaking changes first: {notes}"
    );
    assert!(
        !notes.contains("first release"),
        "commits of v0.1.0 are not in v0.2.0's notes"
    );
    assert!(
        out["release-url"].contains("/releases/tag/v0.2.0"),
        "{}",
        out["release-url"]
    );
    insta::with_settings!({filters => filters(&w)}, {
        insta::assert_snapshot!("release_notes", notes);
        insta::assert_snapshot!("release_summary", runner.summary());
    });

    let writes = (w.registry.writes().len(), w.github_writes().len());
    let rerun = Runner::new();
    release(&w, &rerun, &[]).success();
    let out = rerun.outputs();
    assert_eq!(out["moving-tag-operation"], "unchanged");
    assert_eq!(out["tag-operation"], "unchanged");
    assert_eq!(out["release-operation"], "unchanged");
    assert_eq!((w.registry.writes().len(), w.github_writes().len()), writes);
    assert_eq!(w.github.releases().len(), 1);
}

#[test]
fn a_revert_moves_the_tag_back_and_publishes_nothing() {
    let w = world();
    merged_promotion(&w, "v0.2.0");
    release(&w, &Runner::new(), &[]).success();
    w.scratch.git(&["revert", "--no-edit", "HEAD"]);
    w.scratch.git(&["push", "-q", "origin", "main"]);
    let runner = Runner::new();
    release(&w, &runner, &[]).success();
    let out = runner.outputs();
    assert_eq!(out["production-tag"], "v0.1.0");
    assert_eq!(out["moving-tag-operation"], "moved");
    assert_eq!(w.digest("production-latest"), w.digest("v0.1.0"));
    assert_eq!(out["release-operation"], "skipped");
    assert_eq!(out["tag-operation"], "skipped");
    assert_eq!(
        w.github.releases().len(),
        1,
        "no release for an older version"
    );
    assert!(
        runner
            .summary()
            .contains("rolled back from `v0.2.0` to `v0.1.0`"),
        "{}",
        runner.summary()
    );
    assert_eq!(json(&runner)["rollback"], true);
}

#[test]
fn a_digest_the_registry_lacks_fails_before_anything_moves() {
    let w = world();
    let overlay = w.scratch.work.join(OVERLAY);
    let text = std::fs::read_to_string(&overlay).expect("overlay");
    let missing = format!("sha256:{}", "0".repeat(64));
    let digest_line = text
        .lines()
        .find(|l| l.trim_start().starts_with("digest:"))
        .expect("digest line")
        .to_string();
    std::fs::write(
        &overlay,
        text.replace("newTag: v0.1.0", "newTag: v0.2.0")
            .replace(&digest_line, &format!("    digest: {missing}")),
    )
    .expect("write");
    w.scratch.git(&[
        "commit",
        "-q",
        "-am",
        "chore: pin a digest that does not exist",
    ]);
    let runner = Runner::new();
    let assert = release(&w, &runner, &[]).failure().code(1);
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(stdout.contains("nothing was moved"), "{stdout}");
    assert!(!images::exists(
        &format!("{}:production-latest", w.image),
        None
    ));
    assert!(w.github.releases().is_empty());
}

#[test]
fn a_push_that_does_not_touch_the_overlay_is_skipped() {
    let w = world();
    w.scratch.commit("docs: nothing to do with production");
    let runner = Runner::new();
    release(&w, &runner, &[]).success();
    let out = runner.outputs();
    for name in ["moving-tag-operation", "tag-operation", "release-operation"] {
        assert_eq!(out[name], "skipped", "{name}");
    }
    assert!(w.github.requests().is_empty(), "nothing asked of GitHub");
    assert!(!images::exists(
        &format!("{}:production-latest", w.image),
        None
    ));
}

#[test]
fn a_production_version_without_a_git_tag_gets_one_on_the_pushed_commit() {
    let w = world();
    let merged = merged_promotion(&w, "v1.0.0");
    let runner = Runner::new();
    let assert = release(&w, &runner, &[]).success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert_eq!(runner.outputs()["tag-operation"], "created");
    assert_eq!(
        w.scratch.origin_tag("v1.0.0").as_deref(),
        Some(merged.as_str())
    );
    assert!(
        stdout.contains("image revision unknown"),
        "a warning says why: {stdout}"
    );
}

#[test]
fn the_changelog_gets_the_notes_once_through_the_api_commit_path() {
    let w = world();
    merged_promotion(&w, "v0.2.0");
    let runner = Runner::new();
    release(&w, &runner, &[("changelog-file", "CHANGELOG.md")]).success();
    assert_eq!(json(&runner)["changelog_operation"], "created");
    let changelog = w.origin(&["show", "main:CHANGELOG.md"]);
    assert!(changelog.starts_with("# Changelog"), "{changelog}");
    assert!(changelog.contains("## [v0.2.0] - "), "{changelog}");
    assert!(
        changelog.contains("### Added") && changelog.contains("feat(api): add the orders endpoint")
    );
    let message = w.origin(&["log", "-1", "--format=%s", "main"]);
    assert_eq!(message, "docs(changelog): v0.2.0 [skip ci]");

    let rerun = Runner::new();
    w.scratch
        .git(&["pull", "-q", "--ff-only", "origin", "main"]);
    release(&w, &rerun, &[("changelog-file", "CHANGELOG.md")]).success();
    // The changelog commit touched no overlay: nothing to release again.
    assert_eq!(rerun.outputs()["release-operation"], "skipped");
    assert_eq!(w.origin(&["show", "main:CHANGELOG.md"]), changelog);
}

#[test]
fn the_next_releases_notes_leave_out_the_promotion_and_changelog_commits_the_project_made() {
    let w = world();
    merged_promotion(&w, "v0.2.0");
    let runner = Runner::new();
    let assert = release(&w, &runner, &[("changelog-file", "CHANGELOG.md")]).success();
    // github-token is masked once, though it reaches the binary as an input and as the API token.
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert_eq!(
        stdout.matches(&format!("::add-mask::{TOKEN}")).count(),
        1,
        "{stdout}"
    );
    // The second cycle: an application commit, its staging version and image, promoted and merged.
    w.scratch
        .git(&["pull", "-q", "--ff-only", "origin", "main"]);
    w.scratch.commit("feat: the third endpoint");
    w.scratch.git(&["tag", "v0.3.0"]);
    w.scratch.git(&["push", "-q", "origin", "main", "--tags"]);
    let layouts = tempfile::tempdir().expect("tempdir");
    let layout = images::layout(layouts.path(), 1, 1, 256);
    images::push(
        &layout,
        &format!("{}:v0.3.0", w.image),
        images::Format::Oci,
        None,
    );
    w.promote(&Runner::new(), &[("staging-tag", "v0.3.0")])
        .success();
    let number = w.github.pulls().last().expect("a pull request").number;
    w.github.merge(number);
    w.scratch
        .git(&["pull", "-q", "--ff-only", "origin", "main"]);
    let next = Runner::new();
    release(&w, &next, &[]).success();
    assert_eq!(next.outputs()["release-operation"], "created");
    let releases = w.github.releases();
    let notes = releases
        .iter()
        .find(|r| r.tag_name == "v0.3.0")
        .and_then(|r| r.body.clone())
        .unwrap_or_default();
    assert!(notes.contains("feat: the third endpoint"), "{notes}");
    for ours in [
        "Promote backend v0.2.0",
        "docs(changelog)",
        "chore(release)",
    ] {
        assert!(
            !notes.contains(ours),
            "`{ours}` is not a change of v0.3.0: {notes}"
        );
    }
}

/// Pushes a buildx-shaped index (labels in the config, attestation manifests) as `v0.2.0`, in place of the
/// plain index `world` pushed, before the promotion.
fn buildx_v020(w: &World, revisions: &[Option<&str>]) -> tempfile::TempDir {
    let layouts = tempfile::tempdir().expect("tempdir");
    let layout = images::buildx_layout(layouts.path(), revisions);
    images::push(
        &layout,
        &format!("{}:v0.2.0", w.image),
        images::Format::Oci,
        None,
    );
    layouts
}

#[test]
fn the_revision_of_a_buildx_image_comes_from_its_platform_configs_labels() {
    let w = world();
    // The image was built from the commit before v0.2.0's tag; the git tag v1.0.0 does not exist yet.
    let built = w.scratch.git(&["rev-parse", "v0.2.0^"]);
    let _layouts = buildx_v020(&w, &[Some(&built), Some(&built)]);
    merged_promotion(&w, "v1.0.0");
    let runner = Runner::new();
    let assert = release(&w, &runner, &[]).success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(!stdout.contains("::warning"), "no fallback: {stdout}");
    assert_eq!(runner.outputs()["tag-operation"], "created");
    assert_eq!(
        w.scratch.origin_tag("v1.0.0").as_deref(),
        Some(built.as_str())
    );
}

#[test]
fn platform_images_that_name_different_commits_are_a_warning_naming_them() {
    let w = world();
    let a = w.scratch.git(&["rev-parse", "v0.2.0^"]);
    let b = w.scratch.git(&["rev-parse", "v0.2.0^^"]);
    let _layouts = buildx_v020(&w, &[Some(&a), Some(&b)]);
    let merged = merged_promotion(&w, "v1.0.0");
    let runner = Runner::new();
    let assert = release(&w, &runner, &[]).success();
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).to_string();
    assert!(
        stdout.contains("image revision ambiguous")
            && stdout.contains(&format!("linux/amd64: {a}"))
            && stdout.contains(&format!("linux/arm64: {b}"))
            && !stdout.contains("unknown/unknown"),
        "{stdout}"
    );
    assert_eq!(
        w.scratch.origin_tag("v1.0.0").as_deref(),
        Some(merged.as_str())
    );
}
