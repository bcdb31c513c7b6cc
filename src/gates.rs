//! Owns the promotion gates: the evidence for each of the seed's "Production Promotion" prerequisites
//! (integration tests passed, staging deployment successful, rollback plan documented, and the manual items),
//! gathered before any write, and the pure decision whether the promotion may go on.
//!
//! The evidence is a table in the pull request's body (between [`BEGIN`] and [`END`], replaced in place on a
//! rerun) and in the step summary; the `gates` output carries it as JSON.

use std::time::{Duration, Instant};

use serde::Serialize;

use crate::actions::Console;
use crate::error::{Error, InputProblem, Kind, Result};
use crate::flux::discover::Model;
use crate::flux::{self, Environment, normalize_image};
use crate::github::{self, CheckRun, CommitStatus};
use crate::inputs::Reader;

/// Where the gates table starts in the pull request's body.
pub const BEGIN: &str = "<!-- gitops-promote:gates -->";
/// Where it ends.
pub const END: &str = "<!-- /gitops-promote:gates -->";

/// Which checks must have passed (`require-checks`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Required {
    /// Nothing is refused; the evidence is still shown.
    Nothing,
    /// `*`: every check run and every commit status on the commit.
    Every,
    /// These check-run names or status contexts.
    Names(Vec<String>),
}

/// Typed gate inputs of `promote`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GateSettings {
    pub required: Required,
    /// How long to wait for pending checks (`wait-for-checks`, minutes); zero refuses at once.
    pub wait: Duration,
    /// Refuse a tag staging's filter never matches (`require-staging`).
    pub require_staging: bool,
}

impl GateSettings {
    pub fn read(r: &mut Reader<'_>) -> Self {
        let required = match r.text("require-checks") {
            None => Required::Nothing,
            Some(v) if v == "*" => Required::Every,
            Some(v) => Required::Names(
                v.split([',', '\n'])
                    .map(str::trim)
                    .filter(|n| !n.is_empty())
                    .map(str::to_string)
                    .collect(),
            ),
        };
        let wait = r
            .parse("wait-for-checks", |v| {
                v.parse::<f64>()
                    .ok()
                    .filter(|m| m.is_finite() && *m >= 0.0 && *m <= 360.0)
                    .map(|m| Duration::from_secs_f64(m * 60.0))
                    .ok_or_else(|| {
                        InputProblem::new("wait-for-checks", format!("`{v}` is not a number of minutes"))
                            .help("give minutes from 0 to 360, e.g. `15` (0: refuse pending checks at once)")
                    })
            })
            .unwrap_or_default();
        let require_staging = r.bool("require-staging");
        GateSettings {
            required,
            wait,
            require_staging,
        }
    }
}

/// A gate's state, as the table shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Passed,
    Failed,
    Pending,
    Manual,
}

impl State {
    pub fn word(self) -> &'static str {
        match self {
            State::Passed => "passed",
            State::Failed => "failed",
            State::Pending => "pending",
            State::Manual => "manual",
        }
    }
}

/// One row of the evidence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Gate {
    pub prerequisite: String,
    pub state: State,
    /// Markdown: what was seen, with its link.
    pub evidence: String,
    /// Whether this row refuses the promotion when it is not passed.
    pub required: bool,
}

/// Everything the gates found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The commit whose checks were read, and where it came from.
    pub commit: Option<String>,
    pub commit_source: String,
    pub gates: Vec<Gate>,
    /// The exact command that returns production to the previous release.
    pub rollback: Option<String>,
    pub warnings: Vec<String>,
}

impl Evidence {
    /// `passed`, `failed` or `pending`: the worst required row (manual rows count as passed here).
    pub fn state(&self) -> State {
        let required = || self.gates.iter().filter(|g| g.required);
        if required().any(|g| g.state == State::Failed) {
            State::Failed
        } else if required().any(|g| g.state == State::Pending) {
            State::Pending
        } else {
            State::Passed
        }
    }

    /// The refusal when a required row is not passed, naming each (with its link) and what to do.
    pub fn refusal(&self) -> Option<Error> {
        let blocking: Vec<&Gate> = self
            .gates
            .iter()
            .filter(|g| g.required && matches!(g.state, State::Failed | State::Pending))
            .collect();
        if blocking.is_empty() {
            return None;
        }
        let lines: Vec<String> = blocking
            .iter()
            .map(|g| format!("{} {}: {}", g.prerequisite, g.state.word(), g.evidence))
            .collect();
        let pending = blocking.iter().all(|g| g.state == State::Pending);
        Some(
            Error::new(
                Kind::Conflict,
                format!(
                    "promotion refused: {} prerequisite(s) not met, nothing was written:\n  - {}",
                    blocking.len(),
                    lines.join("\n  - ")
                ),
            )
            .with_help(if pending {
                "rerun when the checks have finished, or give `wait-for-checks` (minutes) to wait for them"
            } else {
                "fix what failed and promote again (or change `require-checks` / `require-staging` if the gate is wrong)"
            }),
        )
    }

