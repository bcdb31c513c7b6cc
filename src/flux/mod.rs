//! Owns the Flux model: reads the repository's Flux objects and predicts, with Flux's own rules, which tag each
//! environment deploys; checks a tag about to be pushed and lints the objects the pipeline depends on.
//!
//! # The rules, and where each comes from
//!
//! Read from the upstream sources at these commits: Flux Operator `controlplaneio-fluxcd/flux-operator@17c6aea`,
//! image-reflector-controller `fluxcd/image-reflector-controller@debe2aa`, `fluxcd/pkg` `version/version.go`
//! (`version/v0.16.0`, the one the operator's `go.mod` pins), `Masterminds/semver@71f2b39` (v3.4.0 plus error-text
//! changes only; the operator pins v3.5.0).
//!
//! ## ResourceSetInputProvider, OCI types (`OCIArtifactTag`, `ACRArtifactTag`, `ECRArtifactTag`, `GARArtifactTag`)
//! 1. The tags are the registry's listing, in its order (`crane.ListTags`), filtered by `Filters.Tags`
//!    (`internal/controller/resourcesetinputprovider_controller.go` `callOCIProvider`). Each selected tag
//!    exports the inputs `id`, `tag` and `digest` (plus `defaultValues`).
//! 2. `includeTag` / `excludeTag` are Go RE2 regexes compiled with `regexp.Compile` and matched with
//!    `MatchString`: **unanchored**, so `production-latest` also matches `production-latest-old`. A tag is kept if
//!    it matches include (when set) and does not match exclude (when set) (`internal/filtering/filters.go`
//!    `MatchString`; fields in `api/v1/resourcesetinputprovider_types.go` `ResourceSetInputFilter`).
//! 3. Without `semver` the kept tags are sorted with `slices.Sort` then `slices.Reverse`: **byte-wise string
//!    order, descending** (`v1.9.3` above `v1.10.0`) (`internal/filtering/filters.go` `Tags`).
//! 4. With `semver` each kept tag is parsed with `fluxcd/pkg/version.ParseVersion`; tags that fail to parse or
//!    fail `Constraints.Check` are dropped; the rest are sorted with `sort.SliceStable` by `GreaterThan`:
//!    descending precedence, and tags of equal precedence (`1.0.0+a`, `1.0.0+b`) keep registry order
//!    (`internal/filtering/filters.go` `Tags`).
//! 5. `limit`: the first `limit` tags; absent, `0` or negative means **100**
//!    (`DefaultResourceSetInputProviderFilterLimit`, `GetFilterLimit` in `api/v1/resourcesetinputprovider_types.go`).
//! 6. A filter field that is not in `ResourceSetInputFilter` (e.g. `pattern`, which belongs to ImagePolicy) is not
//!    in the CRD schema (`config/crd/bases/fluxcd.controlplane.io_resourcesetinputproviders.yaml`, `filter` has no
//!    `x-kubernetes-preserve-unknown-fields`): the API server prunes it (a strict client refuses the object) and
//!    the filter acts as if it were absent.
//!
//! ## Versions (`fluxcd/pkg/version/version.go`, Masterminds `version.go`)
//! 7. `ParseVersion` requires `strings.SplitN(v, ".", 3)` to give three parts (two dots somewhere), then calls
//!    `semver.NewVersion`, which coerces (`CoerceNewVersion = true`): the loose grammar
//!    `v?N(.N)?(.N)?(-pre)?(+meta)?` — a lowercase leading `v` is accepted, leading zeros are accepted and dropped
//!    (`v01.02.03` = `1.2.3`), a missing patch is 0 (`1.2-rc.1` = `1.2.0-rc.1`, it has two dots).
//!    `V1.2.3`, `1.2.3.4`, `v1.2` are not versions.
//! 8. Prerelease identifiers must be non-empty, `[0-9A-Za-z-]`, and numeric ones have no leading zero
//!    (`validatePrerelease`): `1.2.3-rc.01` or an all-digit SHA such as `-rc.0123456` is **not a version** and the
//!    tag is dropped. Numbers above 2^64-1 fail `ParseUint`.
//! 9. Precedence (`Version.Compare`): major, minor, patch numerically; no prerelease is higher than any
//!    prerelease; prerelease identifiers compare left to right, numeric (when `ParseUint` succeeds) below
//!    alphanumeric, numbers numerically, strings byte-wise, fewer identifiers lower (`comparePrerelease`,
//!    `comparePrePart`); build metadata is ignored.
//!
//! ## Constraints (Masterminds `constraints.go`)
//! 10. `NewConstraint`: `A - B` ranges are rewritten to `>= A, <= B`; `||` separates OR groups; inside a group,
//!     constraints are separated by spaces or commas; operators `=`, `!=`, `>`, `<`, `>=`, `=>`, `<=`, `=<`, `~`,
//!     `~>`, `^`, or none; `x`, `X`, `*` or a missing part make a wildcard ("dirty") constraint. An empty string
//!     or anything else is an error (the provider then fails).
//! 11. **Prereleases** (`Constraints.Check`, `IncludePrerelease` is never set by Flux): a prerelease version
//!     passes an AND group only if some constraint *in that group* names a prerelease; then it is compared by
//!     precedence like any version. `>=1.0.0` admits no `-rc`; `>=0.0.0-0` admits every prerelease, of any version.
//! 12. Per operator: `>`/`<=` on wildcards compare only the specified parts; `~1.2.3` = `>=1.2.3 <1.3.0`;
//!     `~1` = `>=1.0.0 <2.0.0`; `~0.0.0` = anything; `^1.2.3` = `>=1.2.3 <2.0.0`, `^0.2.3` = `>=0.2.3 <0.3.0`,
//!     `^0.0.3` = `=0.0.3`; a bare `1.2` = `~1.2` (`constraintTilde`, `constraintCaret`, `constraintTildeOrEqual`).
//!
//! ## ResourceSet (`api/v1/resourceset_types.go`, `internal/inputs/*.go`, `internal/builder/resourceset.go`,
//! `internal/controller/resourceset_controller.go`)
//! 13. `inputStrategy.name` defaults to `Flatten`: the inputs of every provider are concatenated and a template
//!     reads `<< inputs.tag >>`. With `Permute`, each provider's inputs are nested under its name normalised by
//!     `NormalizeKeyForTemplate` (lower case, punctuation and spaces to `_`): `<< inputs.backend_develop.tag >>`.
//!     Templates use `<<`/`>>` delimiters and `missingkey=error`, so a key of the other strategy fails the build.
//! 14. When the providers export no inputs at all, the ResourceSet reconciles an empty set: everything it
//!     generated is garbage-collected, except objects annotated `fluxcd.controlplane.io/prune: disabled`.
//!
//! ## ImagePolicy (`internal/controller/imagepolicy_controller.go` `applyPolicy`, `internal/policy/*.go`)
//! 15. `filterTags.pattern` is an unanchored Go regex (`FindStringSubmatchIndex`); with `extract`, the value is
//!     `Regexp.ExpandString` of the first match (`$1`, `$name`, `${name}`), and tags extracting the same value
//!     overwrite each other (`filter.go`). The policy chooses among the values; the original tag is reported.
//! 16. `semver.range`: the greatest version passing the constraint, parsed as in rules 7–11; none → error
//!     (`semver.go`). `alphabetical.order` (`asc` default): `asc` picks the byte-wise greatest, `desc` the
//!     least (`alphabetical.go`). `numerical.order`: every value must parse with `strconv.ParseFloat` or the
//!     policy fails; `asc` picks the largest (`numerical.go`). Order words are upper-cased first (`factory.go`).
//! 17. `ImageRepository.exclusionList` defaults to `^.*\.sig$` (`api/v1/imagerepository_types.go`).
//!
//! Differences we accept: Go's RE2 and Rust's `regex` agree on syntax and leftmost-first semantics for what
//! filters use; they differ on Unicode classes only outside ASCII, and OCI tags are ASCII by the distribution
//! spec. Go-only syntax (`\Q…\E`) is reported as an invalid pattern. When several tags tie in an ImagePolicy
//! with `filterTags`, Flux iterates a Go map (random order); we take registry order.

