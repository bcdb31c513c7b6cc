//! Owns tag templates (`v{version}-rc.{count}.g{sha}`) and the OCI tag grammar every produced tag must meet.
//!
//! ```
//! use gitops_promote::template::{TagTemplate, TemplateValues};
//! let t = TagTemplate::parse("v{version}-rc.{count}.g{sha}").unwrap();
//! let values = TemplateValues {
//!     version: semver::Version::new(1, 3, 0),
//!     sha_long: "abc1234def5678abc1234def5678abc1234def56".into(),
//!     count: 12,
//!     run: Some("7".into()),
//!     ts: "20261126093000".into(),
//! };
//! assert_eq!(t.render(&values).unwrap(), "v1.3.0-rc.12.gabc1234");
//! ```

use std::sync::LazyLock;

use regex::Regex;
use semver::Version;
use serde::Serialize;

use crate::error::InputProblem;

/// Placeholders a template may use, with what each stands for (for errors and docs).
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("version", "the version, e.g. 1.3.0"),
    ("major", "its major number"),
    ("minor", "its minor number"),
    ("patch", "its patch number"),
    ("sha", "HEAD's 7-character short SHA"),
    ("sha_long", "HEAD's full SHA"),
    (
        "count",
        "commits in BASE..HEAD (the whole history without a base)",
    ),
    ("run", "GITHUB_RUN_NUMBER"),
    ("ts", "HEAD's commit time, UTC, YYYYMMDDHHMMSS"),
];

/// The OCI distribution spec's tag grammar.
static OCI_TAG: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern
    Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$").unwrap()
});

/// Whether `tag` is a valid OCI tag.
///
/// ```
/// use gitops_promote::template::is_valid_oci_tag;
/// assert!(is_valid_oci_tag("v1.2.3-rc.4.gabc1234"));
/// assert!(!is_valid_oci_tag("v1.2.3+build")); // `+` is not allowed in a tag
/// assert!(!is_valid_oci_tag(".hidden"));
/// assert!(!is_valid_oci_tag(&"a".repeat(129)));
/// ```
pub fn is_valid_oci_tag(tag: &str) -> bool {
    OCI_TAG.is_match(tag)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
enum Segment {
    Literal(String),
    Placeholder(String),
}

/// A parsed template. Parsing checks the placeholders, so a typo fails before anything happens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct TagTemplate {
    source: String,
    segments: Vec<Segment>,
}

impl From<TagTemplate> for String {
    fn from(t: TagTemplate) -> String {
        t.source
    }
}

/// The values placeholders are replaced with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateValues {
    pub version: Version,
    pub sha_long: String,
    pub count: usize,
    /// `GITHUB_RUN_NUMBER`, absent outside Actions.
    pub run: Option<String>,
    pub ts: String,
}

