//! Owns Masterminds/semver v3 semantics (version parsing with coercion, precedence, constraints) as Flux uses
//! them through `fluxcd/pkg/version.ParseVersion`. The Rust `semver` crate differs on exactly the points that
//! decide what Flux deploys (prereleases in ranges, a leading `v`, leading zeros, `1.2-rc.1`), so this is a
//! port of the upstream rules, not a wrapper. Every rule names its upstream file in `flux/mod.rs`.

use std::cmp::Ordering;
use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

/// Go's `\s` (RE2 Perl class): `[\t\n\f\r ]`, ASCII only. Rust's `\s` is Unicode and includes `\v`.
const WS: &str = r"[\t\n\f\r ]";

/// `looseSemVerRegex` (Masterminds/semver version.go), anchored as `init()` does. [`split_loose`] matches the
/// same language without it (a capture search per tag is most of the cost of ordering 5,000 tags); the regex
/// stays as the reference a property test holds the hand-written matcher to.
#[cfg_attr(not(test), allow(dead_code))]
static LOOSE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern
    Regex::new(concat!(
        r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?",
        r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?",
        r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$"
    ))
    .unwrap()
});

/// `cvRegex` (Masterminds/semver constraints.go). The `|` inside the classes is a literal, as upstream.
const CV: &str = concat!(
    r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?",
    r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?",
    r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
);

/// The operators, with upstream's empty alternative (`=||!=`) kept: a bare version is an operator-less constraint.
const OPS: &str = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^";

#[allow(clippy::unwrap_used)] // literal patterns
static CONSTRAINT: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"^{WS}*({OPS}){WS}*({CV}){WS}*$")).unwrap());
#[allow(clippy::unwrap_used)]
static RANGE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"{WS}*({CV}){WS}+-{WS}+({CV}){WS}*")).unwrap());
#[allow(clippy::unwrap_used)]
static FIND: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"({OPS}){WS}*({CV})")).unwrap());
#[allow(clippy::unwrap_used)]
static VALID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"^({WS}*({OPS}){WS}*({CV}){WS}*)((?:{WS}+|,{WS}*)({OPS}){WS}*({CV}){WS}*)*$"
    ))
    .unwrap()
});

/// A version as Masterminds holds it: three numbers, the prerelease and metadata strings, and the original text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Version {
    pub major: u64,
    pub minor: u64,
    pub patch: u64,
    pub pre: String,
    pub metadata: String,
    pub original: String,
}

/// Why a string is not a version Flux accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionError {
    /// Fewer than three dot-separated parts (`fluxcd/pkg/version.ParseVersion`).
    NotThreeParts,
    /// Does not match Masterminds' loose grammar (`V1.2.3`, `1.2.3.4`, `latest`).
    Invalid,
    /// A number does not fit in 64 bits.
    Overflow,
    /// A prerelease identifier is empty, has a character outside `[0-9A-Za-z-]`, or is numeric with a leading zero.
    InvalidPrerelease(String),
    InvalidMetadata(String),
}

impl fmt::Display for VersionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VersionError::NotThreeParts => {
                f.write_str("it has fewer than three dot-separated parts")
            }
            VersionError::Invalid => f.write_str("it is not a semantic version"),
            VersionError::Overflow => f.write_str("a number is larger than 64 bits"),
            VersionError::InvalidPrerelease(p) => write!(
                f,
                "its prerelease `{p}` is invalid (an empty identifier, a character outside [0-9A-Za-z-], or a number with a leading zero)"
            ),
            VersionError::InvalidMetadata(m) => write!(f, "its build metadata `{m}` is invalid"),
        }
    }
}

impl Version {
    /// `fluxcd/pkg/version.ParseVersion`: at least three dot-separated parts, then Masterminds `NewVersion`
    /// (coercing: a leading `v`, leading zeros and missing minor/patch are accepted).
    ///
    /// ```
    /// use gitops_promote::flux::semver::Version;
    /// assert_eq!(Version::parse_flux("v01.02.03").unwrap().to_string(), "1.2.3");
    /// assert_eq!(Version::parse_flux("1.2-rc.1").unwrap().to_string(), "1.2.0-rc.1");
    /// assert!(Version::parse_flux("v1.2").is_err());
    /// assert!(Version::parse_flux("V1.2.3").is_err());
    /// assert!(Version::parse_flux("1.2.3-rc.01").is_err());
    /// ```
    pub fn parse_flux(v: &str) -> Result<Version, VersionError> {
        // `strings.SplitN(v, ".", 3)` has three parts exactly when there are two dots.
        if v.bytes().filter(|&b| b == b'.').nth(1).is_none() {
            return Err(VersionError::NotThreeParts);
        }
        Version::parse(v)
    }

