//! Reading an image's build commit (`org.opencontainers.image.revision`) where builders put it: the manifest's
//! annotation, else the image config's labels (where `docker/build-push-action`'s `labels:` land), and for an
//! index its platform images (the attestation manifests buildx adds are not platforms and are skipped).

use super::*;

/// A config blob larger than this is not an image config (they are a few KiB): it is not read.
const MAX_CONFIG: u64 = 4 * 1024 * 1024;

/// The annotation buildx marks its attestation manifests with (their platform is `unknown/unknown`).
pub const REFERENCE_TYPE: &str = "vnd.docker.reference.type";
pub const ATTESTATION: &str = "attestation-manifest";

/// What an image says about the commit it was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revision {
    /// Every place that names one names this commit.
    Known(String),
    /// Nothing names one.
    Unknown,
    /// The platform images disagree: each platform (`linux/amd64`) and what it names (`None`: nothing).
    Disagree(Vec<(String, Option<String>)>),
    /// It could not be read (the registry's error, for the warning).
    Unreadable(String),
}

/// An index entry: whether it is a platform image, and its platform's name.
pub fn platform_of(entry: &serde_json::Value) -> Option<String> {
    let annotations = entry.get("annotations");
    if annotations
        .and_then(|a| a.get(REFERENCE_TYPE))
        .and_then(|t| t.as_str())
        == Some(ATTESTATION)
    {
        return None;
    }
    let platform = entry.get("platform");
    let field = |k: &str| {
        platform
            .and_then(|p| p.get(k))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_string()
    };
    let (os, arch) = (field("os"), field("architecture"));
    if os == "unknown" || arch == "unknown" {
        return None;
    }
    let variant = field("variant");
    Some(
        match (os.is_empty() && arch.is_empty(), variant.is_empty()) {
            (true, _) => "(no platform)".to_string(),
            (false, true) => format!("{os}/{arch}"),
            (false, false) => format!("{os}/{arch}/{variant}"),
        },
    )
}

/// The platforms' answers, reduced to one: all the same → that commit; none → unknown; else a disagreement.
pub fn agree(answers: Vec<(String, Option<String>)>) -> Revision {
    let mut named: Vec<&String> = answers.iter().filter_map(|(_, r)| r.as_ref()).collect();
    named.dedup();
    match (named.as_slice(), answers.iter().all(|(_, r)| r.is_some())) {
        ([], _) => Revision::Unknown,
        ([one], true) => Revision::Known((*one).clone()),
        _ => Revision::Disagree(answers),
    }
}

impl Client {
    /// `GET …/blobs/{digest}` of a small blob (an image config), checked against its digest.
    pub fn config_blob(&self, image: &ImageName, digest: &str) -> Result<Bytes> {
        self.rt.block_on(async {
            let what = format!("read config blob {digest} of `{image}`");
            let url = self.url(image, &format!("blobs/{digest}")).await;
            let resp = self
                .send(&what, Some(&image.registry), SHORT, &|| {
                    self.http_for(&url).get(&url)
                })
                .await?;
            if !resp.status().is_success() {
                return Err(self.failure(&what, resp).await);
            }
            if resp.content_length().is_some_and(|n| n > MAX_CONFIG) {
                return Err(Error::new(
                    Kind::Upstream,
                    format!("can't {what}: larger than {MAX_CONFIG} bytes"),
                ));
            }
            let bytes = resp
                .bytes()
                .await
                .map_err(|e| Error::new(Kind::Upstream, format!("can't {what}: {}", chain(&e))))?;
            let actual = sha256_digest(&bytes);
            if digest.starts_with("sha256:") && actual != digest {
                return Err(Error::new(
                    Kind::Upstream,
                    format!("can't {what}: the registry sent bytes with digest {actual}"),
                ));
            }
            Ok(bytes)
        })
    }

    /// The commit `image@digest` was built from, read from the annotation `key`, else its config's label `key`;
    /// for an index, from each platform image (the index's own annotation first).
    pub fn revision(&self, image: &ImageName, digest: &str, key: &str) -> Revision {
        let read = |digest: &str| -> Result<Manifest> {
            match self.cached_manifest(digest) {
                Some(m) => Ok(m),
                None => self.get_manifest(&Reference {
                    image: image.clone(),
                    tag: None,
                    digest: Some(digest.to_string()),
                }),
            }
        };
        let of_image = |manifest: &Manifest| -> Result<Option<String>> {
            if let Some(r) = manifest.annotation(key) {
                return Ok(Some(r));
            }
            let v: serde_json::Value = serde_json::from_slice(&manifest.bytes).unwrap_or_default();
            let Some(config) = v.pointer("/config/digest").and_then(|d| d.as_str()) else {
                return Ok(None);
            };
            let bytes = self.config_blob(image, config)?;
            let config: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
            Ok(config
                .pointer("/config/Labels")
                .and_then(|l| l.get(key))
                .and_then(|r| r.as_str())
                .map(str::to_string))
        };
        let top = match read(digest) {
            Ok(m) => m,
            Err(e) => return Revision::Unreadable(e.message),
        };
        if !top.is_index() {
            return match of_image(&top) {
                Ok(Some(r)) => Revision::Known(r),
                Ok(None) => Revision::Unknown,
                Err(e) => Revision::Unreadable(e.message),
            };
        }
        if let Some(r) = top.annotation(key) {
            return Revision::Known(r);
        }
        let v: serde_json::Value = serde_json::from_slice(&top.bytes).unwrap_or_default();
        let entries = v
            .get("manifests")
            .and_then(|m| m.as_array())
            .cloned()
            .unwrap_or_default();
        let mut answers = Vec::new();
        for entry in &entries {
            let (Some(platform), Some(child)) = (
                platform_of(entry),
                entry.get("digest").and_then(|d| d.as_str()),
            ) else {
                continue;
            };
            match read(child).and_then(|m| of_image(&m)) {
                Ok(r) => answers.push((platform, r)),
                Err(e) => return Revision::Unreadable(e.message),
            }
        }
        agree(answers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn attestation_manifests_are_not_platforms() {
        let attestation = json!({
            "digest": "sha256:a", "platform": {"os": "unknown", "architecture": "unknown"},
            "annotations": {REFERENCE_TYPE: ATTESTATION, "vnd.docker.reference.digest": "sha256:b"},
        });
        assert_eq!(platform_of(&attestation), None);
        let arm = json!({"digest": "sha256:b", "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}});
        assert_eq!(platform_of(&arm).as_deref(), Some("linux/arm64/v8"));
    }

    #[test]
    fn platforms_must_agree_on_the_commit() {
        let p = |name: &str, r: Option<&str>| (name.to_string(), r.map(str::to_string));
        assert_eq!(
            agree(vec![
                p("linux/amd64", Some("abc")),
                p("linux/arm64", Some("abc"))
            ]),
            Revision::Known("abc".into())
        );
        assert_eq!(
            agree(vec![p("linux/amd64", None), p("linux/arm64", None)]),
            Revision::Unknown
        );
        assert_eq!(agree(vec![]), Revision::Unknown);
        let split = vec![p("linux/amd64", Some("abc")), p("linux/arm64", Some("def"))];
        assert_eq!(agree(split.clone()), Revision::Disagree(split));
        let partial = vec![p("linux/amd64", Some("abc")), p("linux/arm64", None)];
        assert_eq!(agree(partial.clone()), Revision::Disagree(partial));
    }
}
