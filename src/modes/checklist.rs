//! Owns the `checklist` mode: on a `pull_request` event, the commit status `gitops-promote/checklist` on the pull
//! request's head follows the boxes of its checklist. Inputs → facts (the event's pull request, read again from
//! GitHub because the payload can be stale; its head commit's message when the body does not say it is ours; the
//! newest status of the context there) → plan (one `CommitStatus` step, or none for a pull request that is not a
//! promotion or rollback) → apply → report.

use std::collections::BTreeMap;

use serde_json::json;

use crate::actions::Console;
use crate::apply::{self, Effects};
use crate::checklist::{self, Tally};
use crate::env::GithubContext;
use crate::error::{Error, InputProblem, Kind, Result};
use crate::github;
use crate::inputs::{Invocation, Mode, Secret};
use crate::plan::{Plan, SeenStatus, Step};
use crate::promotion_rules::trailer;
use crate::proposal::{non_empty, operation_of, word};
use crate::report::{Report, markdown_table, text_table};

/// The events whose payload carries the pull request.
const EVENTS: [&str; 2] = ["pull_request", "pull_request_target"];

/// Typed inputs of `checklist`.
#[derive(Debug, Clone)]
pub struct ChecklistSettings {
    pub github_token: Secret,
    pub dry_run: bool,
    pub repository: String,
    /// The pull request's number, from the event payload.
    pub number: u64,
}

fn event_help() -> &'static str {
    "run `checklist` in a workflow `on: pull_request: types: [opened, edited, synchronize, reopened]` (see examples/workflows/checklist.yml)"
}

impl ChecklistSettings {
    /// Every problem at once, before any request: the token, the repository, the event and its payload.
    pub fn read(invocation: &Invocation, github: &GithubContext) -> Result<Self> {
        let mut r = invocation.reader();
        let dry_run = r.bool("dry-run");
        let github_token = r.secret("github-token");
        if github_token.is_none() {
            r.problem(
                InputProblem::new("github-token", "is required to read the pull request and set its status")
                    .help("pass `github-token: ${{ secrets.GITHUB_TOKEN }}` (the default in a workflow) with `permissions: statuses: write, pull-requests: read, contents: read`; the CLI reads GITHUB_TOKEN"),
            );
        }
        let repository = non_empty(&github.repository)
            .unwrap_or_default()
            .to_string();
        if repository.is_empty() {
            r.problem(
                InputProblem::new(
                    "mode",
                    "the repository is unknown: `GITHUB_REPOSITORY` is not set",
                )
                .help("run as a workflow step, or export GITHUB_REPOSITORY=owner/name for the CLI"),
            );
        }
        let number = match non_empty(&github.event_name) {
            Some(event) if EVENTS.contains(&event) => match read_number(github) {
                Ok(n) => Some(n),
                Err(p) => {
                    r.problem(p);
                    None
                }
            },
            other => {
                r.problem(
                    InputProblem::new(
                        "mode",
                        format!(
                            "`checklist` reads a pull request event, but GITHUB_EVENT_NAME is {}",
                            other.map_or("not set".to_string(), |e| format!("`{e}`"))
                        ),
                    )
                    .help(event_help()),
                );
                None
            }
        };
        r.finish()?;
        let missing = |what: &str| Error::new(Kind::Input, format!("{what} is missing"));
        Ok(Self {
            github_token: github_token.ok_or_else(|| missing("input `github-token`"))?,
            dry_run,
            repository,
            number: number.ok_or_else(|| missing("the pull request's number"))?,
        })
    }
}

/// The pull request's number from the payload at `GITHUB_EVENT_PATH`.
fn read_number(github: &GithubContext) -> std::result::Result<u64, InputProblem> {
    let problem = |message: String| {
        InputProblem::new("mode", message).help(
            "GitHub writes the event's payload to GITHUB_EVENT_PATH on every runner; for the CLI, export GITHUB_EVENT_PATH=<a file with {\"pull_request\": {\"number\": N}}>",
        )
    };
    let path = github
        .event_path
        .as_ref()
        .filter(|p| !p.as_os_str().is_empty())
        .ok_or_else(|| problem("GITHUB_EVENT_PATH is not set".to_string()))?;
    let text = std::fs::read_to_string(path).map_err(|e| {
        problem(format!(
            "can't read GITHUB_EVENT_PATH `{}`: {e}",
            path.display()
        ))
    })?;
    let payload: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        problem(format!(
            "GITHUB_EVENT_PATH `{}` is not JSON: {e}",
            path.display()
        ))
    })?;
    payload["pull_request"]["number"]
        .as_u64()
        .or_else(|| payload["number"].as_u64())
        .ok_or_else(|| {
            problem(format!(
                "the event payload at `{}` has no `pull_request.number`",
                path.display()
            ))
        })
}

