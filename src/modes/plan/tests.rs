use super::render::{env_name, runs};
use super::*;

const IMAGE: &str = "ghcr.io/org/backend";
const PRODUCTION: &str = "flux/apps/backend/production";

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

fn digest(c: char) -> String {
    format!("sha256:{}", c.to_string().repeat(64))
}

/// The production overlay pinning `tag` at `digest`.
fn pinned(tag: &str, digest: &str) -> Overlays {
    let text = format!(
        "resources:\n  - ../base\nimages:\n  - name: {IMAGE}\n    newTag: {tag}\n    digest: {digest}\n"
    );
    BTreeMap::from([(
        PRODUCTION.to_string(),
        (format!("{PRODUCTION}/kustomization.yaml"), Some(text)),
    )])
}

/// The overview of one image with these tags (in listing order) and digests (`tag → digest`).
fn overview(
    model: &Model,
    tags: &[&str],
    digests: &[(&str, char)],
    overlays: &Overlays,
) -> Overview {
    let listed = BTreeMap::from([(
        IMAGE.to_string(),
        Ok(tags.iter().map(|t| t.to_string()).collect()),
    )]);
    let mut known: BTreeMap<(String, String), String> = digests
        .iter()
        .map(|(t, c)| ((IMAGE.to_string(), t.to_string()), digest(*c)))
        .collect();
    let predictions = predictions(model, &listed);
    let facts = Facts {
        model,
        tags: &listed,
        overlays,
        predictions: &predictions,
    };
    survey(&facts, "production-latest", "flux", &mut known)
}

fn kinds(o: &Overview) -> Vec<DriftKind> {
    o.drift().map(|(_, d)| d.kind).collect()
}

#[test]
fn the_application_is_the_directory_before_the_environment() {
    assert_eq!(
        app_of_dir("flux/apps/backend/production").as_deref(),
        Some("backend")
    );
    assert_eq!(app_of_dir("clusters/prod/api/prd").as_deref(), Some("api"));
    assert_eq!(app_of_dir("flux/apps/backend"), None);
    assert_eq!(app_of_dir("production"), None);
    assert_eq!(
        clean_dir("./flux/apps/backend/staging/"),
        "flux/apps/backend/staging"
    );
    assert_eq!(
        sibling_dir(&["deploy/web/stg"], "web", Environment::Production),
        "deploy/web/production"
    );
    assert_eq!(
        sibling_dir(&[], "web", Environment::Develop),
        "flux/apps/web/develop"
    );
}

#[test]
fn each_environment_shows_what_flux_selects_and_a_newer_staging_is_the_next_promotion() {
    let m = model(&["develop", "staging", "production"]);
    let o = overview(
        &m,
        &[
            "v1.0.0",
            "v1.1.0",
            "v1.2.0-rc.1.gabc1234",
            "production-latest",
        ],
        &[
            ("v1.0.0", 'a'),
            ("v1.1.0", 'b'),
            ("v1.2.0-rc.1.gabc1234", 'c'),
            ("production-latest", 'a'),
        ],
        &pinned("v1.0.0", &digest('a')),
    );
    assert!(o.errors.is_empty(), "{:?}", o.errors);
    let app = &o.applications[0];
    assert_eq!((app.app.as_str(), app.layout), ("backend", Layout::Gitless));
    let selected: Vec<_> = app
        .environments
        .iter()
        .map(|e| (env_name(e.environment), runs(e)))
        .collect();
    assert_eq!(
        selected,
        [
            ("develop", "v1.2.0-rc.1.gabc1234".to_string()),
            ("staging", "v1.1.0".to_string()),
            ("production", "v1.0.0".to_string()),
        ]
    );
    assert!(kinds(&o).is_empty());
    assert_eq!(
        o.matrix(),
        [MatrixEntry {
            app: "backend".into(),
            image: IMAGE.into(),
            staging_tag: "v1.1.0".into(),
            production_tag: "v1.1.0".into(),
            manifest: format!("{PRODUCTION}/kustomization.yaml"),
        }]
    );
    assert!(matches!(
        &app.promotion,
        NextPromotion::Pending { from: Some(f), digest: d, .. } if f == "v1.0.0" && *d == digest('b')
    ));
}

#[test]
fn an_overlay_whose_tag_moved_or_vanished_is_drift_and_so_is_a_moving_tag_elsewhere() {
    let m = model(&["staging", "production"]);
    // The overlay pins v1.0.0 at `c`, but v1.0.0 is `a` now, and production-latest follows it.
    let o = overview(
        &m,
        &["v1.0.0", "production-latest"],
        &[("v1.0.0", 'a'), ("production-latest", 'a')],
        &pinned("v1.0.0", &digest('c')),
    );
    assert_eq!(kinds(&o), [DriftKind::TagMoved, DriftKind::MovingTag]);
    let (_, moved) = o.drift().next().expect("drift");
    assert!(
        moved.message.contains(
            "pins `v1.0.0` at `sha256:cccccccccccc`, but `v1.0.0` points to `sha256:aaaaaaaaaaaa`"
        ),
        "{}",
        moved.message
    );

    // A pinned tag the registry lacks; the moving tag is compared with the overlay's digest.
    let o = overview(
        &m,
        &["v1.0.0", "production-latest"],
        &[("v1.0.0", 'a'), ("production-latest", 'a')],
        &pinned("v0.9.0", &digest('a')),
    );
    assert_eq!(kinds(&o), [DriftKind::TagMissing]);

    // In sync, but production-latest was moved to v1.0.0's digest while the overlay says v1.1.0: named.
    let o = overview(
        &m,
        &["v1.0.0", "v1.1.0", "production-latest"],
        &[("v1.0.0", 'a'), ("v1.1.0", 'b'), ("production-latest", 'a')],
        &pinned("v1.1.0", &digest('b')),
    );
    assert_eq!(kinds(&o), [DriftKind::MovingTag]);
    let (_, d) = o.drift().next().expect("drift");
    assert!(
        d.message.contains("points to `v1.0.0`'s digest")
            && d.message.contains("production runs `v1.0.0`, not `v1.1.0`"),
        "{}",
        d.message
    );

    // The provider follows a moving tag that does not exist: production selects nothing.
    let o = overview(
        &m,
        &["v1.0.0"],
        &[("v1.0.0", 'a')],
        &pinned("v1.0.0", &digest('a')),
    );
    assert_eq!(kinds(&o), [DriftKind::MovingTagMissing]);
    assert_eq!(
        o.applications[0].environments[1].selected,
        Selection::Nothing
    );
}

