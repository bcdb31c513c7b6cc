//! Scale benchmark: a generated GitOps monorepo shaped like `examples/flux` (per application a provider and
//! ResourceSet per environment under `flux/bootstrap/apps/<env>/`, and `flux/apps/<app>/{base,develop,staging,
//! production}` overlays, production pinned by digest) with its own image of 5,000 tags in the real CNCF
//! registry, at 30, 90 and 300 applications (1×, 3×, 10×). `lint` and `plan` run as processes on each size, and
//! `select` on one image of 500, 1,500 and 5,000 tags. Prints each time beside its ratio to 1× (linear is 3 and
//! 10), the registry requests (the registry's access log), the tag lists per repository and the files opened
//! (strace, in a separate untimed run), and what a script would spend on the same repository in the same run.
//! Asserts nothing about time.
//!
//! Why applications scale and tags per image do not: the work is files (9 per application) plus tags listed and
//! filtered (5,000 per image, three filters each). Scaling both together would grow the tag work 100× from 1× to
//! 10× while the repository grew 10×, so no single "linear" figure would exist. With 5,000 tags per image at
//! every size each part of the input (files, objects, repositories, tag names) grows exactly 3× and 10×;
//! `select`, whose input is one image's tags, scales the tags.
//!
//! The registry: one real image is pushed with skopeo, and each application's repository gets its own manifest
//! (the same blobs, mounted; an annotation makes each digest distinct) through the API. Pushing 1.5 million tags
//! through the API would take hours, so the tags are laid out in the registry's storage as `distribution` writes
//! them (`_manifests/tags/<tag>/current/link` and `index/sha256/<hex>/link`, each holding the digest,
//! registry/storage/paths.go); each tag directory is a symlink to one such directory per repository (1.5 million
//! real directory trees would need 10 million inodes), which the filesystem driver follows like a directory, and
//! each repository's `_manifests/tags` directory is a symlink to where its tags are, on tmpfs when there is one.
//! One `GET /v2/<name>/tags/list` and one manifest `HEAD` by tag check that the registry serves them.
//!
//! `cargo bench --bench scale -- --apps 30,90,300 --tags 5000 --select-tags 500,1500,5000` (the defaults);
//! `--keep` generates, prints where, and leaves the registry running and the checkouts in place (for profiling);
//! `--binary PATH` measures another build of gitops-promote.

#![allow(clippy::print_stdout)] // a benchmark prints its table

#[path = "../tests/it/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Instant;

use support::images::{self, Format};
use support::registry::{Auth, Registry};
use support::trace;

const ENVIRONMENTS: [&str; 3] = ["develop", "staging", "production"];
/// Timed runs per command and size (the median is reported).
const RUNS: usize = 5;
/// Timed runs of each `select` (a process of tens of milliseconds: more runs, a steadier median).
const SELECT_RUNS: usize = 9;
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

fn arg_list(name: &str, default: &[usize]) -> Vec<usize> {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| default.to_vec())
}

fn app_name(i: usize) -> String {
    format!("app-{i:03}")
}

/// A stable 7-hex-digit "commit SHA" for the `k`th tag of `seed`.
fn sha(seed: &str, k: usize) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes().chain(k.to_le_bytes()) {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    format!("{:07x}", h & 0xfff_ffff)
}

fn version(i: usize) -> String {
    format!("v{}.{}.{}", 1 + i / 100, (i / 10) % 10, i % 10)
}

/// `n` tags as a pipeline leaves them: a fifth stable versions, release candidates `v1.2.3-rc.4.gabc1234`
/// (develop's tags), `sha-…` tags nothing selects, and `production-latest`.
fn tag_names(seed: &str, n: usize) -> Vec<String> {
    let versions = (n / 5).max(2);
    let rcs = n * 7 / 10;
    let mut tags: Vec<String> = (0..versions).map(version).collect();
    tags.extend((0..rcs).map(|k| {
        format!(
            "{}-rc.{}.g{}",
            version(k / 4 % versions),
            k % 4 + 1,
            sha(seed, k)
        )
    }));
    tags.push("production-latest".to_string());
    let mut k = rcs;
    while tags.len() < n {
        tags.push(format!("sha-{}", sha(seed, k)));
        k += 1;
    }
    tags.truncate(n);
    tags
}

