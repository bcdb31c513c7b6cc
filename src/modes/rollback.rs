//! Owns the `rollback` mode: production back to an earlier production release, on purpose. Inputs → facts (the
//! production overlay at the base branch's tip, the tags it held before from the checkout's history, the
//! target's digest in the registry, the rollback branch and its open pull request) → plan (with `immediate`,
//! move the moving tag now; commit the overlay pinned to the target's digest; open or update the pull request —
//! or, with `pull-request: false`, commit to the base branch and move the moving tag) → apply → report.
//!
//! Merged, the push lowers the version, so `release` moves the moving tag back and publishes nothing.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::json;

use crate::actions::Console;
use crate::apply::{self, Effects};
use crate::changes::{self, Changes};
use crate::env::GithubContext;
use crate::error::{Error, InputProblem, Kind, Result};
use crate::git::GitRepo;
use crate::image::ImageName;
use crate::inputs::{Invocation, Mode};
use crate::manifests;
use crate::plan::{Plan, Step};
use crate::promotion_rules::{self, trailer};
use crate::proposal::{
    self, Host, OverlayChange, ProposalInputs, Requests, edit_request, non_empty, operation_of,
    read_overlay, reference, word,
};
use crate::registry::{self, Client};
use crate::registry_settings::{mask_login, read_registry_settings};
use crate::report::{Report, markdown_table, text_table};
use crate::retag_plan::{Rules, drain, gather, plan_steps};
use crate::template::is_valid_oci_tag;

/// Placeholders of the `branch` template.
pub const BRANCH_PLACEHOLDERS: &[&str] = &["app", "environment", "from-tag", "to-tag"];

/// The `branch` of a rollback when the input is empty.
pub const DEFAULT_BRANCH: &str = "rollback-{to-tag}";

/// The `labels` of a rollback's pull request when the input is empty.
pub const DEFAULT_LABELS: &str = "rollback";

/// Typed inputs of `rollback`.
#[derive(Debug, Clone)]
pub struct RollbackSettings {
    pub image: ImageName,
    pub to: Option<String>,
    pub moving_tag: String,
    pub immediate: bool,
    pub app: String,
    pub environment: String,
    pub manifest: String,
    pub proposal: ProposalInputs,
    pub dry_run: bool,
    pub registry: registry::Settings,
}

impl RollbackSettings {
    /// Phase two of input parsing: every problem at once, before any request.
    pub fn read(invocation: &Invocation, github: &GithubContext) -> Result<Self> {
        let mut r = invocation.reader();
        let image_raw = r.required(
            "image",
            "set `image` to the image to roll back, e.g. `ghcr.io/org/app`",
        );
        let image = if image_raw.is_empty() {
            None
        } else {
            r.parse("image", ImageName::parse)
        };
        let tag = |r: &mut crate::inputs::Reader<'_>, input: &str| {
            r.parse(input, |v| {
                if is_valid_oci_tag(v) {
                    Ok(v.to_string())
                } else {
                    Err(
                        InputProblem::new(input, format!("`{v}` is not a valid OCI tag"))
                            .help("a tag is `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`, e.g. `v1.2.3`"),
                    )
                }
            })
        };
        let to = tag(&mut r, "to");
        let moving_tag = tag(&mut r, "moving-tag").unwrap_or_default();
        if let Some(t) = &to
            && *t == moving_tag
        {
            r.problem(
                InputProblem::new("to", format!("`{t}` is the moving tag, not a release"))
                    .help("give the release to go back to, e.g. `v1.2.3`"),
            );
        }
        let immediate = r.bool("immediate");
        if immediate && !promotion_rules::moves(&moving_tag) {
            r.problem(
                InputProblem::new(
                    "immediate",
                    "`true`, but `moving-tag: none`: there is no moving tag to move now",
                )
                .help("roll back through the pull request (`immediate: false`): merging deploys the overlay, or `pull-request: false` commits it now"),
            );
        }
        let (app, environment, manifest) = read_overlay(&mut r, image.as_ref());
        let proposal = ProposalInputs::read(
            &mut r,
            github,
            BRANCH_PLACEHOLDERS,
            DEFAULT_BRANCH,
            DEFAULT_LABELS,
        );
        let dry_run = r.bool("dry-run");
        let registry = read_registry_settings(&mut r, github);
        r.finish()?;
        Ok(Self {
            image: image.ok_or_else(|| Error::new(Kind::Input, "input `image` is missing"))?,
            to,
            moving_tag,
            immediate,
            app,
            environment,
            manifest,
            proposal,
            dry_run,
            registry,
        })
    }
}

