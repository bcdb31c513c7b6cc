//! Which workflows GitHub would start for an event, decided from their `on:` blocks: `push` with its
//! `branches`/`branches-ignore`/`tags`/`tags-ignore` and `paths`/`paths-ignore` filters, and
//! `workflow_dispatch`. act runs every workflow that has the event and applies none of these filters, so the act
//! test asks this evaluator, and a wrong filter in an example fails the test. The rules and the glob syntax
//! follow GitHub's "Workflow syntax" page (filter pattern cheat sheet).

use std::path::Path;

use serde_json::Value;

/// An event a workflow may start on.
#[derive(Debug, Clone)]
pub enum Event<'a> {
    /// A push of `refs/heads/{branch}` (or `refs/tags/{tag}`) changing `files` (paths in the repository).
    Push {
        branch: Option<&'a str>,
        tag: Option<&'a str>,
        files: &'a [String],
    },
    /// `workflow_dispatch` of this very workflow (GitHub starts only the one dispatched).
    Dispatch,
}

/// Whether `pattern` (GitHub's filter syntax: `*`, `**`, `?`, `+`, `[…]`, `\` escapes) matches `text`.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    matches(&p, &t)
}

fn matches(p: &[char], t: &[char]) -> bool {
    let Some((&first, rest)) = p.split_first() else {
        return t.is_empty();
    };
    if first == '*' && rest.first() == Some(&'*') {
        return (0..=t.len()).any(|i| matches(&rest[1..], &t[i..]));
    }
    if first == '*' {
        let mut i = 0;
        loop {
            if matches(rest, &t[i..]) {
                return true;
            }
            if i == t.len() || t[i] == '/' {
                return false;
            }
            i += 1;
        }
    }
    // One character (a class, an escape or a literal), then an optional `?` or `+` quantifier.
    let (class, after): (Box<dyn Fn(char) -> bool>, &[char]) = match first {
        '[' => match rest.iter().position(|&c| c == ']') {
            Some(end) => {
                let set: Vec<char> = rest[..end].to_vec();
                (
                    Box::new(move |c| {
                        set.iter().enumerate().any(|(i, &s)| {
                            if set.get(i + 1) == Some(&'-') && i + 2 < set.len() {
                                (s..=set[i + 2]).contains(&c)
                            } else {
                                s == c
                            }
                        })
                    }),
                    &rest[end + 1..],
                )
            }
            None => (Box::new(|c| c == '['), rest),
        },
        '\\' if !rest.is_empty() => {
            let lit = rest[0];
            (Box::new(move |c| c == lit), &rest[1..])
        }
        lit => (Box::new(move |c| c == lit), rest),
    };
    match after.first() {
        Some('?') => {
            matches(&after[1..], t)
                || (!t.is_empty() && class(t[0]) && matches(&after[1..], &t[1..]))
        }
        Some('+') => {
            let mut i = 0;
            while i < t.len() && class(t[i]) {
                i += 1;
                if matches(&after[1..], &t[i..]) {
                    return true;
                }
            }
            false
        }
        _ => !t.is_empty() && class(t[0]) && matches(after, &t[1..]),
    }
}

/// Patterns in order, a leading `!` excluding again: whether `text` ends up included.
fn included(patterns: &[String], text: &str) -> bool {
    let mut inside = false;
    for p in patterns {
        match p.strip_prefix('!') {
            Some(negated) if glob(negated, text) => inside = false,
            Some(_) => {}
            None if glob(p, text) => inside = true,
            None => {}
        }
    }
    inside
}

fn list(filters: &Value, key: &str) -> Option<Vec<String>> {
    let v = filters.get(key)?;
    Some(match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .map(|i| i.as_str().unwrap_or_default().to_string())
            .collect(),
        _ => Vec::new(),
    })
}

/// The filters of `event_name` in an `on:` block, or `None` when the workflow does not have that event.
fn event_filters(on: &Value, event_name: &str) -> Option<Value> {
    match on {
        Value::String(s) => (s == event_name).then_some(Value::Null),
        Value::Array(items) => items
            .iter()
            .any(|i| i.as_str() == Some(event_name))
            .then_some(Value::Null),
        Value::Object(map) => map.get(event_name).cloned(),
        _ => None,
    }
}

/// Whether a workflow with this `on:` block starts for `event`.
pub fn starts(on: &Value, event: &Event<'_>) -> bool {
    match event {
        Event::Dispatch => event_filters(on, "workflow_dispatch").is_some(),
        Event::Push { branch, tag, files } => {
            let Some(filters) = event_filters(on, "push") else {
                return false;
            };
            let ref_filters = |name: &str, ignore: &str, value: Option<&str>| match (
                list(&filters, name),
                list(&filters, ignore),
            ) {
                (Some(only), _) => value.is_some_and(|v| included(&only, v)),
                (None, Some(ignored)) => value.is_some_and(|v| !included(&ignored, v)),
                (None, None) => true,
            };
            let has = |k: &str| filters.get(k).is_some();
            let branch_filtered = has("branches") || has("branches-ignore");
            let tag_filtered = has("tags") || has("tags-ignore");
            let by_ref = match (branch, tag) {
                (Some(b), _) => {
                    if branch_filtered {
                        ref_filters("branches", "branches-ignore", Some(b))
                    } else {
                        !tag_filtered
                    }
                }
                (None, Some(t)) => {
                    if tag_filtered {
                        ref_filters("tags", "tags-ignore", Some(t))
                    } else {
                        !branch_filtered
                    }
                }
                (None, None) => false,
            };
            if !by_ref {
                return false;
            }
            // Path filters are not evaluated for pushes of tags.
            if tag.is_some() {
                return true;
            }
            match (list(&filters, "paths"), list(&filters, "paths-ignore")) {
                (Some(paths), _) => files.iter().any(|f| included(&paths, f)),
                (None, Some(ignored)) => !files.iter().all(|f| included(&ignored, f)),
                (None, None) => true,
            }
        }
    }
}