/// The version the production overlay pins: the second highest, so a promotion is pending everywhere.
fn pinned_version(n: usize) -> String {
    version((n / 5).max(2) - 2)
}

struct World {
    registry: Registry,
    tmp: tempfile::TempDir,
    /// Where the 1.5 million tag entries live: tmpfs when there is one (creating and removing them on a disk
    /// takes a minute each), linked into the registry's storage one `_manifests/tags` directory per repository.
    tags: tempfile::TempDir,
    /// repository (`org/app-000`) → its manifest digest.
    digests: BTreeMap<String, String>,
}

impl World {
    fn image(&self, repository: &str) -> String {
        format!("{}/{repository}", self.registry.addr)
    }

    /// The request URIs the registry has answered so far, one per request (its `response completed` log
    /// lines; the access log goes to its stdout).
    fn log_lines(&self) -> Vec<String> {
        std::fs::read_to_string(&self.registry.log)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("msg=\"response completed"))
            .filter_map(|l| {
                // Quoted only when it holds a character that needs it (`?n=1000` does, a plain path not).
                let uri = l.split("http.request.uri=").nth(1)?;
                let uri = match uri.strip_prefix('"') {
                    Some(quoted) => quoted.split('"').next()?,
                    None => uri.split_whitespace().next()?,
                };
                Some(uri.to_string())
            })
            .collect()
    }
}

/// One real image, then a manifest of its own per repository through the API (blobs mounted).
fn push_manifests(world: &mut World, repositories: &[String]) {
    let layout = images::layout(world.tmp.path(), 1, 1, 4096);
    let base = world.image("org/base");
    images::push(&layout, &format!("{base}:v0.0.0"), Format::Oci, None);
    let raw = images::inspect_raw(&format!("{base}:v0.0.0"), None);
    let manifest: serde_json::Value = serde_json::from_slice(&raw).expect("manifest");
    let mut blobs = vec![
        manifest["config"]["digest"]
            .as_str()
            .expect("config")
            .to_string(),
    ];
    for layer in manifest["layers"].as_array().expect("layers") {
        blobs.push(layer["digest"].as_str().expect("layer").to_string());
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client");
    let addr = world.registry.addr.clone();
    let pushed: Vec<(String, String)> = rt.block_on(async {
        use futures_util::StreamExt;
        futures_util::stream::iter(repositories.iter().cloned())
            .map(|repository| {
                let (http, addr, blobs, manifest) =
                    (http.clone(), addr.clone(), blobs.clone(), manifest.clone());
                async move {
                    for blob in &blobs {
                        let url = format!(
                            "http://{addr}/v2/{repository}/blobs/uploads/?mount={blob}&from=org/base"
                        );
                        let resp = http.post(&url).send().await.expect("mount");
                        assert_eq!(resp.status().as_u16(), 201, "mount {blob} into {repository}");
                    }
                    let mut m = manifest;
                    m["annotations"] =
                        serde_json::json!({"org.opencontainers.image.title": repository});
                    let bytes = serde_json::to_vec(&m).expect("json");
                    let digest = images::digest_of(&bytes);
                    let url = format!("http://{addr}/v2/{repository}/manifests/{digest}");
                    let resp = http
                        .put(&url)
                        .header("content-type", OCI_MANIFEST)
                        .body(bytes)
                        .send()
                        .await
                        .expect("put manifest");
                    assert_eq!(resp.status().as_u16(), 201, "manifest of {repository}");
                    (repository, digest)
                }
            })
            .buffer_unordered(8)
            .collect()
            .await
    });
    world.digests.extend(pushed);
}

/// The tags of `repository` laid out in the registry's storage, every one pointing to its manifest.
fn lay_out_tags(world: &World, repository: &str, tags: &[String]) {
    let digest = &world.digests[repository];
    let hex = digest.trim_start_matches("sha256:");
    let own = world.tags.path().join(repository.replace('/', "_"));
    // What `distribution` writes for a tag: `current/link` and `index/sha256/<hex>/link`, each the digest.
    let target = own.join("tag");
    let index = target.join("index/sha256").join(hex);
    std::fs::create_dir_all(&index).expect("index dir");
    std::fs::create_dir_all(target.join("current")).expect("current dir");
    std::fs::write(target.join("current/link"), digest).expect("current link");
    std::fs::write(index.join("link"), digest).expect("index link");
    let listed = own.join("tags");
    std::fs::create_dir_all(&listed).expect("tags dir");
    for tag in tags {
        std::os::unix::fs::symlink(&target, listed.join(tag)).expect("tag symlink");
    }
    let manifests = world
        .registry
        .storage()
        .join("storage/docker/registry/v2/repositories")
        .join(repository)
        .join("_manifests");
    std::fs::create_dir_all(&manifests).expect("manifests dir");
    std::os::unix::fs::symlink(&listed, manifests.join("tags")).expect("tags link");
}

/// One tag list and one HEAD by tag, answered by the registry from the tags laid out on disk.
fn check_registry(world: &World, repository: &str, expected: &[String]) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("http client");
    let addr = &world.registry.addr;
    rt.block_on(async {
        let list: serde_json::Value = http
            .get(format!("http://{addr}/v2/{repository}/tags/list"))
            .send()
            .await
            .expect("tags/list")
            .json()
            .await
            .expect("tags json");
        let mut tags: Vec<String> = list["tags"]
            .as_array()
            .expect("tags")
            .iter()
            .map(|t| t.as_str().unwrap_or_default().to_string())
            .collect();
        tags.sort();
        let mut want = expected.to_vec();
        want.sort();
        assert_eq!(tags, want, "the registry lists the tags laid out on disk");
        let tag = &expected[expected.len() / 2];
        let resp = http
            .head(format!("http://{addr}/v2/{repository}/manifests/{tag}"))
            .header("accept", OCI_MANIFEST)
            .send()
            .await
            .expect("head");
        assert_eq!(
            resp.headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok()),
            Some(world.digests[repository].as_str()),
            "{repository}:{tag} resolves to the repository's manifest"
        );
    });
}

