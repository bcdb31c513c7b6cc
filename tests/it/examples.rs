//! `examples/` is what users copy: the Flux tree must render and lint clean, and the workflows must call the
//! action with inputs it has, in the order that cuts a version only for an image that was pushed.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

use gitops_promote::inputs::{INPUTS, Mode};
use indexmap::IndexMap;

use crate::harness::gitops_promote;

fn examples() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("examples")
}

/// Every directory under examples/flux/apps/ that holds a kustomization.yaml.
fn overlays() -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![examples().join("flux/apps")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read_dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.file_name().is_some_and(|n| n == "kustomization.yaml") {
                found.push(dir.clone());
            }
        }
    }
    found.sort();
    found
}

#[test]
fn every_example_overlay_renders_with_kubectl_kustomize() {
    let overlays = overlays();
    let names: Vec<String> = overlays
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().to_string())
        .collect();
    assert_eq!(names, ["base", "develop", "production", "staging"]);
    for dir in &overlays {
        let out = Command::new("kubectl")
            .arg("kustomize")
            .arg(dir)
            .output()
            .expect("kubectl runs (bash scripts/setup.sh says how to install it)");
        let rendered = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "kubectl kustomize {}: {}",
            dir.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            rendered.contains("kind: Deployment")
                && rendered.contains("kind: Service")
                && rendered.contains("image: ghcr.io/org/backend"),
            "{}:\n{rendered}",
            dir.display()
        );
        let env = dir.file_name().expect("name").to_string_lossy();
        if env != "base" {
            assert!(
                rendered.contains(&format!("namespace: {env}")),
                "{env}:\n{rendered}"
            );
        }
    }
}

#[test]
fn gitops_promote_lint_finds_nothing_in_the_example_flux_tree() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tags = dir.path().join("tags.txt");
    // What the example workflows push: RC tags on develop, stable versions on main, the moving tag, and the
    // throwaway build tags the filters must ignore.
    std::fs::write(
        &tags,
        "build-0123456789abcdef0123456789abcdef01234567\nv0.1.0\nv0.2.0-rc.3.gabc1234\nv0.2.0-rc.10.gdef5678\n\
         v0.10.0\nv0.9.0\nproduction-latest\n",
    )
    .expect("tags");
    let out = gitops_promote()
        .arg("lint")
        .arg("--repo")
        .arg(examples())
        .args(["--flux-path", "flux", "--tags-file"])
        .arg(&tags)
        .output()
        .expect("binary runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("0 error(s), 0 warning(s)"), "{text}");
    for (env, provider, tag) in [
        ("develop", "backend-develop", "v0.2.0-rc.10.gdef5678"),
        ("staging", "backend-staging", "v0.10.0"),
        ("production", "backend-production", "production-latest"),
    ] {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(env) && l.contains(provider))
            .unwrap_or_else(|| panic!("no prediction for {env}:\n{text}"));
        assert!(line.trim_end().ends_with(tag), "{env}: {line}\n{text}");
    }
}

#[derive(serde::Deserialize)]
struct Workflow {
    jobs: IndexMap<String, Job>,
}

#[derive(serde::Deserialize)]
struct Job {
    steps: Vec<Step>,
}

#[derive(serde::Deserialize)]
struct Step {
    id: Option<String>,
    uses: Option<String>,
    run: Option<String>,
    #[serde(default)]
    with: IndexMap<String, serde_json::Value>,
}

const ACTION: &str = "org/gitops-promote@v1";

fn workflows() -> Vec<(String, String, Workflow)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples().join("workflows"))
        .expect("examples/workflows")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let name = path
                .file_name()
                .expect("name")
                .to_string_lossy()
                .to_string();
            let text = std::fs::read_to_string(&path).expect("read");
            let workflow: Workflow =
                serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, text, workflow)
        })
        .collect()
}

fn header(text: &str) -> String {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n")
}

