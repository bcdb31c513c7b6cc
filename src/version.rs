//! Owns the version rules: which git tag is the base, how Conventional Commits bump it, and why.
//!
//! Pure functions over literal facts (tags and commit messages); `git.rs` gathers those facts.
//!
//! The rules, in order:
//! 1. the `version` input wins;
//! 2. else the base is the highest *stable* `{prefix}X.Y.Z` tag by semver precedence (prerelease tags such as
//!    `v1.3.0-rc.1` are never a base, and the tag need not be reachable from HEAD: on a develop/main flow the
//!    release tag sits on main's merge commit);
//! 3. the bump is the largest one among the commits in `BASE..HEAD`: a breaking change (`!` or a
//!    `BREAKING CHANGE:`/`BREAKING-CHANGE:` footer) → major, but minor while the major is 0; `feat` → minor;
//!    anything else, including a commit that is not a Conventional Commit and a merge commit → patch;
//! 4. no commits since the base → the base version itself;
//! 5. no stable tag at all → `initial-version`.
//!
//! ```
//! use gitops_promote::version::{decide, BaseTag, CommitInfo, Rule};
//! let base = BaseTag::new("v0.4.1", semver::Version::new(0, 4, 1), "c0ffee");
//! let commits = [CommitInfo::new("feat(api)!: drop v1 endpoints")];
//! let d = decide(None, Some(&base), &commits, &semver::Version::new(0, 1, 0));
//! assert_eq!(d.version.to_string(), "0.5.0"); // breaking on 0.x bumps minor
//! assert_eq!(d.rule, Rule::Bumped);
//! ```

use std::collections::BTreeMap;

use semver::Version;
use serde::Serialize;

use crate::error::InputProblem;

/// How much a commit moves the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bump {
    Patch,
    Minor,
    Major,
}

/// A commit as the rules see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CommitInfo {
    pub message: String,
    pub is_merge: bool,
}

impl CommitInfo {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            is_merge: false,
        }
    }

    pub fn merge(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            is_merge: true,
        }
    }
}

/// The stable tag the version is derived from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BaseTag {
    pub tag: String,
    pub version: Version,
    /// The commit the tag points to (peeled).
    pub commit: String,
}

impl BaseTag {
    pub fn new(tag: impl Into<String>, version: Version, commit: impl Into<String>) -> Self {
        Self {
            tag: tag.into(),
            version,
            commit: commit.into(),
        }
    }
}

/// Which rule decided the version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// The `version` input.
    Input,
    /// No stable tag: `initial-version`.
    Initial,
    /// No commits since the base: the base version itself.
    NoCommits,
    /// The base bumped by the largest bump among the commits.
    Bumped,
}

/// The version and everything that explains it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Decision {
    pub version: Version,
    pub rule: Rule,
    pub base: Option<BaseTag>,
    pub bump: Option<Bump>,
    /// Commits in `BASE..HEAD` by Conventional Commit type (`feat`, `fix`, …, `breaking`,
    /// `non-conventional`, `merge`).
    pub commits_by_type: BTreeMap<String, usize>,
    pub commit_count: usize,
}

impl Decision {
    /// One sentence for the summary: why this version.
    pub fn explain(&self, initial: &Version) -> String {
        match self.rule {
            Rule::Input => format!("`{}` was given as the `version` input", self.version),
            Rule::Initial => format!(
                "no stable release tag exists yet, so the version is `initial-version` ({initial})"
            ),
            Rule::NoCommits => match &self.base {
                Some(base) => format!(
                    "no commits since `{}`, so the version is the base version itself",
                    base.tag
                ),
                None => "no commits".to_string(),
            },
            Rule::Bumped => {
                let base = self.base.as_ref().map(|b| b.tag.as_str()).unwrap_or("?");
                let why = match self.bump {
                    Some(Bump::Major) => "a breaking change bumps major",
                    Some(Bump::Minor) if self.commits_by_type.contains_key("breaking") => {
                        "a breaking change bumps minor while the major version is 0"
                    }
                    Some(Bump::Minor) => "a `feat` commit bumps minor",
                    _ => "no `feat` or breaking commit, so patch",
                };
                format!("{} commit(s) since `{base}`; {why}", self.commit_count)
            }
        }
    }
}