    /// Masterminds `NewVersion` with `CoerceNewVersion = true` (the default since 3.4.0).
    pub fn parse(v: &str) -> Result<Version, VersionError> {
        let m = split_loose(v).ok_or(VersionError::Invalid)?;
        let num = |part: Option<&str>| -> Result<u64, VersionError> {
            match part {
                None => Ok(0),
                Some(digits) => digits.parse::<u64>().map_err(|_| VersionError::Overflow),
            }
        };
        let version = Version {
            major: num(Some(m.major))?,
            minor: num(m.minor)?,
            patch: num(m.patch)?,
            pre: m.pre.unwrap_or_default().to_string(),
            metadata: m.metadata.unwrap_or_default().to_string(),
            original: v.to_string(),
        };
        if !version.pre.is_empty() && !valid_prerelease(&version.pre) {
            return Err(VersionError::InvalidPrerelease(version.pre));
        }
        if !version.metadata.is_empty() && !valid_metadata(&version.metadata) {
            return Err(VersionError::InvalidMetadata(version.metadata));
        }
        Ok(version)
    }

    /// `Version.Compare`: numbers, then prerelease (absent is higher); metadata is ignored.
    pub fn compare(&self, o: &Version) -> Ordering {
        self.major
            .cmp(&o.major)
            .then(self.minor.cmp(&o.minor))
            .then(self.patch.cmp(&o.patch))
            .then_with(|| match (self.pre.is_empty(), o.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => compare_prerelease(&self.pre, &o.pre),
            })
    }
}

impl fmt::Display for Version {
    /// `Version.String`: no leading `v`, numbers without leading zeros.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)?;
        if !self.pre.is_empty() {
            write!(f, "-{}", self.pre)?;
        }
        if !self.metadata.is_empty() {
            write!(f, "+{}", self.metadata)?;
        }
        Ok(())
    }
}

/// The parts of a version as the anchored `looseSemVerRegex` captures them: groups 1, 2 and 3 without their
/// dots, 5 and 8. `None` where the regex does not match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct LooseParts<'a> {
    major: &'a str,
    minor: Option<&'a str>,
    patch: Option<&'a str>,
    pre: Option<&'a str>,
    metadata: Option<&'a str>,
}

/// `^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?(-(X+(\.X+)*))?(\+(X+(\.X+)*))?$` with `X = [0-9A-Za-z-]`, by hand. Each
/// part is determined by the character that starts it (`.`, `-`, `+` or the end), so there is no backtracking
/// to mirror.
fn split_loose(v: &str) -> Option<LooseParts<'_>> {
    fn digits(s: &str) -> (&str, &str) {
        let n = s.bytes().take_while(u8::is_ascii_digit).count();
        s.split_at(n)
    }
    /// `X+(\.X+)*`: dot-separated, no identifier empty.
    fn dotted(s: &str) -> bool {
        s.split('.')
            .all(|part| !part.is_empty() && only(part, allowed_char))
    }
    let rest = v.strip_prefix('v').unwrap_or(v);
    let (major, mut rest) = digits(rest);
    if major.is_empty() {
        return None;
    }
    let mut numbers = [None, None];
    for slot in &mut numbers {
        let Some(after) = rest.strip_prefix('.') else {
            break;
        };
        let (n, after) = digits(after);
        if n.is_empty() {
            return None;
        }
        *slot = Some(n);
        rest = after;
    }
    let (rest, metadata) = match rest.split_once('+') {
        Some((before, meta)) => (before, Some(meta)),
        None => (rest, None),
    };
    let pre = match rest {
        "" => None,
        _ => Some(rest.strip_prefix('-')?),
    };
    if pre.is_some_and(|p| !dotted(p)) || metadata.is_some_and(|m| !dotted(m)) {
        return None;
    }
    Some(LooseParts {
        major,
        minor: numbers[0],
        patch: numbers[1],
        pre,
        metadata,
    })
}

