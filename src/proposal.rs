//! Owns what `promote` and `rollback` share: a change of the production overlay proposed on a branch with a pull
//! request (or committed straight to the base branch): the inputs that shape it, the repository facts (the base
//! branch and the overlay at its tip as the host has it, the proposal branch and its open pull request), the
//! `Commit` and `PullRequest` steps, and reading back what they did.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::branches::{BranchHost, GitRemote};
use crate::checklist;
use crate::env::GithubContext;
use crate::error::{Error, InputProblem, Kind, Result};
use crate::git::{self, GitRepo};
use crate::github;
use crate::image::ImageName;
use crate::inputs::{Reader, Secret, split_list};
use crate::manifests::{Request, files};
use crate::plan::{Applied, CommitVia, Edit, Operation, SeenStatus, Step, retag_operation};
use crate::registry::Reference;

/// The remote `commit-via: git` pushes to (what actions/checkout names it).
pub const REMOTE: &str = "origin";

/// The inputs that shape the proposal: where it goes and how it is reviewed.
#[derive(Debug, Clone)]
pub struct ProposalInputs {
    pub base_branch: Option<String>,
    pub branch_template: String,
    pub pull_request: bool,
    pub commit_via: CommitVia,
    pub github_token: Option<Secret>,
    pub labels: Vec<String>,
    pub reviewers: Vec<String>,
    pub team_reviewers: Vec<String>,
    pub draft: bool,
    /// The pull request's checklist items (`checklist`, else the seed's manual items).
    pub checklist: Vec<String>,
}

impl ProposalInputs {
    /// Reads `base-branch`, `branch` (checked against `placeholders`), `pull-request`, `commit-via`,
    /// `github-token`, `labels`, `reviewers` and `draft`; the mode gives the defaults of `branch` and `labels`.
    pub fn read(
        r: &mut Reader<'_>,
        github: &GithubContext,
        placeholders: &[&str],
        default_branch: &str,
        default_labels: &str,
    ) -> Self {
        let base_branch = r.text("base-branch");
        if let Some(b) = &base_branch
            && !git::is_valid_branch_name(b)
        {
            r.problem(
                InputProblem::new("base-branch", format!("`{b}` is not a valid branch name"))
                    .help("give a branch name such as `main`"),
            );
        }
        let branch_template = r
            .text("branch")
            .unwrap_or_else(|| default_branch.to_string());
        if let Err(p) = check_branch_template(&branch_template, placeholders) {
            r.problem(p);
        }
        let pull_request = r.bool("pull-request");
        let commit_via = read_commit_via(r);
        let draft = r.bool("draft");
        let checklist = r
            .text("checklist")
            .map(|v| checklist::items_of(&v))
            .filter(|items| !items.is_empty())
            .unwrap_or_else(checklist::default_items);
        let github_token = r.secret("github-token");
        let labels = split_list(
            &r.text("labels")
                .unwrap_or_else(|| default_labels.to_string()),
        );
        let (mut reviewers, mut team_reviewers) = (Vec::new(), Vec::new());
        for reviewer in r
            .text("reviewers")
            .map(|l| split_list(&l))
            .unwrap_or_default()
        {
            match reviewer.split_once('/') {
                Some((_org, team)) if !team.is_empty() && !team.contains('/') => {
                    team_reviewers.push(team.to_string())
                }
                None if !reviewer.contains(char::is_whitespace) => reviewers.push(reviewer),
                _ => r.problem(
                    InputProblem::new(
                        "reviewers",
                        format!("`{reviewer}` is neither a login nor `org/team`"),
                    )
                    .help("list user logins and teams as `org/team-slug`, comma-separated"),
                ),
            }
        }
        let needs_github = pull_request || commit_via == CommitVia::Api;
        if needs_github && github_token.is_none() {
            r.problem(
                InputProblem::new("github-token", "is required to commit through the GitHub API or open a pull request")
                    .help("pass `github-token: ${{ secrets.GITHUB_TOKEN }}` (the default in a workflow) with `permissions: contents: write, pull-requests: write`; the CLI reads GITHUB_TOKEN"),
            );
        }
        if needs_github && non_empty(&github.repository).is_none() {
            r.problem(
                InputProblem::new(
                    "github-token",
                    "the repository is unknown: `GITHUB_REPOSITORY` is not set",
                )
                .help("run as a workflow step, or export GITHUB_REPOSITORY=owner/name for the CLI"),
            );
        }
        Self {
            base_branch,
            branch_template,
            pull_request,
            commit_via,
            github_token,
            labels,
            reviewers,
            team_reviewers,
            draft,
            checklist,
        }
    }

