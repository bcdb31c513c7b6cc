//! develop-build and staging-build, end to end: the real binary, a real repository with a bare `origin`, the
//! runner's output and summary files.

use crate::harness::{Runner, Scratch, git};
use predicates::str::contains;

/// main: v1.2.0 on a merge commit; develop: two more commits (a feat and a fix) on top of the merged work.
fn develop_flow() -> Scratch {
    let s = Scratch::new();
    s.commit("chore: initial");
    s.commit("feat: first feature");
    s.git(&["tag", "-a", "v1.1.0", "-m", "v1.1.0"]);
    s.git(&["checkout", "-q", "-b", "develop"]);
    s.commit("fix: a bug");
    s.git(&["checkout", "-q", "main"]);
    // The release tag sits on main's merge commit, which develop never contains.
    s.git(&[
        "merge",
        "-q",
        "--no-ff",
        "develop",
        "-m",
        "Merge branch 'develop'",
    ]);
    s.git(&["tag", "-a", "v1.2.0", "-m", "v1.2.0"]);
    s.git(&["checkout", "-q", "develop"]);
    s.commit("feat(api): new endpoint");
    s.commit("fix: follow-up");
    s
}

#[test]
fn develop_build_derives_an_rc_tag_from_a_release_tag_not_reachable_from_develop() {
    let s = develop_flow();
    let runner = Runner::new();
    runner
        .action(
            &s.work,
            &[("mode", "develop-build"), ("image", "ghcr.io/org/app")],
        )
        .assert()
        .success();
    let out = runner.outputs();
    let sha = s.head();
    let short = &sha[..7];
    assert_eq!(out["version"], "1.3.0");
    // BASE..HEAD: the two develop commits after the merge (the fix is already in v1.2.0's history).
    assert_eq!(out["tag"], format!("v1.3.0-rc.2.g{short}"));
    assert_eq!(out["tags"], format!("ghcr.io/org/app:v1.3.0-rc.2.g{short}"));
    assert!(out["labels"].contains("org.opencontainers.image.version=1.3.0"));
    assert!(out["labels"].contains(&format!("org.opencontainers.image.revision={sha}")));
    assert!(out["labels"].contains("org.opencontainers.image.source=https://github.com/org/app"));
    assert!(out["labels"].contains("org.opencontainers.image.created=2026-01-02T03:04:05Z"));
    assert_eq!(out["git-tag-operation"], "skipped");
    let json: serde_json::Value = serde_json::from_str(&out["json"]).expect("json output");
    assert_eq!(json["decision"]["base"]["tag"], "v1.2.0");
    assert_eq!(json["decision"]["commits_by_type"]["feat"], 1);
    let summary = runner.summary();
    assert!(summary.contains("| Base tag | `v1.2.0`"), "{summary}");
    assert!(summary.contains("a `feat` commit bumps minor"), "{summary}");
    assert!(
        summary.contains(&format!(
            "commit[\"commit {short}\"] --> image[\"ghcr.io/org/app:v1.3.0-rc.2.g{short}\"] --> env[\"develop<br/>"
        )),
        "the summary's diagram shows what runs where:\n{summary}"
    );
    assert!(
        s.origin_tag("v1.3.0").is_none(),
        "develop builds never push tags"
    );
}

#[test]
fn staging_build_cuts_the_tag_once_and_a_rerun_is_unchanged() {
    let s = Scratch::new();
    s.commit("feat: first");
    s.git(&["tag", "v0.1.0"]);
    s.commit("feat!: breaking on 0.x");
    let head = s.head();
    for expected in ["created", "unchanged"] {
        let runner = Runner::new();
        runner
            .action(
                &s.work,
                &[("mode", "staging-build"), ("image", "ghcr.io/org/app")],
            )
            .assert()
            .success();
        let out = runner.outputs();
        assert_eq!(out["version"], "0.2.0", "breaking on 0.x bumps minor");
        assert_eq!(out["tag"], "v0.2.0");
        assert_eq!(out["git-tag-operation"], expected);
        assert_eq!(s.origin_tag("v0.2.0").as_deref(), Some(head.as_str()));
    }
}

