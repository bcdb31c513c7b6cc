//! Owns the `promote` mode: the staging image to production through a reviewed change. Inputs → facts (the
//! staging tag and its digest, where the production tags point, the production overlay at the base branch's
//! tip as the repository host has it, the promotion branch and its open pull request) → plan (retag the
//! production version; commit the overlay pinned by digest; open or update the pull request — or, with
//! `pull-request: false`, commit to the base branch and move the moving tag) → apply → report.
//!
//! The moving tag is what production's Flux provider follows, so with a pull request it never moves here: it
//! moves when the merged change is released.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::json;

use crate::actions::{Annotation, Console};
use crate::apply::{self, Effects};
use crate::changes::{self, Changes};
use crate::env::GithubContext;
use crate::error::{Error, InputProblem, Kind, Result};
use crate::flux::discover::Model;
use crate::gates::{self, Evidence, GateSettings};

use crate::git::GitRepo;
use crate::github;
use crate::image::ImageName;
use crate::inputs::{Invocation, Mode};
use crate::manifests;
use crate::plan::{Applied, CommitVia, Operation, Plan, Step};
use crate::promotion_rules;
use crate::proposal::{
    self, Host, OverlayChange, ProposalInputs, Requests, edit_request, non_empty, operation_of,
    read_overlay, read_repo_facts, reference,
};
use crate::registry::{self, Client};
use crate::registry_settings::{mask_login, read_registry_settings};
use crate::release_steps;
use crate::report::{Report, markdown_table, text_table};
use crate::retag_plan::{
    RetagFacts, Rules, drain, gather, insert_signatures, plan_steps, signature_steps,
    signatures_cell,
};
use crate::tag_lister::TagReader;
use crate::template::is_valid_oci_tag;

pub use crate::promotion_rules::{
    Layout, StagingChoice, choose_staging_tag, layout, production_tag_of, trailer,
};
pub use crate::proposal::{REMOTE, RepoFacts};

/// Placeholders of the `branch` template.
pub const BRANCH_PLACEHOLDERS: &[&str] = &["app", "environment", "production-tag", "staging-tag"];

/// The `branch` of a promotion when the input is empty.
pub const DEFAULT_BRANCH: &str = "promote-{production-tag}";

/// The `labels` of a promotion's pull request when the input is empty.
pub const DEFAULT_LABELS: &str = "promotion";

/// Typed inputs of `promote`.
#[derive(Debug, Clone)]
pub struct PromoteSettings {
    pub image: ImageName,
    /// `production-image`: where the production tags are written, when not in `image`'s repository.
    pub production_image: Option<ImageName>,
    /// `copy-signatures`: with `production-image`, copy the digest's signatures, attestations, SBOMs and
    /// referrers there before the production version tag.
    pub copy_signatures: bool,
    pub staging_tag: Option<String>,
    pub production_tag: Option<String>,
    pub moving_tag: String,
    pub app: String,
    pub environment: String,
    pub manifest: String,
    pub proposal: ProposalInputs,
    pub create_release: bool,
    pub dry_run: bool,
    pub flux_path: String,
    pub registry: registry::Settings,
    /// The prerequisites checked before any write.
    pub gates: GateSettings,
}

fn tag_problem(input: &str, value: &str) -> InputProblem {
    InputProblem::new(input, format!("`{value}` is not a valid OCI tag"))
        .help("a tag is `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`, e.g. `v1.2.3`")
}

/// Checks a `branch` template: only known placeholders, balanced braces.
///
/// ```
/// use gitops_promote::modes::promote::check_branch_template;
/// assert!(check_branch_template("promote-{app}-{production-tag}").is_ok());
/// assert!(check_branch_template("promote-{version}").is_err());
/// ```
pub fn check_branch_template(template: &str) -> std::result::Result<(), InputProblem> {
    proposal::check_branch_template(template, BRANCH_PLACEHOLDERS)
}

