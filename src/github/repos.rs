//! The repository verbs of [`Client`]: the repository itself, branches and their tips, a compare, commits and
//! files (read), and writing a commit through the Git Data API (blobs, tree, commit) and creating or moving a
//! branch ref.

use super::*;

impl Client {
    /// A commit's message (`GET /git/commits/{sha}`), to join with other reads.
    pub async fn commit_message_async(&self, sha: &str) -> Result<String> {
        let op = self.op(
            format!("read commit {sha}"),
            "GET",
            format!("{}/git/commits/{}", self.repo_path(), encode_segment(sha)),
            Need::Read,
        );
        Ok(self.commit_async(&op, sha).await?.message)
    }

    /// The repository: its full name, default branch and page.
    pub fn repository(&self) -> Result<Repository> {
        self.run(self.repository_async())
    }

    /// [`Client::repository`], to join with other reads in [`Client::block_on`].
    pub async fn repository_async(&self) -> Result<Repository> {
        let (o, r) = (self.owner(), self.repo());
        let op = Op {
            what: format!("read repository {o}/{r}"),
            method: "GET",
            path: format!("/repos/{o}/{r}"),
            need: Need::Read,
            repository: true,
        };
        let repo = self
            .send(&op, || async move { self.octocrab.repos(o, r).get().await })
            .await
            .map_err(|f| f.into_error(&op))?;
        let default_branch = repo.default_branch.ok_or_else(|| {
            Error::new(
                Kind::Upstream,
                format!("can't {}: the answer has no `default_branch`", op.what),
            )
        })?;
        Ok(Repository {
            full_name: repo.full_name.unwrap_or_else(|| format!("{o}/{r}")),
            default_branch,
            html_url: repo.html_url.map(|u| u.to_string()).unwrap_or_default(),
        })
    }

    /// The tip of `branch` and its tree, or `None` when there is no such branch. One request, like
    /// [`Client::branch_tip`]; the tree is remembered for a commit written on this tip.
    pub fn branch(&self, branch: &str) -> Result<Option<BranchTip>> {
        self.run(self.branch_async(branch))
    }

    /// [`Client::branch`], to join with other reads in [`Client::block_on`].
    pub async fn branch_async(&self, branch: &str) -> Result<Option<BranchTip>> {
        let op = self.op(
            format!("read branch {branch}"),
            "GET",
            format!("{}/branches/{}", self.repo_path(), encode_segment(branch)),
            Need::Read,
        );
        // Raw: only the commit and its tree are needed, whatever else the answer (protection, links) carries.
        match self.send(&op, || self.raw_get(&op.path)).await {
            Ok(text) => {
                let answer: BranchAnswer = parse(&op, &text)?;
                let commit = answer.commit;
                self.remember_tree(&commit);
                Ok(Some(BranchTip {
                    sha: commit.sha,
                    tree: commit.commit.tree.sha,
                }))
            }
            Err(f) if f.status() == Some(404) => Ok(None),
            Err(f) => Err(f.into_error(&op)),
        }
    }

    /// `head_branch` compared with the commit `base`: what the branch adds (its commits and the files they
    /// change), or `None` when there is no such branch. One request answers both "does the branch exist" and
    /// "does it already hold this change".
    pub fn compare(&self, base: &str, head_branch: &str) -> Result<Option<Comparison>> {
        self.run(self.compare_async(base, head_branch))
    }

    /// [`Client::compare`], to join with other reads in [`Client::block_on`].
    pub async fn compare_async(&self, base: &str, head_branch: &str) -> Result<Option<Comparison>> {
        let op = self.op(
            format!("compare branch {head_branch} with {base}"),
            "GET",
            format!(
                "{}/compare/{}",
                self.repo_path(),
                encode_segment(&format!("{base}...{head_branch}"))
            ),
            Need::Read,
        );
        // Raw: octocrab's comparison model requires fields the description does not.
        let text = match self.send(&op, || self.raw_get(&op.path)).await {
            Ok(text) => text,
            Err(f) if f.status() == Some(404) => return Ok(None),
            Err(f) => return Err(f.into_error(&op)),
        };
        let answer: CompareAnswer = parse(&op, &text)?;
        self.remember_tree(&answer.base_commit);
        self.remember_tree(&answer.merge_base_commit);
        for commit in &answer.commits {
            self.remember_tree(commit);
        }
        // Not ahead: the head is the merge base. Ahead: the last commit listed, when the list is complete.
        let head_sha = if answer.ahead_by == 0 {
            Some(answer.merge_base_commit.sha.clone())
        } else if answer.commits.len() as u64 == answer.ahead_by {
            answer.commits.last().map(|c| c.sha.clone())
        } else {
            None
        };
        Ok(Some(Comparison {
            ahead_by: answer.ahead_by,
            behind_by: answer.behind_by,
            head_sha,
            commits: answer
                .commits
                .into_iter()
                .map(|c| (c.sha, c.parents.into_iter().map(|p| p.sha).collect()))
                .collect(),
            files: answer
                .files
                .into_iter()
                .map(|f| ChangedFile {
                    filename: f.filename,
                    status: f.status,
                    blob_sha: f.sha.filter(|s| !s.is_empty()),
                })
                .collect(),
        }))
    }

