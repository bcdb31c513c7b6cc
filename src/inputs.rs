//! Owns the interface: the modes, every input and output with its description and default (the single source
//! that `action.yml`, the CLI flags and the README tables are generated from), and the two-phase parse from
//! raw strings to typed values.
//!
//! Phase one collects raw strings exactly as they arrive (`INPUT_DEVELOP-TAG-TEMPLATE`, or
//! `--develop-tag-template`); an empty string means "use the default", as GitHub delivers omitted inputs.
//! Phase two ([`Reader`]) turns them into typed values and collects *every* problem before reporting, so a
//! user fixes all their inputs in one round.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::error::{Error, InputProblem, Result};

/// What the binary is asked to do. In Actions this is the `mode` input; on the CLI, the subcommand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Mode {
    DevelopBuild,
    StagingBuild,
    Retag,
    Patch,
    Select,
    Lint,
    Promote,
    Release,
    Plan,
    Rollback,
}

impl Mode {
    pub const ALL: &'static [Mode] = &[
        Mode::DevelopBuild,
        Mode::StagingBuild,
        Mode::Retag,
        Mode::Patch,
        Mode::Select,
        Mode::Lint,
        Mode::Promote,
        Mode::Release,
        Mode::Plan,
        Mode::Rollback,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Mode::DevelopBuild => "develop-build",
            Mode::StagingBuild => "staging-build",
            Mode::Retag => "retag",
            Mode::Patch => "patch",
            Mode::Select => "select",
            Mode::Lint => "lint",
            Mode::Promote => "promote",
            Mode::Release => "release",
            Mode::Plan => "plan",
            Mode::Rollback => "rollback",
        }
    }

    /// One line for `--help` and the README.
    pub fn about(self) -> &'static str {
        match self {
            Mode::DevelopBuild => {
                "Compute the release-candidate version and tag for a push to develop"
            }
            Mode::StagingBuild => {
                "Compute the stable version and tag for a merge to main, and cut the git tag"
            }
            Mode::Retag => "Point new tags at an image's exact digest, without moving layers",
            Mode::Patch => "Set an image's tag or digest in a manifest, changing no other byte",
            Mode::Select => {
                "Print the tags a Flux provider or ImagePolicy would select, in Flux's order"
            }
            Mode::Lint => "Check the Flux objects the pipeline depends on",
            Mode::Promote => {
                "Promote the staging image to production through a reviewed pull request"
            }
            Mode::Release => {
                "After a promotion is merged: move the moving tag, cut the git tag, publish the GitHub release"
            }
            Mode::Plan => {
                "Show what runs where: each application's environments, drift, the next promotion (read-only)"
            }
            Mode::Rollback => {
                "Roll production back to an earlier release through a reviewed pull request (or at once)"
            }
        }
    }

    pub fn from_name(name: &str) -> Option<Mode> {
        Mode::ALL.iter().copied().find(|m| m.name() == name)
    }

    /// `develop-build, staging-build`: for error messages and docs.
    pub fn names() -> String {
        Mode::ALL
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How an input's string is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    /// `true` or `false`, nothing else. On the CLI a bare `--flag` means `true`.
    Bool,
    /// Never logged; masked on the runner.
    Secret,
    /// One of a fixed set of words.
    Choice(&'static [&'static str]),
}

/// One input of the action, which is also one CLI flag of every subcommand in `modes`.
#[derive(Debug, Clone, Copy)]
pub struct InputSpec {
    pub name: &'static str,
    pub description: &'static str,
    /// The default as `action.yml` writes it (an expression for `github-token`).
    pub default: Option<&'static str>,
    pub kind: Kind,
    /// Modes that read it; empty means "every mode".
    pub modes: &'static [Mode],
    /// Whether the CLI offers it as a flag (`mode` is the subcommand there).
    pub cli: bool,
    /// The description as one mode's `--help` shows it, where [`InputSpec::description`] (the complete text
    /// `action.yml` and the README carry) also speaks of other modes.
    pub per_mode: &'static [(Mode, &'static str)],
    /// Modes that read the input only for what a runner provides (`github-token` as the ghcr.io password, with
    /// `GITHUB_ACTOR` as the user): the action takes it there, but their subcommand offers no flag.
    pub runner_only: &'static [Mode],
}

impl InputSpec {
    pub fn applies_to(&self, mode: Mode) -> bool {
        self.modes.is_empty() || self.modes.contains(&mode)
    }

    /// Whether `mode`'s subcommand offers this input as a flag.
    pub fn on_cli(&self, mode: Mode) -> bool {
        self.cli && self.applies_to(mode) && !self.runner_only.contains(&mode)
    }

    /// The description for `mode`'s `--help`.
    pub fn help(&self, mode: Mode) -> &'static str {
        self.per_mode
            .iter()
            .find(|(m, _)| *m == mode)
            .map(|(_, text)| *text)
            .unwrap_or(self.description)
    }

    /// The default the program applies itself (expressions are the runner's business).
    pub fn program_default(&self) -> Option<&'static str> {
        self.default.filter(|d| !d.starts_with("${{"))
    }
}