/// Copies `examples/flux/<from>` to `<to>` with every `(from, to)` replacement applied to names and contents.
fn copy_tree(from: &Path, to: &Path, replace: &dyn Fn(&str) -> String) -> usize {
    std::fs::create_dir_all(to).expect("mkdir");
    let mut files = 0;
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(replace(&entry.file_name().to_string_lossy()));
        if entry.file_type().expect("type").is_dir() {
            files += copy_tree(&entry.path(), &target, replace);
        } else {
            let text = std::fs::read_to_string(entry.path()).expect("read");
            std::fs::write(&target, replace(&text)).expect("write");
            files += 1;
        }
    }
    files
}

/// A checkout of `apps` applications, each watching `<registry>/org/app-NNN`.
fn generate_repo(world: &World, apps: usize, tags_per_image: usize) -> (PathBuf, usize) {
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/flux");
    let repo = world.tmp.path().join(format!("repo-{apps}"));
    let flux = repo.join("flux");
    let mut files = copy_tree(
        &examples.join("bootstrap/flux-system"),
        &flux.join("bootstrap/flux-system"),
        &|s: &str| s.to_string(),
    );
    for i in 0..apps {
        let app = app_name(i);
        let repository = format!("org/{app}");
        let image = world.image(&repository);
        let replace = |s: &str| {
            s.replace("ghcr.io/org/backend", &image)
                .replace("backend", &app)
        };
        for env in ENVIRONMENTS {
            let text = std::fs::read_to_string(
                examples.join(format!("bootstrap/apps/{env}/backend.yaml")),
            )
            .expect("example provider");
            let dir = flux.join(format!("bootstrap/apps/{env}"));
            std::fs::create_dir_all(&dir).expect("mkdir");
            std::fs::write(dir.join(format!("{app}.yaml")), replace(&text)).expect("write");
            files += 1;
        }
        files += copy_tree(
            &examples.join("apps/backend"),
            &flux.join("apps").join(&app),
            &replace,
        );
        let production = flux.join(format!("apps/{app}/production/kustomization.yaml"));
        let mut text = std::fs::read_to_string(&production).expect("production overlay");
        text.push_str(&format!(
            "images:\n  - name: {image}\n    newTag: {}\n    digest: {}\n",
            pinned_version(tags_per_image),
            world.digests[&repository]
        ));
        std::fs::write(&production, text).expect("pin");
    }
    (repo, files)
}

