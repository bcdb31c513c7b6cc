//! Owns the lint rules for the Flux objects the pipeline depends on: each rule predicts a concrete way the
//! objects would deploy the wrong tag (or nothing), says why with an example, and says how to fix it.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::discover::{ImagePolicy, Model, Provider, ResourceSet, str_at};
use super::filter::PolicyChoice;
use super::semver::Constraints;
use super::{Environment, Finding, Prediction, Severity, Source, predict};

/// Pairs of tags where byte-wise order and version order disagree: the first sorts above the second as a string,
/// the second is the higher version.
const VERSION_PAIRS: &[(&str, &str)] = &[
    ("v1.9.3", "v1.10.0"),
    ("1.9.3", "1.10.0"),
    ("v1.9.0-rc.1.gabc1234", "v1.10.0-rc.1.gabc1234"),
    ("v1.2.0-rc.9.gabc1234", "v1.2.0-rc.10.gabc1234"),
    ("v1.9.0-rc.abc1234", "v1.10.0-rc.abc1234"),
    ("v1.9.0-rc.a1b2c3d", "v1.10.0-rc.a1b2c3d"),
    ("v1.9.0-rc.9", "v1.10.0-rc.10"),
];
const STABLE_SAMPLES: &[&str] = &["v1.2.3", "1.2.3", "v1.10.0"];
const RC_SAMPLES: &[&str] = &[
    "v1.2.3-rc.4.gabc1234",
    "v1.2.3-rc.4",
    "v1.2.3-rc.a1b2c3d",
    "1.2.3-rc.4",
    "v1.2.3-rc4",
];
/// An RC tag told apart from its siblings only by a commit SHA.
const SHA_RC: (&str, &str) = ("v1.2.3-rc.f00d123", "v1.2.3-rc.0a1b2c3");
/// RC tags with a counter before the SHA (a bare `rc.4` is no proof: `4` is hex too).
const COUNTED_RC: &[&str] = &[
    "v1.2.3-rc.4.gabc1234",
    "v1.2.3-rc.4.abc1234",
    "v1.2.3-rc.4-abc1234",
];

const PRUNE_HELP: &str = "annotate the generated objects with `fluxcd.controlplane.io/prune: disabled` so an empty selection keeps what is deployed";

static TEMPLATE: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern
    Regex::new(r"<<-?(.*?)-?>>").unwrap()
});
static INPUT_REF: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern
    Regex::new(r"\binputs\.([A-Za-z0-9_]+)(?:\.([A-Za-z0-9_]+))?").unwrap()
});

/// Go's `regexp.QuoteMeta`: escapes `\.+*?()|[]{}^$` only (not `-`, which would be an invalid YAML escape).
pub fn quote_meta(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let escape = "\\.+*?()|[]{}^$".contains(c);
            escape.then_some('\\').into_iter().chain(std::iter::once(c))
        })
        .collect()
}

/// A pattern that names one fixed tag: `(literal, anchored at both ends)`.
pub fn fixed_tag(pattern: &str) -> Option<(String, bool)> {
    let start = pattern.starts_with('^');
    let body = pattern.strip_prefix('^').unwrap_or(pattern);
    let end = body.ends_with('$') && !body.ends_with("\\$");
    let body = if end { &body[..body.len() - 1] } else { body };
    let mut literal = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some(e @ ('.' | '-' | '_' | '+' | '/')) => literal.push(e),
                _ => return None,
            },
            '.' | '[' | ']' | '(' | ')' | '{' | '}' | '*' | '+' | '?' | '|' | '^' | '$' => {
                return None;
            }
            c => literal.push(c),
        }
    }
    (!literal.is_empty()).then_some((literal, start && end))
}

/// A longer tag an unanchored fixed pattern also matches, and which sorts above the literal: a suffix when the
/// end is open, else a prefix greater than any tag character.
fn lookalike(pattern: &str, literal: &str) -> String {
    if pattern.ends_with('$') {
        format!("z-{literal}")
    } else {
        format!("{literal}-old")
    }
}

