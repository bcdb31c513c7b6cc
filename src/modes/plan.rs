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
use crate::flux::lint::lint_with;
use crate::flux::{Environment, Finding, Prediction, Source, predict};
use crate::image::ImageName;
use crate::inputs::{Invocation, Mode};
use crate::manifests::{self, Request, files};
use crate::modes::lint::findings_table;
use crate::modes::promote::{Layout, choose_staging_tag, layout, production_tag_of};
use crate::registry_settings::{mask_login, read_registry_settings};
use crate::retag_plan::drain;
use crate::tag_lister::{LIST_CONCURRENCY, list_each};
use crate::registry::{self, Client, Reference};
use crate::report::Report;
use crate::template::is_valid_oci_tag;

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
        if p.environment == Some(Environment::Production) {
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
            let moving_lookup =
                (env == Some(Environment::Production)).then(|| digests.digest(&image, moving_tag));
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

fn env_name(env: Option<Environment>) -> &'static str {
    env.map(|e| e.name()).unwrap_or("unknown")
}

fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', ""))
}

/// What a row says Flux selects, in Markdown.
fn selection_md(state: &EnvironmentState) -> String {
    match &state.selected {
        Selection::Tag { tag, digest, more } => {
            let mut s = code(tag);
            if let Some(m) = &state.moving_tag
                && m.tag == *tag
                && let Some(same) = &m.same_as
            {
                s.push_str(&format!(" = {}", code(same)));
            }
            if *more > 0 {
                s.push_str(&format!(" (+{more} more)"));
            }
            match digest {
                Some(d) => s.push_str(&format!("<br>{}", code(&short(d)))),
                None => s.push_str("<br>not resolved"),
            }
            s
        }
        Selection::Nothing => "nothing: no tag passes the filter".to_string(),
        Selection::Fails { error } => format!("nothing, Flux fails: {error}"),
        Selection::Unknown { error } => format!("unknown: {error}"),
        Selection::Overlay => "no Flux object: the overlay deploys".to_string(),
    }
}

fn selection_text(state: &EnvironmentState) -> String {
    match &state.selected {
        Selection::Tag { tag, digest, more } => {
            let mut s = tag.clone();
            if let Some(m) = &state.moving_tag
                && m.tag == *tag
                && let Some(same) = &m.same_as
            {
                s.push_str(&format!(" = {same}"));
            }
            if *more > 0 {
                s.push_str(&format!(" (+{more})"));
            }
            if let Some(d) = digest {
                s.push_str(&format!(" {}", short(d)));
            }
            s
        }
        Selection::Nothing => "nothing".to_string(),
        Selection::Fails { .. } => "nothing (Flux fails)".to_string(),
        Selection::Unknown { .. } => "unknown (registry not read)".to_string(),
        Selection::Overlay => "(overlay)".to_string(),
    }
}

fn pin_md(pin: &OverlayPin) -> String {
    if pin.file.is_empty() {
        return "no overlay".to_string();
    }
    if !pin.exists {
        return format!("no overlay ({})", code(&pin.file));
    }
    let what = match (&pin.tag, &pin.digest) {
        (None, None) => "nothing".to_string(),
        (Some(t), None) => code(t),
        (None, Some(d)) => code(&short(d)),
        (Some(t), Some(d)) => format!("{}<br>{}", code(t), code(&short(d))),
    };
    format!("{what}<br><sub>{}</sub>", code(&pin.file))
}

fn pin_text(pin: &OverlayPin) -> String {
    if !pin.exists {
        return "(no overlay)".to_string();
    }
    match (&pin.tag, &pin.digest) {
        (None, None) => "nothing".to_string(),
        (Some(t), None) => t.clone(),
        (None, Some(d)) => short(d),
        (Some(t), Some(d)) => format!("{t} {}", short(d)),
    }
}