    pub(super) fn remember_tree(&self, commit: &CommitAnswer) {
        lock(&self.trees).insert(commit.sha.clone(), commit.commit.tree.sha.clone());
    }

    /// The commit `branch` points at, or `None` when there is no such branch.
    pub fn branch_tip(&self, branch: &str) -> Result<Option<String>> {
        let path = format!(
            "{}/git/ref/{}",
            self.repo_path(),
            encode_segment(&format!("heads/{branch}"))
        );
        let op = self.op(format!("read branch {branch}"), "GET", path, Need::Read);
        self.run(async {
            // Raw: octocrab's `get_ref` puts `heads/{branch}` in the path unencoded, and GitHub's description
            // matches `{ref}` only with the slash sent as `%2F`.
            match self.send(&op, || self.raw_get(&op.path)).await {
                Ok(text) => {
                    let answer: RefAnswer = parse(&op, &text)?;
                    if answer.object.kind != "commit" {
                        return Err(Error::new(
                            Kind::Upstream,
                            format!(
                                "can't {}: refs/heads/{branch} points at a {}, not a commit",
                                op.what, answer.object.kind
                            ),
                        ));
                    }
                    Ok(Some(answer.object.sha))
                }
                Err(f) if f.status() == Some(404) => Ok(None),
                Err(f) => Err(f.into_error(&op)),
            }
        })
    }

    /// A commit object: its tree, parents and message.
    pub fn commit(&self, sha: &str) -> Result<GitCommit> {
        let op = self.op(
            format!("read commit {sha}"),
            "GET",
            format!("{}/git/commits/{}", self.repo_path(), encode_segment(sha)),
            Need::Read,
        );
        self.run(self.commit_async(&op, sha))
    }

    pub(super) async fn commit_async(&self, op: &Op, sha: &str) -> Result<GitCommit> {
        let (o, r) = (self.owner(), self.repo());
        let commit = self
            .send(op, || async move {
                self.octocrab.git(o, r).get_commit(sha).await
            })
            .await
            .map_err(|f| f.into_error(op))?;
        lock(&self.trees).insert(commit.sha.clone(), commit.tree.sha.clone());
        Ok(GitCommit {
            sha: commit.sha,
            tree: commit.tree.sha,
            parents: commit.parents.into_iter().filter_map(|p| p.sha).collect(),
            message: commit.message,
        })
    }

    /// The text of `path` at `git_ref` (a branch, tag or SHA), or `None` when it does not exist there.
    pub fn file(&self, path: &str, git_ref: &str) -> Result<Option<File>> {
        self.run(self.file_async(path, git_ref))
    }

    /// [`Client::file`], to join with other reads in [`Client::block_on`].
    pub async fn file_async(&self, path: &str, git_ref: &str) -> Result<Option<File>> {
        let op = self.op(
            format!("read {path} at {git_ref}"),
            "GET",
            format!(
                "{}/contents/{}?ref={}",
                self.repo_path(),
                encode_path(path),
                encode_segment(git_ref)
            ),
            Need::Read,
        );
        // Raw: the path is encoded here segment by segment, and an answer for a file over 1 MB (no
        // content, `encoding: none`) is followed to its blob.
        let text = match self.send(&op, || self.raw_get(&op.path)).await {
            Ok(text) => text,
            Err(f) if f.status() == Some(404) => return Ok(None),
            Err(f) => return Err(f.into_error(&op)),
        };
        let value: serde_json::Value = parse(&op, &text)?;
        if value.is_array() {
            return Err(Error::new(
                Kind::Input,
                format!("can't {}: {path} is a directory, not a file", op.what),
            ));
        }
        let answer: ContentAnswer = parse(&op, &text)?;
        if answer.kind != "file" {
            return Err(Error::new(
                Kind::Input,
                format!("can't {}: {path} is a {}, not a file", op.what, answer.kind),
            ));
        }
        let (content, encoding) = match (answer.content, answer.encoding.as_deref()) {
            (Some(content), Some("base64")) => (content, "base64".to_string()),
            _ => {
                let blob_op = self.op(
                    format!("read {path} at {git_ref} (blob {})", answer.sha),
                    "GET",
                    format!(
                        "{}/git/blobs/{}",
                        self.repo_path(),
                        encode_segment(&answer.sha)
                    ),
                    Need::Read,
                );
                let text = self
                    .send(&blob_op, || self.raw_get(&blob_op.path))
                    .await
                    .map_err(|f| f.into_error(&blob_op))?;
                let blob: BlobAnswer = parse(&blob_op, &text)?;
                (blob.content, blob.encoding)
            }
        };
        let bytes = match encoding.as_str() {
            "base64" => decode_base64(&content).ok_or_else(|| {
                Error::new(
                    Kind::Upstream,
                    format!("can't {}: the content is not valid base64", op.what),
                )
            })?,
            "utf-8" => content.into_bytes(),
            other => {
                return Err(Error::new(
                    Kind::Upstream,
                    format!("can't {}: unknown content encoding `{other}`", op.what),
                ));
            }
        };
        let text = String::from_utf8(bytes).map_err(|_| {
            Error::new(
                Kind::Input,
                format!("can't {}: {path} is not UTF-8 text", op.what),
            )
        })?;
        Ok(Some(File {
            text,
            blob_sha: answer.sha,
        }))
    }

