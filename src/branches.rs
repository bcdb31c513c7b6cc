//! Owns the one view `promote`'s commit path has of the repository it commits to: branch tips, a file at a
//! commit, a commit with one file changed, and setting a branch. Two hosts implement it, GitHub's Git Data API
//! (`commit-via: api`) and a git remote (`commit-via: git`), so planning and the retry on a moved base branch are
//! written once.

use crate::error::{Kind, Result};
use crate::git::GitRepo;
use crate::github;
use crate::inputs::Secret;

/// Where the promotion commit is written.
pub trait BranchHost {
    /// The commit `branch` points to, `None` when it does not exist.
    fn tip(&self, branch: &str) -> Result<Option<String>>;
    /// The tips of several branches, in order; a host that lists every branch at once reads them in one go.
    fn tips(&self, branches: &[&str]) -> Result<Vec<Option<String>>> {
        branches.iter().map(|b| self.tip(b)).collect()
    }
    /// The text of `path` at `commit` (a tip read from [`BranchHost::tip`]), `None` when the file is absent.
    fn file(&self, branch: &str, commit: &str, path: &str) -> Result<Option<String>>;
    /// The parents of `commit`.
    fn parents(&self, commit: &str) -> Result<Vec<String>>;
    /// Writes a commit on `parent` with `path` set to `content`; returns its id. No branch moves.
    fn commit_file(&self, parent: &str, path: &str, content: &str, message: &str)
    -> Result<String>;
    /// Points `branch` at `commit`, creating it when `create` (a branch created meanwhile is then moved, with
    /// `force`; one deleted meanwhile is created). Without `force` a branch that moved is not overwritten:
    /// `Ok(false)`.
    fn set_branch(&self, branch: &str, commit: &str, create: bool, force: bool) -> Result<bool>;
}

impl BranchHost for github::Client {
    fn tip(&self, branch: &str) -> Result<Option<String>> {
        // The branches endpoint: the same one request as the ref, and it gives the tree a commit on this tip
        // is written on.
        Ok(self.branch(branch)?.map(|b| b.sha))
    }

    fn file(&self, _branch: &str, commit: &str, path: &str) -> Result<Option<String>> {
        Ok(github::Client::file(self, path, commit)?.map(|f| f.text))
    }

    fn parents(&self, commit: &str) -> Result<Vec<String>> {
        Ok(self.commit(commit)?.parents)
    }

    fn commit_file(
        &self,
        parent: &str,
        path: &str,
        content: &str,
        message: &str,
    ) -> Result<String> {
        self.create_commit(parent, &[(path.to_string(), content.to_string())], message)
    }

    fn set_branch(&self, branch: &str, commit: &str, create: bool, force: bool) -> Result<bool> {
        // Whether the branch exists was read when planning; a race with another writer is answered by GitHub
        // (422 "Reference already exists" / "Reference does not exist") and handled here, not by a re-read.
        if create {
            return match self.create_branch(branch, commit) {
                Ok(()) => Ok(true),
                Err(e) if e.kind == Kind::Conflict && force => {
                    Ok(self.update_branch(branch, commit, true)? == github::RefUpdate::Updated)
                }
                Err(e) if e.kind == Kind::Conflict => Ok(false),
                Err(e) => Err(e),
            };
        }
        match self.update_branch(branch, commit, force) {
            Ok(update) => Ok(update == github::RefUpdate::Updated),
            Err(e) if e.kind == Kind::NotFound && force => {
                self.create_branch(branch, commit)?;
                Ok(true)
            }
            Err(e) => Err(e),
        }
    }
}

/// A git remote of the checkout, written with libgit2 and the `github-token` as the https password.
pub struct GitRemote<'a> {
    pub repo: &'a GitRepo,
    pub remote: &'a str,
    pub token: Option<&'a Secret>,
}

impl BranchHost for GitRemote<'_> {
    fn tip(&self, branch: &str) -> Result<Option<String>> {
        Ok(self
            .repo
            .remote_branches(self.remote, self.token)?
            .remove(branch))
    }

    fn tips(&self, branches: &[&str]) -> Result<Vec<Option<String>>> {
        // One connection lists every branch.
        let all = self.repo.remote_branches(self.remote, self.token)?;
        Ok(branches.iter().map(|b| all.get(*b).cloned()).collect())
    }

    fn file(&self, branch: &str, commit: &str, path: &str) -> Result<Option<String>> {
        self.repo
            .fetch_commit(self.remote, branch, commit, self.token)?;
        self.repo.file_at(commit, path)
    }

    fn parents(&self, commit: &str) -> Result<Vec<String>> {
        self.repo.parents(commit)
    }

    fn commit_file(
        &self,
        parent: &str,
        path: &str,
        content: &str,
        message: &str,
    ) -> Result<String> {
        self.repo.commit_file(parent, path, content, message)
    }

    fn set_branch(&self, branch: &str, commit: &str, _create: bool, force: bool) -> Result<bool> {
        match self
            .repo
            .push_branch(self.remote, branch, commit, force, self.token)
        {
            // A push whose answer was lost may still have landed: what the remote has decides, so a rerun is not
            // needed for a branch that already holds this commit.
            Err(e) => match self.tip(branch) {
                Ok(Some(tip)) if tip == commit => Ok(true),
                _ => Err(e),
            },
            pushed => pushed,
        }
    }
}
