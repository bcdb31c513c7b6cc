//! Owns what is attached to an image digest and follows the image to another repository or registry: cosign's
//! signature, attestation and SBOM tags and the digest's OCI 1.1 referrers: found, copied by digest (blobs,
//! then manifests, the exact bytes), listed at the target, and checked after.
//!
//! Where they live, the two schemes signers use:
//! - cosign's tag scheme: the tags `sha256-<hex>.sig`, `.att` and `.sbom` in the image's repository, each an
//!   ordinary manifest whose layers are the signatures, the in-toto attestations, the SBOM (sigstore/cosign,
//!   `pkg/oci/remote`: `SignatureTagSuffix`, `AttestationTagSuffix`, `SBOMTagSuffix`, with the tag built from
//!   the digest as `<alg>-<hex>.<suffix>`). Nothing in these manifests names the image: only the tag does.
//! - OCI 1.1 referrers: manifests whose `subject` is the digest, listed by `GET /v2/<name>/referrers/<digest>`
//!   (OCI distribution spec v1.1, "Listing Referrers"). A registry without that API answers 404 there, and then
//!   clients keep the list themselves: an image index under the tag `<alg>-<ref>` (`sha256-<hex>`), updated by
//!   whoever pushes a manifest with a `subject` ("Referrers Tag Schema" and "Pushing Manifests with Subject" in
//!   the same spec). The CNCF distribution registry 2.8 (Debian's `docker-registry`) has no referrers API (404,
//!   checked); distribution 3, zot, Harbor, ECR, GAR and ACR have it.
//!
//! Each manifest is copied with its own bytes, so its digest, and a referrer's `subject`, stay the same. At a
//! target without the API the fallback index is rebuilt there: the target's own entries plus the copied
//! ones, so it has its own digest (it lists what that repository holds). A retag within one repository needs
//! none of this: the digest is unchanged, so everything attached to it already applies to the new tag.

use std::collections::BTreeMap;

use super::*;

/// What is attached to a digest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttachedKind {
    /// cosign's `.sig` tag.
    Signature,
    /// cosign's `.att` tag (in-toto attestations).
    Attestation,
    /// cosign's `.sbom` tag.
    Sbom,
    /// An OCI 1.1 referrer (a manifest whose `subject` is the digest).
    Referrer,
}

const COSIGN_SUFFIXES: [(&str, AttachedKind); 3] = [
    ("sig", AttachedKind::Signature),
    ("att", AttachedKind::Attestation),
    ("sbom", AttachedKind::Sbom),
];

/// One manifest attached to the digest, as found in the source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Attached {
    pub kind: AttachedKind,
    /// The cosign tag (`sha256-<hex>.sig`); none for a referrer, which is written by digest.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    pub digest: String,
    pub media_type: String,
    pub size: u64,
    /// A referrer's `artifactType`, as the source's list gives it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// At the target already when planning: the tag points at this digest, or the referrer is there and listed.
    pub present: bool,
}

impl Attached {
    /// The descriptor a referrers list holds for it (OCI distribution spec, "Listing Referrers").
    fn entry(&self) -> serde_json::Value {
        let mut entry = serde_json::json!({
            "mediaType": self.media_type,
            "digest": self.digest,
            "size": self.size,
        });
        if let Some(t) = &self.artifact_type {
            entry["artifactType"] = serde_json::json!(t);
        }
        if !self.annotations.is_empty() {
            entry["annotations"] = serde_json::json!(self.annotations);
        }
        entry
    }
}

/// What is attached to a digest in the source and where the target stands, read when planning.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AttachedFacts {
    pub artifacts: Vec<Attached>,
    /// The source answered the referrers API (else its fallback tag was read).
    pub source_referrers_api: bool,
    /// The target answers the referrers API; without it the fallback tag `sha256-<hex>` lists them there.
    pub target_referrers_api: bool,
    /// The target has no referrers API and its fallback tag lacks some of the referrers: it is rebuilt.
    pub rebuild_index: bool,
}

