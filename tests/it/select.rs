//! `select`: the selection corpus (tests/data/flux-selection.yaml) through the library and through the binary.

use std::path::Path;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::harness::gitops_promote;
use gitops_promote::modes::select::{parse_selector, select};
use gitops_promote::tag_lister::parse_tags;

#[derive(Debug, Deserialize)]
struct Corpus {
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Case {
    name: String,
    rule: String,
    #[serde(default)]
    filter: Option<Value>,
    #[serde(default)]
    policy: Option<Value>,
    #[serde(default)]
    filter_tags: Option<Value>,
    tags: Vec<String>,
    want: Vec<String>,
    /// The error Flux's ImagePolicy reports, when it fails on these tags.
    #[serde(default)]
    fails: Option<String>,
}

impl Case {
    /// The filter file `select` reads: a bare `filter:` mapping, or an ImagePolicy (JSON is YAML).
    fn filter_file(&self) -> String {
        let doc = match (&self.filter, &self.policy) {
            (Some(f), None) => json!({ "filter": f }),
            (None, Some(p)) => {
                let mut spec = json!({ "imageRepositoryRef": { "name": "app" }, "policy": p });
                if let Some(ft) = &self.filter_tags {
                    spec["filterTags"] = ft.clone();
                }
                json!({
                    "apiVersion": "image.toolkit.fluxcd.io/v1",
                    "kind": "ImagePolicy",
                    "metadata": { "name": "case" },
                    "spec": spec,
                })
            }
            _ => panic!(
                "case `{}` needs exactly one of `filter` and `policy`",
                self.name
            ),
        };
        serde_json::to_string_pretty(&doc).expect("json")
    }

    fn expected_stdout(&self) -> String {
        self.want.iter().map(|t| format!("{t}\n")).collect()
    }
}

fn corpus() -> Vec<Case> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/flux-selection.yaml");
    let text = std::fs::read_to_string(&path).expect("corpus file");
    let corpus: Corpus = serde_saphyr::from_str(&text).expect("corpus parses");
    corpus.cases
}

#[test]
fn the_corpus_has_at_least_40_cited_cases() {
    let cases = corpus();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    for c in &cases {
        assert!(!c.rule.trim().is_empty(), "case `{}` cites no rule", c.name);
    }
}

