//! gitops-promote: the release work of a develop → staging → production Flux GitOps pipeline.
//!
//! Data flows one way: environment → [`inputs::Invocation`] (raw strings) → typed settings → facts (git,
//! registry, files; read only) → [`plan::Plan`] (a value, printed by dry-run) → [`apply`] (effects) →
//! [`report::Report`] (outputs, summary, annotations). `main.rs` wires the real process environment and
//! writes the report; everything here is testable from literal values.

pub mod actions;
pub mod apply;
pub mod branches;
pub mod changes;
pub mod checklist;
pub mod cli;
pub mod docs;
pub mod env;
pub mod error;
pub mod flux;
pub mod gates;
pub mod git;
pub mod github;
pub mod http;
pub mod image;
pub mod inputs;
pub mod manifests;
pub mod modes;
pub mod plan;
pub mod promotion_rules;
pub mod proposal;
pub mod registry;
pub mod registry_settings;
pub mod release_steps;
pub mod report;
pub mod retag_plan;
pub mod tag_lister;
pub mod template;
pub mod tls;
pub mod version;

use actions::Console;
use env::GithubContext;
use error::Result;
use inputs::{Invocation, Mode};
use report::Report;

/// Runs one mode. Bad input fails before anything outside is touched.
pub fn run(
    invocation: &Invocation,
    github: &GithubContext,
    console: &mut Console,
) -> Result<Report> {
    match invocation.mode {
        Mode::DevelopBuild | Mode::StagingBuild => modes::build::run(invocation, github, console),
        Mode::Retag => modes::retag::run(invocation, github, console),
        Mode::Patch => modes::patch::run(invocation, github, console),
        Mode::Select => modes::select::run(invocation, github, console),
        Mode::Lint => modes::lint::run(invocation, github, console),
        Mode::Promote => modes::promote::run(invocation, github, console),
        Mode::Release => modes::release::run(invocation, github, console),
        Mode::Plan => modes::plan::run(invocation, github, console),
        Mode::Rollback => modes::rollback::run(invocation, github, console),
        Mode::Checklist => modes::checklist::run(invocation, github, console),
    }
}
