//! `action.yml` and the tables of `docs/inputs-and-outputs.md` are generated from `src/inputs/catalogue.rs`; these
//! tests fail when they drift, and when what users read names an issue or calls a built mode unbuilt.
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
fn input_and_output_tables_are_generated_from_the_input_table() {
    let path = root().join(docs::TABLES_PAGE);
    let page = std::fs::read_to_string(&path).expect(docs::TABLES_PAGE);
    assert!(
        page.contains(docs::TABLES_START) && page.contains(docs::TABLES_END),
        "{} lost its markers",
        docs::TABLES_PAGE
    );
    let expected = docs::splice_tables(&page);
    if bless() {
        std::fs::write(&path, &expected).expect("write the tables page");
        return;
    }
    assert!(
        page == expected,
        "{} drifted from src/inputs/catalogue.rs: run GITOPS_PROMOTE_BLESS=1 cargo test --test it docs",
        docs::TABLES_PAGE
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

/// Every file users read: the README, CONTRIBUTING.md, `docs/`, `examples/` and `action.yml`, with their text.
fn user_facing_files() -> Vec<(PathBuf, String)> {
    fn walk(dir: &std::path::Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("read_dir").flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, out);
            } else {
                out.push(path);
            }
        }
    }
    let mut paths = vec![
        root().join("README.md"),
        root().join("CONTRIBUTING.md"),
        root().join("action.yml"),
    ];
    walk(&root().join("docs"), &mut paths);
    walk(&root().join("examples"), &mut paths);
    paths
        .into_iter()
        // Binary or generated files are not read by people; skip what is not UTF-8 text.
        .filter_map(|p| std::fs::read_to_string(&p).ok().map(|t| (p, t)))
        .collect()
}

/// The modes `action.yml` accepts, read from its `mode` input ("One of: a, b, c.").
fn modes_in_action_yml() -> Vec<String> {
    let text = std::fs::read_to_string(root().join("action.yml")).expect("action.yml");
    let action: ActionMetadata = serde_saphyr::from_str(&text).expect("action.yml parses");
    let description = &action.inputs["mode"].description;
    let list = description
        .split("One of: ")
        .nth(1)
        .and_then(|rest| rest.split('.').next())
        .expect("the mode input lists its values after \"One of: \"");
    list.split(", ").map(str::to_string).collect()
}

/// Findings of [`stale_wording`] in one text, as `line: what`.
fn stale_wording(text: &str, modes: &[String]) -> Vec<String> {
    let mode_use =
        regex::Regex::new(r"(?:\bmode: *|`)([a-z][a-z-]*)(?:`? mode\b)?").expect("regex");
    let unbuilt = regex::Regex::new(r"(?i)not (?:yet )?built(?: yet)?|unbuilt|not yet implemented")
        .expect("regex");
    // "issue 12", "issues 8 and 9", "#12"; a repository's own reference (`fluxcd/flux2#123`) is a link, not ours.
    let issue = regex::Regex::new(r"(?i)\bissues? #?\d+|(?:^|[\s(\[,;:])#\d+\b").expect("regex");
    let mut findings = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        for caps in mode_use.captures_iter(line) {
            let whole = &caps[0];
            let name = &caps[1];
            // Only `mode: NAME` and "the `NAME` mode" name a mode; other backticked words are not modes.
            let names_a_mode = whole.starts_with("mode:") || whole.ends_with(" mode");
            if names_a_mode && !modes.iter().any(|m| m == name) {
                findings.push(format!(
                    "{}: mode `{name}`, which action.yml does not have",
                    i + 1
                ));
            }
        }
        if unbuilt.is_match(line) {
            // The sentence may start on the line before.
            let window = format!("{} {line}", if i > 0 { lines[i - 1] } else { "" });
            if let Some(m) = modes.iter().find(|m| {
                window.contains(&format!("`{m}`")) || window.contains(&format!("mode: {m}"))
            }) {
                findings.push(format!("{}: calls the built mode `{m}` unbuilt", i + 1));
            }
        }
        if let Some(m) = issue.find(line) {
            findings.push(format!(
                "{}: cites an issue number ({:?}); users don't know our issues",
                i + 1,
                m.as_str().trim()
            ));
        }
    }
    findings
}