    /// Writes `files` (path → full new content) on top of `parent` as one new commit and returns its SHA:
    /// a tree on the parent's tree carrying each file's text (mode `100644`; GitHub stores the blobs), and a
    /// commit with parent `parent` and no author or committer, so GitHub authors it as the token's identity and
    /// signs it. The parent's tree is read only when this run has not seen it (a tip read with
    /// [`Client::branch`] or [`Client::compare`] already gave it). Moves no branch.
    pub fn create_commit(
        &self,
        parent: &str,
        files: &[(String, String)],
        message: &str,
    ) -> Result<String> {
        let repo_path = self.repo_path();
        let (o, r) = (self.owner(), self.repo());
        self.run(async {
            let known = lock(&self.trees).get(parent).cloned();
            let base_tree = match known {
                Some(tree) => tree,
                None => {
                    let parent_op = self.op(
                        format!("read commit {parent}"),
                        "GET",
                        format!("{repo_path}/git/commits/{}", encode_segment(parent)),
                        Need::Read,
                    );
                    self.commit_async(&parent_op, parent).await?.tree
                }
            };

            let tree_op = self.op(
                format!("write the tree for {} changed file(s)", files.len()),
                "POST",
                format!("{repo_path}/git/trees"),
                Need::Contents,
            );
            let tree = NewTree {
                base_tree: &base_tree,
                tree: files
                    .iter()
                    .map(|(path, content)| TreeEntry {
                        path: path.trim_start_matches('/'),
                        mode: "100644",
                        kind: "blob",
                        content,
                    })
                    .collect(),
            };
            // Raw: octocrab's tree model requires the answer's `url`, which the description does not;
            // only the new tree's SHA is needed.
            let text = self
                .send(&tree_op, || self.raw_post(&tree_op.path, &tree))
                .await
                .map_err(|f| f.into_error(&tree_op))?;
            let tree_sha = parse::<ShaAnswer>(&tree_op, &text)?.sha;

            let commit_op = self.op(
                format!("write the commit on {parent}"),
                "POST",
                format!("{repo_path}/git/commits"),
                Need::Contents,
            );
            let tree_sha = tree_sha.as_str();
            let commit = self
                .send(&commit_op, || async move {
                    self.octocrab
                        .git(o, r)
                        .create_commit(message, tree_sha)
                        .parents(vec![parent.to_string()])
                        .send()
                        .await
                })
                .await
                .map_err(|f| f.into_error(&commit_op))?;
            Ok(commit.sha)
        })
    }

    /// Creates branch `branch` at `sha`. A branch that already exists is a [`Kind::Conflict`].
    pub fn create_branch(&self, branch: &str, sha: &str) -> Result<()> {
        let op = self.op(
            format!("create branch {branch}"),
            "POST",
            format!("{}/git/refs", self.repo_path()),
            Need::Contents,
        );
        let body = NewRef {
            name: format!("refs/heads/{branch}"),
            sha,
        };
        self.run(async {
            // Raw, like every ref call here (see `branch_tip`); only success matters.
            self.send(&op, || self.raw_post(&op.path, &body))
                .await
                .map(drop)
                .map_err(|f| f.into_error(&op))
        })
    }

    /// Moves branch `branch` to `sha`; without `force` only as a fast forward.
    pub fn update_branch(&self, branch: &str, sha: &str, force: bool) -> Result<RefUpdate> {
        let op = self.op(
            format!("move branch {branch} to {sha}"),
            "PATCH",
            format!(
                "{}/git/refs/{}",
                self.repo_path(),
                encode_segment(&format!("heads/{branch}"))
            ),
            Need::Contents,
        );
        let body = RefPatch { sha, force };
        self.run(async {
            // Raw: `{ref}` needs its slash as `%2F` (see `branch_tip`).
            match self.send(&op, || self.raw_patch(&op.path, &body)).await {
                Ok(_) => Ok(RefUpdate::Updated),
                Err(Failure::Answer(a))
                    if a.status == 422
                        && a.message
                            .to_ascii_lowercase()
                            .contains("not a fast forward") =>
                {
                    Ok(RefUpdate::NotFastForward)
                }
                Err(f) => Err(f.into_error(&op)),
            }
        })
    }
}