#[test]
fn staging_build_refuses_a_tag_that_exists_on_another_commit() {
    let s = Scratch::new();
    s.commit("feat: first");
    s.git(&["tag", "v1.0.0"]);
    let other = s.commit("fix: a");
    s.git(&["tag", "v1.0.1"]);
    s.git(&["push", "-q", "origin", "v1.0.1"]);
    s.git(&["tag", "-d", "v1.0.1"]);
    s.commit("fix: b");
    // With v1.0.1 deleted locally, the base is v1.0.0 and two fixes give 1.0.1 again: origin has it elsewhere.
    let runner = Runner::new();
    runner
        .action(
            &s.work,
            &[("mode", "staging-build"), ("image", "ghcr.io/org/app")],
        )
        .assert()
        .code(1)
        .stdout(contains("::error title=conflict::"))
        .stdout(contains(&other))
        .stdout(contains(s.head()));
    assert!(!runner.output_written(), "no outputs on failure");
}

#[test]
fn no_commits_since_the_base_gives_the_base_version_with_a_notice() {
    let s = Scratch::new();
    s.commit("feat: first");
    s.git(&["tag", "v2.3.4"]);
    let runner = Runner::new();
    runner
        .action(
            &s.work,
            &[("mode", "develop-build"), ("image", "ghcr.io/org/app")],
        )
        .assert()
        .success()
        .stdout(contains("::notice title=no new commits::"));
    assert_eq!(
        runner.outputs()["tag"],
        format!("v2.3.4-rc.0.g{}", &s.head()[..7])
    );
}

#[test]
fn another_prefix_and_no_tags_use_the_initial_version() {
    let s = Scratch::new();
    s.commit("feat: first");
    s.git(&["tag", "v9.0.0"]); // not `backend/v`: ignored
    s.commit("fix: second");
    let runner = Runner::new();
    runner
        .action(
            &s.work,
            &[
                ("mode", "develop-build"),
                ("image", "ghcr.io/org/backend"),
                ("tag-prefix", "backend/v"),
                ("develop-tag-template", "dev-{sha}-{ts}"),
            ],
        )
        .assert()
        .success();
    let out = runner.outputs();
    assert_eq!(out["version"], "0.1.0");
    assert_eq!(out["tag"], format!("dev-{}-20260102030405", &s.head()[..7]));
}

#[test]
fn bad_inputs_are_all_reported_at_once_and_nothing_happens() {
    let s = Scratch::new();
    s.commit("feat: first");
    let runner = Runner::new();
    runner
        .action(
            &s.work,
            &[
                ("mode", "staging-build"),
                ("version", "1.2"),
                ("staging-tag-template", "v{verison}"),
                ("git-tag", "yes"),
            ],
        )
        .assert()
        .code(2)
        .stdout(contains("::error title=invalid input `image`::"))
        .stdout(contains("::error title=invalid input `version`::"))
        .stdout(contains(
            "::error title=invalid input `staging-tag-template`::",
        ))
        .stdout(contains("unknown placeholder `{verison}`"))
        .stdout(contains("::error title=invalid input `git-tag`::"));
    assert!(!runner.output_written());
    assert!(s.origin_tag("v1.2.0").is_none());
    assert_eq!(git(&s.work, &["tag", "--list"]), "");
}

#[test]
fn unknown_mode_and_not_a_repository_are_input_errors() {
    let runner = Runner::new();
    let empty = tempfile::tempdir().expect("tempdir");
    runner
        .action(empty.path(), &[("mode", "deploy")])
        .assert()
        .code(2)
        .stdout(contains("invalid input `mode`"))
        .stdout(contains("develop-build, staging-build"));
    runner
        .action(
            empty.path(),
            &[("mode", "develop-build"), ("image", "ghcr.io/org/app")],
        )
        .assert()
        .code(2)
        .stdout(contains("invalid input `repo`"))
        .stdout(contains("is not a git repository"));
    assert!(!runner.output_written());
}

#[test]
fn a_template_that_yields_an_invalid_tag_fails_before_tagging() {
    let s = Scratch::new();
    s.commit("feat: first");
    let runner = Runner::new();
    runner
        .action(
            &s.work,
            &[
                ("mode", "staging-build"),
                ("image", "ghcr.io/org/app"),
                ("version", "1.0.0+build.5"),
            ],
        )
        .assert()
        .code(2)
        .stdout(contains("invalid input `staging-tag-template`"))
        .stdout(contains("not a valid OCI tag"));
    assert!(s.origin_tag("v1.0.0+build.5").is_none());
    assert_eq!(git(&s.work, &["tag", "--list"]), "");
}

