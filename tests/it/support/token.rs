//! A test-only bearer-token issuer for the registry's `auth: token` (the ghcr.io / Docker Hub flow): checks
//! basic credentials, grants the requested `repository:NAME:ACTIONS` scopes, and signs an RS256 JWT with a
//! key whose self-signed certificate is the registry's `rootcertbundle` (and in the JWT's `x5c` header).
//! Signing uses the `openssl` command, so the tests need no crypto crate.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hyper::{Request, Response, StatusCode};
use tempfile::TempDir;

use super::http::{self, Dropped};
use super::registry::{PASSWORD, USER};

pub const SERVICE: &str = "test-registry";
pub const ISSUER: &str = "test-issuer";

pub struct Issuer {
    pub addr: String,
    pub cert: PathBuf,
    pub requests: Arc<AtomicU64>,
    /// Every `Authorization` header (and refresh token) the issuer received.
    pub received: Arc<std::sync::Mutex<Vec<String>>>,
    _dir: TempDir,
}

/// The refresh token [`Issuer::start_as`] accepts in an OAuth2 `grant_type=refresh_token` POST (Docker's
/// `identitytoken` flow).
pub const REFRESH_TOKEN: &str = "test-refresh-token";

impl Issuer {
    pub fn start() -> Self {
        Self::start_as(USER, PASSWORD)
    }

    /// An issuer that grants to this user and password only (and to [`REFRESH_TOKEN`]).
    pub fn start_as(user: &str, password: &str) -> Self {
        let expected = format!("{user}:{password}");
        let user = user.to_string();
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("key.pem");
        let cert = dir.path().join("cert.pem");
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=test-issuer",
            ])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl is installed (apt-get install openssl)");
        assert!(
            out.status.success(),
            "openssl req: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let der = Command::new("openssl")
            .args(["x509", "-outform", "DER", "-in"])
            .arg(&cert)
            .output()
            .expect("openssl x509");
        assert!(der.status.success());
        let x5c = STANDARD.encode(&der.stdout);
        let requests = Arc::new(AtomicU64::new(0));
        let counter = requests.clone();
        let received = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = received.clone();
        let key = Arc::new(key);
        let addr = http::serve(Arc::new(move |req: Request<hyper::body::Incoming>| {
            counter.fetch_add(1, Ordering::Relaxed);
            let key = key.clone();
            let x5c = x5c.clone();
            let (expected, user, seen) = (expected.clone(), user.clone(), seen.clone());
            Box::pin(async move {
                let authorization = req
                    .headers()
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                if let Some(a) = &authorization {
                    seen.lock().expect("received").push(a.clone());
                }
                let is_post = req.method() == hyper::Method::POST;
                let uri_query = req.uri().query().unwrap_or("").to_string();
                let form = if is_post {
                    use http_body_util::BodyExt;
                    let body = req.into_body().collect().await.map_err(|_| Dropped)?;
                    String::from_utf8_lossy(&body.to_bytes()).to_string()
                } else {
                    String::new()
                };
                if is_post {
                    let pairs = url_pairs(&form);
                    let refresh = pairs
                        .iter()
                        .find(|(k, _)| k == "refresh_token")
                        .map(|(_, v)| v.clone());
                    seen.lock().expect("received").push(format!(
                        "refresh_token={}",
                        refresh.clone().unwrap_or_default()
                    ));
                    if refresh.as_deref() != Some(REFRESH_TOKEN) {
                        return Ok(Response::builder()
                            .status(StatusCode::UNAUTHORIZED)
                            .body(http::full(r#"{"details":"invalid refresh token"}"#))
                            .expect("response"));
                    }
                }
                let authorized = authorization
                    .as_deref()
                    .and_then(|v| v.strip_prefix("Basic "))
                    .and_then(|b| STANDARD.decode(b).ok())
                    .map(|b| String::from_utf8_lossy(&b).to_string());
                let subject = match authorized.as_deref() {
                    _ if is_post => user.as_str(),
                    None => "",
                    Some(pair) if pair == expected => user.as_str(),
                    Some(_) => {
                        return Ok(Response::builder()
                            .status(StatusCode::UNAUTHORIZED)
                            .body(http::full(
                                r#"{"details":"incorrect username or password"}"#,
                            ))
                            .expect("response"));
                    }
                };
                // GET carries the scopes in the query; the OAuth2 POST in the form, space-separated.
                let scopes: Vec<String> = if is_post {
                    url_pairs(&form)
                        .into_iter()
                        .filter(|(k, _)| k == "scope")
                        .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>())
                        .collect()
                } else {
                    url_pairs(&uri_query)
                        .into_iter()
                        .filter(|(k, _)| k == "scope")
                        .map(|(_, v)| v)
                        .collect()
                };
                let mut access = Vec::new();
                for v in scopes {
                    // Anonymous callers get nothing, like a private repository.
                    if !subject.is_empty() {
                        let parts: Vec<&str> = v.split(':').collect();
                        if let [kind, name @ .., actions] = parts.as_slice() {
                            access.push(serde_json::json!({
                                "type": kind, "name": name.join(":"),
                                "actions": actions.split(',').collect::<Vec<_>>(),
                            }));
                        }
                    }
                }
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .expect("clock")
                    .as_secs();
                let header = serde_json::json!({"typ": "JWT", "alg": "RS256", "x5c": [x5c]});
                let claims = serde_json::json!({
                    "iss": ISSUER, "sub": subject, "aud": SERVICE,
                    "exp": now + 300, "nbf": now - 10, "iat": now,
                    "jti": format!("{:x}", rand::random::<u64>()), "access": access,
                });
                let signing_input = format!(
                    "{}.{}",
                    URL_SAFE_NO_PAD.encode(header.to_string()),
                    URL_SAFE_NO_PAD.encode(claims.to_string())
                );
                let signature = sign(&key, signing_input.as_bytes());
                let jwt = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature));
                // Docker Hub answers both fields, GAR only `access_token`: use the less common one.
                let body = serde_json::json!({"access_token": jwt, "expires_in": 300});
                Ok::<_, Dropped>(
                    Response::builder()
                        .header("content-type", "application/json")
                        .body(http::full(body.to_string()))
                        .expect("response"),
                )
            })
        }));
        Self {
            addr,
            cert,
            requests,
            received,
            _dir: dir,
        }
    }

    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }
}

fn sign(key: &std::path::Path, input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(["dgst", "-sha256", "-sign"])
        .arg(key)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("openssl dgst");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(input)
        .expect("write");
    let out = child.wait_with_output().expect("openssl output");
    assert!(out.status.success());
    out.stdout
}

fn url_pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).to_string()
}
