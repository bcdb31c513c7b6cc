//! Owns tag selection the way Flux does it: the Flux Operator `ResourceSetInputProvider` filter pipeline and the
//! image-reflector-controller `ImagePolicy` policies. Pure functions from a filter and a tag list to a selection,
//! with the reason each tag was dropped, so `select`, `lint` and the build check all explain themselves.

use std::cmp::Ordering;

use regex::Regex;
use serde::Deserialize;

use super::semver::{Constraints, Version, VersionError};

/// The Flux Operator default for `spec.filter.limit` (`DefaultResourceSetInputProviderFilterLimit`).
pub const DEFAULT_LIMIT: usize = 100;

/// A provider's `spec.filter`, as written (only the fields that act on OCI tags).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderFilterSpec {
    #[serde(default)]
    pub include_tag: Option<String>,
    #[serde(default)]
    pub exclude_tag: Option<String>,
    #[serde(default)]
    pub semver: Option<String>,
    #[serde(default)]
    pub limit: Option<i64>,
}

/// A compiled provider filter: what `makeFilters` builds.
#[derive(Debug, Clone)]
pub struct ProviderFilter {
    pub include: Option<Regex>,
    pub exclude: Option<Regex>,
    pub semver: Option<Constraints>,
    pub limit: usize,
}

/// Compiles a Go RE2 pattern. OCI tags are ASCII (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`), and on ASCII text Rust's
/// Unicode-aware `\d`, `\w`, `\b` and `.` match exactly what Go's ASCII classes match.
pub fn go_regex(field: &str, pattern: &str) -> Result<Regex, String> {
    Regex::new(pattern).map_err(|e| format!("invalid {field} regex: {e}"))
}

impl ProviderFilter {
    /// `makeFilters`: empty strings mean "not set"; `limit` ≤ 0 or absent means 100.
    pub fn compile(spec: &ProviderFilterSpec) -> Result<Self, String> {
        let set = |s: &Option<String>| s.clone().filter(|s| !s.is_empty());
        Ok(Self {
            include: set(&spec.include_tag)
                .map(|p| go_regex("includeTag", &p))
                .transpose()?,
            exclude: set(&spec.exclude_tag)
                .map(|p| go_regex("excludeTag", &p))
                .transpose()?,
            semver: set(&spec.semver)
                .map(|c| {
                    Constraints::parse(&c).map_err(|e| format!("invalid semver expression: {e}"))
                })
                .transpose()?,
            limit: spec
                .limit
                .filter(|l| *l > 0)
                .and_then(|l| usize::try_from(l).ok())
                .unwrap_or(DEFAULT_LIMIT),
        })
    }

    /// `Filters.Tags`: include/exclude (unanchored), then either semver (parse, check, stable sort descending by
    /// precedence, ties keep registry order) or byte-wise descending order, then the limit.
    ///
    /// The same selection as [`ProviderFilter::evaluate`], without recording why each other tag was dropped, and
    /// without ordering the tags the limit cuts: with `limit: 1` over 5,000 tags, one pass instead of a sort.
    pub fn select(&self, tags: &[String]) -> Vec<String> {
        let kept = tags.iter().filter(|tag| {
            self.include.as_ref().is_none_or(|r| r.is_match(tag))
                && !self.exclude.as_ref().is_some_and(|r| r.is_match(tag))
        });
        match &self.semver {
            Some(c) => {
                let mut parsed: Vec<(usize, Version, &String)> = kept
                    .enumerate()
                    .filter_map(|(i, tag)| {
                        let v = Version::parse_flux(tag).ok().filter(|v| c.check(v))?;
                        Some((i, v, tag))
                    })
                    .collect();
                // Descending precedence; equal precedence keeps registry order (`sort.SliceStable`).
                first_in_order(&mut parsed, self.limit, |a, b| {
                    b.1.compare(&a.1).then(a.0.cmp(&b.0))
                });
                parsed.into_iter().map(|(_, _, t)| t.clone()).collect()
            }
            None => {
                let mut kept: Vec<&String> = kept.collect();
                first_in_order(&mut kept, self.limit, |a, b| b.as_bytes().cmp(a.as_bytes()));
                kept.into_iter().cloned().collect()
            }
        }
    }

