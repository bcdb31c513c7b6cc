//! Owns registry authentication: the credentials a run was given, the `WWW-Authenticate` challenge a
//! registry answers with, and the header each request carries (basic, or a bearer token obtained from the
//! challenge's realm, the flow of ghcr.io, Docker Hub, ECR and GAR).

use std::collections::BTreeSet;

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
}

/// Credentials and the registries they may be sent to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Login {
    pub credentials: Credentials,
    /// `Some(host)`: only that registry gets them (the ghcr.io default from `GITHUB_ACTOR`/`github-token`
    /// must not reach another registry). `None`: every registry the run talks to.
    pub only_host: Option<String>,
}

impl Login {
    pub fn for_host(&self, host: &str) -> &Credentials {
        match &self.only_host {
            Some(h) if h != host => &Credentials::Anonymous,
            _ => &self.credentials,
        }
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
    fn ghcr_default_credentials_stay_on_ghcr() {
        let login = Login {
            credentials: Credentials::Bearer(Secret::new("x")),
            only_host: Some("ghcr.io".into()),
        };
        assert_eq!(login.for_host("docker.io"), &Credentials::Anonymous);
        assert!(matches!(login.for_host("ghcr.io"), Credentials::Bearer(_)));
    }
}
