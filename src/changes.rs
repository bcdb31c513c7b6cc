//! Owns the change list of a release: the Conventional Commits between the previous production release and
//! this one, read from git, grouped by type with breaking changes first, and rendered for a pull request, a
//! GitHub release and a Keep a Changelog file.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::git::GitRepo;
use crate::promotion_rules::trailer;
use crate::version;

/// One commit of a change list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ListedCommit {
    pub sha: String,
    /// The Conventional Commit type (`feat`, `fix`, …), `breaking`, `merge` or `non-conventional`.
    pub kind: String,
    pub subject: String,
}

/// The commits a release ships, when git can tell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Changes {
    /// The previous production release (the tag the overlay held), when known.
    pub previous: Option<String>,
    /// The commits, or why they are not listed.
    pub commits: std::result::Result<Vec<ListedCommit>, String>,
}

/// A type's heading and its place (breaking changes first).
fn heading(kind: &str) -> (usize, &'static str) {
    match kind {
        "breaking" => (0, "Breaking changes"),
        "feat" => (1, "Features"),
        "fix" => (2, "Bug fixes"),
        "perf" => (3, "Performance"),
        "refactor" => (4, "Refactoring"),
        "docs" => (5, "Documentation"),
        _ => (9, "Other changes"),
    }
}

/// Keep a Changelog's section for a type.
fn changelog_section(kind: &str) -> (usize, &'static str) {
    match kind {
        "breaking" => (0, "Changed"),
        "feat" => (1, "Added"),
        "fix" => (2, "Fixed"),
        _ => (3, "Changed"),
    }
}

/// The commits from `from` (exclusive; `None`: the whole history) to the first of `to_tags` the checkout has.
pub fn list(git: Option<&GitRepo>, previous: Option<&str>, to_tags: &[&str]) -> Changes {
    let previous = previous.map(str::to_string);
    let Some(git) = git else {
        return Changes {
            previous,
            commits: Err("no git checkout to read history from".into()),
        };
    };
    let Some(to) = to_tags.iter().find_map(|t| git.tag_commit(t)) else {
        return Changes {
            previous,
            commits: Err(format!(
                "no git tag `{}` in the checkout (fetch tags with `fetch-depth: 0`)",
                to_tags.join("` or `")
            )),
        };
    };
    list_to(git, previous, &to)
}

/// Whether gitops-promote made the commit: it carries one of the project's trailers (promotion, rollback,
/// changelog), or the record its pull request's description ends with (a squash merge's message). Titles are
/// never the test: people edit them, and an application's own commit may say "promote".
///
/// ```
/// use gitops_promote::changes::made_by_gitops_promote;
/// assert!(made_by_gitops_promote("chore(release): promote backend v1.2.3 to production\n\nGitops-Promote-Digest: sha256:ab\n"));
/// assert!(made_by_gitops_promote("Promote backend v1.2.3 (#42)\n\n…\n<!-- gitops-promote: {\"digest\":\"sha256:ab\"} -->\n"));
/// assert!(!made_by_gitops_promote("feat: promote users to admins\n\nGitops-Promote-Image is documented in the README\n"));
/// ```
pub fn made_by_gitops_promote(message: &str) -> bool {
    message.contains(trailer::RECORD)
        || message.lines().any(|line| {
            line.trim_start().split_once(':').is_some_and(|(key, _)| {
                key.starts_with(trailer::PREFIX) && !key.contains(char::is_whitespace)
            })
        })
}

/// The commits from the previous release's tag (when the checkout has it) to the commit `to`, without the
/// ones gitops-promote made (promotions, rollbacks, changelog commits, and merges of its pull requests): the
/// notes of a release list the application's own changes.
pub fn list_to(git: &GitRepo, previous: Option<String>, to: &str) -> Changes {
    let from = previous.as_deref().and_then(|p| git.tag_commit(p));
    let commits = git.commits_between(from.as_deref(), to).map(|list| {
        let ours: std::collections::HashSet<String> = list
            .iter()
            .filter(|(_, message)| made_by_gitops_promote(message))
            .map(|(sha, _)| sha.clone())
            .collect();
        // A merge commit ("Merge pull request #42 from org/promote-v1.2.3") carries GitHub's title, not the
        // trailers: it is ours when everything it merged in is.
        let merged_ours = |sha: &str| {
            git.parents(sha).is_ok_and(|parents| {
                parents.len() > 1 && parents[1..].iter().all(|p| ours.contains(p))
            })
        };
        list.into_iter()
            .filter(|(sha, _)| !ours.contains(sha) && !merged_ours(sha))
            .map(|(sha, message)| {
                let (kind, _) = version::classify(&version::CommitInfo::new(message.clone()));
                ListedCommit {
                    sha,
                    kind,
                    subject: message.lines().next().unwrap_or_default().to_string(),
                }
            })
            .collect()
    });
    Changes {
        previous,
        commits: commits.map_err(|e| e.message),
    }
}

