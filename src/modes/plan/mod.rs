//! Owns the `plan` mode: what runs where, read-only. Inputs → facts (the checkout's Flux objects and overlays;
//! the tags of each watched image, listed once per image; the digests of the tags that matter, each resolved
//! once) → an [`Overview`] (per application and environment: the filter, what Flux selects now, what the
//! overlay pins, where the moving tag points, drift, and the promotion `promote` would make next) → report
//! (a table per application and a Mermaid diagram, aligned text, `json`, and `matrix`: one `promote` job per
//! application with a pending promotion).
//!
//! Nothing here writes anywhere, and GitHub is never asked: the checkout and the registry are the facts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Serialize;
use serde_json::json;

use crate::actions::{Annotation, Console};
use crate::env::GithubContext;
use crate::error::{Error, Kind, Result};
use crate::flux::discover::Model;
use crate::flux::filter::PolicyChoice;
use crate::flux::lint::findings_table;
use crate::flux::lint::lint_with;
use crate::flux::{Environment, Finding, Prediction, Source, predict};
use crate::image::ImageName;
use crate::inputs::{Invocation, Mode};
use crate::manifests::{self, Request, files};
use crate::promotion_rules::{self, Layout, choose_staging_tag, layout, production_tag_of};
use crate::registry::{self, Client, Reference};
use crate::registry_settings::{mask_login, read_registry_settings};
use crate::report::Report;
use crate::retag_plan::drain;
use crate::tag_lister::{LIST_CONCURRENCY, list_each};
use crate::template::is_valid_oci_tag;

mod render;
pub use render::report;

/// How many stable version tags are resolved, highest first, to name the tag the moving tag shares its digest
/// with when none of the tags read anyway has it.
pub const NAMING_LOOKUPS: usize = 10;

/// Typed inputs of `plan`.
#[derive(Debug, Clone)]
pub struct PlanSettings {
    pub flux_path: String,
    pub moving_tag: String,
    pub fail_on_drift: bool,
    pub registry: registry::Settings,
}

impl PlanSettings {
    pub fn read(invocation: &Invocation, github: &GithubContext) -> Result<Self> {
        let mut r = invocation.reader();
        let flux_path = r.text("flux-path").unwrap_or_else(|| "flux".to_string());
        if let Err(p) = files::check_relative("flux-path", &flux_path) {
            r.problem(p);
        }
        let moving_tag = r
            .parse("moving-tag", |v| {
                if is_valid_oci_tag(v) {
                    Ok(v.to_string())
                } else {
                    Err(crate::error::InputProblem::new(
                        "moving-tag",
                        format!("`{v}` is not a valid OCI tag"),
                    )
                    .help("a tag is `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`, e.g. `production-latest`"))
                }
            })
            .unwrap_or_default();
        let fail_on_drift = r.bool("fail-on-drift");
        let registry = read_registry_settings(&mut r, github);
        r.finish()?;
        Ok(Self {
            flux_path,
            moving_tag,
            fail_on_drift,
            registry,
        })
    }
}

pub use crate::tag_lister::TagLists;

/// Where a tag points, as far as the run could read: `Ok(None)` means the tag does not exist.
pub type DigestResult = std::result::Result<Option<String>, Error>;

/// The digests of `image:tag`, read on demand; each pair is asked for at most once.
pub trait Digests {
    fn digest(&mut self, image: &str, tag: &str) -> DigestResult;
}

/// Literal digests, for tests: a pair that is not in the map does not exist.
impl Digests for BTreeMap<(String, String), String> {
    fn digest(&mut self, image: &str, tag: &str) -> DigestResult {
        Ok(self.get(&(image.to_string(), tag.to_string())).cloned())
    }
}

/// The registry, memoised: a tag the listing does not have is not asked for.
struct LiveDigests<'a> {
    client: &'a Client,
    tags: &'a TagLists,
    cache: BTreeMap<(String, String), DigestResult>,
}