fn promotion_md(p: &NextPromotion) -> String {
    match p {
        NextPromotion::Pending {
            staging_tag,
            why,
            digest,
            production_tag,
            from,
            ..
        } => format!(
            "**Next promotion:** {} → production as {} (digest {}; production pins {} now). Staging's tag: {why}. In the `matrix` output.",
            code(staging_tag),
            code(production_tag),
            code(&short(digest)),
            from.as_deref()
                .map(code)
                .unwrap_or_else(|| "nothing".to_string()),
        ),
        NextPromotion::UpToDate {
            production_tag,
            digest,
        } => format!(
            "**Next promotion:** none, production already pins staging's image ({} at {}).",
            code(production_tag),
            code(&short(digest))
        ),
        NextPromotion::Behind {
            staging_tag,
            production_tag,
            pinned,
        } => format!(
            "**Next promotion:** none: staging runs {} (→ {}), older than production's {}; promoting it would roll production back, so it is not in the `matrix` output.",
            code(staging_tag),
            code(production_tag),
            code(pinned)
        ),
        NextPromotion::Blocked { reason } => {
            format!("**Next promotion:** blocked, `promote` would fail: {reason}")
        }
        NextPromotion::Nothing { reason } => format!("**Next promotion:** none: {reason}."),
    }
}

fn promotion_text(p: &NextPromotion) -> String {
    let plain = promotion_md(p).replace(['`', '*'], "");
    plain
        .strip_prefix("Next promotion: ")
        .unwrap_or(&plain)
        .to_string()
}

/// Aligned columns, the first row a header.
fn columns(rows: &[Vec<String>]) -> String {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(" ");
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            line.push(' ');
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(pad + 1));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The label a diagram node shows: the version the environment runs.
fn runs(state: &EnvironmentState) -> String {
    match &state.selected {
        Selection::Tag { tag, .. } => match &state.moving_tag {
            Some(m) if m.tag == *tag => m.same_as.clone().unwrap_or_else(|| {
                m.digest
                    .as_deref()
                    .map(short)
                    .unwrap_or_else(|| tag.clone())
            }),
            _ => tag.clone(),
        },
        Selection::Nothing | Selection::Fails { .. } => "nothing".to_string(),
        Selection::Unknown { .. } => "unknown".to_string(),
        Selection::Overlay => state
            .overlay
            .tag
            .clone()
            .or_else(|| state.overlay.digest.as_deref().map(short))
            .unwrap_or_else(|| "nothing pinned".to_string()),
    }
}

/// A Mermaid flowchart: develop → staging → production per application, with the versions each runs.
fn diagram(overview: &Overview) -> String {
    let clean = |s: &str| s.replace(['"', '`', '[', ']', '{', '}', '|'], "");
    let mut out = String::from("```mermaid\nflowchart LR\n");
    for (i, app) in overview.applications.iter().enumerate() {
        let id = |env: &str| format!("a{i}_{env}");
        out.push_str(&format!("  subgraph a{i} [\"{}\"]\n", clean(&app.app)));
        out.push_str("    direction LR\n");
        let mut nodes: Vec<(Environment, String)> = Vec::new();
        for state in &app.environments {
            let Some(env) = state.environment else {
                continue;
            };
            if nodes.iter().any(|(e, _)| *e == env) {
                continue;
            }
            let drifted = app.drift.iter().any(|d| d.environment == Some(env));
            let running = runs(state);
            let warning = match (&state.overlay.tag, drifted) {
                (_, false) => String::new(),
                (Some(pinned), true) if *pinned != running => {
                    format!("<br/>⚠ drift: the overlay says {}", clean(pinned))
                }
                _ => "<br/>⚠ drift".to_string(),
            };
            let label = format!("{}<br/>{}{warning}", env.name(), clean(&running));
            out.push_str(&format!("    {}[\"{label}\"]\n", id(env.name())));
            nodes.push((env, id(env.name())));
        }
        for pair in nodes.windows(2) {
            let (from, to) = (&pair[0], &pair[1]);
            let label = if from.0 == Environment::Staging && to.0 == Environment::Production {
                match &app.promotion {
                    NextPromotion::Pending { production_tag, .. } => {
                        format!("promote {}", clean(production_tag))
                    }
                    NextPromotion::UpToDate { .. } => "up to date".to_string(),
                    NextPromotion::Behind { .. } => "staging is behind".to_string(),
                    NextPromotion::Blocked { .. } => "blocked".to_string(),
                    NextPromotion::Nothing { .. } => String::new(),
                }
            } else {
                String::new()
            };
            if label.is_empty() {
                out.push_str(&format!("    {} --> {}\n", from.1, to.1));
            } else {
                out.push_str(&format!("    {} -->|\"{label}\"| {}\n", from.1, to.1));
            }
        }
        out.push_str("  end\n");
    }
    out.push_str("```\n");
    out
}