/// The `on:` block of a workflow file.
pub fn on_block(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let workflow: Value =
        serde_saphyr::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    workflow
        .get("on")
        .cloned()
        .unwrap_or_else(|| panic!("{}: no `on:` block", path.display()))
}

/// The file names of the workflows in `dir` that GitHub starts for a push (sorted).
pub fn started_by_push(dir: &Path, branch: &str, files: &[String]) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yml" || x == "yaml"))
        .filter(|p| {
            starts(
                &on_block(p),
                &Event::Push {
                    branch: Some(branch),
                    tag: None,
                    files,
                },
            )
        })
        .map(|p| p.file_name().expect("name").to_string_lossy().to_string())
        .collect();
    names.sort();
    names
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn push<'a>(branch: &'a str, files: &'a [String]) -> Event<'a> {
        Event::Push {
            branch: Some(branch),
            tag: None,
            files,
        }
    }

    fn files(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn globs_follow_githubs_cheat_sheet() {
        for (pattern, text, expected) in [
            (
                "flux/apps/*/production/**",
                "flux/apps/backend/production/kustomization.yaml",
                true,
            ),
            (
                "flux/apps/*/production/**",
                "flux/apps/backend/staging/kustomization.yaml",
                false,
            ),
            (
                "flux/apps/*/production/**",
                "flux/apps/a/b/production/x",
                false,
            ),
            ("*", "main", true),
            ("*", "feature/x", false),
            ("**", "feature/x", true),
            ("releases/**-alpha", "releases/beta/3-alpha", true),
            ("v[12].[0-9]+.[0-9]+", "v1.10.3", true),
            ("v[12].[0-9]+.[0-9]+", "v3.1.0", false),
            ("*.jsx?", "page.js", true),
            ("*.jsx?", "page.jsx", true),
            ("*.jsx?", "page.jsxx", false),
            ("docs/*.md", "docs/a.md", true),
            ("docs/*.md", "docs/sub/a.md", false),
            ("v[0-9]+.[0-9]+.[0-9]+", "v1.2.3", true),
            ("v[0-9]+.[0-9]+.[0-9]+", "v1.2", false),
        ] {
            assert_eq!(glob(pattern, text), expected, "{pattern} ~ {text}");
        }
    }

    #[test]
    fn branch_filters_and_their_negations() {
        let on = json!({"push": {"branches": ["main", "releases/**", "!releases/**-alpha"]}});
        let any = files(&["a"]);
        assert!(starts(&on, &push("main", &any)));
        assert!(starts(&on, &push("releases/10", &any)));
        assert!(!starts(&on, &push("releases/10-alpha", &any)));
        assert!(!starts(&on, &push("develop", &any)));
        let ignore = json!({"push": {"branches-ignore": ["develop"]}});
        assert!(starts(&ignore, &push("main", &any)));
        assert!(!starts(&ignore, &push("develop", &any)));
        // A branch filter alone: a tag push does not start it, and the other way round.
        let tag = Event::Push {
            branch: None,
            tag: Some("v1.2.3"),
            files: &any,
        };
        assert!(!starts(&on, &tag));
        assert!(starts(&json!({"push": {"tags": ["v*"]}}), &tag));
        assert!(!starts(
            &json!({"push": {"tags": ["v*"]}}),
            &push("main", &any)
        ));
        assert!(starts(&json!({"push": null}), &tag));
        assert!(starts(&json!(["push"]), &push("x", &any)));
        assert!(starts(&json!("push"), &push("x", &any)));
    }

    #[test]
    fn path_filters_need_one_file_in_and_ignore_needs_every_file_out() {
        let prod = files(&["flux/apps/backend/production/kustomization.yaml"]);
        let both = files(&[
            "flux/apps/backend/production/kustomization.yaml",
            "src/main.rs",
        ]);
        let src = files(&["src/main.rs"]);
        let paths = json!({"push": {"branches": ["main"], "paths": ["flux/apps/*/production/**"]}});
        assert!(starts(&paths, &push("main", &prod)));
        assert!(starts(&paths, &push("main", &both)));
        assert!(!starts(&paths, &push("main", &src)));
        let ignore =
            json!({"push": {"branches": ["main"], "paths-ignore": ["flux/apps/*/production/**"]}});
        assert!(!starts(&ignore, &push("main", &prod)));
        assert!(starts(&ignore, &push("main", &both)));
        assert!(starts(&ignore, &push("main", &src)));
        let negated = json!({"push": {"paths": ["sub/**", "!sub/docs/**"]}});
        assert!(!starts(&negated, &push("main", &files(&["sub/docs/a.md"]))));
        assert!(starts(&negated, &push("main", &files(&["sub/src/a.rs"]))));
    }

    #[test]
    fn dispatch_starts_only_workflows_that_have_it() {
        assert!(starts(
            &json!({"workflow_dispatch": {"inputs": {}}}),
            &Event::Dispatch
        ));
        assert!(!starts(
            &json!({"push": {"branches": ["main"]}}),
            &Event::Dispatch
        ));
    }
}
