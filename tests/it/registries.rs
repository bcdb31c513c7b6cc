//! Registries as users have them: two real CNCF registries on loopback with different logins (one htpasswd,
//! one behind token auth), each behind a proxy that logs the `Authorization` it receives; logins from Docker's
//! `config.json` (`auths`, `identitytoken`, a `docker-credential-…` helper on `PATH`) and the containers
//! `auth.json`; the explicit inputs for their own host only.

use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::harness::Runner;
use crate::support::images::{self, Format};
use crate::support::proxy::Proxy;
use crate::support::registry::{Auth, Registry};
use crate::support::token::{self, Issuer};

const USER_A: &str = "staging-bot";
const PASS_A: &str = "pass-of-staging-AAAA";
const USER_B: &str = "prod-bot";
const PASS_B: &str = "pass-of-prod-BBBB";

/// Registry A (htpasswd, `staging-bot`) with `app:v1` pushed, and registry B (token auth, `prod-bot`), each
/// reached through its logging proxy.
struct Two {
    a: Registry,
    b: Registry,
    issuer: Issuer,
    proxy_a: Proxy,
    proxy_b: Proxy,
    digest: String,
    tmp: tempfile::TempDir,
}

impl Two {
    fn start() -> Self {
        let issuer = Issuer::start_as(USER_B, PASS_B);
        let a = Registry::start(Auth::HtpasswdAs(USER_A, PASS_A));
        let b = Registry::start(Auth::Token(&issuer));
        let tmp = tempfile::tempdir().expect("tmp");
        let layout = images::layout(&tmp.path().join("layout"), 1, 2, 2048);
        let direct = format!("{}/app:v1", a.addr);
        images::push(&layout, &direct, Format::Oci, Some((USER_A, PASS_A)));
        let digest = images::digest(&direct, Some((USER_A, PASS_A)));
        let proxy_a = Proxy::start(&a.addr);
        let proxy_b = Proxy::start(&b.addr);
        Self {
            a,
            b,
            issuer,
            proxy_a,
            proxy_b,
            digest,
            tmp,
        }
    }

    fn source(&self) -> String {
        format!("{}/app:v1", self.proxy_a.addr)
    }

    fn target(&self, tag: &str) -> String {
        format!("{}/prod/app:{tag}", self.proxy_b.addr)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.tmp.path().join(name)
    }

    /// What B's side (its proxy and its token issuer) received.
    fn b_received(&self) -> Vec<String> {
        let mut all = self.proxy_b.authorizations();
        all.extend(self.issuer.received.lock().expect("received").clone());
        all
    }

    /// Neither registry received the other's secret, and B's bearer exchange got B's login.
    fn assert_each_got_only_its_own(&self) {
        let a = basic(USER_A, PASS_A);
        let b = basic(USER_B, PASS_B);
        assert!(
            self.proxy_a
                .authorizations()
                .iter()
                .all(|h| !h.contains(&b) && !h.contains(PASS_B)),
            "A received B's login: {:?}",
            self.proxy_a.authorizations()
        );
        assert!(
            self.b_received()
                .iter()
                .all(|h| !h.contains(&a) && !h.contains(PASS_A)),
            "B received A's login: {:?}",
            self.b_received()
        );
        assert!(
            self.proxy_a
                .authorizations()
                .iter()
                .any(|h| *h == format!("Basic {a}")),
            "A got its own login"
        );
    }
}

fn basic(user: &str, pass: &str) -> String {
    STANDARD.encode(format!("{user}:{pass}"))
}

fn write(path: &Path, text: &str) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).expect("mkdir");
    }
    std::fs::write(path, text).expect("write");
}