impl LiveDigests<'_> {
    /// What can be said without a request: absent from the listing, or the listing failed. Otherwise the
    /// reference to resolve.
    fn without_request(
        &self,
        image: &str,
        tag: &str,
    ) -> std::result::Result<Reference, DigestResult> {
        match self.tags.get(image) {
            Some(Ok(tags)) if !tags.iter().any(|t| t == tag) => Err(Ok(None)),
            // A registry that could not list the tags is not asked again for each of them (each would retry).
            Some(Err(e)) => Err(Err(Error::new(e.kind, unread(image, e)))),
            _ => match ImageName::parse(image) {
                Ok(name) => Ok(Reference {
                    image: name,
                    tag: Some(tag.to_string()),
                    digest: None,
                }),
                Err(p) => Err(Err(Error::input(p))),
            },
        }
    }

    /// Resolves these pairs together, [`LIST_CONCURRENCY`] at a time, before the overview asks for them one by
    /// one (then they are answered from memory).
    fn prefetch(&mut self, pairs: BTreeSet<(String, String)>) {
        let mut pending = Vec::new();
        for (image, tag) in pairs {
            if self.cache.contains_key(&(image.clone(), tag.clone())) {
                continue;
            }
            match self.without_request(&image, &tag) {
                Ok(reference) => pending.push(((image, tag), reference)),
                Err(result) => {
                    self.cache.insert((image, tag), result);
                }
            }
        }
        let references: Vec<Reference> = pending.iter().map(|(_, r)| r.clone()).collect();
        let resolved = self.client.resolve_each(&references, LIST_CONCURRENCY);
        for ((key, _), result) in pending.into_iter().zip(resolved) {
            self.cache.insert(key, result.map(|d| d.map(|d| d.digest)));
        }
    }
}

impl Digests for LiveDigests<'_> {
    fn digest(&mut self, image: &str, tag: &str) -> DigestResult {
        let key = (image.to_string(), tag.to_string());
        if let Some(hit) = self.cache.get(&key) {
            return hit.clone();
        }
        let result = match self.without_request(image, tag) {
            Err(known) => known,
            Ok(reference) => self.client.resolve(&reference).map(|d| d.map(|d| d.digest)),
        };
        self.cache.insert(key, result.clone());
        result
    }
}

/// The digests the overview will ask for in nearly every run, known before it starts: what each object selects,
/// the moving tag of each image production deploys, what each overlay pins, and the production version
/// staging's selection would be promoted as.
fn likely_lookups(facts: &Facts<'_>, moving_tag: &str) -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    for p in facts.predictions {
        let Some(Ok(selected)) = &p.selected else {
            continue;
        };
        if let Some(first) = selected.first() {
            pairs.insert((p.image.clone(), first.clone()));
            if p.environment == Some(Environment::Staging)
                && let Some(production) = production_tag_of(first)
            {
                pairs.insert((p.image.clone(), production));
            }
        }
        if p.environment == Some(Environment::Production) && promotion_rules::moves(moving_tag) {
            pairs.insert((p.image.clone(), moving_tag.to_string()));
        }
    }
    for placement in placements(facts.model, facts.predictions) {
        let text = placement
            .overlay_dir
            .as_ref()
            .and_then(|d| facts.overlays.get(d))
            .and_then(|(_, t)| t.as_deref());
        if let Some(tag) = text
            .and_then(|t| manifests::pinned(t, &placement.image))
            .and_then(|p| p.tag)
        {
            pairs.insert((placement.image.clone(), tag));
        }
    }
    pairs
}

/// What one environment of an application runs, and what says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentState {
    /// `develop`, `staging`, `production`; `null` when the Flux objects name none.
    pub environment: Option<Environment>,
    /// `ResourceSetInputProvider/backend-staging`; `null` when only an overlay deploys the image.
    pub object: Option<String>,
    pub file: Option<String>,
    pub line: Option<usize>,
    /// The filter as written, e.g. `includeTag: '^v\d+\.\d+\.\d+$', semver: '>=0.0.0', limit: 1`.
    pub filter: Option<String>,
    pub selected: Selection,
    pub overlay: OverlayPin,
    /// Production only: where the moving tag points.
    pub moving_tag: Option<MovingTag>,
}

/// What Flux would select from the registry now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Selection {
    /// The first tag in Flux's order (`more` others are selected too), and where it points.
    Tag {
        tag: String,
        digest: Option<String>,
        more: usize,
    },
    /// No tag passes the filter: the ResourceSet's objects are garbage-collected (unless prune is disabled).
    Nothing,
    /// Flux would fail on this object.
    Fails { error: String },
    /// The image's tags could not be read.
    Unknown { error: String },
    /// No provider or ImagePolicy: the overlay is what deploys.
    Overlay,
}

/// What an overlay pins the image to, and where that tag points in the registry now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OverlayPin {
    pub file: String,
    pub exists: bool,
    pub tag: Option<String>,
    pub digest: Option<String>,
    /// Where `tag` points in the registry (`null`: it does not exist, or there is no tag).
    pub registry_digest: Option<String>,
}

/// Where the moving tag points, and a version tag with the same digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MovingTag {
    pub tag: String,
    pub digest: Option<String>,
    /// A tag of the same digest, e.g. `v1.2.0`, when one was found among the tags read.
    pub same_as: Option<String>,
}