fn value(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[test]
fn the_example_workflows_are_the_seeds_pipeline() {
    let names: Vec<String> = workflows().into_iter().map(|(n, _, _)| n).collect();
    assert_eq!(
        names,
        [
            "checklist.yml",
            "develop.yml",
            "promote-production.yml",
            "release-production.yml",
            "rollback.yml",
            "staging.yml"
        ]
    );
}

#[test]
fn every_action_step_of_the_examples_uses_inputs_its_mode_has() {
    let modes: Vec<&str> = Mode::ALL.iter().map(|m| m.name()).collect();
    for (name, text, workflow) in workflows() {
        let header = header(&text);
        assert!(
            header.contains("Change:") && header.contains(ACTION),
            "{name}: the top comment must say what to change"
        );
        for step in workflow.jobs.values().flat_map(|j| &j.steps) {
            if step.uses.as_deref() != Some(ACTION) {
                continue;
            }
            let mode = step
                .with
                .get("mode")
                .map(value)
                .expect("every step names its mode");
            if !modes.contains(&mode.as_str()) {
                // Written to the inputs of a mode's issue before the mode exists: the file must say so.
                assert!(
                    header.contains(&format!(" the `{mode}` mode (issue ")),
                    "{name}: mode {mode} does not exist yet and the top comment does not say which issue it needs"
                );
                continue;
            }
            for input in step.with.keys() {
                let spec = INPUTS
                    .iter()
                    .find(|i| i.name == input)
                    .unwrap_or_else(|| panic!("{name}: `{input}` is not an input of the action"));
                assert!(
                    spec.modes.is_empty() || spec.modes.iter().any(|m| m.name() == mode),
                    "{name}: `{input}` is not an input of mode {mode}"
                );
            }
        }
    }
}

#[test]
fn the_examples_lower_case_the_image_and_keep_expressions_out_of_scripts() {
    for (name, _, workflow) in workflows() {
        for step in workflow.jobs.values().flat_map(|j| &j.steps) {
            if let Some(run) = &step.run {
                assert!(
                    !run.contains("${{"),
                    "{name}: an expression inside run: {run}"
                );
            }
            for (input, v) in &step.with {
                let v = value(v);
                assert!(
                    !v.contains("github.repository }}"),
                    "{name}: `{input}: {v}`: GHCR names are lower case; use the image step's output"
                );
            }
            // `checklist` names no image: it reads a pull request.
            if step.uses.as_deref() == Some(ACTION)
                && step.with.get("mode").map(value).as_deref() != Some("checklist")
            {
                let image = step.with.get("image").map(value).unwrap_or_default();
                assert_eq!(image, "${{ steps.image.outputs.name }}", "{name}");
            }
        }
        if name == "checklist.yml" {
            continue;
        }
        let image_step = workflow
            .jobs
            .values()
            .flat_map(|j| &j.steps)
            .find(|s| s.id.as_deref() == Some("image"))
            .unwrap_or_else(|| panic!("{name}: no image step"));
        assert!(
            image_step
                .run
                .as_deref()
                .is_some_and(|r| r.contains("${REPOSITORY,,}")),
            "{name}: the image step lower-cases the repository"
        );
    }
}

#[test]
fn the_build_examples_push_the_image_before_they_cut_its_version() {
    for (name, _, workflow) in workflows() {
        let steps: Vec<&Step> = workflow.jobs.values().flat_map(|j| &j.steps).collect();
        let modes: BTreeSet<String> = steps
            .iter()
            .filter(|s| s.uses.as_deref() == Some(ACTION))
            .filter_map(|s| s.with.get("mode").map(value))
            .collect();
        let Some(mode) = modes.iter().find(|m| m.ends_with("-build")) else {
            continue;
        };
        let build = steps
            .iter()
            .position(|s| {
                s.uses
                    .as_deref()
                    .is_some_and(|u| u.starts_with("docker/build-push-action@"))
            })
            .unwrap_or_else(|| panic!("{name}: no image build"));
        for (i, step) in steps.iter().enumerate() {
            if step.uses.as_deref() != Some(ACTION) {
                continue;
            }
            let dry = step.with.get("dry-run").map(value).as_deref() == Some("true");
            let source = step.with.get("source-image").map(value);
            if i < build {
                assert!(dry, "{name}: {mode} before the build must be a dry run");
            } else {
                assert_eq!(
                    source.as_deref(),
                    Some("${{ steps.image.outputs.name }}@${{ steps.build.outputs.digest }}"),
                    "{name}: {mode} after the build retags the pushed image by digest"
                );
                assert!(!dry, "{name}");
            }
        }
        assert!(
            steps
                .iter()
                .skip(build + 1)
                .any(|s| s.uses.as_deref() == Some(ACTION)),
            "{name}: the version is cut after the build"
        );
    }
}

/// The README's "Use it in a workflow" section, up to the next `## ` heading.
fn readme_workflow_section() -> String {
    let readme = std::fs::read_to_string(examples().join("../README.md")).expect("README.md");
    let start = readme
        .find("## Use it in a workflow")
        .expect("README has a \"Use it in a workflow\" section");
    let rest = &readme[start + 3..];
    rest[..rest.find("\n## ").unwrap_or(rest.len())].to_string()
}

#[test]
fn the_readme_workflow_section_lists_every_example_and_quotes_develop_yml_as_it_is() {
    let section = readme_workflow_section();
    for (name, _, _) in workflows() {
        assert!(
            section.contains(&format!("| `{name}` |")),
            "README's table lacks {name}"
        );
    }
    assert!(section.contains("| `flux/` |"));
    // The YAML block is develop.yml's steps, unindented: it cannot drift from the file users copy.
    let block = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|b| b.split("\n```").next())
        .expect("a yaml block");
    let develop =
        std::fs::read_to_string(examples().join("workflows/develop.yml")).expect("develop.yml");
    let steps: String = develop
        .lines()
        .skip_while(|l| l.trim() != "steps:")
        .skip(1)
        .map(|l| format!("{}\n", l.strip_prefix("      ").unwrap_or(l)))
        .collect();
    assert!(
        steps.contains(block),
        "README's yaml block is not develop.yml's steps:\n{block}\n---\n{steps}"
    );
}

