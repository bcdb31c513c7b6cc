//! Owns the GitHub Actions runtime protocol: workflow commands (annotations, groups, masks), the outputs file
//! and the step summary, and their plain-terminal equivalents for the CLI.
//!
//! Why not `ghactions-core` for this: its `set_output` writes `key=value` without a heredoc delimiter (a
//! multiline value such as `tags` or `json` corrupts the file), its `setoutput!` macro writes the deprecated
//! `::set-output` command and panics on I/O errors, it escapes no annotation data and has no `::add-mask::` or
//! step summary. The protocol is small and specified by `@actions/core`, so it lives here, tested against that
//! specification. (`ghactions-core` is not a dependency: `tests/it/docs.rs` checks `action.yml` by reading it
//! back with `serde-saphyr`.)

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};
use std::path::Path;

use rand::Rng;
use serde::Serialize;

/// Severity of an annotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Error,
    Warning,
    Notice,
}

impl Level {
    fn command(self) -> &'static str {
        match self {
            Level::Error => "error",
            Level::Warning => "warning",
            Level::Notice => "notice",
        }
    }
}

/// A message shown on the run page (and, with `file`/`line`, on the file in a pull request).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Annotation {
    pub level: Level,
    pub title: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The report's text already says this (a `lint` finding): written as a workflow command on a runner, where
    /// it becomes an annotation on the file, but not repeated on a terminal's stderr.
    #[serde(skip)]
    pub in_text: bool,
}

impl Annotation {
    pub fn new(level: Level, title: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            level,
            title: title.into(),
            message: message.into(),
            file: None,
            line: None,
            in_text: false,
        }
    }

    /// Marks the annotation as one the report's text already carries (see [`Annotation::in_text`]).
    pub fn shown_in_text(mut self) -> Self {
        self.in_text = true;
        self
    }

    pub fn error(title: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Level::Error, title, message)
    }

    pub fn warning(title: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Level::Warning, title, message)
    }

    pub fn notice(title: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new(Level::Notice, title, message)
    }

    /// Anchors the annotation to a file (relative to the repository root) and a 1-based line.
    pub fn at(mut self, file: impl Into<String>, line: Option<usize>) -> Self {
        self.file = Some(file.into());
        self.line = line;
        self
    }

    /// The workflow command, e.g. `::error title=bad input::message`.
    pub fn to_command(&self) -> String {
        let mut props = vec![format!("title={}", escape_property(&self.title))];
        if let Some(file) = &self.file {
            props.push(format!("file={}", escape_property(file)));
        }
        if let Some(line) = self.line {
            props.push(format!("line={line}"));
        }
        format!(
            "::{} {}::{}",
            self.level.command(),
            props.join(","),
            escape_data(&self.message)
        )
    }
}

impl fmt::Display for Annotation {
    /// The terminal form: `error: title: message` and a `--> file:line` pointer.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: {}",
            self.level.command(),
            self.title,
            self.message
        )?;
        if let Some(file) = &self.file {
            write!(f, "\n  --> {file}")?;
            if let Some(line) = self.line {
                write!(f, ":{line}")?;
            }
        }
        Ok(())
    }
}

