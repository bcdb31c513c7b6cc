//! Owns the CLI front door: one subcommand per mode, one `--flag` per input, generated from the input table
//! in `inputs.rs` so the CLI and the action can never offer different options.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Arg, ArgAction, Command};

use crate::env::Environment;
use crate::inputs::{INPUTS, InputSpec, Invocation, Kind, Mode};

fn arg(spec: &InputSpec, mode: Mode) -> Arg {
    let mut help = spec.help(mode).to_string();
    if let Some(default) = spec.program_default() {
        help.push_str(&format!(" [default: {default}]"));
    }
    let arg = Arg::new(spec.name)
        .long(spec.name)
        .help(help)
        .action(ArgAction::Set);
    match spec.kind {
        // `--dry-run` alone means true; `--dry-run false` and `--dry-run=false` are accepted too.
        Kind::Bool => arg
            .num_args(0..=1)
            .default_missing_value("true")
            .value_name("true|false"),
        Kind::Secret => arg.value_name("TOKEN"),
        Kind::Choice(_) | Kind::Text => arg.value_name(spec.name.to_uppercase().replace('-', "_")),
    }
}

/// The whole CLI.
pub fn command() -> Command {
    let mut cmd = Command::new("gitops-promote")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Release work of a develop → staging → production Flux GitOps pipeline, as a GitHub Action and a CLI")
        .subcommand_required(true)
        .arg_required_else_help(true);
    for mode in Mode::ALL {
        let mut sub = Command::new(mode.name()).about(mode.about()).arg(
            Arg::new("repo")
                .long("repo")
                .value_name("PATH")
                .default_value(".")
                .help("The git repository to work in"),
        );
        for spec in INPUTS.iter().filter(|s| s.on_cli(*mode)) {
            sub = sub.arg(arg(spec, *mode));
        }
        cmd = cmd.subcommand(sub);
    }
    cmd
}

/// Parses the command line into the same [`Invocation`] the Actions front door produces.
pub fn parse(
    args: impl IntoIterator<Item = OsString>,
    env: &Environment,
) -> Result<Invocation, clap::Error> {
    let matches = command()
        .try_get_matches_from(args)
        .map_err(list_modes_if_unknown)?;
    let Some((name, sub)) = matches.subcommand() else {
        return Err(command().error(
            clap::error::ErrorKind::MissingSubcommand,
            "a mode is required",
        ));
    };
    let Some(mode) = Mode::from_name(name) else {
        return Err(command().error(clap::error::ErrorKind::InvalidSubcommand, name.to_string()));
    };
    let mut raw = BTreeMap::new();
    for spec in INPUTS.iter().filter(|s| s.on_cli(mode)) {
        if let Some(value) = sub.get_one::<String>(spec.name) {
            raw.insert(spec.name.to_string(), value.clone());
        }
    }
    // A token on the command line shows in `ps` and shell history; the environment is the better place.
    if let Some(token) = env.github.token.clone().filter(|t| !t.is_empty())
        && !raw.contains_key("github-token")
    {
        raw.insert("github-token".to_string(), token);
    }
    // Likewise the registry secrets, unless one of them is on the command line (the flags win, as a pair).
    if !raw.contains_key("registry-password") && !raw.contains_key("registry-token") {
        for (input, value) in [
            ("registry-password", &env.registry_password),
            ("registry-token", &env.registry_token),
        ] {
            if let Some(value) = value.clone().filter(|v| !v.is_empty())
                && INPUTS.iter().any(|s| s.name == input && s.applies_to(mode))
            {
                raw.insert(input.to_string(), value);
            }
        }
    }
    let repo = sub
        .get_one::<String>("repo")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    Ok(Invocation {
        mode,
        raw,
        repo,
        in_actions: env.in_actions,
    })
}

