//! Owns the registry inputs every mode that talks to a registry reads (`registry-*`, `insecure-registry`, and the
//! ghcr.io default of `github-token` + `GITHUB_ACTOR`), and masking the credentials they carry.

use std::time::Duration;

use crate::actions::Console;
use crate::env::GithubContext;
use crate::error::InputProblem;
use crate::image::ImageName;
use crate::inputs::Reader;
use crate::registry::auth::{Credentials, Login};
use crate::registry::{self, Reference};

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
    let explicit = match (username, password, token) {
        (_, Some(_), Some(_)) => {
            r.problem(
                InputProblem::new(
                    "registry-token",
                    "is given together with `registry-password`",
                )
                .help("give either a bearer token or a user and password"),
            );
            None
        }
        (_, None, Some(token)) => Some(Credentials::Bearer(token)),
        (Some(username), Some(password), None) => Some(Credentials::Basic { username, password }),
        (Some(_), None, None) => {
            r.problem(
                InputProblem::new("registry-username", "is given without `registry-password`")
                    .help("set `registry-password` too (a password or access token)"),
            );
            None
        }
        (None, Some(password), None) => match github.actor.clone().filter(|a| !a.is_empty()) {
            Some(actor) => Some(Credentials::Basic {
                username: actor,
                password,
            }),
            None => {
                r.problem(
                    InputProblem::new("registry-password", "is given without `registry-username`")
                        .help("set `registry-username` too"),
                );
                None
            }
        },
        (None, None, None) => None,
    };
    // ghcr.io accepts the workflow's token with the actor's name; it is the weakest login and serves ghcr.io
    // only, so it is there beside explicit inputs meant for another registry (GHCR staging → ECR production).
    let ghcr_default = match (
        r.secret("github-token"),
        github.actor.clone().filter(|a| !a.is_empty()),
    ) {
        (Some(password), Some(actor)) => Some(Credentials::Basic {
            username: actor,
            password,
        }),
        _ => None,
    };
    let login = Login {
        explicit,
        explicit_host: run_registry(r),
        store: github.registry_logins.clone(),
        ghcr_default,
    };
    registry::Settings {
        login,
        insecure,
        timeout: Duration::from_secs(timeout),
        ..registry::Settings::default()
    }
}

/// The registry the explicit inputs belong to: the host of `source` in `retag`, else of `image` (a provider's
/// `oci://` URL in `select` included). `None` in modes without one image. A bad value is reported by the mode
/// that reads the input; here it only means no host.
fn run_registry(r: &Reader<'_>) -> Option<String> {
    if let Some(source) = r.text("source") {
        return Reference::parse(&source).ok().map(|s| s.image.registry);
    }
    let image = r.text("image")?;
    let image = image.strip_prefix("oci://").unwrap_or(&image);
    ImageName::parse(image).ok().map(|i| i.registry)
}

/// Masks the registry credentials on the runner before any request can echo them.
pub fn mask_login(console: &mut Console, settings: &registry::Settings) {
    let login = &settings.login;
    for credentials in [&login.explicit, &login.ghcr_default].into_iter().flatten() {
        if let Some(secret) = credentials.secret() {
            console.mask(secret.expose());
        }
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
        let store = registry::credential_store::CredentialStore::default();
        assert!(matches!(
            settings.login.resolve("ghcr.io", &store).expect("resolve").0,
            Credentials::Basic { username, .. } if username == "octocat"
        ));
        assert_eq!(
            settings
                .login
                .resolve("docker.io", &store)
                .expect("resolve")
                .0,
            Credentials::Anonymous
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

    #[test]
    fn explicit_inputs_belong_to_the_host_of_source_or_image() {
        let github = GithubContext::default();
        for (pairs, host) in [
            (
                vec![("source", "reg.a:5000/app:v1"), ("image", "reg.b/app")],
                Some("reg.a:5000"),
            ),
            (vec![("image", "oci://quay.io/org/app")], Some("quay.io")),
            (vec![("image", "nginx")], Some("docker.io")),
            (vec![], None),
        ] {
            let mut all = pairs.clone();
            all.push(("registry-token", "t"));
            let inv = invocation(&all);
            let mut r = inv.reader();
            let settings = read_registry_settings(&mut r, &github);
            assert_eq!(settings.login.explicit_host.as_deref(), host, "{pairs:?}");
        }
    }
}
