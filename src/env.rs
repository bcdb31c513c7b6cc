//! Owns every environment variable the program reads; nothing else calls `std::env`.
//!
//! The process environment is read once, in `main.rs`, into an [`Environment`] value. Everything after that
//! works from the value, so tests build environments from literals and never touch the real one.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

/// `true` when the binary runs as a GitHub Actions step.
pub const GITHUB_ACTIONS: &str = "GITHUB_ACTIONS";
/// Prefix GitHub puts before every action input; names keep their hyphens and are upper-cased.
pub const INPUT_PREFIX: &str = "INPUT_";
/// Prefix of the run context variables read by [`GithubContext`].
pub const GITHUB_PREFIX: &str = "GITHUB_";
/// File the step's outputs are appended to.
pub const GITHUB_OUTPUT: &str = "GITHUB_OUTPUT";
/// File the step's Markdown summary is appended to.
pub const GITHUB_STEP_SUMMARY: &str = "GITHUB_STEP_SUMMARY";
/// Token a CLI user exports instead of passing `--github-token` (which would show in `ps`).
pub const GITHUB_TOKEN: &str = "GITHUB_TOKEN";
/// Registry password a CLI user exports instead of passing `--registry-password` (which would show in `ps`).
pub const GITOPS_PROMOTE_REGISTRY_PASSWORD: &str = "GITOPS_PROMOTE_REGISTRY_PASSWORD";
/// Registry bearer token a CLI user exports instead of passing `--registry-token`.
pub const GITOPS_PROMOTE_REGISTRY_TOKEN: &str = "GITOPS_PROMOTE_REGISTRY_TOKEN";
/// Docker's configuration directory (its `config.json` holds the registry logins); default `~/.docker`.
pub const DOCKER_CONFIG: &str = "DOCKER_CONFIG";
/// The user's home, for `~/.docker/config.json` and `~/.config/containers/auth.json`.
pub const HOME: &str = "HOME";
/// The containers `auth.json` podman, skopeo and buildah write logins to (containers-auth.json(5)).
pub const REGISTRY_AUTH_FILE: &str = "REGISTRY_AUTH_FILE";
/// Where the containers tools keep `containers/auth.json` by default.
pub const XDG_RUNTIME_DIR: &str = "XDG_RUNTIME_DIR";

/// The run context GitHub sets for every step (`GITHUB_*`), deserialised with `envy`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct GithubContext {
    /// `GITHUB_SHA`: the commit the workflow runs on.
    pub sha: Option<String>,
    /// `GITHUB_REF`: e.g. `refs/heads/main`.
    #[serde(rename = "ref")]
    pub git_ref: Option<String>,
    /// `GITHUB_REPOSITORY`: `owner/name`.
    pub repository: Option<String>,
    /// `GITHUB_RUN_NUMBER`: the `{run}` placeholder.
    pub run_number: Option<String>,
    /// `GITHUB_WORKSPACE`: the checked-out repository.
    pub workspace: Option<PathBuf>,
    /// `GITHUB_EVENT_NAME`: what started the run (`push`, `workflow_dispatch`, …).
    pub event_name: Option<String>,
    /// `GITHUB_EVENT_PATH`: the JSON payload of that event (the `checklist` mode reads its pull request).
    pub event_path: Option<PathBuf>,
    /// `GITHUB_API_URL`: REST API base, e.g. `https://api.github.com` or a GHES URL.
    pub api_url: Option<String>,
    /// `GITHUB_SERVER_URL`: e.g. `https://github.com`.
    pub server_url: Option<String>,
    /// `GITHUB_ACTOR`: the user that started the run; default registry user for ghcr.io.
    pub actor: Option<String>,
    /// `GITHUB_OUTPUT`: the outputs file.
    pub output: Option<PathBuf>,
    /// `GITHUB_STEP_SUMMARY`: the step summary file.
    pub step_summary: Option<PathBuf>,
    /// `GITHUB_TOKEN`: exported by users of the CLI; GitHub does not set it for actions.
    pub token: Option<String>,
    /// Not a `GITHUB_*` variable: where the runner's registry logins live (`DOCKER_CONFIG`, `HOME`,
    /// `REGISTRY_AUTH_FILE`, `XDG_RUNTIME_DIR`), carried here because every mode that talks to a registry
    /// gets this context. Filled by [`Environment::from_vars`].
    #[serde(skip)]
    pub registry_logins: crate::registry::credential_store::StorePaths,
}

impl GithubContext {
    /// Server URL with the public default.
    pub fn server_url(&self) -> &str {
        non_empty(&self.server_url).unwrap_or("https://github.com")
    }