    /// The selection, and why every other tag was left out.
    pub fn evaluate(&self, tags: &[String]) -> Evaluation {
        let mut dropped = Vec::new();
        let mut kept: Vec<&String> = Vec::new();
        for tag in tags {
            if let Some(inc) = &self.include
                && !inc.is_match(tag)
            {
                dropped.push((tag.clone(), Dropped::NotIncluded));
                continue;
            }
            if let Some(exc) = &self.exclude
                && exc.is_match(tag)
            {
                dropped.push((tag.clone(), Dropped::Excluded));
                continue;
            }
            kept.push(tag);
        }
        let ordered: Vec<String> = match &self.semver {
            Some(c) => {
                let mut parsed: Vec<(&String, Version)> = Vec::new();
                for tag in kept {
                    match Version::parse_flux(tag) {
                        Ok(v) if c.check(&v) => parsed.push((tag, v)),
                        Ok(v) => dropped.push((
                            tag.clone(),
                            Dropped::OutsideRange {
                                prerelease_gate: !v.pre.is_empty() && !c.admits_prereleases(),
                            },
                        )),
                        Err(e) => dropped.push((tag.clone(), Dropped::NotAVersion(e))),
                    }
                }
                // `sort.SliceStable` with `GreaterThan`: stable, so equal precedence keeps input order.
                parsed.sort_by(|a, b| b.1.compare(&a.1));
                parsed.into_iter().map(|(t, _)| t.clone()).collect()
            }
            None => {
                let mut v: Vec<String> = kept.into_iter().cloned().collect();
                v.sort_by(|a, b| b.as_bytes().cmp(a.as_bytes()));
                v
            }
        };
        let (selected, over) = if ordered.len() > self.limit {
            let (a, b) = ordered.split_at(self.limit);
            (a.to_vec(), b.to_vec())
        } else {
            (ordered, Vec::new())
        };
        for tag in over {
            dropped.push((tag, Dropped::OverLimit));
        }
        Evaluation { selected, dropped }
    }

    /// The Flux order of two tags that both pass the filter: `Greater` means `a` comes first.
    pub fn order(&self, a: &str, b: &str) -> Ordering {
        match &self.semver {
            Some(_) => match (Version::parse_flux(a), Version::parse_flux(b)) {
                (Ok(x), Ok(y)) => x.compare(&y),
                _ => Ordering::Equal,
            },
            None => a.as_bytes().cmp(b.as_bytes()),
        }
    }
}

/// Leaves the first `limit` items of `items` in `order`, ordered: a partial selection, then a sort of those
/// only. `order` must be total (ties broken by position), so the result is what a stable sort would give.
fn first_in_order<T>(items: &mut Vec<T>, limit: usize, order: impl Fn(&T, &T) -> Ordering) {
    if limit == 0 {
        items.clear();
        return;
    }
    if items.len() > limit {
        items.select_nth_unstable_by(limit - 1, &order);
        items.truncate(limit);
    }
    items.sort_unstable_by(order);
}

/// Why a tag is not in the selection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dropped {
    NotIncluded,
    Excluded,
    NotAVersion(VersionError),
    /// Fails the constraint; `prerelease_gate` when only because it is a prerelease and the constraint names none.
    OutsideRange {
        prerelease_gate: bool,
    },
    OverLimit,
    /// ImagePolicy: another tag extracted to the same value and was kept instead.
    Shadowed,
}

/// A selection and the dropped tags with their reasons, in the order they were dropped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Evaluation {
    pub selected: Vec<String>,
    pub dropped: Vec<(String, Dropped)>,
}

impl Evaluation {
    pub fn reason(&self, tag: &str) -> Option<&Dropped> {
        self.dropped.iter().find(|(t, _)| t == tag).map(|(_, r)| r)
    }
}

