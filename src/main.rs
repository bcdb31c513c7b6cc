//! The binary: reads the process environment, picks the front door (CLI arguments, else Action inputs), runs
//! the library and writes the report. Exit codes: 0 success, 1 failure while working, 2 bad input.

use std::process::ExitCode;

use gitops_promote::actions::{self, Console};
use gitops_promote::cli;
use gitops_promote::env::Environment;
use gitops_promote::inputs::Invocation;

fn main() -> ExitCode {
    let env = Environment::from_process();
    let args: Vec<_> = std::env::args_os().collect();
    let mut console = Console::new(
        env.in_actions,
        Box::new(std::io::stdout()),
        Box::new(std::io::stderr()),
    );

    // Arguments mean the CLI (also inside a workflow's `run:` step); none inside Actions means the action.
    let invocation = if args.len() > 1 || !env.in_actions {
        match cli::parse(args, &env) {
            Ok(invocation) => invocation,
            Err(e) => {
                let _ = e.print();
                return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
            }
        }
    } else {
        match Invocation::from_actions(&env) {
            Ok(invocation) => invocation,
            Err(e) => return fail_with_summary(&mut console, &env, &e),
        }
    };

    match gitops_promote::run(&invocation, &env.github, &mut console) {
        Ok(report) => {
            for annotation in &report.annotations {
                console.annotate(annotation);
            }
            if env.in_actions {
                if let Some(path) = &env.github.output
                    && let Err(e) = actions::write_outputs(path, &report.outputs)
                {
                    return fail(&mut console, &e.into());
                }
                if let Some(path) = &env.github.step_summary
                    && let Err(e) = actions::write_summary(path, &report.summary)
                {
                    return fail(&mut console, &e.into());
                }
            }
            console.print(&report.text);
            match &report.failure {
                Some(e) => fail(&mut console, e),
                None => ExitCode::SUCCESS,
            }
        }
        Err(e) => fail_with_summary(&mut console, &env, &e),
    }
}

/// A run that failed before it had a report still writes a step summary: the error and its fix.
fn fail_with_summary(
    console: &mut Console,
    env: &Environment,
    error: &gitops_promote::error::Error,
) -> ExitCode {
    if env.in_actions
        && let Some(path) = &env.github.step_summary
    {
        // Best effort: the annotation and the log already carry the error.
        let _ = actions::write_summary(path, &error.summary());
    }
    fail(console, error)
}

fn fail(console: &mut Console, error: &gitops_promote::error::Error) -> ExitCode {
    for annotation in error.annotations() {
        console.annotate(&annotation);
    }
    if console.in_actions() {
        // The annotation carries the text on the run page; repeat it plainly for the raw log.
        console.info(&format!("error: {error}"));
    }
    ExitCode::from(u8::try_from(error.exit_code()).unwrap_or(1))
}
