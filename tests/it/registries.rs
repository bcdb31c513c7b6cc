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

    /// Docker's `config.json` in `DOCKER_CONFIG` with A's login and `pass_b` for B (plain host keys), then a
    /// retag of `app:v1` from A into B as `prod/app:v1`. Returns the run and the file.
    fn retag_v1_with_docker_config(&self, pass_b: &str) -> (Run, PathBuf) {
        let docker = self.path("docker");
        let config = docker.join("config.json");
        write(
            &config,
            &format!(
                r#"{{"auths":{{"{a}":{{"auth":"{ba}"}},"{b}":{{"auth":"{bb}"}}}}}}"#,
                a = self.proxy_a.addr,
                b = self.proxy_b.addr,
                ba = basic(USER_A, PASS_A),
                bb = basic(USER_B, pass_b),
            ),
        );
        let env = [("DOCKER_CONFIG", docker.display().to_string())];
        let (source, target) = (self.source(), self.target("v1"));
        let run = retag(self, &[("source", &source), ("tags", &target)], &env);
        (run, config)
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
    run_at(None, "retag", inputs, env)
}

/// The action in `mode`, in `workspace` (else an empty one); every secret the tests use is checked to appear
/// nowhere but in `::add-mask::`.
fn run_at(
    workspace: Option<&Path>,
    mode: &str,
    inputs: &[(&str, &str)],
    env: &[(&str, String)],
) -> Run {
    let runner = Runner::new();
    let mut all = vec![("mode", mode)];
    all.extend_from_slice(inputs);
    let mut cmd = runner.action(workspace.unwrap_or(runner.dir.path()), &all);
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
fn a_refused_login_names_where_it_came_from_and_nothing_is_written() {
    const WRONG: &str = "stale-pass-of-prod-CCCC";
    let two = Two::start();
    // A's login is right; B's, in the store, is stale (a password rotated since the login step).
    let (run, config) = two.retag_v1_with_docker_config(WRONG);
    assert!(!run.ok, "{}", run.seen);
    assert!(run.seen.contains("::error"), "{}", run.seen);
    assert!(
        run.seen.contains(&format!(
            "`{}` refused the login from `{}`: log in again",
            two.proxy_b.addr,
            config.display()
        )),
        "the error names the host and where its login came from: {}",
        run.seen
    );
    assert!(
        run.seen
            .lines()
            .filter(|l| !l.starts_with("::add-mask::"))
            .all(|l| !l.contains(WRONG)),
        "the refused secret is not shown: {}",
        run.seen
    );
    assert!(two.b.writes().is_empty(), "{:?}", two.b.writes());
    assert!(!images::exists(
        &format!("{}/prod/app:v1", two.b.addr),
        Some((USER_B, PASS_B))
    ));
    two.assert_each_got_only_its_own();
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
fn a_blob_redirected_to_storage_on_another_host_arrives_there_without_the_registrys_login() {
    // Registries on S3, GCS or Azure storage answer a blob GET with a redirect to the storage host: the
    // registry's login must stay with the registry (the storage URL is pre-signed).
    let two = Two::start();
    let storage = Proxy::start(&two.a.addr);
    storage.authorize_upstream(&format!("Basic {}", basic(USER_A, PASS_A)));
    two.proxy_a.redirect_blobs_to(&storage.addr);
    let (run, _) = two.retag_v1_with_docker_config(PASS_B);
    assert!(run.ok, "{}", run.seen);
    assert_eq!(
        images::digest(
            &format!("{}/prod/app:v1", two.b.addr),
            Some((USER_B, PASS_B))
        ),
        two.digest
    );
    let fetched: Vec<String> = storage
        .log()
        .into_iter()
        .filter(|l| l.starts_with("GET /v2/app/blobs/sha256:"))
        .collect();
    assert!(
        fetched.len() >= 3,
        "the config and both layers came from storage: {:?}",
        storage.log()
    );
    assert_eq!(
        storage.authorizations(),
        Vec::<String>::new(),
        "the storage host got no Authorization"
    );
    two.assert_each_got_only_its_own();
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

/// Production's registry for a promotion: B behind token auth, reached through its logging proxy, whose login
/// only Docker's `config.json` holds.
struct Production {
    issuer: Issuer,
    b: Registry,
    proxy: Proxy,
    docker: tempfile::TempDir,
    /// `production-image`: the repository in B, named through the proxy.
    image: String,
}

impl Production {
    fn start() -> Self {
        let issuer = Issuer::start_as(USER_B, PASS_B);
        let b = Registry::start(Auth::Token(&issuer));
        let proxy = Proxy::start(&b.addr);
        let image = format!("{}/prod/backend", proxy.addr);
        let docker = tempfile::tempdir().expect("tmp");
        write(
            &docker.path().join("config.json"),
            &format!(
                r#"{{"auths":{{"{host}":{{"auth":"{auth}"}}}}}}"#,
                host = proxy.addr,
                auth = basic(USER_B, PASS_B)
            ),
        );
        Self {
            issuer,
            b,
            proxy,
            docker,
            image,
        }
    }

    fn config(&self) -> String {
        self.docker.path().join("config.json").display().to_string()
    }

    /// `tag`'s digest in B, read with B's own login (`None`: B has no such tag).
    fn digest(&self, tag: &str) -> Option<String> {
        let reference = format!("{}/prod/backend:{tag}", self.b.addr);
        let creds = Some((USER_B, PASS_B));
        images::exists(&reference, creds).then(|| images::digest(&reference, creds))
    }

    /// B's password reached B's token realm, and nothing of it reached `a`.
    fn assert_logins_stayed_apart(&self, a: &Proxy) {
        assert!(
            self.issuer
                .received
                .lock()
                .expect("received")
                .contains(&format!("Basic {}", basic(USER_B, PASS_B))),
            "B's token came from config.json"
        );
        assert!(
            a.authorizations()
                .iter()
                .all(|h| !h.contains(&basic(USER_B, PASS_B)) && !h.contains(PASS_B)),
            "A received B's login: {:?}",
            a.authorizations()
        );
    }
}

#[test]
fn a_cross_registry_promotion_writes_production_in_the_second_registry_with_its_own_login() {
    // Staging: the promote tests' world (an anonymous registry behind a logging proxy). Production: B.
    let w = crate::promote::world_behind_proxy();
    let p = Production::start();
    let env = [("DOCKER_CONFIG", p.docker.path().display().to_string())];
    let inputs = [
        ("image", w.image.as_str()),
        ("production-image", p.image.as_str()),
        ("staging-tag", "v0.2.0"),
        ("commit-via", "git"),
        ("pull-request", "false"),
    ];
    let first = run_at(Some(&w.scratch.work), "promote", &inputs, &env);
    assert!(first.ok, "{}", first.seen);
    let digest = w.digest("v0.2.0");
    for tag in ["v0.2.0", "production-latest"] {
        assert_eq!(
            p.digest(tag).as_deref(),
            Some(digest.as_str()),
            "{tag} in the production registry"
        );
    }
    assert!(
        !images::exists(
            &format!("{}/org/backend:production-latest", w.registry.addr),
            None
        ),
        "nothing moves in the staging registry"
    );
    let overlay = w.overlay_on("main");
    assert!(
        overlay.contains(&format!("newName: {}", p.image))
            && overlay.contains(&format!("digest: {digest}")),
        "{overlay}"
    );
    p.assert_logins_stayed_apart(w.proxy.as_ref().expect("proxy"));
    let summary = first.runner.summary();
    assert!(
        summary.contains(&format!("`{}`: `{}`", p.proxy.addr, p.config()))
            && summary.contains(&format!("| Production image | `{}` |", p.image)),
        "{summary}"
    );

    // A rerun converges: nothing new in the production registry.
    let before = p.b.writes().len();
    let again = run_at(Some(&w.scratch.work), "promote", &inputs, &env);
    assert!(again.ok, "{}", again.seen);
    assert_eq!(again.runner.outputs()["commit-operation"], "unchanged");
    assert_eq!(p.b.writes().len(), before, "{:?}", p.b.writes());
}

#[test]
fn across_registries_release_moves_production_latest_in_the_second_registry_and_rollback_moves_it_back()
 {
    use crate::support::github::TOKEN;
    let w = crate::promote::world_behind_proxy();
    let p = Production::start();
    // A third version in staging, with its git tag.
    let layouts = tempfile::tempdir().expect("tmp");
    let layout = images::buildx_layout(layouts.path(), &[None]);
    images::push(&layout, &format!("{}:v0.3.0", w.image), Format::Oci, None);
    w.scratch.commit("feat: the v0.3.0 work");
    w.scratch.git(&["tag", "v0.3.0"]);
    w.scratch.git(&["push", "-q", "origin", "main", "--tags"]);
    let run = |mode: &str, inputs: &[(&str, &str)]| {
        let mut all = vec![("image", w.image.as_str()), ("github-token", TOKEN)];
        all.extend_from_slice(inputs);
        let env = [
            ("DOCKER_CONFIG", p.docker.path().display().to_string()),
            ("GITHUB_API_URL", w.github.url()),
            ("GITHUB_SHA", w.scratch.head()),
        ];
        run_at(Some(&w.scratch.work), mode, &all, &env)
    };
    let merge_last = || {
        let number = w.github.pulls().last().expect("a pull request").number;
        w.github.merge(number);
        w.scratch
            .git(&["pull", "-q", "--ff-only", "origin", "main"]);
    };
    let staging_latest = format!("{}/org/backend:production-latest", w.registry.addr);

    // Promote v0.2.0 through a pull request: the version tag is written in B, the moving tag waits.
    let promoted = run(
        "promote",
        &[("production-image", &p.image), ("staging-tag", "v0.2.0")],
    );
    assert!(promoted.ok, "{}", promoted.seen);
    let v2 = w.digest("v0.2.0");
    assert_eq!(p.digest("v0.2.0").as_deref(), Some(v2.as_str()));
    assert_eq!(p.digest("production-latest"), None, "moves on release");
    merge_last();

    // `release` reads where production lives from the merged overlay's `newName`.
    let released = run("release", &[]);
    assert!(released.ok, "{}", released.seen);
    let out = released.runner.outputs();
    assert_eq!(out["moving-tag-operation"], "created");
    assert_eq!(p.digest("production-latest").as_deref(), Some(v2.as_str()));
    let config = p.docker.path().join("config.json").display().to_string();
    let summary = released.runner.summary();
    let line = summary
        .lines()
        .find(|l| l.contains("Registries"))
        .expect("a Registries row");
    assert!(
        line.contains(&format!("`{}`: `{config}`", p.proxy.addr)),
        "the production registry's login came from Docker's store: {line}"
    );
    assert!(
        !images::exists(&staging_latest, None),
        "staging's registry moves nothing"
    );
    let notes = w.github.releases()[0].body.clone().unwrap_or_default();
    assert!(
        notes.contains(&format!("docker pull {}@{v2}", p.image)),
        "{notes}"
    );
    let writes = p.b.writes().len();
    let again = run("release", &[]);
    assert!(again.ok, "{}", again.seen);
    assert_eq!(again.runner.outputs()["moving-tag-operation"], "unchanged");
    assert_eq!(p.b.writes().len(), writes, "{:?}", p.b.writes());

    // The overlay now renames the image: a promotion that forgets `production-image` is refused before any write.
    let (a_writes, github_writes) = (w.registry.writes().len(), w.github_writes().len());
    let forgot = run("promote", &[("staging-tag", "v0.3.0")]);
    assert!(!forgot.ok);
    assert!(
        forgot.seen.contains("::error")
            && forgot.seen.contains("production-image")
            && forgot
                .seen
                .contains(&format!("set `production-image: {}`", p.image)),
        "{}",
        forgot.seen
    );
    assert_eq!(p.b.writes().len(), writes);
    assert_eq!(w.registry.writes().len(), a_writes);
    assert_eq!(w.github_writes().len(), github_writes);

    // v0.3.0 the same way, then an immediate rollback: back to v0.2.0, in B.
    let promoted = run(
        "promote",
        &[("production-image", &p.image), ("staging-tag", "v0.3.0")],
    );
    assert!(promoted.ok, "{}", promoted.seen);
    merge_last();
    assert!(run("release", &[]).ok);
    let v3 = w.digest("v0.3.0");
    assert_eq!(p.digest("production-latest").as_deref(), Some(v3.as_str()));
    let rolled = run("rollback", &[("immediate", "true")]);
    assert!(rolled.ok, "{}", rolled.seen);
    assert_eq!(rolled.runner.outputs()["to-tag"], "v0.2.0");
    assert_eq!(p.digest("production-latest").as_deref(), Some(v2.as_str()));
    assert!(!images::exists(&staging_latest, None));
    p.assert_logins_stayed_apart(w.proxy.as_ref().expect("proxy"));
    let writes = p.b.writes().len();
    let again = run("rollback", &[("immediate", "true")]);
    assert!(again.ok, "{}", again.seen);
    assert_eq!(again.runner.outputs()["moving-tag-operation"], "unchanged");
    assert_eq!(p.b.writes().len(), writes, "{:?}", p.b.writes());
}