/// Pure: the report of an overview.
pub fn report(
    overview: &Overview,
    findings: &[Finding],
    fail_on_drift: bool,
    requests: u64,
) -> Report {
    let matrix = overview.matrix();
    let drift: Vec<(&Application, &Drift)> = overview.drift().collect();
    let headline = format!(
        "{} application(s) under `{}`: {} promotion(s) pending, {} drift, {} lint finding(s)",
        overview.applications.len(),
        overview.flux_path,
        matrix.len(),
        drift.len(),
        findings.len()
    );
    let mut summary = format!("## gitops-promote plan\n\n{headline}.\n\n");
    let mut text = format!("gitops-promote plan: {}\n", headline.replace('`', ""));
    if overview.applications.is_empty() {
        summary.push_str(&format!(
            "No ResourceSetInputProvider or ImagePolicy watches an image under `{}`.\n\n",
            overview.flux_path
        ));
    } else {
        summary.push_str(&diagram(overview));
        summary.push('\n');
    }
    for app in &overview.applications {
        let deploys = match app.layout {
            Layout::Gitless => format!(
                "production's provider follows `{}`: production runs what it points to",
                overview.moving_tag
            ),
            Layout::Classic => "Flux applies the production overlay from git".to_string(),
        };
        summary.push_str(&format!(
            "### {}\n\nImage {}; {deploys}.\n\n| Environment | Flux object and filter | Selects now | Overlay pins | State |\n|---|---|---|---|---|\n",
            app.app,
            code(&app.image)
        ));
        text.push_str(&format!(
            "\n{}  {}\n  {}\n",
            app.app,
            app.image,
            deploys.replace('`', "")
        ));
        let mut rows = vec![
            ["environment", "selects now", "overlay pins", "state"]
                .map(str::to_string)
                .to_vec(),
        ];
        let mut filters = Vec::new();
        for state in &app.environments {
            let drifted = app.drift.iter().any(|d| d.environment == state.environment);
            let object = match (&state.object, &state.filter) {
                (Some(o), Some(f)) => format!("{}<br>{}", code(o), code(f).replace('|', "\\|")),
                (Some(o), None) => code(o),
                _ => "none".to_string(),
            };
            summary.push_str(&format!(
                "| {} | {object} | {} | {} | {} |\n",
                env_name(state.environment),
                selection_md(state).replace('|', "\\|"),
                pin_md(&state.overlay),
                if drifted { "⚠️ drift" } else { "✅" }
            ));
            rows.push(vec![
                env_name(state.environment).to_string(),
                selection_text(state),
                pin_text(&state.overlay),
                if drifted { "drift" } else { "ok" }.to_string(),
            ]);
            if let Some(object) = &state.object {
                filters.push(vec![
                    env_name(state.environment).to_string(),
                    object.clone(),
                    state.filter.clone().unwrap_or_default(),
                ]);
            }
        }
        // The moving tag gets its own line when the row's selection does not already show it.
        let mut moving_lines = Vec::new();
        for state in &app.environments {
            if let Some(m) = &state.moving_tag
                && !matches!(&state.selected, Selection::Tag { tag, .. } if *tag == m.tag)
            {
                let points = match (&m.digest, &m.same_as) {
                    (Some(d), Some(s)) => format!("{} (= {})", code(&short(d)), code(s)),
                    (Some(d), None) => code(&short(d)),
                    (None, _) => "nothing: it does not exist".to_string(),
                };
                moving_lines.push(format!("{} points to {points}.", code(&m.tag)));
            }
        }
        for line in &moving_lines {
            summary.push_str(&format!("\n{line}\n"));
        }
        text.push_str(&columns(&rows));
        for line in &moving_lines {
            text.push_str(&format!("  {}\n", line.replace('`', "")));
        }
        if !filters.is_empty() {
            text.push_str("  filters:\n");
            text.push_str(
                &columns(&filters)
                    .lines()
                    .map(|l| format!("  {l}\n"))
                    .collect::<String>(),
            );
        }
        summary.push_str(&format!("\n{}\n", promotion_md(&app.promotion)));
        text.push_str(&format!(
            "  next promotion: {}\n",
            promotion_text(&app.promotion)
        ));
        for d in &app.drift {
            summary.push_str(&format!(
                "\n⚠️ **Drift in {}:** {}<br>**help:** {}\n",
                env_name(d.environment),
                d.message,
                d.help
            ));
            text.push_str(&format!(
                "  drift in {}: {}\n    help: {}\n",
                env_name(d.environment),
                d.message.replace('`', ""),
                d.help.replace('`', "")
            ));
        }
        summary.push('\n');
    }
    if !findings.is_empty() {
        let (markdown, lines) = findings_table(findings);
        summary.push_str(&format!("### Lint\n\n{markdown}\n"));
        text.push_str(&format!("\nlint:\n{lines}"));
    }
    for e in &overview.errors {
        summary.push_str(&format!("❌ {e}\n\n"));
        text.push_str(&format!("error: {}\n", e.replace('`', "")));
    }
    summary.push_str(&format!(
        "Read only: {} registry request(s), nothing written.\n",
        requests
    ));

    let matrix_json = json!({ "include": matrix });
    let mut outputs = BTreeMap::new();
    outputs.insert(
        "matrix".to_string(),
        serde_json::to_string(&matrix_json).unwrap_or_default(),
    );
    outputs.insert(
        "json".to_string(),
        json!({
            "mode": Mode::Plan,
            "flux_path": overview.flux_path,
            "moving_tag": overview.moving_tag,
            "applications": overview.applications,
            "pending": matrix.len(),
            "drift": drift.len(),
            "matrix": matrix_json,
            "findings": findings,
            "errors": overview.errors,
            "requests": { "registry": requests },
        })
        .to_string(),
    );

    let mut annotations: Vec<Annotation> = findings
        .iter()
        .map(|f| f.annotation().shown_in_text())
        .collect();
    for (app, d) in &drift {
        let title = format!(
            "gitops-promote plan: drift in {} {}",
            app.app,
            env_name(d.environment)
        );
        let message = format!("{}\nhelp: {}", d.message, d.help);
        let a = if fail_on_drift {
            Annotation::error(title, message)
        } else {
            Annotation::warning(title, message)
        };
        annotations.push(a.at(d.file.clone(), None).shown_in_text());
    }
    let failure = if !overview.errors.is_empty() {
        Some(
            Error::new(
                Kind::Upstream,
                format!(
                    "plan could not read everything: {}",
                    overview.errors.join("; ")
                ),
            )
            .with_help("the rows that depend on it say `unknown`; check the registry inputs"),
        )
    } else if fail_on_drift && !drift.is_empty() {
        Some(
            Error::new(
                Kind::Conflict,
                format!(
                    "{} drift between the overlays and the registry",
                    drift.len()
                ),
            )
            .with_help("each is annotated on its overlay above; with `fail-on-drift: false` drift is a warning"),
        )
    } else {
        None
    };
    Report {
        outputs,
        summary,
        text,
        annotations,
        failure,
    }
}

#[cfg(test)]
mod tests {
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
        assert!(moved.message.contains("pins `v1.0.0` at `sha256:cccccccccccc`, but `v1.0.0` points to `sha256:aaaaaaaaaaaa`"), "{}", moved.message);

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
}