#[test]
fn stale_wording_finds_unknown_modes_unbuilt_modes_and_issue_numbers() {
    let modes = vec!["promote".to_string(), "release".to_string()];
    let text = "mode: promote\nmode: foo\nthe `release` mode (issue 9; not built yet)\nsee #12\n\
                [kustomize#4481](https://github.com/kubernetes-sigs/kustomize/issues/4481)\nthe `bar` mode\n";
    let findings = stale_wording(text, &modes);
    assert_eq!(
        findings,
        [
            "2: mode `foo`, which action.yml does not have",
            "3: calls the built mode `release` unbuilt",
            "3: cites an issue number (\"issue 9\"); users don't know our issues",
            "4: cites an issue number (\"#12\"); users don't know our issues",
            "6: mode `bar`, which action.yml does not have",
        ]
    );
}

#[test]
fn what_users_read_names_only_real_modes_and_no_issue_numbers() {
    let modes = modes_in_action_yml();
    assert!(modes.len() >= 10, "modes in action.yml: {modes:?}");
    let mut findings = Vec::new();
    for (path, text) in user_facing_files() {
        let shown = path
            .strip_prefix(root())
            .unwrap_or(&path)
            .display()
            .to_string();
        findings.extend(
            stale_wording(&text, &modes)
                .into_iter()
                .map(|f| format!("{shown}:{f}")),
        );
    }
    // `--help` is read too: the top level's and every subcommand's.
    let commands = std::iter::once(vec!["--help"])
        .chain(modes.iter().map(|mode| vec![mode.as_str(), "--help"]));
    for args in commands {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_gitops-promote"))
            .args(&args)
            .output()
            .expect("gitops-promote runs");
        assert!(out.status.success(), "{args:?} failed");
        let help = String::from_utf8_lossy(&out.stdout);
        findings.extend(
            stale_wording(&help, &modes)
                .into_iter()
                .map(|f| format!("`gitops-promote {}`:{f}", args.join(" "))),
        );
    }
    assert!(
        findings.is_empty(),
        "stale wording:\n{}",
        findings.join("\n")
    );
}

/// The relative link targets in a Markdown text (`[text](target)`), without their `#fragment`.
fn relative_links(text: &str) -> Vec<String> {
    let link = regex::Regex::new(r"\]\(([^)\s]+)\)").expect("regex");
    link.captures_iter(text)
        .map(|c| c[1].to_string())
        .filter(|l| !l.contains("://") && !l.starts_with('#') && !l.starts_with("mailto:"))
        .map(|l| l.split('#').next().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn every_docs_page_is_one_click_from_the_readme_links_back_and_no_link_is_broken() {
    let readme = std::fs::read_to_string(root().join("README.md")).expect("README.md");
    let from_readme = relative_links(&readme);
    let mut problems = Vec::new();
    for link in &from_readme {
        if !root().join(link).exists() {
            problems.push(format!("README.md links to {link}, which does not exist"));
        }
    }
    let pages = std::fs::read_dir(root().join("docs")).expect("docs/");
    for page in pages.flatten().map(|e| e.path()) {
        if page.extension().is_none_or(|e| e != "md") {
            continue;
        }
        let name = page
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .to_string();
        let text = std::fs::read_to_string(&page).expect("page");
        let links = relative_links(&text);
        if !from_readme.iter().any(|l| l == &format!("docs/{name}")) {
            problems.push(format!(
                "docs/{name} is not linked from README.md (add it to its Documentation list)"
            ));
        }
        if !links.iter().any(|l| l == "../README.md") {
            problems.push(format!(
                "docs/{name} does not link back to the README: start it with `[README](../README.md) · [all documentation](README.md)`"
            ));
        }
        for link in links {
            if !root().join("docs").join(&link).exists() {
                problems.push(format!("docs/{name} links to {link}, which does not exist"));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