/// What the filter was meant to include: `includeTag`, or an ignored `pattern`.
fn intended_include(p: &Provider) -> Option<(String, &'static str)> {
    if let Some(i) = p.filter.include_tag.clone().filter(|s| !s.is_empty()) {
        return Some((i, "includeTag"));
    }
    str_at(&p.doc.value, &["spec", "filter", "pattern"]).map(|s| (s, "pattern"))
}

fn regex_admits(pattern: Option<&Regex>, tag: &str) -> bool {
    pattern.is_none_or(|r| r.is_match(tag))
}

struct Shape<'a> {
    include: Option<&'a Regex>,
    exclude: Option<&'a Regex>,
}

impl Shape<'_> {
    fn admits(&self, tag: &str) -> bool {
        regex_admits(self.include, tag) && !self.exclude.is_some_and(|r| r.is_match(tag))
    }

    fn for_rc(&self) -> bool {
        self.include.is_some()
            && RC_SAMPLES.iter().any(|t| self.admits(t))
            && !STABLE_SAMPLES.iter().any(|t| self.admits(t))
    }

    fn admits_rc(&self) -> bool {
        RC_SAMPLES.iter().any(|t| self.admits(t))
    }

    /// Whether this filter is meant to pick release candidates: it admits only RC-shaped tags, or it serves
    /// develop and admits them. A semver constraint without a prerelease would then select nothing.
    fn wants_prereleases(&self, env: Option<Environment>) -> bool {
        self.for_rc() || (env == Some(Environment::Develop) && self.admits_rc())
    }

    fn version_pair(&self) -> Option<(&'static str, &'static str)> {
        VERSION_PAIRS
            .iter()
            .copied()
            .find(|(a, b)| self.admits(a) && self.admits(b))
    }

    fn sha_ordered(&self) -> bool {
        self.admits(SHA_RC.0) && self.admits(SHA_RC.1) && !COUNTED_RC.iter().any(|t| self.admits(t))
    }
}

fn finding(
    severity: Severity,
    rule: &'static str,
    object: String,
    file: &str,
    line: usize,
    message: String,
    help: &str,
) -> Finding {
    Finding {
        severity,
        rule,
        file: file.to_string(),
        line,
        object,
        message,
        help: (!help.is_empty()).then(|| help.to_string()),
    }
}

/// Lints every object of the model. `current_tags` gives the tags an image has now (registry or git), when known.
pub fn lint<T: AsRef<[String]>>(
    model: &Model,
    current_tags: &dyn Fn(&str) -> Option<T>,
) -> Vec<Finding> {
    lint_with(model, current_tags, &predict(model, current_tags))
}

/// [`lint`] with the predictions already made from the same tags (a run that reports both filters each
/// image's tags once).
pub fn lint_with<T: AsRef<[String]>>(
    model: &Model,
    current_tags: &dyn Fn(&str) -> Option<T>,
    predictions: &[Prediction],
) -> Vec<Finding> {
    let mut selections = vec![None; model.providers.len()];
    for p in predictions {
        if let (Source::Provider(i), Some(Ok(selected))) = (p.source, &p.selected)
            && let Some(slot) = selections.get_mut(i)
        {
            *slot = Some(selected.is_empty());
        }
    }
    let mut regexes = Regexes::default();
    let mut out = Vec::new();
    for (file, line, e) in &model.parse_errors {
        out.push(finding(
            Severity::Warning,
            "yaml-parse",
            "YAML".into(),
            file,
            *line,
            format!("this document is not valid YAML, so it was not checked: {e}"),
            "",
        ));
    }
    for p in &model.providers {
        let tag_count = current_tags(&p.image).map(|t| t.as_ref().len());
        let selects_nothing = selections.get(p.position).copied().flatten();
        lint_provider(
            model,
            p,
            tag_count.zip(selects_nothing),
            &mut regexes,
            &mut out,
        );
    }
    for rs in &model.resource_sets {
        lint_templates(model, rs, &mut out);
    }
    for policy in &model.policies {
        lint_policy(model, policy, &mut regexes, &mut out);
    }
    out.sort_by(|a, b| (&a.file, a.line, a.rule).cmp(&(&b.file, b.line, b.rule)));
    out.dedup();
    out
}