#[test]
fn a_shallow_clone_says_to_set_fetch_depth() {
    let s = Scratch::new();
    s.commit("feat: first");
    s.commit("fix: second");
    s.git(&["push", "-q", "origin", "main"]);
    let shallow = s.dir.path().join("shallow");
    let url = format!("file://{}", s.origin.display());
    git(
        s.dir.path(),
        &[
            "clone",
            "-q",
            "--depth",
            "1",
            &url,
            shallow.to_str().expect("utf-8"),
        ],
    );
    let runner = Runner::new();
    runner
        .action(
            &shallow,
            &[("mode", "develop-build"), ("image", "ghcr.io/org/app")],
        )
        .assert()
        .code(1)
        .stdout(contains("shallow clone"))
        .stdout(contains("fetch-depth: 0"));
}

#[test]
fn dry_run_prints_the_plan_and_pushes_nothing() {
    let s = Scratch::new();
    s.commit("feat: first");
    gitops_promote_cli(&s)
        .args(["staging-build", "--image", "ghcr.io/org/app", "--dry-run"])
        .assert()
        .success()
        .stdout(contains("\"step\": \"git-tag\""))
        .stdout(contains("### Plan: `staging-build` (dry run)"))
        .stdout(contains("create git tag `v0.1.0`"));
    assert!(s.origin_tag("v0.1.0").is_none());
    assert_eq!(git(&s.work, &["tag", "--list"]), "");
}

#[test]
fn a_dry_run_reports_would_create_not_created() {
    // Regression: `staging-build --dry-run` output `git-tag-operation: created` and a summary row "Git tag
    // `v0.2.0` created" although nothing was created, so a job gated on `== 'created'` fired on a dry run.
    let s = Scratch::new();
    s.commit("feat: first");
    s.git(&["tag", "v0.1.0"]);
    s.commit("feat!: breaking on 0.x");
    let runner = Runner::new();
    runner
        .action(
            &s.work,
            &[
                ("mode", "staging-build"),
                ("image", "ghcr.io/org/app"),
                ("dry-run", "true"),
            ],
        )
        .assert()
        .success();
    let out = runner.outputs();
    assert_eq!(out["git-tag-operation"], "would-create");
    let json: serde_json::Value = serde_json::from_str(&out["json"]).expect("json output");
    assert_eq!(json["git_tag_operation"], "would-create");
    let summary = runner.summary();
    assert!(
        summary.contains("| Git tag | `v0.2.0` would be created |"),
        "{summary}"
    );
    assert!(!summary.contains("`v0.2.0` created"), "{summary}");
    assert!(s.origin_tag("v0.2.0").is_none(), "a dry run pushes nothing");
}

#[test]
fn the_cli_prints_the_same_facts_readably() {
    let s = develop_flow();
    gitops_promote_cli(&s)
        .args(["develop-build", "--image", "ghcr.io/org/app"])
        .assert()
        .success()
        .stdout(contains("gitops-promote develop-build"))
        .stdout(contains("Version"))
        .stdout(contains("1.3.0"))
        .stdout(contains("Base tag"))
        .stdout(contains("v1.2.0"));
}

#[test]
fn every_subcommand_documents_every_flag() {
    let out = crate::harness::gitops_promote()
        .args(["staging-build", "--help"])
        .assert()
        .success();
    let help = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for flag in [
        "--image",
        "--version",
        "--tag-prefix",
        "--staging-tag-template",
        "--git-tag",
        "--github-token",
        "--dry-run",
        "--repo",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
}

#[test]
fn help_describes_each_flag_for_its_own_mode_and_offers_only_what_the_mode_reads() {
    // Regression: `develop-build --help` described `--image` in terms of `patch` and `select`, and `select` and
    // `lint` offered `--dry-run` and `--github-token`, which do nothing there.
    let help = |mode: &str| {
        let out = crate::harness::gitops_promote()
            .args([mode, "--help"])
            .assert()
            .success();
        String::from_utf8_lossy(&out.get_output().stdout).to_string()
    };
    let develop = help("develop-build");
    let image = develop
        .split("--image <IMAGE>")
        .nth(1)
        .and_then(|rest| rest.split("\n      --").next())
        .expect("--image is documented");
    for other in ["patch", "select", "promote", "manifest"] {
        assert!(
            !image.contains(other),
            "--image speaks of `{other}`: {image}"
        );
    }
    for mode in ["select", "lint"] {
        let text = help(mode);
        for flag in ["--dry-run", "--github-token"] {
            assert!(!text.contains(flag), "`{mode}` offers {flag}:\n{text}");
        }
    }
    crate::harness::gitops_promote()
        .args(["select", "--dry-run"])
        .assert()
        .code(2)
        .stderr(contains("unexpected argument '--dry-run'"));
}

#[test]
fn an_unknown_subcommand_lists_the_modes() {
    // Regression: clap said only "unrecognized subcommand".
    let out = crate::harness::gitops_promote()
        .arg("deploy")
        .assert()
        .code(2);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("unknown mode `deploy`"), "{stderr}");
    for mode in [
        "develop-build",
        "staging-build",
        "retag",
        "patch",
        "select",
        "lint",
        "promote",
    ] {
        assert!(stderr.contains(&format!("\n  {mode} ")), "{mode}: {stderr}");
    }
}

