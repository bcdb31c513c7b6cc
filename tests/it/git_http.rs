//! A git remote over HTTP that demands a password, as GitHub does: lighttpd + `git http-backend` (CGI) with a
//! bcrypt htpasswd file, on 127.0.0.1 and a free port. User `x-access-token`, password = the token.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const USER: &str = "x-access-token";

pub struct GitHttpServer {
    child: Child,
    pub port: u16,
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
        let lighttpd = "/usr/sbin/lighttpd";
        let backend = "/usr/lib/git-core/git-http-backend";
        for (tool, install) in [(lighttpd, "lighttpd"), (backend, "git")] {
            assert!(
                Path::new(tool).exists(),
                "{tool} is missing: run `bash scripts/setup.sh` (apt-get install {install})"
            );
        }
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
"#,
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
        Self { child, port }
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/git/{name}", self.port)
    }
}