/// Patterns compiled once per run: the 300 applications of a monorepo share a handful.
#[derive(Default)]
struct Regexes(HashMap<String, Option<Regex>>);

impl Regexes {
    fn get(&mut self, pattern: &str) -> Option<Regex> {
        self.0
            .entry(pattern.to_string())
            .or_insert_with(|| Regex::new(pattern).ok())
            .clone()
    }
}

/// `tags`: how many tags the image has now and whether the filter selects none of them, when they are known.
fn lint_provider(
    model: &Model,
    p: &Provider,
    tags: Option<(usize, bool)>,
    regexes: &mut Regexes,
    out: &mut Vec<Finding>,
) {
    let object = format!("ResourceSetInputProvider/{}", p.name);
    let file = p.doc.file.as_str();
    let filter_line = p.doc.line_of(&["spec", "filter"]);
    for key in &p.unknown_filter_keys {
        let hint = if key == "pattern" {
            " (`pattern` belongs to an ImagePolicy's `filterTags`; a provider filter calls it `includeTag`)"
        } else {
            ""
        };
        out.push(finding(
            Severity::Error,
            "unknown-filter-field",
            object.clone(),
            file,
            p.doc.line_of(&["spec", "filter", key]),
            format!(
                "`filter.{key}` is not a field of a ResourceSetInputProvider filter{hint}: it is not in the CRD schema, so the API server prunes it and this provider orders every tag of the image"
            ),
            "use `includeTag` (a regex), `excludeTag`, `semver` and `limit`",
        ));
    }
    let compiled = model.filter_of(p);
    let compiled = match &*compiled {
        Ok(c) => c,
        Err(e) => {
            out.push(finding(
                Severity::Error,
                "invalid-filter",
                object,
                file,
                filter_line,
                format!("Flux refuses this filter: {e}"),
                "",
            ));
            return;
        }
    };
    let intended = intended_include(p);
    let include_line = match &intended {
        Some((_, field)) => p.doc.line_of(&["spec", "filter", field]),
        None => filter_line,
    };
    let include = match &intended {
        None => None,
        // The filter's own `includeTag`, compiled already.
        Some((_, "includeTag")) => compiled.include.clone(),
        Some((pattern, _)) => match regexes.get(pattern) {
            Some(r) => Some(r),
            None => return,
        },
    };
    let shape = Shape {
        include: include.as_ref(),
        exclude: compiled.exclude.as_ref(),
    };
    let fixed = intended.as_ref().and_then(|(i, _)| fixed_tag(i));

    if let (Some((literal, false)), Some((pattern, field))) = (&fixed, &intended) {
        out.push(finding(
            Severity::Error,
            "unanchored-fixed-tag",
            object.clone(),
            file,
            include_line,
            format!(
                "`{field}: {pattern}` matches every tag that contains `{literal}`: `{}` would match too, and it sorts above `{literal}`, so it would be deployed",
                lookalike(pattern, literal)
            ),
            &format!("anchor it: `includeTag: '^{}$'`", quote_meta(literal)),
        ));
    }
    let env = model.provider_environment(p);
    if fixed.is_none() {
        match &compiled.semver {
            None => {
                if let Some((a, b)) = shape.version_pair() {
                    out.push(finding(
                        Severity::Error,
                        "version-without-semver",
                        object.clone(),
                        file,
                        include_line,
                        format!(
                            "this filter has no `semver`, so Flux orders tags as strings, descending: `{a}` sorts above `{b}` and would be deployed instead of the newer version"
                        ),
                        if shape.for_rc() || env == Some(Environment::Develop) {
                            "add `semver: \">=0.0.0-0\"` (admits release candidates) and tag builds `v{version}-rc.{count}.g{sha}`"
                        } else {
                            "add `semver: \">=0.0.0\"` so the highest version wins"
                        },
                    ));
                }
            }
            Some(c) => {
                if !c.admits_prereleases() && shape.wants_prereleases(env) {
                    out.push(finding(
                        Severity::Error,
                        "rc-without-prerelease",
                        object.clone(),
                        file,
                        p.doc.line_of(&["spec", "filter", "semver"]),
                        format!(
                            "`semver: {c}` names no prerelease, so Flux admits no prerelease tag; this filter is for release candidates (`v1.2.3-rc.4.gabc1234`) and would select nothing"
                        ),
                        "use a constraint with a prerelease part, e.g. `semver: \">=0.0.0-0\"`",
                    ));
                }
            }
        }
        if shape.sha_ordered() {
            out.push(finding(
                Severity::Error,
                "rc-ordered-by-sha",
                object.clone(),
                file,
                include_line,
                format!(
                    "release candidates of one version differ only by their commit SHA here, and SHAs are random: `{}` sorts above `{}` whichever was built last (an all-digit SHA with a leading zero is not even a version)",
                    SHA_RC.0, SHA_RC.1
                ),
                "put a counter before the SHA: tag template `v{version}-rc.{count}.g{sha}` with `includeTag: '^v\\d+\\.\\d+\\.\\d+-rc\\.\\d+\\.g[0-9a-f]+$'` and `semver: \">=0.0.0-0\"`",
            ));
        }
    }

    let consumers = model.consumers(p);
    if fixed.is_some() {
        for rs in &consumers {
            let text = rs.doc.text();
            let reads_digest = INPUT_REF.captures_iter(&text).any(|c| {
                c.get(1).map(|m| m.as_str()) == Some("digest")
                    || c.get(2).map(|m| m.as_str()) == Some("digest")
            });
            if !reads_digest {
                let literal = fixed.as_ref().map(|f| f.0.clone()).unwrap_or_default();
                out.push(finding(
                    Severity::Error,
                    "moving-tag-without-digest",
                    format!("ResourceSet/{}", rs.name),
                    &rs.doc.file,
                    rs.doc.line_containing("newTag").max(rs.doc.line_containing("inputs.")),
                    format!(
                        "`{literal}` is a moving tag read from ResourceSetInputProvider/{}: when it moves to a new image the tag text stays the same, so the generated Kustomization does not change and the new image never rolls out",
                        p.name
                    ),
                    "template the digest next to the tag: `digest: \"<< inputs.digest >>\"` in the Kustomization's `images:`",
                ));
            }
        }
    }

    if let Some((tag_count, selects_nothing)) = tags {
        let prune_disabled = !consumers.is_empty() && consumers.iter().all(|rs| rs.prune_disabled);
        if selects_nothing && !prune_disabled {
            out.push(finding(
                Severity::Warning,
                "selects-nothing",
                object,
                file,
                filter_line,
                format!(
                    "this filter selects none of the {} current tags of `{}`: Flux would garbage-collect everything the ResourceSet generated from it",
                    tag_count,
                    p.image
                ),
                PRUNE_HELP,
            ));
        }
    }
}

