//! `action.yml` and the README's tables are generated from `src/inputs/catalogue.rs`; these tests fail when they drift.
//! Regenerate with `GITOPS_PROMOTE_BLESS=1 cargo test --test it docs`.

use std::path::PathBuf;

use gitops_promote::docs;
use gitops_promote::inputs::{INPUTS, OUTPUTS};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn bless() -> bool {
    std::env::var("GITOPS_PROMOTE_BLESS").is_ok_and(|v| v == "1")
}

#[test]
fn action_yml_is_generated_from_the_input_table() {
    let path = root().join("action.yml");
    let expected = docs::action_yml();
    if bless() {
        std::fs::write(&path, &expected).expect("write action.yml");
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "action.yml drifted from src/inputs/catalogue.rs: run GITOPS_PROMOTE_BLESS=1 cargo test --test it docs"
    );
}

#[test]
fn readme_tables_are_generated_from_the_input_table() {
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    assert!(
        readme.contains(docs::README_START) && readme.contains(docs::README_END),
        "README lost its markers"
    );
    let expected = docs::splice_includes(&docs::splice_readme(&readme), |path| {
        std::fs::read_to_string(root().join(path)).ok()
    });
    if bless() {
        std::fs::write(&path, &expected).expect("write README.md");
        return;
    }
    assert!(
        readme == expected,
        "README.md drifted from src/inputs/catalogue.rs or docs/readme/*.md: run GITOPS_PROMOTE_BLESS=1 cargo test --test it docs"
    );
}

/// The parts of GitHub's action metadata schema we rely on, read back with a real YAML parser.
#[derive(serde::Deserialize)]
struct ActionMetadata {
    name: String,
    description: String,
    inputs: indexmap::IndexMap<String, ActionInput>,
    outputs: indexmap::IndexMap<String, ActionOutput>,
    runs: ActionRuns,
}

#[derive(serde::Deserialize)]
struct ActionInput {
    description: String,
    required: bool,
    default: Option<String>,
}

#[derive(serde::Deserialize)]
struct ActionOutput {
    description: String,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ActionRuns {
    using: String,
    main: String,
}

#[test]
fn action_yml_is_valid_action_metadata_with_every_input_and_output() {
    // While blessing, the file is being rewritten by the test above: read what it will contain.
    let text = if bless() {
        docs::action_yml()
    } else {
        std::fs::read_to_string(root().join("action.yml")).expect("action.yml")
    };
    let action: ActionMetadata =
        serde_saphyr::from_str(&text).expect("action.yml parses as action metadata");
    assert_eq!(action.name, "gitops-promote");
    assert!(!action.description.is_empty());
    // A JavaScript action: the wrapper runs the binary with the step's INPUT_<NAME> variables, hyphens kept
    // (tests/it/wrapper.rs runs it as the runner does). No build and no image pull at run time.
    assert_eq!(
        (action.runs.using.as_str(), action.runs.main.as_str()),
        (docs::ACTION_RUNTIME, docs::ACTION_MAIN)
    );
    assert!(
        root().join(&action.runs.main).is_file(),
        "runs.main names a script that must exist"
    );
    assert!(
        root().join(docs::ACTION_CHECKSUMS).is_file(),
        "the wrapper verifies downloads against {} (release.yml writes it)",
        docs::ACTION_CHECKSUMS
    );
    let names: Vec<&str> = action.inputs.keys().map(String::as_str).collect();
    let expected: Vec<&str> = INPUTS.iter().map(|i| i.name).collect();
    assert_eq!(names, expected);
    for spec in INPUTS {
        let input = &action.inputs[spec.name];
        assert!(
            input.description.len() > 20,
            "input {} needs a real description",
            spec.name
        );
        assert_eq!(
            input.default.as_deref(),
            spec.default,
            "default of {}",
            spec.name
        );
        assert_eq!(input.required, spec.name == "mode");
    }
    let names: Vec<&str> = action.outputs.keys().map(String::as_str).collect();
    let expected: Vec<&str> = OUTPUTS.iter().map(|o| o.name).collect();
    assert_eq!(names, expected);
    assert!(action.outputs.values().all(|o| !o.description.is_empty()));
}
