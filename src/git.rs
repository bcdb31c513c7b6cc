//! Owns the git repository: history and tags for the version rules, and creating and pushing a release tag.
//!
//! Reads with libgit2 (`git2`) rather than spawning `git`: no dependence on the runner's git version or
//! config, and one process for a 10,000-commit walk. HTTP remotes go through [`http`] (libgit2 built without
//! its OpenSSL transport, see there), which sends the `github-token` input (user `x-access-token`) when the
//! server asks for credentials, so the token never appears in a URL, a config file or a log line, and
//! `persist-credentials: false` on checkout works.

mod http;

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Once;

use git2::{Direction, ObjectType, Oid, PushOptions, RemoteCallbacks, Repository};
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

static LIBGIT2_SETUP: Once = Once::new();

fn git_error(context: &str, e: git2::Error) -> Error {
    let kind = match e.code() {
        git2::ErrorCode::Auth => Kind::Permission,
        git2::ErrorCode::NotFound => Kind::NotFound,
        _ => Kind::Git,
    };
    Error::new(kind, format!("{context}: {}", e.message()))
}

/// Whether `name` is a valid branch name (`git check-ref-format --branch`).
///
/// ```
/// use gitops_promote::git::is_valid_branch_name;
/// assert!(is_valid_branch_name("promote-v1.2.3"));
/// assert!(!is_valid_branch_name("promote v1.2.3") && !is_valid_branch_name("a..b"));
/// ```
pub fn is_valid_branch_name(name: &str) -> bool {
    !name.is_empty() && git2::Reference::is_valid_name(&format!("refs/heads/{name}"))
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
        LIBGIT2_SETUP.call_once(|| {
            // A Docker action runs as root over a workspace owned by the runner user; git's "dubious ownership"
            // check would refuse it exactly as it refuses `git` there. The workspace is the job's own checkout.
            // SAFETY: called once, before any other libgit2 use in this process (no repository is open, so
            // no transport is being created).
            #[allow(unsafe_code)]
            unsafe {
                let _ = git2::opts::set_verify_owner_validation(false);
                // Without it `http(s)://` remotes fail with "unsupported URL protocol", when first used.
                let _ = http::register();
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
        let tagger = self.signature()?;
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
        let _credentials = http::Credentials::set(token);
        let connection = r
            .connect_auth(Direction::Fetch, None, None)
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

    /// Every branch of `remote` and the commit it points to (`git ls-remote --heads`).
    pub fn remote_branches(
        &self,
        remote: &str,
        token: Option<&Secret>,
    ) -> Result<std::collections::BTreeMap<String, String>> {
        let mut r = self.find_remote(remote)?;
        let url = redact_url(r.url().unwrap_or(""));
        let _credentials = http::Credentials::set(token);
        let connection = r
            .connect_auth(Direction::Fetch, None, None)
            .map_err(|e| remote_error(&url, "read branches from", e, token.is_some()))?;
        let heads = connection
            .list()
            .map_err(|e| remote_error(&url, "list", e, token.is_some()))?;
        Ok(heads
            .iter()
            .filter_map(|h| {
                let branch = h.name().strip_prefix("refs/heads/")?;
                Some((branch.to_string(), h.oid().to_string()))
            })
            .collect())
    }

    /// The branch `remote`'s HEAD names (its default branch), if it says.
    pub fn remote_default_branch(
        &self,
        remote: &str,
        token: Option<&Secret>,
    ) -> Result<Option<String>> {
        let mut r = self.find_remote(remote)?;
        let url = redact_url(r.url().unwrap_or(""));
        let _credentials = http::Credentials::set(token);
        let connection = r
            .connect_auth(Direction::Fetch, None, None)
            .map_err(|e| remote_error(&url, "read", e, token.is_some()))?;
        let head = connection.default_branch().ok();
        Ok(head
            .as_ref()
            .and_then(|b| b.as_str().ok())
            .and_then(|b| b.strip_prefix("refs/heads/"))
            .map(str::to_string))
    }

    /// Makes `commit` (the tip of `branch` on `remote`) present locally. Fetches into `FETCH_HEAD` only: no
    /// local branch or remote-tracking ref changes.
    pub fn fetch_commit(
        &self,
        remote: &str,
        branch: &str,
        commit: &str,
        token: Option<&Secret>,
    ) -> Result<()> {
        let oid = Oid::from_str(commit).map_err(|e| git_error("bad commit id", e))?;
        if self.repo.find_commit(oid).is_ok() {
            return Ok(());
        }
        let mut r = self.find_remote(remote)?;
        let url = redact_url(r.url().unwrap_or(""));
        let _credentials = http::Credentials::set(token);
        let mut options = git2::FetchOptions::new();
        options.download_tags(git2::AutotagOption::None);
        options.update_fetchhead(true);
        let spec = format!("refs/heads/{branch}");
        r.fetch(&[spec.as_str()], Some(&mut options), None)
            .map_err(|e| {
                remote_error(&url, &format!("fetch `{branch}` from"), e, token.is_some())
            })?;
        drop(options);
        self.repo.find_commit(oid).map(|_| ()).map_err(|e| {
            git_error(
                &format!("`{branch}` on {url} moved while it was fetched (wanted {commit})"),
                e,
            )
        })
    }

    /// The text of `path` in `commit`, if the file exists there.
    pub fn file_at(&self, commit: &str, path: &str) -> Result<Option<String>> {
        let oid = Oid::from_str(commit).map_err(|e| git_error("bad commit id", e))?;
        let tree = self
            .repo
            .find_commit(oid)
            .and_then(|c| c.tree())
            .map_err(|e| git_error(&format!("can't read commit {commit}"), e))?;
        let entry = match tree.get_path(Path::new(path)) {
            Ok(entry) => entry,
            Err(e) if e.code() == git2::ErrorCode::NotFound => return Ok(None),
            Err(e) => return Err(git_error(&format!("can't read `{path}`"), e)),
        };
        let blob = entry
            .to_object(&self.repo)
            .and_then(|o| o.peel_to_blob())
            .map_err(|e| git_error(&format!("`{path}` is not a file"), e))?;
        String::from_utf8(blob.content().to_vec())
            .map(Some)
            .map_err(|_| {
                Error::new(
                    Kind::Input,
                    format!("`{path}` in {commit} is not UTF-8 text"),
                )
            })
    }

    /// The parents of `commit`.
    pub fn parents(&self, commit: &str) -> Result<Vec<String>> {
        let oid = Oid::from_str(commit).map_err(|e| git_error("bad commit id", e))?;
        let c = self
            .repo
            .find_commit(oid)
            .map_err(|e| git_error(&format!("can't read commit {commit}"), e))?;
        Ok(c.parent_ids().map(|p| p.to_string()).collect())
    }

    /// Writes a commit on `parent` whose tree is the parent's with `path` set to `content`; returns its id.
    /// Touches no branch, index or work tree: the commit exists only in the object database until pushed.
    pub fn commit_file(
        &self,
        parent: &str,
        path: &str,
        content: &str,
        message: &str,
    ) -> Result<String> {
        let oid = Oid::from_str(parent).map_err(|e| git_error("bad commit id", e))?;
        let parent = self
            .repo
            .find_commit(oid)
            .map_err(|e| git_error(&format!("can't read commit {parent}"), e))?;
        let base_tree = parent
            .tree()
            .map_err(|e| git_error("can't read the parent's tree", e))?;
        let blob = self
            .repo
            .blob(content.as_bytes())
            .map_err(|e| git_error("can't write the file's blob", e))?;
        let tree = git2::build::TreeUpdateBuilder::new()
            .upsert(path, blob, git2::FileMode::Blob)
            .create_updated(&self.repo, &base_tree)
            .map_err(|e| git_error(&format!("can't build the tree with `{path}`"), e))?;
        let tree = self
            .repo
            .find_tree(tree)
            .map_err(|e| git_error("can't read the new tree", e))?;
        let author = self.signature()?;
        let commit = self
            .repo
            .commit(None, &author, &author, message, &tree, &[&parent])
            .map_err(|e| git_error("can't write the commit", e))?;
        Ok(commit.to_string())
    }

    fn signature(&self) -> Result<git2::Signature<'static>> {
        self.repo
            .signature()
            .or_else(|_| {
                git2::Signature::now("gitops-promote", "gitops-promote@users.noreply.github.com")
            })
            .map_err(|e| git_error("can't make a signature", e))
    }

    /// Sets `refs/heads/{branch}` on `remote` to `commit`. Without `force`, a branch that moved elsewhere is
    /// refused by the remote: `Ok(false)`, the signal to re-read and re-apply.
    pub fn push_branch(
        &self,
        remote: &str,
        branch: &str,
        commit: &str,
        force: bool,
        token: Option<&Secret>,
    ) -> Result<bool> {
        let oid = Oid::from_str(commit).map_err(|e| git_error("bad commit id", e))?;
        // libgit2 pushes references, not object ids: a private ref names the commit for the push.
        let local = "refs/gitops-promote/push";
        self.repo
            .reference(local, oid, true, "gitops-promote: commit to push")
            .map_err(|e| git_error("can't name the commit to push", e))?;
        let pushed = self.push_refspec(
            remote,
            &format!(
                "{}{local}:refs/heads/{branch}",
                if force { "+" } else { "" }
            ),
            &format!("push branch `{branch}` to"),
            token,
        );
        if let Ok(mut r) = self.repo.find_reference(local) {
            let _ = r.delete();
        }
        match pushed? {
            None => Ok(true),
            Some(_) if !force => Ok(false),
            Some(reason) => Err(Error::new(
                Kind::Conflict,
                format!(
                    "{} refused branch `{branch}`: {reason}",
                    self.remote_url(remote)?
                ),
            )),
        }
    }

    /// Pushes one refspec; `Some(reason)` when the remote refused the update.
    fn push_refspec(
        &self,
        remote: &str,
        spec: &str,
        action: &str,
        token: Option<&Secret>,
    ) -> Result<Option<String>> {
        let mut r = self.find_remote(remote)?;
        let url = redact_url(r.url().unwrap_or(""));
        let _credentials = http::Credentials::set(token);
        let rejected: RefCell<Option<String>> = RefCell::new(None);
        let mut callbacks = RemoteCallbacks::new();
        callbacks.push_update_reference(|refname, status| {
            if let Some(status) = status {
                *rejected.borrow_mut() = Some(format!("{refname}: {status}"));
            }
            Ok(())
        });
        let mut options = PushOptions::new();
        options.remote_callbacks(callbacks);
        let pushed = r.push(&[spec], Some(&mut options));
        drop(options);
        match pushed {
            Ok(()) => Ok(rejected.into_inner()),
            // libgit2's local transport refuses a non-fast-forward itself, before the remote is asked.
            Err(e) if e.code() == git2::ErrorCode::NotFastForward => {
                Ok(Some(e.message().to_string()))
            }
            Err(e) => Err(remote_error(&url, action, e, token.is_some())),
        }
    }

    /// The commits reachable from HEAD that changed `path` against their first parent, newest first.
    pub fn file_history(&self, path: &str) -> Result<Vec<String>> {
        let mut walk = self
            .repo
            .revwalk()
            .map_err(|e| git_error("can't walk history", e))?;
        walk.push_head()
            .map_err(|e| git_error("can't walk history", e))?;
        walk.simplify_first_parent()
            .map_err(|e| git_error("can't walk history", e))?;
        let blob = |commit: &git2::Commit<'_>| {
            commit
                .tree()
                .ok()
                .and_then(|t| t.get_path(Path::new(path)).ok())
                .map(|e| e.id())
        };
        let mut out = Vec::new();
        for oid in walk {
            let oid = oid.map_err(|e| git_error("can't walk history", e))?;
            let commit = self
                .repo
                .find_commit(oid)
                .map_err(|e| git_error("can't read a commit", e))?;
            let parent = commit.parent(0).ok();
            if blob(&commit) != parent.as_ref().and_then(blob) {
                out.push(oid.to_string());
            }
        }
        Ok(out)
    }

    /// `(sha, message)` of the commits reachable from `to` and not from `from`, newest first.
    pub fn commits_between(&self, from: Option<&str>, to: &str) -> Result<Vec<(String, String)>> {
        let mut walk = self
            .repo
            .revwalk()
            .map_err(|e| git_error("can't walk history", e))?;
        let to = Oid::from_str(to).map_err(|e| git_error("bad commit id", e))?;
        walk.push(to)
            .map_err(|e| git_error("can't walk history", e))?;
        if let Some(from) = from {
            let from = Oid::from_str(from).map_err(|e| git_error("bad commit id", e))?;
            walk.hide(from)
                .map_err(|e| git_error("can't walk history", e))?;
        }
        let mut out = Vec::new();
        for oid in walk {
            let oid = oid.map_err(|e| git_error("can't walk history", e))?;
            let commit = self
                .repo
                .find_commit(oid)
                .map_err(|e| git_error("can't read a commit", e))?;
            out.push((
                oid.to_string(),
                String::from_utf8_lossy(commit.message_bytes()).into_owned(),
            ));
        }
        Ok(out)
    }

    /// Pushes `refs/tags/{name}` to `remote`, never forcing: a tag that exists there is refused.
    pub fn push_tag(&self, remote: &str, name: &str, token: Option<&Secret>) -> Result<()> {
        let url = self.remote_url(remote)?;
        let spec = format!("refs/tags/{name}:refs/tags/{name}");
        match self.push_refspec(remote, &spec, "push the tag to", token)? {
            None => Ok(()),
            Some(reason) => Err(Error::new(
                Kind::Conflict,
                format!("{url} refused the tag: {reason}"),
            )),
        }
    }
}

/// What to do about a git server's certificate that is not trusted.
const TRUST_HELP: &str = "the git server's certificate is not signed by a CA this machine trusts: for a private CA, add its certificate to the system store (`update-ca-certificates` on Debian and Ubuntu) or point `SSL_CERT_FILE` at a PEM bundle that contains it (`SSL_CERT_DIR` for a directory of certificates)";

fn remote_error(url: &str, action: &str, e: git2::Error, had_token: bool) -> Error {
    let message = format!("can't {action} {url}: {}", e.message());
    let auth = e.code() == git2::ErrorCode::Auth
        || e.class() == git2::ErrorClass::Http && e.message().contains("401")
        || e.message().contains("authentication");
    if e.message().contains("certificate is not trusted") {
        return Error::new(Kind::Upstream, message).with_help(TRUST_HELP);
    }
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
