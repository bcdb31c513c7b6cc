//! Owns discovery: every YAML document under the Flux root, the objects the pipeline depends on
//! (ResourceSetInputProvider of the OCI types, ResourceSet, ImagePolicy, ImageRepository), where each one is
//! written (file and line), and which image and environment each serves. Each file is read once per run, and the
//! lookups between objects (who reads which provider, which repository a policy names) are built once, so the
//! model of a 300-application repository costs 10× that of a 30-application one, not 100×.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

use super::filter::{
    ImagePolicySpec, PolicyChoice, ProviderFilter, ProviderFilterSpec, parse_order,
};
use super::{Environment, normalize_image};

/// The provider types whose input is a registry's tag list.
pub const OCI_TYPES: &[&str] = &[
    "OCIArtifactTag",
    "ACRArtifactTag",
    "ECRArtifactTag",
    "GARArtifactTag",
];

/// Fields of `ResourceSetInputFilter` (api/v1/resourcesetinputprovider_types.go).
pub const FILTER_FIELDS: &[&str] = &[
    "includeBranch",
    "excludeBranch",
    "includeTag",
    "excludeTag",
    "includeEnvironment",
    "excludeEnvironment",
    "labels",
    "limit",
    "semver",
];

/// One YAML document: where it is, its text, its value.
#[derive(Debug, Clone)]
pub struct Doc {
    /// Path relative to the repository root, with `/`.
    pub file: String,
    /// 1-based line of the document's first line.
    pub start: usize,
    pub lines: Vec<String>,
    pub value: Value,
}

impl Doc {
    /// The line of a key path (`["spec", "filter", "includeTag"]`): each key is searched after the previous one.
    /// Falls back to the deepest key found, then to the document start.
    pub fn line_of(&self, path: &[&str]) -> usize {
        let mut at = 0;
        let mut found = None;
        for key in path {
            let hit = self.lines.iter().enumerate().skip(at).find(|(_, l)| {
                let t = l.trim_start().trim_start_matches("- ").trim_start();
                t.starts_with(&format!("{key}:"))
                    || t.starts_with(&format!("\"{key}\":"))
                    || t.starts_with(&format!("'{key}':"))
            });
            match hit {
                Some((i, _)) => {
                    at = i;
                    found = Some(i);
                }
                None => break,
            }
        }
        self.start + found.unwrap_or(0)
    }

    /// The first line containing `needle`, or the document start.
    pub fn line_containing(&self, needle: &str) -> usize {
        self.start
            + self
                .lines
                .iter()
                .position(|l| l.contains(needle))
                .unwrap_or(0)
    }

    pub fn text(&self) -> String {
        self.lines.join("\n")
    }

    pub fn kind(&self) -> &str {
        self.value.get("kind").and_then(Value::as_str).unwrap_or("")
    }

    pub fn name(&self) -> String {
        str_at(&self.value, &["metadata", "name"]).unwrap_or_default()
    }

    pub fn namespace(&self) -> String {
        str_at(&self.value, &["metadata", "namespace"]).unwrap_or_default()
    }
}

pub fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(*k))
}

pub fn str_at(v: &Value, path: &[&str]) -> Option<String> {
    at(v, path).and_then(|v| match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    })
}

/// Splits a multi-document YAML text at `---` lines and parses each document.
pub fn parse_docs(file: &str, text: &str) -> (Vec<Doc>, Vec<(usize, String)>) {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    let mut chunk: Vec<String> = Vec::new();
    let mut start = 1;
    let mut flush = |chunk: &mut Vec<String>, start: usize| {
        let body = chunk.join("\n");
        if body.lines().any(|l| {
            let t = l.trim();
            !t.is_empty() && !t.starts_with('#')
        }) {
            match serde_saphyr::from_str::<Value>(&body) {
                Ok(Value::Null) => {}
                Ok(value) => docs.push(Doc {
                    file: file.to_string(),
                    start,
                    lines: chunk.clone(),
                    value,
                }),
                Err(e) => errors.push((start, e.to_string())),
            }
        }
        chunk.clear();
    };
    for (i, line) in text.lines().enumerate() {
        let is_separator = line == "---"
            || line.starts_with("--- ")
            || line.starts_with("---\t")
            || line.starts_with("---#")
            || line.trim_end() == "...";
        if is_separator {
            flush(&mut chunk, start);
            start = i + 2;
        } else {
            chunk.push(line.to_string());
        }
    }
    flush(&mut chunk, start);
    (docs, errors)
}

