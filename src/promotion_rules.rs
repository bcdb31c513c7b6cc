//! Owns the rules of a promotion that `promote`, `rollback`, `release` and `plan` share: the tag staging runs
//! (chosen from the Flux model and the registry's tags), the production tag it becomes, whether the merge
//! deploys (the layout), and the trailer keys that record a promotion in its commit.

use serde::Serialize;

use crate::error::{Error, Kind, Result};
use crate::flux::discover::Model;
use crate::flux::{self, Environment, normalize_image};
use crate::image::ImageName;

/// Trailer keys of the promotion commit, read back by `release` after the merge.
pub mod trailer {
    pub const IMAGE: &str = "Gitops-Promote-Image";
    pub const STAGING_TAG: &str = "Gitops-Promote-Staging-Tag";
    pub const PRODUCTION_TAG: &str = "Gitops-Promote-Production-Tag";
    pub const DIGEST: &str = "Gitops-Promote-Digest";
    pub const CREATE_RELEASE: &str = "Gitops-Promote-Create-Release";
    /// The rollback commit's record of what it undoes and what it pins again.
    pub const ROLLBACK_FROM: &str = "Gitops-Promote-Rollback-From";
    pub const ROLLBACK_TO: &str = "Gitops-Promote-Rollback-To";
    /// The changelog commit `release` makes after publishing a version.
    pub const RELEASE: &str = "Gitops-Promote-Release";
    /// Every key starts so: a commit that carries one was made by gitops-promote, not by the application.
    pub const PREFIX: &str = "Gitops-Promote-";
    /// The record `promote` and `rollback` end their pull request's description with; a squash merge whose
    /// message is that description carries it instead of the trailers.
    pub const RECORD: &str = "<!-- gitops-promote: ";
}

/// The production tag a staging tag becomes: the same version without its prerelease (and build) part.
///
/// ```
/// use gitops_promote::promotion_rules::production_tag_of;
/// assert_eq!(production_tag_of("v1.2.3-rc.4").as_deref(), Some("v1.2.3"));
/// assert_eq!(production_tag_of("v1.2.3").as_deref(), Some("v1.2.3"));
/// assert_eq!(production_tag_of("1.2.3-rc.4.gabc1234").as_deref(), Some("1.2.3"));
/// assert_eq!(production_tag_of("latest"), None);
/// ```
pub fn production_tag_of(staging_tag: &str) -> Option<String> {
    let (prefix, rest) = match staging_tag.strip_prefix('v') {
        Some(rest) => ("v", rest),
        None => ("", staging_tag),
    };
    let v = semver::Version::parse(rest).ok()?;
    Some(format!("{prefix}{}.{}.{}", v.major, v.minor, v.patch))
}

/// How the staging tag was chosen, for the summary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StagingChoice {
    pub tag: String,
    /// "given", or what selected it.
    pub why: String,
}

/// Picks the staging tag: the one staging's Flux provider or ImagePolicy selects from `tags`, else the highest
/// stable semver tag. Pure.
pub fn choose_staging_tag(
    model: &Model,
    image: &ImageName,
    tags: &[String],
) -> Result<StagingChoice> {
    if let Some(p) = staging_prediction(model, image, tags) {
        return match &p.selected {
            Some(Ok(selected)) if !selected.is_empty() => Ok(StagingChoice {
                tag: selected[0].clone(),
                why: format!(
                    "selected by `{}` ({}:{}) from the registry's {} tags",
                    p.object,
                    p.file,
                    p.line,
                    tags.len()
                ),
            }),
            Some(Ok(_)) => Err(Error::new(
                Kind::NotFound,
                format!("`{}` selects none of the registry's {} tags of `{image}`: staging runs nothing to promote", p.object, tags.len()),
            )
            .with_help("give `staging-tag`, or check the staging filter with `gitops-promote lint`")),
            Some(Err(e)) => Err(Error::new(
                Kind::Flux,
                format!("`{}` would fail in Flux: {e}", p.object),
            )
            .with_help("fix the staging filter (`gitops-promote lint` explains), or give `staging-tag`")),
            None => Err(Error::new(Kind::NotFound, "the registry's tags could not be read")),
        };
    }
    let highest = tags
        .iter()
        .filter_map(|t| {
            let v = semver::Version::parse(t.strip_prefix('v').unwrap_or(t)).ok()?;
            v.pre.is_empty().then_some((v, t))
        })
        .max_by(|a, b| a.0.cmp(&b.0));
    match highest {
        Some((_, t)) => Ok(StagingChoice {
            tag: t.clone(),
            why: format!(
                "the highest stable semver tag of the registry's {} (no staging provider or ImagePolicy for `{image}` was found)",
                tags.len()
            ),
        }),
        None => Err(Error::new(
            Kind::NotFound,
            format!("`{image}` has no stable semver tag in the registry to promote"),
        )
        .with_help("give `staging-tag`")),
    }
}

