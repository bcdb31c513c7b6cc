//! Owns the error categories a person can act on, and how each becomes text, annotations and an exit code.

use std::fmt;

use crate::actions::Annotation;

/// What went wrong, in terms of what the reader should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// One or more inputs are wrong; nothing was done.
    Input,
    /// The git repository cannot be used as it is (shallow clone, missing HEAD, …).
    Git,
    /// The target already exists with other content (a tag on another commit or digest).
    Conflict,
    /// The credentials were refused or lack a permission.
    Permission,
    /// The thing asked for does not exist.
    NotFound,
    /// A remote service failed; its answer is kept in the message.
    Upstream,
    /// Reading or writing a local file failed.
    Io,
    /// A Flux object would not deploy what we are about to produce.
    Flux,
}

impl Kind {
    fn title(self) -> &'static str {
        match self {
            Kind::Input => "invalid input",
            Kind::Git => "git repository",
            Kind::Conflict => "conflict",
            Kind::Permission => "permission denied",
            Kind::NotFound => "not found",
            Kind::Upstream => "upstream failure",
            Kind::Io => "file error",
            Kind::Flux => "flux check failed",
        }
    }
}

/// One bad input: which one, what is wrong, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct InputProblem {
    /// The input's name as the action spells it (`develop-tag-template`); the CLI flag is `--` + this.
    pub input: String,
    pub message: String,
    pub help: Option<String>,
}

impl InputProblem {
    pub fn new(input: &str, message: impl Into<String>) -> Self {
        Self {
            input: input.to_string(),
            message: message.into(),
            help: None,
        }
    }

    pub fn help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }
}

/// The error every stage returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    pub help: Option<String>,
    /// For [`Kind::Input`]: every bad input, reported together.
    pub problems: Vec<InputProblem>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            help: None,
            problems: Vec::new(),
        }
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// All bad inputs at once.
    pub fn inputs(problems: Vec<InputProblem>) -> Self {
        let message = match problems.as_slice() {
            [one] => format!("invalid input `{}`: {}", one.input, one.message),
            many => format!("{} invalid inputs", many.len()),
        };
        Self {
            kind: Kind::Input,
            message,
            help: None,
            problems,
        }
    }

    /// A single bad input.
    pub fn input(problem: InputProblem) -> Self {
        Self::inputs(vec![problem])
    }

    /// Process exit code: 2 for bad input (nothing was attempted), 1 for a failure while working.
    pub fn exit_code(&self) -> i32 {
        match self.kind {
            Kind::Input => 2,
            _ => 1,
        }
    }

    /// The step summary of a run that failed: what went wrong and the fix, in Markdown, so the run's page says
    /// why at a glance (the annotations say it too, but a summary is where a reader of the run looks first).
    pub fn summary(&self) -> String {
        let mut md = format!("### gitops-promote failed: {}\n\n", self.kind.title());
        md.push_str(&self.message);
        md.push('\n');
        match self.problems.as_slice() {
            // The message already names the one input.
            [one] => {
                if let Some(help) = &one.help {
                    md.push_str(&format!("\n**help:** {help}\n"));
                }
            }
            many => {
                for p in many {
                    md.push_str(&format!("\n- `{}`: {}", p.input, p.message));
                    if let Some(help) = &p.help {
                        md.push_str(&format!(" (help: {help})"));
                    }
                }
                if !many.is_empty() {
                    md.push('\n');
                }
            }
        }
        if let Some(help) = &self.help {
            md.push_str(&format!("\n**help:** {help}\n"));
        }
        md
    }

    /// One annotation per problem, so each bad input shows on its own line of the run page.
    pub fn annotations(&self) -> Vec<Annotation> {
        if self.problems.is_empty() {
            let mut message = self.message.clone();
            if let Some(help) = &self.help {
                message.push_str(&format!("\nhelp: {help}"));
            }
            return vec![Annotation::error(self.kind.title(), message)];
        }
        self.problems
            .iter()
            .map(|p| {
                let mut message = p.message.clone();
                if let Some(help) = &p.help {
                    message.push_str(&format!("\nhelp: {help}"));
                }
                Annotation::error(format!("invalid input `{}`", p.input), message)
            })
            .collect()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        for p in &self.problems {
            if self.problems.len() > 1 {
                write!(f, "\n  - `{}`: {}", p.input, p.message)?;
            }
            if let Some(help) = &p.help {
                let indent = if self.problems.len() > 1 { "    " } else { "" };
                write!(f, "\n{indent}help: {help}")?;
            }
        }
        if let Some(help) = &self.help {
            write!(f, "\nhelp: {help}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::new(Kind::Io, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_runs_summary_names_the_one_input_once_and_its_fix() {
        let error = Error::input(
            InputProblem::new("staging-tag", "`v1` is not a version").help("give e.g. `v1.2.3`"),
        );
        let summary = error.summary();
        assert_eq!(
            summary,
            "### gitops-promote failed: invalid input\n\n\
             invalid input `staging-tag`: `v1` is not a version\n\n**help:** give e.g. `v1.2.3`\n"
        );
    }
}