/// A `ResourceSetInputProvider` of an OCI type.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Where it is in [`Model::providers`].
    pub position: usize,
    pub doc: Doc,
    pub name: String,
    pub namespace: String,
    pub provider_type: String,
    /// `oci://ghcr.io/org/app` → `ghcr.io/org/app`.
    pub image: String,
    pub filter: ProviderFilterSpec,
    /// Filter keys Flux does not know (`pattern`).
    pub unknown_filter_keys: Vec<String>,
    /// Keys of `defaultValues`, which Flatten templates can also read.
    pub default_keys: Vec<String>,
    pub labels: BTreeMap<String, String>,
}

/// A Flux Kustomization a ResourceSet generates.
#[derive(Debug, Clone, Default)]
pub struct GeneratedKustomization {
    pub name: String,
    pub path: String,
    pub target_namespace: String,
    pub prune_disabled: bool,
}

/// A `ResourceSet`.
#[derive(Debug, Clone)]
pub struct ResourceSet {
    /// Where it is in [`Model::resource_sets`].
    pub position: usize,
    pub doc: Doc,
    pub name: String,
    pub namespace: String,
    /// Provider names referenced by name, and label selectors (`matchLabels`).
    pub inputs_from: Vec<String>,
    pub selectors: Vec<BTreeMap<String, String>>,
    /// `Flatten` (the default) or `Permute`.
    pub strategy: String,
    pub kustomizations: Vec<GeneratedKustomization>,
    /// Whether the resources carry the prune-disabled annotation.
    pub prune_disabled: bool,
}

impl ResourceSet {
    /// Whether this ResourceSet reads the provider's inputs.
    pub fn consumes(&self, p: &Provider) -> bool {
        let same_ns =
            self.namespace.is_empty() || p.namespace.is_empty() || self.namespace == p.namespace;
        same_ns
            && (self.inputs_from.contains(&p.name)
                || self.selectors.iter().any(|sel| {
                    !sel.is_empty() && sel.iter().all(|(k, v)| p.labels.get(k) == Some(v))
                }))
    }
}

/// An `ImagePolicy`.
#[derive(Debug, Clone)]
pub struct ImagePolicy {
    pub doc: Doc,
    pub name: String,
    pub namespace: String,
    pub repository_ref: String,
    pub spec: Result<ImagePolicySpec, String>,
    pub digest_reflection: String,
}

/// An `ImageRepository`.
#[derive(Debug, Clone)]
pub struct ImageRepository {
    pub doc: Doc,
    pub name: String,
    pub namespace: String,
    pub image: String,
}

/// Everything found under the Flux root.
#[derive(Debug, Clone, Default)]
pub struct Model {
    pub providers: Vec<Provider>,
    pub resource_sets: Vec<ResourceSet>,
    pub policies: Vec<ImagePolicy>,
    pub repositories: Vec<ImageRepository>,
    /// `(file, line, message)` for YAML that does not parse.
    pub parse_errors: Vec<(String, usize, String)>,
    /// Files read.
    pub files: usize,
    /// The text of every file read, by path relative to the repository root: a later step that needs one of
    /// them (plan's overlays) takes it from here instead of reading it again.
    texts: HashMap<String, Arc<str>>,
    /// Built on first use, dropped when objects are added.
    index: OnceLock<Index>,
    /// Every distinct filter compiled so far, shared with the models [`Model::for_image`] cuts out of this one.
    compiled: Arc<Mutex<CompiledFilters>>,
}

type CompiledFilters = HashMap<ProviderFilterSpec, Arc<Result<ProviderFilter, String>>>;

/// The lookups between objects, each built in one pass over the model.
#[derive(Debug, Clone, Default)]
struct Index {
    /// Per provider: the ResourceSets that read it, in model order.
    consumers: Vec<Vec<usize>>,
    /// Per ResourceSet: the providers it reads, in model order.
    consumed: Vec<Vec<usize>>,
    /// Per provider: the environment it serves.
    environments: Vec<Option<Environment>>,
    /// Per provider: its compiled filter (each distinct filter compiled once: 300 applications share three).
    filters: Vec<Arc<Result<ProviderFilter, String>>>,
    /// ImageRepository name → the first repository of that name.
    repositories: HashMap<String, usize>,
    /// Image → its providers and its ImagePolicies, in model order.
    providers_by_image: HashMap<String, Vec<usize>>,
    policies_by_image: HashMap<String, Vec<usize>>,
}