pub mod check;
pub mod discover;
pub mod filter;
pub mod lint;
pub mod semver;

use serde::Serialize;

pub use check::check_tag;

/// How serious a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One thing wrong with the Flux objects, anchored to a file and line (relative to the repository root).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    /// A stable identifier, e.g. `unanchored-fixed-tag`.
    pub rule: &'static str,
    pub file: String,
    pub line: usize,
    /// `ResourceSetInputProvider/backend-production`.
    pub object: String,
    pub message: String,
    pub help: Option<String>,
}

impl Finding {
    /// The annotation form: the message, then `help:`.
    pub fn annotation(&self) -> crate::actions::Annotation {
        use crate::actions::Annotation;
        let mut message = self.message.clone();
        if let Some(help) = &self.help {
            message.push_str(&format!("\nhelp: {help}"));
        }
        let title = format!("gitops-promote flux: {} ({})", self.object, self.rule);
        let a = match self.severity {
            Severity::Error => Annotation::error(title, message),
            Severity::Warning => Annotation::warning(title, message),
        };
        a.at(self.file.clone(), Some(self.line))
    }
}

/// The environments of the pipeline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Develop,
    Staging,
    Production,
}

impl Environment {
    pub fn name(self) -> &'static str {
        match self {
            Environment::Develop => "develop",
            Environment::Staging => "staging",
            Environment::Production => "production",
        }
    }

    /// The environment a word names (`dev`, `stg`, `prod`, …), if any.
    pub fn from_word(word: &str) -> Option<Environment> {
        match word.to_ascii_lowercase().as_str() {
            "develop" | "dev" | "development" => Some(Environment::Develop),
            "staging" | "stage" | "stg" => Some(Environment::Staging),
            "production" | "prod" | "prd" => Some(Environment::Production),
            _ => None,
        }
    }

    /// The first environment named by a word of `text` (words split on anything not alphanumeric).
    pub fn find_in(text: &str) -> Option<Environment> {
        text.split(|c: char| !c.is_ascii_alphanumeric())
            .find_map(Environment::from_word)
    }
}