impl PromoteSettings {
    /// Phase two of input parsing: every problem at once, before any request.
    pub fn read(invocation: &Invocation, github: &GithubContext) -> Result<Self> {
        let mut r = invocation.reader();
        let image_raw = r.required(
            "image",
            "set `image` to the image to promote, e.g. `ghcr.io/org/app`",
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
                    Err(tag_problem(input, v))
                }
            })
        };
        let production_image = r
            .text("production-image")
            .and_then(|_| r.parse("production-image", ImageName::parse));
        let staging_tag = tag(&mut r, "staging-tag");
        let production_tag = tag(&mut r, "production-tag");
        let moving_tag = tag(&mut r, "moving-tag").unwrap_or_default();
        if let Some(p) = &production_tag
            && *p == moving_tag
        {
            r.problem(
                InputProblem::new(
                    "production-tag",
                    format!(
                        "`{p}` is the moving tag; the production version must be a tag of its own"
                    ),
                )
                .help("give the version, e.g. `v1.2.3`"),
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
        let create_release = r.bool("create-release");
        let copy_signatures = r.bool("copy-signatures");
        let dry_run = r.bool("dry-run");
        let flux_path = r.text("flux-path").unwrap_or_else(|| "flux".to_string());
        let registry = read_registry_settings(&mut r, github);
        let gates = GateSettings::read(&mut r);
        r.finish()?;
        let missing = |name: &str| Error::new(Kind::Input, format!("input `{name}` is missing"));
        Ok(Self {
            image: image.ok_or_else(|| missing("image"))?,
            production_image,
            copy_signatures,
            staging_tag,
            production_tag,
            moving_tag,
            app,
            environment,
            manifest,
            proposal,
            create_release,
            dry_run,
            flux_path,
            registry,
            gates,
        })
    }

    /// The image the production tags are written in: `production-image`, else `image`.
    pub fn production(&self) -> &ImageName {
        self.production_image.as_ref().unwrap_or(&self.image)
    }

    /// The overlay edit: `image` pinned to `tag` at `digest`, renamed (`newName`) to `production-image`
    /// when the production tags live elsewhere.
    fn edit(&self, tag: &str, digest: &str) -> crate::manifests::Request {
        let mut edit = edit_request(&self.image, tag, digest);
        if *self.production() != self.image {
            edit.new_name = Some(self.production().to_string());
        }
        edit
    }

    /// Whether the run talks to GitHub's API.
    pub fn needs_github(&self) -> bool {
        self.proposal.needs_github()
    }
}

/// What the promotion is, computed before the plan: the text the commit and the pull request carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Promotion {
    pub app: String,
    pub environment: String,
    pub image: String,
    /// Where the production tags are written: `production-image`, else `image`.
    pub production_image: String,
    pub staging: StagingChoice,
    pub digest: String,
    pub production_tag: String,
    pub moving_tag: String,
    pub manifest: String,
    pub diff: String,
    pub base_branch: String,
    pub branch: String,
    pub pull_request: bool,
    pub create_release: bool,
    pub layout: Layout,
    pub changes: Changes,
    /// The prerequisites' evidence (the body's gates section).
    pub gates: Option<Evidence>,
}

impl Promotion {
    pub fn title(&self) -> String {
        format!(
            "Promote {} {} to {}",
            self.app, self.production_tag, self.environment
        )
    }

    /// The commit message: a Conventional Commit subject and trailers `release` reads after the merge.
    pub fn commit_message(&self) -> String {
        format!(
            "chore(release): promote {app} {prod} to {env}\n\n\
             Promote {image}:{staging} ({digest}) to {env} as {prod}.\n\n\
             {t_image}: {image}\n{t_staging}: {staging}\n{t_prod}: {prod}\n{t_digest}: {digest}\n{t_release}: {release}\n",
            app = self.app,
            prod = self.production_tag,
            env = self.environment,
            image = self.image,
            staging = self.staging.tag,
            digest = self.digest,
            release = self.create_release,
            t_image = trailer::IMAGE,
            t_staging = trailer::STAGING_TAG,
            t_prod = trailer::PRODUCTION_TAG,
            t_digest = trailer::DIGEST,
            t_release = trailer::CREATE_RELEASE,
        )
    }

    fn diagram(&self) -> String {
        let short = self.digest.get(..19).unwrap_or(&self.digest);
        let moving = if !promotion_rules::moves(&self.moving_tag) {
            "runs what the overlay pins".to_string()
        } else if self.pull_request {
            format!("{} moves on release, after the merge", self.moving_tag)
        } else {
            format!("{} moved now", self.moving_tag)
        };
        let clean = |s: &str| s.replace(['"', '`'], "");
        format!(
            "```mermaid\nflowchart LR\n  staging[\"staging<br/>{}\"] -->|\"same digest {short}\"| version[\"{}\"]\n  version --> review{{\"{}\"}}\n  review --> production[\"{}<br/>{}\"]\n```\n",
            clean(&self.staging.tag),
            clean(&self.production_tag),
            if self.pull_request {
                "pull request review"
            } else {
                "direct commit"
            },
            clean(&self.environment),
            clean(&moving),
        )
    }

    fn on_merge(&self) -> String {
        match self.layout {
            Layout::Gitless => format!(
                "Merging records `{tag}` as what {env} must run. The `release` run after the merge moves `{moving}` to `{digest}`; {env}'s Flux provider follows `{moving}` and writes it into the Flux Kustomization's `spec.images`, which overrides the overlay, so that is when {env} deploys.",
                tag = self.production_tag,
                env = self.environment,
                moving = self.moving_tag,
                digest = self.digest,
            ),
            Layout::Classic if !promotion_rules::moves(&self.moving_tag) => format!(
                "Flux applies `{manifest}` from git: merging deploys `{tag}` (pinned to `{digest}`) to {env}. No moving tag is written (`moving-tag: none`).",
                manifest = self.manifest,
                tag = self.production_tag,
                env = self.environment,
                digest = self.digest,
            ),
            Layout::Classic => format!(
                "Flux applies `{manifest}` from git: merging deploys `{tag}` (pinned to `{digest}`) to {env}. The `release` run after the merge then moves `{moving}` to the same digest.",
                manifest = self.manifest,
                tag = self.production_tag,
                env = self.environment,
                moving = self.moving_tag,
                digest = self.digest,
            ),
        }
    }