/// The binary cargo built for this bench, copied first: another build into the same target directory could
/// replace the file mid-run.
static BINARY: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();

fn binary() -> Command {
    let (_, path) = BINARY.get_or_init(|| {
        let args: Vec<String> = std::env::args().collect();
        let built = args
            .iter()
            .position(|a| a == "--binary")
            .and_then(|i| args.get(i + 1))
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_gitops-promote")));
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("gitops-promote");
        std::fs::copy(&built, &path).expect("copy the binary");
        (dir, path)
    });
    let mut cmd = Command::new(path);
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().to_string();
        if [
            "GITHUB_",
            "RUNNER_",
            "ACTIONS_",
            "INPUT_",
            "GITOPS_PROMOTE_",
        ]
        .iter()
        .any(|p| key.starts_with(p))
            || key == "CI"
            || key.to_ascii_uppercase().ends_with("_PROXY")
        {
            cmd.env_remove(&key);
        }
    }
    cmd
}

fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// CPU seconds from `/proc/<pid>/stat`: `(utime + stime, cutime + cstime)`, the process's own and that of its
/// children it has waited for.
fn cpu_of(pid: &str) -> (f64, f64) {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    let ticks = *TICKS.get_or_init(|| {
        let out = Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .expect("getconf");
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .unwrap_or(100.0)
    });
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc stat");
    // Fields after the command name (which may hold spaces): state is field 3, utime 14 … cstime 17.
    let fields: Vec<f64> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .unwrap_or_default()
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0.0))
        .collect();
    let at = |n: usize| fields.get(n - 3).copied().unwrap_or(0.0) / ticks;
    (at(14) + at(15), at(16) + at(17))
}

/// The registry's process: the `docker-registry` whose command line names this registry's config.
fn registry_pid(world: &World) -> String {
    let config = world.registry.storage().join("config.yml");
    std::fs::read_dir("/proc")
        .expect("/proc")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c);
                c.contains("docker-registry") && c.contains(&*config.to_string_lossy())
            })
        })
        .expect("the registry's process")
}

/// One run: wall seconds, CPU seconds of the process, CPU seconds the registry spent meanwhile.
struct Run {
    wall: f64,
    cpu: f64,
    registry_cpu: f64,
}