const BUILD: &[Mode] = &[Mode::DevelopBuild, Mode::StagingBuild];
/// Modes that talk to a registry (`select` and `lint` only read tag lists, `plan` tags and digests).
const REGISTRY: &[Mode] = &[
    Mode::DevelopBuild,
    Mode::StagingBuild,
    Mode::Retag,
    Mode::Select,
    Mode::Lint,
    Mode::Promote,
    Mode::Release,
    Mode::Plan,
    Mode::Rollback,
];

/// Modes that commit and read the production overlay.
const PROMOTION: &[Mode] = &[Mode::Promote, Mode::Release];

/// Modes that propose an overlay change on a branch with a pull request.
const PROPOSAL: &[Mode] = &[Mode::Promote, Mode::Rollback];

/// Every input. Add new ones here; `action.yml`, the CLI and the README follow.
pub const INPUTS: &[InputSpec] = &[
    InputSpec {
        name: "mode",
        description: "What to do. One of: develop-build, staging-build, retag, patch, select, lint, promote, release, rollback, plan. Empty on a manual run (`workflow_dispatch`) means `plan`.",
        default: None,
        kind: Kind::Text,
        modes: &[],
        cli: false,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "image",
        description: "Image repository without tag, e.g. `ghcr.io/org/app`. Required in `develop-build`, `staging-build` and `patch`. In `patch`: the image as the manifest names it (a Kustomization's `images[].name`). In `select`: the image whose tags are listed from the registry when `tags-file` is not given (a provider's `oci://` URL is accepted). In `promote` and `release` (required): the image to promote, as the production overlay names it. In `rollback` (required): the image to roll back.",
        default: None,
        kind: Kind::Text,
        modes: &[
            Mode::DevelopBuild,
            Mode::StagingBuild,
            Mode::Patch,
            Mode::Select,
            Mode::Promote,
            Mode::Release,
            Mode::Rollback,
        ],
        cli: true,
        per_mode: &[
            (
                Mode::DevelopBuild,
                "Image repository without tag, e.g. `ghcr.io/org/app`: the image the computed tag is for (the `tags` output, the Flux check, and the retag of `source-image`). Required.",
            ),
            (
                Mode::StagingBuild,
                "Image repository without tag, e.g. `ghcr.io/org/app`: the image the computed tag is for (the `tags` output, the Flux check, and the retag of `source-image`). Required.",
            ),
            (
                Mode::Patch,
                "The image as the manifest names it (a Kustomization's `images[].name`, a Flux marker's or a reference's image), e.g. `ghcr.io/org/app`. Required.",
            ),
            (
                Mode::Select,
                "Image whose tags are listed from the registry when `tags-file` is not given, e.g. `ghcr.io/org/app` (a provider's `oci://` URL is accepted).",
            ),
            (
                Mode::Promote,
                "The image to promote, as the production overlay names it, e.g. `ghcr.io/org/app`. Required.",
            ),
            (
                Mode::Release,
                "The image whose merged promotion is released, as the production overlay names it, e.g. `ghcr.io/org/app`. Required.",
            ),
            (
                Mode::Rollback,
                "The image to roll back, as the production overlay names it, e.g. `ghcr.io/org/app`. Required.",
            ),
        ],
        runner_only: &[],
    },
    InputSpec {
        name: "version",
        description: "Use this semver version (e.g. `1.4.0`, a leading `v` is accepted) instead of deriving it from tags and commits.",
        default: None,
        kind: Kind::Text,
        modes: BUILD,
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "tag-prefix",
        description: "Prefix of the git release tags the version is derived from (`v` for `v1.2.3`).",
        default: Some("v"),
        kind: Kind::Text,
        modes: BUILD,
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "initial-version",
        description: "Version used when the repository has no stable release tag yet.",
        default: Some("0.1.0"),
        kind: Kind::Text,
        modes: BUILD,
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "develop-tag-template",
        description: "Image tag for develop builds. Placeholders: {version} {major} {minor} {patch} {sha} {sha_long} {count} {run} {ts}.",
        default: Some("v{version}-rc.{count}.g{sha}"),
        kind: Kind::Text,
        modes: &[Mode::DevelopBuild],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "staging-tag-template",
        description: "Image tag for staging builds; same placeholders as `develop-tag-template`.",
        default: Some("v{version}"),
        kind: Kind::Text,
        modes: &[Mode::StagingBuild],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "git-tag",
        description: "`true` or `false`. Create the stable version's git tag on HEAD and push it to `origin`, so the next merge derives the next version.",
        default: Some("true"),
        kind: Kind::Bool,
        modes: &[Mode::StagingBuild],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "source",
        description: "Image to retag: a reference with a tag or digest, e.g. `ghcr.io/org/app:v1.3.0` or `ghcr.io/org/app@sha256:…`. Required.",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Retag],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "tags",
        description: "Tags to point at the source's digest, comma- or newline-separated. A bare tag is in the source's repository; a full reference `REGISTRY/PATH:TAG` copies the image there first (blobs mounted on the same registry, only missing blobs streamed across registries). Required.",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Retag],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "force",
        description: "`true` or `false`. Move a tag that already points to another digest even when it is not a moving tag (otherwise that is a conflict error).",
        default: Some("false"),
        kind: Kind::Bool,
        modes: &[Mode::Retag],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "moving-tags",
        description: "Tags that may move to a new digest (reported `moved` with the old digest), comma- or newline-separated. `production-latest` is always one; every other existing tag is immutable.",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Retag],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "source-image",
        description: "An image already built and pushed (reference with tag or digest). When given, it is retagged to the computed tag (same digest, no layer moves; the version tag is immutable). Empty: only compute the tag.",
        default: None,
        kind: Kind::Text,
        modes: BUILD,
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "registry-username",
        description: "Registry user. Default on ghcr.io: `GITHUB_ACTOR` (with `github-token` as password; the CLI reads `GITHUB_TOKEN`).",
        default: None,
        kind: Kind::Text,
        modes: REGISTRY,
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "registry-password",
        description: "Registry password or access token, exchanged for a bearer token when the registry asks for one. Default on ghcr.io: `github-token` (`GITHUB_TOKEN` on the CLI; the job needs `permissions: packages: write`). The CLI reads `GITOPS_PROMOTE_REGISTRY_PASSWORD` when neither this flag nor `--registry-token` is given (a flag shows in `ps`).",
        default: None,
        kind: Kind::Secret,
        modes: REGISTRY,
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "registry-token",
        description: "A ready bearer token for the registry, sent as is (instead of `registry-username`/`registry-password`). The CLI reads `GITOPS_PROMOTE_REGISTRY_TOKEN` when neither this flag nor `--registry-password` is given.",
        default: None,
        kind: Kind::Secret,
        modes: REGISTRY,
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "insecure-registry",
        description: "`true` or `false`. Talk plain http to every registry. Without it: https, and plain http only for a loopback registry that answers without TLS (as Docker does). A certificate from a private CA needs the CA trusted (the system store, or `SSL_CERT_FILE`), not this.",
        default: Some("false"),
        kind: Kind::Bool,
        modes: REGISTRY,
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "registry-timeout",
        description: "Seconds all registry requests of the run may take together, retries included.",
        default: Some("600"),
        kind: Kind::Text,
        modes: REGISTRY,
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "manifest",
        description: "YAML file to patch, relative to the repository root (no `..`, no absolute path, no symlink out of the repository). Default: `flux/apps/{app}/{environment}/kustomization.yaml`. In `promote`: the production overlay, read from the base branch's tip; in `release`: the overlay whose change at the pushed commit is released.",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Patch, Mode::Promote, Mode::Release, Mode::Rollback],
        cli: true,
        per_mode: &[
            (
                Mode::Patch,
                "YAML file to patch, relative to the repository root (no `..`, no absolute path, no symlink out of the repository). Default: `flux/apps/{app}/{environment}/kustomization.yaml`.",
            ),
            (
                Mode::Promote,
                "The production overlay, relative to the repository root (no `..`, no absolute path), read from the base branch's tip. Default: `flux/apps/{app}/{environment}/kustomization.yaml`.",
            ),
            (
                Mode::Release,
                "The production overlay, relative to the repository root (no `..`, no absolute path): its change at the pushed commit is what is released. Default: `flux/apps/{app}/{environment}/kustomization.yaml`.",
            ),
            (
                Mode::Rollback,
                "The production overlay, relative to the repository root (no `..`, no absolute path), read from the base branch's tip; its git history in the checkout says which releases production ran. Default: `flux/apps/{app}/{environment}/kustomization.yaml`.",
            ),
        ],
        runner_only: &[],
    },
    InputSpec {
        name: "app",
        description: "Application directory under `flux/apps/`, for the default `manifest`. In `promote` it defaults to the image's last path segment and names the application in the branch, the commit and the pull request.",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Patch, Mode::Promote, Mode::Release, Mode::Rollback],
        cli: true,
        per_mode: &[
            (
                Mode::Patch,
                "Application directory under `flux/apps/`, for the default `manifest`.",
            ),
            (
                Mode::Promote,
                "Application directory under `flux/apps/`, for the default `manifest`; it names the application in the branch, the commit and the pull request. Default: the image's last path segment.",
            ),
            (
                Mode::Release,
                "Application directory under `flux/apps/`, for the default `manifest`. Default: the image's last path segment.",
            ),
            (
                Mode::Rollback,
                "Application directory under `flux/apps/`, for the default `manifest`; it names the application in the branch, the commit and the pull request. Default: the image's last path segment.",
            ),
        ],
        runner_only: &[],
    },
    InputSpec {
        name: "environment",
        description: "Environment directory (`develop`, `staging`, `production`), for the default `manifest`. In `promote` it defaults to `production`.",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Patch, Mode::Promote, Mode::Release, Mode::Rollback],
        cli: true,
        per_mode: &[
            (
                Mode::Patch,
                "Environment directory (`develop`, `staging`, `production`), for the default `manifest`.",
            ),
            (
                Mode::Promote,
                "Environment directory of the overlay, for the default `manifest`. Default: `production`.",
            ),
            (
                Mode::Release,
                "Environment directory of the overlay, for the default `manifest`. Default: `production`.",
            ),
            (
                Mode::Rollback,
                "Environment directory of the overlay, for the default `manifest`. Default: `production`.",
            ),
        ],
        runner_only: &[],
    },
    InputSpec {
        name: "tag",
        description: "Tag to set (a Kustomization's `newTag`, a Flux `:tag` marker, or the tag part of a reference). Setting a tag without `digest` removes a stale digest.",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Patch],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "digest",
        description: "Digest to pin, `sha256:` and 64 hex digits. With `tag`, both are written (kustomize renders `name:tag@digest`).",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Patch],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "new-name",
        description: "New image name to set (a Kustomization's `newName`, a Flux `:name` marker, or the name part of a reference).",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Patch],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "field-path",
        description: "Set only the scalar at this path, e.g. `spec.values.image.tag` in a HelmRelease or `image.tag` in a values file; list items as `[0]`.",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Patch],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "github-token",
        description: "GitHub token. Pushes the release tag over https (user `x-access-token`; the job needs `contents: write`) and is the default registry password on ghcr.io (`packages: write`). In `promote` it also calls the GitHub API (commits: `contents: write`; the pull request: `pull-requests: write`); a pull request opened with the workflow's `GITHUB_TOKEN` starts no other workflow, so pass a GitHub App token or a PAT when CI must run on it. In `develop-build`, `retag`, `select`, `lint` and `plan` it is only that ghcr.io default (with `GITHUB_ACTOR` as the user, which a runner sets), so their subcommands offer no flag. The CLI reads `GITHUB_TOKEN` when the flag is absent.",
        default: Some("${{ github.token }}"),
        kind: Kind::Secret,
        modes: &[
            Mode::DevelopBuild,
            Mode::StagingBuild,
            Mode::Retag,
            Mode::Select,
            Mode::Lint,
            Mode::Promote,
            Mode::Release,
            Mode::Plan,
            Mode::Rollback,
        ],
        cli: true,
        per_mode: &[
            (
                Mode::StagingBuild,
                "GitHub token: the https password (user `x-access-token`) for pushing the release tag to `origin` (the job needs `contents: write`); also the default registry password on ghcr.io. Default: `GITHUB_TOKEN` from the environment.",
            ),
            (
                Mode::Promote,
                "GitHub token for the GitHub API (commits: `contents: write`; the pull request: `pull-requests: write`) and, with `commit-via: git`, the https password of the push; also the default registry password on ghcr.io. A pull request opened with the workflow's `GITHUB_TOKEN` starts no other workflow: pass a GitHub App token or a PAT when CI must run on it. Default: `GITHUB_TOKEN` from the environment.",
            ),
            (
                Mode::Release,
                "GitHub token: the https password (user `x-access-token`) for pushing the git tag, and the GitHub API for the release (the job needs `contents: write`); also the default registry password on ghcr.io (`packages: write`). Default: `GITHUB_TOKEN` from the environment.",
            ),
            (
                Mode::Rollback,
                "GitHub token for the GitHub API (commits: `contents: write`; the pull request: `pull-requests: write`) and, with `commit-via: git`, the https password of the push; also the default registry password on ghcr.io (`packages: write` to move the moving tag). Default: `GITHUB_TOKEN` from the environment.",
            ),
        ],
        runner_only: &[
            Mode::DevelopBuild,
            Mode::Retag,
            Mode::Select,
            Mode::Lint,
            Mode::Plan,
        ],
    },
    InputSpec {
        name: "flux-path",
        description: "Directory (relative to the repository) holding the Flux objects: every `ResourceSetInputProvider`, `ResourceSet`, `ImagePolicy` and `ImageRepository` in `*.yaml` files under it is read.",
        default: Some("flux"),
        kind: Kind::Text,
        modes: &[
            Mode::DevelopBuild,
            Mode::StagingBuild,
            Mode::Lint,
            Mode::Promote,
            Mode::Plan,
        ],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "flux-check",
        description: "`error`, `warn` or `off`. Before anything is pushed, check that the Flux provider or ImagePolicy of this image and environment would select the new tag over the existing ones (the image's tags in the registry, read with the registry inputs; the repository's git tags when the registry cannot be read); `error` fails the step, `warn` only annotates.",
        default: Some("error"),
        kind: Kind::Choice(&["error", "warn", "off"]),
        modes: BUILD,
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "filter-file",
        description: "YAML file holding the `ResourceSetInputProvider` or `ImagePolicy` to select with (other documents, such as the provider's ResourceSet, may be in it too; see `name`), or a bare provider `filter:` mapping. Required.",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Select],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "name",
        description: "The object of `filter-file` to select with, when the file holds several (a provider and its ResourceSet need none: the only ResourceSetInputProvider or ImagePolicy is taken): its `metadata.name`, or `KIND/NAME` when a provider and an ImagePolicy share the name, e.g. `backend-staging` or `ImagePolicy/backend`.",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Select],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "tags-file",
        description: "File with one tag per line, in the registry's listing order (`-` reads standard input). Without it, `select` lists the tags of `image` from the registry, and `lint` those of each image its Flux objects watch (when the registry can be read). For `lint`: the image's current tags, to find providers that select nothing and predict what each environment deploys.",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Select, Mode::Lint],
        cli: true,
        per_mode: &[
            (
                Mode::Select,
                "File with one tag per line, in the registry's listing order (`-` reads standard input). Without it, the tags of `image` are listed from the registry.",
            ),
            (
                Mode::Lint,
                "File with the images' current tags, one per line (`-` reads standard input), to find providers that select nothing and predict what each environment deploys. Without it, the tags of each image the Flux objects watch are listed from the registry (when it can be read).",
            ),
        ],
        runner_only: &[],
    },
    InputSpec {
        name: "staging-tag",
        description: "The staging image tag to promote, e.g. `v1.2.3` or `v1.2.3-rc.4`. Default: the tag the staging environment selects now (the staging provider or ImagePolicy under `flux-path`, applied to the registry's tags); without one, the highest stable semver tag in the registry.",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Promote],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "production-tag",
        description: "The production version tag (immutable: a conflict when it already points to another digest). Default: `staging-tag` without its prerelease part (`v1.2.3-rc.4` → `v1.2.3`).",
        default: None,
        kind: Kind::Text,
        modes: PROMOTION,
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "moving-tag",
        description: "The tag production's Flux provider follows. With `pull-request: true` it does not move in `promote` (it moves when the merged change is released); with `pull-request: false` it moves to the staging digest after the commit landed. `release` moves it to the digest the merged overlay pins. `plan` compares where it points with what the production overlay pins.",
        default: Some("production-latest"),
        kind: Kind::Text,
        modes: &[Mode::Promote, Mode::Release, Mode::Plan, Mode::Rollback],
        cli: true,
        per_mode: &[
            (
                Mode::Promote,
                "The tag production's Flux provider follows. With `pull-request: true` it does not move here (it moves when the merged change is released); with `pull-request: false` it moves to the staging digest after the commit landed.",
            ),
            (
                Mode::Release,
                "The tag production's Flux provider follows: moved to the digest the merged overlay pins.",
            ),
            (
                Mode::Plan,
                "The tag production's Flux provider follows: where it points is compared with what the production overlay pins (a difference is drift).",
            ),
            (
                Mode::Rollback,
                "The tag production's Flux provider follows. With `immediate: true` (or `pull-request: false`) it moves to the target's digest in this run; otherwise it moves back when the merged change is released.",
            ),
        ],
        runner_only: &[],
    },
    InputSpec {
        name: "fail-on-drift",
        description: "`true` or `false`. Fail the step (exit 1, after the report is written) when the registry and the overlays disagree: an overlay's tag no longer points to the digest it pins, or the moving tag points elsewhere than the production overlay says. `false`: drift is a warning annotation.",
        default: Some("false"),
        kind: Kind::Bool,
        modes: &[Mode::Plan],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "base-branch",
        description: "Branch the production overlay is read from and the pull request targets (or, with `pull-request: false`, the branch committed to). Default: the repository's default branch.",
        default: None,
        kind: Kind::Text,
        modes: PROPOSAL,
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "branch",
        description: "Branch of the proposed commit. In `promote`: placeholders {app} {environment} {production-tag} {staging-tag}, default `promote-{production-tag}` (`promote-{app}-{production-tag}` suits a monorepo). In `rollback`: placeholders {app} {environment} {from-tag} {to-tag}, default `rollback-{to-tag}`.",
        default: None,
        kind: Kind::Text,
        modes: PROPOSAL,
        cli: true,
        per_mode: &[
            (
                Mode::Promote,
                "Branch of the promotion commit. Placeholders: {app} {environment} {production-tag} {staging-tag}. `promote-{app}-{production-tag}` suits a monorepo. Default: `promote-{production-tag}`.",
            ),
            (
                Mode::Rollback,
                "Branch of the rollback commit. Placeholders: {app} {environment} {from-tag} {to-tag}. Default: `rollback-{to-tag}`.",
            ),
        ],
        runner_only: &[],
    },
    InputSpec {
        name: "pull-request",
        description: "`true` or `false`. `true`: commit on `branch` and open (or update) a pull request for review; the moving tag is not moved. `false`: commit straight to `base-branch` and move the moving tag in the same run (for teams that gate with a GitHub Environment's required reviewers).",
        default: Some("true"),
        kind: Kind::Bool,
        modes: PROPOSAL,
        cli: true,
        per_mode: &[(
            Mode::Rollback,
            "`true` or `false`. `true`: commit on `branch` and open (or update) a pull request for review; the moving tag moves only with `immediate`. `false`: commit straight to `base-branch` and move the moving tag in the same run.",
        )],
        runner_only: &[],
    },
    InputSpec {
        name: "commit-via",
        description: "`api` or `git`. `api`: the GitHub REST Git Data API (GitHub signs the commit; no push credentials, `persist-credentials: false` works). `git`: a normal commit pushed with git to `origin` (any git server; `github-token` is the https password, never put in a URL).",
        default: Some("api"),
        kind: Kind::Choice(&["api", "git"]),
        modes: &[Mode::Promote, Mode::Release, Mode::Rollback],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "create-release",
        description: "`true` or `false`. In `promote`: recorded in the promotion commit (trailer `Gitops-Promote-Create-Release`) for the `release` run after the merge. In `release`: whether to publish the GitHub release; empty means what the promotion commit recorded, else `true`.",
        default: Some("true"),
        kind: Kind::Bool,
        modes: PROMOTION,
        cli: true,
        per_mode: &[
            (
                Mode::Promote,
                "`true` or `false`. Recorded in the promotion commit (trailer `Gitops-Promote-Create-Release`) for the release run after the merge, which publishes the GitHub release when it is `true`.",
            ),
            (
                Mode::Release,
                "`true` or `false`. Whether to publish the GitHub release; empty means what the promotion commit recorded, else `true`.",
            ),
        ],
        runner_only: &[],
    },
    InputSpec {
        name: "changelog-file",
        description: "A Keep a Changelog file, e.g. `CHANGELOG.md`: the release notes are added above its newest entry (the file is created when missing) and committed to the pushed branch through `commit-via`, with `[skip ci]`. Empty: no changelog.",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Release],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "labels",
        description: "Labels for the pull request, comma- or newline-separated (missing labels are created by GitHub). Default: `promotion` in `promote`, `rollback` in `rollback`.",
        default: None,
        kind: Kind::Text,
        modes: PROPOSAL,
        cli: true,
        per_mode: &[
            (
                Mode::Promote,
                "Labels for the pull request, comma- or newline-separated (missing labels are created by GitHub). Default: `promotion`.",
            ),
            (
                Mode::Rollback,
                "Labels for the pull request, comma- or newline-separated (missing labels are created by GitHub). Default: `rollback`.",
            ),
        ],
        runner_only: &[],
    },
    InputSpec {
        name: "reviewers",
        description: "Reviewers to request on the pull request, comma- or newline-separated: user logins, and teams as `org/team-slug`.",
        default: None,
        kind: Kind::Text,
        modes: PROPOSAL,
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "draft",
        description: "`true` or `false`. Open the pull request as a draft.",
        default: Some("false"),
        kind: Kind::Bool,
        modes: PROPOSAL,
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "to",
        description: "The release to roll back to, e.g. `v1.2.0`: a tag the overlay pinned before (its git history in the checkout) and lower than the current one, that the registry still has. Default: the production release before the one that runs now.",
        default: None,
        kind: Kind::Text,
        modes: &[Mode::Rollback],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "immediate",
        description: "`true` or `false`. For an incident: also move the moving tag to the target's digest now, before the commit, and record that in the pull request, so git catches up with what runs.",
        default: Some("false"),
        kind: Kind::Bool,
        modes: &[Mode::Rollback],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
    InputSpec {
        name: "dry-run",
        description: "`true` or `false`. Print the plan as JSON and Markdown and change nothing; operations are reported as `would-create`, `would-update`, `would-move` or `would-change`.",
        default: Some("false"),
        kind: Kind::Bool,
        modes: &[
            Mode::DevelopBuild,
            Mode::StagingBuild,
            Mode::Retag,
            Mode::Patch,
            Mode::Promote,
            Mode::Release,
            Mode::Rollback,
        ],
        cli: true,
        per_mode: &[],
        runner_only: &[],
    },
];