impl Index {
    fn build(model: &Model) -> Index {
        // Candidates by name (`inputsFrom[].name`) and by one label of each selector; `consumes` decides.
        let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
        let mut by_label: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        for (i, rs) in model.resource_sets.iter().enumerate() {
            for name in &rs.inputs_from {
                by_name.entry(name.as_str()).or_default().push(i);
            }
            for sel in &rs.selectors {
                if let Some((k, v)) = sel.iter().next() {
                    by_label
                        .entry((k.as_str(), v.as_str()))
                        .or_default()
                        .push(i);
                }
            }
        }
        let mut consumers = Vec::with_capacity(model.providers.len());
        let mut consumed = vec![Vec::new(); model.resource_sets.len()];
        for (pi, p) in model.providers.iter().enumerate() {
            let mut found: Vec<usize> = by_name.get(p.name.as_str()).cloned().unwrap_or_default();
            for (k, v) in &p.labels {
                if let Some(c) = by_label.get(&(k.as_str(), v.as_str())) {
                    found.extend(c);
                }
            }
            found.sort_unstable();
            found.dedup();
            found.retain(|&i| model.resource_sets[i].consumes(p));
            for &i in &found {
                consumed[i].push(pi);
            }
            consumers.push(found);
        }
        let environments = model
            .providers
            .iter()
            .zip(&consumers)
            .map(|(p, c)| environment_of(p, c.iter().map(|&i| &model.resource_sets[i])))
            .collect();
        let mut compiled = model
            .compiled
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let filters = model
            .providers
            .iter()
            .map(|p| {
                compiled
                    .entry(p.filter.clone())
                    .or_insert_with(|| Arc::new(ProviderFilter::compile(&p.filter)))
                    .clone()
            })
            .collect();
        drop(compiled);
        let mut repositories = HashMap::new();
        for (i, r) in model.repositories.iter().enumerate() {
            repositories.entry(r.name.clone()).or_insert(i);
        }
        let mut providers_by_image: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, p) in model.providers.iter().enumerate() {
            providers_by_image
                .entry(p.image.clone())
                .or_default()
                .push(i);
        }
        let mut policies_by_image: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, policy) in model.policies.iter().enumerate() {
            if let Some(&r) = repositories.get(&policy.repository_ref) {
                policies_by_image
                    .entry(model.repositories[r].image.clone())
                    .or_default()
                    .push(i);
            }
        }
        Index {
            consumers,
            consumed,
            environments,
            filters,
            repositories,
            providers_by_image,
            policies_by_image,
        }
    }
}

/// The environment a provider serves, given the ResourceSets that read it: the path of the Kustomization each
/// generates, its target namespace, the ResourceSet's name, then the provider's own name, namespace and file.
fn environment_of<'a>(
    p: &Provider,
    consumers: impl Iterator<Item = &'a ResourceSet>,
) -> Option<Environment> {
    let mut words: Vec<String> = Vec::new();
    for rs in consumers {
        for k in &rs.kustomizations {
            words.push(
                k.path
                    .rsplit('/')
                    .find(|s| !s.is_empty())
                    .unwrap_or("")
                    .to_string(),
            );
            words.push(k.target_namespace.clone());
            words.push(k.name.clone());
        }
        words.push(rs.name.clone());
    }
    words.extend([p.name.clone(), p.namespace.clone(), p.doc.file.clone()]);
    words.iter().find_map(|w| Environment::find_in(w))
}

fn yaml_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.filter_map(|e| e.ok()).collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            yaml_files(&path, out);
        } else if name.ends_with(".yaml") || name.ends_with(".yml") {
            out.push(path);
        }
    }
}

fn labels_of(v: &Value, path: &[&str]) -> BTreeMap<String, String> {
    at(v, path)
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string())))
                .collect()
        })
        .unwrap_or_default()
}

const PRUNE: &str = "fluxcd.controlplane.io/prune";