/// Classifies one commit: its type label for the summary and its bump.
///
/// ```
/// use gitops_promote::version::{classify, Bump, CommitInfo};
/// assert_eq!(classify(&CommitInfo::new("fix: typo")), ("fix".to_string(), Bump::Patch));
/// assert_eq!(classify(&CommitInfo::new("feat: x\n\nBREAKING-CHANGE: y")).1, Bump::Major);
/// assert_eq!(classify(&CommitInfo::new("Update README")), ("non-conventional".to_string(), Bump::Patch));
/// ```
pub fn classify(commit: &CommitInfo) -> (String, Bump) {
    let message = commit.message.trim();
    let parsed = git_conventional::Commit::parse(message).or_else(|_| {
        // A conventional header with a body the strict parser rejects is still a conventional commit.
        let header = message.lines().next().unwrap_or_default();
        git_conventional::Commit::parse(header)
    });
    match parsed {
        Ok(c) if c.breaking() => ("breaking".to_string(), Bump::Major),
        Ok(c) => {
            let ty = c.type_().as_str().to_ascii_lowercase();
            let bump = if ty == "feat" {
                Bump::Minor
            } else {
                Bump::Patch
            };
            (ty, bump)
        }
        Err(_) if commit.is_merge => ("merge".to_string(), Bump::Patch),
        Err(_) => ("non-conventional".to_string(), Bump::Patch),
    }
}

/// Applies a bump; a major bump on 0.x is a minor bump.
///
/// ```
/// use gitops_promote::version::{bump, Bump};
/// use semver::Version;
/// assert_eq!(bump(&Version::new(1, 2, 3), Bump::Major), Version::new(2, 0, 0));
/// assert_eq!(bump(&Version::new(0, 2, 3), Bump::Major), Version::new(0, 3, 0));
/// assert_eq!(bump(&Version::new(0, 2, 3), Bump::Patch), Version::new(0, 2, 4));
/// ```
pub fn bump(base: &Version, bump: Bump) -> Version {
    match bump {
        Bump::Major if base.major == 0 => Version::new(0, base.minor + 1, 0),
        Bump::Major => Version::new(base.major + 1, 0, 0),
        Bump::Minor => Version::new(base.major, base.minor + 1, 0),
        Bump::Patch => Version::new(base.major, base.minor, base.patch + 1),
    }
}

/// Decides the version from the facts. `commits` are those in `BASE..HEAD` (the whole history without a base).
pub fn decide(
    given: Option<&Version>,
    base: Option<&BaseTag>,
    commits: &[CommitInfo],
    initial: &Version,
) -> Decision {
    let mut commits_by_type = BTreeMap::new();
    let mut largest = None;
    for commit in commits {
        let (ty, b) = classify(commit);
        *commits_by_type.entry(ty).or_insert(0) += 1;
        largest = largest.max(Some(b));
    }
    let (version, rule, bump_used) = match (given, base) {
        (Some(v), _) => (v.clone(), Rule::Input, None),
        (None, None) => (initial.clone(), Rule::Initial, None),
        (None, Some(base)) => match largest {
            None => (base.version.clone(), Rule::NoCommits, None),
            Some(b) => (bump(&base.version, b), Rule::Bumped, Some(b)),
        },
    };
    Decision {
        version,
        rule,
        base: base.cloned(),
        bump: bump_used,
        commits_by_type,
        commit_count: commits.len(),
    }
}

/// The stable version a tag name stands for, if it is exactly `{prefix}X.Y.Z`.
///
/// ```
/// use gitops_promote::version::stable_version;
/// assert_eq!(stable_version("v1.10.0", "v").map(|v| v.minor), Some(10));
/// assert_eq!(stable_version("v1.10.0-rc.1", "v"), None);
/// assert_eq!(stable_version("backend/v2.0.0", "backend/v").map(|v| v.major), Some(2));
/// assert_eq!(stable_version("v01.2.3", "v"), None);
/// ```
pub fn stable_version(tag: &str, prefix: &str) -> Option<Version> {
    let v = Version::parse(tag.strip_prefix(prefix)?).ok()?;
    (v.pre.is_empty() && v.build.is_empty()).then_some(v)
}

/// The highest stable tag among `(name, commit)` pairs.
pub fn highest_stable<'a>(
    tags: impl IntoIterator<Item = (&'a str, &'a str)>,
    prefix: &str,
) -> Option<BaseTag> {
    tags.into_iter()
        .filter_map(|(name, commit)| {
            stable_version(name, prefix).map(|v| BaseTag::new(name, v, commit))
        })
        .max_by(|a, b| a.version.cmp(&b.version))
}