/// An `ImagePolicy`'s `spec.policy` and `spec.filterTags`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyChoice {
    SemVer(String),
    /// `true` = ascending (the default): the greatest string wins.
    Alphabetical {
        ascending: bool,
    },
    Numerical {
        ascending: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePolicySpec {
    pub policy: PolicyChoice,
    pub pattern: Option<String>,
    pub extract: Option<String>,
}

/// Reads an `asc`/`desc` order as `PolicerFromSpec` does (upper-cased; empty = ascending).
pub fn parse_order(order: Option<&str>) -> Result<bool, String> {
    match order.unwrap_or("").to_uppercase().as_str() {
        "" | "ASC" => Ok(true),
        "DESC" => Ok(false),
        other => Err(format!(
            "invalid order argument provided: '{other}', must be one of: ASC, DESC"
        )),
    }
}

/// Go `strconv.ParseFloat` for the forms tags use (`1`, `1.5`, `.5`, `1e3`, `+2`, `Inf`, `NaN`). Go's hex floats
/// and `_` separators (valid only after a base prefix) are refused, and so is a finite number out of range, for
/// which Go returns `ErrRange` (an error, which fails the policy).
fn parse_go_float(s: &str) -> Option<f64> {
    if s.contains('_') || s.to_ascii_lowercase().contains("0x") {
        return None;
    }
    let unsigned = s.trim_start_matches(['+', '-']).to_ascii_lowercase();
    let value = s.parse::<f64>().ok()?;
    let spelled_infinite = unsigned == "inf" || unsigned == "infinity";
    (!value.is_infinite() || spelled_infinite).then_some(value)
}

/// Why an ImagePolicy has no latest tag. Flux reports both on the ImagePolicy; they differ for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PolicyError {
    /// No tag passes the filter or the range: an empty selection, nothing new to deploy.
    NothingMatches(String),
    /// The policy fails on these tags or this configuration (a numerical policy over a value that is not a
    /// number, an invalid range or pattern): Flux marks the ImagePolicy failed.
    Fails(String),
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PolicyError::NothingMatches(m) | PolicyError::Fails(m) => f.write_str(m),
        }
    }
}

