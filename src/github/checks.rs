//! The check verbs of [`Client`]: a commit's check runs and its commit statuses, every page, for the
//! promotion gates.
//!
//! Raw GETs (octocrab's raw layer) parsed into the few fields the gates use: one shape for both lists, and
//! no failure on fields of the check-run model a gate never reads.

use super::*;

/// One check run as the gates read it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CheckRun {
    pub id: u64,
    pub name: String,
    /// `queued`, `in_progress`, `completed` (or `waiting`, `requested`, `pending` for Actions).
    pub status: String,
    pub conclusion: Option<String>,
    pub html_url: Option<String>,
    pub details_url: Option<String>,
}

/// One commit status (the newest of its context) as the gates read it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct CommitStatus {
    pub context: String,
    /// `error`, `failure`, `pending`, `success`.
    pub state: String,
    pub target_url: Option<String>,
    pub description: Option<String>,
}

#[derive(Deserialize)]
struct RunsPage {
    total_count: usize,
    check_runs: Vec<CheckRun>,
}

#[derive(Deserialize)]
struct StatusPage {
    total_count: usize,
    statuses: Vec<CommitStatus>,
}

const PER_PAGE: usize = 100;

impl Client {
    /// The newest check run of each name on `sha` (GitHub's `filter=latest`), every page.
    pub async fn check_runs_async(&self, sha: &str) -> Result<Vec<CheckRun>> {
        let mut runs = Vec::new();
        for page in 1..=MAX_PAGES {
            let path = format!(
                "{}/commits/{}/check-runs?filter=latest&per_page={PER_PAGE}&page={page}",
                self.repo_path(),
                encode_segment(sha)
            );
            let op = self.op(
                format!("read the check runs of commit {sha}"),
                "GET",
                path.clone(),
                Need::ReadChecks,
            );
            let text = self
                .send(&op, || self.raw_get(&path))
                .await
                .map_err(|f| f.into_error(&op))?;
            let answer: RunsPage = parse(&op, &text)?;
            let got = answer.check_runs.len();
            runs.extend(answer.check_runs);
            if got < PER_PAGE || runs.len() >= answer.total_count {
                break;
            }
        }
        Ok(runs)
    }

    /// The newest commit status of each context on `sha` (the combined status), every page.
    pub async fn commit_statuses_async(&self, sha: &str) -> Result<Vec<CommitStatus>> {
        self.statuses_needing_async(sha, Need::ReadStatuses).await
    }

    /// [`Client::commit_statuses_async`], naming `need` when the token may not read them.
    pub(super) async fn statuses_needing_async(
        &self,
        sha: &str,
        need: Need,
    ) -> Result<Vec<CommitStatus>> {
        let mut statuses = Vec::new();
        for page in 1..=MAX_PAGES {
            let path = format!(
                "{}/commits/{}/status?per_page={PER_PAGE}&page={page}",
                self.repo_path(),
                encode_segment(sha)
            );
            let op = self.op(
                format!("read the commit statuses of commit {sha}"),
                "GET",
                path.clone(),
                need,
            );
            let text = self
                .send(&op, || self.raw_get(&path))
                .await
                .map_err(|f| f.into_error(&op))?;
            let answer: StatusPage = parse(&op, &text)?;
            let got = answer.statuses.len();
            statuses.extend(answer.statuses);
            if got < PER_PAGE || statuses.len() >= answer.total_count {
                break;
            }
        }
        Ok(statuses)
    }

    /// Both lists of `sha`, read at once.
    pub fn checks_and_statuses(&self, sha: &str) -> Result<(Vec<CheckRun>, Vec<CommitStatus>)> {
        self.run(async {
            let (runs, statuses) =
                tokio::join!(self.check_runs_async(sha), self.commit_statuses_async(sha));
            Ok((runs?, statuses?))
        })
    }
}

fn parse<T: serde::de::DeserializeOwned>(op: &Op, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| {
        Error::new(
            Kind::Upstream,
            format!("can't {}: GitHub's answer does not parse: {e}", op.what),
        )
    })
}
