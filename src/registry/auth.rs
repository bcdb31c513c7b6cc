//! Owns registry authentication: the credentials a run was given, the `WWW-Authenticate` challenge a
//! registry answers with, and the header each request carries (basic, or a bearer token obtained from the
//! challenge's realm, the flow of ghcr.io, Docker Hub, ECR and GAR).

use std::collections::BTreeSet;

use super::credential_store::{CredentialStore, Origin, StorePaths, normalize_host};
use crate::inputs::Secret;

/// What a run authenticates with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Credentials {
    /// No credentials; anonymous bearer tokens are still fetched when a registry asks for them.
    #[default]
    Anonymous,
    /// User and password (or personal access token): sent as basic auth, or exchanged for a bearer token.
    Basic { username: String, password: Secret },
    /// A ready bearer token, sent as is.
    Bearer(Secret),
    /// An OAuth2 refresh token (Docker's `identitytoken`, what `az acr login` stores): exchanged at the
    /// challenge's realm with `grant_type=refresh_token`, as docker does.
    IdentityToken(Secret),
}

impl Credentials {
    /// The secret, for masking.
    pub fn secret(&self) -> Option<&Secret> {
        match self {
            Credentials::Anonymous => None,
            Credentials::Basic { password, .. } => Some(password),
            Credentials::Bearer(s) | Credentials::IdentityToken(s) => Some(s),
        }
    }
}

/// Where a host's credentials came from: said in the summary's "Registries" line, never with the secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginSource {
    /// `registry-username`/`registry-password` or `registry-token`.
    Inputs,
    /// Docker's `config.json` or the containers `auth.json`.
    Store(Origin),
    /// The ghcr.io default: `github-token` with `GITHUB_ACTOR`.
    GithubToken,
    /// Nothing for this host: anonymous.
    Anonymous,
}

impl std::fmt::Display for LoginSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoginSource::Inputs => f.write_str("the registry inputs"),
            LoginSource::Store(origin) => write!(f, "{origin}"),
            LoginSource::GithubToken => f.write_str("`github-token`"),
            LoginSource::Anonymous => f.write_str("anonymous"),
        }
    }
}

/// Every login the run may use, each bound to one registry. Precedence for a host, strongest first: the
/// explicit inputs (for their host only), Docker's store (then `auth.json`), the ghcr.io default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Login {
    /// `registry-username`/`registry-password` or `registry-token`.
    pub explicit: Option<Credentials>,
    /// The registry the explicit inputs belong to: the host of `image` (of `source` in `retag`). `None` only
    /// in modes without one image (`lint`, `plan`): there they serve every registry the run reads, as before.
    pub explicit_host: Option<String>,
    /// Where Docker's and the containers' logins live (read when a registry first asks for credentials).
    pub store: StorePaths,
    /// `github-token` + `GITHUB_ACTOR`, for ghcr.io only.
    pub ghcr_default: Option<Credentials>,
}

/// The registry the ghcr.io default belongs to.
pub const GHCR: &str = "ghcr.io";

impl Login {
    /// Credentials for `host` and where they came from. `store` is the loaded [`Login::store`].
    pub fn resolve(
        &self,
        host: &str,
        store: &CredentialStore,
    ) -> crate::error::Result<(Credentials, LoginSource)> {
        let host_key = normalize_host(host);
        if let Some(explicit) = &self.explicit
            && self
                .explicit_host
                .as_deref()
                .is_none_or(|h| normalize_host(h) == host_key)
        {
            return Ok((explicit.clone(), LoginSource::Inputs));
        }
        if let Some((credentials, origin)) = store.lookup(host)? {
            return Ok((credentials, LoginSource::Store(origin)));
        }
        if host_key == GHCR
            && let Some(default) = &self.ghcr_default
        {
            return Ok((default.clone(), LoginSource::GithubToken));
        }
        Ok((Credentials::Anonymous, LoginSource::Anonymous))
    }
}

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
        /// Scopes the registry named for the refused request.
        scope: Vec<String>,
    },
}

/// Parses `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
///
/// ```
/// use gitops_promote::registry::auth::{parse_challenge, Challenge};
/// let c = parse_challenge(r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/a:pull""#);
/// assert_eq!(c, Some(Challenge::Bearer {
///     realm: "https://ghcr.io/token".into(),
///     service: Some("ghcr.io".into()),
///     scope: vec!["repository:o/a:pull".into()],
/// }));
/// assert_eq!(parse_challenge(r#"Basic realm="Registry""#), Some(Challenge::Basic));
/// ```
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, params) = header.split_once(' ').unwrap_or((header, ""));
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let (mut realm, mut service, mut scope) = (None, None, Vec::new());
    for (key, value) in parse_params(params) {
        match key.to_ascii_lowercase().as_str() {
            "realm" => realm = Some(value),
            "service" => service = Some(value),
            // Several scopes arrive space-separated in one parameter.
            "scope" => scope.extend(
                value
                    .split(' ')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            ),
            _ => {}
        }
    }
    Some(Challenge::Bearer {
        realm: realm?,
        service,
        scope,
    })
}