impl ImagePolicySpec {
    /// The tag Flux reports as `latestRef.tag`, or the error the ImagePolicy would show.
    ///
    /// `applyPolicy`: with `filterTags`, every tag the pattern matches (unanchored) is mapped to its extracted
    /// value (later tags overwrite earlier ones with the same value), the policy picks among the values and the
    /// original tag is reported.
    pub fn latest(&self, tags: &[String]) -> Result<String, PolicyError> {
        let (values, originals): (Vec<String>, Vec<String>) = match &self.pattern {
            Some(p) => {
                let re = go_regex("filterTags.pattern", p)
                    .map_err(|e| PolicyError::Fails(format!("failed to filter tags: {e}")))?;
                let mut map: Vec<(String, String)> = Vec::new();
                for tag in tags {
                    if let Some(caps) = re.captures(tag) {
                        let value = match self.extract.as_deref().filter(|e| !e.is_empty()) {
                            Some(template) => {
                                let mut out = String::new();
                                caps.expand(template, &mut out);
                                out
                            }
                            None => tag.clone(),
                        };
                        match map.iter_mut().find(|(v, _)| *v == value) {
                            Some(entry) => entry.1 = tag.clone(),
                            None => map.push((value, tag.clone())),
                        }
                    }
                }
                map.into_iter().unzip()
            }
            None => (tags.to_vec(), tags.to_vec()),
        };
        if values.is_empty() {
            return Err(PolicyError::NothingMatches(
                "version list argument cannot be empty".to_string(),
            ));
        }
        let index = match &self.policy {
            PolicyChoice::SemVer(range) => {
                let c = Constraints::parse(range).map_err(PolicyError::Fails)?;
                let mut best: Option<(usize, Version)> = None;
                for (i, value) in values.iter().enumerate() {
                    if let Ok(v) = Version::parse_flux(value)
                        && c.check(&v)
                        && best
                            .as_ref()
                            .is_none_or(|(_, b)| v.compare(b) == Ordering::Greater)
                    {
                        best = Some((i, v));
                    }
                }
                best.map(|(i, _)| i).ok_or_else(|| {
                    PolicyError::NothingMatches(
                        "unable to determine latest version from provided list".to_string(),
                    )
                })?
            }
            PolicyChoice::Alphabetical { ascending } => {
                let pick = values.iter().enumerate().reduce(|a, b| {
                    let ord = a.1.as_bytes().cmp(b.1.as_bytes());
                    match (ascending, ord) {
                        (true, Ordering::Less) | (false, Ordering::Greater) => b,
                        _ => a,
                    }
                });
                pick.map(|(i, _)| i).unwrap_or(0)
            }
            PolicyChoice::Numerical { ascending } => {
                let mut latest = 0;
                let mut pv = 0.0_f64;
                for (i, value) in values.iter().enumerate() {
                    let cv = parse_go_float(value).ok_or_else(|| {
                        let tag = &originals[i];
                        PolicyError::Fails(if tag == value {
                            format!("failed to parse invalid numeric value '{value}'")
                        } else {
                            format!(
                                "failed to parse invalid numeric value '{value}' (extracted from tag `{tag}`)"
                            )
                        })
                    })?;
                    if i > 0 && ((*ascending && cv < pv) || (!*ascending && cv > pv)) {
                        continue;
                    }
                    latest = i;
                    pv = cv;
                }
                latest
            }
        };
        Ok(originals[index].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(s: &[&str]) -> Vec<String> {
        s.iter().map(|t| t.to_string()).collect()
    }

    proptest::proptest! {
        /// `select` takes a shortcut (no reasons, no sort past the limit); it must select what `evaluate` does.
        #[test]
        fn select_selects_what_evaluate_selects(
            listed in proptest::collection::vec("v?[0-2]\\.[0-2]{1,2}\\.[0-2](-rc\\.[0-2](\\.g[ab0]{1,2})?)?(\\+[ab])?|latest|sha-[ab]", 0..40),
            include in proptest::option::of(proptest::sample::select(vec!["^v", "rc", "^v\\d+\\.\\d+\\.\\d+$", "0"])),
            semver in proptest::option::of(proptest::sample::select(vec![">=0.0.0", ">=0.0.0-0", "<1.5.0", "~1.1"])),
            limit in proptest::option::of(0i64..6),
        ) {
            let f = ProviderFilter::compile(&ProviderFilterSpec {
                include_tag: include.map(str::to_string),
                exclude_tag: None,
                semver: semver.map(str::to_string),
                limit,
            })
            .expect("filter");
            proptest::prop_assert_eq!(f.select(&listed), f.evaluate(&listed).selected);
        }
    }

    fn filter(include: Option<&str>, semver: Option<&str>, limit: Option<i64>) -> ProviderFilter {
        ProviderFilter::compile(&ProviderFilterSpec {
            include_tag: include.map(str::to_string),
            exclude_tag: None,
            semver: semver.map(str::to_string),
            limit,
        })
        .expect("filter")
    }

    #[test]
    fn without_semver_tags_sort_bytewise_descending() {
        let f = filter(Some(r"^v\d+\.\d+\.\d+$"), None, Some(1));
        assert_eq!(f.select(&tags(&["v1.10.0", "v1.9.3"])), ["v1.9.3"]);
    }

    #[test]
    fn semver_sorts_by_precedence_and_is_stable() {
        let f = filter(None, Some(">=0.0.0-0"), None);
        assert_eq!(
            f.select(&tags(&[
                "v1.0.0+b", "1.10.0", "v1.9.3", "v1.0.0+a", "latest"
            ])),
            ["1.10.0", "v1.9.3", "v1.0.0+b", "v1.0.0+a"]
        );
    }

    #[test]
    fn limit_defaults_to_100() {
        let many: Vec<String> = (0..150).map(|i| format!("t{i:03}")).collect();
        assert_eq!(filter(None, None, None).select(&many).len(), 100);
        assert_eq!(filter(None, None, Some(0)).select(&many).len(), 100);
        assert_eq!(filter(None, None, Some(-3)).select(&many).len(), 100);
    }

    #[test]
    fn image_policy_extract_maps_back_to_the_original_tag() {
        let p = ImagePolicySpec {
            policy: PolicyChoice::Numerical { ascending: true },
            pattern: Some(r"^main-[a-f0-9]+-(?P<ts>[0-9]+)$".into()),
            extract: Some("$ts".into()),
        };
        assert_eq!(
            p.latest(&tags(&["main-abc-100", "main-def-20", "latest"]))
                .expect("latest"),
            "main-abc-100"
        );
        let bad = ImagePolicySpec { pattern: None, ..p };
        assert!(bad.latest(&tags(&["1", "latest"])).is_err());
        assert!(bad.latest(&tags(&["1", "1e400"])).is_err(), "Go: ErrRange");
        let empty_pattern = ImagePolicySpec {
            policy: PolicyChoice::Alphabetical { ascending: true },
            pattern: Some(String::new()),
            extract: Some("x".into()),
        };
        assert_eq!(
            empty_pattern
                .latest(&tags(&["a", "c", "b"]))
                .expect("one value"),
            "b",
            "every tag extracts to `x`; the last one listed wins"
        );
        assert_eq!(bad.latest(&tags(&["1", "+Inf"])).expect("inf"), "+Inf");
    }
}