/// A disagreement between an overlay and the registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Drift {
    pub environment: Option<Environment>,
    pub file: String,
    pub kind: DriftKind,
    pub message: String,
    pub help: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftKind {
    /// The overlay pins a tag and a digest, and the tag points to another digest now.
    TagMoved,
    /// The overlay pins a tag the registry does not have.
    TagMissing,
    /// The moving tag points to another digest than the production overlay pins.
    MovingTag,
    /// Production's provider follows the moving tag, which does not exist.
    MovingTagMissing,
}

/// The promotion `promote` would make now: staging's selection to production.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum NextPromotion {
    /// `promote` would change the production overlay: in the matrix.
    Pending {
        staging_tag: String,
        /// How staging's tag was chosen (promote's words).
        why: String,
        digest: String,
        production_tag: String,
        manifest: String,
        /// The tag the overlay pins now.
        from: Option<String>,
    },
    /// The production overlay already pins staging's image.
    UpToDate {
        production_tag: String,
        digest: String,
    },
    /// Staging runs an older version than production pins: promote would roll production back, so it is
    /// left out of the matrix.
    Behind {
        staging_tag: String,
        production_tag: String,
        pinned: String,
    },
    /// `promote` would fail.
    Blocked { reason: String },
    /// Nothing to promote.
    Nothing { reason: String },
}

/// One application: an image and the environments that deploy it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Application {
    /// The application's directory (`flux/apps/{app}/…`), else the image's last path segment.
    pub app: String,
    pub image: String,
    pub layout: Layout,
    pub environments: Vec<EnvironmentState>,
    pub promotion: NextPromotion,
    pub drift: Vec<Drift>,
}

/// Everything `plan` found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Overview {
    pub flux_path: String,
    pub moving_tag: String,
    pub applications: Vec<Application>,
    /// What could not be read (the run fails after its report).
    pub errors: Vec<String>,
}

/// One entry of the `matrix` output: the inputs of one `promote` job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MatrixEntry {
    pub app: String,
    pub image: String,
    #[serde(rename = "staging-tag")]
    pub staging_tag: String,
    #[serde(rename = "production-tag")]
    pub production_tag: String,
    pub manifest: String,
}

impl Overview {
    /// The pending promotions, for `strategy.matrix`.
    pub fn matrix(&self) -> Vec<MatrixEntry> {
        self.applications
            .iter()
            .filter_map(|a| match &a.promotion {
                NextPromotion::Pending {
                    staging_tag,
                    production_tag,
                    manifest,
                    ..
                } => Some(MatrixEntry {
                    app: a.app.clone(),
                    image: a.image.clone(),
                    staging_tag: staging_tag.clone(),
                    production_tag: production_tag.clone(),
                    manifest: manifest.clone(),
                }),
                _ => None,
            })
            .collect()
    }

    pub fn drift(&self) -> impl Iterator<Item = (&Application, &Drift)> {
        self.applications
            .iter()
            .flat_map(|a| a.drift.iter().map(move |d| (a, d)))
    }
}

/// Where one Flux object (or, without one, an overlay) deploys an application.
#[derive(Debug, Clone)]
struct Placement {
    app: String,
    image: String,
    environment: Option<Environment>,
    prediction: Option<Prediction>,
    filter: Option<String>,
    /// The overlay directory, relative to the repository (`flux/apps/backend/production`).
    overlay_dir: Option<String>,
}

/// `./flux/apps/backend/production/` → `flux/apps/backend/production`.
fn clean_dir(path: &str) -> String {
    path.trim()
        .trim_start_matches("./")
        .trim_end_matches('/')
        .to_string()
}

/// The application a directory names: the segment before its environment segment.
fn app_of_dir(dir: &str) -> Option<String> {
    let segments: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        [.., app, env] if Environment::from_word(env).is_some() => Some((*app).to_string()),
        _ => None,
    }
}

fn app_of_image(image: &str) -> String {
    image.rsplit('/').next().unwrap_or(image).to_string()
}