fn only(s: &str, allowed: impl Fn(u8) -> bool) -> bool {
    s.bytes().all(allowed)
}

fn allowed_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-'
}

/// `validatePrerelease`.
fn valid_prerelease(p: &str) -> bool {
    p.split('.').all(|part| {
        if part.is_empty() {
            false
        } else if only(part, |b| b.is_ascii_digit()) {
            !(part.len() > 1 && part.starts_with('0'))
        } else {
            only(part, allowed_char)
        }
    })
}

/// `validateMetadata`.
fn valid_metadata(m: &str) -> bool {
    m.split('.')
        .all(|part| !part.is_empty() && only(part, allowed_char))
}

/// `comparePrerelease`: identifier by identifier; fewer identifiers is lower.
fn compare_prerelease(v: &str, o: &str) -> Ordering {
    let (mut s, mut t) = (v.split('.'), o.split('.'));
    loop {
        let (a, b) = match (s.next(), t.next()) {
            (None, None) => return Ordering::Equal,
            (a, b) => (a.unwrap_or(""), b.unwrap_or("")),
        };
        let d = compare_pre_part(a, b);
        if d != Ordering::Equal {
            return d;
        }
    }
}

/// `comparePrePart`: numbers (that fit `ParseUint`) are lower than strings; strings compare byte-wise.
fn compare_pre_part(s: &str, o: &str) -> Ordering {
    if s == o {
        return Ordering::Equal;
    }
    if s.is_empty() {
        return Ordering::Less;
    }
    if o.is_empty() {
        return Ordering::Greater;
    }
    match (s.parse::<u64>(), o.parse::<u64>()) {
        (Err(_), Err(_)) => {
            if s > o {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Ok(a), Ok(b)) => {
            if a > b {
                Ordering::Greater
            } else {
                Ordering::Less
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    TildeOrEqual,
    NotEqual,
    Greater,
    Less,
    GreaterEqual,
    LessEqual,
    Tilde,
    Caret,
}

impl Op {
    fn from(s: &str) -> Option<Op> {
        Some(match s {
            "" | "=" => Op::TildeOrEqual,
            "!=" => Op::NotEqual,
            ">" => Op::Greater,
            "<" => Op::Less,
            ">=" | "=>" => Op::GreaterEqual,
            "<=" | "=<" => Op::LessEqual,
            "~" | "~>" => Op::Tilde,
            "^" => Op::Caret,
            _ => return None,
        })
    }
}

#[derive(Debug, Clone)]
struct Constraint {
    con: Version,
    op: Op,
    minor_dirty: bool,
    patch_dirty: bool,
    dirty: bool,
}

/// A parsed Masterminds constraint: OR groups (`||`) of AND constraints (space or comma).
#[derive(Debug, Clone)]
pub struct Constraints {
    groups: Vec<Vec<Constraint>>,
    contains_pre: Vec<bool>,
    original: String,
}

impl fmt::Display for Constraints {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

fn is_x(s: &str) -> bool {
    matches!(s, "x" | "*" | "X")
}

/// `rewriteRange`: `1.2 - 1.4.5` becomes `>= 1.2, <= 1.4.5 `.
fn rewrite_range(i: &str) -> String {
    let mut out = i.to_string();
    for m in RANGE.captures_iter(i) {
        let (Some(all), Some(a), Some(b)) = (m.get(0), m.get(1), m.get(11)) else {
            continue;
        };
        let t = format!(">= {}, <= {} ", a.as_str(), b.as_str());
        out = out.replacen(all.as_str(), &t, 1);
    }
    out
}

fn parse_constraint(c: &str) -> Result<Constraint, String> {
    let m = CONSTRAINT
        .captures(c)
        .ok_or_else(|| format!("improper constraint: {c:?}"))?;
    let g = |i: usize| m.get(i).map(|x| x.as_str()).unwrap_or("");
    let op = Op::from(g(1)).ok_or_else(|| format!("improper constraint: {c:?}"))?;
    let (major, minor, patch, pre) = (g(3), g(4), g(5), g(6));
    let (mut dirty, mut minor_dirty, mut patch_dirty) = (false, false, false);
    let ver = if is_x(major) || major.is_empty() {
        dirty = true;
        format!("0.0.0{pre}")
    } else if is_x(minor.trim_start_matches('.')) || minor.is_empty() {
        dirty = true;
        minor_dirty = true;
        format!("{major}.0.0{pre}")
    } else if is_x(patch.trim_start_matches('.')) || patch.is_empty() {
        dirty = true;
        patch_dirty = true;
        format!("{major}{minor}.0{pre}")
    } else {
        g(2).to_string()
    };
    let con = Version::parse(&ver).map_err(|_| "constraint parser error".to_string())?;
    Ok(Constraint {
        con,
        op,
        minor_dirty,
        patch_dirty,
        dirty,
    })
}

impl Constraints {
    /// Masterminds `NewConstraint`.
    ///
    /// ```
    /// use gitops_promote::flux::semver::{Constraints, Version};
    /// let c = Constraints::parse(">=1.0.0").unwrap();
    /// assert!(c.check(&Version::parse("1.2.0").unwrap()));
    /// assert!(!c.check(&Version::parse("1.2.0-rc.1").unwrap()), "no prerelease named: none admitted");
    /// let c = Constraints::parse(">=1.0.0-0").unwrap();
    /// assert!(c.check(&Version::parse("1.2.0-rc.1").unwrap()));
    /// assert!(Constraints::parse("").is_err());
    /// ```
    pub fn parse(c: &str) -> Result<Constraints, String> {
        let rewritten = rewrite_range(c);
        let mut groups = Vec::new();
        let mut contains_pre = Vec::new();
        for part in rewritten.split("||") {
            if !VALID.is_match(part) {
                return Err(format!("improper constraint: {part:?}"));
            }
            let found: Vec<&str> = FIND.find_iter(part).map(|m| m.as_str()).collect();
            let found = if found.is_empty() { vec![part] } else { found };
            let mut group = Vec::new();
            let mut has_pre = false;
            for s in found {
                let pc = parse_constraint(s)?;
                has_pre |= !pc.con.pre.is_empty();
                group.push(pc);
            }
            groups.push(group);
            contains_pre.push(has_pre);
        }
        Ok(Constraints {
            groups,
            contains_pre,
            original: c.to_string(),
        })
    }

    /// `Constraints.Check` with `IncludePrerelease = false` (Flux never sets it): a prerelease version passes
    /// only an AND group in which some constraint names a prerelease.
    pub fn check(&self, v: &Version) -> bool {
        self.groups
            .iter()
            .zip(&self.contains_pre)
            .any(|(group, pre)| group.iter().all(|c| c.check(v, *pre)))
    }

    /// Whether any OR group names a prerelease (so prerelease versions can pass at all).
    pub fn admits_prereleases(&self) -> bool {
        self.contains_pre.iter().any(|p| *p)
    }
}

impl Constraint {
    fn check(&self, v: &Version, include_pre: bool) -> bool {
        if !v.pre.is_empty() && !include_pre {
            return false;
        }
        let c = &self.con;
        match self.op {
            Op::NotEqual => {
                if self.dirty {
                    if c.major != v.major {
                        return true;
                    }
                    if c.minor != v.minor && !self.minor_dirty {
                        return true;
                    } else if self.minor_dirty {
                        return false;
                    } else if c.patch != v.patch && !self.patch_dirty {
                        return true;
                    } else if self.patch_dirty {
                        if !v.pre.is_empty() || !c.pre.is_empty() {
                            return compare_prerelease(&v.pre, &c.pre) != Ordering::Equal;
                        }
                        return false;
                    }
                }
                v.compare(c) != Ordering::Equal
            }
            Op::Greater => {
                if !self.dirty {
                    return v.compare(c) == Ordering::Greater;
                }
                if v.major > c.major {
                    true
                } else if v.major < c.major || self.minor_dirty {
                    false
                } else if self.patch_dirty {
                    v.minor > c.minor
                } else {
                    v.compare(c) == Ordering::Greater
                }
            }
            Op::Less => v.compare(c) == Ordering::Less,
            Op::GreaterEqual => v.compare(c) != Ordering::Less,
            Op::LessEqual => {
                if !self.dirty {
                    return v.compare(c) != Ordering::Greater;
                }
                !(v.major > c.major
                    || (v.major == c.major && v.minor > c.minor && !self.minor_dirty))
            }
            Op::Tilde => self.tilde(v),
            Op::TildeOrEqual => {
                if self.dirty {
                    self.tilde(v)
                } else {
                    v.compare(c) == Ordering::Equal
                }
            }
            Op::Caret => {
                let c = &self.con;
                if v.compare(c) == Ordering::Less {
                    return false;
                }
                if c.major > 0 || self.minor_dirty {
                    return v.major == c.major;
                }
                if v.major > 0 {
                    return false;
                }
                if c.minor > 0 || self.patch_dirty {
                    return v.minor == c.minor;
                }
                if v.minor > 0 {
                    return false;
                }
                c.patch == v.patch
            }
        }
    }

    /// `constraintTilde` (the prerelease gate is already passed).
    fn tilde(&self, v: &Version) -> bool {
        let c = &self.con;
        if v.compare(c) == Ordering::Less {
            return false;
        }
        if c.major == 0 && c.minor == 0 && c.patch == 0 && !self.minor_dirty && !self.patch_dirty {
            return true;
        }
        if v.major != c.major {
            return false;
        }
        v.minor == c.minor || self.minor_dirty
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the anchored `looseSemVerRegex` captures, in [`LooseParts`] form.
    fn by_regex(v: &str) -> Option<LooseParts<'_>> {
        let m = LOOSE.captures(v)?;
        let group = |i: usize| m.get(i).map(|g| g.as_str().trim_start_matches('.'));
        Some(LooseParts {
            major: group(1)?,
            minor: group(2),
            patch: group(3),
            pre: group(5),
            metadata: group(8),
        })
    }

    proptest::proptest! {
        #[test]
        fn the_hand_written_matcher_agrees_with_the_loose_regex(v in "v?[0-9.]{0,6}([-+.][0-9A-Za-z.+-]{0,8})?[a-zA-Z0-9.+-]{0,3}") {
            proptest::prop_assert_eq!(split_loose(&v), by_regex(&v));
        }
    }

    #[test]
    fn the_hand_written_matcher_agrees_on_the_usual_tags() {
        for v in [
            "v1.2.3",
            "1.2.3",
            "v01.02.03",
            "1.2-rc.1",
            "v1.2",
            "V1.2.3",
            "1.2.3.4",
            "1.2.3-rc.01",
            "v1.2.3-rc.4.gabc1234",
            "1.2.3+build.5",
            "1.2.3-rc.1+meta",
            "1.2.3-",
            "1.2.3+",
            "1..2",
            "1.2.3-rc..1",
            "v",
            "",
            "production-latest",
            "sha-abc1234",
            "1.2.3-a-b.c+d-e.f",
            "1.2.3+a+b",
        ] {
            assert_eq!(split_loose(v), by_regex(v), "{v}");
        }
    }

    fn v(s: &str) -> Version {
        Version::parse(s).expect("version")
    }

    fn check(c: &str, version: &str) -> bool {
        Constraints::parse(c)
            .expect("constraint")
            .check(&v(version))
    }

    #[test]
    fn parsing_coerces_like_masterminds() {
        assert_eq!(v("v1.2.3").to_string(), "1.2.3");
        assert_eq!(v("1").to_string(), "1.0.0");
        assert_eq!(v("1.2").to_string(), "1.2.0");
        assert_eq!(v("007.08.09").to_string(), "7.8.9");
        assert_eq!(v("1.2.3-rc-1+build.5").pre, "rc-1");
        assert_eq!(v("1.2.3-rc-1+build.5").metadata, "build.5");
        assert!(Version::parse("1.2.3.4").is_err());
        assert!(Version::parse("vv1.2.3").is_err());
        assert!(Version::parse("1.2.3-").is_err());
        assert!(Version::parse("1.2.3-rc..1").is_err());
        assert!(Version::parse("1.2.3-rc.01").is_err());
        assert!(Version::parse("1.2.3+").is_err());
        assert!(Version::parse("18446744073709551616.0.0").is_err());
        assert_eq!(Version::parse_flux("1.2"), Err(VersionError::NotThreeParts));
    }

    #[test]
    fn precedence_follows_compare() {
        let order = [
            "1.0.0-alpha",
            "1.0.0-alpha.1",
            "1.0.0-alpha.beta",
            "1.0.0-beta",
            "1.0.0-beta.2",
            "1.0.0-beta.11",
            "1.0.0-rc.1",
            "1.0.0",
            "1.0.1",
            "1.10.0",
        ];
        for pair in order.windows(2) {
            assert_eq!(v(pair[0]).compare(&v(pair[1])), Ordering::Less, "{pair:?}");
        }
        assert_eq!(v("1.0.0+a").compare(&v("1.0.0+b")), Ordering::Equal);
        // A numeric identifier too large for u64 compares as a string, so it is above every number.
        assert_eq!(
            v("1.0.0-99999999999999999999").compare(&v("1.0.0-5")),
            Ordering::Greater
        );
    }

    #[test]
    fn constraints_match_masterminds_tables() {
        // Behaviour checked against the upstream test vectors (constraints_test.go TestConstraintsCheck and
        // TestConstraintCheck: 241 of 244 agree; the 3 others test the empty constraint, which `NewConstraint`
        // refuses before it reaches `parseConstraint`).
        let cases: &[(&str, &str, bool)] = &[
            ("*", "1.2.3", true),
            ("~0.0.0", "1.2.3", true),
            ("0.x.x", "1.2.3", false),
            ("0.0.x", "1.2.3", false),
            ("0.0.0", "1.2.3", false),
            ("*", "1.2.3-beta", false),
            ("= 2.0", "1.2.3", false),
            ("= 2.0", "2.0.0", true),
            ("4.1", "4.1.0", true),
            ("4.1.x", "4.1.3", true),
            ("1.x", "1.4.0", true),
            ("!=4.1", "4.1.0", false),
            ("!=4.1-alpha", "4.1.0", true),
            ("!=4.x", "5.1.0", true),
            ("!=4.x", "4.1.0", false),
            (">1.1", "4.1.0", true),
            (">1.1", "1.1.0", false),
            (">0", "0.0.1-alpha", false),
            (">0.0", "0.0.1-alpha", false),
            (">0-0", "0.0.1-alpha", false),
            (">0.0-0", "0.0.1-alpha", false),
            (">0.0.0-0", "0.0.1-alpha", true),
            (">=1.1", "4.1.0", true),
            ("<=1.1", "1.1.1", true),
            ("<=1.1", "1.2.0", false),
            ("<1.1", "1.1.0", false),
            ("<=1.1-a", "0.1.0-alpha", true),
            ("<=2.x", "3.0.0", false),
            ("<=2.x", "2.9.9", true),
            ("<2.x", "2.0.0", false),
            ("<2.x", "1.9.9", true),
            (">=1.1", "0.0.0", false),
            ("~1.2.3", "1.2.4", true),
            ("~1.2.3", "1.3.4", false),
            ("~1.2", "1.2.4", true),
            ("~1.2", "1.3.4", false),
            ("~1", "1.2.4", true),
            ("~1", "2.3.4", false),
            ("~1.2.3-beta.2", "1.2.3-beta.4", true),
            ("~1.2.3-beta.2", "1.2.4-beta.2", true),
            ("~1.2.3-beta.2", "1.3.4-beta.2", false),
            ("^1.2.3", "1.8.9", true),
            ("^1.2.3", "2.8.9", false),
            ("^1.2.3", "1.2.1", false),
            ("^1.1.0", "2.1.0", false),
            ("^1.2.0", "2.2.1", false),
            ("^1.2.0", "1.2.1-alpha.1", false),
            ("^1.2.0-alpha.0", "1.2.1-alpha.1", true),
            ("^1.2.0-alpha.0", "1.2.1-alpha.0", true),
            ("^1.2.0-alpha.2", "1.2.0-alpha.1", false),
            ("^1.2", "1.8.9", true),
            ("^1", "1.8.9", true),
            ("^0.2.3", "0.2.5", true),
            ("^0.2.3", "0.3.0", false),
            ("^0.2", "0.2.5", true),
            ("^0.0.3", "0.0.3", true),
            ("^0.0.3", "0.0.4", false),
            ("^0.0", "0.0.3", true),
            ("^0.0", "0.1.4", false),
            ("^0", "0.2.3", true),
            ("^0", "1.1.4", false),
            ("^0.2.3-beta.2", "0.2.3-beta.4", true),
            ("^0.2.3-beta.2", "0.2.4-beta.2", true),
            ("^0.2.3-beta.2", "0.3.4-beta.2", false),
            ("^5.0.0-alpha.0", "5.0.0", true),
            (">=1.0.0-0 <2.0.0", "1.5.0-rc.1", true),
            (">=1.0.0-0 <2.0.0", "2.0.0-rc.1", true),
            ("1.0.0 - 2.0.0", "1.5.0", true),
            ("1.0.0 - 2.0.0", "2.0.1", false),
            (">=1.0.0, <2.0.0", "1.5.0", true),
            ("<1.0.0 || >=2.0.0", "1.5.0", false),
            ("<1.0.0 || >=2.0.0", "2.5.0", true),
            (">=1.2.0-0 || >=9.0.0", "1.3.0-rc.1", true),
            (">=1.0.0 || >=2.0.0-0", "1.3.0-rc.1", false),
        ];
        for (c, version, want) in cases {
            assert_eq!(check(c, version), *want, "{c} vs {version}");
        }
    }

    #[test]
    fn bad_constraints_are_refused() {
        for c in [
            "",
            "abc",
            ">=1.2.3 ||",
            "1.2.3.4",
            "=>>1",
            ">=1x",
            "v1.2.3-beta.01",
            "BAR >= 1.2.3",
            "12.3.34~ 1.2.3",
        ] {
            assert!(Constraints::parse(c).is_err(), "{c}");
        }
        assert!(Constraints::parse("v1.2.3").is_ok());
        assert!(Constraints::parse(">= 1.2.3, < 2").is_ok());
    }

    /// Why this module exists: the `semver` crate answers differently on exactly the tags a pipeline produces.
    #[test]
    fn the_semver_crate_differs_where_it_matters() {
        let req = semver::VersionReq::parse(">=0.0.0-0").expect("req");
        let rc = semver::Version::parse("1.1.0-rc.1").expect("v");
        assert!(
            !req.matches(&rc),
            "the crate admits prereleases of 0.0.0 only"
        );
        assert!(
            check(">=0.0.0-0", "1.1.0-rc.1"),
            "Masterminds admits every prerelease"
        );
        assert!(semver::Version::parse("v1.2.3").is_err() && Version::parse_flux("v1.2.3").is_ok());
        assert!(semver::Version::parse("01.2.3").is_err() && Version::parse_flux("01.2.3").is_ok());
        assert!(
            semver::Version::parse("1.2-rc.1").is_err() && Version::parse_flux("1.2-rc.1").is_ok()
        );
    }

    fn strict_version() -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let num = prop_oneof![Just(0u64), 1u64..20, 1_000u64..2_000];
        let ident = prop_oneof![
            num.clone().prop_map(|n| n.to_string()),
            "[a-z][a-z0-9-]{0,5}",
            "[0-9]{1,3}[a-z][a-z0-9]{0,3}",
        ];
        (
            num.clone(),
            num.clone(),
            num,
            proptest::collection::vec(ident, 0..4),
        )
            .prop_map(|(a, b, c, pre)| {
                let mut v = format!("{a}.{b}.{c}");
                if !pre.is_empty() {
                    v.push('-');
                    v.push_str(&pre.join("."));
                }
                v
            })
    }

    proptest::proptest! {
        /// On strict SemVer without build metadata, Masterminds precedence is the SemVer spec's, so it agrees
        /// with the `semver` crate; and it is a total order (antisymmetric).
        #[test]
        fn precedence_agrees_with_the_spec_on_strict_versions(a in strict_version(), b in strict_version()) {
            let (x, y) = (v(&a), v(&b));
            let crate_order = semver::Version::parse(&a).expect("a").cmp_precedence(&semver::Version::parse(&b).expect("b"));
            proptest::prop_assert_eq!(x.compare(&y), crate_order, "{} vs {}", a, b);
            proptest::prop_assert_eq!(y.compare(&x), crate_order.reverse());
        }
    }
}
