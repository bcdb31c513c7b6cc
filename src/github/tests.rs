//! Pure parts of the GitHub client, and octocrab's models against answers that follow GitHub's description.

use super::*;
use octocrab::models;

/// GitHub's own examples from its OpenAPI description, and answers carrying only the fields it requires.
macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../tests/fixtures/github/", $name))
    };
}

fn read<T: serde::de::DeserializeOwned>(name: &str, text: &str) -> T {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn octocrab_models_read_the_descriptions_answers() {
    let repo: models::Repository = read("repository", fixture!("repository.json"));
    assert_eq!(repo.default_branch.as_deref(), Some("master"));
    let _: models::Repository = read("repository-required", fixture!("repository-required.json"));

    let pulls: Vec<models::pulls::PullRequest> = read("pulls", fixture!("pulls.json"));
    assert_eq!(pulls.len(), 1);
    let pull = pull_from(read("pull", fixture!("pull.json")));
    assert_eq!(pull.number, 1347);
    assert_eq!(pull.state, "open");
    assert_eq!(
        pull.html_url,
        "https://github.com/octocat/Hello-World/pull/1347"
    );
    assert_eq!(pull.labels, ["bug"]);
    assert_eq!(pull.requested_reviewers, ["other_user"]);
    assert_eq!(pull.requested_teams, ["justice-league"]);
    assert_eq!(pull.head_sha, "6dcb09b5b57875f334f61aebed695e2e4193db5e");
    assert_eq!(
        (pull.base.as_str(), pull.default_branch.as_deref()),
        ("master", Some("master")),
        "the base repository names its default branch"
    );
    let minimal = pull_from(read("pull-required", fixture!("pull-required.json")));
    assert_eq!((minimal.draft, minimal.body.as_str()), (false, ""));

    let labels: Vec<models::Label> = read("labels", fixture!("labels.json"));
    assert_eq!(labels[0].name, "bug");

    for (name, text) in [
        ("git-commit", fixture!("git-commit.json")),
        ("git-commit-created", fixture!("git-commit-created.json")),
        ("git-commit-required", fixture!("git-commit-required.json")),
    ] {
        let _: models::commits::GitCommitObject = read(name, text);
    }
    let blob: models::git::CreatedBlob =
        read("git-blob-created", fixture!("git-blob-created.json"));
    assert_eq!(blob.sha, "3a0f86fb8db8eea7ccbb9a95f325ddbedfb25e15");
}

#[test]
fn raw_shapes_read_the_descriptions_answers() {
    let r: RefAnswer = read("git-ref", fixture!("git-ref.json"));
    assert_eq!(
        (r.object.kind.as_str(), r.object.sha.as_str()),
        ("commit", "aa218f56b14c9653891f9e74264a383fa43fefbd")
    );
    let t: ShaAnswer = read("git-tree-created", fixture!("git-tree-created.json"));
    assert_eq!(t.sha, "cd8274d15fa3ae2ab983129fb037999f264ba9a7");
    let c: ContentAnswer = read("content-file", fixture!("content-file.json"));
    assert_eq!(
        (c.kind.as_str(), c.encoding.as_deref()),
        ("file", Some("base64"))
    );
    let b: BranchAnswer = read("branch", fixture!("branch.json"));
    assert_eq!(
        (b.commit.sha.as_str(), b.commit.commit.tree.sha.as_str()),
        (
            "7fd1a60b01f91b314f59955a4e4d4e80d8edf11d",
            "b4eecafa9be2f2006ce1b709d6857b07069b4608"
        )
    );
    let cmp: CompareAnswer = read("compare", fixture!("compare.json"));
    assert_eq!((cmp.ahead_by, cmp.behind_by, cmp.commits.len()), (1, 2, 1));
    assert_eq!(cmp.commits[0].parents.len(), 1);
    assert_eq!(
        cmp.files[0].sha.as_deref(),
        Some("bbcd538c8e72b8c175046e27cc8f907076331401")
    );
    assert_eq!(cmp.merge_base_commit.sha, cmp.base_commit.sha);
}

#[test]
fn octocrab_tree_model_would_refuse_an_answer_without_its_url() {
    // Why `create_commit` writes the tree through a raw request: the description requires `sha`, `tree` and
    // `truncated` of the answer, octocrab's model also `url`.
    let answer = r#"{"sha":"abc","truncated":false,
        "tree":[{"path":"a.yaml","mode":"100644","type":"blob","sha":"def"}]}"#;
    assert!(serde_json::from_str::<models::git::GitTree>(answer).is_err());
    assert_eq!(read::<ShaAnswer>("tree", answer).sha, "abc");
}