    /// The pull request's body (and, with `pull-request: false`, the summary's story).
    pub fn pull_request_body(&self) -> String {
        let rows = vec![
            ("Image", format!("`{}`", self.image)),
            (
                "Staging tag",
                format!("`{}` ({})", self.staging.tag, self.staging.why),
            ),
            ("Digest", format!("`{}`", self.digest)),
            ("Production tag", format!("`{}`", self.production_tag)),
            (
                "Moving tag",
                if promotion_rules::moves(&self.moving_tag) {
                    format!("`{}` (moves on release, after the merge)", self.moving_tag)
                } else {
                    "none (`moving-tag: none`)".to_string()
                },
            ),
            (
                "Previous production release",
                self.changes
                    .previous
                    .as_ref()
                    .map(|p| format!("`{p}`"))
                    .unwrap_or_else(|| "none".to_string()),
            ),
        ];
        let mut md = format!(
            "## {}\n\nThe exact image staging runs, promoted by digest: no rebuild.\n\n{}\n",
            self.title(),
            markdown_table(&rows)
        );
        md.push_str(&format!(
            "### Manifest change\n\n```diff\n{}```\n\n",
            self.diff
        ));
        md.push_str(&self.changes.to_markdown());
        md.push_str("### Promotion\n\n");
        md.push_str(&self.diagram());
        md.push_str(&format!("\n### On merge\n\n{}\n", self.on_merge()));
        md.push_str(&format!(
            "\nGitHub release after the merge: {}.\n",
            if self.create_release { "yes" } else { "no" }
        ));
        if let Some(evidence) = &self.gates {
            md.push('\n');
            md.push_str(&evidence.section());
        }
        md.push_str(&format!(
            "\n<!-- gitops-promote: {} -->\n",
            json!({
                "image": self.image,
                "staging_tag": self.staging.tag,
                "production_tag": self.production_tag,
                "digest": self.digest,
                "create_release": self.create_release,
            })
        ));
        md
    }
}

/// Pure: the plan from the promotion, the registry's retag steps and the repository facts.
pub fn plan(
    settings: &PromoteSettings,
    promotion: &Promotion,
    version_step: Vec<Step>,
    moving_step: Vec<Step>,
    facts: &RepoFacts,
    after: &str,
) -> Plan {
    let mut plan = Plan::new(Mode::Promote, settings.dry_run);
    plan.steps.extend(version_step);
    let changed = facts.before != after;
    let p = &settings.proposal;
    let change = OverlayChange {
        manifest: &settings.manifest,
        message: promotion.commit_message(),
        edit: settings.edit(&promotion.production_tag, &promotion.digest),
        diff: &promotion.diff,
        after,
    };
    proposal::propose(
        &mut plan,
        p,
        facts,
        change,
        changed,
        (promotion.title(), promotion.pull_request_body()),
        (&promotion.production_tag, &promotion.digest),
        moving_step,
    );
    plan
}

