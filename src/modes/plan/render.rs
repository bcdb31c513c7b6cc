//! Renders a plan [`Overview`] for people and machines: a table per application with a Mermaid diagram (the
//! step summary), aligned text (the log), and the outputs (`json`, `matrix`, the drift verdict).

use super::*;

pub(super) fn env_name(env: Option<Environment>) -> &'static str {
    env.map(|e| e.name()).unwrap_or("unknown")
}

fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', ""))
}

/// What a row says Flux selects, in Markdown.
fn selection_md(state: &EnvironmentState) -> String {
    match &state.selected {
        Selection::Tag { tag, digest, more } => {
            let mut s = code(tag);
            if let Some(m) = &state.moving_tag
                && m.tag == *tag
                && let Some(same) = &m.same_as
            {
                s.push_str(&format!(" = {}", code(same)));
            }
            if *more > 0 {
                s.push_str(&format!(" (+{more} more)"));
            }
            match digest {
                Some(d) => s.push_str(&format!("<br>{}", code(&short(d)))),
                None => s.push_str("<br>not resolved"),
            }
            s
        }
        Selection::Nothing => "nothing: no tag passes the filter".to_string(),
        Selection::Fails { error } => format!("nothing, Flux fails: {error}"),
        Selection::Unknown { error } => format!("unknown: {error}"),
        Selection::Overlay => "no Flux object: the overlay deploys".to_string(),
    }
}

fn selection_text(state: &EnvironmentState) -> String {
    match &state.selected {
        Selection::Tag { tag, digest, more } => {
            let mut s = tag.clone();
            if let Some(m) = &state.moving_tag
                && m.tag == *tag
                && let Some(same) = &m.same_as
            {
                s.push_str(&format!(" = {same}"));
            }
            if *more > 0 {
                s.push_str(&format!(" (+{more})"));
            }
            if let Some(d) = digest {
                s.push_str(&format!(" {}", short(d)));
            }
            s
        }
        Selection::Nothing => "nothing".to_string(),
        Selection::Fails { .. } => "nothing (Flux fails)".to_string(),
        Selection::Unknown { .. } => "unknown (registry not read)".to_string(),
        Selection::Overlay => "(overlay)".to_string(),
    }
}

fn pin_md(pin: &OverlayPin) -> String {
    if pin.file.is_empty() {
        return "no overlay".to_string();
    }
    if !pin.exists {
        return format!("no overlay ({})", code(&pin.file));
    }
    let what = match (&pin.tag, &pin.digest) {
        (None, None) => "nothing".to_string(),
        (Some(t), None) => code(t),
        (None, Some(d)) => code(&short(d)),
        (Some(t), Some(d)) => format!("{}<br>{}", code(t), code(&short(d))),
    };
    format!("{what}<br><sub>{}</sub>", code(&pin.file))
}

fn pin_text(pin: &OverlayPin) -> String {
    if !pin.exists {
        return "(no overlay)".to_string();
    }
    match (&pin.tag, &pin.digest) {
        (None, None) => "nothing".to_string(),
        (Some(t), None) => t.clone(),
        (None, Some(d)) => short(d),
        (Some(t), Some(d)) => format!("{t} {}", short(d)),
    }
}

fn promotion_md(p: &NextPromotion) -> String {
    match p {
        NextPromotion::Pending {
            staging_tag,
            why,
            digest,
            production_tag,
            from,
            ..
        } => format!(
            "**Next promotion:** {} → production as {} (digest {}; production pins {} now). Staging's tag: {why}. In the `matrix` output.",
            code(staging_tag),
            code(production_tag),
            code(&short(digest)),
            from.as_deref()
                .map(code)
                .unwrap_or_else(|| "nothing".to_string()),
        ),
        NextPromotion::UpToDate {
            production_tag,
            digest,
        } => format!(
            "**Next promotion:** none, production already pins staging's image ({} at {}).",
            code(production_tag),
            code(&short(digest))
        ),
        NextPromotion::Behind {
            staging_tag,
            production_tag,
            pinned,
        } => format!(
            "**Next promotion:** none: staging runs {} (→ {}), older than production's {}; promoting it would roll production back, so it is not in the `matrix` output.",
            code(staging_tag),
            code(production_tag),
            code(pinned)
        ),
        NextPromotion::Blocked { reason } => {
            format!("**Next promotion:** blocked, `promote` would fail: {reason}")
        }
        NextPromotion::Nothing { reason } => format!("**Next promotion:** none: {reason}."),
    }
}

fn promotion_text(p: &NextPromotion) -> String {
    let plain = promotion_md(p).replace(['`', '*'], "");
    plain
        .strip_prefix("Next promotion: ")
        .unwrap_or(&plain)
        .to_string()
}

