//! Owns the git repository: history and tags for the version rules, and creating and pushing a release tag.
//!
//! Reads with libgit2 (`git2`) rather than spawning `git`: no dependence on the runner's git version or
//! config, and one process for a 10,000-commit walk. Pushes authenticate through a credential callback with
//! the `github-token` input (user `x-access-token`), so the token never appears in a URL, a config file or
//! a log line, and `persist-credentials: false` on checkout works.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::sync::Once;

use git2::{
    Cred, CredentialType, Direction, ObjectType, Oid, PushOptions, RemoteCallbacks, Repository,
};
use serde::Serialize;

use crate::error::{Error, InputProblem, Kind, Result};
use crate::inputs::Secret;
use crate::version::CommitInfo;

/// A tag and the commit it points to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagRef {
    pub name: String,
    pub commit: String,
}

/// What the build modes need to know about HEAD.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    pub sha: String,
    /// Commit time, seconds since the epoch (UTC).
    pub time: i64,
    /// `refs/heads/main`, or `None` when detached (as on `actions/checkout` of a PR).
    pub branch: Option<String>,
}

pub struct GitRepo {
    repo: Repository,
    path: PathBuf,
}

static OWNER_VALIDATION: Once = Once::new();

fn git_error(context: &str, e: git2::Error) -> Error {
    let kind = match e.code() {
        git2::ErrorCode::Auth => Kind::Permission,
        git2::ErrorCode::NotFound => Kind::NotFound,
        _ => Kind::Git,
    };
    Error::new(kind, format!("{context}: {}", e.message()))
}

/// A URL fit for a log: any `user:password@` part removed.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    match rest[..authority_end].rfind('@') {
        Some(at) => format!("{scheme}://{}", &rest[at + 1..]),
        None => url.to_string(),
    }
}

