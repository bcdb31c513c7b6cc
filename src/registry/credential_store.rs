//! Owns reading the logins other registry tools left on the machine, as docker reads them: Docker's
//! `config.json` (`auths`, `credHelpers`, `credsStore` through the `docker-credential-<name> get` protocol) and
//! the containers `auth.json` that podman, skopeo and buildah write.
//!
//! Written here rather than taken from a crate: `docker_credential` (1.4) reads `DOCKER_CONFIG` and `HOME`
//! from the process itself (the house keeps every variable in `env.rs`, and the tests build stores from
//! literals), looks up the exact key only (no `https://…/v1/` forms, no Docker Hub aliases), drops
//! `registrytoken` and reads no `auth.json`; `docker-credentials-config` is async, reads `HOME` itself and
//! knows no `auth.json` either; `oci-client` takes ready credentials and reads no store. The formats are small
//! and documented: <https://docs.docker.com/reference/cli/docker/login/#credential-stores>,
//! <https://github.com/docker/docker-credential-helpers#development>, containers-auth.json(5).

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde::Deserialize;

use super::auth::Credentials;
use crate::error::{Error, Kind, Result};
use crate::inputs::Secret;

/// Docker Hub's key in `config.json` and the server URL its credential helpers are asked for.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";
/// The names Docker Hub answers to; one registry.
const DOCKER_HUB_ALIASES: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];

/// The user name a credential helper returns when its secret is an identity (refresh) token.
const IDENTITY_TOKEN_USER: &str = "<token>";

/// Where the stores live, from the environment (see `env.rs`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorePaths {
    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub docker_config: Option<PathBuf>,
    /// `$REGISTRY_AUTH_FILE`, else `${XDG_RUNTIME_DIR}/containers/auth.json`, else
    /// `~/.config/containers/auth.json`.
    pub auth_json: Option<PathBuf>,
}

impl StorePaths {
    /// The paths docker and podman use, from their variables.
    pub fn from_env(
        docker_config_dir: Option<&str>,
        home: Option<&str>,
        registry_auth_file: Option<&str>,
        xdg_runtime_dir: Option<&str>,
    ) -> Self {
        let non_empty = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(PathBuf::from);
        let home = non_empty(home);
        let docker_config = non_empty(docker_config_dir)
            .or_else(|| home.as_ref().map(|h| h.join(".docker")))
            .map(|d| d.join("config.json"));
        let auth_json = non_empty(registry_auth_file)
            .or_else(|| non_empty(xdg_runtime_dir).map(|d| d.join("containers").join("auth.json")))
            .or_else(|| {
                home.as_ref()
                    .map(|h| h.join(".config").join("containers").join("auth.json"))
            });
        Self {
            docker_config,
            auth_json,
        }
    }
}

/// One `auths` entry.
#[derive(Debug, Clone, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

/// The parts of `config.json` / `auth.json` that hold logins.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct StoreFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default)]
    creds_store: Option<String>,
}

/// Where a host's credentials came from; said in the summary, never with the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An `auths` entry of the file.
    File(PathBuf),
    /// `docker-credential-<name>`, configured in the file.
    Helper { name: String, file: PathBuf },
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(path) => write!(f, "`{}`", path.display()),
            Origin::Helper { name, file } => {
                write!(f, "`docker-credential-{name}` (from `{}`)", file.display())
            }
        }
    }
}

/// Docker's store and the containers store, read once.
#[derive(Debug, Clone, Default)]
pub struct CredentialStore {
    files: Vec<(PathBuf, StoreFile)>,
}

/// `https://ghcr.io/v1/`, `http://ghcr.io` or `ghcr.io/org` → `ghcr.io`; Docker Hub's names → `docker.io`.
///
/// ```
/// use gitops_promote::registry::credential_store::normalize_host;
/// assert_eq!(normalize_host("https://index.docker.io/v1/"), "docker.io");
/// assert_eq!(normalize_host("registry-1.docker.io"), "docker.io");
/// assert_eq!(normalize_host("https://123.dkr.ecr.eu-west-1.amazonaws.com"), "123.dkr.ecr.eu-west-1.amazonaws.com");
/// assert_eq!(normalize_host("quay.io/org"), "quay.io");
/// ```
pub fn normalize_host(key: &str) -> String {
    let key = key.trim();
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = key.split('/').next().unwrap_or("").to_ascii_lowercase();
    if DOCKER_HUB_ALIASES.contains(&host.as_str()) {
        "docker.io".to_string()
    } else {
        host
    }
}