fn quoted(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

/// Pure: where every provider and ImagePolicy of the model deploys, from Flux's predictions.
fn placements(model: &Model, predictions: &[Prediction]) -> Vec<Placement> {
    let mut out = Vec::new();
    for p in predictions {
        if p.image.is_empty() {
            continue;
        }
        let provider = match p.source {
            Source::Provider(i) => model.providers.get(i),
            Source::Policy(_) => None,
        };
        let (overlay_dir, filter) = if let Some(provider) = provider {
            // The Flux Kustomization the ResourceSet generates names the overlay Flux applies.
            let dirs: Vec<String> = model
                .consumers(provider)
                .iter()
                .flat_map(|rs| rs.kustomizations.iter())
                .map(|k| clean_dir(&k.path))
                .filter(|d| !d.is_empty() && !d.contains("<<"))
                .collect();
            let dir = dirs
                .iter()
                .find(|d| app_of_dir(d).is_some())
                .or(dirs.first())
                .cloned();
            let f = &provider.filter;
            let mut parts = Vec::new();
            if let Some(v) = &f.include_tag {
                parts.push(format!("includeTag: {}", quoted(v)));
            }
            if let Some(v) = &f.exclude_tag {
                parts.push(format!("excludeTag: {}", quoted(v)));
            }
            if let Some(v) = &f.semver {
                parts.push(format!("semver: {}", quoted(v)));
            }
            if let Some(v) = f.limit {
                parts.push(format!("limit: {v}"));
            }
            let filter = if parts.is_empty() {
                "no filter: every tag, byte-wise descending, limit 100".to_string()
            } else {
                parts.join(", ")
            };
            (dir, Some(filter))
        } else {
            let policy = match p.source {
                Source::Policy(i) => model.policies.get(i),
                Source::Provider(_) => None,
            };
            let filter = policy.map(|policy| match &policy.spec {
                Ok(spec) => {
                    let mut parts = vec![match &spec.policy {
                        PolicyChoice::SemVer(range) => format!("semver.range: {}", quoted(range)),
                        PolicyChoice::Alphabetical { ascending } => format!(
                            "alphabetical.order: {}",
                            if *ascending { "asc" } else { "desc" }
                        ),
                        PolicyChoice::Numerical { ascending } => format!(
                            "numerical.order: {}",
                            if *ascending { "asc" } else { "desc" }
                        ),
                    }];
                    if let Some(pattern) = &spec.pattern {
                        parts.push(format!("filterTags.pattern: {}", quoted(pattern)));
                    }
                    if let Some(extract) = &spec.extract {
                        parts.push(format!("extract: {}", quoted(extract)));
                    }
                    parts.join(", ")
                }
                Err(e) => format!("invalid: {e}"),
            });
            (None, filter)
        };
        let app = overlay_dir
            .as_deref()
            .and_then(app_of_dir)
            .unwrap_or_else(|| app_of_image(&p.image));
        let overlay_dir =
            overlay_dir.or_else(|| p.environment.map(|e| default_dir(&app, e.name())));
        out.push(Placement {
            app,
            image: p.image.clone(),
            environment: p.environment,
            prediction: Some(p.clone()),
            filter,
            overlay_dir,
        });
    }
    out
}

/// `flux/apps/{app}/{environment}`.
fn default_dir(app: &str, environment: &str) -> String {
    let file = files::default_manifest(app, environment);
    file.rsplit_once('/')
        .map(|(dir, _)| dir.to_string())
        .unwrap_or(file)
}

/// The overlay directory of `environment` next to the ones already known (the same parent), else the default.
fn sibling_dir(known: &[&str], app: &str, environment: Environment) -> String {
    known
        .iter()
        .find_map(|d| {
            let (parent, last) = d.rsplit_once('/')?;
            Environment::from_word(last)?;
            Some(format!("{parent}/{}", environment.name()))
        })
        .unwrap_or_else(|| default_dir(app, environment.name()))
}

/// The overlays read from the checkout: directory → (its Kustomization file, its text when it exists).
pub type Overlays = BTreeMap<String, (String, Option<String>)>;

/// Reads the Kustomization of `dir` under any of the names kustomize reads; `kustomization.yaml` when none
/// exists. A path that leaves the repository reads as missing.
/// An overlay under `flux-path` was read with the Flux objects: its text is taken from `model`, not read again.
fn read_overlay(repo: &Path, model: &Model, dir: &str) -> (String, Option<String>) {
    for name in crate::manifests::kustomize::FILE_NAMES {
        let file = if dir.is_empty() {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        };
        let Ok(path) = files::resolve(repo, "manifest", &file) else {
            continue;
        };
        if let Some(text) = model.text_of(&file) {
            return (file, Some(text.to_string()));
        }
        if let Ok(text) = std::fs::read_to_string(path) {
            return (file, Some(text));
        }
    }
    let file = if dir.is_empty() {
        "kustomization.yaml".to_string()
    } else {
        format!("{dir}/kustomization.yaml")
    };
    (file, None)
}

/// The directories whose overlays the overview reads: every placement's, and each application's develop,
/// staging and production next to them (where an overlay alone may deploy the image).
fn overlay_dirs(placements: &[Placement]) -> BTreeSet<String> {
    let mut dirs = BTreeSet::new();
    for (app, group) in by_app(placements) {
        let known: Vec<&str> = group
            .iter()
            .filter_map(|p| p.overlay_dir.as_deref())
            .collect();
        dirs.extend(known.iter().map(|d| d.to_string()));
        for env in [
            Environment::Develop,
            Environment::Staging,
            Environment::Production,
        ] {
            dirs.insert(sibling_dir(&known, &app, env));
        }
    }
    dirs
}

/// Placements grouped by application and image (two images never merge), in that order.
fn by_app(placements: &[Placement]) -> Vec<(String, Vec<&Placement>)> {
    let mut groups: BTreeMap<(String, String), Vec<&Placement>> = BTreeMap::new();
    for p in placements {
        groups
            .entry((p.app.clone(), p.image.clone()))
            .or_default()
            .push(p);
    }
    groups
        .into_iter()
        .map(|((app, _), group)| (app, group))
        .collect()
}

fn short(digest: &str) -> String {
    digest.get(..19).unwrap_or(digest).to_string()
}

fn stable_version(tag: &str) -> Option<semver::Version> {
    // A `-` before any `+` starts a prerelease: not stable, and not worth a parse (most of 5,000 tags).
    if tag.split('+').next().is_some_and(|t| t.contains('-')) {
        return None;
    }
    let v = semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()?;
    v.pre.is_empty().then_some(v)
}

/// Everything the overview is computed from, besides the digests it asks for.
pub struct Facts<'a> {
    pub model: &'a Model,
    /// Each watched image's tags in listing order, or why they could not be read.
    pub tags: &'a TagLists,
    pub overlays: &'a Overlays,
    /// What each provider and ImagePolicy selects from `tags` ([`predictions`]): every filter runs once.
    pub predictions: &'a [Prediction],
}

