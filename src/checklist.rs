//! Owns the pull request's checklist: the task-list items between [`BEGIN`] and [`END`] in a promotion's or a
//! rollback's body that people tick (the seed's manual prerequisites, or the `checklist` input), how a rerun
//! merges them with the ticks already there, and what they amount to as the commit status [`CONTEXT`].
//!
//! Pure: text in, text out. The `checklist` mode and the proposal steps do the reading and the writing.

use serde::Serialize;

/// Where the checklist starts in the pull request's body. No space after the colon, so it never reads as the
/// record `release` looks for (`<!-- gitops-promote: {…} -->`).
pub const BEGIN: &str = "<!-- gitops-promote:checklist -->";
/// Where it ends.
pub const END: &str = "<!-- /gitops-promote:checklist -->";
/// The commit status context branch protection can require.
pub const CONTEXT: &str = "gitops-promote/checklist";
/// The start of the record the promotion and rollback bodies end with: the section goes above it.
const RECORD: &str = "<!-- gitops-promote: ";

/// One task-list item.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Item {
    pub text: String,
    pub ticked: bool,
}

/// The items when the `checklist` input is empty: the seed's manual prerequisites, as the gates table names them.
pub fn default_items() -> Vec<String> {
    crate::gates::manual_gates()
        .into_iter()
        .map(|g| g.prerequisite)
        .collect()
}

/// The `checklist` input: one item per line; a leading `- [ ]`, `- [x]` or `- ` is dropped, so a pasted task
/// list works too. Empty lines are skipped.
pub fn items_of(input: &str) -> Vec<String> {
    input
        .lines()
        .map(|line| {
            let line = line.trim();
            match task(line) {
                Some((_, text)) => text,
                None => line
                    .strip_prefix("- ")
                    .or_else(|| line.strip_prefix("* "))
                    .unwrap_or(line)
                    .trim(),
            }
            .to_string()
        })
        .filter(|t| !t.is_empty())
        .collect()
}

/// A task-list line (`- [ ] text`, `* [x] text`, `+ [X] text`): whether it is ticked, and its text.
fn task(line: &str) -> Option<(bool, &str)> {
    let rest = line.trim_start();
    let rest = rest
        .strip_prefix("- ")
        .or_else(|| rest.strip_prefix("* "))
        .or_else(|| rest.strip_prefix("+ "))?
        .trim_start();
    let (ticked, text) = if let Some(t) = rest.strip_prefix("[ ]") {
        (false, t)
    } else if let Some(t) = rest
        .strip_prefix("[x]")
        .or_else(|| rest.strip_prefix("[X]"))
    {
        (true, t)
    } else {
        return None;
    };
    // GitHub renders a box only when a space (or the line's end) follows it.
    if !(text.is_empty() || text.starts_with([' ', '\t'])) {
        return None;
    }
    let text = text.trim();
    (!text.is_empty()).then_some((ticked, text))
}

/// Where the section is in `body`: from [`BEGIN`] to the end of [`END`].
fn bounds(body: &str) -> Option<(usize, usize)> {
    let start = body.find(BEGIN)?;
    let end = start + body[start..].find(END)? + END.len();
    Some((start, end))
}

/// The items of the section in `body`; `None` when it has no section.
pub fn parse(body: &str) -> Option<Vec<Item>> {
    let (start, end) = bounds(body)?;
    Some(
        body[start + BEGIN.len()..end - END.len()]
            .lines()
            .filter_map(task)
            .map(|(ticked, text)| Item {
                text: text.to_string(),
                ticked,
            })
            .collect(),
    )
}

