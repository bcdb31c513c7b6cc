//! Owns "the tags an image has now" for `select`, `lint` and the build modes' flux check: listed from the
//! registry with the run's credentials (anonymous when there are none), and where the list came from, so a
//! report can say which tags a verdict rests on.

use std::time::Duration;

use crate::actions::Console;
use crate::error::{InputProblem, Result};
use crate::image::ImageName;
use crate::registry::{self, Client};

/// Where a list of current tags came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TagSource {
    /// The registry's tag list of this image.
    Registry(String),
    /// A file given as `tags-file` (`-` for standard input).
    File(String),
    /// The repository's git tags, because the registry could not be read (the reason).
    Git(String),
}

impl TagSource {
    /// A phrase for findings and summaries: "the registry's tags of `ghcr.io/org/app`".
    pub fn describe(&self) -> String {
        match self {
            TagSource::Registry(image) => format!("the registry's tags of `{image}`"),
            TagSource::File(f) if f == "-" => "the tags read from standard input".to_string(),
            TagSource::File(f) => format!("the tags in `{f}`"),
            TagSource::Git(_) => {
                "the repository's git tags (the registry could not be read)".to_string()
            }
        }
    }

    /// The short name in JSON outputs: `registry`, `tags-file` or `git`.
    pub fn kind(&self) -> &'static str {
        match self {
            TagSource::Registry(_) => "registry",
            TagSource::File(_) => "tags-file",
            TagSource::Git(_) => "git",
        }
    }
}

/// An image name as `select --image` takes it: a repository, optionally written as a provider's `oci://` URL.
///
/// ```
/// use gitops_promote::modes::tags::parse_image;
/// assert_eq!(parse_image("oci://ghcr.io/org/app").unwrap().to_string(), "ghcr.io/org/app");
/// assert!(parse_image("ghcr.io/org/app:v1").is_err());
/// ```
pub fn parse_image(value: &str) -> std::result::Result<ImageName, InputProblem> {
    ImageName::parse(value.trim().trim_start_matches("oci://")).map_err(|p| {
        p.help("give the image repository, e.g. `ghcr.io/org/app`: its tags are listed")
    })
}

/// Lists tags for a run. A strict reader (`select --image`) fails like any registry read; a best-effort one
/// (lint, the flux check) tries less hard, because its caller has something to fall back to.
pub struct TagReader {
    client: Client,
}

impl TagReader {
    pub fn new(settings: registry::Settings, best_effort: bool) -> Result<Self> {
        let settings = if best_effort {
            registry::Settings {
                max_attempts: settings.max_attempts.min(3),
                timeout: settings.timeout.min(Duration::from_secs(60)),
                request_timeout: settings.request_timeout.min(Duration::from_secs(20)),
                ..settings
            }
        } else {
            settings
        };
        Ok(Self {
            client: Client::new(settings)?,
        })
    }

    /// Every tag of `image`, in the registry's listing order. A repository the registry does not know has none.
    /// Tokens obtained are masked; retry lines are logged on a runner only (a terminal's stdout is data).
    pub fn list(&self, image: &ImageName, console: &mut Console) -> Result<Vec<String>> {
        self.client.declare(image, false);
        let tags = self.client.list_tags(image);
        for secret in self.client.take_secrets() {
            console.mask(&secret);
        }
        for line in self.client.take_progress() {
            if console.in_actions() {
                console.info(&line);
            }
        }
        if console.in_actions() {
            match &tags {
                Ok(tags) => console.info(&format!("`{image}` has {} tag(s)", tags.len())),
                Err(e) => console.info(&format!("can't list the tags of `{image}`: {}", e.message)),
            }
        }
        tags
    }

    /// HTTP requests sent so far.
    pub fn requests(&self) -> u64 {
        self.client.requests()
    }
}