/// Normalises a provider name as `NormalizeKeyForTemplate` does.
pub fn normalize_key(name: &str) -> String {
    let mapped: String = name
        .chars()
        .filter_map(|c| {
            let c = c.to_lowercase().next().unwrap_or(c);
            // Go `unicode.IsPunct` on ASCII: symbols such as `+`, `$`, `<` are not punctuation and are dropped.
            if c.is_whitespace() || "!\"#%&'()*,-./:;?@[\\]_{}".contains(c) {
                Some('_')
            } else if c.is_ascii_lowercase() || c.is_ascii_digit() {
                Some(c)
            } else {
                None
            }
        })
        .collect();
    mapped
        .split('_')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join("_")
}

fn lint_templates(model: &Model, rs: &ResourceSet, out: &mut Vec<Finding>) {
    let providers: Vec<&Provider> = model.consumed_by(rs);
    let mut scoped: Vec<String> = rs.inputs_from.iter().map(|n| normalize_key(n)).collect();
    scoped.extend(providers.iter().map(|p| normalize_key(&p.name)));
    let mut flat: Vec<String> = ["id", "tag", "digest"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for p in &providers {
        flat.extend(p.default_keys.iter().cloned());
    }
    let text = rs.doc.text();
    let permute = rs.strategy == "Permute";
    for t in TEMPLATE.captures_iter(&text) {
        let Some(expr) = t.get(1) else { continue };
        for r in INPUT_REF.captures_iter(expr.as_str()) {
            let (Some(first), whole) = (r.get(1), r.get(0).map(|m| m.as_str()).unwrap_or(""))
            else {
                continue;
            };
            let first = first.as_str();
            let second = r.get(2).map(|m| m.as_str());
            let line = rs.doc.line_containing(whole);
            if !permute && second.is_some() && scoped.iter().any(|s| s == first) {
                out.push(finding(
                    Severity::Error,
                    "template-key-permute-only",
                    format!("ResourceSet/{}", rs.name),
                    &rs.doc.file,
                    line,
                    format!(
                        "`{whole}` exists only with `inputStrategy: {{name: Permute}}`; this ResourceSet uses Flatten (the default), where the key is `inputs.{}`, so the template fails with `map has no entry for key \"{first}\"` and nothing is deployed",
                        second.unwrap_or("tag")
                    ),
                    &format!(
                        "write `<< inputs.{} >>`, or set `inputStrategy: {{name: Permute}}`",
                        second.unwrap_or("tag")
                    ),
                ));
            } else if permute
                && flat.iter().any(|f| f == first)
                && !scoped.iter().any(|s| s == first)
            {
                let scope = scoped
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "<provider>".into());
                out.push(finding(
                    Severity::Error,
                    "template-key-flatten-only",
                    format!("ResourceSet/{}", rs.name),
                    &rs.doc.file,
                    line,
                    format!(
                        "`{whole}` exists only with the Flatten strategy; with Permute every provider's inputs are nested under its name, e.g. `inputs.{scope}.{first}`"
                    ),
                    &format!("write `<< inputs.{scope}.{first} >>`, or drop `inputStrategy`"),
                ));
            }
        }
    }
}