fn run_once(registry: &str, what: &str, make: &dyn Fn() -> Command) -> (Run, Output) {
    let (_, children) = cpu_of("self");
    let (registry_before, _) = cpu_of(registry);
    let start = Instant::now();
    let out = make().output().expect("run");
    let wall = start.elapsed().as_secs_f64();
    let (_, children_after) = cpu_of("self");
    let (registry_after, _) = cpu_of(registry);
    check(&out, what);
    (
        Run {
            wall,
            cpu: children_after - children,
            registry_cpu: registry_after - registry_before,
        },
        out,
    )
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// What one command cost: times (medians), registry requests, tag lists, files opened.
struct Cost {
    seconds: f64,
    cpu: f64,
    registry_cpu: f64,
    requests: usize,
    tag_lists: usize,
    repositories_listed_twice: usize,
    files: usize,
    files_opened_twice: usize,
    /// The first and the last line of the last run's standard output (plan's headline, lint's).
    headline: (String, String),
}

fn measure(
    world: &World,
    repo: &Path,
    runs: usize,
    what: &str,
    make: &dyn Fn() -> Command,
) -> Cost {
    let registry = registry_pid(world);
    // Untimed: the files opened, as the kernel saw them.
    let (out, opened) = trace::files_opened(&make(), repo);
    check(&out, what);
    let mut all = Vec::new();
    let mut counted = None;
    let mut headline = (String::new(), String::new());
    for _ in 0..runs {
        let before = world.log_lines().len();
        let (run, out) = run_once(&registry, what, make);
        if counted.is_none() {
            counted = Some(world.log_lines().split_off(before));
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let line = |l: Option<&str>| l.unwrap_or_default().to_string();
        headline = (line(text.lines().next()), line(text.lines().last()));
        all.push(run);
    }
    let lines = counted.unwrap_or_default();
    let mut lists: BTreeMap<String, usize> = BTreeMap::new();
    for l in &lines {
        if let Some((path, _)) = l.split_once("/tags/list") {
            *lists.entry(path.to_string()).or_default() += 1;
        }
    }
    Cost {
        seconds: median(all.iter().map(|r| r.wall).collect()),
        cpu: median(all.iter().map(|r| r.cpu).collect()),
        registry_cpu: median(all.iter().map(|r| r.registry_cpu).collect()),
        requests: lines.len(),
        tag_lists: lists.values().sum(),
        repositories_listed_twice: lists.values().filter(|n| **n > 1).count(),
        files: opened.len(),
        files_opened_twice: trace::opened_twice(&opened).len(),
        headline,
    }
}

/// The median wall time of `runs` runs of `make()`, and the last output.
fn timed(runs: usize, what: &str, make: &dyn Fn() -> Command) -> (f64, Output) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..runs {
        let start = Instant::now();
        let out = make().output().expect("run");
        times.push(start.elapsed().as_secs_f64());
        check(&out, what);
        last = Some(out);
    }
    (median(times), last.expect("one run"))
}

fn script(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("script");
    path
}

fn ms(s: f64) -> String {
    format!("{:.1} ms", s * 1000.0)
}

fn secs(s: f64) -> String {
    if s < 1.0 { ms(s) } else { format!("{s:.2} s") }
}

fn main() {
    let apps_sizes = arg_list("--apps", &[30, 90, 300]);
    let tags_per_image = arg_list("--tags", &[5000])[0];
    let select_sizes = arg_list("--select-tags", &[500, 1500, 5000]);
    let max_apps = apps_sizes.iter().copied().max().unwrap_or(0);

    let generation = Instant::now();
    let shm = Path::new("/dev/shm");
    let mut world = World {
        registry: Registry::start(Auth::Anonymous),
        tmp: tempfile::tempdir().expect("tempdir"),
        tags: if shm.is_dir() {
            tempfile::tempdir_in(shm)
        } else {
            tempfile::tempdir()
        }
        .expect("tags dir"),
        digests: BTreeMap::new(),
    };
    let mut repositories: Vec<(String, Vec<String>)> = (0..max_apps)
        .map(|i| {
            let app = app_name(i);
            let tags = tag_names(&app, tags_per_image);
            (format!("org/{app}"), tags)
        })
        .collect();
    for n in &select_sizes {
        repositories.push((format!("org/select-{n}"), tag_names("select", *n)));
    }
    let names: Vec<String> = repositories.iter().map(|(r, _)| r.clone()).collect();
    push_manifests(&mut world, &names);
    std::thread::scope(|s| {
        for half in repositories.chunks(repositories.len().div_ceil(2).max(1)) {
            let world = &world;
            s.spawn(move || {
                for (repository, tags) in half {
                    lay_out_tags(world, repository, tags);
                }
            });
        }
    });
    check_registry(&world, &repositories[0].0, &repositories[0].1);
    let mut repos = Vec::new();
    for &apps in &apps_sizes {
        repos.push((apps, generate_repo(&world, apps, tags_per_image)));
    }
    let total_tags: usize = repositories.iter().map(|(_, t)| t.len()).sum();
    println!(
        "generated in {:.1} s (not counted below): {} repositories, {total_tags} tags in the registry; checkouts of {} applications",
        generation.elapsed().as_secs_f64(),
        repositories.len(),
        apps_sizes
            .iter()
            .map(|a| a.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    if std::env::args().any(|a| a == "--keep") {
        // For profiling by hand: the registry keeps running and the checkouts stay (stop and remove them after).
        for (apps, (repo, _)) in &repos {
            println!("{apps} applications: {}", repo.display());
        }
        println!(
            "registry {} (storage {})",
            world.registry.addr,
            world.registry.storage().display()
        );
        std::mem::forget(world);
        return;
    }

    // lint and plan, per size.
    let mut rows = Vec::new();
    for (apps, (repo, files)) in &repos {
        let runs = RUNS;
        let make = |mode: &'static str| {
            let repo = repo.clone();
            move || {
                let mut cmd = binary();
                cmd.current_dir(&repo).args([mode, "--flux-path", "flux"]);
                cmd
            }
        };
        let lint = measure(&world, repo, runs, "lint", &make("lint"));
        let plan = measure(&world, repo, runs, "plan", &make("plan"));
        rows.push((*apps, *files, lint, plan));
    }
    let base = &rows[0];
    let scale = |apps: usize| apps as f64 / base.0 as f64;
    println!(
        "lint and plan as processes ({tags_per_image} tags per image; median of {RUNS} runs). Ratios are to {} applications: linear is the size ratio. \
         CPU is the process's own; the registry's CPU is what the local registry spent answering it (on the same cores, so wall time includes it)",
        base.0
    );
    println!();
    println!(
        "| applications | files | command | wall | ratio (linear) | CPU | ratio (linear) | CPU per application | registry CPU | registry requests | tag lists (repositories listed twice) | files opened (twice) |"
    );
    println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (apps, files, lint, plan) in &rows {
        for (name, cost, base_cost) in [("lint", lint, &base.2), ("plan", plan, &base.3)] {
            println!(
                "| {apps} | {files} | {name} | {} | {:.2} ({:.0}) | {} | {:.2} ({:.0}) | {} | {} | {} | {} ({}) | {} ({}) |",
                secs(cost.seconds),
                cost.seconds / base_cost.seconds,
                scale(*apps),
                secs(cost.cpu),
                cost.cpu / base_cost.cpu,
                scale(*apps),
                ms(cost.cpu / *apps as f64),
                secs(cost.registry_cpu),
                cost.requests,
                cost.tag_lists,
                cost.repositories_listed_twice,
                cost.files,
                cost.files_opened_twice
            );
        }
    }
    println!();
    for (apps, _, lint, plan) in &rows {
        println!("{apps} applications, lint: {}", lint.headline.1);
        println!("{apps} applications, plan: {}", plan.headline.0);
    }
    println!();

    // What a script spends: kubectl kustomize per overlay (lint), skopeo + jq + sort -V per application (plan).
    let (_, (largest, _)) = repos.last().expect("a size");
    let sample = 10.min(max_apps);
    let overlays: Vec<PathBuf> = (0..sample)
        .flat_map(|i| {
            ENVIRONMENTS
                .iter()
                .map(move |env| PathBuf::from(format!("flux/apps/{}/{env}", app_name(i))))
        })
        .collect();
    let start = Instant::now();
    for overlay in &overlays {
        let out = Command::new("kubectl")
            .current_dir(largest)
            .arg("kustomize")
            .arg(overlay)
            .output()
            .expect("kubectl kustomize (run `bash scripts/setup.sh`)");
        check(&out, "kubectl kustomize");
    }
    let per_overlay = start.elapsed().as_secs_f64() / overlays.len() as f64;
    let plan_script = script(
        world.tmp.path(),
        "plan.sh",
        r#"set -euo pipefail
# What a hand-written "what runs where" does per application: list the tags once, pick each environment's tag
# the way its filter says (sort -V standing in for semver), resolve what each environment runs.
for app in "$@"; do
  image="$REGISTRY/org/$app"
  tags=$(skopeo list-tags --tls-verify=false "docker://$image" | jq -r '.Tags[]')
  develop=$(grep -E '^v[0-9]+\.[0-9]+\.[0-9]+-rc\.[0-9]+\.g[0-9a-f]+$' <<<"$tags" | sort -V | tail -n 1)
  staging=$(grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$' <<<"$tags" | sort -V | tail -n 1)
  for tag in "$develop" "$staging" production-latest; do
    skopeo inspect --raw --tls-verify=false "docker://$image:$tag" | sha256sum >/dev/null
  done
  grep -h -E 'newTag|digest' "flux/apps/$app/production/kustomization.yaml" >/dev/null
done
"#,
    );
    let sample_apps: Vec<String> = (0..sample).map(app_name).collect();
    let start = Instant::now();
    let out = Command::new("bash")
        .current_dir(largest)
        .env("REGISTRY", &world.registry.addr)
        .arg(&plan_script)
        .args(&sample_apps)
        .output()
        .expect("bash");
    check(&out, "plan script");
    let per_app_script = start.elapsed().as_secs_f64() / sample as f64;
    println!(
        "what a script spends, measured on {} overlays and {sample} applications of the largest checkout and extrapolated per size:",
        overlays.len()
    );
    println!();
    println!(
        "| applications | gitops-promote lint | `kubectl kustomize` every overlay | ratio | gitops-promote plan | skopeo list-tags + jq + sort -V + 3 × skopeo inspect per application | ratio |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for (apps, _, lint, plan) in &rows {
        let kustomize = per_overlay * (*apps * 3) as f64;
        let script = per_app_script * *apps as f64;
        println!(
            "| {apps} | {} | {} ({} per overlay) | {:.0}× faster | {} | {} ({} per application) | {:.0}× faster |",
            secs(lint.seconds),
            secs(kustomize),
            ms(per_overlay),
            kustomize / lint.seconds,
            secs(plan.seconds),
            secs(script),
            ms(per_app_script),
            script / plan.seconds,
        );
    }
    println!();

    // select: one image, its tags scaled.
    let select_script = script(
        world.tmp.path(),
        "select.sh",
        "set -euo pipefail\nskopeo list-tags --tls-verify=false \"docker://$1\" | jq -r '.Tags[]' | grep -E '^v[0-9]+\\.[0-9]+\\.[0-9]+$' | sort -V | tail -n 1\n",
    );
    println!(
        "select as a process: the staging provider of {}, over an image of N tags (median of {SELECT_RUNS}); `--tags-file` is the same selection with the tags from a file (no registry client: the process floor plus the selection)",
        app_name(0)
    );
    println!();
    println!(
        "| tags | gitops-promote select --image | ratio (linear) | CPU | registry requests | select --tags-file | `skopeo list-tags \\| jq \\| grep \\| sort -V` | script / gitops-promote |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut select_base = None;
    for n in &select_sizes {
        let repository = format!("org/select-{n}");
        let image = world.image(&repository);
        let filter = format!("flux/bootstrap/apps/staging/{}.yaml", app_name(0));
        let make = || {
            let mut cmd = binary();
            cmd.current_dir(largest)
                .args(["select", "--filter-file", &filter, "--image", &image]);
            cmd
        };
        let registry = registry_pid(&world);
        let before = world.log_lines().len();
        let mut runs = Vec::new();
        let mut selected = String::new();
        for _ in 0..SELECT_RUNS {
            let (run, out) = run_once(&registry, "select", &make);
            selected = String::from_utf8_lossy(&out.stdout).trim().to_string();
            runs.push(run);
        }
        let requests = (world.log_lines().len() - before) / SELECT_RUNS;
        let ours = median(runs.iter().map(|r| r.wall).collect());
        let cpu = median(runs.iter().map(|r| r.cpu).collect());
        let tags_file = world.tmp.path().join(format!("tags-{n}.txt"));
        std::fs::write(&tags_file, tag_names("select", *n).join("\n")).expect("tags file");
        let make_file = || {
            let mut cmd = binary();
            cmd.current_dir(largest)
                .args(["select", "--filter-file", &filter, "--tags-file"]);
            cmd.arg(&tags_file);
            cmd
        };
        let (from_file, out) = timed(SELECT_RUNS, "select --tags-file", &make_file);
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), selected);
        let make_script = || {
            let mut cmd = Command::new("bash");
            cmd.arg(&select_script).arg(&image);
            cmd
        };
        let (theirs, out) = timed(SELECT_RUNS, "select script", &make_script);
        let scripted = String::from_utf8_lossy(&out.stdout).trim().to_string();
        assert_eq!(selected, scripted, "both pick the same staging tag");
        let first = *select_base.get_or_insert(ours);
        println!(
            "| {n} | {} | {:.2} ({:.0}) | {} | {requests} | {} | {} | {:.2} |",
            ms(ours),
            ours / first,
            *n as f64 / select_sizes[0] as f64,
            ms(cpu),
            ms(from_file),
            ms(theirs),
            theirs / ours
        );
    }
    println!();
    let cleanup = Instant::now();
    drop(world);
    println!(
        "removed the registry and its {total_tags} tags in {:.1} s",
        cleanup.elapsed().as_secs_f64()
    );
}