impl Facts<'_> {
    fn tags_of(&self, image: &str) -> Option<&[String]> {
        tags_of(self.tags, image)
    }
}

fn tags_of<'t>(tags: &'t TagLists, image: &str) -> Option<&'t [String]> {
    tags.get(image)
        .and_then(|t| t.as_ref().ok())
        .map(Vec::as_slice)
}

/// What every provider and ImagePolicy of the model selects from the tags listed.
pub fn predictions(model: &Model, tags: &TagLists) -> Vec<Prediction> {
    predict(model, &|image: &str| tags_of(tags, image))
}

/// Every overlay directory the overview will look at, for the reader.
pub fn overlay_dirs_of(model: &Model, predictions: &[Prediction]) -> BTreeSet<String> {
    overlay_dirs(&placements(model, predictions))
}

/// What a report says about an image whose tags could not be listed.
fn unread(image: &str, e: &Error) -> String {
    format!("can't list the tags of `{image}`: {}", e.message)
}

/// Records a lookup's error once and returns the digest, if any.
fn known(result: DigestResult, errors: &mut Vec<String>) -> Option<String> {
    match result {
        Ok(d) => d,
        Err(e) => {
            if !errors.contains(&e.message) {
                errors.push(e.message);
            }
            None
        }
    }
}