impl AttachedFacts {
    /// Nothing left to write at the target.
    pub fn is_done(&self) -> bool {
        self.artifacts.iter().all(|a| a.present) && !self.rebuild_index
    }

    /// `` `.sig`, `.att`, 1 referrer `` (only those still missing at the target with `missing`); `none`.
    pub fn list(&self, missing: bool) -> String {
        let picked: Vec<&Attached> = self
            .artifacts
            .iter()
            .filter(|a| !missing || !a.present)
            .collect();
        let mut parts: Vec<String> = picked
            .iter()
            .filter_map(|a| a.tag.as_deref())
            .filter_map(|t| t.rsplit_once('.'))
            .map(|(_, suffix)| format!("`.{suffix}`"))
            .collect();
        let referrers = picked
            .iter()
            .filter(|a| a.kind == AttachedKind::Referrer)
            .count();
        if referrers > 0 {
            parts.push(format!(
                "{referrers} referrer{}",
                if referrers == 1 { "" } else { "s" }
            ));
        }
        if parts.is_empty() {
            "none".to_string()
        } else {
            parts.join(", ")
        }
    }
}

/// The tag a digest's things are named after: `sha256:<hex>` → `sha256-<hex>` (the algorithm cut to 32
/// characters and the hex to 64, as the OCI distribution spec's referrers tag schema says, so a sha512 digest
/// still makes a valid tag). It is the fallback tag itself, and cosign's tags add `.sig`, `.att`, `.sbom`.
///
/// ```
/// use gitops_promote::registry::digest_tag;
/// let d = format!("sha256:{}", "a".repeat(64));
/// assert_eq!(digest_tag(&d), format!("sha256-{}", "a".repeat(64)));
/// assert_eq!(digest_tag(&format!("sha512:{}", "b".repeat(128))).len(), 71);
/// ```
pub fn digest_tag(digest: &str) -> String {
    let (alg, hex) = digest.split_once(':').unwrap_or(("sha256", digest));
    let cut = |s: &str, n: usize| s.chars().take(n).collect::<String>();
    format!("{}-{}", cut(alg, 32), cut(hex, 64))
}