/// Runs `promote` end to end.
pub fn run(
    invocation: &Invocation,
    github: &GithubContext,
    console: &mut Console,
) -> Result<Report> {
    let settings = PromoteSettings::read(invocation, github)?;
    mask_login(console, &settings.registry);
    if let Some(token) = &settings.proposal.github_token {
        console.mask(token.expose());
    }
    let mut annotations = Vec::new();
    // The checkout: the Flux objects (staging's selection, the layout), the history for the change list and,
    // with `commit-via: git`, the remote to push to. The API path works without one.
    let git = GitRepo::open(&invocation.repo);
    let git = match (git, settings.proposal.commit_via) {
        (Ok(g), _) => Some(g),
        (Err(e), CommitVia::Git) => return Err(e),
        (Err(_), CommitVia::Api) => None,
    };
    let model = Model::load(&invocation.repo, &settings.flux_path);

    // Registry facts: the staging tag and its digest, and where the production tags point now.
    let client = Client::new(settings.registry.clone())?;
    // The tag listing's reader has a client of its own; its requests count in the summary's Requests row.
    let mut listing_requests = 0;
    let staging = match &settings.staging_tag {
        Some(tag) => StagingChoice {
            tag: tag.clone(),
            why: "given".to_string(),
        },
        None => {
            console.group(&format!(
                "List the tags of `{}` and find what staging runs",
                settings.image
            ));
            let chosen = TagReader::new(settings.registry.clone(), false)
                .and_then(|reader| {
                    let tags = reader.list(&settings.image, console);
                    listing_requests = reader.requests();
                    tags
                })
                .and_then(|tags| choose_staging_tag(&model, &settings.image, &tags));
            console.end_group();
            chosen?
        }
    };
    let staging_tag = staging.tag.clone();
    let production_tag = match &settings.production_tag {
        Some(t) => t.clone(),
        None => production_tag_of(&staging.tag).ok_or_else(|| {
            Error::input(
                InputProblem::new(
                    "production-tag",
                    format!("the staging tag `{}` is not a semver version, so no production version follows from it", staging.tag),
                )
                .help("give `production-tag`, e.g. `v1.2.3`"),
            )
        })?,
    };
    if production_tag == settings.moving_tag {
        return Err(Error::input(InputProblem::new(
            "production-tag",
            format!(
                "`{production_tag}` is the moving tag; the production version must be a tag of its own"
            ),
        )));
    }
    let branch = if settings.proposal.pull_request {
        proposal::render_branch(
            &settings.proposal.branch_template,
            &[
                ("app", &settings.app),
                ("environment", &settings.environment),
                ("production-tag", &production_tag),
                ("staging-tag", &staging.tag),
            ],
        )?
    } else {
        String::new()
    };

    let source = reference(&settings.image, &staging.tag);
    let version_target = reference(settings.production(), &production_tag);
    let moving_target = reference(settings.production(), &settings.moving_tag);
    let mut targets = vec![version_target.clone()];
    if !settings.proposal.pull_request && promotion_rules::moves(&settings.moving_tag) {
        targets.push(moving_target);
    }

    // Repository facts, as the host has them (not only the checkout, which may be behind).
    let repository = non_empty(&github.repository)
        .unwrap_or_default()
        .to_string();
    let mut github_client = proposal::github_client(&settings.proposal, github)?;
    // A direct promotion also publishes the release when it can reach GitHub (as `release` would after a merge).
    if github_client.is_none()
        && !settings.proposal.pull_request
        && settings.create_release
        && settings.proposal.github_token.is_some()
        && !repository.is_empty()
    {
        github_client = Some(github::Client::new(
            github::Settings::for_run(
                github.api_url(),
                settings.proposal.github_token.clone(),
                &repository,
            )
            .map_err(Error::input)?,
        )?);
    }
    let host = Host::pick(&settings.proposal, github_client.as_ref(), git.as_ref())?;

    // The registry's facts (the source and where the production tags point) and the repository's (the base
    // branch, the overlay, the promotion branch and its pull request) need nothing of each other: both are read
    // at once, and their log lines are printed after, each side in its own group.
    // The gates' source commit: the commit the staging tag's git tag names in the checkout, known without a
    // request, so its checks are read in the same wave as the other facts. Only without that tag (or for a
    // direct promotion, whose git tag follows the image) is the image's revision read, after its digest.
    let tag_commit = git.as_ref().and_then(|g| g.tag_commit(&staging.tag));
    let need_revision = tag_commit.is_none() || !settings.proposal.pull_request;
    // A given staging tag says nothing of what staging selects now: staging's tag list is read after the
    // source (which goes first and alone, see `gather`), beside the repository's reads. Only a tag staging's
    // filter matches can have been moved on from (one it never matches is refused, or not required).
    let read_staging = settings.staging_tag.is_some()
        && promotion_rules::staging_selects(
            &model,
            &settings.image,
            std::slice::from_ref(&staging.tag),
        )
        .is_some_and(|t| t == staging.tag);
    let (registry_facts, repo_facts, checks_read) = std::thread::scope(|s| {
        let registry = s.spawn(|| {
            gather(&client, &source, &targets, !settings.dry_run).map(|facts| {
                let digest = facts.source.digest.clone();
                let revision = need_revision
                    .then(|| client.revision(&settings.image, &digest, release_steps::REVISION));
                let staging_now = read_staging.then(|| {
                    staging_selects_now(&client, &model, &settings.image, &staging.tag, &facts)
                });
                (facts, revision, staging_now)
            })
        });
        let checks = match (&tag_commit, github_client.as_ref()) {
            (Some(sha), Some(c)) if !need_revision => {
                Some(s.spawn(move || c.checks_and_statuses(sha)))
            }
            _ => None,
        };
        let repo = read_repo_facts(
            &settings.proposal,
            &settings.manifest,
            &host,
            github_client.as_ref(),
            &repository,
            &branch,
        );
        let registry = registry.join().unwrap_or_else(|_| {
            Err(Error::new(
                Kind::Upstream,
                "reading the registry stopped unexpectedly",
            ))
        });
        let checks = checks.map(|t| {
            t.join().unwrap_or_else(|_| {
                Err(Error::new(
                    Kind::Upstream,
                    "reading the checks stopped unexpectedly",
                ))
            })
        });
        (registry, repo, checks)
    });
    console.group(&format!("Resolve `{source}` and the production tags"));
    drain(&client, console);
    console.end_group();
    console.group("Read the base branch, the overlay and the promotion branch");
    if let Some(c) = &github_client {
        for line in c.take_progress() {
            console.info(&line);
        }
    }
    console.end_group();
    let (registry_facts, revision_read, staging_read) = registry_facts?;
    let digest = registry_facts.source.digest.clone();
    // The tag staging selects now: the tag itself when staging-tag is empty (staging's choice).
    let staging_selects = match staging_read {
        None => settings.staging_tag.is_none().then(|| staging.tag.clone()),
        Some(Ok(selected)) => selected,
        Some(Err(e)) => {
            annotations.push(Annotation::warning(
                "gitops-promote: gate",
                format!(
                    "staging's selection of `{}` could not be read: {e}",
                    settings.image
                ),
            ));
            None
        }
    };
    let rules = Rules {
        force: false,
        moving_tags: BTreeSet::from([settings.moving_tag.clone()]),
    };
    // A production version that points elsewhere is a conflict here, before anything is written.
    let mut retags = plan_steps(&source, &registry_facts, &targets, &rules)?;
    let mut moving_step = retags.split_off(1);
    let (mut repo_facts, before) = repo_facts?;
    refuse_another_production_image(&before, &settings)?;
    guard_moving_tag(
        &mut moving_step,
        &repo_facts.base_branch,
        &settings.manifest,
        &settings.image.to_string(),
        (&production_tag, &digest),
    );
    if !settings.proposal.pull_request {
        release_steps::refuse_going_back(
            &before,
            &settings.manifest,
            &settings.image.to_string(),
            &production_tag,
            &repo_facts.base_branch,
        )?;
    }

    // The edit, pure; a file that does not name the image is an error before anything is written.
    let patched = manifests::patch(
        &before,
        &settings.manifest,
        &settings.edit(&production_tag, &digest),
    )?;
    // The overlay already pinning this version (a rerun) says nothing of the release before it: that is read
    // from the record, so a rerun writes the same notes as the first run.
    let previous = patched
        .changes
        .iter()
        .find(|c| c.field.ends_with("newTag"))
        .and_then(|c| c.old.clone())
        .or_else(|| {
            git.as_ref().and_then(|g| {
                release_steps::previous_release(
                    g,
                    &settings.manifest,
                    &settings.image.to_string(),
                    &production_tag,
                )
            })
        });
    let diff = manifests::unified_diff(&settings.manifest, &before, &patched.text);
    let branch_up_to_date = proposal::branch_up_to_date(
        &settings.proposal,
        &repo_facts,
        &host,
        &settings.manifest,
        &patched.text,
    )?;
    repo_facts.branch_up_to_date = branch_up_to_date;
    repo_facts.before = before;
    let promotion = Promotion {
        app: settings.app.clone(),
        environment: settings.environment.clone(),
        image: settings.image.to_string(),
        production_image: settings.production().to_string(),
        staging,
        digest: digest.clone(),
        production_tag: production_tag.clone(),
        moving_tag: settings.moving_tag.clone(),
        manifest: settings.manifest.clone(),
        diff,
        base_branch: repo_facts.base_branch.clone(),
        branch: if settings.proposal.pull_request {
            branch.clone()
        } else {
            repo_facts.base_branch.clone()
        },
        pull_request: settings.proposal.pull_request,
        create_release: settings.create_release,
        layout: layout(&model, &settings.image, &settings.environment),
        changes: changes::list(
            git.as_ref(),
            previous.as_deref(),
            &[production_tag.as_str(), staging_tag.as_str()],
        ),
        gates: None,
    };
    promotion_rules::refuse_no_moving_tag(
        &settings.moving_tag,
        promotion.layout,
        &promotion.image,
    )?;
    // The image's source commit: read once, for the gates and (without a pull request) the git tag.
    let revision = revision_read.and_then(|read| {
        let (commit, warning) = release_steps::named_commit(read, &promotion.image, &digest);
        annotations.extend(warning);
        commit
    });
    let previous_digest = patched
        .changes
        .iter()
        .find(|c| c.field.ends_with("digest"))
        .and_then(|c| c.old.clone());
    // Every prerequisite's evidence, before any write: a refusal leaves the registry, the branch and the pull
    // request as they were.
    let evidence = gather_evidence(
        &settings,
        (&model, staging_selects.as_deref()),
        &promotion,
        (revision.as_deref(), git.as_ref()),
        (github_client.as_ref(), checks_read),
        (previous.as_deref(), previous_digest.as_deref()),
        console,
    )?;
    for warning in &evidence.warnings {
        annotations.push(Annotation::warning("gitops-promote: gate", warning.clone()));
    }
    if let Some(refusal) = evidence.refusal() {
        return Err(refusal);
    }
    let promotion = Promotion {
        gates: Some(evidence),
        ..promotion
    };
    // With `production-image`, what is attached to the digest goes there before the version tag (the same
    // step as `retag`'s), once every gate has passed.
    if settings.copy_signatures && settings.production() != &settings.image {
        console.group("Find the signatures, attestations, SBOMs and referrers to copy");
        let signatures = signature_steps(&client, &source, &digest, &targets);
        drain(&client, console);
        console.end_group();
        insert_signatures(&mut retags, signatures?);
    }
    let mut plan = plan(
        &settings,
        &promotion,
        retags,
        moving_step,
        &repo_facts,
        &patched.text,
    );
    if !settings.proposal.pull_request {
        release_directly(
            &settings,
            &promotion,
            git.as_ref(),
            github_client.as_ref(),
            &repository,
            revision.as_deref(),
            &mut plan,
            &mut annotations,
        )?;
    }
    annotations.extend(proposal::workflow_token_notice(
        "promotion",
        &settings.proposal,
        &repo_facts,
        &plan.steps,
    ));
    let applied = apply::apply(
        &plan,
        &mut Effects {
            git: git.as_ref(),
            github_token: settings.proposal.github_token.as_ref(),
            registry: Some(&client),
            branches: Some(host.as_dyn()),
            github: github_client.as_ref(),
            console,
        },
    )?;
    drain(&client, console);
    let requests = Requests {
        registry: client.requests() + listing_requests,
        github: github_client.as_ref().map(|c| c.requests()).unwrap_or(0),
        registries: client.registries(),
    };
    Ok(report(
        &settings,
        &promotion,
        &repo_facts,
        &plan,
        &applied,
        requests,
        annotations,
    ))
}

