//! A test certificate authority made with the `openssl` command: a CA certificate, and a server certificate it
//! signs for `127.0.0.1` and `localhost`, for a registry served over TLS on loopback.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

pub struct TestCa {
    /// The CA's certificate (PEM): what a client must trust.
    pub ca: PathBuf,
    /// The server's certificate and key (PEM), signed by the CA.
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    _dir: TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("`openssl` is missing: run `bash scripts/setup.sh` (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl TestCa {
    /// A new CA (named `name`) and a server certificate for loopback signed by it.
    pub fn new(name: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let ec = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        let mut ca = vec![
            "req", "-x509", "-days", "2", "-keyout", "ca.key", "-out", "ca.pem",
        ];
        ca.extend(ec);
        let subject = format!("/CN={name}");
        ca.extend([
            "-subj",
            &subject,
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ]);
        openssl(d, &ca);
        let mut csr = vec!["req", "-new", "-keyout", "server.key", "-out", "server.csr"];
        csr.extend(ec);
        csr.extend(["-subj", "/CN=127.0.0.1"]);
        openssl(d, &csr);
        std::fs::write(
            d.join("server.ext"),
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
        )
        .expect("write extensions");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                "server.pem",
                "-extfile",
                "server.ext",
            ],
        );
        Self {
            ca: d.join("ca.pem"),
            server_cert: d.join("server.pem"),
            server_key: d.join("server.key"),
            _dir: dir,
        }
    }
}