/// Staging's first Flux object (provider or ImagePolicy) watching `image`, with what it selects from `tags`.
fn staging_prediction(
    model: &Model,
    image: &ImageName,
    tags: &[String],
) -> Option<flux::Prediction> {
    let wanted = normalize_image(&image.to_string());
    flux::predict(model, &|i: &str| {
        (normalize_image(i) == wanted).then(|| tags.to_vec())
    })
    .into_iter()
    .find(|p| p.environment == Some(Environment::Staging) && normalize_image(&p.image) == wanted)
}

/// The tag staging's Flux object selects from `tags` now, if one watches `image` and selects any. Pure.
pub fn staging_selects(model: &Model, image: &ImageName, tags: &[String]) -> Option<String> {
    match staging_prediction(model, image, tags)?.selected {
        Some(Ok(selected)) => selected.into_iter().next(),
        _ => None,
    }
}

/// `moving-tag: none`: no moving tag is written anywhere. Production then runs what the overlay pins, which Flux
/// applies from git (the classic layout): the way out for a registry whose tags are all immutable (ECR's
/// `IMMUTABLE`, a Harbor immutability rule), since only new version tags are written.
pub const NO_MOVING_TAG: &str = "none";

/// Whether the run has a moving tag to write (`moving-tag` is not [`NO_MOVING_TAG`]).
pub fn moves(moving_tag: &str) -> bool {
    moving_tag != NO_MOVING_TAG
}

/// `moving-tag: none` where production's Flux provider follows the moving tag: production would never move.
pub fn refuse_no_moving_tag(moving_tag: &str, layout: Layout, image: &str) -> Result<()> {
    if moves(moving_tag) || layout == Layout::Classic {
        return Ok(());
    }
    Err(Error::input(
        crate::error::InputProblem::new(
            "moving-tag",
            format!(
                "`none`, but production's Flux provider (a ResourceSetInputProvider) follows a moving tag of `{image}`: with no moving tag production would never deploy"
            ),
        )
        .help("keep a moving tag (on ECR with immutable tags: an exclusion filter for it), or let Flux apply the production overlay from git (no provider for production)"),
    ))
}

/// Whether merging the overlay change deploys, as the Flux objects say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Layout {
    /// A ResourceSetInputProvider follows the moving tag and writes it into the Flux Kustomization's
    /// `spec.images`, which overrides the overlay: the moving tag deploys.
    Gitless,
    /// Flux applies the overlay from git: the merge deploys.
    Classic,
}

/// The layout production uses for `image`.
pub fn layout(model: &Model, image: &ImageName, environment: &str) -> Layout {
    let wanted = normalize_image(&image.to_string());
    let env = Environment::from_word(environment);
    let gitless = model.providers.iter().any(|p| {
        normalize_image(&p.image) == wanted
            && env.is_some()
            && model.provider_environment(p) == env
            && !model.consumers(p).is_empty()
    });
    if gitless {
        Layout::Gitless
    } else {
        Layout::Classic
    }
}