/// One output of the action.
#[derive(Debug, Clone, Copy)]
pub struct OutputSpec {
    pub name: &'static str,
    pub description: &'static str,
    pub modes: &'static [Mode],
}

/// Every output. Add new ones here; `action.yml` and the README follow.
pub const OUTPUTS: &[OutputSpec] = &[
    OutputSpec {
        name: "version",
        description: "The version without prefix, e.g. `1.3.0`.",
        modes: BUILD,
    },
    OutputSpec {
        name: "tag",
        description: "The image tag, e.g. `v1.3.0-rc.4.gabc1234`.",
        modes: BUILD,
    },
    OutputSpec {
        name: "tags",
        description: "Full references `IMAGE:TAG`, one per line (for docker/build-push-action `tags`).",
        modes: BUILD,
    },
    OutputSpec {
        name: "labels",
        description: "OCI annotations `org.opencontainers.image.{version,revision,source,created}`, one `key=value` per line.",
        modes: BUILD,
    },
    OutputSpec {
        name: "git-tag-operation",
        description: "What happened to the git tag: `created`, `unchanged` or `skipped` (in a dry run `would-create` instead of `created`).",
        modes: BUILD,
    },
    OutputSpec {
        name: "digest",
        description: "The source image's digest, which every tag now points to (`sha256:…`). In `develop-build`/`staging-build`: the digest of `source-image` (set only when it is given). In `promote`: the staging image's digest, pinned in the overlay; in `release`: the digest the merged overlay pins, which the moving tag now points to; in `rollback`: the target's digest, pinned in the overlay.",
        modes: &[
            Mode::DevelopBuild,
            Mode::StagingBuild,
            Mode::Retag,
            Mode::Promote,
            Mode::Release,
            Mode::Rollback,
        ],
    },
    OutputSpec {
        name: "media-type",
        description: "The source manifest's media type (OCI or Docker, image or index).",
        modes: &[Mode::Retag],
    },
    OutputSpec {
        name: "result",
        description: "JSON list, one entry per tag: `tag`, `reference`, `operation` (`created`, `unchanged` or `moved`; in a dry run `would-create` and `would-move` instead) and `old_digest`.",
        modes: &[Mode::Retag],
    },
    OutputSpec {
        name: "changed",
        description: "`true` when this run changed the manifest, else `false` (always `false` in a dry run: see `manifest-operation`).",
        modes: &[Mode::Patch],
    },
    OutputSpec {
        name: "manifest-operation",
        description: "What happened to the manifest: `changed` or `unchanged` (in a dry run `would-change` instead of `changed`).",
        modes: &[Mode::Patch],
    },
    OutputSpec {
        name: "diff",
        description: "The edit as a unified diff (empty when nothing changed).",
        modes: &[Mode::Patch],
    },
    OutputSpec {
        name: "selected",
        description: "The tags Flux would select, in Flux's order, one per line (empty when it selects nothing).",
        modes: &[Mode::Select],
    },
    OutputSpec {
        name: "findings",
        description: "The lint findings as a JSON array of `{severity, rule, file, line, object, message, help}`.",
        modes: &[Mode::Lint],
    },
    OutputSpec {
        name: "staging-tag",
        description: "The staging tag promoted (given, or the one staging selects).",
        modes: &[Mode::Promote],
    },
    OutputSpec {
        name: "production-tag",
        description: "The production version tag, e.g. `v1.2.3` (in `rollback`: the target, as `to-tag`).",
        modes: PROPOSAL,
    },
    OutputSpec {
        name: "branch",
        description: "The branch the promotion commit is on (`base-branch` with `pull-request: false`).",
        modes: PROPOSAL,
    },
    OutputSpec {
        name: "commit",
        description: "The promotion commit's SHA (the existing one when nothing changed; empty when the base branch already pins the image).",
        modes: PROPOSAL,
    },
    OutputSpec {
        name: "commit-operation",
        description: "What happened to the commit: `created`, `updated` (the branch was reset onto the base branch's new tip), `unchanged` or `skipped` (in a dry run `would-create` and `would-update` instead).",
        modes: PROPOSAL,
    },
    OutputSpec {
        name: "pr-number",
        description: "The pull request's number (empty without one).",
        modes: PROPOSAL,
    },
    OutputSpec {
        name: "pr-url",
        description: "The pull request's URL (empty without one).",
        modes: PROPOSAL,
    },
    OutputSpec {
        name: "pr-operation",
        description: "What happened to the pull request: `created`, `updated`, `unchanged` or `skipped` (in a dry run `would-create` and `would-update` instead).",
        modes: PROPOSAL,
    },
    OutputSpec {
        name: "moving-tag-operation",
        description: "What happened to the moving tag: `created`, `moved`, `unchanged` or `skipped`.",
        modes: &[Mode::Release, Mode::Rollback],
    },
    OutputSpec {
        name: "tag-operation",
        description: "What happened to the git tag `{production-tag}`: `created`, `unchanged` or `skipped` (a rollback, or a tag left where it is).",
        modes: &[Mode::Release],
    },
    OutputSpec {
        name: "release-operation",
        description: "What happened to the GitHub release: `created`, `updated` (its notes differed), `unchanged` or `skipped` (in `promote`: published only with `pull-request: false`).",
        modes: PROMOTION,
    },
    OutputSpec {
        name: "release-url",
        description: "The GitHub release's URL (empty without one).",
        modes: PROMOTION,
    },
    OutputSpec {
        name: "matrix",
        description: "The pending promotions as a job matrix, `{\"include\":[{\"app\",\"image\",\"staging-tag\",\"production-tag\",\"manifest\"}]}`, for a job's `strategy.matrix` (`fromJSON(needs.plan.outputs.matrix)`: one `promote` job per application; `include` is empty when nothing is pending).",
        modes: &[Mode::Plan],
    },
    OutputSpec {
        name: "from-tag",
        description: "The release production ran before the rollback (the overlay's tag at the base branch's tip).",
        modes: &[Mode::Rollback],
    },
    OutputSpec {
        name: "to-tag",
        description: "The release rolled back to.",
        modes: &[Mode::Rollback],
    },
    OutputSpec {
        name: "json",
        description: "Everything above, and the plan, as one JSON object.",
        modes: &[],
    },
];

