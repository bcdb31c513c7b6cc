//! Owns finding a manifest inside the workspace (never outside it) and writing it back atomically.

use std::fs;
use std::io::Write;
use std::path::{Component, Path, PathBuf};

use crate::error::{Error, InputProblem, Kind, Result};

/// The manifest of `app` in `environment` when no `manifest` is given (the layout of the seed repository).
pub const DEFAULT_MANIFEST: &str = "flux/apps/{app}/{environment}/kustomization.yaml";

/// `flux/apps/{app}/{environment}/kustomization.yaml` filled in.
pub fn default_manifest(app: &str, environment: &str) -> String {
    DEFAULT_MANIFEST
        .replace("{app}", app)
        .replace("{environment}", environment)
}

/// Checks the shape of a relative path given as input `input`: no absolute path, no `..`.
pub fn check_relative(input: &str, value: &str) -> std::result::Result<(), InputProblem> {
    let path = Path::new(value);
    let help = "give a path relative to the repository root, e.g. `flux/apps/backend/production/kustomization.yaml`";
    if path.is_absolute() || value.starts_with('/') || value.starts_with('\\') {
        return Err(InputProblem::new(input, format!("`{value}` is an absolute path")).help(help));
    }
    if path
        .components()
        .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
    {
        return Err(InputProblem::new(
            input,
            format!("`{value}` leaves the repository through `..`"),
        )
        .help(help));
    }
    Ok(())
}

/// The real path of `relative` inside `workspace`; a symlink anywhere on the way that leads outside the
/// workspace is refused as an input error, a missing file is `not found`.
pub fn resolve(workspace: &Path, input: &str, relative: &str) -> Result<PathBuf> {
    check_relative(input, relative).map_err(Error::input)?;
    let root = workspace.canonicalize().map_err(|e| {
        Error::new(
            Kind::NotFound,
            format!("workspace `{}` is not readable: {e}", workspace.display()),
        )
    })?;
    let joined = root.join(relative);
    let real = joined.canonicalize().map_err(|e| {
        Error::new(
            Kind::NotFound,
            format!("manifest `{relative}` does not exist in the repository: {e}"),
        )
        .with_help("check the path, or set `manifest` to the file to patch")
    })?;
    if !real.starts_with(&root) {
        return Err(Error::input(
            InputProblem::new(
                input,
                format!(
                    "`{relative}` resolves through a symlink to `{}`, outside the repository",
                    real.display()
                ),
            )
            .help("patch files inside the checked-out repository only"),
        ));
    }
    // A directory means its Kustomization, under any of the names kustomize reads.
    let real = if real.is_dir() {
        super::kustomize::FILE_NAMES
            .iter()
            .map(|name| real.join(name))
            .find(|p| p.is_file())
            .and_then(|p| p.canonicalize().ok())
            .filter(|p| p.starts_with(&root))
            .ok_or_else(|| {
                Error::new(
                    Kind::NotFound,
                    format!("directory `{relative}` has no kustomization.yaml, kustomization.yml or Kustomization"),
                )
            })?
    } else {
        real
    };
    if !real.is_file() {
        return Err(Error::new(
            Kind::NotFound,
            format!("manifest `{relative}` is not a file"),
        ));
    }
    Ok(real)
}

/// Writes `bytes` to `path` through a temporary file in the same directory and a rename, so a reader (or an
/// interrupted run) sees the old file or the new one, never half of one. The file's owner, group and permissions
/// are kept: under the Docker action the binary runs as root over the runner's workspace, and a replaced file
/// must not become root's.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| Error::new(Kind::Io, format!("`{}` has no directory", path.display())))?;
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("manifest");
    let tmp = dir.join(format!(
        ".{name}.gitops-promote-{}-{}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let io = |what: &str, e: std::io::Error| {
        Error::new(Kind::Io, format!("can't {what} `{}`: {e}", path.display()))
    };
    let result = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|e| io("create a temporary file next to", e))?;
        file.write_all(bytes).map_err(|e| io("write", e))?;
        if let Ok(meta) = fs::metadata(path) {
            // Owner first: changing it may clear set-id bits, which the permissions then restore.
            keep_owner(&file, &meta).map_err(|e| {
                io("keep the owner of", e)
                    .with_help("run as the file's owner, or as root (as the Docker action does)")
            })?;
            file.set_permissions(meta.permissions())
                .map_err(|e| io("keep the permissions of", e))?;
        }
        // No fsync: the rename alone is what makes the write atomic for readers and for a crashed or killed
        // run (the old file or the new one, never half of one). An fsync would only add durability across a
        // power loss, which a CI checkout does not need: git holds the truth, the file matters only until
        // the commit or push that follows, and a runner that loses power loses the whole job and its
        // checkout. With it, the write cost 0.4–3.5 ms per file here (half to nine tenths of a `patch`).
        drop(file);
        fs::rename(&tmp, path).map_err(|e| io("replace", e))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Gives the new file the original's owner and group, when they differ from the writer's.
#[cfg(unix)]
fn keep_owner(file: &fs::File, original: &fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let now = file.metadata()?;
    if (now.uid(), now.gid()) == (original.uid(), original.gid()) {
        return Ok(());
    }
    std::os::unix::fs::fchown(file, Some(original.uid()), Some(original.gid()))
}

#[cfg(not(unix))]
fn keep_owner(_file: &fs::File, _original: &fs::Metadata) -> std::io::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_outside_the_repository_are_refused() {
        assert!(check_relative("manifest", "../x.yaml").is_err());
        assert!(check_relative("manifest", "a/../../x.yaml").is_err());
        assert!(check_relative("manifest", "/etc/passwd").is_err());
        assert!(check_relative("manifest", "flux/apps/a/b/kustomization.yaml").is_ok());
        assert_eq!(
            default_manifest("backend", "production"),
            "flux/apps/backend/production/kustomization.yaml"
        );
    }

    #[test]
    fn atomic_writes_replace_the_file_and_leave_no_temporary() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("k.yaml");
        fs::write(&path, "a: 1\n").expect("write");
        write_atomic(&path, b"a: 2\n").expect("atomic");
        assert_eq!(fs::read_to_string(&path).expect("read"), "a: 2\n");
        assert_eq!(fs::read_dir(dir.path()).expect("dir").count(), 1);
    }
}