/// Aligned columns, the first row a header.
fn columns(rows: &[Vec<String>]) -> String {
    let count = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..count)
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::from(" ");
        for (i, cell) in row.iter().enumerate() {
            let pad = widths[i] - cell.chars().count();
            line.push(' ');
            line.push_str(cell);
            if i + 1 < row.len() {
                line.push_str(&" ".repeat(pad + 1));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The label a diagram node shows: the version the environment runs.
pub(super) fn runs(state: &EnvironmentState) -> String {
    match &state.selected {
        Selection::Tag { tag, .. } => match &state.moving_tag {
            Some(m) if m.tag == *tag => m.same_as.clone().unwrap_or_else(|| {
                m.digest
                    .as_deref()
                    .map(short)
                    .unwrap_or_else(|| tag.clone())
            }),
            _ => tag.clone(),
        },
        Selection::Nothing | Selection::Fails { .. } => "nothing".to_string(),
        Selection::Unknown { .. } => "unknown".to_string(),
        Selection::Overlay => state
            .overlay
            .tag
            .clone()
            .or_else(|| state.overlay.digest.as_deref().map(short))
            .unwrap_or_else(|| "nothing pinned".to_string()),
    }
}

/// A Mermaid flowchart: develop → staging → production per application, with the versions each runs.
fn diagram(overview: &Overview) -> String {
    let clean = |s: &str| s.replace(['"', '`', '[', ']', '{', '}', '|'], "");
    let mut out = String::from("```mermaid\nflowchart LR\n");
    for (i, app) in overview.applications.iter().enumerate() {
        let id = |env: &str| format!("a{i}_{env}");
        out.push_str(&format!("  subgraph a{i} [\"{}\"]\n", clean(&app.app)));
        out.push_str("    direction LR\n");
        let mut nodes: Vec<(Environment, String)> = Vec::new();
        for state in &app.environments {
            let Some(env) = state.environment else {
                continue;
            };
            if nodes.iter().any(|(e, _)| *e == env) {
                continue;
            }
            let drifted = app.drift.iter().any(|d| d.environment == Some(env));
            let running = runs(state);
            let warning = match (&state.overlay.tag, drifted) {
                (_, false) => String::new(),
                (Some(pinned), true) if *pinned != running => {
                    format!("<br/>⚠ drift: the overlay says {}", clean(pinned))
                }
                _ => "<br/>⚠ drift".to_string(),
            };
            let label = format!("{}<br/>{}{warning}", env.name(), clean(&running));
            out.push_str(&format!("    {}[\"{label}\"]\n", id(env.name())));
            nodes.push((env, id(env.name())));
        }
        for pair in nodes.windows(2) {
            let (from, to) = (&pair[0], &pair[1]);
            let label = if from.0 == Environment::Staging && to.0 == Environment::Production {
                match &app.promotion {
                    NextPromotion::Pending { production_tag, .. } => {
                        format!("promote {}", clean(production_tag))
                    }
                    NextPromotion::UpToDate { .. } => "up to date".to_string(),
                    NextPromotion::Behind { .. } => "staging is behind".to_string(),
                    NextPromotion::Blocked { .. } => "blocked".to_string(),
                    NextPromotion::Nothing { .. } => String::new(),
                }
            } else {
                String::new()
            };
            if label.is_empty() {
                out.push_str(&format!("    {} --> {}\n", from.1, to.1));
            } else {
                out.push_str(&format!("    {} -->|\"{label}\"| {}\n", from.1, to.1));
            }
        }
        out.push_str("  end\n");
    }
    out.push_str("```\n");
    out
}

/// Pure: the report of an overview.
pub fn report(
    overview: &Overview,
    findings: &[Finding],
    fail_on_drift: bool,
    requests: u64,
) -> Report {
    let matrix = overview.matrix();
    let drift: Vec<(&Application, &Drift)> = overview.drift().collect();
    let headline = format!(
        "{} application(s) under `{}`: {} promotion(s) pending, {} drift, {} lint finding(s)",
        overview.applications.len(),
        overview.flux_path,
        matrix.len(),
        drift.len(),
        findings.len()
    );
    let mut summary = format!("## gitops-promote plan\n\n{headline}.\n\n");
    let mut text = format!("gitops-promote plan: {}\n", headline.replace('`', ""));
    if overview.applications.is_empty() {
        summary.push_str(&format!(
            "No ResourceSetInputProvider or ImagePolicy watches an image under `{}`.\n\n",
            overview.flux_path
        ));
    } else {
        summary.push_str(&diagram(overview));
        summary.push('\n');
    }
    for app in &overview.applications {
        let deploys = match app.layout {
            Layout::Gitless => format!(
                "production's provider follows `{}`: production runs what it points to",
                overview.moving_tag
            ),
            Layout::Classic => "Flux applies the production overlay from git".to_string(),
        };
        summary.push_str(&format!(
            "### {}\n\nImage {}; {deploys}.\n\n| Environment | Flux object and filter | Selects now | Overlay pins | State |\n|---|---|---|---|---|\n",
            app.app,
            code(&app.image)
        ));
        text.push_str(&format!(
            "\n{}  {}\n  {}\n",
            app.app,
            app.image,
            deploys.replace('`', "")
        ));
        let mut rows = vec![
            ["environment", "selects now", "overlay pins", "state"]
                .map(str::to_string)
                .to_vec(),
        ];
        let mut filters = Vec::new();
        for state in &app.environments {
            let drifted = app.drift.iter().any(|d| d.environment == state.environment);
            let object = match (&state.object, &state.filter) {
                (Some(o), Some(f)) => format!("{}<br>{}", code(o), code(f).replace('|', "\\|")),
                (Some(o), None) => code(o),
                _ => "none".to_string(),
            };
            summary.push_str(&format!(
                "| {} | {object} | {} | {} | {} |\n",
                env_name(state.environment),
                selection_md(state).replace('|', "\\|"),
                pin_md(&state.overlay),
                if drifted { "⚠️ drift" } else { "✅" }
            ));
            rows.push(vec![
                env_name(state.environment).to_string(),
                selection_text(state),
                pin_text(&state.overlay),
                if drifted { "drift" } else { "ok" }.to_string(),
            ]);
            if let Some(object) = &state.object {
                filters.push(vec![
                    env_name(state.environment).to_string(),
                    object.clone(),
                    state.filter.clone().unwrap_or_default(),
                ]);
            }
        }
        // The moving tag gets its own line when the row's selection does not already show it.
        let mut moving_lines = Vec::new();
        for state in &app.environments {
            if let Some(m) = &state.moving_tag
                && !matches!(&state.selected, Selection::Tag { tag, .. } if *tag == m.tag)
            {
                let points = match (&m.digest, &m.same_as) {
                    (Some(d), Some(s)) => format!("{} (= {})", code(&short(d)), code(s)),
                    (Some(d), None) => code(&short(d)),
                    (None, _) => "nothing: it does not exist".to_string(),
                };
                moving_lines.push(format!("{} points to {points}.", code(&m.tag)));
            }
        }
        for line in &moving_lines {
            summary.push_str(&format!("\n{line}\n"));
        }
        text.push_str(&columns(&rows));
        for line in &moving_lines {
            text.push_str(&format!("  {}\n", line.replace('`', "")));
        }
        if !filters.is_empty() {
            text.push_str("  filters:\n");
            text.push_str(
                &columns(&filters)
                    .lines()
                    .map(|l| format!("  {l}\n"))
                    .collect::<String>(),
            );
        }
        summary.push_str(&format!("\n{}\n", promotion_md(&app.promotion)));
        text.push_str(&format!(
            "  next promotion: {}\n",
            promotion_text(&app.promotion)
        ));
        for d in &app.drift {
            summary.push_str(&format!(
                "\n⚠️ **Drift in {}:** {}<br>**help:** {}\n",
                env_name(d.environment),
                d.message,
                d.help
            ));
            text.push_str(&format!(
                "  drift in {}: {}\n    help: {}\n",
                env_name(d.environment),
                d.message.replace('`', ""),
                d.help.replace('`', "")
            ));
        }
        summary.push('\n');
    }
    if !findings.is_empty() {
        let (markdown, lines) = findings_table(findings);
        summary.push_str(&format!("### Lint\n\n{markdown}\n"));
        text.push_str(&format!("\nlint:\n{lines}"));
    }
    for e in &overview.errors {
        summary.push_str(&format!("❌ {e}\n\n"));
        text.push_str(&format!("error: {}\n", e.replace('`', "")));
    }
    summary.push_str(&format!(
        "Read only: {} registry request(s), nothing written.\n",
        requests
    ));

    let matrix_json = json!({ "include": matrix });
    let mut outputs = BTreeMap::new();
    outputs.insert(
        "matrix".to_string(),
        serde_json::to_string(&matrix_json).unwrap_or_default(),
    );
    outputs.insert(
        "json".to_string(),
        json!({
            "mode": Mode::Plan,
            "flux_path": overview.flux_path,
            "moving_tag": overview.moving_tag,
            "applications": overview.applications,
            "pending": matrix.len(),
            "drift": drift.len(),
            "matrix": matrix_json,
            "findings": findings,
            "errors": overview.errors,
            "requests": { "registry": requests },
        })
        .to_string(),
    );

    let mut annotations: Vec<Annotation> = findings
        .iter()
        .map(|f| f.annotation().shown_in_text())
        .collect();
    for (app, d) in &drift {
        let title = format!(
            "gitops-promote plan: drift in {} {}",
            app.app,
            env_name(d.environment)
        );
        let message = format!("{}\nhelp: {}", d.message, d.help);
        let a = if fail_on_drift {
            Annotation::error(title, message)
        } else {
            Annotation::warning(title, message)
        };
        annotations.push(a.at(d.file.clone(), None).shown_in_text());
    }
    let failure = if !overview.errors.is_empty() {
        Some(
            Error::new(
                Kind::Upstream,
                format!(
                    "plan could not read everything: {}",
                    overview.errors.join("; ")
                ),
            )
            .with_help("the rows that depend on it say `unknown`; check the registry inputs"),
        )
    } else if fail_on_drift && !drift.is_empty() {
        Some(
            Error::new(
                Kind::Conflict,
                format!(
                    "{} drift between the overlays and the registry",
                    drift.len()
                ),
            )
            .with_help("each is annotated on its overlay above; with `fail-on-drift: false` drift is a warning"),
        )
    } else {
        None
    };
    Report {
        outputs,
        summary,
        text,
        annotations,
        failure,
    }
}