/// Splits a comma- or newline-separated list, dropping blanks.
pub fn split_list(value: &str) -> Vec<String> {
    value
        .split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

pub fn input_spec(name: &str) -> Option<&'static InputSpec> {
    INPUTS.iter().find(|i| i.name == name)
}

/// A secret value: `Debug` and `Display` print `***`, so it cannot leak through a log or an error.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that hands it to a server.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl serde::Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

/// The event of a run started by hand (`GITHUB_EVENT_NAME`), on which an empty `mode` means [`Mode::Plan`].
pub const MANUAL_EVENT: &str = "workflow_dispatch";

/// Phase one: the mode and the raw strings, from either front door.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub mode: Mode,
    /// Input name → raw value. Absent and empty both mean "default".
    pub raw: BTreeMap<String, String>,
    /// The repository to work in (`--repo`, or `GITHUB_WORKSPACE`).
    pub repo: PathBuf,
    pub in_actions: bool,
}

impl Invocation {
    /// The Actions front door: `mode` and every other input come from `INPUT_*`.
    pub fn from_actions(env: &crate::env::Environment) -> Result<Self> {
        let mode_raw = env.inputs.get("mode").map(|s| s.trim()).unwrap_or("");
        // A person who starts a run by hand without choosing a mode gets the read-only overview.
        let manual = env.github.event_name.as_deref() == Some(MANUAL_EVENT);
        let mode = if mode_raw.is_empty() && manual {
            Some(Mode::Plan)
        } else {
            Mode::from_name(mode_raw)
        };
        let mode = mode.ok_or_else(|| {
            let message = if mode_raw.is_empty() {
                "no mode given".to_string()
            } else {
                format!("unknown mode `{mode_raw}`")
            };
            Error::input(
                InputProblem::new("mode", message)
                    .help(format!("set `with: mode:` to one of: {}", Mode::names())),
            )
        })?;
        let repo = env
            .github
            .workspace
            .clone()
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Self {
            mode,
            raw: env.inputs.clone(),
            repo,
            in_actions: true,
        })
    }

    /// Phase two starts here.
    pub fn reader(&self) -> Reader<'_> {
        Reader {
            invocation: self,
            problems: Vec::new(),
        }
    }
}