/// Pure but for the digests it asks `digests` for: the overview of every application.
pub fn survey(
    facts: &Facts<'_>,
    moving_tag: &str,
    flux_path: &str,
    digests: &mut dyn Digests,
) -> Overview {
    let placements = placements(facts.model, facts.predictions);
    // Overlay file → its text, for the production overlay of each application.
    let texts: std::collections::HashMap<&str, &Option<String>> = facts
        .overlays
        .values()
        .map(|(file, text)| (file.as_str(), text))
        .collect();
    let mut errors = Vec::new();
    for (image, tags) in facts.tags {
        if let Err(e) = tags {
            errors.push(unread(image, e));
        }
    }
    let mut applications = Vec::new();
    for (app, group) in by_app(&placements) {
        let image = group[0].image.clone();
        let known_dirs: Vec<&str> = group
            .iter()
            .filter_map(|p| p.overlay_dir.as_deref())
            .collect();
        let overlay = |dir: &str| {
            facts
                .overlays
                .get(dir)
                .cloned()
                .unwrap_or_else(|| (format!("{dir}/kustomization.yaml"), None))
        };
        let pin_of =
            |text: &Option<String>| text.as_deref().and_then(|t| manifests::pinned(t, &image));
        // Rows: every Flux object, then environments that only an overlay deploys (production always, when its
        // overlay exists: that is where promote writes).
        let mut rows: Vec<(Option<Environment>, Option<&Placement>, Option<String>)> = group
            .iter()
            .map(|p| (p.environment, Some(*p), p.overlay_dir.clone()))
            .collect();
        for env in [
            Environment::Develop,
            Environment::Staging,
            Environment::Production,
        ] {
            if rows.iter().any(|(e, _, _)| *e == Some(env)) {
                continue;
            }
            let dir = sibling_dir(&known_dirs, &app, env);
            let (_, text) = overlay(&dir);
            let pinned = pin_of(&text).is_some_and(|p| p.tag.is_some() || p.digest.is_some());
            if pinned || (env == Environment::Production && text.is_some()) {
                rows.push((Some(env), None, Some(dir)));
            }
        }
        rows.sort_by_key(|(e, p, _)| {
            (
                e.map_or(u8::MAX, |e| e as u8),
                p.and_then(|p| p.prediction.as_ref().map(|x| x.object.clone())),
            )
        });
        // What promote would see of the model for this image: its objects only, so each application costs
        // the same however many others the repository holds.
        let own = facts.model.for_image(&image);
        // Promote's choice of staging's tag reads the staging objects; given only those, it runs no other filter.
        let staging = facts.model.for_image_in(&image, Some(Environment::Staging));
        let layout = ImageName::parse(&image)
            .map(|name| layout(&own, &name, "production"))
            .unwrap_or(Layout::Classic);

        let mut environments = Vec::new();
        let mut drift = Vec::new();
        for (env, placement, dir) in rows {
            let (file, text) = match &dir {
                Some(dir) => overlay(dir),
                None => (String::new(), None),
            };
            let pin = pin_of(&text);
            let (tag, digest) = pin.map(|p| (p.tag, p.digest)).unwrap_or((None, None));
            let registry_lookup = tag.as_deref().map(|t| digests.digest(&image, t));
            let tag_missing = matches!(registry_lookup, Some(Ok(None)));
            let registry_digest = registry_lookup.and_then(|r| known(r, &mut errors));
            let prediction = placement.and_then(|p| p.prediction.as_ref());
            let selected = match prediction.map(|p| &p.selected) {
                None => Selection::Overlay,
                Some(None) => Selection::Unknown {
                    error: match facts.tags.get(&image) {
                        Some(Err(e)) => e.message.clone(),
                        _ => "the image's tags were not read".to_string(),
                    },
                },
                Some(Some(Err(e))) => Selection::Fails { error: e.clone() },
                Some(Some(Ok(tags))) if tags.is_empty() => Selection::Nothing,
                Some(Some(Ok(tags))) => Selection::Tag {
                    tag: tags[0].clone(),
                    digest: known(digests.digest(&image, &tags[0]), &mut errors),
                    more: tags.len() - 1,
                },
            };
            // `moving-tag: none`: production runs what the overlay pins; there is no tag to compare.
            let moving_lookup = (env == Some(Environment::Production)
                && promotion_rules::moves(moving_tag))
            .then(|| digests.digest(&image, moving_tag));
            let moving_missing = matches!(moving_lookup, Some(Ok(None)));
            let moving = moving_lookup.map(|lookup| {
                let digest = known(lookup, &mut errors);
                let same_as = digest.as_deref().and_then(|d| {
                    tag_with_digest(
                        facts,
                        &image,
                        d,
                        tag.as_deref(),
                        moving_tag,
                        digests,
                        &mut errors,
                    )
                });
                MovingTag {
                    tag: moving_tag.to_string(),
                    digest,
                    same_as,
                }
            });

            let found = drift_of(&RowFacts {
                environment: env,
                file: &file,
                image: &image,
                exists: text.is_some(),
                tag: tag.as_deref(),
                pinned: digest.as_deref(),
                now: registry_digest.as_deref(),
                tag_missing,
                moving: moving.as_ref(),
                moving_missing,
                layout,
                moving_tag,
            });
            // Two objects for one environment see the same overlay: its drift is reported once.
            for d in found {
                if !drift.contains(&d) {
                    drift.push(d);
                }
            }
            environments.push(EnvironmentState {
                environment: env,
                object: prediction.map(|p| p.object.clone()),
                file: prediction.map(|p| p.file.clone()),
                line: prediction.map(|p| p.line),
                filter: placement.and_then(|p| p.filter.clone()),
                selected,
                overlay: OverlayPin {
                    file,
                    exists: text.is_some(),
                    tag,
                    digest,
                    registry_digest,
                },
                moving_tag: moving,
            });
        }

        let production = environments
            .iter()
            .find(|e| e.environment == Some(Environment::Production));
        let production_text = production
            .and_then(|p| texts.get(p.overlay.file.as_str()))
            .and_then(|t| (*t).clone());
        let promotion = next_promotion(
            facts,
            &staging,
            &image,
            production,
            production_text.as_deref(),
            digests,
            &mut errors,
        );
        applications.push(Application {
            app,
            image,
            layout,
            environments,
            promotion,
            drift,
        });
    }
    Overview {
        flux_path: flux_path.to_string(),
        moving_tag: moving_tag.to_string(),
        applications,
        errors,
    }
}