fn lint_policy(model: &Model, policy: &ImagePolicy, regexes: &mut Regexes, out: &mut Vec<Finding>) {
    let object = format!("ImagePolicy/{}", policy.name);
    let file = policy.doc.file.as_str();
    let spec = match &policy.spec {
        Ok(s) => s,
        Err(e) => {
            out.push(finding(
                Severity::Error,
                "invalid-policy",
                object,
                file,
                policy.doc.line_of(&["spec", "policy"]),
                format!("Flux refuses this policy: {e}"),
                "",
            ));
            return;
        }
    };
    let pattern_line = policy.doc.line_of(&["spec", "filterTags", "pattern"]);
    let include = match spec.pattern.as_deref() {
        None => None,
        Some(pattern) => match regexes.get(pattern) {
            Some(r) => Some(r),
            None => {
                out.push(finding(
                    Severity::Error,
                    "invalid-policy",
                    object,
                    file,
                    pattern_line,
                    "`filterTags.pattern` is not a valid regex".to_string(),
                    "",
                ));
                return;
            }
        },
    };
    let shape = Shape {
        include: include.as_ref(),
        exclude: None,
    };
    let fixed = spec.pattern.as_deref().and_then(fixed_tag);
    if let (Some((literal, false)), Some(pattern)) = (&fixed, &spec.pattern) {
        out.push(finding(
            Severity::Error,
            "unanchored-fixed-tag",
            object.clone(),
            file,
            pattern_line,
            format!(
                "`pattern: {pattern}` matches every tag that contains `{literal}`, e.g. `{}`, which sorts above it",
                lookalike(pattern, literal)
            ),
            &format!("anchor it: `pattern: '^{}$'`", quote_meta(literal)),
        ));
    }
    if fixed.is_some() && policy.digest_reflection != "Always" {
        out.push(finding(
            Severity::Error,
            "moving-tag-without-digest",
            object.clone(),
            file,
            pattern_line,
            format!(
                "`{}` is a moving tag and `digestReflectionPolicy` is `{}`: when the tag moves, the policy's latest image does not change and the new image never rolls out",
                fixed.as_ref().map(|f| f.0.as_str()).unwrap_or(""),
                policy.digest_reflection
            ),
            "set `digestReflectionPolicy: Always` and write the digest into the manifest",
        ));
    }
    let env = model.policy_environment(policy);
    match &spec.policy {
        PolicyChoice::Alphabetical { .. } if fixed.is_none() => {
            if let Some((a, b)) = shape.version_pair() {
                out.push(finding(
                    Severity::Error,
                    "version-without-semver",
                    object.clone(),
                    file,
                    policy.doc.line_of(&["spec", "policy"]),
                    format!(
                        "an alphabetical policy orders version tags as strings: `{a}` sorts above `{b}`"
                    ),
                    "use `policy: {semver: {range: \">=0.0.0\"}}` (`>=0.0.0-0` to admit release candidates)",
                ));
            }
        }
        PolicyChoice::SemVer(range) => {
            if let Ok(c) = Constraints::parse(range) {
                if !c.admits_prereleases() && shape.wants_prereleases(env) {
                    out.push(finding(
                        Severity::Error,
                        "rc-without-prerelease",
                        object.clone(),
                        file,
                        policy.doc.line_of(&["spec", "policy", "semver", "range"]),
                        format!("`range: {range}` names no prerelease, so no release-candidate tag is ever selected"),
                        "use a range with a prerelease part, e.g. `>=0.0.0-0`",
                    ));
                }
            } else {
                out.push(finding(
                    Severity::Error,
                    "invalid-policy",
                    object.clone(),
                    file,
                    policy.doc.line_of(&["spec", "policy", "semver", "range"]),
                    format!("`range: {range}` is not a valid semver constraint"),
                    "",
                ));
            }
        }
        _ => {}
    }
    if fixed.is_none() && shape.sha_ordered() {
        out.push(finding(
            Severity::Error,
            "rc-ordered-by-sha",
            object,
            file,
            pattern_line,
            "release candidates of one version differ only by their commit SHA, so the newest build does not win".to_string(),
            "tag builds `v{version}-rc.{count}.g{sha}` and use a semver range with a prerelease",
        ));
    }
}

