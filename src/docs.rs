//! Owns the generated documentation: `action.yml` and the input/output tables of `docs/inputs-and-outputs.md`,
//! both rendered from `src/inputs/catalogue.rs`. A test fails when the committed files drift from what this renders.

use crate::inputs::{INPUTS, Mode, OUTPUTS};

/// The runtime `action.yml` declares, and the script it runs (relative to the action's root).
pub const ACTION_RUNTIME: &str = "node24";
pub const ACTION_MAIN: &str = "action/main.js";
/// The checksums the script verifies every download against, written by the release workflow.
pub const ACTION_CHECKSUMS: &str = "action/SHA256SUMS";

/// The page that carries the generated tables, relative to the repository root.
pub const TABLES_PAGE: &str = "docs/inputs-and-outputs.md";
/// Marker lines around the generated part of that page.
pub const TABLES_START: &str =
    "<!-- generated: inputs and outputs (src/docs.rs); edit src/inputs/catalogue.rs -->";
pub const TABLES_END: &str = "<!-- end generated -->";

fn quote(s: &str) -> String {
    // A JSON string is a valid YAML double-quoted scalar.
    serde_json::to_string(s).unwrap_or_default()
}

fn modes_of(modes: &[Mode]) -> String {
    if modes.is_empty() {
        "all".to_string()
    } else {
        modes
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The whole `action.yml`.
pub fn action_yml() -> String {
    let mut y = String::new();
    y.push_str("# Generated from src/inputs/catalogue.rs (GITOPS_PROMOTE_BLESS=1 cargo test --test it docs); do not edit by hand.\n");
    y.push_str("name: gitops-promote\n");
    y.push_str("description: \"Version, retag, patch and promote images through a develop → staging → production Flux GitOps pipeline\"\n");
    y.push_str("author: gitops-promote\n");
    y.push_str("branding:\n  icon: git-merge\n  color: blue\n");
    y.push_str("inputs:\n");
    for spec in INPUTS {
        y.push_str(&format!("  {}:\n", spec.name));
        let description = format!("{} Modes: {}.", spec.description, modes_of(spec.modes));
        y.push_str(&format!("    description: {}\n", quote(&description)));
        y.push_str(&format!("    required: {}\n", spec.name == "mode"));
        if let Some(default) = spec.default {
            y.push_str(&format!("    default: {}\n", quote(default)));
        }
    }
    y.push_str("outputs:\n");
    for out in OUTPUTS {
        y.push_str(&format!("  {}:\n", out.name));
        let description = format!("{} Modes: {}.", out.description, modes_of(out.modes));
        y.push_str(&format!("    description: {}\n", quote(&description)));
    }
    // A JavaScript action whose script downloads the release binary, checks it against action/SHA256SUMS and
    // runs it on the host with the step's environment (INPUT_<NAME>, hyphens kept), so it starts in well under
    // a second on Linux, macOS and Windows runners instead of building or pulling an image every job.
    y.push_str(&format!(
        "runs:\n  using: {ACTION_RUNTIME}\n  main: {ACTION_MAIN}\n"
    ));
    y
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The generated section of [`TABLES_PAGE`] (between the markers).
pub fn tables_section() -> String {
    let mut md = String::new();
    md.push_str(TABLES_START);
    md.push_str("\n\n## Inputs\n\n| Input | CLI flag | Modes | Default | Description |\n|---|---|---|---|---|\n");
    for spec in INPUTS {
        let flag = if spec.cli {
            format!("`--{}`", spec.name)
        } else {
            "(subcommand)".to_string()
        };
        let default = spec
            .default
            .map(|d| format!("`{}`", cell(d)))
            .unwrap_or_else(|| "—".to_string());
        md.push_str(&format!(
            "| `{}` | {flag} | {} | {default} | {} |\n",
            spec.name,
            modes_of(spec.modes),
            cell(spec.description)
        ));
    }
    md.push_str("\n## Outputs\n\n| Output | Modes | Description |\n|---|---|---|\n");
    for out in OUTPUTS {
        md.push_str(&format!(
            "| `{}` | {} | {} |\n",
            out.name,
            modes_of(out.modes),
            cell(out.description)
        ));
    }
    md.push('\n');
    md.push_str(TABLES_END);
    md
}

/// `page` with its generated section replaced by the current one (unchanged when the markers are absent).
pub fn splice_tables(page: &str) -> String {
    match (page.find(TABLES_START), page.find(TABLES_END)) {
        (Some(start), Some(end)) if end > start => format!(
            "{}{}{}",
            &page[..start],
            tables_section(),
            &page[end + TABLES_END.len()..]
        ),
        _ => page.to_string(),
    }
}