/// An unknown subcommand is an unknown mode: say so and list the modes (clap alone only says "unrecognized").
fn list_modes_if_unknown(e: clap::Error) -> clap::Error {
    if e.kind() != clap::error::ErrorKind::InvalidSubcommand {
        return e;
    }
    let name = match e.get(clap::error::ContextKind::InvalidSubcommand) {
        Some(clap::error::ContextValue::String(name)) => name.clone(),
        _ => String::new(),
    };
    let width = Mode::ALL.iter().map(|m| m.name().len()).max().unwrap_or(0);
    let modes: String = Mode::ALL
        .iter()
        .map(|m| format!("\n  {:<width$}  {}", m.name(), m.about()))
        .collect();
    command().error(
        clap::error::ErrorKind::InvalidSubcommand,
        format!("unknown mode `{name}`; the modes are:{modes}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_is_well_formed() {
        command().debug_assert();
    }

    #[test]
    fn each_subcommand_describes_its_flags_for_its_own_mode() {
        // Regression: `develop-build --help` described `--image` in terms of `patch` and `select`.
        for mode in Mode::ALL {
            for spec in INPUTS.iter().filter(|s| s.on_cli(*mode)) {
                let help = spec.help(*mode);
                for other in Mode::ALL.iter().filter(|m| *m != mode) {
                    assert!(
                        !help.contains(&format!("`{other}`")),
                        "`{mode} --{}` speaks of `{other}`: {help}",
                        spec.name
                    );
                }
            }
        }
    }

    #[test]
    fn modes_that_change_nothing_offer_no_dry_run_and_no_github_token() {
        for mode in [Mode::Select, Mode::Lint] {
            let sub = command()
                .find_subcommand(mode.name())
                .cloned()
                .expect("subcommand");
            let flags: Vec<_> = sub
                .get_arguments()
                .map(|a| a.get_id().to_string())
                .collect();
            assert!(!flags.contains(&"dry-run".to_string()), "{mode}: {flags:?}");
            assert!(
                !flags.contains(&"github-token".to_string()),
                "{mode}: {flags:?}"
            );
        }
    }

    #[test]
    fn flags_become_raw_inputs() {
        let env = Environment::default();
        let inv = parse(
            [
                "gitops-promote",
                "staging-build",
                "--image",
                "ghcr.io/o/a",
                "--dry-run",
                "--repo",
                "/r",
            ]
            .map(OsString::from),
            &env,
        )
        .expect("parse");
        assert_eq!(inv.mode, Mode::StagingBuild);
        assert_eq!(inv.raw["image"], "ghcr.io/o/a");
        assert_eq!(inv.raw["dry-run"], "true");
        assert_eq!(inv.repo, PathBuf::from("/r"));
    }

    #[test]
    fn registry_secrets_come_from_the_environment_unless_a_flag_gives_one() {
        let env = Environment::from_vars([
            (
                crate::env::GITOPS_PROMOTE_REGISTRY_TOKEN.to_string(),
                "env-token".to_string(),
            ),
            (
                crate::env::GITOPS_PROMOTE_REGISTRY_PASSWORD.to_string(),
                String::new(),
            ),
        ]);
        let args = |extra: &[&str]| {
            let mut a = vec![
                "gitops-promote",
                "retag",
                "--source",
                "r/a:1",
                "--tags",
                "x",
            ];
            a.extend_from_slice(extra);
            a.into_iter().map(OsString::from).collect::<Vec<_>>()
        };
        let inv = parse(args(&[]), &env).expect("parse");
        assert_eq!(inv.raw["registry-token"], "env-token");
        assert!(
            !inv.raw.contains_key("registry-password"),
            "empty is absent"
        );
        let inv = parse(args(&["--registry-password", "p"]), &env).expect("parse");
        assert_eq!(inv.raw["registry-password"], "p");
        assert!(!inv.raw.contains_key("registry-token"), "the flag wins");
        // A mode without registry inputs takes nothing from the environment.
        let inv = parse(
            ["gitops-promote", "patch", "--image", "a"].map(OsString::from),
            &env,
        )
        .expect("parse");
        assert!(!inv.raw.contains_key("registry-token"));
    }
}