    /// The table, between the markers, for the pull request's body.
    pub fn section(&self) -> String {
        format!("{BEGIN}\n### Prerequisites\n\n{}{END}\n", self.table())
    }

    /// The markdown table (prerequisite, state, evidence).
    pub fn table(&self) -> String {
        let mut md = String::from("| Prerequisite | State | Evidence |\n|---|---|---|\n");
        for g in &self.gates {
            md.push_str(&format!(
                "| {} | {} | {} |\n",
                cell(&g.prerequisite),
                g.state.word(),
                cell(&g.evidence)
            ));
        }
        md
    }
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// `body` with its gates section replaced by `section` (appended when it has none): a rerun never duplicates it,
/// and the rest of the body (a person's edits, other sections) stays as it is.
pub fn splice(body: &str, section: &str) -> String {
    match (body.find(BEGIN), body.find(END)) {
        (Some(start), Some(end)) if end > start => {
            let after = &body[end + END.len()..];
            let after = after.strip_prefix('\n').unwrap_or(after);
            format!("{}{section}{after}", &body[..start])
        }
        _ => {
            let sep = if body.is_empty() || body.ends_with("\n\n") {
                ""
            } else if body.ends_with('\n') {
                "\n"
            } else {
                "\n\n"
            };
            format!("{body}{sep}{section}")
        }
    }
}

/// What one required name (or every check, for `*`) amounts to, from the newest check runs and statuses.
pub fn check_gates(required: &Required, runs: &[CheckRun], statuses: &[CommitStatus]) -> Vec<Gate> {
    let newest = newest_runs(runs);
    let row = |name: &str, state: State, evidence: String, required: bool| Gate {
        prerequisite: format!("Integration tests: `{name}`"),
        state,
        evidence,
        required,
    };
    let of_run = |r: &CheckRun, required: bool| {
        let (state, word) = run_state(r);
        let url = r.html_url.clone().or_else(|| r.details_url.clone());
        row(&r.name, state, linked(&word, url.as_deref()), required)
    };
    let of_status = |s: &CommitStatus, required: bool| {
        let state = match s.state.as_str() {
            "success" => State::Passed,
            "pending" => State::Pending,
            _ => State::Failed,
        };
        let word = if state == State::Pending {
            "still running (status pending)".to_string()
        } else {
            format!("status {}", s.state)
        };
        row(
            &s.context,
            state,
            linked(&word, s.target_url.as_deref()),
            required,
        )
    };
    match required {
        Required::Names(names) => {
            let mut rows: Vec<Gate> = names
                .iter()
                .map(|name| {
                    if let Some(r) = newest.iter().find(|r| r.name == *name) {
                        of_run(r, true)
                    } else if let Some(s) = statuses
                        .iter()
                        .find(|s| s.context.eq_ignore_ascii_case(name))
                    {
                        of_status(s, true)
                    } else {
                        row(
                            name,
                            State::Pending,
                            "not reported yet: no check run or commit status of this name"
                                .to_string(),
                            true,
                        )
                    }
                })
                .collect();
            // The others are shown too (not required), so the table is the commit's whole evidence.
            let named = |n: &str| names.iter().any(|m| m.eq_ignore_ascii_case(n));
            rows.extend(
                newest
                    .iter()
                    .filter(|r| !named(&r.name))
                    .map(|r| of_run(r, false)),
            );
            rows.extend(
                statuses
                    .iter()
                    .filter(|s| !named(&s.context))
                    .map(|s| of_status(s, false)),
            );
            rows
        }
        Required::Every | Required::Nothing => {
            let must = *required == Required::Every;
            let mut rows: Vec<Gate> = newest.iter().map(|r| of_run(r, must)).collect();
            rows.extend(statuses.iter().map(|s| of_status(s, must)));
            if rows.is_empty() {
                rows.push(Gate {
                    prerequisite: "Integration tests".to_string(),
                    state: if must { State::Pending } else { State::Manual },
                    evidence: "no check run or commit status reported yet".to_string(),
                    required: must,
                });
            }
            rows
        }
    }
}

/// The newest run of each name (highest id), in name order.
fn newest_runs(runs: &[CheckRun]) -> Vec<&CheckRun> {
    let mut newest: Vec<&CheckRun> = Vec::new();
    for r in runs {
        match newest.iter_mut().find(|n| n.name == r.name) {
            Some(n) if n.id < r.id => *n = r,
            Some(_) => {}
            None => newest.push(r),
        }
    }
    newest.sort_by(|a, b| a.name.cmp(&b.name));
    newest
}

fn run_state(r: &CheckRun) -> (State, String) {
    if r.status != "completed" {
        return (State::Pending, format!("still running ({})", r.status));
    }
    match r.conclusion.as_deref() {
        Some("success") => (State::Passed, "success".to_string()),
        // GitHub's own rule for required checks: neutral and skipped do not block.
        Some(c @ ("neutral" | "skipped")) => (State::Passed, format!("{c} (counts as passed)")),
        Some(c) => (State::Failed, c.to_string()),
        None => (State::Pending, "still running".to_string()),
    }
}

fn linked(text: &str, url: Option<&str>) -> String {
    match url {
        Some(u) if !u.is_empty() => format!("[{text}]({u})"),
        _ => text.to_string(),
    }
}

/// Staging deployment: staging's Flux objects (the model `plan` and `select` use) match `tag`.
/// `selected` is what staging selects now when the registry's tags were listed.
pub fn staging_gate(
    model: &Model,
    image: &str,
    tag: &str,
    digest: &str,
    selected: Option<&str>,
    require: bool,
    warnings: &mut Vec<String>,
) -> Gate {
    let wanted = normalize_image(image);
    let one = vec![tag.to_string()];
    let predictions = flux::predict(model, &|i: &str| {
        (normalize_image(i) == wanted).then(|| one.clone())
    });
    let staging: Vec<_> = predictions
        .iter()
        .filter(|p| {
            p.environment == Some(Environment::Staging) && normalize_image(&p.image) == wanted
        })
        .collect();
    let short = digest.get(..19).unwrap_or(digest);
    let (state, evidence) = match staging.first() {
        None => (
            State::Manual,
            format!(
                "no staging Flux object watches `{image}`: staging's deployment can't be checked here"
            ),
        ),
        Some(p) => match &p.selected {
            Some(Ok(sel)) if sel.iter().any(|t| t == tag) => match selected {
                Some(now) if now != tag => {
                    warnings.push(format!(
                        "`{tag}` is a tag staging's `{}` matches, but staging now selects `{now}`: staging moved on to a newer one",
                        p.object
                    ));
                    (
                        State::Passed,
                        format!(
                            "`{}` matches `{tag}` (`{short}`); staging now selects `{now}`",
                            p.object
                        ),
                    )
                }
                _ => (
                    State::Passed,
                    format!("`{}` selects `{tag}` (`{short}`)", p.object),
                ),
            },
            _ => (
                State::Failed,
                format!(
                    "`{}` ({}:{}) never matches `{tag}`: it never ran in staging",
                    p.object, p.file, p.line
                ),
            ),
        },
    };
    Gate {
        prerequisite: "Staging deployment successful".to_string(),
        state,
        evidence,
        required: require && state == State::Failed,
    }
}

/// The command that returns production to `previous`.
pub fn rollback_command(previous: &str) -> String {
    format!("gh workflow run rollback.yml -f to={previous}")
}

/// Rollback plan: the previous production release at the base branch's tip, and the command back to it.
pub fn rollback_gate(previous: Option<(&str, Option<&str>)>, base: &str) -> Gate {
    let (state, evidence) = match previous {
        Some((tag, digest)) => (
            State::Passed,
            format!(
                "previous release `{tag}`{} on `{base}`; back to it: `{}`",
                digest
                    .map(|d| format!(" (`{}`)", d.get(..19).unwrap_or(d)))
                    .unwrap_or_default(),
                rollback_command(tag)
            ),
        ),
        None => (
            State::Manual,
            format!("no previous production release on `{base}`: this is the first"),
        ),
    };
    Gate {
        prerequisite: "Rollback plan documented".to_string(),
        state,
        evidence,
        required: false,
    }
}

/// The seed's manual items: shown, for a person to tick in the pull request.
pub fn manual_gates() -> Vec<Gate> {
    ["Manual QA completed", "Stakeholders notified"]
        .iter()
        .map(|p| Gate {
            prerequisite: p.to_string(),
            state: State::Manual,
            evidence: "a person confirms it in the pull request".to_string(),
            required: false,
        })
        .collect()
}

/// One read of a commit's check runs and commit statuses.
pub type ChecksRead = Result<(Vec<CheckRun>, Vec<CommitStatus>)>;

/// Reads the commit's checks and statuses (one concurrent wave; `first` when the caller already sent it beside
/// its other reads); with pending required checks and a `wait`, polls with backoff until they finish or the
/// wait is over, logging progress.
pub fn read_checks(
    client: &github::Client,
    sha: &str,
    settings: &GateSettings,
    mut first: Option<ChecksRead>,
    console: &mut Console,
) -> Result<Vec<Gate>> {
    let started = Instant::now();
    let mut pause = Duration::from_secs(1);
    loop {
        // A missing `checks: read` / `statuses: read` comes back with both `permissions:` lines in its help.
        let (runs, statuses) = match first.take() {
            Some(read) => read?,
            None => client.checks_and_statuses(sha)?,
        };
        let gates = check_gates(&settings.required, &runs, &statuses);
        let pending: Vec<&Gate> = gates
            .iter()
            .filter(|g| g.required && g.state == State::Pending)
            .collect();
        let failed = gates.iter().any(|g| g.required && g.state == State::Failed);
        let left = settings.wait.saturating_sub(started.elapsed());
        if pending.is_empty() || failed || left.is_zero() {
            return Ok(gates);
        }
        let names: Vec<&str> = pending.iter().map(|g| g.prerequisite.as_str()).collect();
        let pause_now = pause.min(left);
        console.info(&format!(
            "waiting for {} ({}s elapsed, {}s left; next look in {}s)",
            names.join(", "),
            started.elapsed().as_secs(),
            left.as_secs(),
            pause_now.as_secs_f32().ceil()
        ));
        std::thread::sleep(pause_now);
        pause = (pause * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(id: u64, name: &str, status: &str, conclusion: Option<&str>) -> CheckRun {
        CheckRun {
            id,
            name: name.into(),
            status: status.into(),
            conclusion: conclusion.map(str::to_string),
            html_url: Some(format!("https://github.com/o/r/runs/{id}")),
            details_url: None,
        }
    }

    #[test]
    fn the_newest_run_of_a_name_counts_and_neutral_or_skipped_pass() {
        let runs = [
            run(1, "test", "completed", Some("failure")),
            run(2, "test", "completed", Some("success")),
            run(3, "lint", "completed", Some("skipped")),
        ];
        let names = Required::Names(vec!["test".into(), "lint".into(), "e2e".into()]);
        let gates = check_gates(&names, &runs, &[]);
        assert_eq!(gates[0].state, State::Passed);
        assert_eq!(gates[1].state, State::Passed);
        assert!(gates[1].evidence.contains("counts as passed"));
        assert_eq!(gates[2].state, State::Pending);
        assert!(gates[2].evidence.contains("not reported yet"));
    }

    #[test]
    fn every_check_refuses_on_one_unrelated_failure_and_nothing_required_refuses_nothing() {
        let runs = [
            run(1, "test", "completed", Some("success")),
            run(2, "docs", "completed", Some("failure")),
        ];
        let status = CommitStatus {
            context: "ci/e2e".into(),
            state: "pending".into(),
            target_url: None,
            description: None,
        };
        let every = Evidence {
            commit: None,
            commit_source: String::new(),
            gates: check_gates(&Required::Every, &runs, std::slice::from_ref(&status)),
            rollback: None,
            warnings: Vec::new(),
        };
        assert_eq!(every.state(), State::Failed);
        let refusal = every.refusal().expect("refused");
        assert!(
            refusal
                .message
                .contains("`docs` failed: [failure](https://github.com/o/r/runs/2)"),
            "{}",
            refusal.message
        );
        let nothing = Evidence {
            gates: check_gates(&Required::Nothing, &runs, &[status]),
            ..every
        };
        assert!(nothing.refusal().is_none());
        assert!(
            nothing
                .table()
                .contains("| Integration tests: `docs` | failed |")
        );
    }

    #[test]
    fn the_section_is_replaced_in_place_and_never_duplicated() {
        let a = format!("{BEGIN}\nold\n{END}\n");
        let body = format!("intro\n\n{a}\n- [x] ticked\n");
        let once = splice(&body, &format!("{BEGIN}\nnew\n{END}\n"));
        assert_eq!(
            once,
            format!("intro\n\n{BEGIN}\nnew\n{END}\n\n- [x] ticked\n")
        );
        assert_eq!(splice(&once, &format!("{BEGIN}\nnew\n{END}\n")), once);
        assert_eq!(splice("intro", "S\n"), "intro\n\nS\n");
    }

    #[test]
    fn the_rollback_line_names_the_previous_release() {
        let g = rollback_gate(Some(("v1.2.2", Some("sha256:abc"))), "main");
        assert!(
            g.evidence
                .contains("`gh workflow run rollback.yml -f to=v1.2.2`")
        );
        assert_eq!(rollback_gate(None, "main").state, State::Manual);
    }
}