fn string_map(v: Option<&serde_json::Value>) -> BTreeMap<String, String> {
    v.and_then(|v| v.as_object())
        .map(|o| {
            o.iter()
                .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

/// A referrer as a list gives it, with its entry exactly as it stands there.
type Listed = (Attached, serde_json::Value);

/// The referrers an index lists (the API's answer, or a fallback tag's index).
fn listed(bytes: &[u8], what: &str) -> Result<Vec<Listed>> {
    let bad = |why: String| Error::new(Kind::Upstream, format!("can't {what}: {why}"));
    let index: serde_json::Value =
        serde_json::from_slice(bytes).map_err(|e| bad(format!("not JSON: {e}")))?;
    let Some(manifests) = index.get("manifests").and_then(|m| m.as_array()) else {
        return Err(bad("the index has no `manifests`".to_string()));
    };
    let mut out = Vec::new();
    for m in manifests {
        let (Some(digest), Some(media_type)) = (
            m.get("digest").and_then(|d| d.as_str()),
            m.get("mediaType").and_then(|d| d.as_str()),
        ) else {
            return Err(bad(format!("an entry lacks `digest` or `mediaType`: {m}")));
        };
        out.push((
            Attached {
                kind: AttachedKind::Referrer,
                tag: None,
                digest: digest.to_string(),
                media_type: media_type.to_string(),
                size: m.get("size").and_then(|s| s.as_u64()).unwrap_or(0),
                artifact_type: m
                    .get("artifactType")
                    .and_then(|t| t.as_str())
                    .map(str::to_string),
                annotations: string_map(m.get("annotations")),
                present: false,
            },
            m.clone(),
        ));
    }
    Ok(out)
}

impl CopyStats {
    fn add(&mut self, other: CopyStats) {
        self.blobs_present += other.blobs_present;
        self.blobs_mounted += other.blobs_mounted;
        self.blobs_copied += other.blobs_copied;
        self.bytes_copied += other.bytes_copied;
        self.manifests_written += other.manifests_written;
    }
}

impl Client {
    /// What is attached to `digest` in `source` (cosign's tags, the referrers API or else the fallback tag),
    /// and for each whether `target` (another repository) has it already; whether `target` has the referrers
    /// API, and whether its fallback tag must be rebuilt. Reads only.
    pub fn find_attached(
        &self,
        source: &ImageName,
        digest: &str,
        target: &ImageName,
    ) -> Result<AttachedFacts> {
        self.rt
            .block_on(self.find_attached_async(source, digest, target))
    }

    /// Writes at `target` what `facts` found missing: the image itself by digest first (a referrer names it as
    /// its `subject`), then each artifact's blobs and its manifest (a cosign artifact under its tag, a referrer
    /// by digest), then the rebuilt fallback index; then reads it all back.
    pub fn copy_attached(
        &self,
        source: &ImageName,
        target: &ImageName,
        subject: &Manifest,
        facts: &AttachedFacts,
    ) -> Result<CopyStats> {
        self.rt
            .block_on(self.copy_attached_async(source, target, subject, facts))
    }

    /// `GET /v2/<name>/referrers/<digest>`, every page: `None` when the registry has no referrers API. The spec
    /// says such a registry answers 404; Artifactory answers 406 and others 400 or 405 (go-containerregistry
    /// falls back on those too), old Harbor a 401 without a challenge, and an answer that is not an image index
    /// is no API either.
    async fn referrers_api(&self, image: &ImageName, digest: &str) -> Result<Option<Vec<Listed>>> {
        let what = format!("list the referrers of {digest} in `{image}`");
        let mut url = self.url(image, &format!("referrers/{digest}")).await;
        let mut out = Vec::new();
        for _ in 0..1_000 {
            let resp = self
                .send(&what, Some(&image.registry), SHORT, &|| {
                    self.http_for(&url).get(&url).header(ACCEPT, OCI_INDEX)
                })
                .await?;
            // Harbor before 2.8 answered 401 with no challenge (goharbor/harbor#18305): nothing to log in to.
            let unchallenged = resp.status() == StatusCode::UNAUTHORIZED
                && header(&resp, WWW_AUTHENTICATE).is_none();
            if matches!(resp.status().as_u16(), 400 | 404 | 405 | 406) || unchallenged {
                return Ok(None);
            }
            if !resp.status().is_success() {
                return Err(self.failure(&what, resp).await);
            }
            let media_type = header(&resp, CONTENT_TYPE.as_str())
                .map(|m| media_type_only(&m))
                .unwrap_or_default();
            if media_type != OCI_INDEX {
                return Ok(None);
            }
            let next = header(&resp, "link").and_then(|l| next_link(&l));
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| Error::new(Kind::Upstream, format!("can't {what}: {}", chain(&e))))?;
            out.extend(listed(&bytes, &what)?);
            match next {
                Some(next) => url = join_link(&url, &next, &what)?,
                None => return Ok(Some(out)),
            }
        }
        Err(Error::new(
            Kind::Upstream,
            format!("can't {what}: too many pages"),
        ))
    }

    /// The fallback tag's index in `image`: its entries, none when the tag (or the repository) does not exist.
    async fn fallback_listed(&self, image: &ImageName, digest: &str) -> Result<Vec<Listed>> {
        let reference = Reference {
            image: image.clone(),
            tag: Some(digest_tag(digest)),
            digest: None,
        };
        let manifest = match self.get_manifest_async(&reference).await {
            Ok(m) => m,
            Err(e) if e.kind == Kind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        // GitLab's registry resolves `sha256-<hex>` to the manifest `sha256:<hex>` itself: that is the image, not
        // a list of its referrers (oras-project/oras-go#1396).
        if manifest.descriptor.digest == digest {
            return Ok(Vec::new());
        }
        if manifest.descriptor.media_type != OCI_INDEX {
            return Err(Error::new(
                Kind::Upstream,
                format!(
                    "`{reference}` should be the OCI referrers index of {digest}, but is a `{}`",
                    manifest.descriptor.media_type
                ),
            )
            .with_help("the tag `sha256-<hex>` is reserved for the list of a digest's referrers (OCI distribution spec, referrers tag schema); remove or rename that tag, or set `copy-signatures: false`"));
        }
        listed(&manifest.bytes, &format!("read `{reference}`"))
    }

    async fn find_attached_async(
        &self,
        source: &ImageName,
        digest: &str,
        target: &ImageName,
    ) -> Result<AttachedFacts> {
        let base = digest_tag(digest);
        let at = |image: &ImageName, tag: &str| Reference {
            image: image.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        };
        let tags: Vec<String> = COSIGN_SUFFIXES
            .iter()
            .map(|(suffix, _)| format!("{base}.{suffix}"))
            .collect();
        let heads: Vec<Reference> = tags
            .iter()
            .flat_map(|t| [at(source, t), at(target, t)])
            .collect();
        let found =
            futures_util::future::join_all(heads.iter().map(|r| self.resolve_async(r))).await;
        let mut found = found.into_iter();
        let mut facts = AttachedFacts::default();
        for (tag, (_, kind)) in tags.iter().zip(COSIGN_SUFFIXES) {
            let here = found.next().unwrap_or(Ok(None))?;
            let there = found.next().unwrap_or(Ok(None))?;
            let Some(here) = here else {
                continue;
            };
            facts.artifacts.push(Attached {
                kind,
                tag: Some(tag.clone()),
                present: there.is_some_and(|d| d.digest == here.digest),
                digest: here.digest,
                media_type: here.media_type,
                size: here.size,
                artifact_type: None,
                annotations: BTreeMap::new(),
            });
        }
        // Both lists, on each side: a registry may answer the API and still hold referrers that a client wrote
        // under the fallback tag (written before it had the API, or by a client that never asks), and some answer
        // the API with an empty list without indexing anything (sigstore/sigstore-js#1187).
        let (source_api, source_fallback) = futures_util::future::join(
            self.referrers_api(source, digest),
            self.fallback_listed(source, digest),
        )
        .await;
        let (target_api, target_fallback) = futures_util::future::join(
            self.referrers_api(target, digest),
            self.fallback_listed(target, digest),
        )
        .await;
        let (source_api, target_api) = (source_api?, target_api?);
        let (source_fallback, target_fallback) = (source_fallback?, target_fallback?);
        facts.source_referrers_api = source_api.is_some();
        facts.target_referrers_api = target_api.is_some();
        let by_api = target_api.unwrap_or_default();
        for (mut referrer, _) in source_api.into_iter().flatten().chain(source_fallback) {
            if facts.artifacts.iter().any(|a| a.digest == referrer.digest) {
                continue;
            }
            let in_api = by_api.iter().any(|(t, _)| t.digest == referrer.digest);
            let in_fallback = target_fallback
                .iter()
                .any(|(t, _)| t.digest == referrer.digest);
            // The fallback index is kept by clients: listed there need not mean present.
            referrer.present =
                in_api || (in_fallback && self.manifest_exists(target, &referrer.digest).await?);
            facts.rebuild_index |= !facts.target_referrers_api && !in_fallback;
            facts.artifacts.push(referrer);
        }
        Ok(facts)
    }

    async fn copy_attached_async(
        &self,
        source: &ImageName,
        target: &ImageName,
        subject: &Manifest,
        facts: &AttachedFacts,
    ) -> Result<CopyStats> {
        let mut stats = CopyStats::default();
        if facts.is_done() {
            return Ok(stats);
        }
        let digest = &subject.descriptor.digest;
        // The image first, by digest and untagged: a referrer names it as its `subject`, and a registry with the
        // referrers API indexes the referrer under it. The version tag comes after, from its own step.
        if !self.manifest_exists(target, digest).await? {
            stats.add(self.copy_image_async(source, target, subject).await?);
            self.put_manifest_async(target, digest, subject).await?;
            stats.manifests_written += 1;
        }
        let mut rebuild = facts.rebuild_index && !facts.target_referrers_api;
        for artifact in facts.artifacts.iter().filter(|a| !a.present) {
            let manifest = self
                .get_manifest_async(&Reference {
                    image: source.clone(),
                    tag: None,
                    digest: Some(artifact.digest.clone()),
                })
                .await?;
            stats.add(self.copy_image_async(source, target, &manifest).await?);
            let locator = artifact.tag.as_deref().unwrap_or(&artifact.digest);
            let indexed = self.put_manifest_answer(target, locator, &manifest).await?;
            // No `OCI-Subject` in the answer: the registry did not index it, and the spec's client rule is then
            // to list it under the fallback tag ("Pushing Manifests with Subject").
            rebuild |= artifact.kind == AttachedKind::Referrer && indexed.is_none();
            stats.manifests_written += 1;
        }
        if rebuild {
            self.rebuild_fallback(target, digest, facts).await?;
            stats.manifests_written += 1;
        }
        self.verify_attached(target, digest, facts).await?;
        Ok(stats)
    }

    /// Writes the fallback tag at `target`: the entries it lists now (read again, not as planned: another
    /// writer may have added one), then every referrer of `facts` it lacks.
    async fn rebuild_fallback(
        &self,
        target: &ImageName,
        digest: &str,
        facts: &AttachedFacts,
    ) -> Result<()> {
        let current = self.fallback_listed(target, digest).await?;
        let mut entries: Vec<serde_json::Value> = current.iter().map(|(_, e)| e.clone()).collect();
        for referrer in facts
            .artifacts
            .iter()
            .filter(|a| a.kind == AttachedKind::Referrer)
        {
            if !current.iter().any(|(c, _)| c.digest == referrer.digest) {
                entries.push(referrer.entry());
            }
        }
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": entries,
        });
        let bytes = Bytes::from(serde_json::to_vec(&index).map_err(|e| {
            Error::new(
                Kind::Upstream,
                format!("can't build the referrers index: {e}"),
            )
        })?);
        let manifest = Manifest {
            descriptor: Descriptor {
                digest: sha256_digest(&bytes),
                media_type: OCI_INDEX.to_string(),
                size: bytes.len() as u64,
            },
            bytes,
        };
        self.put_manifest_async(target, &digest_tag(digest), &manifest)
            .await
    }

    /// Reads back what the copy must have left: each cosign tag on its digest, each referrer present and listed
    /// by the target's referrers (its API, else its fallback tag).
    async fn verify_attached(
        &self,
        target: &ImageName,
        digest: &str,
        facts: &AttachedFacts,
    ) -> Result<()> {
        let conflict = |what: String| {
            Error::new(
                Kind::Conflict,
                format!("after copying the signatures, {what}"),
            )
            .with_help("another process is writing to the target repository; rerun once it is done")
        };
        for artifact in &facts.artifacts {
            let reference = Reference {
                image: target.clone(),
                tag: artifact.tag.clone(),
                digest: artifact.tag.is_none().then(|| artifact.digest.clone()),
            };
            match self.resolve_async(&reference).await? {
                Some(d) if d.digest == artifact.digest => {}
                other => {
                    return Err(conflict(format!(
                        "`{reference}` is {} instead of {}",
                        other
                            .map(|d| d.digest)
                            .unwrap_or_else(|| "missing".to_string()),
                        artifact.digest
                    )));
                }
            }
        }
        let referrers: Vec<&Attached> = facts
            .artifacts
            .iter()
            .filter(|a| a.kind == AttachedKind::Referrer)
            .collect();
        if referrers.is_empty() {
            return Ok(());
        }
        let mut listed = if facts.target_referrers_api {
            self.referrers_api(target, digest)
                .await?
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let all_listed = |listed: &[Listed]| {
            referrers
                .iter()
                .all(|r| listed.iter().any(|(l, _)| l.digest == r.digest))
        };
        if !all_listed(&listed) {
            listed.extend(self.fallback_listed(target, digest).await?);
        }
        for referrer in &referrers {
            if !listed.iter().any(|(l, _)| l.digest == referrer.digest) {
                return Err(conflict(format!(
                    "the referrers of {digest} in `{target}` do not list {}",
                    referrer.digest
                )));
            }
        }
        Ok(())
    }
}