/// A `docker-credential-NAME` script in `dir` that answers for `host` with B's login and logs every server
/// it is asked for to `dir/asked`.
fn helper(dir: &Path, name: &str, host: &str) {
    let script = format!(
        "#!/bin/sh\nread server\necho \"$server\" >> '{log}'\ncase \"$server\" in\n  '{host}') printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER_B}\",\"Secret\":\"{PASS_B}\"}}' \"$server\" ;;\n  *) echo 'credentials not found in native keychain'; exit 1 ;;\nesac\n",
        log = dir.join("asked").display()
    );
    let path = dir.join(format!("docker-credential-{name}"));
    write(&path, &script);
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

struct Run {
    runner: Runner,
    ok: bool,
    /// stdout + stderr + outputs + summary: everything a person or a log could see.
    seen: String,
}

fn retag(_two: &Two, inputs: &[(&str, &str)], env: &[(&str, String)]) -> Run {
    let runner = Runner::new();
    let mut all = vec![("mode", "retag")];
    all.extend_from_slice(inputs);
    let mut cmd = runner.action(runner.dir.path(), &all);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run");
    let seen = format!(
        "{}\n{}\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(&runner.output).unwrap_or_default(),
        runner.summary()
    );
    // `::add-mask::` is how the runner learns what to hide; no other line may carry a secret.
    let shown: Vec<&str> = seen
        .lines()
        .filter(|l| !l.starts_with("::add-mask::"))
        .collect();
    for secret in [PASS_A, PASS_B, token::REFRESH_TOKEN] {
        let leaked: Vec<&&str> = shown.iter().filter(|l| l.contains(secret)).collect();
        assert!(
            leaked.is_empty(),
            "a secret reached the log or outputs: {leaked:?}"
        );
    }
    Run {
        ok: out.status.success(),
        runner,
        seen,
    }
}

fn path_with(dir: &Path) -> String {
    format!(
        "{}:{}",
        dir.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

#[test]
fn cross_registry_retag_with_config_json_auths_gives_each_registry_only_its_own_login() {
    let two = Two::start();
    let docker = two.path("docker");
    write(
        &docker.join("config.json"),
        &format!(
            r#"{{"auths":{{"{a}":{{"auth":"{ba}"}},"http://{b}/v1/":{{"auth":"{bb}"}}}}}}"#,
            a = two.proxy_a.addr,
            b = two.proxy_b.addr,
            ba = basic(USER_A, PASS_A),
            bb = basic(USER_B, PASS_B),
        ),
    );
    let env = [("DOCKER_CONFIG", docker.display().to_string())];
    let inputs = [("source", two.source()), ("tags", two.target("v1"))];
    let inputs: Vec<(&str, &str)> = inputs.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let run = retag(&two, &inputs, &env);
    assert!(run.ok, "{}", run.seen);
    assert_eq!(
        images::digest(
            &format!("{}/prod/app:v1", two.b.addr),
            Some((USER_B, PASS_B))
        ),
        two.digest
    );
    two.assert_each_got_only_its_own();
    let config = docker.join("config.json").display().to_string();
    let summary = run.runner.summary();
    let line = summary
        .lines()
        .find(|l| l.contains("Registries"))
        .expect("a Registries row");
    for host in [&two.proxy_a.addr, &two.proxy_b.addr] {
        assert!(line.contains(&format!("`{host}`: `{config}`")), "{line}");
    }

    // A rerun converges: nothing written on B.
    let before = two.b.writes().len();
    let again = retag(&two, &inputs, &env);
    assert!(
        again.ok && again.seen.contains("unchanged"),
        "{}",
        again.seen
    );
    assert_eq!(two.b.writes().len(), before);
    let _ = &two.a;
}

#[test]
fn explicit_inputs_reach_only_their_host_and_a_credential_helper_serves_the_other() {
    let two = Two::start();
    let bin = two.path("bin");
    helper(&bin, "gp-test", &two.proxy_b.addr);
    let docker = two.path("docker");
    write(
        &docker.join("config.json"),
        &format!(
            r#"{{"credHelpers":{{"{b}":"gp-test"}}}}"#,
            b = two.proxy_b.addr
        ),
    );
    let env = [
        ("DOCKER_CONFIG", docker.display().to_string()),
        ("PATH", path_with(&bin)),
    ];
    let (source, target) = (two.source(), two.target("v1"));
    let run = retag(
        &two,
        &[
            ("source", &source),
            ("tags", &target),
            ("registry-username", USER_A),
            ("registry-password", PASS_A),
        ],
        &env,
    );
    assert!(run.ok, "{}", run.seen);
    two.assert_each_got_only_its_own();
    assert!(
        two.issuer
            .received
            .lock()
            .expect("received")
            .contains(&format!("Basic {}", basic(USER_B, PASS_B))),
        "B's token came from the helper's login"
    );
    // The helper was asked for B only: A's login came from the inputs, which win for their host.
    let asked = std::fs::read_to_string(bin.join("asked")).expect("helper ran");
    assert_eq!(asked.trim(), two.proxy_b.addr);
    let summary = run.runner.summary();
    assert!(
        summary.contains(&format!("`{}`: the registry inputs", two.proxy_a.addr))
            && summary.contains(&format!(
                "`{}`: `docker-credential-gp-test`",
                two.proxy_b.addr
            )),
        "{summary}"
    );
}

#[test]
fn auth_json_and_an_identity_token_each_serve_their_registry() {
    let two = Two::start();
    let auth_json = two.path("run/containers/auth.json");
    write(
        &auth_json,
        &format!(
            r#"{{"auths":{{"{a}":{{"auth":"{ba}"}}}}}}"#,
            a = two.proxy_a.addr,
            ba = basic(USER_A, PASS_A)
        ),
    );
    // What `az acr login` leaves: an OAuth2 refresh token, exchanged at B's realm as docker does.
    let docker = two.path("docker");
    write(
        &docker.join("config.json"),
        &format!(
            r#"{{"auths":{{"{b}":{{"auth":"{zero}","identitytoken":"{t}"}}}}}}"#,
            b = two.proxy_b.addr,
            zero = STANDARD.encode("00000000-0000-0000-0000-000000000000:"),
            t = token::REFRESH_TOKEN
        ),
    );
    let env = [
        ("DOCKER_CONFIG", docker.display().to_string()),
        ("REGISTRY_AUTH_FILE", String::new()),
        ("XDG_RUNTIME_DIR", two.path("run").display().to_string()),
    ];
    let (source, target) = (two.source(), two.target("v1"));
    let run = retag(&two, &[("source", &source), ("tags", &target)], &env);
    assert!(run.ok, "{}", run.seen);
    two.assert_each_got_only_its_own();
    assert!(
        two.issuer
            .received
            .lock()
            .expect("received")
            .contains(&format!("refresh_token={}", token::REFRESH_TOKEN)),
        "B's token came from the refresh token"
    );
    assert_eq!(
        images::digest(
            &format!("{}/prod/app:v1", two.b.addr),
            Some((USER_B, PASS_B))
        ),
        two.digest
    );
    let summary = run.runner.summary();
    assert!(
        summary.contains(&format!(
            "`{}`: `{}`",
            two.proxy_a.addr,
            auth_json.display()
        )),
        "{summary}"
    );
}

#[test]
fn a_missing_credential_helper_names_helper_and_host_and_nothing_is_written() {
    let two = Two::start();
    let docker = two.path("docker");
    write(
        &docker.join("config.json"),
        &format!(
            r#"{{"auths":{{"{a}":{{"auth":"{ba}"}}}},"credHelpers":{{"{b}":"gp-absent"}}}}"#,
            a = two.proxy_a.addr,
            b = two.proxy_b.addr,
            ba = basic(USER_A, PASS_A)
        ),
    );
    let env = [("DOCKER_CONFIG", docker.display().to_string())];
    let (source, target) = (two.source(), two.target("v1"));
    let writes_a = two.a.writes().len();
    let run = retag(&two, &[("source", &source), ("tags", &target)], &env);
    assert!(!run.ok, "{}", run.seen);
    assert!(
        run.seen.contains("docker-credential-gp-absent")
            && run.seen.contains(&two.proxy_b.addr)
            && run.seen.contains("install"),
        "{}",
        run.seen
    );
    assert!(two.b.writes().is_empty(), "{:?}", two.b.writes());
    assert_eq!(two.a.writes().len(), writes_a);
}