/// Escapes a workflow command's message (`@actions/core` `escapeData`).
pub fn escape_data(s: &str) -> String {
    s.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Escapes a workflow command's property value (`@actions/core` `escapeProperty`).
pub fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// Where progress and annotations go: workflow commands on a runner, plain text on a terminal.
pub struct Console {
    in_actions: bool,
    out: Box<dyn Write + Send>,
    err: Box<dyn Write + Send>,
    /// Values already masked: one `::add-mask::` per secret per process (a runner keeps a mask for the rest
    /// of the job, and every repeat is one more copy of the command in act's JSON log).
    masked: std::collections::HashSet<String>,
}

impl Console {
    pub fn new(in_actions: bool, out: Box<dyn Write + Send>, err: Box<dyn Write + Send>) -> Self {
        Self {
            in_actions,
            out,
            err,
            masked: std::collections::HashSet::new(),
        }
    }

    /// A console that discards everything (library tests).
    pub fn sink() -> Self {
        Self::new(false, Box::new(io::sink()), Box::new(io::sink()))
    }

    pub fn in_actions(&self) -> bool {
        self.in_actions
    }

    /// Starts a collapsible log group; on a terminal, a heading.
    pub fn group(&mut self, name: &str) {
        let line = if self.in_actions {
            format!("::group::{}", escape_data(name))
        } else {
            format!("==> {name}")
        };
        self.line(&line);
    }

    /// A log group on a runner only: on a terminal, where stdout is the report (`lint`) or data (`select`),
    /// no heading is printed.
    pub fn group_on_runner(&mut self, name: &str) {
        if self.in_actions {
            self.group(name);
        }
    }

    pub fn end_group(&mut self) {
        if self.in_actions {
            self.line("::endgroup::");
        }
    }

    /// A progress line on stdout.
    pub fn info(&mut self, message: &str) {
        self.line(message);
    }

    /// Text for the reader of stdout (reports, plans). Written as is.
    pub fn print(&mut self, text: &str) {
        // A closed stdout (e.g. `| head`) must not turn a finished run into a failure.
        let _ = self.out.write_all(text.as_bytes());
        let _ = self.out.flush();
    }

    /// Annotations go to stdout as workflow commands on a runner (where GitHub reads them) and to stderr on
    /// a terminal (so stdout stays machine-readable for `select` and friends).
    pub fn annotate(&mut self, annotation: &Annotation) {
        if self.in_actions {
            self.line(&annotation.to_command());
        } else if !annotation.in_text {
            let _ = writeln!(self.err, "{annotation}");
        }
    }

    /// Asks the runner to hide `secret` in every later log line, once per value. No-op on a terminal and for
    /// empty values.
    pub fn mask(&mut self, secret: &str) {
        if self.in_actions && !secret.is_empty() && self.masked.insert(secret.to_string()) {
            self.line(&format!("::add-mask::{}", escape_data(secret)));
        }
    }

    fn line(&mut self, line: &str) {
        let _ = writeln!(self.out, "{line}");
        let _ = self.out.flush();
    }
}

/// Appends outputs to the `$GITHUB_OUTPUT` file, each as a heredoc with a random delimiter so that no value,
/// however many lines it has, can end the block early or inject another output.
pub fn write_outputs(path: &Path, outputs: &BTreeMap<String, String>) -> io::Result<()> {
    let mut text = String::new();
    for (name, value) in outputs {
        let delimiter = loop {
            let candidate = format!("ghadelimiter_{:032x}", rand::rng().random::<u128>());
            if !value.contains(&candidate) && !name.contains(&candidate) {
                break candidate;
            }
        };
        text.push_str(&format!("{name}<<{delimiter}\n{value}\n{delimiter}\n"));
    }
    append(path, &text)
}

/// Appends Markdown to the `$GITHUB_STEP_SUMMARY` file.
pub fn write_summary(path: &Path, markdown: &str) -> io::Result<()> {
    append(path, markdown)
}

fn append(path: &Path, text: &str) -> io::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    file.write_all(text.as_bytes())
}

/// Parses a `$GITHUB_OUTPUT` file back into name → value, the way the runner does. Used by tests and by the
/// local pipeline to show what a later step would receive.
pub fn parse_outputs(text: &str) -> BTreeMap<String, String> {
    let mut outputs = BTreeMap::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some((name, delimiter)) = line.split_once("<<") {
            let mut value = Vec::new();
            for body in lines.by_ref() {
                if body == delimiter {
                    break;
                }
                value.push(body);
            }
            outputs.insert(name.to_string(), value.join("\n"));
        } else if let Some((name, value)) = line.split_once('=') {
            outputs.insert(name.to_string(), value.to_string());
        }
    }
    outputs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_escapes_like_actions_core() {
        let a =
            Annotation::error("bad: input, really", "50% done\nnext line").at("a,b.yaml", Some(3));
        assert_eq!(
            a.to_command(),
            "::error title=bad%3A input%2C really,file=a%2Cb.yaml,line=3::50%25 done%0Anext line"
        );
    }

    #[test]
    fn multiline_outputs_round_trip_through_heredocs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("out");
        let mut outputs = BTreeMap::new();
        outputs.insert("tags".to_string(), "a:1\na:2".to_string());
        outputs.insert("evil".to_string(), "x\nEOF\ntag=hijack".to_string());
        write_outputs(&path, &outputs).expect("write");
        let text = std::fs::read_to_string(&path).expect("read");
        assert_eq!(parse_outputs(&text), outputs);
        assert!(!text.contains("evil<<EOF"));
    }

    /// A writer whose bytes the test reads back after the console is done with it.
    #[derive(Clone, Default)]
    struct Shared(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_secret_is_masked_once_per_process() {
        let out = Shared::default();
        let mut console = Console::new(true, Box::new(out.clone()), Box::new(io::sink()));
        // The registry password defaults to github-token: the same value arrives from two places.
        for secret in ["ghs_token", "registry-pass", "ghs_token", "", "ghs_token"] {
            console.mask(secret);
        }
        let text = String::from_utf8(out.0.lock().expect("lock").clone()).expect("utf-8");
        assert_eq!(
            text, "::add-mask::ghs_token\n::add-mask::registry-pass\n",
            "{text}"
        );
    }
}