fn same(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// The wanted items, each ticked when the open pull request's section (`found`) has it ticked (matched by text,
/// ignoring case and surrounding spaces), followed by the items a person added there. A box a person ticked is
/// never unticked by a rerun.
pub fn merge(wanted: &[String], found: Option<&[Item]>) -> Vec<Item> {
    let found = found.unwrap_or_default();
    let mut items: Vec<Item> = Vec::new();
    for text in wanted {
        if items.iter().any(|i| same(&i.text, text)) {
            continue;
        }
        items.push(Item {
            text: text.clone(),
            ticked: found.iter().any(|f| f.ticked && same(&f.text, text)),
        });
    }
    for f in found {
        match items.iter_mut().find(|i| same(&i.text, &f.text)) {
            Some(i) => i.ticked |= f.ticked,
            None => items.push(f.clone()),
        }
    }
    items
}

/// The section, between the markers.
pub fn render(items: &[Item]) -> String {
    let mut md = format!(
        "{BEGIN}\n### Checklist\n\nTick each item when it is done: the commit status `{CONTEXT}` turns green when every box is ticked.\n\n"
    );
    for item in items {
        let text = item.text.replace(['\n', '\r'], " ");
        md.push_str(&format!(
            "- [{}] {}\n",
            if item.ticked { "x" } else { " " },
            text.trim()
        ));
    }
    md.push_str(END);
    md.push('\n');
    md
}

/// `body` with its checklist replaced by `section` in place, or (when it has none) inserted above the record
/// line the body ends with, else appended: a rerun never duplicates it.
pub fn splice(body: &str, section: &str) -> String {
    if let Some((start, end)) = bounds(body) {
        let after = &body[end..];
        let after = after.strip_prefix('\n').unwrap_or(after);
        return format!("{}{section}{after}", &body[..start]);
    }
    match body.rfind(RECORD) {
        Some(at) => {
            let (head, tail) = body.split_at(at);
            let head = head.trim_end_matches('\n');
            format!("{head}\n\n{section}\n{tail}")
        }
        None if body.trim().is_empty() => section.to_string(),
        None => format!("{}\n\n{section}", body.trim_end_matches('\n')),
    }
}

/// The proposal's body with its checklist: the wanted items merged with the ticks of the open pull request's
/// body (`found`), and the merged items.
pub fn with_checklist(body: &str, wanted: &[String], found: Option<&str>) -> (String, Vec<Item>) {
    let found = found.and_then(parse);
    let items = merge(wanted, found.as_deref());
    (splice(body, &render(&items)), items)
}

/// What the section of a body amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Tally {
    /// The markers are gone.
    NoSection,
    /// The markers are there, but no item between them.
    NoItems,
    Ticked {
        ticked: usize,
        total: usize,
    },
}

/// Counts the ticked items of `body`'s section.
pub fn tally(body: &str) -> Tally {
    tally_items(parse(body).as_deref())
}

/// Counts `items` (`None`: no section).
pub fn tally_items(items: Option<&[Item]>) -> Tally {
    match items {
        None => Tally::NoSection,
        Some([]) => Tally::NoItems,
        Some(items) => Tally::Ticked {
            ticked: items.iter().filter(|i| i.ticked).count(),
            total: items.len(),
        },
    }
}

/// The commit status a tally sets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Status {
    /// `pending`, `success` or `failure`.
    pub state: String,
    /// At most 140 characters, as GitHub allows.
    pub description: String,
}