/// The tag staging's Flux object selects from `image`'s tags now, for a given staging `tag` it matches. Another
/// tag at the same digest is the same image (as the production version is once written where staging's filter
/// sees it): it reads as `tag`, so a rerun's evidence is the first run's. A tag the run already resolved (a
/// target in `facts`) is not asked for again.
fn staging_selects_now(
    client: &Client,
    model: &Model,
    image: &ImageName,
    tag: &str,
    facts: &RetagFacts,
) -> Result<Option<String>> {
    let tags = client.list_tags(image)?;
    let Some(now) = promotion_rules::staging_selects(model, image, &tags) else {
        return Ok(None);
    };
    if now == tag {
        return Ok(Some(now));
    }
    let wanted = reference(image, &now).to_string();
    let known = facts.targets.iter().find(|(t, _)| *t == wanted);
    let now_digest = match known {
        Some((_, descriptor)) => descriptor.as_ref().map(|d| d.digest.clone()),
        None => client.resolve(&reference(image, &now))?.map(|d| d.digest),
    };
    Ok(Some(
        if now_digest.as_deref() == Some(facts.source.digest.as_str()) {
            tag.to_string()
        } else {
            now
        },
    ))
}

/// The gates' evidence: the source commit's checks and statuses (one concurrent wave, waited for when
/// `wait-for-checks` says so), staging's selection, the rollback plan and the manual items.
fn gather_evidence(
    settings: &PromoteSettings,
    (model, staging_selects): (&Model, Option<&str>),
    promotion: &Promotion,
    (revision, git): (Option<&str>, Option<&GitRepo>),
    (github_client, first_read): (Option<&github::Client>, Option<gates::ChecksRead>),
    (previous, previous_digest): (Option<&str>, Option<&str>),
    console: &mut Console,
) -> Result<Evidence> {
    let tag = &promotion.staging.tag;
    let (commit, commit_source) = match revision {
        Some(c) => (
            Some(c.to_string()),
            format!("the image's `{}`", release_steps::REVISION),
        ),
        None => match git.and_then(|g| g.tag_commit(tag)) {
            Some(c) => (Some(c), format!("the git tag `{tag}`")),
            None => (None, String::new()),
        },
    };
    let short = |s: &str| s.get(..7).unwrap_or(s).to_string();
    let required = settings.gates.required != gates::Required::Nothing;
    let mut rows = match (&commit, github_client) {
        (Some(sha), Some(client)) => {
            console.group(&format!("Read the checks of commit {}", short(sha)));
            let read = gates::read_checks(client, sha, &settings.gates, first_read, console);
            for line in client.take_progress() {
                console.info(&line);
            }
            console.end_group();
            let mut rows = read?;
            for row in &mut rows {
                row.evidence = format!("{} on `{}` ({commit_source})", row.evidence, short(sha));
            }
            rows
        }
        (None, _) if required => {
            return Err(Error::new(
                Kind::NotFound,
                format!(
                    "`require-checks` is set, but no commit is known for `{}:{tag}`: the image has no `{}` and no git tag `{tag}` is in the checkout",
                    promotion.image,
                    release_steps::REVISION
                ),
            )
            .with_help("build the image with the `labels` output of staging-build (it records the revision), or fetch the tags (`fetch-depth: 0`), or clear `require-checks`"));
        }
        (Some(_), None) if required => {
            return Err(Error::input(
                InputProblem::new("require-checks", "needs GitHub to read the checks")
                    .help("pass `github-token` (with `checks: read` and `statuses: read`) and set `GITHUB_REPOSITORY`"),
            ));
        }
        _ => vec![gates::Gate {
            prerequisite: "Integration tests".to_string(),
            state: gates::State::Manual,
            evidence: "not read: no source commit known, or no GitHub token".to_string(),
            required: false,
        }],
    };
    let mut warnings = Vec::new();
    rows.insert(
        0,
        gates::staging_gate(
            model,
            &promotion.image,
            tag,
            &promotion.digest,
            staging_selects,
            settings.gates.require_staging,
            &mut warnings,
        ),
    );
    rows.extend(gates::manual_gates());
    rows.push(gates::rollback_gate(
        previous.map(|p| (p, previous_digest)),
        &promotion.base_branch,
    ));
    Ok(Evidence {
        commit,
        commit_source,
        gates: rows,
        rollback: previous.map(gates::rollback_command),
        warnings,
    })
}

