//! Owns "the tags an image has now" for `select`, `lint`, `plan` and the build modes' flux check: listed from the
//! registry with the run's credentials (anonymous when there are none), each repository once per run (several
//! concurrently), and where the list came from, so a report can say which tags a verdict rests on.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Read;
use std::time::Duration;

use crate::actions::Console;
use crate::error::{Error, InputProblem, Kind, Result};
use crate::image::ImageName;
use crate::registry::{self, Client};

/// How many repositories' tags are listed at once: enough to hide a remote registry's latency behind each
/// other (300 repositories at 100 ms each: 4 s instead of 30 s), few enough to stay clear of its rate limits.
pub const LIST_CONCURRENCY: usize = 8;

/// Each image's tags in listing order, or why they could not be read.
pub type TagLists = BTreeMap<String, std::result::Result<Vec<String>, Error>>;

/// The tags of every image named (an image named twice is listed once), [`LIST_CONCURRENCY`] repositories at a
/// time. Tokens obtained are masked; retry lines and a line per image are logged on a runner only.
pub fn list_each(client: &Client, images: &[String], console: &mut Console) -> TagLists {
    let unique: BTreeSet<&String> = images.iter().filter(|i| !i.is_empty()).collect();
    let mut out = TagLists::new();
    let mut names = Vec::new();
    for image in unique {
        match ImageName::parse(image) {
            Ok(name) => {
                // Declared together: one token per registry covers every repository.
                client.declare(&name, false);
                names.push((image.clone(), name));
            }
            Err(p) => {
                out.insert(image.clone(), Err(Error::input(p)));
            }
        }
    }
    if names.is_empty() {
        return out;
    }
    console.group_on_runner(&format!("List the tags of {} image(s)", names.len()));
    let only_names: Vec<ImageName> = names.iter().map(|(_, n)| n.clone()).collect();
    let listed = client.list_tags_each(&only_names, LIST_CONCURRENCY);
    for secret in client.take_secrets() {
        console.mask(&secret);
    }
    for line in client.take_progress() {
        if console.in_actions() {
            console.info(&line);
        }
    }
    for ((image, _), tags) in names.into_iter().zip(listed) {
        if console.in_actions() {
            match &tags {
                Ok(t) => console.info(&format!("`{image}` has {} tag(s)", t.len())),
                Err(e) => console.info(&format!("can't list the tags of `{image}`: {}", e.message)),
            }
        }
        out.insert(image, tags);
    }
    console.end_group();
    out
}

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
/// use gitops_promote::tag_lister::parse_image;
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
    /// What was listed, by repository: a run asks the registry once per repository.
    listed: RefCell<HashMap<String, Vec<String>>>,
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
            listed: RefCell::default(),
        })
    }

    /// Every tag of `image`, in the registry's listing order. A repository the registry does not know has none.
    /// Tokens obtained are masked; retry lines are logged on a runner only (a terminal's stdout is data).
    pub fn list(&self, image: &ImageName, console: &mut Console) -> Result<Vec<String>> {
        if let Some(tags) = self.listed.borrow().get(&image.to_string()) {
            return Ok(tags.clone());
        }
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
        if let Ok(tags) = &tags {
            self.listed
                .borrow_mut()
                .insert(image.to_string(), tags.clone());
        }
        tags
    }

    /// [`list_each`] with this reader's client; what it lists is remembered like [`TagReader::list`]'s.
    pub fn list_each(&self, images: &[String], console: &mut Console) -> TagLists {
        let mut out = TagLists::new();
        let mut missing = Vec::new();
        for image in images {
            match self.listed.borrow().get(image) {
                Some(tags) => {
                    out.insert(image.clone(), Ok(tags.clone()));
                }
                None => missing.push(image.clone()),
            }
        }
        for (image, tags) in list_each(&self.client, &missing, console) {
            if let Ok(tags) = &tags {
                self.listed.borrow_mut().insert(image.clone(), tags.clone());
            }
            out.insert(image, tags);
        }
        out
    }

    /// HTTP requests sent so far.
    pub fn requests(&self) -> u64 {
        self.client.requests()
    }
}

/// Tags, one per line; blank lines and surrounding whitespace are ignored.
pub fn parse_tags(text: &str) -> Vec<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Reads a file, or standard input for `-`.
pub fn read_source(path: &str, base: &std::path::Path) -> Result<String> {
    if path == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| Error::new(Kind::Io, format!("can't read standard input: {e}")))?;
        return Ok(s);
    }
    let p = std::path::Path::new(path);
    let full = if p.is_absolute() {
        p.to_path_buf()
    } else {
        base.join(p)
    };
    std::fs::read_to_string(&full)
        .map_err(|e| Error::new(Kind::Io, format!("can't read `{}`: {e}", full.display())))
}
