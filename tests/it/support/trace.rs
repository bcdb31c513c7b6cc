//! The files a process opens, counted by `strace` (the kernel's view, not the program's own claim): the
//! independent check that a run reads each file once.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `cmd` under `strace -f` and returns its output and, for every regular file under `root` it opened
/// successfully, how many times. Directories (opened to list them) are not counted.
pub fn files_opened(cmd: &Command, root: &Path) -> (Output, BTreeMap<PathBuf, usize>) {
    files_opened_by(
        cmd.get_program(),
        cmd.get_args(),
        cmd.get_envs(),
        cmd.get_current_dir(),
        root,
    )
}

/// [`files_opened`] for a command given by its parts (an `assert_cmd::Command` has the same getters).
pub fn files_opened_by<'a>(
    program: &OsStr,
    args: impl Iterator<Item = &'a OsStr>,
    envs: impl Iterator<Item = (&'a OsStr, Option<&'a OsStr>)>,
    cwd: Option<&Path>,
    root: &Path,
) -> (Output, BTreeMap<PathBuf, usize>) {
    let found = Command::new("sh")
        .args(["-c", "command -v strace"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    assert!(
        found,
        "`strace` is missing: run `bash scripts/setup.sh` (apt-get install strace)"
    );
    let log = tempfile::NamedTempFile::new().expect("strace log");
    let mut traced = Command::new("strace");
    traced
        .args(["-f", "-qq", "-e", "trace=open,openat,openat2", "-o"])
        .arg(log.path())
        .arg(program)
        .args(args);
    for (key, value) in envs {
        match value {
            Some(v) => traced.env(key, v),
            None => traced.env_remove(key),
        };
    }
    let cwd = cwd
        .map(Path::to_path_buf)
        .unwrap_or_else(|| std::env::current_dir().expect("cwd"));
    traced.current_dir(&cwd);
    let output = traced.output().expect("run strace");
    let root = root.canonicalize().expect("root");
    let cwd = cwd.canonicalize().expect("cwd");
    let mut opened = BTreeMap::new();
    for line in std::fs::read_to_string(log.path())
        .expect("strace log")
        .lines()
    {
        // `1234 openat(AT_FDCWD, "flux/apps/a.yaml", O_RDONLY|O_CLOEXEC) = 3`
        let Some((call, result)) = line.rsplit_once(") = ") else {
            continue;
        };
        if result.starts_with('-') || call.contains("O_DIRECTORY") {
            continue;
        }
        let Some(path) = call.split('"').nth(1) else {
            continue;
        };
        let path = Path::new(path);
        let full = if path.is_absolute() {
            path.to_path_buf()
        } else {
            cwd.join(path)
        };
        let full = full.canonicalize().unwrap_or(full);
        if full.starts_with(&root) && full.is_file() {
            *opened.entry(full).or_insert(0) += 1;
        }
    }
    (output, opened)
}

/// The files opened more than once, with their counts.
pub fn opened_twice(opened: &BTreeMap<PathBuf, usize>) -> Vec<(PathBuf, usize)> {
    opened
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(p, n)| (p.clone(), *n))
        .collect()
}