/// The moving tag moves only while `branch` pins what is released (see [`crate::plan::PinGuard`]).
fn guard_moving_tag(
    steps: &mut [Step],
    branch: &str,
    file: &str,
    image: &str,
    (version, released): (&str, &str),
) {
    for step in steps {
        if let Step::Retag { guard, .. } = step {
            *guard = Some(crate::plan::PinGuard {
                branch: branch.to_string(),
                file: file.to_string(),
                image: image.to_string(),
                version: version.to_string(),
                digest: released.to_string(),
            });
        }
    }
}

/// With `pull-request: false` the promotion is also its release: the git tag and the GitHub release follow the
/// commit and the moving tag in the same run, so both paths end in the same state.
#[allow(clippy::too_many_arguments)]
fn release_directly(
    settings: &PromoteSettings,
    promotion: &Promotion,
    git: Option<&GitRepo>,
    github_client: Option<&github::Client>,
    repository: &str,
    revision: Option<&str>,
    plan: &mut Plan,
    annotations: &mut Vec<Annotation>,
) -> Result<()> {
    let Some(git) = git else {
        plan.skipped
            .push("git tag and release: no git checkout to tag".to_string());
        return Ok(());
    };
    let head = git.head()?;
    let released = release_steps::Release {
        image: &promotion.production_image,
        tag: &promotion.production_tag,
        digest: &promotion.digest,
        revision,
        fallback_commit: &head.sha,
        previous: promotion.changes.previous.clone(),
        repository,
        token: settings.proposal.github_token.as_ref(),
    };
    let changes_to = release_steps::plan_git_tag(git, &released, plan, annotations)?;
    match (settings.create_release, github_client) {
        (false, _) => plan
            .skipped
            .push("GitHub release: `create-release` is false".to_string()),
        (true, None) => plan.skipped.push(
            "GitHub release: no GitHub to publish it to (pass `github-token`, with `GITHUB_REPOSITORY` set)"
                .to_string(),
        ),
        (true, Some(client)) => {
            release_steps::plan_release(git, client, &released, &changes_to, plan)?;
        }
    }
    Ok(())
}

