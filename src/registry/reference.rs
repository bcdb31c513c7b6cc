//! Owns image references with a tag or digest (`ghcr.io/org/app:v1`, `…@sha256:…`): parsing with the
//! distribution grammar, so a typo is an input error before any request, and how a reference prints.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;

use crate::error::InputProblem;
use crate::image::ImageName;

#[allow(clippy::unwrap_used)] // literal patterns
static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$").unwrap());
#[allow(clippy::unwrap_used)]
static DIGEST: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$").unwrap());

/// Whether `s` is a valid tag (`[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`).
pub fn is_tag(s: &str) -> bool {
    TAG.is_match(s)
}

/// Whether `s` looks like `algorithm:hex`.
pub fn is_digest(s: &str) -> bool {
    DIGEST.is_match(s)
}

/// An image repository with a tag, a digest, or both (`name:tag@digest`; the digest wins when reading).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub image: ImageName,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

impl Reference {
    /// Parses `NAME[:TAG][@DIGEST]`; one of tag or digest is required. The problem names input `reference`:
    /// callers put their own input name on it.
    ///
    /// ```
    /// use gitops_promote::registry::Reference;
    /// let r = Reference::parse("127.0.0.1:5000/app:v1").unwrap();
    /// assert_eq!((r.image.registry.as_str(), r.tag.as_deref()), ("127.0.0.1:5000", Some("v1")));
    /// assert!(Reference::parse("ghcr.io/org/app").is_err());
    /// assert!(Reference::parse("ghcr.io/org/app:bad tag").is_err());
    /// ```
    pub fn parse(value: &str) -> Result<Self, InputProblem> {
        let value = value.trim();
        let problem = |m: String| {
            InputProblem::new("reference", m).help(
                "use REGISTRY/PATH:TAG or REGISTRY/PATH@sha256:…, e.g. `ghcr.io/org/app:v1.2.0`",
            )
        };
        let (rest, digest) = match value.split_once('@') {
            Some((rest, digest)) => {
                if !is_digest(digest) {
                    return Err(problem(format!("`{digest}` in `{value}` is not a digest")));
                }
                (rest, Some(digest.to_string()))
            }
            None => (value, None),
        };
        let last_slash = rest.rfind('/').map(|i| i + 1).unwrap_or(0);
        let (name, tag) = match rest[last_slash..].find(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                if !is_tag(tag) {
                    return Err(problem(format!("`{tag}` in `{value}` is not a valid tag")));
                }
                (&rest[..last_slash + i], Some(tag.to_string()))
            }
            None => (rest, None),
        };
        if tag.is_none() && digest.is_none() {
            return Err(problem(format!("`{value}` has neither a tag nor a digest")));
        }
        let image = ImageName::parse(name).map_err(|p| problem(p.message))?;
        Ok(Self { image, tag, digest })
    }

    /// The reference a registry URL takes: the digest if there is one, else the tag.
    pub fn locator(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Self {
        Self {
            image: self.image.clone(),
            tag: Some(tag.to_string()),
            digest: None,
        }
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.image)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_parse_like_distribution() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = Reference::parse(&format!("localhost:5000/a/b:v1@{d}")).expect("ref");
        assert_eq!(r.image.repository, "a/b");
        assert_eq!(r.locator(), d);
        assert_eq!(r.to_string(), format!("localhost:5000/a/b:v1@{d}"));
        let r = Reference::parse("nginx:1.27").expect("ref");
        assert_eq!(
            (r.image.registry.as_str(), r.image.repository.as_str()),
            ("docker.io", "library/nginx")
        );
        for bad in ["app", "app@sha256:xyz", "APP:v1", "app:-x", "app:v1:v2"] {
            assert!(Reference::parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
