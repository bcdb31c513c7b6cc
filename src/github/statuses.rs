//! The commit-status verbs of [`Client`] for the checklist: read the newest status of a context on a commit,
//! and set one. Raw: octocrab has no builder for `POST /repos/{owner}/{repo}/statuses/{sha}`.

use super::*;

/// A commit status to set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewStatus {
    /// `pending`, `success`, `failure` or `error`.
    pub state: String,
    pub context: String,
    pub description: String,
    /// Left out when unknown: the description does not declare it nullable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_url: Option<String>,
}

impl Client {
    /// The newest status of `context` on `sha` (from the combined status), if any. A missing permission names
    /// `statuses: write`, which the caller needs anyway to set it.
    pub async fn status_of_async(&self, sha: &str, context: &str) -> Result<Option<CommitStatus>> {
        let statuses = self
            .statuses_needing_async(sha, Need::WriteStatuses)
            .await?;
        Ok(statuses
            .into_iter()
            .find(|s| s.context.eq_ignore_ascii_case(context)))
    }

    /// [`Client::status_of_async`], blocking.
    pub fn status_of(&self, sha: &str, context: &str) -> Result<Option<CommitStatus>> {
        self.run(self.status_of_async(sha, context))
    }

    /// Sets a commit status on `sha`.
    pub fn create_status(&self, sha: &str, status: &NewStatus) -> Result<()> {
        let op = self.op(
            format!("set the commit status `{}` on {sha}", status.context),
            "POST",
            format!("{}/statuses/{}", self.repo_path(), encode_segment(sha)),
            Need::WriteStatuses,
        );
        self.run(async {
            self.send(&op, || self.raw_post(&op.path, status))
                .await
                .map(drop)
                .map_err(|f| f.into_error(&op))
        })
    }
}
