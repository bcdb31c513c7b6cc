//! The real CNCF distribution registry (`docker-registry`), started on 127.0.0.1 and a free port with a
//! config of our own (anonymous, htpasswd basic auth, or token auth), stopped when dropped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub const USER: &str = "ci-bot";
pub const PASSWORD: &str = "s3cret-registry-pass";

/// How the registry authenticates.
pub enum Auth<'a> {
    Anonymous,
    /// bcrypt htpasswd with [`USER`] / [`PASSWORD`].
    Htpasswd,
    /// bcrypt htpasswd with this user and password (two registries with different logins).
    HtpasswdAs(&'a str, &'a str),
    /// `auth: token` verified against the issuer's certificate.
    Token(&'a super::token::Issuer),
}

pub struct Registry {
    /// `127.0.0.1:PORT`
    pub addr: String,
    child: Child,
    pub dir: TempDir,
    pub log: PathBuf,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind 127.0.0.1:0")
        .local_addr()
        .expect("local addr")
        .port()
}

fn need(tool: &str, package: &str) {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`{tool}` is missing: run `bash scripts/setup.sh` (apt-get install {package})"
    );
}

impl Registry {
    pub fn start(auth: Auth<'_>) -> Self {
        Self::start_with(auth, None)
    }

    /// An anonymous registry served over TLS only (`http.tls`), with the test CA's server certificate.
    pub fn start_tls(ca: &super::tls::TestCa) -> Self {
        Self::start_with(Auth::Anonymous, Some(ca))
    }

    fn start_with(auth: Auth<'_>, tls: Option<&super::tls::TestCa>) -> Self {
        need("docker-registry", "docker-registry");
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let storage = dir.path().join("storage");
        let mut config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n",
            storage.display()
        );
        if let Some(ca) = tls {
            config.push_str(&format!(
                "  tls:\n    certificate: {}\n    key: {}\n",
                ca.server_cert.display(),
                ca.server_key.display()
            ));
        }
        match auth {
            Auth::Anonymous => {}
            Auth::Htpasswd | Auth::HtpasswdAs(..) => {
                let (user, password) = match auth {
                    Auth::HtpasswdAs(u, p) => (u, p),
                    _ => (USER, PASSWORD),
                };
                need("htpasswd", "apache2-utils");
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .expect("htpasswd");
                assert!(out.status.success());
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, &out.stdout).expect("write htpasswd");
                config.push_str(&format!(
                    "auth:\n  htpasswd:\n    realm: test-registry\n    path: {}\n",
                    file.display()
                ));
            }
            Auth::Token(issuer) => {
                config.push_str(&format!(
                    "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                    issuer.realm(),
                    super::token::SERVICE,
                    super::token::ISSUER,
                    issuer.cert.display()
                ));
            }
        }
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).expect("write config");
        let log = dir.path().join("registry.log");
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            // The access log goes to stdout, the rest to stderr: both into the file requests() and writes() read.
            .stdout(log_file.try_clone().expect("log file"))
            .stderr(log_file)
            .spawn()
            .expect("start docker-registry");
        let registry = Self {
            addr: format!("127.0.0.1:{port}"),
            child,
            dir,
            log,
        };
        registry.wait_ready();
        registry
    }

    fn wait_ready(&self) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if std::net::TcpStream::connect(&self.addr).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "docker-registry did not start: {}",
            std::fs::read_to_string(&self.log).unwrap_or_default()
        );
    }

    /// Requests the registry has answered so far (access-log lines).
    pub fn requests(&self) -> usize {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("127.0.0.1 - "))
            .count()
    }

    /// Access-log lines that wrote something (PUT, POST, PATCH, DELETE).
    pub fn writes(&self) -> Vec<String> {
        std::fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with("127.0.0.1 - "))
            .filter(|l| {
                ["\"PUT ", "\"POST ", "\"PATCH ", "\"DELETE "]
                    .iter()
                    .any(|m| l.contains(m))
            })
            .map(str::to_string)
            .collect()
    }

    pub fn storage(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
