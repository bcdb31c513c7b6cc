//! Copying an image between repositories or registries: blobs by cross-repository mount where the registry
//! allows it, else streamed through; child manifests before the index; nothing re-sent that the target has.

use super::*;

impl Client {
    /// Makes every blob and child manifest of `manifest` (read from `from`) present in `to`: nothing for
    /// blobs already there, a cross-repository mount on the same registry, a streamed copy otherwise.
    pub fn copy_image(
        &self,
        from: &ImageName,
        to: &ImageName,
        manifest: &Manifest,
    ) -> Result<CopyStats> {
        self.rt.block_on(self.copy_image_async(from, to, manifest))
    }

    pub(super) async fn blob_exists(&self, image: &ImageName, digest: &str) -> Result<bool> {
        let what = format!("check blob {digest} in `{image}`");
        let url = self.url(image, &format!("blobs/{digest}")).await;
        let resp = self
            .send(&what, Some(&image.registry), SHORT, &|| {
                self.http_for(&url).head(&url)
            })
            .await?;
        match resp.status() {
            s if s.is_success() => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(self.failure(&what, resp).await),
        }
    }

    pub(super) async fn manifest_exists(&self, image: &ImageName, digest: &str) -> Result<bool> {
        let reference = Reference {
            image: image.clone(),
            tag: None,
            digest: Some(digest.to_string()),
        };
        Ok(self.resolve_async(&reference).await?.is_some())
    }