/// What GitHub says about the pull request, read before planning.
#[derive(Debug, Clone)]
pub struct Facts {
    pub pull: github::Pull,
    /// The body carries the checklist's markers or the record, or the head commit the project's trailers.
    pub ours: bool,
    /// The newest `gitops-promote/checklist` status on the head (`None`: not read, for a foreign pull request).
    pub found: Option<SeenStatus>,
}

/// Whether a body or a commit message was written by `promote` or `rollback`.
pub fn body_is_ours(body: &str) -> bool {
    body.contains(checklist::BEGIN) || body.contains(trailer::RECORD)
}

pub fn message_is_ours(message: &str) -> bool {
    message
        .lines()
        .any(|l| l.trim_start().starts_with(trailer::PREFIX))
}

fn read_facts(client: &github::Client, number: u64) -> Result<Facts> {
    client.block_on(async {
        // The payload's copy of the body can be older than a quick second edit: the pull request is read again.
        let pull = client.pull_async(number).await?;
        let head = pull.head_sha.clone();
        let status = async {
            client
                .status_of_async(&head, checklist::CONTEXT)
                .await
                .map(|s| SeenStatus {
                    sha: head.clone(),
                    status: s.map(|s| (s.state, s.description.unwrap_or_default())),
                })
        };
        if body_is_ours(&pull.body) {
            let found = status.await?;
            return Ok(Facts {
                pull,
                ours: true,
                found: Some(found),
            });
        }
        // Not said in the body (a person rewrote it): the head commit's trailers decide, read with the status.
        let (message, found) = tokio::try_join!(client.commit_message_async(&head), status)?;
        let ours = message_is_ours(&message);
        Ok(Facts {
            pull,
            ours,
            found: ours.then_some(found),
        })
    })
}

/// Pure: the status step for the pull request, or nothing for one that is not ours.
pub fn plan(settings: &ChecklistSettings, facts: &Facts) -> (Plan, Tally) {
    let mut plan = Plan::new(Mode::Checklist, settings.dry_run);
    let tally = checklist::tally(&facts.pull.body);
    if !facts.ours {
        plan.skipped.push(format!(
            "pull request #{} is not a promotion or rollback (no gitops-promote marker in its body, no Gitops-Promote- trailer on its head): left alone",
            facts.pull.number
        ));
        return (plan, tally);
    }
    let status = checklist::status(tally);
    plan.steps.push(Step::CommitStatus {
        repository: settings.repository.clone(),
        sha: Some(facts.pull.head_sha.clone()),
        // Only named when the commit is not known; here it always is.
        branch: String::new(),
        context: checklist::CONTEXT.to_string(),
        state: status.state,
        description: status.description,
        target_url: non_empty(&Some(facts.pull.html_url.clone())).map(str::to_string),
        found: facts.found.clone(),
        warn_only: false,
    });
    (plan, tally)
}