/// Parses the `version` / `initial-version` input: semver, a leading `v` accepted.
pub fn parse_version_input(value: &str) -> Result<Version, InputProblem> {
    let trimmed = value.strip_prefix('v').unwrap_or(value);
    Version::parse(trimmed).map_err(|e| {
        InputProblem::new("version", format!("`{value}` is not a semver version: {e}"))
            .help("write MAJOR.MINOR.PATCH, e.g. `1.4.0` or `1.4.0-rc.1`")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Version {
        Version::parse(s).expect("version")
    }

    fn c(msgs: &[&str]) -> Vec<CommitInfo> {
        msgs.iter().map(|m| CommitInfo::new(*m)).collect()
    }

    /// (case, base, commits, expected version, expected rule)
    type Case<'a> = (&'a str, Option<&'a str>, &'a [&'a str], &'a str, Rule);

    #[test]
    fn table() {
        let initial = v("0.1.0");
        let cases: &[Case] = &[
            (
                "no tags at all",
                None,
                &["feat: a", "fix: b"],
                "0.1.0",
                Rule::Initial,
            ),
            (
                "no commits since base",
                Some("1.2.3"),
                &[],
                "1.2.3",
                Rule::NoCommits,
            ),
            (
                "fix is patch",
                Some("1.2.3"),
                &["fix: a"],
                "1.2.4",
                Rule::Bumped,
            ),
            (
                "perf is patch",
                Some("1.2.3"),
                &["perf: a"],
                "1.2.4",
                Rule::Bumped,
            ),
            (
                "chore is patch",
                Some("1.2.3"),
                &["chore(deps): a"],
                "1.2.4",
                Rule::Bumped,
            ),
            (
                "feat is minor",
                Some("1.2.3"),
                &["fix: a", "feat: b"],
                "1.3.0",
                Rule::Bumped,
            ),
            (
                "bang is major",
                Some("1.2.3"),
                &["feat!: a"],
                "2.0.0",
                Rule::Bumped,
            ),
            (
                "scoped bang is major",
                Some("1.2.3"),
                &["refactor(api)!: a"],
                "2.0.0",
                Rule::Bumped,
            ),
            (
                "breaking footer is major",
                Some("1.2.3"),
                &["fix: a\n\nBREAKING CHANGE: the config moved"],
                "2.0.0",
                Rule::Bumped,
            ),
            (
                "hyphenated breaking footer is major",
                Some("1.2.3"),
                &["fix: a\n\nBREAKING-CHANGE: the config moved"],
                "2.0.0",
                Rule::Bumped,
            ),
            (
                "breaking on 0.x is minor",
                Some("0.4.2"),
                &["feat!: a"],
                "0.5.0",
                Rule::Bumped,
            ),
            (
                "feat on 0.x is minor",
                Some("0.4.2"),
                &["feat: a"],
                "0.5.0",
                Rule::Bumped,
            ),
            (
                "non-conventional is patch",
                Some("1.0.0"),
                &["Update README"],
                "1.0.1",
                Rule::Bumped,
            ),
            (
                "a 'feat' without colon is not a feat",
                Some("1.0.0"),
                &["feat add x"],
                "1.0.1",
                Rule::Bumped,
            ),
            (
                "upper-case type counts",
                Some("1.0.0"),
                &["FEAT: shout"],
                "1.1.0",
                Rule::Bumped,
            ),
        ];
        for (name, base, msgs, expected, rule) in cases {
            let base = base.map(|b| BaseTag::new(format!("v{b}"), v(b), "c0ffee"));
            let d = decide(None, base.as_ref(), &c(msgs), &initial);
            assert_eq!(d.version, v(expected), "{name}");
            assert_eq!(d.rule, *rule, "{name}");
        }
    }

    #[test]
    fn merge_commits_count_as_patch_and_do_not_hide_a_feat() {
        let base = BaseTag::new("v1.0.0", v("1.0.0"), "c0ffee");
        let commits = vec![
            CommitInfo::merge("Merge pull request #7 from org/feature"),
            CommitInfo::new("feat: new endpoint"),
        ];
        let d = decide(None, Some(&base), &commits, &v("0.1.0"));
        assert_eq!(d.version, v("1.1.0"));
        assert_eq!(d.commits_by_type["merge"], 1);
        assert_eq!(d.commits_by_type["feat"], 1);
    }

    #[test]
    fn version_input_wins() {
        let base = BaseTag::new("v1.0.0", v("1.0.0"), "c0ffee");
        let d = decide(Some(&v("3.0.0")), Some(&base), &c(&["fix: a"]), &v("0.1.0"));
        assert_eq!(d.version, v("3.0.0"));
        assert_eq!(d.rule, Rule::Input);
    }

    #[test]
    fn highest_stable_ignores_prereleases_and_other_prefixes() {
        let tags = [
            ("v1.9.3", "a"),
            ("v1.10.0", "b"),
            ("v2.0.0-rc.1", "c"),
            ("release-9.0.0", "d"),
            ("latest", "e"),
        ];
        let base = highest_stable(tags.iter().map(|(n, c)| (*n, *c)), "v").expect("base");
        assert_eq!(base.tag, "v1.10.0");
        let other = highest_stable(tags.iter().map(|(n, c)| (*n, *c)), "release-").expect("base");
        assert_eq!(other.tag, "release-9.0.0");
    }

    #[test]
    fn version_input_accepts_leading_v_and_rejects_garbage() {
        assert_eq!(parse_version_input("v1.2.3").expect("ok"), v("1.2.3"));
        let p = parse_version_input("1.2").expect_err("not semver");
        assert!(p.message.contains("`1.2` is not a semver version"));
    }
}
