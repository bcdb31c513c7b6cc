//! Owns the generated documentation: `action.yml` and the README's input/output tables, both rendered from
//! the tables in `inputs.rs`. A test fails when the committed files drift from what this renders.

use crate::inputs::{INPUTS, Mode, OUTPUTS};

/// The runtime `action.yml` declares, and the script it runs (relative to the action's root).
pub const ACTION_RUNTIME: &str = "node24";
pub const ACTION_MAIN: &str = "action/main.js";
/// The checksums the script verifies every download against, written by the release workflow.
pub const ACTION_CHECKSUMS: &str = "action/SHA256SUMS";

/// Marker lines around the generated part of the README.
pub const README_START: &str =
    "<!-- generated: inputs and outputs (src/docs.rs); edit src/inputs/catalogue.rs -->";
pub const README_END: &str = "<!-- end generated -->";

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

/// The README's generated section (between the markers).
pub fn readme_section() -> String {
    let mut md = String::new();
    md.push_str(README_START);
    md.push_str("\n\n#### Inputs\n\n| Input | CLI flag | Modes | Default | Description |\n|---|---|---|---|---|\n");
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
    md.push_str("\n#### Outputs\n\n| Output | Modes | Description |\n|---|---|---|\n");
    for out in OUTPUTS {
        md.push_str(&format!(
            "| `{}` | {} | {} |\n",
            out.name,
            modes_of(out.modes),
            cell(out.description)
        ));
    }
    md.push('\n');
    md.push_str(README_END);
    md
}

/// `readme` with its generated section replaced by the current one (unchanged when the markers are absent).
pub fn splice_readme(readme: &str) -> String {
    match (readme.find(README_START), readme.find(README_END)) {
        (Some(start), Some(end)) if end > start => format!(
            "{}{}{}",
            &readme[..start],
            readme_section(),
            &readme[end + README_END.len()..]
        ),
        _ => readme.to_string(),
    }
}

/// Replaces every `<!-- include: PATH -->` … `<!-- end include -->` block with the current text of PATH (as
/// `read` returns it), so the README carries each feature's documentation while the feature owns the file.
pub fn splice_includes(readme: &str, read: impl Fn(&str) -> Option<String>) -> String {
    const OPEN: &str = "<!-- include: ";
    const CLOSE: &str = "<!-- end include -->";
    let mut out = String::new();
    let mut rest = readme;
    while let Some(start) = rest.find(OPEN) {
        let after_open = &rest[start + OPEN.len()..];
        let (Some(path_end), Some(end)) = (after_open.find(" -->"), after_open.find(CLOSE)) else {
            break;
        };
        let path = &after_open[..path_end];
        out.push_str(&rest[..start]);
        out.push_str(&format!("{OPEN}{path} -->\n"));
        match read(path) {
            Some(text) => out.push_str(text.trim_end()),
            None => out.push_str(&format!("(missing: {path})")),
        }
        out.push('\n');
        out.push_str(CLOSE);
        rest = &after_open[end + CLOSE.len()..];
    }
    out.push_str(rest);
    out
}
