//! Owns image names: the repository part of a reference (`ghcr.io/org/app`), checked against the
//! distribution reference grammar so a typo fails as an input error instead of as a registry 404.

use std::fmt;
use std::sync::LazyLock;

use regex::Regex;
use serde::Serialize;

use crate::error::InputProblem;

// distribution/reference: domain (with optional port), then lower-case path components.
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(clippy::unwrap_used)] // a literal pattern
    Regex::new(
        r"^(?:(?P<domain>(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?|\[[0-9a-fA-F:]+\](?::[0-9]+)?)/)?(?P<path>[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*)$",
    )
    .unwrap()
});

/// An image repository without tag or digest, e.g. `ghcr.io/org/app` or `127.0.0.1:5000/app`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub struct ImageName {
    /// Registry host (`ghcr.io`, `127.0.0.1:5000`); `docker.io` when the name has none.
    pub registry: String,
    /// Repository path inside the registry (`org/app`).
    pub repository: String,
    original: String,
}

impl From<ImageName> for String {
    fn from(i: ImageName) -> String {
        i.original
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.original)
    }
}

impl ImageName {
    /// Parses a repository name; a tag or digest is refused because the program computes the tag.
    ///
    /// ```
    /// use gitops_promote::image::ImageName;
    /// let i = ImageName::parse("ghcr.io/org/app").unwrap();
    /// assert_eq!((i.registry.as_str(), i.repository.as_str()), ("ghcr.io", "org/app"));
    /// assert_eq!(ImageName::parse("127.0.0.1:5000/app").unwrap().registry, "127.0.0.1:5000");
    /// assert_eq!(ImageName::parse("nginx").unwrap().repository, "library/nginx");
    /// assert!(ImageName::parse("ghcr.io/org/app:v1").is_err());
    /// assert!(ImageName::parse("ghcr.io/Org/App").is_err());
    /// ```
    pub fn parse(value: &str) -> Result<Self, InputProblem> {
        let value = value.trim();
        if value.contains('@')
            || value
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':'))
        {
            return Err(
                InputProblem::new("image", format!("`{value}` carries a tag or digest"))
                    .help("give the repository only, e.g. `ghcr.io/org/app`: the tag is computed"),
            );
        }
        let caps = NAME.captures(value).ok_or_else(|| {
            InputProblem::new("image", format!("`{value}` is not a valid image name"))
                .help("use REGISTRY/PATH in lower case, e.g. `ghcr.io/org/app`")
        })?;
        let path = caps.name("path").map(|m| m.as_str()).unwrap_or_default();
        let invalid = || {
            InputProblem::new("image", format!("`{value}` is not a valid image name"))
                .help("use REGISTRY/PATH in lower case, e.g. `ghcr.io/org/app`")
        };
        let (registry, repository) = match caps.name("domain").map(|m| m.as_str()) {
            // Docker's rule: the first component is a registry only if it looks like a host.
            Some(d)
                if d.contains('.') || d.contains(':') || d == "localhost" || d.starts_with('[') =>
            {
                (d.to_string(), path.to_string())
            }
            Some(d) if d.chars().any(|c| c.is_ascii_uppercase()) => return Err(invalid()),
            Some(d) => ("docker.io".to_string(), format!("{d}/{path}")),
            None if !path.contains('/') => ("docker.io".to_string(), format!("library/{path}")),
            None => ("docker.io".to_string(), path.to_string()),
        };
        Ok(Self {
            registry,
            repository,
            original: value.to_string(),
        })
    }

    /// `IMAGE:TAG`.
    pub fn with_tag(&self, tag: &str) -> String {
        format!("{}:{tag}", self.original)
    }
}