impl Model {
    /// Reads every `*.yaml`/`*.yml` under `repo_root/flux_path` (a missing directory is an empty model).
    pub fn load(repo_root: &Path, flux_path: &str) -> Model {
        let mut files = Vec::new();
        yaml_files(&repo_root.join(flux_path), &mut files);
        let mut model = Model::default();
        for path in files {
            let Ok(text) = std::fs::read_to_string(&path) else {
                continue;
            };
            let rel = path
                .strip_prefix(repo_root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            model.add_text(&rel, &text);
        }
        model
    }

    /// The text of a file this model read (`flux/apps/a/production/kustomization.yaml`), if it read it.
    pub fn text_of(&self, file: &str) -> Option<&str> {
        self.texts.get(file).map(|t| &**t)
    }

    /// Adds the objects of one file's text.
    pub fn add_text(&mut self, file: &str, text: &str) {
        self.files += 1;
        self.texts.insert(file.to_string(), Arc::from(text));
        let (docs, errors) = parse_docs(file, text);
        for (line, e) in errors {
            self.parse_errors.push((file.to_string(), line, e));
        }
        for doc in docs {
            self.add_doc(doc);
        }
    }

    fn add_doc(&mut self, doc: Doc) {
        self.index = OnceLock::new();
        let v = doc.value.clone();
        let (name, namespace) = (doc.name(), doc.namespace());
        match doc.kind() {
            "ResourceSetInputProvider" => {
                let provider_type = str_at(&v, &["spec", "type"]).unwrap_or_default();
                if !OCI_TYPES.contains(&provider_type.as_str()) {
                    return;
                }
                let raw = at(&v, &["spec", "filter"]).cloned().unwrap_or(Value::Null);
                let (filter, unknown) = filter_spec(&raw);
                let default_keys = at(&v, &["spec", "defaultValues"])
                    .and_then(Value::as_object)
                    .map(|m| m.keys().cloned().collect())
                    .unwrap_or_default();
                self.providers.push(Provider {
                    position: self.providers.len(),
                    image: normalize_image(&str_at(&v, &["spec", "url"]).unwrap_or_default()),
                    labels: labels_of(&v, &["metadata", "labels"]),
                    doc,
                    name,
                    namespace,
                    provider_type,
                    filter,
                    unknown_filter_keys: unknown,
                    default_keys,
                });
            }
            "ResourceSet" => {
                let mut inputs_from = Vec::new();
                let mut selectors = Vec::new();
                for r in at(&v, &["spec", "inputsFrom"])
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    if let Some(n) = r.get("name").and_then(Value::as_str) {
                        inputs_from.push(n.to_string());
                    }
                    let sel = labels_of(r, &["selector", "matchLabels"]);
                    if !sel.is_empty() {
                        selectors.push(sel);
                    }
                }
                let strategy = str_at(&v, &["spec", "inputStrategy", "name"])
                    .filter(|s| !s.is_empty())
                    .unwrap_or_else(|| "Flatten".to_string());
                let mut resources: Vec<Value> = at(&v, &["spec", "resources"])
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
                for step in at(&v, &["spec", "steps"])
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    resources.extend(
                        step.get("resources")
                            .and_then(Value::as_array)
                            .cloned()
                            .unwrap_or_default(),
                    );
                }
                let template = str_at(&v, &["spec", "resourcesTemplate"]).unwrap_or_default();
                let mut kustomizations = Vec::new();
                for r in &resources {
                    if r.get("kind").and_then(Value::as_str) == Some("Kustomization") {
                        kustomizations.push(GeneratedKustomization {
                            name: str_at(r, &["metadata", "name"]).unwrap_or_default(),
                            path: str_at(r, &["spec", "path"]).unwrap_or_default(),
                            target_namespace: str_at(r, &["spec", "targetNamespace"])
                                .unwrap_or_default(),
                            prune_disabled: str_at(r, &["metadata", "annotations", PRUNE])
                                .as_deref()
                                == Some("disabled"),
                        });
                    }
                }
                let prune_disabled = (!resources.is_empty()
                    && resources.iter().all(|r| {
                        str_at(r, &["metadata", "annotations", PRUNE]).as_deref()
                            == Some("disabled")
                    }))
                    || (!template.is_empty() && template.contains(PRUNE));
                self.resource_sets.push(ResourceSet {
                    position: self.resource_sets.len(),
                    doc,
                    name,
                    namespace,
                    inputs_from,
                    selectors,
                    strategy,
                    kustomizations,
                    prune_disabled,
                });
            }
            "ImagePolicy" => {
                let spec = image_policy_spec(&v);
                self.policies.push(ImagePolicy {
                    repository_ref: str_at(&v, &["spec", "imageRepositoryRef", "name"])
                        .unwrap_or_default(),
                    digest_reflection: str_at(&v, &["spec", "digestReflectionPolicy"])
                        .unwrap_or_else(|| "Never".to_string()),
                    doc,
                    name,
                    namespace,
                    spec,
                });
            }
            "ImageRepository" => {
                self.repositories.push(ImageRepository {
                    image: normalize_image(&str_at(&v, &["spec", "image"]).unwrap_or_default()),
                    doc,
                    name,
                    namespace,
                });
            }
            _ => {}
        }
    }

    fn index(&self) -> &Index {
        self.index.get_or_init(|| Index::build(self))
    }

    /// This model's position of `p`, when `p` is one of its providers (not a copy from another model).
    fn position_of(&self, p: &Provider) -> Option<usize> {
        self.providers
            .get(p.position)
            .filter(|x| std::ptr::eq(*x, p))
            .map(|_| p.position)
    }

    /// ResourceSets that read this provider.
    pub fn consumers(&self, p: &Provider) -> Vec<&ResourceSet> {
        match self.position_of(p) {
            Some(i) => self.index().consumers[i]
                .iter()
                .map(|&r| &self.resource_sets[r])
                .collect(),
            None => self
                .resource_sets
                .iter()
                .filter(|r| r.consumes(p))
                .collect(),
        }
    }

    /// Providers this ResourceSet reads, in model order.
    pub fn consumed_by(&self, rs: &ResourceSet) -> Vec<&Provider> {
        let position = self
            .resource_sets
            .get(rs.position)
            .filter(|x| std::ptr::eq(*x, rs))
            .map(|_| rs.position);
        match position {
            Some(i) => self.index().consumed[i]
                .iter()
                .map(|&p| &self.providers[p])
                .collect(),
            None => self.providers.iter().filter(|p| rs.consumes(p)).collect(),
        }
    }

    /// The environment a provider serves: the path of the Kustomization its ResourceSet generates, its target
    /// namespace, the ResourceSet's name, then the provider's own name, namespace and file path.
    pub fn provider_environment(&self, p: &Provider) -> Option<Environment> {
        match self.position_of(p) {
            Some(i) => self.index().environments[i],
            None => environment_of(p, self.consumers(p).into_iter()),
        }
    }

    /// The provider's filter, compiled as Flux compiles it (`Err`: why Flux refuses it).
    pub fn filter_of(&self, p: &Provider) -> Arc<Result<ProviderFilter, String>> {
        match self.position_of(p) {
            Some(i) => self.index().filters[i].clone(),
            None => Arc::new(ProviderFilter::compile(&p.filter)),
        }
    }

    /// The repository an ImagePolicy reads.
    pub fn repository_of(&self, policy: &ImagePolicy) -> Option<&ImageRepository> {
        self.index()
            .repositories
            .get(&policy.repository_ref)
            .map(|&i| &self.repositories[i])
    }

    /// The image an ImagePolicy watches (from its ImageRepository).
    pub fn policy_image(&self, policy: &ImagePolicy) -> Option<String> {
        self.repository_of(policy).map(|r| r.image.clone())
    }

    /// Every image a provider or an ImagePolicy watches, each once, in order.
    pub fn images(&self) -> Vec<String> {
        let mut images: Vec<String> = self
            .index()
            .providers_by_image
            .keys()
            .chain(self.index().policies_by_image.keys())
            .filter(|i| !i.is_empty())
            .cloned()
            .collect();
        images.sort();
        images.dedup();
        images
    }

    /// The providers that watch `image` (normalised, as [`Provider::image`]), in model order.
    pub fn providers_of(&self, image: &str) -> impl Iterator<Item = &Provider> {
        self.index()
            .providers_by_image
            .get(image)
            .into_iter()
            .flatten()
            .map(|&i| &self.providers[i])
    }

    /// The ImagePolicies that watch `image` (through their ImageRepository), in model order.
    pub fn policies_of(&self, image: &str) -> impl Iterator<Item = &ImagePolicy> {
        self.index()
            .policies_by_image
            .get(image)
            .into_iter()
            .flatten()
            .map(|&i| &self.policies[i])
    }

    /// The part of the model that concerns `image`: its providers and the ResourceSets that read them, its
    /// ImagePolicies and their ImageRepositories. What a question about one image sees of the whole model, at
    /// the cost of that image's objects only.
    pub fn for_image(&self, image: &str) -> Model {
        self.for_image_in(image, None)
    }

    /// [`Model::for_image`], only the providers and ImagePolicies that serve `environment` (all when `None`).
    pub fn for_image_in(&self, image: &str, environment: Option<Environment>) -> Model {
        let serves = |env: Option<Environment>| environment.is_none() || env == environment;
        let mut sub = Model {
            compiled: self.compiled.clone(),
            ..Model::default()
        };
        let mut sets: Vec<usize> = Vec::new();
        for p in self
            .providers_of(image)
            .filter(|p| serves(self.provider_environment(p)))
        {
            sets.extend(&self.index().consumers[p.position]);
            sub.add_doc(p.doc.clone());
        }
        sets.sort_unstable();
        sets.dedup();
        for i in sets {
            sub.add_doc(self.resource_sets[i].doc.clone());
        }
        let mut repositories: Vec<usize> = Vec::new();
        for policy in self
            .policies_of(image)
            .filter(|p| serves(self.policy_environment(p)))
        {
            repositories.extend(self.index().repositories.get(&policy.repository_ref));
            sub.add_doc(policy.doc.clone());
        }
        repositories.sort_unstable();
        repositories.dedup();
        for i in repositories {
            sub.add_doc(self.repositories[i].doc.clone());
        }
        sub
    }

    pub fn policy_environment(&self, policy: &ImagePolicy) -> Option<Environment> {
        [&policy.name, &policy.namespace, &policy.doc.file]
            .iter()
            .find_map(|w| Environment::find_in(w))
    }
}