    /// `POST …/blobs/uploads/?mount=&from=`: true when the registry mounted it (201).
    pub(super) async fn mount_blob(
        &self,
        to: &ImageName,
        digest: &str,
        from: &ImageName,
    ) -> Result<bool> {
        let what = format!("mount blob {digest} from `{from}` into `{to}`");
        let url = self.url(to, "blobs/uploads/").await;
        let query = [("mount", digest), ("from", from.repository.as_str())];
        let resp = self
            .send(&what, Some(&to.registry), SHORT, &|| {
                self.http_for(&url)
                    .post(&url)
                    .query(&query)
                    .header(CONTENT_LENGTH, "0")
            })
            .await?;
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            // 202: the registry opened an upload session instead; the copy uploads through a new one.
            StatusCode::ACCEPTED => Ok(false),
            _ => Err(self.failure(&what, resp).await),
        }
    }

    /// Streams one blob from `from` to `to`: GET, POST an upload, PUT the body as it arrives. A failure
    /// anywhere restarts the blob, within the attempt budget.
    pub(super) async fn copy_blob(
        &self,
        from: &ImageName,
        to: &ImageName,
        blob: &Descriptor,
    ) -> Result<()> {
        let what = format!("copy blob {} from `{from}` to `{to}`", blob.digest);
        let started = Instant::now();
        let mut last = String::new();
        for attempt in 1..=self.settings.max_attempts {
            if attempt > 1 {
                let wait = self.backoff(attempt - 1);
                self.wait_or_fail(&what, wait, &last)?;
                self.note(format!(
                    "retrying {what} in {:.1}s ({last})",
                    wait.as_secs_f64()
                ));
                tokio::time::sleep(wait).await;
            }
            let get_url = self.url(from, &format!("blobs/{}", blob.digest)).await;
            let source = self
                .send(&what, Some(&from.registry), LONG, &|| {
                    self.http_for(&get_url).get(&get_url)
                })
                .await?;
            if !source.status().is_success() {
                return Err(self.failure(&what, source).await);
            }
            let length = source.content_length().unwrap_or(blob.size);
            let post_url = self.url(to, "blobs/uploads/").await;
            let session = self
                .send(&what, Some(&to.registry), SHORT, &|| {
                    self.http_for(&post_url)
                        .post(&post_url)
                        .header(CONTENT_LENGTH, "0")
                })
                .await?;
            if session.status() != StatusCode::ACCEPTED {
                return Err(self.failure(&what, session).await);
            }
            let location = header(&session, LOCATION.as_str()).ok_or_else(|| {
                Error::new(
                    Kind::Upstream,
                    format!("can't {what}: upload answer has no Location"),
                )
            })?;
            let mut put_url = Url::parse(&post_url)
                .and_then(|u| u.join(&location))
                .map_err(|e| {
                    Error::new(Kind::Upstream, format!("can't {what}: bad Location: {e}"))
                })?;
            put_url
                .query_pairs_mut()
                .append_pair("digest", &blob.digest);
            let body = Mutex::new(Some(reqwest::Body::wrap_stream(source.bytes_stream())));
            let result = self
                .send(
                    &what,
                    Some(&to.registry),
                    Opts {
                        attempts: Some(1),
                        long: true,
                    },
                    &|| {
                        let body = lock(&body)
                            .take()
                            .unwrap_or_else(|| reqwest::Body::from(""));
                        self.http_for(put_url.as_str())
                            .put(put_url.clone())
                            .header(CONTENT_TYPE, "application/octet-stream")
                            .header(CONTENT_LENGTH, length)
                            .body(body)
                    },
                )
                .await;
            match result {
                Ok(resp) if resp.status() == StatusCode::CREATED => {
                    self.note(format!(
                        "copied blob {} ({:.1} MB) from `{from}` to `{to}` in {:.1}s",
                        blob.digest,
                        length as f64 / 1e6,
                        started.elapsed().as_secs_f64()
                    ));
                    return Ok(());
                }
                Ok(resp) if is_retryable(resp.status()) => {
                    last = format!("registry answered {}", resp.status());
                }
                Ok(resp) => return Err(self.failure(&what, resp).await),
                Err(e) => last = e.message,
            }
        }
        Err(Error::new(
            Kind::Upstream,
            format!(
                "can't {what}: gave up after {} attempts: {last}",
                self.settings.max_attempts
            ),
        ))
    }

    pub(super) async fn copy_image_async(
        &self,
        from: &ImageName,
        to: &ImageName,
        manifest: &Manifest,
    ) -> Result<CopyStats> {
        let mut stats = CopyStats::default();
        // Already there by digest (an earlier tag of this run, or a rerun): a registry accepts a manifest only
        // once its blobs and children are in the repository, so there is nothing to copy.
        if self
            .manifest_exists(to, &manifest.descriptor.digest)
            .await?
        {
            return Ok(stats);
        }
        let same_registry = from.registry == to.registry;
        // Children first (an index's manifests must exist before the index is accepted).
        let mut images = Vec::new();
        if manifest.is_index() {
            for child in manifest.children()? {
                if self.manifest_exists(to, &child.digest).await? {
                    continue;
                }
                let reference = Reference {
                    image: from.clone(),
                    tag: None,
                    digest: Some(child.digest.clone()),
                };
                let child_manifest = match self.cached_manifest(&child.digest) {
                    Some(m) => m,
                    None => self.get_manifest_async(&reference).await?,
                };
                if child_manifest.is_index() {
                    return Err(Error::new(
                        Kind::Upstream,
                        format!(
                            "index {} nests another index; not supported",
                            manifest.descriptor.digest
                        ),
                    ));
                }
                images.push(child_manifest);
            }
        } else {
            images.push(manifest.clone());
        }
        // Every blob once (platforms may share layers), four at a time: with per-request latency a
        // sequential walk is what makes a copy slow, not the bytes.
        let mut blobs: Vec<Descriptor> = Vec::new();
        for image in &images {
            for blob in image.children()? {
                if !blobs.iter().any(|b| b.digest == blob.digest) {
                    blobs.push(blob);
                }
            }
        }
        let outcomes: Vec<BlobOutcome> = stream::iter(
            blobs
                .iter()
                .map(|blob| self.ensure_blob(from, to, blob, same_registry)),
        )
        .buffer_unordered(4)
        .try_collect()
        .await?;
        for outcome in outcomes {
            match outcome {
                BlobOutcome::Present => stats.blobs_present += 1,
                BlobOutcome::Mounted => stats.blobs_mounted += 1,
                BlobOutcome::Copied(bytes) => {
                    stats.blobs_copied += 1;
                    stats.bytes_copied += bytes;
                }
            }
        }
        if manifest.is_index() {
            for image in &images {
                self.put_manifest_async(to, &image.descriptor.digest, image)
                    .await?;
                stats.manifests_written += 1;
            }
        }
        Ok(stats)
    }

    /// One blob into `to`. On the same registry a mount is tried first: it answers 201 whether or not the
    /// target had the blob, so a HEAD before it would only cost a request. Across registries a HEAD
    /// decides whether to stream it. A registry that mounts nothing answers the mount with 202 (an upload
    /// session, as the distribution spec allows): then a HEAD decides too, silently. Amazon ECR is one:
    /// it mounts only within one registry (account and region) and only once blob mounting is turned on
    /// for the registry (`aws ecr put-account-setting --name BLOB_MOUNTING --value ENABLED`; Amazon ECR
    /// User Guide, "Blob mounting in Amazon ECR"); before that, every cross-repository copy streams.
    pub(super) async fn ensure_blob(
        &self,
        from: &ImageName,
        to: &ImageName,
        blob: &Descriptor,
        same_registry: bool,
    ) -> Result<BlobOutcome> {
        if same_registry && self.mount_blob(to, &blob.digest, from).await? {
            return Ok(BlobOutcome::Mounted);
        }
        if self.blob_exists(to, &blob.digest).await? {
            return Ok(BlobOutcome::Present);
        }
        self.copy_blob(from, to, blob).await?;
        Ok(BlobOutcome::Copied(blob.size))
    }
}