fn gitops_promote_cli(s: &Scratch) -> assert_cmd::Command {
    let mut cmd = crate::harness::gitops_promote();
    cmd.current_dir(&s.work);
    cmd
}

mod over_http_with_a_token {
    use super::*;
    use crate::git_http::GitHttpServer;

    const TOKEN: &str = "ghs_0123456789abcdefTOKEN";

    /// A repository whose `origin` is an authenticated HTTP remote with no credentials in its URL or config,
    /// as after `actions/checkout` with `persist-credentials: false`.
    fn setup() -> (Scratch, GitHttpServer) {
        let s = Scratch::new();
        s.commit("feat: first");
        s.git(&["push", "-q", "origin", "main"]);
        let server = GitHttpServer::start(s.dir.path(), s.dir.path(), TOKEN);
        s.git(&["remote", "set-url", "origin", &server.url("origin.git")]);
        (s, server)
    }

    #[test]
    fn the_tag_is_pushed_with_the_github_token_which_never_shows() {
        let (s, _server) = setup();
        let runner = Runner::new();
        let out = runner
            .action(
                &s.work,
                &[
                    ("mode", "staging-build"),
                    ("image", "ghcr.io/org/app"),
                    ("github-token", TOKEN),
                ],
            )
            .assert()
            .success()
            .stdout(contains(format!("::add-mask::{TOKEN}")));
        assert_eq!(runner.outputs()["git-tag-operation"], "created");
        assert_eq!(s.origin_tag("v0.1.0").as_deref(), Some(s.head().as_str()));
        let stdout = String::from_utf8_lossy(&out.get_output().stdout)
            .replace(&format!("::add-mask::{TOKEN}"), "");
        assert!(!stdout.contains(TOKEN), "the token leaked into the log");
        assert!(
            !std::fs::read_to_string(&runner.output)
                .expect("outputs")
                .contains(TOKEN)
        );
        assert!(!runner.summary().contains(TOKEN));
        assert!(
            !s.git(&["config", "--list"]).contains(TOKEN),
            "the token was persisted"
        );
    }

    #[test]
    fn without_a_token_the_error_says_to_pass_one_and_nothing_is_tagged() {
        let (s, _server) = setup();
        Runner::new()
            .action(
                &s.work,
                &[("mode", "staging-build"), ("image", "ghcr.io/org/app")],
            )
            .assert()
            .code(1)
            .stdout(contains("::error title=permission denied::"))
            .stdout(contains("pass `github-token`"));
        assert!(s.origin_tag("v0.1.0").is_none());
        assert_eq!(
            s.git(&["tag", "--list"]),
            "",
            "nothing is tagged locally either"
        );
    }

    #[test]
    fn a_refused_token_is_a_permission_error_that_does_not_print_it() {
        let (s, _server) = setup();
        let wrong = "ghs_wrongTOKENwrong";
        let out = Runner::new()
            .action(
                &s.work,
                &[
                    ("mode", "staging-build"),
                    ("image", "ghcr.io/org/app"),
                    ("github-token", wrong),
                ],
            )
            .assert()
            .code(1)
            .stdout(contains("contents: write"));
        let stdout = String::from_utf8_lossy(&out.get_output().stdout)
            .replace(&format!("::add-mask::{wrong}"), "");
        assert!(!stdout.contains(wrong));
        assert!(s.origin_tag("v0.1.0").is_none());
    }
}