/// A tag other than the moving tag with digest `digest`: the overlay's tag first, then the image's stable
/// versions from the highest, at most [`NAMING_LOOKUPS`] of them (each resolved once, so most are already known).
fn tag_with_digest(
    facts: &Facts<'_>,
    image: &str,
    digest: &str,
    overlay_tag: Option<&str>,
    moving_tag: &str,
    digests: &mut dyn Digests,
    errors: &mut Vec<String>,
) -> Option<String> {
    let mut stable: Vec<(semver::Version, &String)> = facts
        .tags_of(image)
        .unwrap_or_default()
        .iter()
        .filter_map(|t| stable_version(t).map(|v| (v, t)))
        .collect();
    stable.sort_by(|a, b| b.0.cmp(&a.0));
    overlay_tag
        .map(str::to_string)
        .into_iter()
        .chain(
            stable
                .into_iter()
                .take(NAMING_LOOKUPS)
                .map(|(_, t)| t.clone()),
        )
        .filter(|c| c != moving_tag)
        .find(|c| known(digests.digest(image, c), errors).as_deref() == Some(digest))
}

/// What the drift rules look at in one row.
struct RowFacts<'a> {
    environment: Option<Environment>,
    file: &'a str,
    image: &'a str,
    exists: bool,
    /// The overlay's tag and digest.
    tag: Option<&'a str>,
    pinned: Option<&'a str>,
    /// Where the overlay's tag points in the registry; `tag_missing` when it does not exist.
    now: Option<&'a str>,
    tag_missing: bool,
    /// Production only.
    moving: Option<&'a MovingTag>,
    moving_missing: bool,
    layout: Layout,
    moving_tag: &'a str,
}

/// Pure: the drift of one row. The overlay against the registry: its tag must still point to its digest; in
/// production, the moving tag must point to what the overlay pins.
fn drift_of(row: &RowFacts<'_>) -> Vec<Drift> {
    let mut found = Vec::new();
    let (Some(t), true) = (row.tag, row.exists) else {
        return found;
    };
    let (file, image, moving_tag) = (row.file, row.image, row.moving_tag);
    let drift = |kind: DriftKind, message: String, help: String| Drift {
        environment: row.environment,
        file: file.to_string(),
        kind,
        message,
        help,
    };
    match (row.now, row.pinned) {
        (None, _) if row.tag_missing => found.push(drift(
            DriftKind::TagMissing,
            format!("`{file}` pins `{t}`, which does not exist in the registry"),
            format!("push `{image}:{t}` again, or pin a tag that exists"),
        )),
        (Some(now), Some(pinned)) if now != pinned => found.push(drift(
            DriftKind::TagMoved,
            format!(
                "`{file}` pins `{t}` at `{}`, but `{t}` points to `{}` in the registry now",
                short(pinned),
                short(now)
            ),
            format!(
                "a version tag must not move: find out who moved `{t}`; the overlay's digest is what was reviewed"
            ),
        )),
        _ => {}
    }
    let Some(m) = row.moving else {
        return found;
    };
    match (m.digest.as_deref(), row.pinned.or(row.now)) {
        (Some(now), Some(expected)) if now != expected => {
            let named = match &m.same_as {
                Some(other) => format!("`{other}`'s digest (`{}`)", short(now)),
                None => format!("`{}`, which no version tag read has", short(now)),
            };
            // Where production's provider follows the moving tag, the moving tag is what runs.
            let runs = match (row.layout, &m.same_as) {
                (Layout::Gitless, Some(other)) => format!(": production runs `{other}`, not `{t}`"),
                (Layout::Gitless, None) => format!(": production does not run `{t}`"),
                (Layout::Classic, _) => String::new(),
            };
            found.push(drift(
                DriftKind::MovingTag,
                format!("`{file}` says `{t}`, but `{moving_tag}` points to {named}{runs}"),
                format!(
                    "`release` on the overlay's commit moves `{moving_tag}` back to `{t}`; if production must run what `{moving_tag}` points to, promote that so the overlay says so"
                ),
            ));
        }
        (None, Some(_)) if row.moving_missing && row.layout == Layout::Gitless => found.push(drift(
            DriftKind::MovingTagMissing,
            format!(
                "`{file}` says `{t}`, but `{moving_tag}` does not exist: production's provider selects nothing"
            ),
            format!(
                "run `release` on the overlay's commit, or `gitops-promote retag --source {image}:{t} --tags {moving_tag}`"
            ),
        )),
        _ => {}
    }
    found
}