impl GitRepo {
    /// Opens the repository at `path` (not a parent: the path is the `--repo`/workspace the user named).
    pub fn open(path: &Path) -> Result<Self> {
        OWNER_VALIDATION.call_once(|| {
            // A Docker action runs as root over a workspace owned by the runner user; git's "dubious ownership"
            // check would refuse it exactly as it refuses `git` there. The workspace is the job's own checkout.
            // SAFETY: called once, before any other libgit2 use in this process.
            #[allow(unsafe_code)]
            unsafe {
                let _ = git2::opts::set_verify_owner_validation(false);
            }
        });
        let repo = Repository::open(path).map_err(|e| {
            Error::input(
                InputProblem::new(
                    "repo",
                    format!(
                        "`{}` is not a git repository: {}",
                        path.display(),
                        e.message()
                    ),
                )
                .help("run in a checked-out repository (actions/checkout) or pass `--repo PATH`"),
            )
        })?;
        Ok(Self {
            repo,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Fails on a shallow clone: its history (and usually its tags) are cut, so any version would be wrong.
    pub fn ensure_full_history(&self) -> Result<()> {
        if self.repo.is_shallow() {
            return Err(Error::new(
                Kind::Git,
                format!(
                    "`{}` is a shallow clone: the commits and tags since the last release are missing",
                    self.path.display()
                ),
            )
            .with_help("set `fetch-depth: 0` on actions/checkout (or run `git fetch --unshallow --tags`)"));
        }
        Ok(())
    }

    pub fn head(&self) -> Result<Head> {
        let head = self
            .repo
            .head()
            .map_err(|e| git_error("can't read HEAD (is the repository empty?)", e))?;
        let commit = head
            .peel_to_commit()
            .map_err(|e| git_error("HEAD is not a commit", e))?;
        let branch = head
            .is_branch()
            .then(|| head.name().ok().map(|n| n.to_string()))
            .flatten();
        Ok(Head {
            sha: commit.id().to_string(),
            time: commit.time().seconds(),
            branch,
        })
    }

    /// Every tag with the commit it peels to (tags on non-commits are skipped).
    pub fn tags(&self) -> Result<Vec<TagRef>> {
        let refs = self
            .repo
            .references_glob("refs/tags/*")
            .map_err(|e| git_error("can't list tags", e))?;
        let mut tags = Vec::new();
        for reference in refs.flatten() {
            let Ok(name) = reference.shorthand().map(|n| n.to_string()) else {
                continue;
            };
            if let Ok(commit) = reference.peel_to_commit() {
                tags.push(TagRef {
                    name,
                    commit: commit.id().to_string(),
                });
            }
        }
        Ok(tags)
    }

    /// The commits reachable from HEAD and not from `base` (`git rev-list BASE..HEAD`), merges included.
    pub fn commits_since(&self, base: Option<&str>) -> Result<Vec<CommitInfo>> {
        let mut walk = self
            .repo
            .revwalk()
            .map_err(|e| git_error("can't walk history", e))?;
        walk.push_head()
            .map_err(|e| git_error("can't walk from HEAD", e))?;
        if let Some(base) = base {
            let oid = Oid::from_str(base).map_err(|e| git_error("bad base commit", e))?;
            walk.hide(oid)
                .map_err(|e| git_error("can't hide the base tag's history", e))?;
        }
        let mut commits = Vec::new();
        for oid in walk {
            let oid = oid.map_err(|e| git_error("can't walk history", e))?;
            let commit = self
                .repo
                .find_commit(oid)
                .map_err(|e| git_error("can't read a commit", e))?;
            commits.push(CommitInfo {
                message: String::from_utf8_lossy(commit.message_bytes()).into_owned(),
                is_merge: commit.parent_count() > 1,
            });
        }
        Ok(commits)
    }

    /// The commit a local tag points to, if the tag exists.
    pub fn tag_commit(&self, name: &str) -> Option<String> {
        self.repo
            .find_reference(&format!("refs/tags/{name}"))
            .ok()?
            .peel_to_commit()
            .ok()
            .map(|c| c.id().to_string())
    }

    /// Creates an annotated tag on `commit`. The tagger is the repository's configured identity, else
    /// `gitops-promote`.
    pub fn create_tag(&self, name: &str, commit: &str, message: &str) -> Result<()> {
        let oid = Oid::from_str(commit).map_err(|e| git_error("bad commit id", e))?;
        let target = self
            .repo
            .find_object(oid, Some(ObjectType::Commit))
            .map_err(|e| git_error(&format!("can't find commit {commit}"), e))?;
        let tagger = self
            .repo
            .signature()
            .or_else(|_| {
                git2::Signature::now("gitops-promote", "gitops-promote@users.noreply.github.com")
            })
            .map_err(|e| git_error("can't make a tagger signature", e))?;
        self.repo
            .tag(name, &target, &tagger, message, false)
            .map_err(|e| git_error(&format!("can't create tag {name}"), e))?;
        Ok(())
    }

    /// The URL of `remote`, redacted for logs.
    pub fn remote_url(&self, remote: &str) -> Result<String> {
        let r = self.find_remote(remote)?;
        Ok(redact_url(r.url().unwrap_or("")))
    }

    fn find_remote(&self, remote: &str) -> Result<git2::Remote<'_>> {
        self.repo.find_remote(remote).map_err(|e| {
            Error::new(
                Kind::Git,
                format!("the repository has no remote `{remote}`: {}", e.message()),
            )
            .with_help("clone with actions/checkout, or `git remote add origin URL`")
        })
    }

    /// The commit `refs/tags/{name}` points to on the remote (`git ls-remote`), if it exists there.
    pub fn remote_tag_commit(
        &self,
        remote: &str,
        name: &str,
        token: Option<&Secret>,
    ) -> Result<Option<String>> {
        let mut r = self.find_remote(remote)?;
        let url = redact_url(r.url().unwrap_or(""));
        let attempts = Cell::new(0);
        let callbacks = credential_callbacks(token, &attempts);
        let connection = r
            .connect_auth(Direction::Fetch, Some(callbacks), None)
            .map_err(|e| remote_error(&url, "read tags from", e, token.is_some()))?;
        let full = format!("refs/tags/{name}");
        let peeled = format!("{full}^{{}}");
        let heads = connection
            .list()
            .map_err(|e| remote_error(&url, "list", e, token.is_some()))?;
        // An annotated tag is listed twice: the tag object, then `^{}` with the commit it peels to.
        let mut found = None;
        for head in heads {
            if head.name() == peeled {
                return Ok(Some(head.oid().to_string()));
            }
            if head.name() == full {
                found = Some(head.oid().to_string());
            }
        }
        Ok(found)
    }

    /// Pushes `refs/tags/{name}` to `remote`, never forcing: a tag that exists there is refused.
    pub fn push_tag(&self, remote: &str, name: &str, token: Option<&Secret>) -> Result<()> {
        let mut r = self.find_remote(remote)?;
        let url = redact_url(r.url().unwrap_or(""));
        let attempts = Cell::new(0);
        let rejected: RefCell<Option<String>> = RefCell::new(None);
        let mut callbacks = credential_callbacks(token, &attempts);
        callbacks.push_update_reference(|refname, status| {
            if let Some(status) = status {
                *rejected.borrow_mut() = Some(format!("{refname}: {status}"));
            }
            Ok(())
        });
        let mut options = PushOptions::new();
        options.remote_callbacks(callbacks);
        let spec = format!("refs/tags/{name}:refs/tags/{name}");
        let pushed = r.push(&[spec.as_str()], Some(&mut options));
        drop(options);
        pushed.map_err(|e| remote_error(&url, "push the tag to", e, token.is_some()))?;
        if let Some(reason) = rejected.into_inner() {
            return Err(Error::new(
                Kind::Conflict,
                format!("{url} refused the tag: {reason}"),
            ));
        }
        Ok(())
    }
}

fn credential_callbacks<'a>(
    token: Option<&'a Secret>,
    attempts: &'a Cell<u32>,
) -> RemoteCallbacks<'a> {
    let mut callbacks = RemoteCallbacks::new();
    callbacks.credentials(move |_url, _username, allowed| {
        // libgit2 calls again after a refusal; a second call means the token was refused, and looping
        // would hang the job.
        attempts.set(attempts.get() + 1);
        match token {
            Some(token)
                if attempts.get() == 1 && allowed.contains(CredentialType::USER_PASS_PLAINTEXT) =>
            {
                Cred::userpass_plaintext("x-access-token", token.expose())
            }
            _ => Err(git2::Error::from_str("authentication failed")),
        }
    });
    callbacks
}

fn remote_error(url: &str, action: &str, e: git2::Error, had_token: bool) -> Error {
    let message = format!("can't {action} {url}: {}", e.message());
    let auth = e.code() == git2::ErrorCode::Auth
        || e.class() == git2::ErrorClass::Http && e.message().contains("401")
        || e.message().contains("authentication");
    if auth {
        let help = if had_token {
            "the token was refused: give the job `permissions: contents: write` and pass `github-token`"
        } else {
            "the remote needs credentials: pass `github-token` (the CLI reads GITHUB_TOKEN)"
        };
        Error::new(Kind::Permission, message).with_help(help)
    } else {
        Error::new(Kind::Upstream, message)
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn urls_lose_their_credentials() {
        assert_eq!(
            redact_url("https://x-access-token:ghp_abc@github.com/org/app.git"),
            "https://github.com/org/app.git"
        );
        assert_eq!(
            redact_url("https://github.com/org/app.git"),
            "https://github.com/org/app.git"
        );
        assert_eq!(redact_url("/tmp/origin.git"), "/tmp/origin.git");
    }
}