/// `key="quoted, value",key2=token` → pairs. Commas inside quotes belong to the value.
fn parse_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = s.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let key = rest[..eq].trim().trim_start_matches(',').trim().to_string();
        rest = rest[eq + 1..].trim_start();
        let value;
        if let Some(stripped) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = stripped.char_indices();
            let mut end = stripped.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => v.push(c),
                }
            }
            value = v;
            rest = stripped[end..].trim_start();
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest[..end].trim().to_string();
            rest = &rest[end..];
        }
        rest = rest.trim_start_matches(',').trim_start();
        out.push((key, value));
    }
    out
}

/// The scopes a host's token must cover: one entry per repository, actions merged (`pull,push`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(BTreeSet<(String, String)>);

impl Scopes {
    pub fn add(&mut self, repository: &str, action: &str) -> bool {
        self.0.insert((repository.to_string(), action.to_string()))
    }

    /// Adds `repository:NAME:a,b` scopes from a challenge; true if one was new.
    pub fn add_raw(&mut self, scope: &str) -> bool {
        let mut added = false;
        if let Some(rest) = scope.strip_prefix("repository:")
            && let Some((name, actions)) = rest.rsplit_once(':')
        {
            for action in actions.split(',').filter(|a| !a.is_empty()) {
                added |= self.add(name, action);
            }
        }
        added
    }

    /// `repository:NAME:pull,push`, one per repository, sorted.
    pub fn to_params(&self) -> Vec<String> {
        let mut by_repo: std::collections::BTreeMap<&str, Vec<&str>> = Default::default();
        for (repo, action) in &self.0 {
            by_repo.entry(repo).or_default().push(action);
        }
        by_repo
            .into_iter()
            .map(|(repo, actions)| format!("repository:{repo}:{}", actions.join(",")))
            .collect()
    }
}

/// The `token` or `access_token` of a token endpoint's JSON answer (registries use either).
pub fn token_from_response(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["token", "access_token"]
        .iter()
        .find_map(|k| value.get(k)?.as_str().filter(|t| !t.is_empty()))
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_with_several_scopes_and_commas_in_quotes() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token?a=1,b=2", scope="repository:a:pull repository:b:pull,push",error="insufficient_scope""#,
        );
        let Some(Challenge::Bearer {
            realm,
            scope,
            service,
        }) = c
        else {
            panic!("bearer challenge expected: {c:?}");
        };
        assert_eq!(realm, "https://auth.example/token?a=1,b=2");
        assert_eq!(service, None);
        assert_eq!(scope, ["repository:a:pull", "repository:b:pull,push"]);
    }

    #[test]
    fn scopes_merge_actions_per_repository() {
        let mut s = Scopes::default();
        s.add("org/app", "pull");
        s.add_raw("repository:org/app:push,pull");
        s.add("other", "pull");
        assert_eq!(
            s.to_params(),
            ["repository:org/app:pull,push", "repository:other:pull"]
        );
    }

    #[test]
    fn token_or_access_token() {
        assert_eq!(
            token_from_response(br#"{"token":"t1"}"#).as_deref(),
            Some("t1")
        );
        assert_eq!(
            token_from_response(br#"{"access_token":"t2"}"#).as_deref(),
            Some("t2")
        );
        assert_eq!(
            token_from_response(br#"{"token":"","access_token":"t3"}"#).as_deref(),
            Some("t3")
        );
        assert_eq!(token_from_response(b"nope"), None);
    }

    #[test]
    fn each_login_serves_its_own_host() {
        let store = CredentialStore::from_json(
            std::path::Path::new("/c.json"),
            r#"{"auths":{"prod.example":{"auth":"cHJvZDpwdw=="},"ghcr.io":{"auth":"c3RvcmU6cHc="}}}"#,
        )
        .expect("json");
        let login = Login {
            explicit: Some(Credentials::Bearer(Secret::new("explicit"))),
            explicit_host: Some("staging.example".into()),
            store: StorePaths::default(),
            ghcr_default: Some(Credentials::Bearer(Secret::new("ghs"))),
        };
        let source = |host: &str| login.resolve(host, &store).expect("resolve").1;
        assert_eq!(source("staging.example"), LoginSource::Inputs);
        assert_eq!(
            source("prod.example"),
            LoginSource::Store(Origin::File("/c.json".into()))
        );
        // Docker's store beats the ghcr.io default; without it, the default serves ghcr.io only.
        assert!(matches!(source("ghcr.io"), LoginSource::Store(_)));
        let empty = CredentialStore::default();
        assert_eq!(
            login.resolve("ghcr.io", &empty).expect("resolve").1,
            LoginSource::GithubToken
        );
        assert_eq!(
            login.resolve("docker.io", &empty).expect("resolve"),
            (Credentials::Anonymous, LoginSource::Anonymous)
        );
    }
}