fn version(tag: &str) -> Option<semver::Version> {
    semver::Version::parse(tag.strip_prefix('v').unwrap_or(tag)).ok()
}

/// The release to roll back to: `wanted`, or the newest of `history` (the tags the overlay held, newest first)
/// that is lower than `current`. Anything that is not an earlier production release is refused. Pure.
///
/// ```
/// use gitops_promote::modes::rollback::rollback_target;
/// let history = ["v1.3.0", "v1.2.0", "v1.1.0"].map(String::from);
/// assert_eq!(rollback_target("v1.3.0", &history, None).unwrap(), "v1.2.0");
/// assert_eq!(rollback_target("v1.3.0", &history, Some("v1.1.0")).unwrap(), "v1.1.0");
/// assert!(rollback_target("v1.3.0", &history, Some("v1.2.5")).is_err(), "never in production");
/// assert!(rollback_target("v1.1.0", &history, None).is_err(), "nothing earlier");
/// ```
pub fn rollback_target(current: &str, history: &[String], wanted: Option<&str>) -> Result<String> {
    let now = version(current);
    let earlier: Vec<&String> = history
        .iter()
        .filter(|t| *t != current)
        .filter(|t| match (version(t), &now) {
            (Some(v), Some(now)) => v < *now,
            _ => false,
        })
        .collect();
    let list = || {
        if earlier.is_empty() {
            "none".to_string()
        } else {
            earlier
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    match wanted {
        Some(w) if earlier.iter().any(|t| *t == w) => Ok(w.to_string()),
        Some(w) => Err(Error::input(
            InputProblem::new(
                "to",
                format!("`{w}` is not an earlier production release (production runs `{current}`)"),
            )
            .help(format!(
                "give a release the overlay held before and lower than `{current}`: {}",
                list()
            )),
        )),
        None => earlier.first().map(|t| t.to_string()).ok_or_else(|| {
            Error::new(
                Kind::NotFound,
                format!("the overlay's history holds no production release before `{current}`"),
            )
            .with_help("give `to`, and check out the full history (`fetch-depth: 0`)")
        }),
    }
}

/// The tags the overlay pinned for `image`, newest first, from the checkout's history of `manifest`.
fn overlay_history(git: &GitRepo, manifest: &str, image: &str) -> Result<Vec<String>> {
    let mut tags: Vec<String> = Vec::new();
    for commit in git.file_history(manifest)? {
        if let Some(tag) = git
            .file_at(&commit, manifest)?
            .and_then(|text| manifests::pinned(&text, image))
            .and_then(|pin| pin.tag)
            && !tags.contains(&tag)
        {
            tags.push(tag);
        }
    }
    Ok(tags)
}

/// What the rollback is, computed before the plan: the text the commit and the pull request carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rollback {
    pub app: String,
    pub environment: String,
    pub image: String,
    pub from_tag: String,
    pub from_digest: Option<String>,
    pub to_tag: String,
    pub digest: String,
    pub moving_tag: String,
    pub immediate: bool,
    pub manifest: String,
    pub diff: String,
    pub branch: String,
    pub pull_request: bool,
    pub changes: Changes,
}

impl Rollback {
    pub fn title(&self) -> String {
        format!(
            "Roll back {} from {} to {} in {}",
            self.app, self.from_tag, self.to_tag, self.environment
        )
    }

    /// The commit message: a Conventional Commit `revert` subject.
    pub fn commit_message(&self) -> String {
        format!(
            "revert(release): roll back {app} from {from} to {to} in {env}\n\n\
             Pin {image}:{to} ({digest}) in {env} again.\n\n\
             {t_from}: {from}\n{t_to}: {to}\n",
            t_from = trailer::ROLLBACK_FROM,
            t_to = trailer::ROLLBACK_TO,
            app = self.app,
            from = self.from_tag,
            to = self.to_tag,
            env = self.environment,
            image = self.image,
            digest = self.digest,
        )
    }

    fn moving(&self) -> String {
        if !promotion_rules::moves(&self.moving_tag) {
            "none (`moving-tag: none`): production runs what the overlay pins".to_string()
        } else if self.immediate {
            format!(
                "`{}` moved to `{}` by the rollback run (`immediate: true`): {} runs `{}` now",
                self.moving_tag, self.digest, self.environment, self.to_tag
            )
        } else if self.pull_request {
            format!(
                "`{}` (moves back on release, after the merge)",
                self.moving_tag
            )
        } else {
            format!("`{}` moved after the commit", self.moving_tag)
        }
    }

    /// The commits between the target and the current release: what production stops running.
    fn undone(&self) -> String {
        let mut md = format!(
            "### Commits rolled back (`{}`..`{}`)\n\n",
            self.to_tag, self.from_tag
        );
        match &self.changes.commits {
            Err(why) => md.push_str(&format!("_Not listed: {why}._\n")),
            Ok(commits) if commits.is_empty() => md.push_str("_None._\n"),
            Ok(commits) => {
                for c in commits {
                    md.push_str(&format!(
                        "- `{}` {}\n",
                        c.sha.get(..7).unwrap_or(&c.sha),
                        c.subject
                    ));
                }
            }
        }
        md.push('\n');
        md
    }

    /// The pull request's body.
    pub fn pull_request_body(&self) -> String {
        let rows = vec![
            ("Image", format!("`{}`", self.image)),
            (
                "From",
                match &self.from_digest {
                    Some(d) => format!("`{}` (`{d}`)", self.from_tag),
                    None => format!("`{}`", self.from_tag),
                },
            ),
            ("To", format!("`{}` (`{}`)", self.to_tag, self.digest)),
            ("Moving tag", self.moving()),
        ];
        let mut md = format!(
            "## {}\n\n{} goes back to `{}`, an earlier production release, pinned by digest: no rebuild.\n\n{}\n",
            self.title(),
            capitalized(&self.environment),
            self.to_tag,
            markdown_table(&rows)
        );
        md.push_str(&format!(
            "### Manifest change\n\n```diff\n{}```\n\n",
            self.diff
        ));
        md.push_str(&self.undone());
        md.push_str(&format!(
            "### On merge\n\nThe `release` run after the merge sees a lower version: {moves} and publishes no release.{now}\n",
            moves = if promotion_rules::moves(&self.moving_tag) {
                format!("it moves `{}` back to `{}`", self.moving_tag, self.digest)
            } else {
                format!("merging deploys `{}` (`{}`)", self.to_tag, self.digest)
            },
            now = if self.immediate {
                format!(" `{}` already points there (`immediate: true`): merging brings git in line with what runs.", self.moving_tag)
            } else {
                String::new()
            },
        ));
        md.push_str(&format!(
            "\n<!-- gitops-promote: {} -->\n",
            json!({
                "image": self.image,
                "rollback_from": self.from_tag,
                "rollback_to": self.to_tag,
                "digest": self.digest,
                "immediate": self.immediate,
            })
        ));
        md
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// Pure: the plan from the rollback, the moving tag's retag steps and the repository facts.
pub fn plan(
    settings: &RollbackSettings,
    rollback: &Rollback,
    moving_step: Vec<Step>,
    facts: &proposal::RepoFacts,
    after: &str,
) -> Plan {
    let mut plan = Plan::new(Mode::Rollback, settings.dry_run);
    let changed = facts.before != after;
    let p = &settings.proposal;
    // The incident comes first: with `immediate`, what production follows moves before anything else.
    let (now, later) = if settings.immediate {
        (moving_step, Vec::new())
    } else {
        (Vec::new(), moving_step)
    };
    plan.steps.extend(now);
    let change = OverlayChange {
        manifest: &settings.manifest,
        message: rollback.commit_message(),
        edit: edit_request(&settings.image, &rollback.to_tag, &rollback.digest),
        diff: &rollback.diff,
        after,
    };
    proposal::propose(
        &mut plan,
        p,
        facts,
        change,
        changed,
        (rollback.title(), rollback.pull_request_body()),
        (&rollback.to_tag, &rollback.digest),
        later,
    );
    plan
}

/// Runs `rollback` end to end.
pub fn run(
    invocation: &Invocation,
    github: &GithubContext,
    console: &mut Console,
) -> Result<Report> {
    let settings = RollbackSettings::read(invocation, github)?;
    mask_login(console, &settings.registry);
    if let Some(token) = &settings.proposal.github_token {
        console.mask(token.expose());
    }
    // The checkout: the overlay's history says which releases production ran.
    let git = GitRepo::open(&invocation.repo)?;
    let repository = non_empty(&github.repository)
        .unwrap_or_default()
        .to_string();
    let github_client = proposal::github_client(&settings.proposal, github)?;
    let host = Host::pick(&settings.proposal, github_client.as_ref(), Some(&git))?;
    console.group("Read the base branch and the overlay");
    let base = proposal::read_base(&settings.proposal, &settings.manifest, &host, &repository);
    console.end_group();
    let (mut repo_facts, before) = base?;
    let image = settings.image.to_string();
    let pin = manifests::pinned(&before, &image).ok_or_else(|| {
        Error::new(
            Kind::NotFound,
            format!(
                "`{}` on `{}` pins no `{image}`: nothing runs to roll back",
                settings.manifest, repo_facts.base_branch
            ),
        )
    })?;
    let from_tag = pin.tag.clone().ok_or_else(|| {
        Error::new(
            Kind::NotFound,
            format!("`{}` pins `{image}` without a tag", settings.manifest),
        )
    })?;
    let history = overlay_history(&git, &settings.manifest, &image)?;
    let to_tag = rollback_target(&from_tag, &history, settings.to.as_deref())?;

    // The registry must still have the target: its digest is what production runs again.
    let client = Client::new(settings.registry.clone())?;
    // The production tags live where the overlay's `newName` says (`promote`'s `production-image`).
    let production = manifests::renamed(&before, &image)
        .and_then(|n| ImageName::parse(&n).ok())
        .unwrap_or_else(|| settings.image.clone());
    let source = reference(&production, &to_tag);
    let moving_target = reference(&production, &settings.moving_tag);
    let targets = if (settings.immediate || !settings.proposal.pull_request)
        && promotion_rules::moves(&settings.moving_tag)
    {
        vec![moving_target]
    } else {
        Vec::new()
    };
    console.group(&format!("Resolve `{source}` and the moving tag"));
    let exists = client.resolve(&source);
    let registry_facts = match exists {
        Ok(Some(_)) => gather(&client, &source, &targets, !settings.dry_run),
        Ok(None) => Err(Error::new(
            Kind::NotFound,
            format!("`{source}` does not exist in the registry: nothing to roll back to"),
        )
        .with_help("give `to` a release the registry still has")),
        Err(e) => Err(e),
    };
    drain(&client, console);
    console.end_group();
    let registry_facts = registry_facts?;
    let digest = registry_facts.source.digest.clone();
    let rules = Rules {
        force: false,
        moving_tags: BTreeSet::from([settings.moving_tag.clone()]),
    };
    let moving_step = plan_steps(&source, &registry_facts, &targets, &rules)?;

    let branch = if settings.proposal.pull_request {
        proposal::render_branch(
            &settings.proposal.branch_template,
            &[
                ("app", &settings.app),
                ("environment", &settings.environment),
                ("from-tag", &from_tag),
                ("to-tag", &to_tag),
            ],
        )?
    } else {
        String::new()
    };
    console.group("Read the rollback branch");
    let read = proposal::read_branch(
        &settings.proposal,
        &mut repo_facts,
        &host,
        github_client.as_ref(),
        &branch,
    );
    if let Some(c) = &github_client {
        for line in c.take_progress() {
            console.info(&line);
        }
    }
    console.end_group();
    read?;

    let patched = manifests::patch(
        &before,
        &settings.manifest,
        &edit_request(&settings.image, &to_tag, &digest),
    )?;
    let diff = manifests::unified_diff(&settings.manifest, &before, &patched.text);
    repo_facts.branch_up_to_date = proposal::branch_up_to_date(
        &settings.proposal,
        &repo_facts,
        &host,
        &settings.manifest,
        &patched.text,
    )?;
    repo_facts.before = before;
    let rollback = Rollback {
        app: settings.app.clone(),
        environment: settings.environment.clone(),
        image: image.clone(),
        from_tag: from_tag.clone(),
        from_digest: pin.digest.clone(),
        to_tag: to_tag.clone(),
        digest,
        moving_tag: settings.moving_tag.clone(),
        immediate: settings.immediate,
        manifest: settings.manifest.clone(),
        diff,
        branch: if settings.proposal.pull_request {
            branch
        } else {
            repo_facts.base_branch.clone()
        },
        pull_request: settings.proposal.pull_request,
        changes: changes::list(Some(&git), Some(&to_tag), &[from_tag.as_str()]),
    };
    let plan = plan(
        &settings,
        &rollback,
        moving_step,
        &repo_facts,
        &patched.text,
    );
    let annotations: Vec<_> =
        proposal::workflow_token_notice("rollback", &settings.proposal, &repo_facts, &plan.steps)
            .into_iter()
            .collect();
    let applied = apply::apply(
        &plan,
        &mut Effects {
            git: Some(&git),
            github_token: settings.proposal.github_token.as_ref(),
            registry: Some(&client),
            branches: Some(host.as_dyn()),
            github: github_client.as_ref(),
            console,
        },
    )?;
    drain(&client, console);
    let requests = Requests {
        registry: client.requests(),
        github: github_client.as_ref().map(|c| c.requests()).unwrap_or(0),
        registries: client.registries(),
    };
    let dry = settings.dry_run;
    let outcome = proposal::outcome(&plan.steps, &applied, repo_facts.pull.as_ref(), dry);
    let moving_op = plan
        .steps
        .iter()
        .find(|s| matches!(s, Step::Retag { .. }))
        .and_then(|s| operation_of(s, &applied, dry));
    let moving_word = word(&moving_op, dry);

    let mut outputs = BTreeMap::new();
    outputs.insert("digest".to_string(), rollback.digest.clone());
    outputs.insert("from-tag".to_string(), rollback.from_tag.clone());
    outputs.insert("to-tag".to_string(), rollback.to_tag.clone());
    outputs.insert("production-tag".to_string(), rollback.to_tag.clone());
    outputs.insert("branch".to_string(), rollback.branch.clone());
    outputs.insert("commit".to_string(), outcome.commit.clone());
    outputs.insert(
        "commit-operation".to_string(),
        outcome.commit_operation.clone(),
    );
    outputs.insert("pr-number".to_string(), outcome.pr_number.clone());
    outputs.insert("pr-url".to_string(), outcome.pr_url.clone());
    outputs.insert("pr-operation".to_string(), outcome.pr_operation.clone());
    outputs.insert("moving-tag-operation".to_string(), moving_word.clone());
    let json = json!({
        "mode": Mode::Rollback,
        "dry_run": dry,
        "rollback": rollback,
        "moving_tag_operation": moving_word,
        "commit": outcome.commit,
        "commit_operation": outcome.commit_operation,
        "pr_number": outcome.pr_number,
        "pr_url": outcome.pr_url,
        "pr_operation": outcome.pr_operation,
        "requests": requests,
        "plan": plan,
        "applied": applied,
    });
    outputs.insert(
        "json".to_string(),
        serde_json::to_string(&json).unwrap_or_default(),
    );

    let short = |s: &str| s.get(..7).unwrap_or(s).to_string();
    let mut rows = vec![
        ("Image", format!("`{}`", rollback.image)),
        ("From", format!("`{}`", rollback.from_tag)),
        (
            "To",
            format!("`{}` (`{}`)", rollback.to_tag, rollback.digest),
        ),
        (
            "Moving tag",
            if !promotion_rules::moves(&rollback.moving_tag) {
                rollback.moving()
            } else if settings.immediate || !settings.proposal.pull_request {
                format!("`{}` {moving_word}", rollback.moving_tag)
            } else {
                format!(
                    "`{}` not moved: it moves back when the merged change is released",
                    rollback.moving_tag
                )
            },
        ),
        (
            "Overlay",
            format!(
                "`{}` on `{}` (`{}`)",
                rollback.manifest,
                repo_facts.base_branch,
                short(&repo_facts.base_sha)
            ),
        ),
        (
            "Commit",
            if outcome.commit.is_empty() {
                format!("{} (nothing to commit)", outcome.commit_operation)
            } else {
                format!(
                    "`{}` on `{}` {} via {}",
                    short(&outcome.commit),
                    rollback.branch,
                    outcome.commit_operation,
                    settings.proposal.commit_via.as_str()
                )
            },
        ),
    ];
    if settings.proposal.pull_request {
        rows.push((
            "Pull request",
            if outcome.pr_url.is_empty() {
                outcome.pr_operation.clone()
            } else {
                format!(
                    "[#{}]({}) {}",
                    outcome.pr_number, outcome.pr_url, outcome.pr_operation
                )
            },
        ));
    }
    rows.push((
        "Requests",
        format!("registry {}, GitHub {}", requests.registry, requests.github),
    ));
    // Which login served each registry (with `production-image`, the staging one and the production one).
    rows.push((
        "Registries",
        registry::registries_line(&requests.registries),
    ));
    let title = format!(
        "gitops-promote rollback{}",
        if dry { " (dry run)" } else { "" }
    );
    let mut summary = format!("## {title}\n\n{}\n", markdown_table(&rows));
    if !rollback.diff.is_empty() {
        summary.push_str(&format!("```diff\n{}```\n\n", rollback.diff));
    }
    summary.push_str(&rollback.undone());
    summary.push_str(&plan.to_markdown());
    let mut text = format!("{title}\n{}", text_table(&rows));
    if dry {
        text.push_str(&format!(
            "\nplan (JSON):\n{}\n\n{}",
            serde_json::to_string_pretty(&plan).unwrap_or_default(),
            plan.to_markdown()
        ));
    }
    Ok(Report {
        outputs,
        summary,
        text,
        annotations,
        failure: None,
    })
}
