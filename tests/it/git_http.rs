//! A git remote over HTTP that demands a password, as GitHub does: lighttpd + `git http-backend` (CGI) with a
//! bcrypt htpasswd file, on 127.0.0.1 and a free port. User `x-access-token`, password = the token. Over
//! https too, with a certificate of a test CA (lighttpd's `mod_openssl`).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::tls::TestCa;

pub const USER: &str = "x-access-token";

pub struct GitHttpServer {
    child: Child,
    pub port: u16,
    scheme: &'static str,
}

impl Drop for GitHttpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl GitHttpServer {
    /// Serves every bare repository under `root` at `http://127.0.0.1:PORT/git/NAME.git`, for `token` only.
    pub fn start(root: &Path, scratch: &Path, token: &str) -> Self {
        Self::start_with(root, scratch, token, None)
    }

    /// As [`GitHttpServer::start`], over https with a server certificate signed by `ca`.
    pub fn start_tls(root: &Path, scratch: &Path, token: &str, ca: &TestCa) -> Self {
        Self::start_with(root, scratch, token, Some(ca))
    }

    fn start_with(root: &Path, scratch: &Path, token: &str, tls: Option<&TestCa>) -> Self {
        let lighttpd = "/usr/sbin/lighttpd";
        let backend = "/usr/lib/git-core/git-http-backend";
        for (tool, install) in [(lighttpd, "lighttpd"), (backend, "git")] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: run `bash scripts/setup.sh` (apt-get install {install})"
            );
        }
        let tls_config = match tls {
            Some(ca) => {
                let module = "/usr/lib/lighttpd/mod_openssl.so";
                assert!(
                    Path::new(module).exists(),
                    "{module} is missing: run `bash scripts/setup.sh` (apt-get install lighttpd-mod-openssl)"
                );
                format!(
                    "server.modules += (\"mod_openssl\")\nssl.engine = \"enable\"\nssl.pemfile = \"{}\"\nssl.privkey = \"{}\"\n",
                    ca.server_cert.display(),
                    ca.server_key.display()
                )
            }
            None => String::new(),
        };
        let htpasswd = scratch.join("htpasswd");
        let out = Command::new("htpasswd")
            .args(["-Bbc", htpasswd.to_str().expect("utf-8"), USER, token])
            .output()
            .expect(
                "htpasswd is missing: run `bash scripts/setup.sh` (apt-get install apache2-utils)",
            );
        assert!(out.status.success(), "htpasswd failed");
        let port = free_port();
        let config = scratch.join("lighttpd.conf");
        std::fs::write(
            &config,
            format!(
                r#"server.document-root = "{root}"
server.bind = "127.0.0.1"
server.port = {port}
server.errorlog = "{scratch}/lighttpd.err"
server.modules = ("mod_alias", "mod_auth", "mod_authn_file", "mod_cgi", "mod_setenv")
alias.url = ("/git" => "{backend}")
cgi.assign = ("" => "")
setenv.add-environment = ("GIT_PROJECT_ROOT" => "{root}", "GIT_HTTP_EXPORT_ALL" => "1")
auth.backend = "htpasswd"
auth.backend.htpasswd.userfile = "{htpasswd}"
auth.require = ("/git" => ("method" => "basic", "realm" => "git", "require" => "valid-user"))
{tls_config}"#,
                root = root.display(),
                scratch = scratch.display(),
                htpasswd = htpasswd.display(),
            ),
        )
        .expect("write lighttpd.conf");
        let child = Command::new(lighttpd)
            .args(["-D", "-f", config.to_str().expect("utf-8")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start lighttpd");
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "lighttpd did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Self {
            child,
            port,
            scheme: if tls.is_some() { "https" } else { "http" },
        }
    }

    pub fn url(&self, name: &str) -> String {
        format!("{}://127.0.0.1:{}/git/{name}", self.scheme, self.port)
    }
}