impl std::fmt::Display for Environment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An image name as written in Flux objects, compared without scheme, tag, digest, case or trailing slash, with
/// Docker Hub's implicit parts made explicit (`nginx` = `docker.io/library/nginx`).
///
/// ```
/// use gitops_promote::flux::normalize_image;
/// assert_eq!(normalize_image("oci://ghcr.io/Org/App/"), "ghcr.io/org/app");
/// assert_eq!(normalize_image("nginx:1.25"), "docker.io/library/nginx");
/// assert_eq!(normalize_image("127.0.0.1:5000/app@sha256:abc"), "127.0.0.1:5000/app");
/// ```
pub fn normalize_image(image: &str) -> String {
    let s = image
        .trim()
        .trim_start_matches("oci://")
        .trim_end_matches('/');
    let s = s.split('@').next().unwrap_or(s);
    // Drop a tag (`:x` after the last `/`), keep a registry port.
    let s = match (s.rfind(':'), s.rfind('/')) {
        (Some(c), Some(sl)) if c > sl => &s[..c],
        (Some(c), None) => &s[..c],
        _ => s,
    };
    let s = s.to_ascii_lowercase();
    let (first, rest) = s.split_once('/').unwrap_or(("", s.as_str()));
    let has_registry = first.contains('.') || first.contains(':') || first == "localhost";
    match (has_registry, first.is_empty()) {
        (true, _) => s.clone(),
        (false, true) => format!("docker.io/library/{rest}"),
        (false, false) => format!("docker.io/{s}"),
    }
}

/// Which object of the model a prediction is for: its position in [`discover::Model::providers`] or
/// [`discover::Model::policies`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    Provider(usize),
    Policy(usize),
}

/// What one provider or ImagePolicy would deploy now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Prediction {
    pub environment: Option<Environment>,
    pub object: String,
    pub file: String,
    pub line: usize,
    pub image: String,
    /// The selection in Flux's order, or why there is none; `None` when the current tags are unknown.
    pub selected: Option<Result<Vec<String>, String>>,
    #[serde(skip)]
    pub source: Source,
}

/// For every provider and ImagePolicy: its environment, image and, when the image's tags are known, what Flux
/// would select from them now. `current_tags` may lend the tags (`&[String]`) or give them (`Vec<String>`);
/// each object's filter runs once, over its own image's tags.
pub fn predict<T: AsRef<[String]>>(
    model: &discover::Model,
    current_tags: &dyn Fn(&str) -> Option<T>,
) -> Vec<Prediction> {
    let mut out = Vec::new();
    for p in &model.providers {
        let selected = current_tags(&p.image).map(|tags| match &*model.filter_of(p) {
            Ok(f) => Ok(f.select(tags.as_ref())),
            Err(e) => Err(e.clone()),
        });
        out.push(Prediction {
            environment: model.provider_environment(p),
            object: format!("ResourceSetInputProvider/{}", p.name),
            file: p.doc.file.clone(),
            line: p.doc.line_of(&["spec", "filter"]),
            image: p.image.clone(),
            selected,
            source: Source::Provider(p.position),
        });
    }
    for (i, policy) in model.policies.iter().enumerate() {
        let image = model.policy_image(policy).unwrap_or_default();
        let selected = current_tags(&image).map(|tags| match &policy.spec {
            Ok(spec) => spec
                .latest(tags.as_ref())
                .map(|t| vec![t])
                .map_err(|e| e.to_string()),
            Err(e) => Err(e.clone()),
        });
        out.push(Prediction {
            environment: model.policy_environment(policy),
            object: format!("ImagePolicy/{}", policy.name),
            file: policy.doc.file.clone(),
            line: policy.doc.line_of(&["spec", "policy"]),
            image,
            selected,
            source: Source::Policy(i),
        });
    }
    out.sort_by(|a, b| (a.environment, &a.object).cmp(&(b.environment, &b.object)));
    out
}