    /// Whether the run talks to GitHub's API.
    pub fn needs_github(&self) -> bool {
        self.pull_request || self.commit_via == CommitVia::Api
    }
}

/// `commit-via`: `api` (the default) or `git`.
pub fn read_commit_via(r: &mut Reader<'_>) -> CommitVia {
    match r.text("commit-via").as_deref() {
        Some("git") => CommitVia::Git,
        Some("api") | None => CommitVia::Api,
        Some(other) => {
            r.problem(
                InputProblem::new("commit-via", format!("`{other}` is not one of: api, git"))
                    .help("use `api` (GitHub's API, signed commits) or `git` (push to origin)"),
            );
            CommitVia::Api
        }
    }
}

/// The application, environment and overlay: `app` defaults to the image's last path segment, `environment`
/// to `production`, `manifest` to `flux/apps/{app}/{environment}/kustomization.yaml`.
pub fn read_overlay(r: &mut Reader<'_>, image: Option<&ImageName>) -> (String, String, String) {
    let app = r
        .text("app")
        .or_else(|| image.and_then(|i| i.repository.rsplit('/').next().map(str::to_string)))
        .unwrap_or_default();
    let environment = r
        .text("environment")
        .unwrap_or_else(|| "production".to_string());
    let manifest = match r.text("manifest") {
        Some(m) => {
            if let Err(p) = files::check_relative("manifest", &m) {
                r.problem(p);
            }
            m
        }
        None => {
            if image.is_some() || r.text("app").is_some() {
                one_directory(r, "app", &app);
            }
            one_directory(r, "environment", &environment);
            files::default_manifest(&app, &environment)
        }
    };
    (app, environment, manifest)
}

fn one_directory(r: &mut Reader<'_>, input: &str, value: &str) {
    if value.is_empty() || value.contains('/') || value.contains('\\') || value == ".." {
        r.problem(InputProblem::new(
            input,
            format!("`{value}` must be one directory name"),
        ));
    }
}