/// Runs `checklist` end to end.
pub fn run(
    invocation: &Invocation,
    github_ctx: &GithubContext,
    console: &mut Console,
) -> Result<Report> {
    let settings = ChecklistSettings::read(invocation, github_ctx)?;
    console.mask(settings.github_token.expose());
    let client = github::Client::new(
        github::Settings::for_run(
            github_ctx.api_url(),
            Some(settings.github_token.clone()),
            &settings.repository,
        )
        .map_err(Error::input)?,
    )?;
    console.group(&format!("Read pull request #{}", settings.number));
    let facts = read_facts(&client, settings.number);
    for line in client.take_progress() {
        console.info(&line);
    }
    console.end_group();
    let facts = facts?;
    let (plan, tally) = plan(&settings, &facts);
    let applied = apply::apply(
        &plan,
        &mut Effects {
            git: None,
            github_token: Some(&settings.github_token),
            registry: None,
            branches: None,
            github: Some(&client),
            console,
        },
    )?;
    let dry = settings.dry_run;
    let step = plan.steps.first();
    let op = step.and_then(|s| operation_of(s, &applied, dry));
    let operation = word(&op, dry);
    let (state, description) = match step {
        Some(Step::CommitStatus {
            state, description, ..
        }) => (state.clone(), description.clone()),
        _ => (String::new(), String::new()),
    };
    let pull = &facts.pull;
    let mut outputs = BTreeMap::new();
    outputs.insert("checklist-state".to_string(), state.clone());
    outputs.insert("checklist-description".to_string(), description.clone());
    outputs.insert("checklist-operation".to_string(), operation.clone());
    let json = json!({
        "mode": Mode::Checklist,
        "dry_run": dry,
        "pr_number": pull.number,
        "pr_url": pull.html_url,
        "head": pull.head_sha,
        "ours": facts.ours,
        "checklist": checklist::parse(&pull.body),
        "tally": tally,
        "checklist_state": state,
        "checklist_description": description,
        "checklist_operation": operation,
        "requests": client.requests(),
        "plan": plan,
        "applied": applied,
    });
    outputs.insert(
        "json".to_string(),
        serde_json::to_string(&json).unwrap_or_default(),
    );

    let short = pull.head_sha.get(..7).unwrap_or(&pull.head_sha);
    let mut rows = vec![(
        "Pull request",
        format!("[#{}]({}) at `{short}`", pull.number, pull.html_url),
    )];
    if facts.ours {
        rows.push((
            "Checklist",
            match tally {
                Tally::Ticked { ticked, total } => format!("{ticked} of {total} ticked"),
                Tally::NoItems => "no items left".to_string(),
                Tally::NoSection => "deleted".to_string(),
            },
        ));
        rows.push((
            "Status",
            format!(
                "`{}` {state} (\"{description}\") {operation}",
                checklist::CONTEXT
            ),
        ));
    } else {
        rows.push((
            "Status",
            "not set: not a promotion or rollback pull request, left alone".to_string(),
        ));
    }
    rows.push(("Requests", format!("GitHub {}", client.requests())));
    let title = format!(
        "gitops-promote checklist{}",
        if dry { " (dry run)" } else { "" }
    );
    let mut summary = format!("## {title}\n\n{}\n", markdown_table(&rows));
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
        annotations: Vec::new(),
        failure: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(body: &str, ours: bool, found: Option<(&str, &str)>) -> Facts {
        Facts {
            pull: github::Pull {
                number: 7,
                html_url: "https://github.com/o/r/pull/7".into(),
                title: "Promote".into(),
                body: body.into(),
                draft: false,
                labels: Vec::new(),
                requested_reviewers: Vec::new(),
                requested_teams: Vec::new(),
                head_sha: "a".repeat(40),
                base: "main".into(),
                default_branch: None,
                state: "open".into(),
            },
            ours,
            found: Some(SeenStatus {
                sha: "a".repeat(40),
                status: found.map(|(s, d)| (s.to_string(), d.to_string())),
            }),
        }
    }

    fn settings() -> ChecklistSettings {
        ChecklistSettings {
            github_token: Secret::new("t".to_string()),
            dry_run: true,
            repository: "o/r".into(),
            number: 7,
        }
    }

    #[test]
    fn ours_is_said_by_the_body_or_the_trailers() {
        assert!(body_is_ours(&format!("x\n{}\n", checklist::BEGIN)));
        assert!(body_is_ours("x\n<!-- gitops-promote: {} -->\n"));
        assert!(!body_is_ours("Bump serde\n- [ ] tested"));
        assert!(message_is_ours(
            "chore(release): promote\n\nGitops-Promote-Digest: sha256:1\n"
        ));
        assert!(!message_is_ours("fix: a bug\n\nSigned-off-by: me\n"));
    }

    #[test]
    fn the_plan_sets_the_tally_and_a_foreign_pull_request_gets_nothing() {
        let body = format!(
            "{}\n- [x] Manual QA completed\n- [ ] Stakeholders notified\n{}\n",
            checklist::BEGIN,
            checklist::END
        );
        let (p, _) = plan(&settings(), &facts(&body, true, None));
        match p.steps.as_slice() {
            [
                Step::CommitStatus {
                    state, description, ..
                },
            ] => assert_eq!(
                (state.as_str(), description.as_str()),
                ("pending", "1 of 2 items ticked")
            ),
            other => panic!("{other:?}"),
        }
        let (p, _) = plan(&settings(), &facts("Bump serde", false, None));
        assert!(p.steps.is_empty());
        assert!(p.skipped[0].contains("left alone"));
        let (p, _) = plan(&settings(), &facts("rewritten", true, None));
        assert!(
            matches!(&p.steps[0], Step::CommitStatus { state, .. } if state == "failure"),
            "ours, with its checklist deleted"
        );
    }
}