/// The findings as a Markdown table (empty when there are none) and as `file:line: severity [rule] …` lines.
pub fn findings_table(findings: &[Finding]) -> (String, String) {
    let mut summary = String::new();
    let mut text = String::new();
    if !findings.is_empty() {
        summary.push_str("| | Where | Object | Finding |\n|---|---|---|---|\n");
    }
    for f in findings {
        let icon = match f.severity {
            Severity::Error => "❌",
            Severity::Warning => "⚠️",
        };
        let mut message = f.message.clone();
        if let Some(h) = &f.help {
            message.push_str(&format!("<br>**help:** {h}"));
        }
        summary.push_str(&format!(
            "| {icon} | `{}:{}` | `{}` | **{}**: {} |\n",
            f.file,
            f.line,
            f.object,
            f.rule,
            message.replace('|', "\\|").replace('\n', "<br>")
        ));
        text.push_str(&format!(
            "{}:{}: {} [{}] {}: {}\n",
            f.file,
            f.line,
            match f.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            },
            f.rule,
            f.object,
            f.message
        ));
        if let Some(h) = &f.help {
            text.push_str(&format!("  help: {h}\n"));
        }
    }
    (summary, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_tags_are_recognised() {
        assert_eq!(
            fixed_tag("production-latest"),
            Some(("production-latest".into(), false))
        );
        assert_eq!(
            fixed_tag("^production-latest$"),
            Some(("production-latest".into(), true))
        );
        assert_eq!(fixed_tag(r"^v1\.2$"), Some(("v1.2".into(), true)));
        assert_eq!(fixed_tag(r"^v\d+$"), None);
        assert_eq!(
            lookalike("production-latest$", "production-latest"),
            "z-production-latest"
        );
        assert_eq!(fixed_tag("prod.*"), None);
        assert_eq!(quote_meta("production-latest.v1"), "production-latest\\.v1");
    }

    #[test]
    fn keys_normalise_like_the_operator() {
        assert_eq!(normalize_key("backend-develop"), "backend_develop");
        assert_eq!(normalize_key("My App.v2"), "my_app_v2");
        assert_eq!(normalize_key("--x--"), "x");
        assert_eq!(normalize_key("a+b"), "ab");
    }

    fn model(text: &str) -> Model {
        let mut m = Model::default();
        m.add_text("flux/apps.yaml", text);
        m
    }

    fn rules(m: &Model, tags: Option<Vec<String>>) -> Vec<&'static str> {
        lint(m, &|_| tags.clone()).iter().map(|f| f.rule).collect()
    }

    const PROVIDERS: &str = "apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSetInputProvider
