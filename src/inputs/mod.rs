//! Owns the interface: the modes, every input and output with its description and default (the single source
//! that `action.yml`, the CLI flags and the README tables are generated from), and the two-phase parse from
//! raw strings to typed values.
//!
//! Phase one collects raw strings exactly as they arrive (`INPUT_DEVELOP-TAG-TEMPLATE`, or
//! `--develop-tag-template`); an empty string means "use the default", as GitHub delivers omitted inputs.
//! Phase two ([`Reader`]) turns them into typed values and collects *every* problem before reporting, so a
//! user fixes all their inputs in one round.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, InputProblem, Result};

mod catalogue;
pub use catalogue::{INPUTS, OUTPUTS, OutputSpec};

/// What the binary is asked to do. In Actions this is the `mode` input; on the CLI, the subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    DevelopBuild,
    StagingBuild,
    Retag,
    Patch,
    Select,
    Lint,
    Promote,
    Release,
    Plan,
    Rollback,
    Checklist,
}

impl Mode {
    pub const ALL: &'static [Mode] = &[
        Mode::DevelopBuild,
        Mode::StagingBuild,
        Mode::Retag,
        Mode::Patch,
        Mode::Select,
        Mode::Lint,
        Mode::Promote,
        Mode::Release,
        Mode::Plan,
        Mode::Rollback,
        Mode::Checklist,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mode::DevelopBuild => "develop-build",
            Mode::StagingBuild => "staging-build",
            Mode::Retag => "retag",
            Mode::Patch => "patch",
            Mode::Select => "select",
            Mode::Lint => "lint",
            Mode::Promote => "promote",
            Mode::Release => "release",
            Mode::Plan => "plan",
            Mode::Rollback => "rollback",
            Mode::Checklist => "checklist",
        }
    }

    /// One line for `--help` and the README.
    pub fn about(self) -> &'static str {
        match self {
            Mode::DevelopBuild => {
                "Compute the release-candidate version and tag for a push to develop"
            }
            Mode::StagingBuild => {
                "Compute the stable version and tag for a merge to main, and cut the git tag"
            }
            Mode::Retag => "Point new tags at an image's exact digest, without moving layers",
            Mode::Patch => "Set an image's tag or digest in a manifest, changing no other byte",
            Mode::Select => {
                "Print the tags a Flux provider or ImagePolicy would select, in Flux's order"
            }
            Mode::Lint => "Check the Flux objects the pipeline depends on",
            Mode::Promote => {
                "Promote the staging image to production through a reviewed pull request"
            }
            Mode::Release => {
                "After a promotion is merged: move the moving tag, cut the git tag, publish the GitHub release"
            }
            Mode::Plan => {
                "Show what runs where: each application's environments, drift, the next promotion (read-only)"
            }
            Mode::Rollback => {
                "Roll production back to an earlier release through a reviewed pull request (or at once)"
            }
            Mode::Checklist => {
                "On a pull request event: the status gitops-promote/checklist follows its checklist's boxes"
            }
        }
    }

    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// `develop-build, staging-build`: for error messages and docs.
    pub fn names() -> String {
        Mode::ALL
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an input's string is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// `true` or `false`, nothing else. On the CLI a bare `--flag` means `true`.
    Bool,
    /// Never logged; masked on the runner.
    Secret,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
}

/// One input of the action, which is also one CLI flag of every subcommand in `modes`.
#[derive(Debug, Clone, Copy)]
pub struct InputSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// The default as `action.yml` writes it (an expression for `github-token`).
    pub default: Option<&'static str>,
    pub kind: Kind,
    /// Modes that read it; empty means "every mode".
    pub modes: &'static [Mode],
    /// Whether the CLI offers it as a flag (`mode` is the subcommand there).
    pub cli: bool,
    /// The description as one mode's `--help` shows it, where [`InputSpec::description`] (the complete text
    /// `action.yml` and the README carry) also speaks of other modes.
    pub per_mode: &'static [(Mode, &'static str)],
    /// Modes that read the input only for what a runner provides (`github-token` as the ghcr.io password, with
    /// `GITHUB_ACTOR` as the user): the action takes it there, but their subcommand offers no flag.
    pub runner_only: &'static [Mode],
}

