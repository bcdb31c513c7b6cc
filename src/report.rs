//! Owns what a finished run hands back: outputs for `$GITHUB_OUTPUT`, the Markdown step summary, the text a
//! CLI user reads, and annotations. Modes fill it; `main.rs` writes it.

use std::collections::BTreeMap;

use crate::actions::Annotation;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Output name → value (multiline allowed).
    pub outputs: BTreeMap<String, String>,
    /// Markdown for `$GITHUB_STEP_SUMMARY`.
    pub summary: String,
    /// What the CLI prints on stdout.
    pub text: String,
    pub annotations: Vec<Annotation>,
    /// Set when the run must exit non-zero *after* its report is written (e.g. `lint` found errors): `main.rs`
    /// writes outputs, summary and text first, then fails with this error.
    pub failure: Option<crate::error::Error>,
}

/// A two-column Markdown table; values are written as given (callers add backticks).
pub fn markdown_table(rows: &[(&str, String)]) -> String {
    let mut md = String::from("| | |\n|---|---|\n");
    for (key, value) in rows {
        md.push_str(&format!("| {key} | {} |\n", value.replace('|', "\\|")));
    }
    md
}

/// Aligned `key  value` lines for the terminal.
pub fn text_table(rows: &[(&str, String)]) -> String {
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("  {k:<width$}  {}\n", v.replace('`', "")))
        .collect()
}