/// Checks a `branch` template: only the given placeholders, balanced braces.
pub fn check_branch_template(
    template: &str,
    placeholders: &[&str],
) -> std::result::Result<(), InputProblem> {
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let Some(close) = rest[open..].find('}') else {
            return Err(InputProblem::new(
                "branch",
                format!("`{template}` has an unclosed `{{`"),
            ));
        };
        let name = &rest[open + 1..open + close];
        if !placeholders.contains(&name) {
            return Err(InputProblem::new(
                "branch",
                format!("`{{{name}}}` is not a placeholder of `branch`"),
            )
            .help(format!(
                "use {}",
                placeholders
                    .iter()
                    .map(|p| format!("{{{p}}}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )));
        }
        rest = &rest[open + close + 1..];
    }
    Ok(())
}

/// Renders the `branch` template; a result that is not a branch name is an input error.
pub fn render_branch(template: &str, values: &[(&str, &str)]) -> Result<String> {
    let b = values.iter().fold(template.to_string(), |s, (k, v)| {
        s.replace(&format!("{{{k}}}"), v)
    });
    if !git::is_valid_branch_name(&b) {
        return Err(Error::input(
            InputProblem::new("branch", format!("`{b}` is not a valid branch name")).help(
                "change `branch`; its placeholders are filled with the app, environment and tags",
            ),
        ));
    }
    Ok(b)
}

pub fn non_empty(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// A reference to `image:tag`.
pub fn reference(image: &ImageName, tag: &str) -> Reference {
    Reference {
        image: image.clone(),
        tag: Some(tag.to_string()),
        digest: None,
    }
}

/// The overlay edit: `image` pinned to `tag` at `digest`.
pub fn edit_request(image: &ImageName, tag: &str, digest: &str) -> Request {
    Request {
        image: image.to_string(),
        tag: Some(tag.to_string()),
        digest: Some(digest.to_string()),
        new_name: None,
        field_path: None,
    }
}

/// What the repository host says, read before planning.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RepoFacts {
    pub repository: String,
    pub base_branch: String,
    pub base_sha: String,
    pub before: String,
    pub branch: String,
    pub branch_sha: Option<String>,
    /// The proposal branch already holds exactly this change on the base's tip.
    pub branch_up_to_date: bool,
    pub pull: Option<github::Pull>,
    /// The proposal branch compared with the base's tip (GitHub's API): what [`branch_up_to_date`] decides on.
    #[serde(skip)]
    pub compared: Option<github::Comparison>,
    /// The checklist's newest status on the open pull request's head, read right after the pull request (in
    /// the same wave as the base branch's reads), so a rerun's status step reads nothing more.
    #[serde(skip)]
    pub checklist_status: Option<SeenStatus>,
}

/// Where commits go, for this run.
pub enum Host<'a> {
    Api(&'a github::Client),
    Git(GitRemote<'a>),
}

impl<'a> Host<'a> {
    /// The host `commit-via` names.
    pub fn pick(
        inputs: &'a ProposalInputs,
        github_client: Option<&'a github::Client>,
        git: Option<&'a GitRepo>,
    ) -> Result<Self> {
        match (inputs.commit_via, github_client, git) {
            (CommitVia::Api, Some(c), _) => Ok(Host::Api(c)),
            (CommitVia::Git, _, Some(g)) => Ok(Host::Git(GitRemote {
                repo: g,
                remote: REMOTE,
                token: inputs.github_token.as_ref(),
            })),
            _ => Err(Error::new(
                Kind::Upstream,
                "no repository host to commit to",
            )),
        }
    }

    pub fn as_dyn(&self) -> &dyn BranchHost {
        match self {
            Host::Api(c) => *c,
            Host::Git(g) => g,
        }
    }
}

/// The GitHub client the run needs (`None` when it commits with git and opens no pull request).
pub fn github_client(
    inputs: &ProposalInputs,
    github: &GithubContext,
) -> Result<Option<github::Client>> {
    if !inputs.needs_github() {
        return Ok(None);
    }
    let repository = non_empty(&github.repository).unwrap_or_default();
    Ok(Some(github::Client::new(
        github::Settings::for_run(github.api_url(), inputs.github_token.clone(), repository)
            .map_err(Error::input)?,
    )?))
}

fn no_base_branch(base_branch: &str, repository: &str) -> Error {
    Error::input(
        InputProblem::new(
            "base-branch",
            format!("branch `{base_branch}` does not exist in `{repository}`"),
        )
        .help("set `base-branch` to the branch the production overlay lives on"),
    )
}

fn no_overlay(manifest: &str, base_branch: &str, repository: &str) -> Error {
    Error::input(
        InputProblem::new(
            "manifest",
            format!("`{manifest}` does not exist on `{base_branch}` of `{repository}`"),
        )
        .help("set `manifest` (or `app` and `environment` for flux/apps/{app}/{environment}/kustomization.yaml)"),
    )
}

fn facts_of(repository: String, base_branch: String, base_sha: String) -> RepoFacts {
    RepoFacts {
        repository,
        base_branch,
        base_sha,
        before: String::new(),
        branch: String::new(),
        branch_sha: None,
        branch_up_to_date: false,
        pull: None,
        compared: None,
        checklist_status: None,
    }
}

/// The base branch's name: `base-branch`, else the repository's default branch as GitHub names it.
async fn base_branch_async(inputs: &ProposalInputs, c: &github::Client) -> Result<String> {
    match &inputs.base_branch {
        Some(b) => Ok(b.clone()),
        None => Ok(c.repository_async().await?.default_branch),
    }
}

/// The base branch, its tip and the overlay there, through GitHub's API: each read needs the one before it.
async fn read_base_async(
    inputs: &ProposalInputs,
    manifest: &str,
    c: &github::Client,
    repository: &str,
) -> Result<(RepoFacts, String)> {
    let base_branch = base_branch_async(inputs, c).await?;
    let tip = c
        .branch_async(&base_branch)
        .await?
        .ok_or_else(|| no_base_branch(&base_branch, repository))?;
    let before = c
        .file_async(manifest, &tip.sha)
        .await?
        .ok_or_else(|| no_overlay(manifest, &base_branch, repository))?;
    Ok((
        facts_of(repository.to_string(), base_branch, tip.sha),
        before.text,
    ))
}

/// The base branch, its tip (and, when given, the tips of `others`, read with it) and the overlay there, through
/// the git remote.
fn read_base_git(
    inputs: &ProposalInputs,
    manifest: &str,
    g: &GitRemote<'_>,
    others: &[&str],
) -> Result<(RepoFacts, String, Vec<Option<String>>)> {
    let repository = g.repo.remote_url(REMOTE)?;
    let base_branch = match &inputs.base_branch {
        Some(b) => b.clone(),
        None => g
            .repo
            .remote_default_branch(REMOTE, inputs.github_token.as_ref())?
            .ok_or_else(|| {
                Error::input(
                    InputProblem::new("base-branch", "the remote names no default branch")
                        .help("set `base-branch`, e.g. `main`"),
                )
            })?,
    };
    let mut wanted = vec![base_branch.as_str()];
    wanted.extend_from_slice(others);
    let mut tips = g.tips(&wanted)?;
    let rest = tips.split_off(1);
    let base_sha = tips
        .pop()
        .flatten()
        .ok_or_else(|| no_base_branch(&base_branch, &repository))?;
    let before = g
        .file(&base_branch, &base_sha, manifest)?
        .ok_or_else(|| no_overlay(manifest, &base_branch, &repository))?;
    Ok((facts_of(repository, base_branch, base_sha), before, rest))
}

/// Reads the base branch (its tip and the overlay there): the facts without the proposal branch, and the
/// overlay's text.
pub fn read_base(
    inputs: &ProposalInputs,
    manifest: &str,
    host: &Host<'_>,
    repository: &str,
) -> Result<(RepoFacts, String)> {
    match host {
        Host::Api(c) => c.block_on(read_base_async(inputs, manifest, c, repository)),
        Host::Git(g) => read_base_git(inputs, manifest, g, &[]).map(|(f, b, _)| (f, b)),
    }
}

/// The open pull request of `branch` into the base, from the pull requests listed by head.
fn pull_into(pulls: Vec<github::Pull>, base_branch: &str) -> Option<github::Pull> {
    pulls.into_iter().find(|p| p.base == base_branch)
}

/// Records what GitHub's comparison says about the proposal branch.
fn set_compared(facts: &mut RepoFacts, compared: Option<github::Comparison>) {
    facts.branch_sha = compared.as_ref().and_then(|c| c.head_sha.clone());
    facts.compared = compared;
}

/// The proposal branch's tip when the comparison could not name it (more commits ahead than it lists).
fn tip_if_unnamed(facts: &mut RepoFacts, host: &Host<'_>) -> Result<()> {
    if facts.compared.is_some() && facts.branch_sha.is_none() {
        facts.branch_sha = host.as_dyn().tip(&facts.branch)?;
    }
    Ok(())
}

/// Reads the proposal branch (compared with the base's tip) and its open pull request (with
/// `pull-request: true`), the two at once.
pub fn read_branch(
    inputs: &ProposalInputs,
    facts: &mut RepoFacts,
    host: &Host<'_>,
    github_client: Option<&github::Client>,
    branch: &str,
) -> Result<()> {
    facts.branch = branch.to_string();
    if !inputs.pull_request {
        return Ok(());
    }
    match host {
        Host::Api(c) => {
            let (compared, (pulls, seen)) = c.block_on(async {
                tokio::try_join!(
                    c.compare_async(&facts.base_sha, branch),
                    pulls_and_status_async(c, branch)
                )
            })?;
            set_compared(facts, compared);
            facts.pull = pull_into(pulls, &facts.base_branch);
            facts.checklist_status = seen;
            tip_if_unnamed(facts, host)?;
        }
        Host::Git(g) => {
            let (tip, (pulls, seen)) = with_pulls(github_client, branch, || g.tip(branch))?;
            facts.branch_sha = tip;
            facts.pull = pull_into(pulls, &facts.base_branch);
            facts.checklist_status = seen;
        }
    }
    Ok(())
}

/// The open pull requests of `branch`, and the checklist's newest status on their head.
type PullsRead = (Vec<github::Pull>, Option<SeenStatus>);

/// The open pull requests of `branch` and, when there is one, the checklist's newest status on its head (every
/// open pull request of a branch has the branch's tip as its head). A status that can't be read is left to the
/// status step, which reads it again and says why.
async fn pulls_and_status_async(c: &github::Client, branch: &str) -> Result<PullsRead> {
    let pulls = c.open_pulls_async(branch).await?;
    let seen = status_on_head_async(c, &pulls).await;
    Ok((pulls, seen))
}

/// The checklist's newest status on the head of the first of `pulls` (`None`: no pull request, or unreadable).
async fn status_on_head_async(c: &github::Client, pulls: &[github::Pull]) -> Option<SeenStatus> {
    let p = pulls.first()?;
    let status = c
        .status_of_async(&p.head_sha, checklist::CONTEXT)
        .await
        .ok()?;
    Some(SeenStatus {
        sha: p.head_sha.clone(),
        status: status.map(|s| (s.state, s.description.unwrap_or_default())),
    })
}

/// Runs `git_reads` while the open pull requests of `branch` are read from GitHub on another thread (the git
/// remote and GitHub are different hosts).
fn with_pulls<T>(
    github_client: Option<&github::Client>,
    branch: &str,
    git_reads: impl FnOnce() -> Result<T>,
) -> Result<(T, PullsRead)> {
    let Some(c) = github_client else {
        return Ok((git_reads()?, (Vec::new(), None)));
    };
    std::thread::scope(|s| {
        let pulls = s.spawn(|| c.block_on(pulls_and_status_async(c, branch)));
        let read = git_reads();
        let pulls = pulls.join().unwrap_or_else(|_| {
            Err(Error::new(
                Kind::Upstream,
                "the pull request lookup stopped unexpectedly",
            ))
        });
        Ok((read?, pulls?))
    })
}

/// Reads everything a proposal rests on: the base branch, its tip and the overlay there, and (with
/// `pull-request: true`) the proposal branch compared with that tip and its open pull request. Reads that do not
/// need each other's answer are sent at once. Through GitHub's API: the pull request lookup (by head, so it needs
/// no base) goes out with the base branch's read; the overlay and the comparison, which both need the base's tip,
/// go out together. Without `base-branch` the base's name is the repository's default branch, which every pull
/// request answer carries: the lookup goes first and names it, and the repository is read only when no pull
/// request is open yet. Through a git remote one listing gives both tips while GitHub is asked for the pull
/// request.
pub fn read_repo_facts(
    inputs: &ProposalInputs,
    manifest: &str,
    host: &Host<'_>,
    github_client: Option<&github::Client>,
    repository: &str,
    branch: &str,
) -> Result<(RepoFacts, String)> {
    let pull_request = inputs.pull_request;
    let (mut facts, before) = match host {
        Host::Api(c) => c.block_on(async {
            // The base's tip, then its overlay and the proposal branch's comparison together.
            let base_side = |base_branch: String| async move {
                let tip = c
                    .branch_async(&base_branch)
                    .await?
                    .ok_or_else(|| no_base_branch(&base_branch, repository))?;
                let compare = async {
                    match pull_request {
                        true => c.compare_async(&tip.sha, branch).await,
                        false => Ok(None),
                    }
                };
                let (before, compared) =
                    tokio::try_join!(c.file_async(manifest, &tip.sha), compare)?;
                let before =
                    before.ok_or_else(|| no_overlay(manifest, &base_branch, repository))?;
                let mut facts = facts_of(repository.to_string(), base_branch, tip.sha);
                if pull_request {
                    set_compared(&mut facts, compared);
                }
                Ok::<_, Error>((facts, before.text))
            };
            let ((mut facts, before), (pulls, seen)) = match (&inputs.base_branch, pull_request) {
                (Some(base_branch), true) => tokio::try_join!(
                    base_side(base_branch.clone()),
                    pulls_and_status_async(c, branch)
                )?,
                (None, true) => {
                    let pulls = c.open_pulls_async(branch).await?;
                    let base_branch = match pulls.iter().find_map(|p| p.default_branch.clone()) {
                        Some(b) => b,
                        None => c.repository_async().await?.default_branch,
                    };
                    // The checklist's status on the pull request's head goes out with the base's reads.
                    let (base, seen) =
                        tokio::join!(base_side(base_branch), status_on_head_async(c, &pulls));
                    (base?, (pulls, seen))
                }
                (_, false) => (
                    base_side(base_branch_async(inputs, c).await?).await?,
                    (Vec::new(), None),
                ),
            };
            facts.pull = pull_into(pulls, &facts.base_branch);
            facts.checklist_status = seen;
            Ok((facts, before))
        })?,
        Host::Git(g) => {
            let others: &[&str] = if pull_request { &[branch] } else { &[] };
            let ((mut facts, before, tips), (pulls, seen)) = match pull_request {
                true => with_pulls(github_client, branch, || {
                    read_base_git(inputs, manifest, g, others)
                })?,
                false => (
                    read_base_git(inputs, manifest, g, others)?,
                    (Vec::new(), None),
                ),
            };
            facts.branch_sha = tips.into_iter().next().flatten();
            facts.pull = pull_into(pulls, &facts.base_branch);
            facts.checklist_status = seen;
            (facts, before)
        }
    };
    facts.branch = branch.to_string();
    tip_if_unnamed(&mut facts, host)?;
    Ok((facts, before))
}

/// The blob ID git (and GitHub) gives `text`: what a comparison's file entry is checked against.
///
/// ```
/// use gitops_promote::proposal::git_blob_id;
/// // `printf 'hello\n' | git hash-object --stdin`
/// assert_eq!(git_blob_id("hello\n"), "ce013625030ba8dba906f756967f9e9ca394464a");
/// ```
pub fn git_blob_id(text: &str) -> String {
    // libgit2's hash of the object (pure: no repository is opened).
    git2::Oid::hash_object(git2::ObjectType::Blob, text.as_bytes())
        .map(|oid| oid.to_string())
        .unwrap_or_default()
}

/// Whether the proposal branch already holds exactly `after` as one commit on the base's tip. Through GitHub's
/// API the comparison read with the facts decides (no further read, unless GitHub left a blob ID out); through
/// a git remote the tip's parents and file are read.
pub fn branch_up_to_date(
    inputs: &ProposalInputs,
    facts: &RepoFacts,
    host: &Host<'_>,
    manifest: &str,
    after: &str,
) -> Result<bool> {
    let (Some(tip), true) = (&facts.branch_sha, inputs.pull_request) else {
        return Ok(false);
    };
    let host = host.as_dyn();
    if let Some(compared) = &facts.compared {
        let one_commit_on_base = compared.ahead_by == 1
            && compared.behind_by == 0
            && matches!(compared.commits.as_slice(), [(_, parents)] if *parents == [facts.base_sha.clone()]);
        if !one_commit_on_base {
            return Ok(false);
        }
        return match compared.files.as_slice() {
            [file] if file.filename == manifest && file.status == "modified" => {
                match &file.blob_sha {
                    Some(blob) => Ok(*blob == git_blob_id(after)),
                    None => Ok(host.file(&facts.branch, tip, manifest)?.as_deref() == Some(after)),
                }
            }
            _ => Ok(false),
        };
    }
    Ok(host.parents(tip)? == [facts.base_sha.clone()]
        && host.file(&facts.branch, tip, manifest)?.as_deref() == Some(after))
}

/// The overlay change a proposal commits.
pub struct OverlayChange<'a> {
    pub manifest: &'a str,
    pub message: String,
    pub edit: Request,
    pub diff: &'a str,
    pub after: &'a str,
}

/// The commit on the proposal branch (created, or reset onto the base's tip).
pub fn commit_to_branch(inputs: &ProposalInputs, facts: &RepoFacts, change: OverlayChange) -> Step {
    Step::Commit {
        via: inputs.commit_via,
        repository: facts.repository.clone(),
        branch: facts.branch.clone(),
        base_branch: facts.base_branch.clone(),
        base_sha: facts.base_sha.clone(),
        branch_sha: facts.branch_sha.clone(),
        up_to_date: facts.branch_up_to_date,
        file: change.manifest.to_string(),
        message: change.message,
        edit: Edit::Image(change.edit),
        diff: change.diff.to_string(),
        after: change.after.to_string(),
    }
}

/// The pull request of the proposal branch (opened, or the open one updated).
pub fn pull_request(
    inputs: &ProposalInputs,
    facts: &RepoFacts,
    title: String,
    body: String,
) -> Step {
    Step::PullRequest {
        repository: facts.repository.clone(),
        branch: facts.branch.clone(),
        base_branch: facts.base_branch.clone(),
        title,
        body,
        labels: inputs.labels.clone(),
        reviewers: inputs.reviewers.clone(),
        team_reviewers: inputs.team_reviewers.clone(),
        draft: inputs.draft,
        existing: facts.pull.as_ref().map(|p| p.number),
        found: facts.pull.clone(),
    }
}

/// The commit straight to the base branch (`pull-request: false`); `changed`: the overlay differs there.
pub fn commit_to_base(
    inputs: &ProposalInputs,
    facts: &RepoFacts,
    change: OverlayChange,
    changed: bool,
) -> Step {
    Step::Commit {
        via: inputs.commit_via,
        repository: facts.repository.clone(),
        branch: facts.base_branch.clone(),
        base_branch: facts.base_branch.clone(),
        base_sha: facts.base_sha.clone(),
        branch_sha: Some(facts.base_sha.clone()),
        up_to_date: !changed,
        file: change.manifest.to_string(),
        message: change.message,
        edit: Edit::Image(change.edit),
        diff: change.diff.to_string(),
        after: change.after.to_string(),
    }
}

/// What the pull request step would do with the open pull request found when planning.
pub fn pull_up_to_date(pull: &github::Pull, title: &str, body: &str, labels: &[String]) -> bool {
    pull.title == title
        && pull.body.trim_end() == body.trim_end()
        && labels.iter().all(|l| pull.labels.contains(l))
}

/// Requests sent, for the summary and the request-count benchmark, and whose login each registry host got.
#[derive(Debug, Clone, Serialize)]
pub struct Requests {
    pub registry: u64,
    pub github: u64,
    /// Each registry host and the source of its login (never the secret), for the summary's "Registries" row.
    #[serde(skip)]
    pub registries: Vec<(String, String)>,
}

/// The operation a step had, or (dry run) would have.
pub fn operation_of(
    step: &Step,
    applied: &[Applied],
    dry_run: bool,
) -> Option<(Operation, BTreeMap<String, String>)> {
    if let Some(a) = applied.iter().find(|a| &a.step == step) {
        return Some((a.operation, a.produced.clone()));
    }
    if !dry_run {
        return None;
    }
    let planned = match step {
        Step::Retag {
            digest, old_digest, ..
        } => retag_operation(old_digest.as_deref(), digest),
        Step::Commit {
            up_to_date: true, ..
        } => Operation::Unchanged,
        Step::Commit {
            branch,
            base_branch,
            branch_sha,
            ..
        } => {
            if branch == base_branch || branch_sha.is_none() {
                Operation::Created
            } else {
                Operation::Updated
            }
        }
        Step::PullRequest { existing: None, .. } => Operation::Created,
        Step::PullRequest { .. } => Operation::Updated,
        Step::CommitStatus {
            state,
            description,
            found,
            ..
        } => match found.as_ref().and_then(|f| f.status.as_ref()) {
            Some((s, d)) if s == state && d == description => Operation::Unchanged,
            Some(_) => Operation::Updated,
            None => Operation::Created,
        },
        _ => return None,
    };
    Some((planned, BTreeMap::new()))
}

/// The proposal's steps after what the mode plans first: the commit on the proposal branch and the pull request,
/// or (`pull-request: false`) the commit to the base branch followed by `after_commit`. A pull request with
/// nothing to change is skipped with a reason.
#[allow(clippy::too_many_arguments)]
pub fn propose(
    plan: &mut crate::plan::Plan,
    inputs: &ProposalInputs,
    facts: &RepoFacts,
    change: OverlayChange<'_>,
    changed: bool,
    (title, body): (String, String),
    pinned: (&str, &str),
    after_commit: Vec<Step>,
) {
    if inputs.pull_request {
        if !changed {
            plan.skipped.push(format!(
                "`{}` on `{}` already pins `{}` at `{}`: nothing to review",
                change.manifest, facts.base_branch, pinned.0, pinned.1
            ));
            return;
        }
        // The checklist people tick: the ticks already in the open pull request are kept.
        let (body, items) = checklist::with_checklist(
            &body,
            &inputs.checklist,
            facts.pull.as_ref().map(|p| p.body.as_str()),
        );
        let status = checklist::status(checklist::tally_items(Some(&items)));
        plan.steps.push(commit_to_branch(inputs, facts, change));
        plan.steps.push(pull_request(inputs, facts, title, body));
        // Its first status: a pull request opened with the workflow's token starts no `checklist` workflow.
        plan.steps.push(Step::CommitStatus {
            repository: facts.repository.clone(),
            sha: None,
            branch: facts.branch.clone(),
            context: checklist::CONTEXT.to_string(),
            state: status.state,
            description: status.description,
            target_url: facts.pull.as_ref().map(|p| p.html_url.clone()),
            // Read on the open pull request's head; it says something only when the branch keeps that commit.
            found: facts
                .branch_up_to_date
                .then(|| facts.checklist_status.clone())
                .flatten(),
            warn_only: true,
        });
    } else {
        plan.steps
            .push(commit_to_base(inputs, facts, change, changed));
        // After the commit landed: the reviewed record first, then what production follows.
        plan.steps.extend(after_commit);
    }
}

/// What the commit and pull request steps did: the outputs both modes give.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub commit: String,
    pub commit_operation: String,
    pub pr_number: String,
    pub pr_url: String,
    pub pr_operation: String,
}

/// Reads back the commit and pull request steps of `steps` (and the open pull request found when planning).
pub fn outcome(
    steps: &[Step],
    applied: &[Applied],
    pull: Option<&github::Pull>,
    dry: bool,
) -> Outcome {
    let commit_step = steps.iter().find(|s| matches!(s, Step::Commit { .. }));
    let pr_step = steps.iter().find(|s| matches!(s, Step::PullRequest { .. }));
    let op = |step: Option<&Step>| step.and_then(|s| operation_of(s, applied, dry));
    let commit_op = op(commit_step);
    let mut pr_op = op(pr_step);
    // An open pull request that already says all of this: the plan's update is a no-op.
    if dry
        && let (
            Some(Step::PullRequest {
                title,
                body,
                labels,
                ..
            }),
            Some(pull),
        ) = (pr_step, pull)
        && pull_up_to_date(pull, title, body, labels)
    {
        pr_op = Some((Operation::Unchanged, BTreeMap::new()));
    }
    let commit = commit_op
        .as_ref()
        .and_then(|(_, p)| p.get("commit").cloned())
        .or_else(|| match commit_step {
            Some(Step::Commit {
                up_to_date: true,
                branch_sha,
                ..
            }) => branch_sha.clone(),
            _ => None,
        })
        .unwrap_or_default();
    let (pr_number, pr_url) = match (&pr_op, pull) {
        (Some((_, p)), _) if p.contains_key("pr-number") => (
            p.get("pr-number").cloned().unwrap_or_default(),
            p.get("pr-url").cloned().unwrap_or_default(),
        ),
        (_, Some(pull)) => (pull.number.to_string(), pull.html_url.clone()),
        _ => (String::new(), String::new()),
    };
    Outcome {
        commit,
        commit_operation: word(&commit_op, dry),
        pr_number,
        pr_url,
        pr_operation: word(&pr_op, dry),
    }
}

/// The reported word of an operation, `skipped` without one.
pub fn word(op: &Option<(Operation, BTreeMap<String, String>)>, dry: bool) -> String {
    op.as_ref()
        .map(|(op, _)| op.reported(dry))
        .unwrap_or_else(|| "skipped".to_string())
}

/// Notice when a workflow token opens the pull request: it starts no other workflow. `what` names the pull
/// request (`promotion`, `rollback`).
pub fn workflow_token_notice(
    what: &str,
    inputs: &ProposalInputs,
    facts: &RepoFacts,
    steps: &[Step],
) -> Option<crate::actions::Annotation> {
    (inputs.pull_request
        && inputs
            .github_token
            .as_ref()
            .is_some_and(|t| t.expose().starts_with("ghs_"))
        && facts.pull.is_none()
        && steps.iter().any(|s| matches!(s, Step::PullRequest { .. })))
    .then(|| {
        crate::actions::Annotation::notice(
            format!("gitops-promote: CI on the {what} pull request"),
            github::workflow_token_notice(what),
        )
    })
}
