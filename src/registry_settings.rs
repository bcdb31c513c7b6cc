//! Owns the registry inputs every mode that talks to a registry reads (`registry-*`, `insecure-registry`, and the
//! ghcr.io default of `github-token` + `GITHUB_ACTOR`), and masking the credentials they carry.

use std::time::Duration;

use crate::actions::Console;
use crate::env::GithubContext;
use crate::error::InputProblem;
use crate::inputs::Reader;
use crate::registry;
use crate::registry::auth::{Credentials, Login};

/// Reads the registry inputs (shared by `retag`, `promote`, `select`, `lint` and the build modes). Without any, the
/// workflow's `github-token` and `GITHUB_ACTOR` are the credentials for ghcr.io only.
pub fn read_registry_settings(r: &mut Reader<'_>, github: &GithubContext) -> registry::Settings {
    let username = r.text("registry-username");
    let password = r.secret("registry-password");
    let token = r.secret("registry-token");
    let insecure = r.bool("insecure-registry");
    let timeout = r
        .parse("registry-timeout", |v| {
            v.parse::<u64>()
                .ok()
                .filter(|s| (1..=86_400).contains(s))
                .ok_or_else(|| {
                    InputProblem::new(
                        "registry-timeout",
                        format!("`{v}` is not a number of seconds"),
                    )
                    .help("give whole seconds between 1 and 86400, e.g. `600`")
                })
        })
        .unwrap_or(600);
    let login = match (username, password, token) {
        (_, Some(_), Some(_)) => {
            r.problem(
                InputProblem::new(
                    "registry-token",
                    "is given together with `registry-password`",
                )
                .help("give either a bearer token or a user and password"),
            );
            Login::default()
        }
        (_, None, Some(token)) => Login {
            credentials: Credentials::Bearer(token),
            only_host: None,
        },
        (Some(username), Some(password), None) => Login {
            credentials: Credentials::Basic { username, password },
            only_host: None,
        },
        (Some(_), None, None) => {
            r.problem(
                InputProblem::new("registry-username", "is given without `registry-password`")
                    .help("set `registry-password` too (a password or access token)"),
            );
            Login::default()
        }
        (None, Some(password), None) => match github.actor.clone().filter(|a| !a.is_empty()) {
            Some(actor) => Login {
                credentials: Credentials::Basic {
                    username: actor,
                    password,
                },
                only_host: None,
            },
            None => {
                r.problem(
                    InputProblem::new("registry-password", "is given without `registry-username`")
                        .help("set `registry-username` too"),
                );
                Login::default()
            }
        },
        // ghcr.io accepts the workflow's token with the actor's name; nothing is sent to other registries.
        (None, None, None) => match (
            r.secret("github-token"),
            github.actor.clone().filter(|a| !a.is_empty()),
        ) {
            (Some(password), Some(actor)) => Login {
                credentials: Credentials::Basic {
                    username: actor,
                    password,
                },
                only_host: Some("ghcr.io".to_string()),
            },
            _ => Login::default(),
        },
    };
    registry::Settings {
        login,
        insecure,
        timeout: Duration::from_secs(timeout),
        ..registry::Settings::default()
    }
}

/// Masks the registry credentials on the runner before any request can echo them.
pub fn mask_login(console: &mut Console, settings: &registry::Settings) {
    match &settings.login.credentials {
        Credentials::Basic { password, .. } => console.mask(password.expose()),
        Credentials::Bearer(token) => console.mask(token.expose()),
        Credentials::Anonymous => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inputs::Invocation;

    fn invocation(pairs: &[(&str, &str)]) -> Invocation {
        Invocation {
            mode: crate::inputs::Mode::Retag,
            raw: pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
                .collect(),
            repo: ".".into(),
            in_actions: true,
        }
    }

    #[test]
    fn ghcr_defaults_to_the_actor_and_the_workflow_token_and_nothing_else_gets_them() {
        let github = GithubContext {
            actor: Some("octocat".into()),
            ..Default::default()
        };
        let inv = invocation(&[("github-token", "ghs_x")]);
        let mut r = inv.reader();
        let settings = read_registry_settings(&mut r, &github);
        r.finish().expect("valid");
        assert_eq!(settings.login.only_host.as_deref(), Some("ghcr.io"));
        assert!(matches!(
            settings.login.for_host("ghcr.io"),
            Credentials::Basic { username, .. } if username == "octocat"
        ));
        assert_eq!(
            settings.login.for_host("docker.io"),
            &Credentials::Anonymous
        );
        assert!(!settings.insecure);
        assert_eq!(settings.timeout, Duration::from_secs(600));

        let inv = invocation(&[
            ("registry-username", "u"),
            ("registry-password", "p"),
            ("registry-token", "t"),
            ("registry-timeout", "0"),
        ]);
        let mut r = inv.reader();
        read_registry_settings(&mut r, &github);
        let err = r.finish().expect_err("conflicting credentials");
        let inputs: Vec<_> = err.problems.iter().map(|p| p.input.as_str()).collect();
        assert_eq!(inputs, ["registry-timeout", "registry-token"]);
    }
}