impl Changes {
    fn grouped(
        &self,
        section: fn(&str) -> (usize, &'static str),
    ) -> Option<BTreeMap<usize, (&'static str, Vec<&ListedCommit>)>> {
        let commits = self.commits.as_ref().ok()?;
        let mut groups: BTreeMap<usize, (&'static str, Vec<&ListedCommit>)> = BTreeMap::new();
        for c in commits {
            let (rank, title) = section(&c.kind);
            groups.entry(rank).or_insert((title, Vec::new())).1.push(c);
        }
        Some(groups)
    }

    /// `### Commits since v1.2.2` and the groups, for a pull request or release body.
    pub fn to_markdown(&self) -> String {
        let since = match &self.previous {
            Some(p) => format!("since `{p}`"),
            None => "in this release".to_string(),
        };
        let mut md = format!("### Commits {since}\n\n");
        match (&self.commits, self.grouped(heading)) {
            (Err(why), _) => md.push_str(&format!("_Not listed: {why}._\n")),
            (Ok(commits), _) if commits.is_empty() => md.push_str("_None._\n"),
            (_, Some(groups)) => {
                for (_, (title, list)) in groups {
                    md.push_str(&format!("**{title}**\n"));
                    for c in list {
                        md.push_str(&format!("- {} `{}`\n", c.subject, short(&c.sha)));
                    }
                    md.push('\n');
                }
            }
            (Ok(_), None) => {}
        }
        md
    }

    /// The entry Keep a Changelog wants for `version` released on `date` (`YYYY-MM-DD`).
    pub fn to_changelog_entry(&self, version: &str, date: &str) -> String {
        let mut md = format!("## [{version}] - {date}\n\n");
        if let Some(groups) = self.grouped(changelog_section) {
            // Two types share "Changed": merge them under one heading, breaking changes first.
            let mut sections: Vec<(&str, Vec<String>)> = Vec::new();
            for (rank, (title, list)) in groups {
                let lines = list.iter().map(|c| {
                    let breaking = if rank == 0 { "**Breaking:** " } else { "" };
                    format!("- {breaking}{} ({})", c.subject, short(&c.sha))
                });
                match sections.iter_mut().find(|(t, _)| *t == title) {
                    Some((_, existing)) => existing.extend(lines),
                    None => sections.push((title, lines.collect())),
                }
            }
            for (title, lines) in sections {
                md.push_str(&format!("### {title}\n\n{}\n\n", lines.join("\n")));
            }
        }
        md
    }
}

/// The changelog with `entry` (for `version`) above its newest entry, or `None` when it already has one for
/// `version`. A missing file (`None`) starts with Keep a Changelog's heading.
///
/// ```
/// use gitops_promote::changes::prepend_entry;
/// let log = "# Changelog\n\n## [v1.0.0] - 2026-01-01\n\n- first\n";
/// let next = prepend_entry(Some(log), "v1.1.0", "## [v1.1.0] - 2026-02-01\n\n- second\n").unwrap();
/// assert!(next.starts_with("# Changelog\n\n## [v1.1.0]") && next.ends_with("- first\n"));
/// assert!(prepend_entry(Some(&next), "v1.1.0", "whatever").is_none());
/// assert!(prepend_entry(None, "v1.0.0", "## [v1.0.0] - 2026-01-01\n").unwrap().starts_with("# Changelog"));
/// ```
pub fn prepend_entry(existing: Option<&str>, version: &str, entry: &str) -> Option<String> {
    let marker = format!("## [{version}]");
    let existing = existing.unwrap_or(
        "# Changelog\n\nAll notable changes to this project are documented in this file (Keep a Changelog).\n\n",
    );
    if existing.lines().any(|l| l.starts_with(&marker)) {
        return None;
    }
    let entry = format!("{}\n\n", entry.trim_end());
    // Above the newest entry (`## [`), after the heading and any `## [Unreleased]` section's title line.
    let at = existing
        .match_indices("\n## [")
        .map(|(i, _)| i + 1)
        .find(|i| !existing[*i..].starts_with("## [Unreleased]"))
        .or_else(|| existing.starts_with("## [").then_some(0));
    Some(match at {
        Some(i) => format!("{}{entry}{}", &existing[..i], &existing[i..]),
        None => {
            let sep = if existing.ends_with("\n\n") || existing.is_empty() {
                ""
            } else if existing.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            format!("{existing}{sep}{entry}").trim_end().to_string() + "\n"
        }
    })
}

fn short(sha: &str) -> &str {
    sha.get(..7).unwrap_or(sha)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(sha: &str, kind: &str, subject: &str) -> ListedCommit {
        ListedCommit {
            sha: sha.repeat(40),
            kind: kind.into(),
            subject: subject.into(),
        }
    }

    fn changes() -> Changes {
        Changes {
            previous: Some("v1.2.2".into()),
            commits: Ok(vec![
                commit("a", "fix", "fix: validate the quantity"),
                commit("b", "chore", "chore: bump deps"),
                commit("c", "breaking", "feat!: drop the v1 API"),
                commit("d", "feat", "feat(api): add the orders endpoint"),
            ]),
        }
    }

    #[test]
    fn breaking_changes_come_first_then_features_then_fixes() {
        let md = changes().to_markdown();
        let order: Vec<usize> = ["Breaking changes", "Features", "Bug fixes", "Other changes"]
            .iter()
            .map(|h| md.find(h).expect("heading"))
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{md}");
        assert!(md.starts_with("### Commits since `v1.2.2`"));
    }

    #[test]
    fn keep_a_changelog_sections() {
        let entry = changes().to_changelog_entry("v1.2.3", "2026-12-01");
        insta::assert_snapshot!(entry, @r"
        ## [v1.2.3] - 2026-12-01

        ### Changed

        - **Breaking:** feat!: drop the v1 API (ccccccc)
        - chore: bump deps (bbbbbbb)

        ### Added

        - feat(api): add the orders endpoint (ddddddd)

        ### Fixed

        - fix: validate the quantity (aaaaaaa)
        ");
    }
}
