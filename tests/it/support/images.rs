//! Test images without a container engine: OCI image layouts with random layers (single-platform or a
//! two-platform index), pushed with `skopeo copy`, and `skopeo inspect --raw` as the independent digest check.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use rand::RngCore;
use sha2::{Digest, Sha256};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(bytes))
}

/// Which manifest format `skopeo` writes to the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Oci,
    Docker,
}

/// An image in an OCI layout directory.
pub struct Layout {
    pub dir: PathBuf,
    pub platforms: usize,
}

fn write_blob(dir: &Path, bytes: &[u8]) -> (String, usize) {
    let digest = digest_of(bytes);
    let path = dir.join("blobs/sha256").join(&digest["sha256:".len()..]);
    std::fs::write(path, bytes).expect("write blob");
    (digest, bytes.len())
}

/// gzip with stored (uncompressed) deflate blocks: a valid `tar+gzip` layer as fast as writing random bytes.
fn gzip_stored(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + data.len() / 65535 * 5 + 32);
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[]]
    } else {
        data.chunks(65535).collect()
    };
    let n = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate() {
        out.push(u8::from(i + 1 == n));
        let len = u16::try_from(chunk.len()).expect("chunk fits");
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    out.extend_from_slice(&crc32(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

fn crc32(data: &[u8]) -> u32 {
    static TABLE: std::sync::LazyLock<[u32; 256]> = std::sync::LazyLock::new(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    let mut c = !0u32;
    for &b in data {
        c = TABLE[((c ^ u32::from(b)) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

/// Writes an OCI layout with `platforms` images (1: a single image; 2: an index of linux/amd64 and
/// linux/arm64), each with `layers` random layers of `layer_size` bytes. The layout's tag is `latest`.
pub fn layout(root: &Path, platforms: usize, layers: usize, layer_size: usize) -> Layout {
    let dir = root.join(format!("layout-{}", rand::random::<u32>()));
    std::fs::create_dir_all(dir.join("blobs/sha256")).expect("layout dir");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    let mut rng = rand::rng();
    let arches = ["amd64", "arm64"];
    let mut manifests = Vec::new();
    for arch in arches.iter().take(platforms) {
        let mut layer_descs = Vec::new();
        let mut diff_ids = Vec::new();
        for _ in 0..layers {
            let mut raw = vec![0u8; layer_size];
            rng.fill_bytes(&mut raw);
            diff_ids.push(digest_of(&raw));
            let gz = gzip_stored(&raw);
            let (d, size) = write_blob(&dir, &gz);
            layer_descs.push(serde_json::json!({
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": d, "size": size
            }));
        }
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": {"Env": [format!("NONCE={}", rand::random::<u64>())]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        let (cd, cs) = write_blob(&dir, &serde_json::to_vec(&config).expect("json"));
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
            "layers": layer_descs,
        });
        let (md, ms) = write_blob(&dir, &serde_json::to_vec(&manifest).expect("json"));
        manifests.push(serde_json::json!({
            "mediaType": OCI_MANIFEST, "digest": md, "size": ms,
            "platform": {"architecture": arch, "os": "linux"},
        }));
    }
    let top = if platforms == 1 {
        let mut m = manifests.remove(0);
        m.as_object_mut().expect("object").remove("platform");
        m
    } else {
        let index =
            serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        let (d, s) = write_blob(&dir, &serde_json::to_vec(&index).expect("json"));
        serde_json::json!({"mediaType": OCI_INDEX, "digest": d, "size": s})
    };
    let mut top = top;
    top["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "latest"});
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [top]});
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&index).expect("json"),
    )
    .expect("index.json");
    Layout { dir, platforms }
}

pub fn skopeo() -> Command {
    let found = Command::new("sh")
        .args(["-c", "command -v skopeo"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`skopeo` is missing: run `bash scripts/setup.sh` (apt-get install skopeo)"
    );
    let mut cmd = Command::new("skopeo");
    // No user policy file on a fresh machine: accept anything, this is a test.
    cmd.arg("--insecure-policy");
    cmd
}

fn run(mut cmd: Command) -> Vec<u8> {
    let out = cmd.output().expect("run skopeo");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Pushes the layout to `dest` (`127.0.0.1:PORT/REPO:TAG`) in `format`.
pub fn push(layout: &Layout, dest: &str, format: Format, creds: Option<(&str, &str)>) {
    let mut cmd = skopeo();
    cmd.args(["copy", "--quiet", "--dest-tls-verify=false"]);
    if layout.platforms > 1 {
        cmd.arg("--all");
    }
    if format == Format::Docker {
        cmd.args(["--format", "v2s2"]);
    }
    if let Some((u, p)) = creds {
        cmd.arg(format!("--dest-creds={u}:{p}"));
    }
    cmd.arg(format!("oci:{}:latest", layout.dir.display()))
        .arg(format!("docker://{dest}"));
    run(cmd);
}

/// The manifest bytes the registry serves for `reference`, read by skopeo (the independent check).
pub fn inspect_raw(reference: &str, creds: Option<(&str, &str)>) -> Vec<u8> {
    let mut cmd = skopeo();
    cmd.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some((u, p)) = creds {
        cmd.arg(format!("--creds={u}:{p}"));
    }
    cmd.arg(format!("docker://{reference}"));
    run(cmd)
}

/// The digest of what the registry serves for `reference`, per skopeo.
pub fn digest(reference: &str, creds: Option<(&str, &str)>) -> String {
    digest_of(&inspect_raw(reference, creds))
}

/// Whether the reference exists: `true` when skopeo reads it, `false` only when the registry answers "manifest
/// unknown". Any other failure (registry unreachable, credentials refused) panics, so an assertion that nothing
/// was written can't pass on a broken check.
pub fn exists(reference: &str, creds: Option<(&str, &str)>) -> bool {
    let mut cmd = skopeo();
    cmd.args(["inspect", "--raw", "--tls-verify=false"]);
    if let Some((u, p)) = creds {
        cmd.arg(format!("--creds={u}:{p}"));
    }
    cmd.arg(format!("docker://{reference}"));
    let out = cmd.output().expect("skopeo");
    if out.status.success() {
        return true;
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("manifest unknown"),
        "can't tell whether `{reference}` exists: skopeo failed: {stderr}"
    );
    false
}

/// The `mediaType` field of a manifest.
pub fn media_type(raw: &[u8]) -> String {
    let v: serde_json::Value = serde_json::from_slice(raw).expect("manifest json");
    v["mediaType"].as_str().unwrap_or_default().to_string()
}

#[allow(dead_code)]
pub fn write_file(path: &Path, bytes: &[u8]) {
    let mut f = std::fs::File::create(path).expect("create");
    f.write_all(bytes).expect("write");
}

/// The annotation buildx marks its provenance attestation manifests with.
pub const ATTESTATION_TYPE: &str = "vnd.docker.reference.type";

/// Writes an OCI layout shaped as `docker/build-push-action` pushes an image with its defaults: an index with a
/// platform image per entry of `revisions` (linux/amd64, then linux/arm64), whose `labels:` are in the image
/// **config** (`org.opencontainers.image.revision` = that entry; `None`: no such label) and not in any
/// annotation, each followed by its provenance attestation manifest (platform `unknown/unknown`, annotation
/// `vnd.docker.reference.type: attestation-manifest`, an in-toto layer). `platforms` is the index's entry count.
pub fn buildx_layout(root: &Path, revisions: &[Option<&str>]) -> Layout {
    let dir = root.join(format!("buildx-{}", rand::random::<u32>()));
    std::fs::create_dir_all(dir.join("blobs/sha256")).expect("layout dir");
    std::fs::write(dir.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#)
        .expect("oci-layout");
    let mut entries = Vec::new();
    for (arch, revision) in ["amd64", "arm64"].iter().zip(revisions) {
        let mut raw = vec![0u8; 256];
        rand::rng().fill_bytes(&mut raw);
        let gz = gzip_stored(&raw);
        let (ld, ls) = write_blob(&dir, &gz);
        let mut labels =
            serde_json::json!({"org.opencontainers.image.source": "https://github.com/org/app"});
        if let Some(r) = revision {
            labels["org.opencontainers.image.revision"] = serde_json::json!(r);
        }
        let config = serde_json::json!({
            "architecture": arch, "os": "linux",
            "config": {"Env": [format!("NONCE={}", rand::random::<u64>())], "Labels": labels},
            "rootfs": {"type": "layers", "diff_ids": [digest_of(&raw)]},
        });
        let (cd, cs) = write_blob(&dir, &serde_json::to_vec(&config).expect("json"));
        let manifest = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": ld, "size": ls}],
        });
        let (md, ms) = write_blob(&dir, &serde_json::to_vec(&manifest).expect("json"));
        entries.push(serde_json::json!({
            "mediaType": OCI_MANIFEST, "digest": md, "size": ms,
            "platform": {"architecture": arch, "os": "linux"},
        }));
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v0.1",
            "predicateType": "https://slsa.dev/provenance/v0.2",
            "subject": [{"name": "_", "digest": {"sha256": &md["sha256:".len()..]}}],
            "predicate": {"builder": {"id": ""}, "buildType": "https://mobyproject.org/buildkit@v1"},
        });
        let (sd, ss) = write_blob(&dir, &serde_json::to_vec(&statement).expect("json"));
        let att_config = serde_json::json!({
            "architecture": "unknown", "os": "unknown", "config": {},
            "rootfs": {"type": "layers", "diff_ids": [sd]},
        });
        let (acd, acs) = write_blob(&dir, &serde_json::to_vec(&att_config).expect("json"));
        let attestation = serde_json::json!({
            "schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": acd, "size": acs},
            "layers": [{"mediaType": "application/vnd.in-toto+json", "digest": sd, "size": ss,
                        "annotations": {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}}],
        });
        let (ad, asz) = write_blob(&dir, &serde_json::to_vec(&attestation).expect("json"));
        entries.push(serde_json::json!({
            "mediaType": OCI_MANIFEST, "digest": ad, "size": asz,
            "annotations": {ATTESTATION_TYPE: "attestation-manifest", "vnd.docker.reference.digest": md},
            "platform": {"architecture": "unknown", "os": "unknown"},
        }));
    }
    let platforms = entries.len();
    let index =
        serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": entries});
    let (d, s) = write_blob(&dir, &serde_json::to_vec(&index).expect("json"));
    let top = serde_json::json!({"mediaType": OCI_INDEX, "digest": d, "size": s,
        "annotations": {"org.opencontainers.image.ref.name": "latest"}});
    std::fs::write(
        dir.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [top]}))
            .expect("json"),
    )
    .expect("index.json");
    Layout { dir, platforms }
}