#[test]
fn without_a_production_provider_the_overlay_deploys_and_a_missing_moving_tag_is_no_drift() {
    let m = model(&["staging"]);
    let o = overview(
        &m,
        &["v1.0.0", "v1.1.0"],
        &[("v1.0.0", 'a'), ("v1.1.0", 'b')],
        &pinned("v1.0.0", &digest('a')),
    );
    let app = &o.applications[0];
    assert_eq!(app.layout, Layout::Classic);
    let production = &app.environments[1];
    assert_eq!(production.selected, Selection::Overlay);
    assert_eq!(production.object, None);
    assert_eq!(runs(production), "v1.0.0");
    assert!(kinds(&o).is_empty());
    assert_eq!(o.matrix().len(), 1);
    assert_eq!(o.matrix()[0].production_tag, "v1.1.0");
}

#[test]
fn a_staging_behind_production_or_a_taken_version_tag_is_left_out_of_the_matrix() {
    let m = model(&["staging", "production"]);
    // Production pins v3.0.0 (from outside the staging filter's tags); staging runs v1.0.0.
    let o = overview(
        &m,
        &["v1.0.0", "production-latest"],
        &[("v1.0.0", 'a'), ("v3.0.0", 'c'), ("production-latest", 'c')],
        &pinned("v3.0.0", &digest('c')),
    );
    assert!(
        matches!(&o.applications[0].promotion, NextPromotion::Behind { pinned, .. } if pinned == "v3.0.0")
    );
    assert!(o.matrix().is_empty());

    // A team that stages release candidates: v1.1.0-rc.2 would become v1.1.0, which points elsewhere.
    let mut m = Model::default();
    m.add_text(
        "flux/bootstrap/apps/staging/backend.yaml",
        &fixture("staging")
            .replace(r"'^v\d+\.\d+\.\d+$'", r"'^v\d+\.\d+\.\d+-rc\.\d+$'")
            .replace("'>=0.0.0'", "'>=0.0.0-0'"),
    );
    m.add_text(
        "flux/bootstrap/apps/production/backend.yaml",
        &fixture("production"),
    );
    let o = overview(
        &m,
        &["v1.0.0", "v1.1.0", "v1.1.0-rc.2", "production-latest"],
        &[
            ("v1.0.0", 'a'),
            ("v1.1.0", 'b'),
            ("v1.1.0-rc.2", 'c'),
            ("production-latest", 'a'),
        ],
        &pinned("v1.0.0", &digest('a')),
    );
    match &o.applications[0].promotion {
        NextPromotion::Blocked { reason } => assert!(
            reason.contains("already points to `sha256:bbbbbbbbbbbb`"),
            "{reason}"
        ),
        other => panic!("blocked expected: {other:?}"),
    }
    assert!(o.matrix().is_empty());
}

#[test]
fn drift_warns_and_with_fail_on_drift_fails_after_the_report_and_unread_tags_fail() {
    let m = model(&["staging", "production"]);
    let o = overview(
        &m,
        &["v1.0.0", "v1.1.0", "production-latest"],
        &[("v1.0.0", 'a'), ("v1.1.0", 'b'), ("production-latest", 'a')],
        &pinned("v1.1.0", &digest('b')),
    );
    let relaxed = report(&o, &[], false, 3);
    assert!(relaxed.failure.is_none());
    let levels: Vec<_> = relaxed.annotations.iter().map(|a| a.to_command()).collect();
    assert!(levels[0].starts_with("::warning title=gitops-promote plan%3A drift in backend production,file=flux/apps/backend/production/kustomization.yaml::"), "{levels:?}");
    let strict = report(&o, &[], true, 3);
    assert!(strict.annotations[0].to_command().starts_with("::error "));
    let failure = strict.failure.expect("fails");
    assert_eq!(failure.kind, Kind::Conflict);
    assert_eq!(
        strict.summary, relaxed.summary,
        "the same report either way"
    );
    assert_eq!(strict.outputs["matrix"], relaxed.outputs["matrix"]);
    assert!(
        relaxed.summary.contains("⚠ drift: the overlay says v1.1.0"),
        "{}",
        relaxed.summary
    );

    let unread: TagLists = BTreeMap::from([(
        IMAGE.to_string(),
        Err(Error::new(Kind::Permission, "registry answered 401")),
    )]);
    let predictions = predictions(&m, &unread);
    let facts = Facts {
        model: &m,
        tags: &unread,
        overlays: &pinned("v1.1.0", &digest('b')),
        predictions: &predictions,
    };
    let mut none: BTreeMap<(String, String), String> = BTreeMap::new();
    let o = survey(&facts, "production-latest", "flux", &mut none);
    assert!(matches!(
        o.applications[0].environments[0].selected,
        Selection::Unknown { .. }
    ));
    let r = report(&o, &[], false, 1);
    assert_eq!(r.failure.expect("fails").kind, Kind::Upstream);
    assert_eq!(r.outputs["matrix"], r#"{"include":[]}"#);
}