/// The filter as Flux reads it, and the keys it would drop.
pub fn filter_spec(raw: &Value) -> (ProviderFilterSpec, Vec<String>) {
    let Some(map) = raw.as_object() else {
        return (ProviderFilterSpec::default(), Vec::new());
    };
    let unknown = map
        .keys()
        .filter(|k| !FILTER_FIELDS.contains(&k.as_str()))
        .cloned()
        .collect();
    let s = |k: &str| str_at(raw, &[k]);
    let spec = ProviderFilterSpec {
        include_tag: s("includeTag"),
        exclude_tag: s("excludeTag"),
        semver: s("semver"),
        limit: map.get("limit").and_then(|l| {
            l.as_i64()
                .or_else(|| l.as_str().and_then(|s| s.trim().parse().ok()))
        }),
    };
    (spec, unknown)
}

/// `spec.policy` and `spec.filterTags` of an ImagePolicy.
pub fn image_policy_spec(v: &Value) -> Result<ImagePolicySpec, String> {
    let policy = at(v, &["spec", "policy"]).ok_or("spec.policy is missing")?;
    let choice = if let Some(range) = str_at(policy, &["semver", "range"]) {
        PolicyChoice::SemVer(range)
    } else if let Some(a) = policy.get("alphabetical") {
        PolicyChoice::Alphabetical {
            ascending: parse_order(a.get("order").and_then(Value::as_str))?,
        }
    } else if let Some(n) = policy.get("numerical") {
        PolicyChoice::Numerical {
            ascending: parse_order(n.get("order").and_then(Value::as_str))?,
        }
    } else {
        return Err("given ImagePolicyChoice object is invalid".to_string());
    };
    Ok(ImagePolicySpec {
        policy: choice,
        // `filterTags` present means a RegexFilter, even with an empty pattern (which matches every tag).
        pattern: at(v, &["spec", "filterTags"])
            .filter(|f| !f.is_null())
            .map(|_| str_at(v, &["spec", "filterTags", "pattern"]).unwrap_or_default()),
        extract: str_at(v, &["spec", "filterTags", "extract"]),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_keep_their_lines() {
        let text =
            "# c\napiVersion: v1\nkind: A\n---\nkind: B\nspec:\n  filter:\n    includeTag: x\n";
        let (docs, errors) = parse_docs("f.yaml", text);
        assert!(errors.is_empty());
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].start, 1);
        assert_eq!(docs[1].start, 5);
        assert_eq!(docs[1].line_of(&["spec", "filter", "includeTag"]), 8);
        assert_eq!(docs[1].line_containing("kind: B"), 5);
    }
}
