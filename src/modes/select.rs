//! Owns the `select` mode. (Being built; see the issue that adds it.)

use crate::actions::Console;
use crate::env::GithubContext;
use crate::error::{Error, Kind, Result};
use crate::inputs::Invocation;
use crate::report::Report;

pub fn run(
    _invocation: &Invocation,
    _github: &GithubContext,
    _console: &mut Console,
) -> Result<Report> {
    Err(Error::new(
        Kind::Input,
        "mode `select` is not available yet",
    ))
}
