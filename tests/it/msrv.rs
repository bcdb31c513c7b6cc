//! The `rust-version` Cargo.toml promises holds for the locked dependency tree: no dependency needs a newer
//! compiler. (CI builds with that toolchain too; this machine has only the current one, so this is the check that
//! runs everywhere.)

use std::process::Command;

fn version(text: &str) -> semver::Version {
    let mut parts: Vec<u64> = text.split('.').map(|p| p.parse().expect(text)).collect();
    parts.resize(3, 0);
    semver::Version::new(parts[0], parts[1], parts[2])
}

#[test]
fn no_locked_dependency_needs_a_newer_rust_than_rust_version() {
    let out = Command::new(env!("CARGO"))
        .args(["metadata", "--locked", "--format-version", "1"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("metadata is JSON");
    let msrv = version(env!("CARGO_PKG_RUST_VERSION"));
    let too_new: Vec<String> = metadata["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| {
            let needs = p["rust_version"].as_str()?;
            let (name, at) = (p["name"].as_str()?, p["version"].as_str()?);
            (version(needs) > msrv).then(|| format!("{name} {at} needs {needs}"))
        })
        .collect();
    assert!(
        too_new.is_empty(),
        "Cargo.toml says rust-version = {msrv}, but: {too_new:?}; raise rust-version (and the README's \
         install line) or pin the dependency with `cargo update -p NAME --precise VERSION`"
    );
}