/// `pending` ("1 of 2 items ticked"), `success` when every box is ticked, `failure` when the section or its
/// items were deleted (a deleted checklist must not read as a finished one).
pub fn status(tally: Tally) -> Status {
    let (state, description) = match tally {
        Tally::NoSection => (
            "failure",
            "the checklist was deleted from the pull request's body".to_string(),
        ),
        Tally::NoItems => ("failure", "the checklist has no items left".to_string()),
        Tally::Ticked { ticked, total } => (
            if ticked == total {
                "success"
            } else {
                "pending"
            },
            format!(
                "{ticked} of {total} {} ticked",
                if total == 1 { "item" } else { "items" }
            ),
        ),
    };
    Status {
        state: state.to_string(),
        description,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn item(text: &str, ticked: bool) -> Item {
        Item {
            text: text.into(),
            ticked,
        }
    }

    #[test]
    fn the_default_items_are_the_gates_manual_prerequisites() {
        assert_eq!(
            default_items(),
            ["Manual QA completed", "Stakeholders notified"]
        );
    }

    #[test]
    fn the_input_is_one_item_per_line_and_a_pasted_task_list_works() {
        assert_eq!(
            items_of("QA signed off\n\n- [ ] Docs updated\n- [x] Support told\n- Ops told\n"),
            ["QA signed off", "Docs updated", "Support told", "Ops told"]
        );
    }

    #[test]
    fn only_task_items_inside_the_markers_count() {
        let body = format!(
            "- [x] outside\n{BEGIN}\n### Checklist\n\n- [x] QA\n-  [ ] Notify\n* [X] Star\n- [] not a box\n- [ ]\n- [x]glued\n{END}\n- [ ] after\n"
        );
        assert_eq!(
            parse(&body),
            Some(vec![
                item("QA", true),
                item("Notify", false),
                item("Star", true)
            ])
        );
        assert_eq!(parse("- [ ] no markers"), None);
        assert_eq!(
            tally(&body),
            Tally::Ticked {
                ticked: 2,
                total: 3
            }
        );
    }

    #[test]
    fn the_status_follows_the_boxes_and_a_deleted_checklist_fails() {
        let s = |t| status(t);
        assert_eq!(
            s(Tally::Ticked {
                ticked: 0,
                total: 2
            }),
            Status {
                state: "pending".into(),
                description: "0 of 2 items ticked".into()
            }
        );
        assert_eq!(
            s(Tally::Ticked {
                ticked: 1,
                total: 2
            })
            .state,
            "pending"
        );
        assert_eq!(
            s(Tally::Ticked {
                ticked: 2,
                total: 2
            })
            .state,
            "success"
        );
        assert_eq!(s(Tally::NoSection).state, "failure");
        assert_eq!(s(Tally::NoItems).state, "failure");
        assert_eq!(
            s(Tally::Ticked {
                ticked: 1,
                total: 1
            })
            .description,
            "1 of 1 item ticked"
        );
    }

    #[test]
    fn a_rerun_keeps_ticks_and_added_items_and_replaces_the_section_in_place() {
        let wanted = default_items();
        let body = "## Promote\n\ntext\n\n<!-- gitops-promote: {\"a\":1} -->\n";
        let (first, items) = with_checklist(body, &wanted, None);
        assert_eq!(items.iter().filter(|i| i.ticked).count(), 0);
        assert!(
            first.ends_with(&format!("{END}\n\n<!-- gitops-promote: {{\"a\":1}} -->\n")),
            "above the record: {first}"
        );
        // A person ticks one box and adds an item of their own.
        let edited = first
            .replace("- [ ] Manual QA completed", "- [x] manual qa completed ")
            .replace(END, &format!("- [ ] Changelog read\n{END}"));
        let (second, items) = with_checklist(body, &wanted, Some(&edited));
        assert_eq!(
            items,
            vec![
                item("Manual QA completed", true),
                item("Stakeholders notified", false),
                item("Changelog read", false)
            ]
        );
        assert_eq!(second.matches(BEGIN).count(), 1);
        // Nothing changes on a third run.
        assert_eq!(with_checklist(body, &wanted, Some(&second)).0, second);
        assert_eq!(splice(&second, &render(&items)), second);
        assert_eq!(splice("", "S\n"), "S\n");
        assert_eq!(splice("intro\n", "S\n"), "intro\n\nS\n");
    }

    fn text() -> impl Strategy<Value = String> {
        // Printable text without newlines, as one input line is.
        "[A-Za-z0-9 .,:;!?()`'\"_*\\[\\]-]{1,40}"
            .prop_filter("an item has text", |t| !t.trim().is_empty())
    }

    proptest! {
        #[test]
        fn render_then_parse_gives_the_items_back(
            items in proptest::collection::vec((text(), any::<bool>()), 0..8)
        ) {
            let items: Vec<Item> = items
                .into_iter()
                .map(|(t, ticked)| Item { text: t.trim().to_string(), ticked })
                .collect();
            let body = splice("## Title\n\n<!-- gitops-promote: {} -->\n", &render(&items));
            prop_assert_eq!(parse(&body), Some(items));
        }

        #[test]
        fn a_merge_never_unticks_a_box(
            wanted in proptest::collection::vec(text(), 0..6),
            found in proptest::collection::vec((text(), any::<bool>()), 0..6),
        ) {
            let found: Vec<Item> = found
                .into_iter()
                .map(|(t, ticked)| Item { text: t.trim().to_string(), ticked })
                .collect();
            let merged = merge(&wanted, Some(&found));
            for f in found.iter().filter(|f| f.ticked) {
                prop_assert!(
                    merged.iter().any(|m| m.ticked && same(&m.text, &f.text)),
                    "{:?} lost its tick in {:?}", f, merged
                );
            }
            for w in &wanted {
                prop_assert!(merged.iter().any(|m| same(&m.text, w)));
            }
        }
    }
}
