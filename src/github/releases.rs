//! The release verbs of [`Client`]: read a release by its tag, create one, update its name, notes and
//! "latest" flag.

use super::*;

impl Client {
    /// The release of `tag`, if one is published.
    pub fn release_by_tag(&self, tag: &str) -> Result<Option<Release>> {
        let op = self.op(
            format!("read release {tag}"),
            "GET",
            format!("{}/releases/tags/{}", self.repo_path(), encode_segment(tag)),
            Need::Read,
        );
        self.run(async {
            // Raw: octocrab's release model requires fields (`upload_url`, `author`) only the full answer has.
            match self.send(&op, || self.raw_get(&op.path)).await {
                Ok(text) => Ok(Some(parse::<ReleaseAnswer>(&op, &text)?.into())),
                Err(f) if f.status() == Some(404) => Ok(None),
                Err(f) => Err(f.into_error(&op)),
            }
        })
    }

    /// Publishes a release on the existing tag `new.tag_name`.
    pub fn create_release(&self, new: &NewRelease) -> Result<Release> {
        let op = self.op(
            format!("publish release {}", new.tag_name),
            "POST",
            format!("{}/releases", self.repo_path()),
            Need::Contents,
        );
        let body = ReleaseWrite {
            tag_name: Some(&new.tag_name),
            name: &new.name,
            body: &new.body,
            make_latest: if new.latest { "true" } else { "false" },
        };
        self.run(async {
            let text = self
                .send(&op, || self.raw_post(&op.path, &body))
                .await
                .map_err(|f| f.into_error(&op))?;
            Ok(parse::<ReleaseAnswer>(&op, &text)?.into())
        })
    }

    /// Rewrites a release's name and notes.
    pub fn update_release(&self, id: u64, name: &str, body: &str, latest: bool) -> Result<Release> {
        let op = self.op(
            format!("update release {id}"),
            "PATCH",
            format!("{}/releases/{id}", self.repo_path()),
            Need::Contents,
        );
        let body = ReleaseWrite {
            tag_name: None,
            name,
            body,
            make_latest: if latest { "true" } else { "false" },
        };
        self.run(async {
            let text = self
                .send(&op, || self.raw_patch(&op.path, &body))
                .await
                .map_err(|f| f.into_error(&op))?;
            Ok(parse::<ReleaseAnswer>(&op, &text)?.into())
        })
    }
}