impl TagTemplate {
    pub fn parse(source: &str) -> Result<Self, InputProblem> {
        let known = || {
            PLACEHOLDERS
                .iter()
                .map(|(p, _)| format!("{{{p}}}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut segments = Vec::new();
        let mut rest = source;
        while let Some(open) = rest.find('{') {
            if open > 0 {
                segments.push(Segment::Literal(rest[..open].to_string()));
            }
            let after = &rest[open + 1..];
            let close = after.find('}').ok_or_else(|| {
                InputProblem::new(
                    "template",
                    format!("`{source}` has a `{{` without a closing `}}`"),
                )
                .help(format!("placeholders are {}", known()))
            })?;
            let name = &after[..close];
            if !PLACEHOLDERS.iter().any(|(p, _)| *p == name) {
                return Err(InputProblem::new(
                    "template",
                    format!("`{source}` uses the unknown placeholder `{{{name}}}`"),
                )
                .help(format!("placeholders are {}", known())));
            }
            segments.push(Segment::Placeholder(name.to_string()));
            rest = &after[close + 1..];
        }
        if rest.contains('}') {
            return Err(InputProblem::new(
                "template",
                format!("`{source}` has a `}}` without an opening `{{`"),
            ));
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest.to_string()));
        }
        Ok(Self {
            source: source.to_string(),
            segments,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// Whether the template uses `{name}`.
    pub fn uses(&self, name: &str) -> bool {
        self.segments
            .iter()
            .any(|s| matches!(s, Segment::Placeholder(p) if p == name))
    }

    /// Renders the tag and checks it against the OCI tag grammar.
    pub fn render(&self, values: &TemplateValues) -> Result<String, InputProblem> {
        let mut out = String::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(s) => out.push_str(s),
                Segment::Placeholder(p) => {
                    match p.as_str() {
                        "version" => out.push_str(&values.version.to_string()),
                        "major" => out.push_str(&values.version.major.to_string()),
                        "minor" => out.push_str(&values.version.minor.to_string()),
                        "patch" => out.push_str(&values.version.patch.to_string()),
                        "sha" => out.push_str(values.sha_long.get(..7).unwrap_or(&values.sha_long)),
                        "sha_long" => out.push_str(&values.sha_long),
                        "count" => out.push_str(&values.count.to_string()),
                        "ts" => out.push_str(&values.ts),
                        "run" => match &values.run {
                            Some(run) => out.push_str(run),
                            None => {
                                return Err(InputProblem::new(
                                "template",
                                format!("`{}` uses {{run}}, but GITHUB_RUN_NUMBER is not set", self.source),
                            )
                            .help("outside GitHub Actions, export GITHUB_RUN_NUMBER or use {count}"));
                            }
                        },
                        // `parse` admits only the names above.
                        _ => {}
                    }
                }
            }
        }
        if !is_valid_oci_tag(&out) {
            return Err(InputProblem::new(
                "template",
                format!(
                    "`{}` produces `{out}`, which is not a valid OCI tag (`[A-Za-z0-9_][A-Za-z0-9._-]{{0,127}}`)",
                    self.source
                ),
            )
            .help("use only letters, digits, `_`, `.` and `-`, at most 128 characters, not starting with `.` or `-`; a version with build metadata (`+`) cannot be a tag"));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values() -> TemplateValues {
        TemplateValues {
            version: Version::parse("1.2.3").expect("v"),
            sha_long: "0123456789abcdef0123456789abcdef01234567".into(),
            count: 4,
            run: Some("88".into()),
            ts: "20260102030405".into(),
        }
    }

    #[test]
    fn seed_templates_stay_expressible() {
        let cases = [
            ("dev-{sha}-{ts}", "dev-0123456-20260102030405"),
            ("v{version}-rc.{sha}", "v1.2.3-rc.0123456"),
            ("v{version}-rc.{run}", "v1.2.3-rc.88"),
            ("{major}.{minor}", "1.2"),
            ("v{version}", "v1.2.3"),
            (
                "sha-{sha_long}",
                "sha-0123456789abcdef0123456789abcdef01234567",
            ),
        ];
        for (t, expected) in cases {
            let rendered = TagTemplate::parse(t).expect(t).render(&values()).expect(t);
            assert_eq!(rendered, expected, "{t}");
        }
    }

    #[test]
    fn unknown_placeholder_is_an_input_error() {
        let p = TagTemplate::parse("v{verison}").expect_err("typo");
        assert!(
            p.message.contains("unknown placeholder `{verison}`"),
            "{}",
            p.message
        );
        assert!(p.help.unwrap_or_default().contains("{version}"));
        assert!(TagTemplate::parse("v{version").is_err());
        assert!(TagTemplate::parse("v}").is_err());
    }

    #[test]
    fn invalid_tag_is_an_input_error() {
        let p = TagTemplate::parse("release/{version}")
            .expect("parses")
            .render(&values())
            .expect_err("slash");
        assert!(p.message.contains("not a valid OCI tag"));
    }

    #[test]
    fn run_placeholder_without_a_run_number_is_an_error() {
        let mut v = values();
        v.run = None;
        assert!(
            TagTemplate::parse("r{run}")
                .expect("ok")
                .render(&v)
                .is_err()
        );
    }
}
