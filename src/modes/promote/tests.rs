//! Unit tests of the `promote` mode's planning and rendering.

use super::*;

const IMAGE: &str = "ghcr.io/org/backend";

fn fixture(env: &str) -> String {
    let path = format!(
        "{}/tests/data/flux-fixtures/corrected/flux/bootstrap/apps/{env}/backend.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(path)
        .expect("fixture")
        .replace("ghcr.io/ldbl/backend", IMAGE)
}

fn model(envs: &[&str]) -> Model {
    let mut m = Model::default();
    for env in envs {
        m.add_text(
            &format!("flux/bootstrap/apps/{env}/backend.yaml"),
            &fixture(env),
        );
    }
    m
}

fn tags(list: &[&str]) -> Vec<String> {
    list.iter().map(|t| t.to_string()).collect()
}

#[test]
fn staging_tag_is_what_the_staging_provider_selects_else_the_highest_stable_version() {
    let image = ImageName::parse(IMAGE).expect("image");
    let registry = tags(&[
        "v0.9.0",
        "v0.10.0",
        "v0.11.0-rc.1",
        "production-latest",
        "latest",
    ]);
    let chosen = choose_staging_tag(&model(&["staging", "production"]), &image, &registry)
        .expect("staging selects");
    assert_eq!(chosen.tag, "v0.10.0", "semver order, not lexical; no RC");
    assert!(
        chosen
            .why
            .contains("ResourceSetInputProvider/backend-staging")
    );

    let chosen = choose_staging_tag(&model(&["production"]), &image, &registry).expect("fallback");
    assert_eq!(chosen.tag, "v0.10.0");
    assert!(chosen.why.contains("highest stable semver tag"));

    let err = choose_staging_tag(&model(&["staging"]), &image, &tags(&["v1.0.0-rc.1"]))
        .expect_err("staging selects nothing");
    assert_eq!(err.kind, Kind::NotFound);
    let err = choose_staging_tag(&Model::default(), &image, &tags(&["latest"]))
        .expect_err("nothing stable");
    assert!(
        err.help
            .as_deref()
            .unwrap_or_default()
            .contains("staging-tag")
    );
}

#[test]
fn staging_selects_is_what_staging_runs_and_nothing_without_a_staging_object() {
    let image = ImageName::parse(IMAGE).expect("image");
    let both = model(&["staging", "production"]);
    let selects =
        |m: &Model, list: &[&str]| promotion_rules::staging_selects(m, &image, &tags(list));
    assert_eq!(
        selects(&both, &["v0.2.0", "v0.2.1", "v0.3.0-rc.1"]).as_deref(),
        Some("v0.2.1"),
        "staging moved on from v0.2.0; the RC is not a tag it selects"
    );
    // One tag alone: whether staging's filter matches it (promote reads staging's tags only then).
    assert_eq!(selects(&both, &["v0.2.0"]).as_deref(), Some("v0.2.0"));
    assert_eq!(selects(&both, &["v0.3.0-rc.1"]), None);
    // Production's provider is not staging: no staging object, no selection (not the fallback).
    assert_eq!(selects(&model(&["production"]), &["v0.2.0"]), None);
}

#[test]
fn the_production_provider_on_the_moving_tag_means_the_release_deploys() {
    let image = ImageName::parse(IMAGE).expect("image");
    assert_eq!(
        layout(&model(&["production"]), &image, "production"),
        Layout::Gitless
    );
    assert_eq!(
        layout(&model(&["staging"]), &image, "production"),
        Layout::Classic
    );
    assert_eq!(
        layout(&Model::default(), &image, "production"),
        Layout::Classic
    );
}

fn settings(pull_request: bool) -> PromoteSettings {
    PromoteSettings {
        image: ImageName::parse(IMAGE).expect("image"),
        production_image: None,
        copy_signatures: true,
        staging_tag: Some("v1.2.3-rc.4".into()),
        production_tag: None,
        moving_tag: "production-latest".into(),
        app: "backend".into(),
        environment: "production".into(),
        manifest: "flux/apps/backend/production/kustomization.yaml".into(),
        proposal: ProposalInputs {
            base_branch: None,
            branch_template: "promote-{production-tag}".into(),
            pull_request,
            commit_via: CommitVia::Api,
            github_token: None,
            labels: vec!["promotion".into()],
            reviewers: Vec::new(),
            team_reviewers: Vec::new(),
            checklist: crate::checklist::default_items(),
            draft: false,
        },
        create_release: true,
        dry_run: false,
        flux_path: "flux".into(),
        registry: registry::Settings::default(),
        gates: GateSettings {
            required: gates::Required::Nothing,
            wait: std::time::Duration::ZERO,
            require_staging: true,
        },
    }
}

fn promotion() -> Promotion {
    Promotion {
        app: "backend".into(),
        environment: "production".into(),
        image: IMAGE.into(),
        production_image: IMAGE.into(),
        staging: StagingChoice {
            tag: "v1.2.3-rc.4".into(),
            why: "given".into(),
        },
        digest: format!("sha256:{}", "a".repeat(64)),
        production_tag: "v1.2.3".into(),
        moving_tag: "production-latest".into(),
        manifest: "flux/apps/backend/production/kustomization.yaml".into(),
        diff: String::new(),
        base_branch: "main".into(),
        branch: "promote-v1.2.3".into(),
        pull_request: true,
        create_release: true,
        layout: Layout::Gitless,
        changes: Changes {
            previous: Some("v1.2.2".into()),
            commits: Ok(Vec::new()),
        },
        gates: None,
    }
}

fn facts(before: &str) -> RepoFacts {
    RepoFacts {
        repository: "org/app".into(),
        base_branch: "main".into(),
        base_sha: "b".repeat(40),
        before: before.into(),
        branch: "promote-v1.2.3".into(),
        branch_sha: None,
        branch_up_to_date: false,
        pull: None,
        compared: None,
        checklist_status: None,
    }
}

fn kinds(plan: &Plan) -> Vec<&'static str> {
    plan.steps
        .iter()
        .map(|s| match s {
            Step::Retag { .. } => "retag",
            Step::Commit { branch, .. } if branch == "main" => "commit-to-main",
            Step::Commit { .. } => "commit-to-branch",
            Step::PullRequest { .. } => "pull-request",
            Step::CommitStatus { .. } => "checklist-status",
            _ => "other",
        })
        .collect()
}