/// The server URL a credential helper is asked for: Docker Hub's historic key, else the host.
fn helper_server(host: &str) -> String {
    if host == "docker.io" {
        DOCKER_HUB_KEY.to_string()
    } else {
        host.to_string()
    }
}

impl CredentialStore {
    /// Reads the files that exist. A file that exists but is not the JSON docker writes is an error (docker
    /// refuses it too); an absent file is no login.
    pub fn load(paths: &StorePaths) -> Result<Self> {
        let mut files = Vec::new();
        for path in [&paths.docker_config, &paths.auth_json]
            .into_iter()
            .flatten()
        {
            let text = match std::fs::read_to_string(path) {
                Ok(t) => t,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => {
                    return Err(Error::new(
                        Kind::Io,
                        format!("can't read registry logins from `{}`: {e}", path.display()),
                    ));
                }
            };
            let file: StoreFile = serde_json::from_str(&text).map_err(|e| {
                Error::new(
                    Kind::Io,
                    format!(
                        "can't read registry logins from `{}`: not valid JSON ({e})",
                        path.display()
                    ),
                )
                .with_help("fix or remove the file (`docker login` and `podman login` rewrite it)")
            })?;
            files.push((path.clone(), file));
        }
        Ok(Self { files })
    }

    /// A store made from literal JSON (tests).
    pub fn from_json(path: &Path, json: &str) -> Result<Self> {
        let file: StoreFile = serde_json::from_str(json)
            .map_err(|e| Error::new(Kind::Io, format!("not a registry login file: {e}")))?;
        Ok(Self {
            files: vec![(path.to_path_buf(), file)],
        })
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The credentials stored for `host` and where they came from, or `None`. Docker's order per file: the
    /// host's `credHelpers` entry, else `credsStore` (which then holds every login; `auths` only marks
    /// them), else the `auths` entry. Docker's file is asked before `auth.json`.
    pub fn lookup(&self, host: &str) -> Result<Option<(Credentials, Origin)>> {
        let host = normalize_host(host);
        for (path, file) in &self.files {
            let helper = file
                .cred_helpers
                .iter()
                .find(|(k, _)| normalize_host(k) == host)
                .map(|(_, v)| v.clone())
                .or_else(|| file.creds_store.clone().filter(|s| !s.is_empty()));
            if let Some(name) = helper {
                if let Some(credentials) = run_helper(&name, &host)? {
                    return Ok(Some((
                        credentials,
                        Origin::Helper {
                            name,
                            file: path.clone(),
                        },
                    )));
                }
                continue;
            }
            // An exact key first (`ghcr.io` beside `https://ghcr.io`), then any key naming the host.
            let entry = file.auths.get(&host).or_else(|| {
                file.auths
                    .iter()
                    .find(|(k, _)| normalize_host(k) == host)
                    .map(|(_, v)| v)
            });
            if let Some(credentials) =
                entry.and_then(|e| entry_credentials(e, path, &host).transpose())
            {
                return Ok(Some((credentials?, Origin::File(path.clone()))));
            }
        }
        Ok(None)
    }
}

fn entry_credentials(entry: &AuthEntry, path: &Path, host: &str) -> Result<Option<Credentials>> {
    let non_empty = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
    if let Some(token) = non_empty(&entry.registrytoken) {
        return Ok(Some(Credentials::Bearer(Secret::new(token))));
    }
    if let Some(token) = non_empty(&entry.identitytoken) {
        return Ok(Some(Credentials::IdentityToken(Secret::new(token))));
    }
    if let Some(auth) = non_empty(&entry.auth) {
        let bad = || {
            Error::new(
                Kind::Io,
                format!(
                    "the login for `{host}` in `{}` can't be read: `auth` is not base64 of `user:password`",
                    path.display()
                ),
            )
            .with_help(format!("log in again (`docker login {host}`)"))
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad())?;
        let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
        let (username, password) = decoded.split_once(':').ok_or_else(bad)?;
        return Ok(Some(Credentials::Basic {
            username: username.to_string(),
            password: Secret::new(password),
        }));
    }
    if let (Some(username), Some(password)) =
        (non_empty(&entry.username), non_empty(&entry.password))
    {
        return Ok(Some(Credentials::Basic {
            username,
            password: Secret::new(password),
        }));
    }
    Ok(None)
}

/// What a helper prints for `get`.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    #[serde(default)]
    username: String,
    #[serde(default)]
    secret: String,
}