/// What `promote` would do for `image` now, with the staging tag it would choose.
/// `staging`: the model's objects for `image` that serve staging ([`Model::for_image_in`]).
fn next_promotion(
    facts: &Facts<'_>,
    staging: &Model,
    image: &str,
    production: Option<&EnvironmentState>,
    production_text: Option<&str>,
    digests: &mut dyn Digests,
    errors: &mut Vec<String>,
) -> NextPromotion {
    let nothing = |reason: String| NextPromotion::Nothing { reason };
    let Some(tags) = facts.tags_of(image) else {
        return nothing(format!("the tags of `{image}` could not be read"));
    };
    let name = match ImageName::parse(image) {
        Ok(n) => n,
        Err(p) => return nothing(p.message),
    };
    let staging = match choose_staging_tag(staging, &name, tags) {
        Ok(s) => s,
        Err(e) => return nothing(e.message),
    };
    let Some(production_tag) = production_tag_of(&staging.tag) else {
        return nothing(format!(
            "staging's `{}` is not a semver version, so no production version follows from it",
            staging.tag
        ));
    };
    let Some(digest) = known(digests.digest(image, &staging.tag), errors) else {
        return nothing(format!("`{image}:{}` could not be resolved", staging.tag));
    };
    let Some(production) = production else {
        return nothing("no production environment was found".to_string());
    };
    let manifest = production.overlay.file.clone();
    let Some(before) = production_text else {
        return nothing(format!(
            "the production overlay `{manifest}` does not exist"
        ));
    };
    let request = Request {
        image: image.to_string(),
        tag: Some(production_tag.clone()),
        digest: Some(digest.clone()),
        new_name: None,
        field_path: None,
    };
    let patched = match manifests::patch(before, &manifest, &request) {
        Ok(p) => p,
        Err(e) => {
            return NextPromotion::Blocked { reason: e.message };
        }
    };
    if patched.text == before {
        return NextPromotion::UpToDate {
            production_tag,
            digest,
        };
    }
    if let Some(existing) = known(digests.digest(image, &production_tag), errors)
        && existing != digest
    {
        return NextPromotion::Blocked {
            reason: format!(
                "`{image}:{production_tag}` already points to `{}`, not staging's `{}`: promote would refuse to move a version tag",
                short(&existing),
                short(&digest)
            ),
        };
    }
    let pinned = production.overlay.tag.clone();
    if let (Some(p), Some(new)) = (
        pinned.as_deref().and_then(stable_version),
        stable_version(&production_tag),
    ) && new < p
    {
        return NextPromotion::Behind {
            staging_tag: staging.tag,
            production_tag,
            pinned: pinned.unwrap_or_default(),
        };
    }
    NextPromotion::Pending {
        staging_tag: staging.tag,
        why: staging.why,
        digest,
        production_tag,
        manifest,
        from: pinned,
    }
}

/// The tags of every image the Flux objects watch, listed once per image.
fn list_tags(client: &Client, model: &Model, console: &mut Console) -> TagLists {
    let listed = list_each(client, &model.images(), console);
    drain(client, console);
    listed
}

/// Runs `plan`: read only, from the checkout and the registry.
pub fn run(
    invocation: &Invocation,
    github: &GithubContext,
    console: &mut Console,
) -> Result<Report> {
    let settings = PlanSettings::read(invocation, github)?;
    mask_login(console, &settings.registry);
    let root = invocation.repo.join(&settings.flux_path);
    if !root.is_dir() {
        return Err(Error::new(
            Kind::NotFound,
            format!("no Flux directory `{}`", root.display()),
        )
        .with_help("set `flux-path` to the directory holding the Flux objects"));
    }
    let model = Model::load(&invocation.repo, &settings.flux_path);
    let client = Client::new(settings.registry.clone())?;
    let tags = list_tags(&client, &model, console);
    let predictions = predictions(&model, &tags);
    let overlays: Overlays = overlay_dirs_of(&model, &predictions)
        .into_iter()
        .map(|dir| {
            let read = read_overlay(&invocation.repo, &model, &dir);
            (dir, read)
        })
        .collect();
    let facts = Facts {
        model: &model,
        tags: &tags,
        overlays: &overlays,
        predictions: &predictions,
    };
    console.group_on_runner("Resolve the digests of the tags each environment runs");
    let mut live = LiveDigests {
        client: &client,
        tags: &tags,
        cache: BTreeMap::new(),
    };
    live.prefetch(likely_lookups(&facts, &settings.moving_tag));
    let overview = survey(&facts, &settings.moving_tag, &settings.flux_path, &mut live);
    drain(&client, console);
    console.end_group();
    let findings = lint_with(&model, &|image: &str| facts.tags_of(image), &predictions);
    Ok(report(
        &overview,
        &findings,
        settings.fail_on_drift,
        client.requests(),
    ))
}

#[cfg(test)]
mod tests;