    /// REST API URL with the public default.
    pub fn api_url(&self) -> &str {
        non_empty(&self.api_url).unwrap_or("https://api.github.com")
    }

    /// `https://github.com/owner/name`, when the repository is known.
    pub fn repository_url(&self) -> Option<String> {
        non_empty(&self.repository)
            .map(|repo| format!("{}/{}", self.server_url().trim_end_matches('/'), repo))
    }
}

fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// A snapshot of the environment the program cares about.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `GITHUB_ACTIONS=true`.
    pub in_actions: bool,
    /// Action inputs by their lower-case name (`develop-tag-template`), exactly as GitHub delivered them.
    pub inputs: BTreeMap<String, String>,
    /// The `GITHUB_*` run context.
    pub github: GithubContext,
    /// `GITOPS_PROMOTE_REGISTRY_PASSWORD`, for the CLI.
    pub registry_password: Option<String>,
    /// `GITOPS_PROMOTE_REGISTRY_TOKEN`, for the CLI.
    pub registry_token: Option<String>,
}

impl Environment {
    /// Reads the process environment. The only place that does.
    pub fn from_process() -> Self {
        Self::from_vars(std::env::vars_os().filter_map(|(k, v)| {
            // A variable that is not UTF-8 cannot be an input we know; skip it rather than fail.
            Some((k.into_string().ok()?, v.into_string().ok()?))
        }))
    }

    /// Builds the snapshot from `(name, value)` pairs; used by tests and by [`Environment::from_process`].
    pub fn from_vars(vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        let in_actions = vars.iter().any(|(k, v)| k == GITHUB_ACTIONS && v == "true");
        let inputs = vars
            .iter()
            .filter_map(|(k, v)| {
                let name = k.strip_prefix(INPUT_PREFIX)?;
                Some((name.to_ascii_lowercase(), v.clone()))
            })
            .collect();
        // envy only fails on a type mismatch, and every field is a string or path: an error is unreachable,
        // but an empty context is the safe answer if it ever happens.
        let mut github = envy::prefixed(GITHUB_PREFIX)
            .from_iter::<_, GithubContext>(vars.iter().cloned())
            .unwrap_or_default();
        let var = |name: &str| {
            vars.iter()
                .find(|(k, v)| k == name && !v.is_empty())
                .map(|(_, v)| v.clone())
        };
        github.registry_logins = crate::registry::credential_store::StorePaths::from_env(
            var(DOCKER_CONFIG).as_deref(),
            var(HOME).as_deref(),
            var(REGISTRY_AUTH_FILE).as_deref(),
            var(XDG_RUNTIME_DIR).as_deref(),
        );
        Self {
            in_actions,
            inputs,
            github,
            registry_password: var(GITOPS_PROMOTE_REGISTRY_PASSWORD),
            registry_token: var(GITOPS_PROMOTE_REGISTRY_TOKEN),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_vars(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string())),
        )
    }

    #[test]
    fn inputs_keep_hyphens_and_are_lower_cased() {
        let env = vars(&[
            ("INPUT_DEVELOP-TAG-TEMPLATE", "x-{sha}"),
            ("INPUT_MODE", "develop-build"),
            ("GITHUB_ACTIONS", "true"),
        ]);
        assert!(env.in_actions);
        assert_eq!(env.inputs["develop-tag-template"], "x-{sha}");
        assert_eq!(env.inputs["mode"], "develop-build");
    }

    #[test]
    fn github_context_reads_run_variables() {
        let env = vars(&[
            ("GITHUB_SHA", "abc"),
            ("GITHUB_REF", "refs/heads/main"),
            ("GITHUB_RUN_NUMBER", "42"),
            ("GITHUB_REPOSITORY", "org/app"),
            ("GITHUB_EVENT_NAME", "workflow_dispatch"),
            (
                "GITHUB_EVENT_PATH",
                "/home/runner/work/_temp/_github_workflow/event.json",
            ),
        ]);
        assert_eq!(
            env.github.event_path.as_deref(),
            Some(std::path::Path::new(
                "/home/runner/work/_temp/_github_workflow/event.json"
            ))
        );
        assert!(!env.in_actions);
        assert_eq!(env.github.event_name.as_deref(), Some("workflow_dispatch"));
        assert_eq!(env.github.git_ref.as_deref(), Some("refs/heads/main"));
        assert_eq!(env.github.run_number.as_deref(), Some("42"));
        assert_eq!(
            env.github.repository_url().as_deref(),
            Some("https://github.com/org/app")
        );
    }
}
