//! The pull-request verbs of [`Client`]: find the open pull request of a branch, open and update one, add labels,
//! request reviewers.

use super::*;

impl Client {
    /// One pull request by number (`GET /pulls/{number}`): the body as it is now, not as an event payload
    /// captured it.
    pub async fn pull_async(&self, number: u64) -> Result<Pull> {
        let (o, r) = (self.owner(), self.repo());
        let op = self.op(
            format!("read pull request #{number}"),
            "GET",
            format!("{}/pulls/{number}", self.repo_path()),
            Need::ReadPulls,
        );
        let pull = self
            .send(&op, || async move {
                self.octocrab.pulls(o, r).get(number).await
            })
            .await
            .map_err(|f| f.into_error(&op))?;
        Ok(pull_from(pull))
    }

    /// The open pull request from `branch` (of this repository) into `base`, if there is one.
    pub fn find_pull(&self, branch: &str, base: &str) -> Result<Option<Pull>> {
        self.run(self.pulls_async(branch, Some(base)))
            .map(|pulls| pulls.into_iter().next())
    }

    /// The open pull requests from `branch` (of this repository), into any base: one list call, so it needs
    /// no base branch and can be sent before that is known.
    pub fn open_pulls(&self, branch: &str) -> Result<Vec<Pull>> {
        self.run(self.open_pulls_async(branch))
    }

    /// [`Client::open_pulls`], to join with other reads in [`Client::block_on`].
    pub async fn open_pulls_async(&self, branch: &str) -> Result<Vec<Pull>> {
        self.pulls_async(branch, None).await
    }

    /// The open pull requests from `branch` (into `base` when given), following pages.
    pub(super) async fn pulls_async(&self, branch: &str, base: Option<&str>) -> Result<Vec<Pull>> {
        let (o, r) = (self.owner(), self.repo());
        let head = format!("{o}:{branch}");
        let mut op = self.op(
            match base {
                Some(base) => format!("look for an open pull request from {branch} into {base}"),
                None => format!("look for an open pull request from {branch}"),
            },
            "GET",
            format!("{}/pulls", self.repo_path()),
            Need::ReadPulls,
        );
        // GitHub filters by `head` only in the form `owner:branch` (a bare name is ignored and every
        // open pull request comes back), so the owner is always sent, and the answers are checked too.
        let head = head.as_str();
        let mut page = self
            .send(&op, || async move {
                let pulls = self.octocrab.pulls(o, r);
                let list = pulls.list().state(octocrab::params::State::Open).head(head);
                let list = match base {
                    Some(base) => list.base(base),
                    None => list,
                };
                list.per_page(100u8).send().await
            })
            .await
            .map_err(|f| f.into_error(&op))?;
        let mut found = Vec::new();
        for _ in 0..MAX_PAGES {
            found.extend(
                page.items
                    .into_iter()
                    .filter(|p| {
                        p.head.ref_field == branch
                            && base.is_none_or(|base| p.base.ref_field == base)
                            && p.head.label.as_deref().is_none_or(|l| l == head)
                    })
                    .map(pull_from),
            );
            let Some(next) = page.next else {
                break;
            };
            // Only the path and query of the `Link`: the request stays on the API base, and so does
            // the token.
            let next = next
                .path_and_query()
                .map(|pq| pq.as_str().to_string())
                .unwrap_or_default();
            op.path = next.clone();
            let next = next.as_str();
            page = self
                .send(&op, || async move {
                    self.octocrab
                        .get::<octocrab::Page<octocrab::models::pulls::PullRequest>, _, ()>(
                            next, None,
                        )
                        .await
                })
                .await
                .map_err(|f| f.into_error(&op))?;
        }
        Ok(found)
    }

    /// Opens a pull request.
    pub fn create_pull(&self, new: &NewPull) -> Result<Pull> {
        let (o, r) = (self.owner(), self.repo());
        let op = self.op(
            format!("open a pull request from {} into {}", new.head, new.base),
            "POST",
            format!("{}/pulls", self.repo_path()),
            Need::PullRequests,
        );
        self.run(async {
            let pull = self
                .send(&op, || async move {
                    let pulls = self.octocrab.pulls(o, r);
                    pulls
                        .create(new.title.as_str(), new.head.as_str(), new.base.as_str())
                        .body(new.body.as_str())
                        // Not nullable: sent only when true.
                        .draft(new.draft.then_some(true))
                        .send()
                        .await
                })
                .await
                .map_err(|f| f.into_error(&op))?;
            Ok(pull_from(pull))
        })
    }

    /// Rewrites a pull request's title and body.
    pub fn update_pull(&self, number: u64, title: &str, body: &str) -> Result<Pull> {
        let op = self.op(
            format!("update pull request #{number}"),
            "PATCH",
            format!("{}/pulls/{number}", self.repo_path()),
            Need::PullRequests,
        );
        let path = op.path.as_str();
        self.run(async {
            let pull = self
                .send(&op, || async move {
                    // Our body with octocrab's model of the answer: its `update` builder also puts
                    // `pull_number` in the body, a field the description's request does not have.
                    self.octocrab
                        .patch::<octocrab::models::pulls::PullRequest, _, _>(
                            path,
                            Some(&PullPatch { title, body }),
                        )
                        .await
                })
                .await
                .map_err(|f| f.into_error(&op))?;
            Ok(pull_from(pull))
        })
    }

    /// Adds labels to a pull request (GitHub creates labels that do not exist). No request for none.
    pub fn add_labels(&self, number: u64, labels: &[String]) -> Result<()> {
        if labels.is_empty() {
            return Ok(());
        }
        let (o, r) = (self.owner(), self.repo());
        let op = self.op(
            format!("label pull request #{number}"),
            "POST",
            format!("{}/issues/{number}/labels", self.repo_path()),
            Need::PullRequests,
        );
        self.run(async {
            self.send(&op, || async move {
                self.octocrab.issues(o, r).add_labels(number, labels).await
            })
            .await
            .map(drop)
            .map_err(|f| f.into_error(&op))
        })
    }

    /// Requests reviews from users (logins) and teams (slugs). No request for none.
    pub fn request_reviewers(&self, number: u64, users: &[String], teams: &[String]) -> Result<()> {
        if users.is_empty() && teams.is_empty() {
            return Ok(());
        }
        let op = self.op(
            format!("request reviewers on pull request #{number}"),
            "POST",
            format!("{}/pulls/{number}/requested_reviewers", self.repo_path()),
            Need::PullRequests,
        );
        let body = ReviewRequest {
            reviewers: users,
            team_reviewers: teams,
        };
        self.run(async {
            // Raw: octocrab reads this answer as a `Review`, but GitHub answers with the pull request; and
            // an empty list is left out here rather than sent.
            self.send(&op, || self.raw_post(&op.path, &body))
                .await
                .map(drop)
                .map_err(|f| f.into_error(&op))
        })
    }
}