/// Phase two: typed values, with every problem collected. Call [`Reader::finish`] before acting.
pub struct Reader<'a> {
    invocation: &'a Invocation,
    problems: Vec<InputProblem>,
}

impl Reader<'_> {
    /// The value, or the spec's default, or `None`; surrounding whitespace is dropped.
    pub fn text(&self, name: &str) -> Option<String> {
        let raw = self
            .invocation
            .raw
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty());
        match raw {
            Some(v) => Some(v.to_string()),
            None => input_spec(name)
                .and_then(|s| s.program_default())
                .map(str::to_string),
        }
    }

    /// The value as given, without the spec's default (for inputs whose default depends on the mode).
    pub fn given(&self, name: &str) -> Option<String> {
        self.invocation
            .raw
            .get(name)
            .map(|s| s.trim())
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    }

    /// A value the mode cannot work without.
    pub fn required(&mut self, name: &str, help: &str) -> String {
        match self.text(name) {
            Some(v) => v,
            None => {
                self.problems
                    .push(InputProblem::new(name, "is required but was not given").help(help));
                String::new()
            }
        }
    }

    /// `true`/`false` only; anything else is a problem (and reads as the default).
    pub fn bool(&mut self, name: &str) -> bool {
        let default = input_spec(name).and_then(|s| s.program_default()) == Some("true");
        match self.text(name).as_deref() {
            None => default,
            Some("true") => true,
            Some("false") => false,
            Some(other) => {
                self.problems.push(
                    InputProblem::new(name, format!("`{other}` is not a boolean"))
                        .help("use `true` or `false`"),
                );
                default
            }
        }
    }

    /// A secret; empty means absent.
    pub fn secret(&self, name: &str) -> Option<Secret> {
        self.text(name).map(Secret::new)
    }

    /// Parses the value (or default) with `parse`; a parse error becomes a problem naming the input.
    pub fn parse<T>(
        &mut self,
        name: &str,
        parse: impl FnOnce(&str) -> std::result::Result<T, InputProblem>,
    ) -> Option<T> {
        let value = self.text(name)?;
        match parse(&value) {
            Ok(v) => Some(v),
            Err(mut problem) => {
                problem.input = name.to_string();
                self.problems.push(problem);
                None
            }
        }
    }

    /// Records a problem found while combining inputs.
    pub fn problem(&mut self, problem: InputProblem) {
        self.problems.push(problem);
    }

    /// Every problem, or nothing.
    pub fn finish(self) -> Result<()> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(Error::inputs(self.problems))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Environment;

    fn actions_env(pairs: &[(&str, &str)]) -> Environment {
        Environment::from_vars(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string())),
        )
    }

    #[test]
    fn unknown_mode_lists_the_accepted_ones() {
        let env = actions_env(&[("INPUT_MODE", "deploy")]);
        let err = Invocation::from_actions(&env).expect_err("unknown mode");
        assert_eq!(err.problems[0].input, "mode");
        assert!(err.to_string().contains("develop-build, staging-build"));
    }

    #[test]
    fn an_empty_mode_is_plan_on_a_manual_run_only() {
        let manual = actions_env(&[
            ("INPUT_MODE", ""),
            ("GITHUB_EVENT_NAME", "workflow_dispatch"),
        ]);
        assert_eq!(
            Invocation::from_actions(&manual).expect("plan").mode,
            Mode::Plan
        );
        let chosen = actions_env(&[
            ("INPUT_MODE", "lint"),
            ("GITHUB_EVENT_NAME", "workflow_dispatch"),
        ]);
        assert_eq!(
            Invocation::from_actions(&chosen).expect("lint").mode,
            Mode::Lint
        );
        let push = actions_env(&[("INPUT_MODE", ""), ("GITHUB_EVENT_NAME", "push")]);
        let err = Invocation::from_actions(&push).expect_err("no mode on a push");
        assert!(err.to_string().contains("no mode given"), "{err}");
    }

    #[test]
    fn empty_input_means_default_and_booleans_are_strict() {
        let env = actions_env(&[
            ("INPUT_MODE", "staging-build"),
            ("INPUT_TAG-PREFIX", ""),
            ("INPUT_GIT-TAG", "yes"),
        ]);
        let inv = Invocation::from_actions(&env).expect("mode");
        let mut r = inv.reader();
        assert_eq!(r.text("tag-prefix").as_deref(), Some("v"));
        assert!(r.bool("git-tag"), "a bad boolean reads as its default");
        let err = r.finish().expect_err("bad boolean");
        assert_eq!(err.problems[0].input, "git-tag");
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("ghp_supersecret");
        assert_eq!(format!("{s} {s:?}"), "*** ***");
        assert_eq!(
            serde_json::to_string(&s).expect("json"),
            "\"***\"".to_string()
        );
    }
}