#[test]
fn request_bodies_leave_out_what_is_not_set() {
    let patch = RefPatch {
        sha: "abc",
        force: false,
    };
    assert_eq!(
        serde_json::to_string(&patch).expect("json"),
        r#"{"sha":"abc"}"#
    );
    let patch = RefPatch {
        sha: "abc",
        force: true,
    };
    assert_eq!(
        serde_json::to_string(&patch).expect("json"),
        r#"{"sha":"abc","force":true}"#
    );
    let teams = ["platform".to_string()];
    let reviewers = ReviewRequest {
        reviewers: &[],
        team_reviewers: &teams,
    };
    assert_eq!(
        serde_json::to_string(&reviewers).expect("json"),
        r#"{"team_reviewers":["platform"]}"#
    );
    let tree = NewTree {
        base_tree: "t0",
        tree: vec![TreeEntry {
            path: "flux/app.yaml",
            mode: "100644",
            kind: "blob",
            content: "a: 1\n",
        }],
    };
    assert_eq!(
        serde_json::to_string(&tree).expect("json"),
        r#"{"base_tree":"t0","tree":[{"path":"flux/app.yaml","mode":"100644","type":"blob","content":"a: 1\n"}]}"#
    );
}

#[test]
fn path_segments_are_encoded_and_file_paths_keep_their_slashes() {
    assert_eq!(encode_segment("heads/main"), "heads%2Fmain");
    assert_eq!(
        encode_segment("heads/promote/production"),
        "heads%2Fpromote%2Fproduction"
    );
    assert_eq!(encode_segment("release-1.2_x~y"), "release-1.2_x~y");
    assert_eq!(encode_segment("ü"), "%C3%BC");
    assert_eq!(
        encode_path("flux/apps/backend/kustomization.yaml"),
        "flux/apps/backend/kustomization.yaml"
    );
    assert_eq!(encode_path("/a b/c?d.yaml"), "a%20b/c%3Fd.yaml");
}

#[test]
fn repository_names_parse_or_say_what_is_wrong() {
    assert_eq!(
        parse_repository("octo-org/gitops").expect("valid"),
        ("octo-org".to_string(), "gitops".to_string())
    );
    assert_eq!(
        parse_repository(" o/r.x_y ").expect("valid"),
        ("o".to_string(), "r.x_y".to_string())
    );
    for bad in ["", "gitops", "/r", "o/", "o/r/x", "o/..", "o o/r", "o/r?x"] {
        let problem = parse_repository(bad).expect_err(bad);
        assert_eq!(problem.input, "GITHUB_REPOSITORY");
        assert!(problem.help.expect("help").contains("`owner/name`"));
    }
}

#[test]
fn base64_content_decodes_across_line_breaks() {
    assert_eq!(
        decode_base64("aW1hZ2VzOgogIC0gbmFt\nZTogYXBw\n").as_deref(),
        Some("images:\n  - name: app".as_bytes())
    );
    assert_eq!(decode_base64("not base64!"), None);
}

#[test]
fn settings_default_to_github_com() {
    let s = Settings::new("o", "r");
    assert_eq!(s.api_url, "https://api.github.com");
    assert_eq!(s.max_attempts, 5);
    assert_eq!(s.base_delay, Duration::from_millis(500));
    assert_eq!(s.max_wait, Duration::from_secs(60));
    assert_eq!(s.timeout, Duration::from_secs(300));
}

#[test]
fn bad_api_urls_are_input_errors() {
    for url in [
        "not a url",
        "ftp://ghe.example.com",
        "https://user:pw@ghe.example.com/api/v3",
    ] {
        let mut s = Settings::new("o", "r");
        s.api_url = url.to_string();
        let e = Client::new(s).err().expect(url);
        assert_eq!(e.kind, Kind::Input, "{url}");
        assert!(!e.to_string().contains("pw"), "{e}");
    }
    let mut s = Settings::new("o", "r");
    s.api_url = "https://ghe.example.com/api/v3/".into();
    let client = Client::new(s).expect("GHES URL");
    assert_eq!(client.settings.api_url, "https://ghe.example.com/api/v3");
}