/// What GitHub starts for a push to `main` changing `files`, decided from the examples' own `on:` blocks.
fn started_on_main(files: &[&str]) -> Vec<String> {
    let files: Vec<String> = files.iter().map(|f| f.to_string()).collect();
    crate::triggers::started_by_push(&examples().join("workflows"), "main", &files)
}

#[test]
fn a_merged_promotion_starts_only_the_release_workflow_not_a_new_build() {
    // The merge of a promotion (or a rollback) changes only the production overlay: building it cut a new
    // version (v0.1.1 after v0.1.0's promotion) that became the next promotion's candidate.
    assert_eq!(
        started_on_main(&["flux/apps/backend/production/kustomization.yaml"]),
        ["release-production.yml"]
    );
    assert_eq!(started_on_main(&["src/main.rs"]), ["staging.yml"]);
    assert_eq!(
        started_on_main(&[
            "src/main.rs",
            "flux/apps/backend/production/kustomization.yaml"
        ]),
        ["release-production.yml", "staging.yml"]
    );
    let develop: Vec<String> = vec!["src/main.rs".into()];
    assert_eq!(
        crate::triggers::started_by_push(&examples().join("workflows"), "develop", &develop),
        ["develop.yml"]
    );
}

/// The example with its commented GHCR → ECR variant switched on: the commented steps and inputs of its jobs
/// (`# - …`, `#   …`, `# production-image: …`) uncommented, the prose left as comments.
fn with_ecr_variant(text: &str) -> String {
    text.lines()
        .map(|line| {
            let indent = line.len() - line.trim_start().len();
            match line.trim_start().strip_prefix("# ") {
                // Only inside the jobs (indented): the top comment quotes commands the same way.
                Some(code)
                    if indent > 0
                        && (code.starts_with("- ")
                            || code.starts_with("  ")
                            || code.starts_with("production-image:")) =>
                {
                    format!("{}{code}", &line[..indent])
                }
                _ => line.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_ghcr_to_ecr_variant_switched_on_logs_in_to_ecr_before_the_action_and_names_production_there()
{
    let pinned = |uses: &str| {
        uses.split_once('@')
            .is_some_and(|(_, rev)| rev.len() == 40 && rev.chars().all(|c| c.is_ascii_hexdigit()))
    };
    for name in [
        "promote-production.yml",
        "release-production.yml",
        "rollback.yml",
    ] {
        let text = std::fs::read_to_string(examples().join("workflows").join(name)).expect("read");
        let switched = with_ecr_variant(&text);
        assert_ne!(switched, text, "{name} has no commented ECR variant");
        let workflow: Workflow =
            serde_saphyr::from_str(&switched).unwrap_or_else(|e| panic!("{name} switched on: {e}"));
        let steps: Vec<&Step> = workflow.jobs.values().flat_map(|j| &j.steps).collect();
        let at = |prefix: &str| {
            steps
                .iter()
                .position(|s| s.uses.as_deref().is_some_and(|u| u.starts_with(prefix)))
                .unwrap_or_else(|| panic!("{name}: no `{prefix}` step in the variant"))
        };
        let credentials = at("aws-actions/configure-aws-credentials@");
        let login = at("aws-actions/amazon-ecr-login@");
        let action = at(ACTION);
        assert!(
            credentials < login && login < action,
            "{name}: AWS credentials, then ECR's login (Docker's config.json), then the action"
        );
        for step in [steps[credentials], steps[login]] {
            let uses = step.uses.as_deref().unwrap_or_default();
            assert!(pinned(uses), "{name}: `{uses}` is not pinned by commit");
        }
        let with = &steps[action].with;
        let mode = with.get("mode").map(value).expect("mode");
        if name == "promote-production.yml" {
            let production = with.get("production-image").map(value).unwrap_or_default();
            assert!(
                production.contains(".dkr.ecr.") && production.ends_with("/backend"),
                "{name}: the variant names the ECR repository in `production-image`: {production:?}"
            );
        }
        for input in with.keys() {
            let spec = INPUTS
                .iter()
                .find(|i| i.name == input)
                .unwrap_or_else(|| panic!("{name}: `{input}` is not an input"));
            assert!(
                spec.modes.is_empty() || spec.modes.iter().any(|m| m.name() == mode),
                "{name}: `{input}` is not an input of mode {mode}"
            );
            // No secret passed twice: ECR's login is read from Docker's store, never handed over as an input.
            assert!(
                !input.starts_with("registry-"),
                "{name}: the variant passes `{input}`"
            );
        }
    }
}
