"""The build stand-in's image: an OCI layout shaped as `docker buildx build --push` writes it, pushed with
`skopeo copy --all` to every tag of $TAGS; `digest=` goes to $GITHUB_OUTPUT."""
import gzip, hashlib, io, json, os, re, subprocess, sys, tarfile, tempfile

if os.environ.get("PUSH") != "true":
    sys.exit("build-push stand-in: only `push: true` is supported")
tags = [t.strip() for t in re.split(r"[,\n]", os.environ.get("TAGS", "")) if t.strip()]
labels = dict(l.split("=", 1) for l in os.environ.get("LABELS", "").splitlines() if "=" in l)
out = tempfile.mkdtemp()
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs)
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"


def put(data, media):
    d = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, d), "wb") as f:
        f.write(data)
    return {"mediaType": media, "digest": "sha256:" + d, "size": len(data)}


entries = []
for arch in ("amd64", "arm64"):
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        body = f"{os.environ.get('GITHUB_SHA', '')} {arch} {os.urandom(8).hex()}\n".encode()
        info = tarfile.TarInfo("app/build")
        info.size = len(body)
        t.addfile(info, io.BytesIO(body))
    layer = put(gzip.compress(raw.getvalue(), mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip")
    config = put(json.dumps({"architecture": arch, "os": "linux", "config": {"Labels": labels},
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + hashlib.sha256(raw.getvalue()).hexdigest()]}}).encode(), CONFIG)
    image = put(json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config, "layers": [layer]}).encode(), OCI_MANIFEST)
    entries.append(dict(image, platform={"architecture": arch, "os": "linux"}))
    statement = put(json.dumps({"_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "_", "digest": {"sha256": image["digest"][7:]}}], "predicate": {}}).encode(),
        "application/vnd.in-toto+json")
    statement["annotations"] = {"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}
    att_config = put(json.dumps({"architecture": "unknown", "os": "unknown", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [statement["digest"]]}}).encode(), CONFIG)
    attestation = put(json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": att_config,
        "layers": [statement]}).encode(), OCI_MANIFEST)
    entries.append(dict(attestation, platform={"architecture": "unknown", "os": "unknown"},
        annotations={"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": image["digest"]}))
index = put(json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": entries}).encode(), "application/vnd.oci.image.index.v1+json")
index["annotations"] = {"org.opencontainers.image.ref.name": "latest"}
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [index]}, f)
with open(os.path.join(out, "oci-layout"), "w") as f:
    f.write('{"imageLayoutVersion":"1.0.0"}')
for tag in tags:
    subprocess.run(["skopeo", "--insecure-policy", "copy", "--quiet", "--all", "--dest-tls-verify=false",
                    f"oci:{out}:latest", f"docker://{tag}"], check=True)
    print(f"build-push stand-in: pushed {tag}@{index['digest']}")
with open(os.environ["GITHUB_OUTPUT"], "a") as f:
    f.write(f"digest={index['digest']}\n")