fn retag(tag: &str) -> Step {
    Step::Retag {
        source: format!("{IMAGE}:v1.2.3-rc.4"),
        target: format!("{IMAGE}:{tag}"),
        digest: format!("sha256:{}", "a".repeat(64)),
        media_type: registry::OCI_INDEX.into(),
        old_digest: None,
        transfer: crate::plan::Transfer::SameRepository,
        guard: None,
    }
}

#[test]
fn a_pull_request_never_moves_the_moving_tag_and_a_direct_commit_moves_it_last() {
    let p = plan(
        &settings(true),
        &promotion(),
        vec![retag("v1.2.3")],
        vec![],
        &facts("old"),
        "new",
    );
    assert_eq!(
        kinds(&p),
        [
            "retag",
            "commit-to-branch",
            "pull-request",
            "checklist-status"
        ]
    );

    let p = plan(
        &settings(true),
        &promotion(),
        vec![retag("v1.2.3")],
        vec![],
        &facts("same"),
        "same",
    );
    assert_eq!(
        kinds(&p),
        ["retag"],
        "the base already pins it: nothing to review"
    );
    assert!(p.skipped[0].contains("nothing to review"));

    let p = plan(
        &settings(false),
        &promotion(),
        vec![retag("v1.2.3")],
        vec![retag("production-latest")],
        &facts("old"),
        "new",
    );
    assert_eq!(kinds(&p), ["retag", "commit-to-main", "retag"]);
    assert!(
        matches!(&p.steps[2], Step::Retag { target, .. } if target.ends_with(":production-latest"))
    );
}

#[test]
fn the_commit_records_what_release_needs() {
    let message = promotion().commit_message();
    assert!(message.starts_with("chore(release): promote backend v1.2.3 to production\n\n"));
    for line in [
        "Gitops-Promote-Staging-Tag: v1.2.3-rc.4",
        "Gitops-Promote-Production-Tag: v1.2.3",
        "Gitops-Promote-Create-Release: true",
    ] {
        assert!(message.contains(line), "{line}");
    }
}