#[test]
fn corpus_through_the_library() {
    let mut failures = Vec::new();
    for case in corpus() {
        let selector = parse_selector("case.yaml", &case.filter_file(), None).expect("selector");
        let report = match (select(&selector, &case.tags), &case.fails) {
            (Err(e), Some(fails)) if e.message.contains(fails.as_str()) => continue,
            (Ok(report), None) => report,
            (other, _) => {
                failures.push(format!(
                    "{} ({}): got {:?}, want {:?} / fails {:?}",
                    case.name,
                    case.rule,
                    other.map(|r| r.text),
                    case.want,
                    case.fails
                ));
                continue;
            }
        };
        if report.text != case.expected_stdout() {
            failures.push(format!(
                "{} ({}): got {:?}, want {:?}",
                case.name,
                case.rule,
                parse_tags(&report.text),
                case.want
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_through_the_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    for (i, case) in corpus().into_iter().enumerate() {
        let filter = dir.path().join(format!("filter-{i}.yaml"));
        let tags = dir.path().join(format!("tags-{i}.txt"));
        std::fs::write(&filter, case.filter_file()).expect("write filter");
        std::fs::write(&tags, case.tags.join("\n")).expect("write tags");
        let out = gitops_promote()
            .args(["select", "--filter-file"])
            .arg(&filter)
            .arg("--tags-file")
            .arg(&tags)
            .output()
            .expect("run");
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        let as_flux_does = match &case.fails {
            // Flux fails the policy: an error naming the tag and exit 1, never an empty selection and exit 0.
            Some(fails) => {
                out.status.code() == Some(1) && stdout.is_empty() && stderr.contains(fails.as_str())
            }
            None => out.status.success() && stdout == case.expected_stdout(),
        };
        if !as_flux_does {
            failures.push(format!(
                "{}: exit {:?}, stdout {:?}, want {:?}, stderr {}",
                case.name,
                out.status.code(),
                stdout,
                case.want,
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn tags_from_stdin_and_a_provider_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let filter = dir.path().join("provider.yaml");
    std::fs::write(
        &filter,
        "apiVersion: fluxcd.controlplane.io/v1\nkind: ResourceSetInputProvider\nmetadata:\n  name: backend-staging\nspec:\n  type: OCIArtifactTag\n  url: oci://ghcr.io/org/app\n  filter:\n    semver: '>=0.0.0'\n    limit: 1\n",
    )
    .expect("write");
    let out = gitops_promote()
        .args(["select", "--tags-file", "-", "--filter-file"])
        .arg(&filter)
        .write_stdin("v1.9.3\nv1.10.0\nlatest\n")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "v1.10.0\n");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn an_empty_selection_prints_nothing_and_warns_about_garbage_collection() {
    let dir = tempfile::tempdir().expect("tempdir");
    let filter = dir.path().join("f.yaml");
    std::fs::write(&filter, "filter:\n  includeTag: '^production-latest$'\n").expect("write");
    let out = gitops_promote()
        .args(["select", "--tags-file", "-", "--filter-file"])
        .arg(&filter)
        .write_stdin("v1.0.0\n")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("garbage-collect"), "{stderr}");
    assert!(
        stderr.contains("fluxcd.controlplane.io/prune: disabled"),
        "{stderr}"
    );
}

#[test]
fn the_seed_pattern_field_is_ignored_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let filter = dir.path().join("f.yaml");
    std::fs::write(
        &filter,
        "filter:\n  pattern: '^v[0-9]+\\.[0-9]+\\.[0-9]+$'\n  limit: 1\n",
    )
    .expect("write");
    let out = gitops_promote()
        .args(["select", "--tags-file", "-", "--filter-file"])
        .arg(&filter)
        .write_stdin("v1.0.0\nproduction-latest\nzz-debug\n")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "zz-debug\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("filter.pattern"));
}

#[test]
fn an_invalid_filter_is_an_input_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let filter = dir.path().join("f.yaml");
    std::fs::write(&filter, "filter:\n  semver: 'not a range'\n").expect("write");
    let out = gitops_promote()
        .args(["select", "--tags-file", "-", "--filter-file"])
        .arg(&filter)
        .write_stdin("v1\n")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("invalid semver expression"));
}

/// The seed's layout: `flux/bootstrap/apps/<env>/backend.yaml` holds the provider and its ResourceSet
/// (`fixture`: `seed` as the seed has it, `corrected` with the recommended filters).
fn seed_file(fixture: &str, env: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/flux-fixtures")
        .join(fixture)
        .join("flux/bootstrap/apps")
        .join(env)
        .join("backend.yaml")
}

#[test]
fn select_takes_the_only_provider_of_a_multi_document_file_or_the_one_named() {
    // Regression: the seed keeps a provider and its ResourceSet in one file, and `select --filter-file` refused
    // it ("holds 2 YAML documents") with no way forward.
    let file = seed_file("seed", "staging");
    for name in [
        None,
        Some("backend-staging"),
        Some("ResourceSetInputProvider/backend-staging"),
    ] {
        let mut cmd = gitops_promote();
        cmd.args(["select", "--tags-file", "-", "--filter-file"])
            .arg(&file);
        if let Some(name) = name {
            cmd.args(["--name", name]);
        }
        let out = cmd
            .write_stdin("v1.9.3\nv1.10.0\nlatest\n")
            .output()
            .expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name:?}: {stderr}");
        // The seed's filter has `pattern` (not a provider field): Flux orders every tag as a string.
        assert_eq!(String::from_utf8_lossy(&out.stdout), "v1.9.3\n", "{name:?}");
        assert!(stderr.contains("filter.pattern"), "{stderr}");
    }

    // A name the file does not hold: the error lists what it holds.
    let out = gitops_promote()
        .args([
            "select",
            "--tags-file",
            "-",
            "--name",
            "backend-prod",
            "--filter-file",
        ])
        .arg(&file)
        .write_stdin("v1\n")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("invalid input `name`"), "{stderr}");
    assert!(
        stderr.contains("it holds ResourceSetInputProvider/backend-staging"),
        "{stderr}"
    );
}

#[test]
fn several_providers_in_one_file_ask_for_a_name() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("all.yaml");
    let both = format!(
        "{}\n---\n{}",
        std::fs::read_to_string(seed_file("corrected", "develop")).expect("develop"),
        std::fs::read_to_string(seed_file("corrected", "staging")).expect("staging")
    );
    std::fs::write(&file, both).expect("write");
    let out = gitops_promote()
        .args(["select", "--tags-file", "-", "--filter-file"])
        .arg(&file)
        .write_stdin("v1\n")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(
            "ResourceSetInputProvider/backend-develop, ResourceSetInputProvider/backend-staging"
        ) && stderr.contains("`--name backend-develop`"),
        "{stderr}"
    );
    let out = gitops_promote()
        .args([
            "select",
            "--tags-file",
            "-",
            "--name",
            "backend-staging",
            "--filter-file",
        ])
        .arg(&file)
        .write_stdin("v1.9.3\nv1.10.0\n")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "v1.10.0\n");
}

#[test]
fn a_policy_flux_would_fail_fails_and_no_match_stays_an_empty_selection() {
    // Regression: a numerical ImagePolicy over a tag that is not a number exited 0 with an empty selection;
    // Flux fails the policy ("failed to parse invalid numeric value").
    let dir = tempfile::tempdir().expect("tempdir");
    let policy = |name: &str, spec: &str| {
        let file = dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &file,
            format!("apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata:\n  name: backend\nspec:\n  imageRepositoryRef:\n    name: backend\n{spec}"),
        )
        .expect("write");
        file
    };
    let numerical = policy("numerical", "  policy:\n    numerical:\n      order: asc\n");
    let out = gitops_promote()
        .args(["select", "--tags-file", "-", "--filter-file"])
        .arg(&numerical)
        .write_stdin("17\nlatest\n")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty());
    assert!(
        stderr.contains("ImagePolicy/backend fails in Flux on these tags: failed to parse invalid numeric value 'latest'"),
        "{stderr}"
    );

    // No tag in range: an empty selection, exit 0, a warning that says so.
    let semver = policy("semver", "  policy:\n    semver:\n      range: '>=5.0.0'\n");
    let out = gitops_promote()
        .args(["select", "--tags-file", "-", "--filter-file"])
        .arg(&semver)
        .write_stdin("v1.0.0\n")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no tag matches"));
}