/// The overlay already renaming the image (`newName`) to somewhere `production-image` does not name: the
/// production tags would be written in one place while the overlay pins another. Refused before any write.
fn refuse_another_production_image(overlay: &str, settings: &PromoteSettings) -> Result<()> {
    let Some(renamed) = manifests::renamed(overlay, &settings.image.to_string()) else {
        return Ok(());
    };
    if ImageName::parse(&renamed).ok().as_ref() == Some(settings.production()) {
        return Ok(());
    }
    Err(Error::input(
        InputProblem::new(
            "production-image",
            format!(
                "`{}` renames `{}` to `{renamed}` (`newName`), but the production tags would be written to `{}`",
                settings.manifest,
                settings.image,
                settings.production()
            ),
        )
        .help(format!(
            "set `production-image: {renamed}`, or remove the overlay's `newName` to move production back to `image`"
        )),
    ))
}

fn report(
    settings: &PromoteSettings,
    promotion: &Promotion,
    facts: &RepoFacts,
    plan: &Plan,
    applied: &[Applied],
    requests: Requests,
    mut annotations: Vec<Annotation>,
) -> Report {
    let dry = settings.dry_run;
    let find = |pred: &dyn Fn(&Step) -> bool| plan.steps.iter().find(|s| pred(s));
    let version_step = find(
        &|s| matches!(s, Step::Retag { target, .. } if target.ends_with(&format!(":{}", promotion.production_tag))),
    );
    let moving_step = find(
        &|s| matches!(s, Step::Retag { target, .. } if target.ends_with(&format!(":{}", promotion.moving_tag))),
    );
    let release_step = find(&|s| matches!(s, Step::Release { .. }));
    let op = |step: Option<&Step>| step.and_then(|s| operation_of(s, applied, dry));
    let word = |o: &Option<(Operation, BTreeMap<String, String>)>| proposal::word(o, dry);
    let version_op = op(version_step);
    let moving_op = op(moving_step);
    let proposal::Outcome {
        commit,
        commit_operation,
        pr_number,
        pr_url,
        pr_operation,
    } = proposal::outcome(&plan.steps, applied, facts.pull.as_ref(), dry);

    let mut outputs = BTreeMap::new();
    outputs.insert("digest".to_string(), promotion.digest.clone());
    outputs.insert("staging-tag".to_string(), promotion.staging.tag.clone());
    outputs.insert(
        "production-tag".to_string(),
        promotion.production_tag.clone(),
    );
    outputs.insert("branch".to_string(), promotion.branch.clone());
    outputs.insert("commit".to_string(), commit.clone());
    outputs.insert("commit-operation".to_string(), commit_operation.clone());
    outputs.insert("pr-number".to_string(), pr_number.clone());
    outputs.insert("pr-url".to_string(), pr_url.clone());
    outputs.insert("pr-operation".to_string(), pr_operation.clone());
    let release_op = op(release_step);
    outputs.insert("release-operation".to_string(), word(&release_op));
    outputs.insert(
        "release-url".to_string(),
        release_op
            .as_ref()
            .and_then(|(_, p)| p.get("release-url").cloned())
            .unwrap_or_default(),
    );
    if let Some(evidence) = &promotion.gates {
        outputs.insert("gates".to_string(), evidence.state().word().to_string());
        outputs.insert(
            "rollback-command".to_string(),
            evidence.rollback.clone().unwrap_or_default(),
        );
    }
    let json = json!({
        "mode": Mode::Promote,
        "gates": promotion.gates,
        "dry_run": dry,
        "promotion": promotion,
        "production_tag_operation": word(&version_op),
        "moving_tag_operation": word(&moving_op),
        "commit": commit,
        "commit_operation": commit_operation,
        "pr_number": pr_number,
        "pr_url": pr_url,
        "pr_operation": pr_operation,
        "requests": requests,
        "plan": plan,
        "applied": applied,
    });
    outputs.insert(
        "json".to_string(),
        serde_json::to_string(&json).unwrap_or_default(),
    );

    let short = |s: &str| s.get(..7).unwrap_or(s).to_string();
    let moving_row = if !promotion_rules::moves(&promotion.moving_tag) {
        "none (`moving-tag: none`): production runs what the overlay pins".to_string()
    } else if settings.proposal.pull_request {
        format!(
            "`{}` not moved: it moves when the merged change is released",
            promotion.moving_tag
        )
    } else {
        format!("`{}` {}", promotion.moving_tag, word(&moving_op))
    };
    let mut rows = vec![("Image", format!("`{}`", promotion.image))];
    if promotion.production_image != promotion.image {
        rows.push((
            "Production image",
            format!("`{}`", promotion.production_image),
        ));
    }
    if promotion.production_image != promotion.image
        && let Some(cell) = signatures_cell(plan, applied, !settings.copy_signatures)
    {
        rows.push(("Signatures", cell));
    }
    rows.extend([
        (
            "Staging tag",
            format!("`{}` ({})", promotion.staging.tag, promotion.staging.why),
        ),
        ("Digest", format!("`{}`", promotion.digest)),
        (
            "Production tag",
            format!("`{}` {}", promotion.production_tag, word(&version_op)),
        ),
        ("Moving tag", moving_row),
        (
            "Overlay",
            format!(
                "`{}` on `{}` (`{}`)",
                promotion.manifest,
                facts.base_branch,
                short(&facts.base_sha)
            ),
        ),
        (
            "Commit",
            if commit.is_empty() {
                format!("{} (nothing to commit)", commit_operation.clone())
            } else {
                format!(
                    "`{}` on `{}` {} via {}",
                    short(&commit),
                    promotion.branch,
                    commit_operation.clone(),
                    settings.proposal.commit_via.as_str()
                )
            },
        ),
    ]);
    if settings.proposal.pull_request {
        rows.push((
            "Pull request",
            if pr_url.is_empty() {
                pr_operation.clone()
            } else {
                format!("[#{pr_number}]({pr_url}) {}", pr_operation.clone())
            },
        ));
    }
    rows.push((
        "Deploys",
        match (promotion.layout, settings.proposal.pull_request) {
            (Layout::Gitless, true) => format!(
                "on `release` after the merge (`{}` moves)",
                promotion.moving_tag
            ),
            (Layout::Classic, true) => {
                "when the pull request is merged (Flux applies the overlay)".to_string()
            }
            (_, false) => "now".to_string(),
        },
    ));
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
        "gitops-promote promote{}",
        if dry { " (dry run)" } else { "" }
    );
    let mut summary = format!("## {title}\n\n{}\n", markdown_table(&rows));
    if let Some(evidence) = &promotion.gates {
        summary.push_str(&format!("### Prerequisites\n\n{}\n", evidence.table()));
    }
    summary.push_str(&promotion.diagram());
    summary.push('\n');
    if !promotion.diff.is_empty() {
        summary.push_str(&format!("```diff\n{}```\n\n", promotion.diff));
    }
    summary.push_str(&plan.to_markdown());
    let mut text = format!("{title}\n{}", text_table(&rows));
    if dry {
        text.push_str(&format!(
            "\nplan (JSON):\n{}\n\n{}",
            serde_json::to_string_pretty(plan).unwrap_or_default(),
            plan.to_markdown()
        ));
    }
    for reason in &plan.skipped {
        annotations.push(Annotation::notice(
            "gitops-promote: nothing to promote",
            reason.clone(),
        ));
    }
    Report {
        outputs,
        summary,
        text,
        annotations,
        failure: None,
    }
}

#[cfg(test)]
mod tests;