metadata: {name: app-develop, namespace: flux-system}
spec:
  type: GARArtifactTag
  url: oci://europe-docker.pkg.dev/p/r/app
  filter: {includeTag: '^v\\d+\\.\\d+\\.\\d+-rc\\.\\d+\\.g[0-9a-f]+$', semver: '>=0.0.0-0', limit: 1}
---
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSetInputProvider
metadata: {name: app-config, namespace: flux-system}
spec:
  type: OCIArtifactTag
  url: oci://ghcr.io/org/config
  filter: {includeTag: '^v\\d+\\.\\d+\\.\\d+$', semver: '>=1.0.0', limit: 1}
";

    #[test]
    fn permute_keys_are_scoped_and_flatten_keys_are_not() {
        let permute = format!(
            "{PROVIDERS}---
apiVersion: fluxcd.controlplane.io/v1
kind: ResourceSet
metadata: {{name: app-develop, namespace: flux-system}}
spec:
  inputStrategy: {{name: Permute}}
  inputsFrom:
    - name: app-develop
    - name: app-config
  resources:
    - apiVersion: kustomize.toolkit.fluxcd.io/v1
      kind: Kustomization
      metadata: {{name: app}}
      spec:
        path: ./apps/develop
        images:
          - {{name: app, newTag: '<< inputs.app_develop.tag >>', digest: '<< inputs.app_develop.digest >>'}}
        postBuild:
          substitute: {{config: '<< inputs.tag >>'}}
"
        );
        let m = model(&permute);
        assert_eq!(rules(&m, None), ["template-key-flatten-only"]);
        assert_eq!(
            m.provider_environment(&m.providers[1]),
            Some(Environment::Develop)
        );
    }

    #[test]
    fn image_policies_are_linted_too() {
        let m = model(
            "apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: app}
spec: {image: ghcr.io/org/app}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: app-develop}
spec:
  imageRepositoryRef: {name: app}
  filterTags: {pattern: '^v\\d+\\.\\d+\\.\\d+-rc\\.\\d+\\.g[0-9a-f]+$'}
  policy: {semver: {range: '>=1.0.0'}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: app-staging}
spec:
  imageRepositoryRef: {name: app}
  filterTags: {pattern: '^v\\d+\\.\\d+\\.\\d+$'}
  policy: {alphabetical: {order: asc}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: app-production}
spec:
  imageRepositoryRef: {name: app}
  filterTags: {pattern: 'production-latest'}
  policy: {alphabetical: {}}
",
        );
        assert_eq!(
            rules(&m, None),
            [
                "rc-without-prerelease",
                "version-without-semver",
                "moving-tag-without-digest",
                "unanchored-fixed-tag"
            ]
        );
        assert_eq!(
            m.policy_image(&m.policies[0]).as_deref(),
            Some("ghcr.io/org/app")
        );
        let findings = crate::flux::check::check_model(
            &m,
            "ghcr.io/org/app",
            Environment::Staging,
            "v1.10.0",
            &["v1.9.3".to_string()],
        );
        assert_eq!(findings.len(), 1);
        assert!(
            findings[0].message.contains("the policy picks `v1.9.3`"),
            "{}",
            findings[0].message
        );
    }
}