/// `docker-credential-<name> get` with the server on stdin. `None` when the helper has no login for it
/// (it says "credentials not found", as docker-credential-helpers defines).
fn run_helper(name: &str, host: &str) -> Result<Option<Credentials>> {
    let program = format!("docker-credential-{name}");
    let server = helper_server(host);
    let what = format!("can't get the login for `{host}` from the credential helper `{program}`");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            let help = if e.kind() == std::io::ErrorKind::NotFound {
                format!(
                    "install `{program}` on PATH (the step that logged in to `{host}` usually does), or remove the `credHelpers`/`credsStore` entry that names `{name}`"
                )
            } else {
                format!("check that `{program}` can be run")
            };
            Error::new(Kind::Permission, format!("{what}: {e}")).with_help(help)
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading stdin is answered by its exit status below.
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| Error::new(Kind::Permission, format!("{what}: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        if stdout
            .to_ascii_lowercase()
            .contains("credentials not found")
        {
            return Ok(None);
        }
        // The helper's own words, shortened: they say what is wrong (expired session, locked keychain); a
        // helper prints no secret when it fails.
        let said: String = format!(
            "{} {}",
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .trim()
        .chars()
        .take(500)
        .collect();
        return Err(Error::new(
            Kind::Permission,
            format!("{what}: it failed ({}): {said}", out.status),
        )
        .with_help(format!("log in to `{host}` again before this step")));
    }
    let answer: HelperAnswer = serde_json::from_slice(&out.stdout).map_err(|_| {
        Error::new(
            Kind::Permission,
            format!("{what}: its answer is not the JSON of the credential-helper protocol"),
        )
    })?;
    if answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(if answer.username == IDENTITY_TOKEN_USER {
        Credentials::IdentityToken(Secret::new(answer.secret))
    } else {
        Credentials::Basic {
            username: answer.username,
            password: Secret::new(answer.secret),
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(json: &str) -> CredentialStore {
        CredentialStore::from_json(Path::new("/x/config.json"), json).expect("json")
    }

    #[test]
    fn auths_entries_by_any_spelling_of_the_host() {
        let s = store(
            r#"{"auths":{
                "https://index.docker.io/v1/":{"auth":"aHViOnB3"},
                "https://ghcr.io":{"auth":"dTpw"},
                "quay.io":{"identitytoken":"idt"},
                "r.example":{"registrytoken":"rt"},
                "empty.example":{}
            }}"#,
        );
        let basic = |host: &str| match s.lookup(host).expect("lookup") {
            Some((Credentials::Basic { username, password }, _)) => {
                format!("{username}:{}", password.expose())
            }
            other => format!("{other:?}"),
        };
        assert_eq!(basic("docker.io"), "hub:pw");
        assert_eq!(basic("registry-1.docker.io"), "hub:pw");
        assert_eq!(basic("ghcr.io"), "u:p");
        assert!(matches!(
            s.lookup("quay.io").expect("lookup"),
            Some((Credentials::IdentityToken(t), _)) if t.expose() == "idt"
        ));
        assert!(matches!(
            s.lookup("r.example").expect("lookup"),
            Some((Credentials::Bearer(t), _)) if t.expose() == "rt"
        ));
        assert!(s.lookup("empty.example").expect("lookup").is_none());
        assert!(s.lookup("gcr.io").expect("lookup").is_none());
    }

    #[test]
    fn a_missing_helper_names_itself_and_the_host() {
        let s = store(r#"{"credHelpers":{"ecr.example":"surely-not-installed-x"}}"#);
        let e = s.lookup("ecr.example").expect_err("missing helper");
        assert!(
            e.message
                .contains("docker-credential-surely-not-installed-x")
                && e.message.contains("ecr.example"),
            "{e}"
        );
        // Another host does not ask that helper.
        assert!(s.lookup("ghcr.io").expect("lookup").is_none());
    }

    #[test]
    fn paths_follow_docker_and_podman() {
        let p = StorePaths::from_env(None, Some("/home/u"), None, Some("/run/user/1"));
        assert_eq!(
            p.docker_config.as_deref(),
            Some(Path::new("/home/u/.docker/config.json"))
        );
        assert_eq!(
            p.auth_json.as_deref(),
            Some(Path::new("/run/user/1/containers/auth.json"))
        );
        let p = StorePaths::from_env(Some("/d"), Some("/home/u"), Some("/a.json"), None);
        assert_eq!(
            p.docker_config.as_deref(),
            Some(Path::new("/d/config.json"))
        );
        assert_eq!(p.auth_json.as_deref(), Some(Path::new("/a.json")));
    }
}