impl InputSpec {
    pub fn applies_to(&self, mode: Mode) -> bool {
        self.modes.is_empty() || self.modes.contains(&mode)
    }

    /// Whether `mode`'s subcommand offers this input as a flag.
    pub fn on_cli(&self, mode: Mode) -> bool {
        self.cli && self.applies_to(mode) && !self.runner_only.contains(&mode)
    }

    /// The description for `mode`'s `--help`.
    pub fn help(&self, mode: Mode) -> &'static str {
        self.per_mode
            .iter()
            .find(|(m, _)| *m == mode)
            .map(|(_, text)| *text)
            .unwrap_or(self.description)
    }

    /// The default the program applies itself (expressions are the runner's business).
    pub fn program_default(&self) -> Option<&'static str> {
        self.default.filter(|d| !d.starts_with("${{"))
    }
}

/// Splits a comma- or newline-separated list, dropping blanks.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub fn input_spec(name: &str) -> Option<&'static InputSpec> {
    INPUTS.iter().find(|i| i.name == name)
}

/// A secret value: `Debug` and `Display` print `***`, so it cannot leak through a log or an error.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that hands it to a server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// The event of a run started by hand (`GITHUB_EVENT_NAME`), on which an empty `mode` means [`Mode::Plan`].
pub const MANUAL_EVENT: &str = "workflow_dispatch";

/// Phase one: the mode and the raw strings, from either front door.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub mode: Mode,
    /// Input name → raw value. Absent and empty both mean "default".
    pub raw: BTreeMap<String, String>,
    /// The repository to work in (`--repo`, or `GITHUB_WORKSPACE`).
    pub repo: PathBuf,
    pub in_actions: bool,
}

impl Invocation {
    /// The Actions front door: `mode` and every other input come from `INPUT_*`.
    pub fn from_actions(env: &crate::env::Environment) -> Result<Self> {
        let mode_raw = env.inputs.get("mode").map(|s| s.trim()).unwrap_or("");
        // A person who starts a run by hand without choosing a mode gets the read-only overview.
        let manual = env.github.event_name.as_deref() == Some(MANUAL_EVENT);
        let mode = if mode_raw.is_empty() && manual {
            Some(Mode::Plan)
        } else {
            Mode::from_name(mode_raw)
        };
        let mode = mode.ok_or_else(|| {
            let message = if mode_raw.is_empty() {
                "no mode given".to_string()
            } else {
                format!("unknown mode `{mode_raw}`")
            };
            Error::input(
                InputProblem::new("mode", message)
                    .help(format!("set `with: mode:` to one of: {}", Mode::names())),
            )
        })?;
        let repo = env
            .github
            .workspace
            .clone()
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Self {
            mode,
            raw: env.inputs.clone(),
            repo,
            in_actions: true,
        })
    }

    /// Phase two starts here.
    pub fn reader(&self) -> Reader<'_> {
        Reader {
            invocation: self,
            problems: Vec::new(),
        }
    }
}

/// Phase two: typed values, with every problem collected. Call [`Reader::finish`] before acting.
pub struct Reader<'a> {
    invocation: &'a Invocation,
    problems: Vec<InputProblem>,
}

impl Reader<'_> {
    /// The value, or the spec's default, or `None`; surrounding whitespace is dropped.
    pub fn text(&self, name: &str) -> Option<String> {
        let raw = self
            .invocation
            .raw
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty());
        match raw {
            Some(v) => Some(v.to_string()),
            None => input_spec(name)
                .and_then(|s| s.program_default())
                .map(str::to_string),
        }
    }

    /// The value as given, without the spec's default (for inputs whose default depends on the mode).
    pub fn given(&self, name: &str) -> Option<String> {
        self.invocation
            .raw
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    /// A value the mode cannot work without.
    pub fn required(&mut self, name: &str, help: &str) -> String {
        match self.text(name) {
            Some(v) => v,
            None => {
                self.problems
                    .push(InputProblem::new(name, "is required but was not given").help(help));
                String::new()
            }
        }
    }

    /// `true`/`false` only; anything else is a problem (and reads as the default).
    pub fn bool(&mut self, name: &str) -> bool {
        let default = input_spec(name).and_then(|s| s.program_default()) == Some("true");
        match self.text(name).as_deref() {
            None => default,
            Some("true") => true,
            Some("false") => false,
            Some(other) => {
                self.problems.push(
                    InputProblem::new(name, format!("`{other}` is not a boolean"))
                        .help("use `true` or `false`"),
                );
                default
            }
        }
    }

    /// A secret; empty means absent.
    pub fn secret(&self, name: &str) -> Option<Secret> {
        self.text(name).map(Secret::new)
    }

    /// Parses the value (or default) with `parse`; a parse error becomes a problem naming the input.
    pub fn parse<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> std::result::Result<T, InputProblem>,
    ) -> Option<T> {
        let value = self.text(name)?;
        match parse(&value) {
            Ok(v) => Some(v),
            Err(mut problem) => {
                problem.input = name.to_string();
                self.problems.push(problem);
                None
            }
        }
    }

    /// Records a problem found while combining inputs.
    pub fn problem(&mut self, problem: InputProblem) {
        self.problems.push(problem);
    }

    /// Every problem, or nothing.
    pub fn finish(self) -> Result<()> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Error::inputs(self.problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Environment;

    fn actions_env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_vars(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string())),
        )
    }

    #[test]
    fn unknown_mode_lists_the_accepted_ones() {
        let env = actions_env(&[("INPUT_MODE", "deploy")]);
        let err = Invocation::from_actions(&env).expect_err("unknown mode");
        assert_eq!(err.problems[0].input, "mode");
        assert!(err.to_string().contains("develop-build, staging-build"));
    }

    #[test]
    fn an_empty_mode_is_plan_on_a_manual_run_only() {
        let manual = actions_env(&[
            ("INPUT_MODE", ""),
            ("GITHUB_EVENT_NAME", "workflow_dispatch"),
        ]);
        assert_eq!(
            Invocation::from_actions(&manual).expect("plan").mode,
            Mode::Plan
        );
        let chosen = actions_env(&[
            ("INPUT_MODE", "lint"),
            ("GITHUB_EVENT_NAME", "workflow_dispatch"),
        ]);
        assert_eq!(
            Invocation::from_actions(&chosen).expect("lint").mode,
            Mode::Lint
        );
        let push = actions_env(&[("INPUT_MODE", ""), ("GITHUB_EVENT_NAME", "push")]);
        let err = Invocation::from_actions(&push).expect_err("no mode on a push");
        assert!(err.to_string().contains("no mode given"), "{err}");
    }

    #[test]
    fn empty_input_means_default_and_booleans_are_strict() {
        let env = actions_env(&[
            ("INPUT_MODE", "staging-build"),
            ("INPUT_TAG-PREFIX", ""),
            ("INPUT_GIT-TAG", "yes"),
        ]);
        let inv = Invocation::from_actions(&env).expect("mode");
        let mut r = inv.reader();
        assert_eq!(r.text("tag-prefix").as_deref(), Some("v"));
        assert!(r.bool("git-tag"), "a bad boolean reads as its default");
        let err = r.finish().expect_err("bad boolean");
        assert_eq!(err.problems[0].input, "git-tag");
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("ghp_supersecret");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(
            serde_json::to_string(&s).expect("json"),
            "\"***\"".to_string()
        );
    }
}
