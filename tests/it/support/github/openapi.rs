//! GitHub's official REST API description (npm `@octokit/openapi`, `generated/api.github.com.json`): loaded
//! once per process, trimmed to the operations the test GitHub serves (with the components they reference),
//! converted from OpenAPI 3.0 to JSON Schema 2020-12, and used to check every request.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{Map, Value, json};

/// Overrides where the description is read from (default: `.cache/openapi/api.github.com.json` in the crate).
pub const SPEC_ENV: &str = "GITOPS_PROMOTE_OPENAPI_SPEC";

/// The operations the test GitHub answers, exactly as the description spells them.
pub const SERVED: &[(&str, &str)] = &[
    ("GET", "/repos/{owner}/{repo}"),
    ("GET", "/repos/{owner}/{repo}/git/ref/{ref}"),
    ("GET", "/repos/{owner}/{repo}/branches/{branch}"),
    ("GET", "/repos/{owner}/{repo}/compare/{basehead}"),
    ("GET", "/repos/{owner}/{repo}/git/commits/{commit_sha}"),
    ("GET", "/repos/{owner}/{repo}/contents/{path}"),
    ("POST", "/repos/{owner}/{repo}/git/blobs"),
    ("POST", "/repos/{owner}/{repo}/git/trees"),
    ("POST", "/repos/{owner}/{repo}/git/commits"),
    ("POST", "/repos/{owner}/{repo}/git/refs"),
    ("PATCH", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("DELETE", "/repos/{owner}/{repo}/git/refs/{ref}"),
    ("GET", "/repos/{owner}/{repo}/pulls"),
    ("POST", "/repos/{owner}/{repo}/pulls"),
    ("GET", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("PATCH", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("PUT", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    ("POST", "/repos/{owner}/{repo}/issues/{issue_number}/labels"),
    (
        "POST",
        "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers",
    ),
    ("GET", "/repos/{owner}/{repo}/releases/tags/{tag}"),
    ("GET", "/repos/{owner}/{repo}/releases/latest"),
    ("POST", "/repos/{owner}/{repo}/releases"),
    ("PATCH", "/repos/{owner}/{repo}/releases/{release_id}"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/check-runs"),
    ("POST", "/repos/{owner}/{repo}/check-runs"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/status"),
    ("GET", "/repos/{owner}/{repo}/commits/{ref}/statuses"),
    ("POST", "/repos/{owner}/{repo}/statuses/{sha}"),
];

const METHODS: &[&str] = &["get", "put", "post", "patch", "delete", "head", "options"];

/// The description, parsed once per process.
pub static SPEC: LazyLock<Spec> = LazyLock::new(|| Spec::load(&spec_path()));

fn spec_path() -> PathBuf {
    match std::env::var_os(SPEC_ENV) {
        Some(path) => PathBuf::from(path),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join(".cache/openapi/api.github.com.json"),
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    /// `{name}`; `multi` lets it take the rest of the path (`contents/{path}` with real slashes).
    Param {
        name: String,
        multi: bool,
    },
}

fn parse_template(template: &str, multi_segment: &BTreeSet<String>) -> Vec<Segment> {
    template
        .trim_start_matches('/')
        .split('/')
        .map(
            |segment| match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                Some(name) => Segment::Param {
                    name: name.to_string(),
                    multi: multi_segment.contains(name),
                },
                None => Segment::Literal(segment.to_string()),
            },
        )
        .collect()
}

/// Matches the raw (still percent-encoded) path against a template; the values come back decoded. Only a
/// `multi` parameter spans slashes, so `git/ref/heads/main` does not match `git/ref/{ref}` (Prism's rule):
/// the slash inside a ref must be sent as `%2F`.
fn match_template(segments: &[Segment], raw_path: &str) -> Option<BTreeMap<String, String>> {
    let parts: Vec<&str> = raw_path.trim_start_matches('/').split('/').collect();
    let mut values = BTreeMap::new();
    let mut index = 0;
    for (position, segment) in segments.iter().enumerate() {
        match segment {
            Segment::Literal(literal) => {
                if parts.get(index) != Some(&literal.as_str()) {
                    return None;
                }
                index += 1;
            }
            Segment::Param { name, multi } => {
                let value = if *multi && position == segments.len() - 1 {
                    let rest = parts.get(index..)?.join("/");
                    index = parts.len();
                    rest
                } else {
                    let part = parts.get(index)?;
                    index += 1;
                    part.to_string()
                };
                if value.is_empty() {
                    return None;
                }
                values.insert(name.clone(), percent_decode(&value));
            }
        }
    }
    (index == parts.len()).then_some(values)
}

pub fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let Some(byte) = std::str::from_utf8(&bytes[i + 1..i + 3])
                .ok()
                .and_then(|hex| u8::from_str_radix(hex, 16).ok())
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a=1&b=x%20y` → pairs, decoded as a form (`+` is a space).
pub fn parse_query(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(&key.replace('+', " ")),
                percent_decode(&value.replace('+', " ")),
            )
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Location {
    Path,
    Query,
}

struct Parameter {
    name: String,
    location: Location,
    required: bool,
    /// The schema's `type`, to turn the text of a query or path into the JSON value the schema speaks of.
    kind: Option<String>,
    validator: jsonschema::Validator,
}

struct RequestBody {
    required: bool,
    media_types: Vec<String>,
    validator: Option<jsonschema::Validator>,
}

struct Response {
    media_types: Vec<String>,
    schema: Option<Value>,
    examples: Vec<(String, Value)>,
    validator: Mutex<Option<Arc<jsonschema::Validator>>>,
}

/// One served operation of the description.
pub struct Operation {
    pub method: &'static str,
    pub template: &'static str,
    pub id: String,
    pub docs_url: String,
    segments: Vec<Segment>,
    parameters: Vec<Parameter>,
    body: Option<RequestBody>,
    responses: BTreeMap<u16, Response>,
    /// The converted `components.schemas` the response schemas need, for compiling them on first use.
    defs: Arc<Map<String, Value>>,
}

/// Why a request matched no served operation.
#[derive(Debug, PartialEq)]
pub enum NoRoute {
    /// Neither the path nor the method is in the description.
    NotDeclared,
    /// The description declares it; the test GitHub does not serve it.
    NotServed { template: String },
}

pub struct Spec {
    pub operations: Vec<Operation>,
    /// Every (METHOD, template) of the whole description, to tell "not GitHub's" from "not served here".
    declared: Vec<(String, String, Vec<Segment>)>,
}

impl Spec {
    fn load(path: &Path) -> Self {
        let text = std::fs::read(path).unwrap_or_else(|err| {
            panic!(
                "GitHub's REST API description is missing at {} ({err}): run `bash scripts/setup.sh` (it runs \
                 npm pack @octokit/openapi) or set {SPEC_ENV}",
                path.display()
            )
        });
        let doc: Value = serde_json::from_slice(&text)
            .unwrap_or_else(|err| panic!("{} is not JSON: {err}", path.display()));
        let version = doc["openapi"].as_str().unwrap_or_default().to_string();
        // 3.0 spells "may be null" as `nullable: true`; 3.1 schemas already are JSON Schema 2020-12.
        let dialect = if version.starts_with("3.0") {
            Dialect::OpenApi30
        } else if version.starts_with("3.1") {
            Dialect::OpenApi31
        } else {
            panic!(
                "{}: unsupported OpenAPI version {version:?}",
                path.display()
            )
        };
        let mut converter = Converter {
            doc: &doc,
            dialect,
            converted: HashMap::new(),
        };

        let mut declared = Vec::new();
        for (template, item) in doc["paths"].as_object().expect("paths") {
            let multi = multi_segment_params(&doc, item, None);
            for method in METHODS {
                if item.get(*method).is_some() {
                    let segments = parse_template(template, &multi);
                    declared.push((method.to_uppercase(), template.clone(), segments));
                }
            }
        }

        let mut operations = Vec::new();
        for &(method, template) in SERVED {
            let item = &doc["paths"][template];
            let op = item
                .get(method.to_lowercase())
                .unwrap_or_else(|| panic!("{method} {template} is not in the description"));
            operations.push(converter.operation(method, template, item, op));
        }
        Spec {
            operations,
            declared,
        }
    }

    /// The served operation for `method` and the raw path, with the decoded path parameters.
    pub fn route(
        &self,
        method: &str,
        raw_path: &str,
    ) -> Result<(&Operation, BTreeMap<String, String>), NoRoute> {
        // A literal segment beats a parameter (`releases/latest` vs `releases/{release_id}`).
        let mut best: Option<(&Operation, BTreeMap<String, String>, usize)> = None;
        for op in self.operations.iter().filter(|op| op.method == method) {
            if let Some(values) = match_template(&op.segments, raw_path) {
                let literals = op
                    .segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count();
                if best.as_ref().is_none_or(|(_, _, n)| literals > *n) {
                    best = Some((op, values, literals));
                }
            }
        }
        if let Some((op, values, _)) = best {
            return Ok((op, values));
        }
        let declared = self
            .declared
            .iter()
            .filter(|(m, _, segments)| m == method && match_template(segments, raw_path).is_some())
            .max_by_key(|(_, _, segments)| {
                segments
                    .iter()
                    .filter(|s| matches!(s, Segment::Literal(_)))
                    .count()
            });
        match declared {
            Some((_, template, _)) => Err(NoRoute::NotServed {
                template: template.clone(),
            }),
            None => Err(NoRoute::NotDeclared),
        }
    }
}

/// Parameters flagged `x-multi-segment` that may span slashes here. The description flags `{ref}` and
/// `{commit_sha}` too, but GitHub's clients (and Prism) send a ref's slash as `%2F`; only a file path is sent
/// with real slashes.
fn multi_segment_params(doc: &Value, item: &Value, op: Option<&Value>) -> BTreeSet<String> {
    let mut params: Vec<&Value> = item["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let ops: Vec<&Value> = match op {
        Some(op) => vec![op],
        None => METHODS.iter().filter_map(|m| item.get(*m)).collect(),
    };
    for op in ops {
        params.extend(op["parameters"].as_array().into_iter().flatten());
    }
    params
        .into_iter()
        .map(|p| resolve(doc, p))
        .filter(|p| p["x-multi-segment"] == json!(true) && p["name"] == "path")
        .filter_map(|p| p["name"].as_str().map(str::to_string))
        .collect()
}

/// Follows a `$ref` to another part of the document (parameters, responses, examples, request bodies).
fn resolve<'a>(doc: &'a Value, value: &'a Value) -> &'a Value {
    let mut value = value;
    for _ in 0..8 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(reference) => {
                let pointer = reference.trim_start_matches('#');
                value = doc
                    .pointer(pointer)
                    .unwrap_or_else(|| panic!("dangling $ref {reference}"));
            }
            None => break,
        }
    }
    value
}

#[derive(Clone, Copy, PartialEq)]
enum Dialect {
    OpenApi30,
    OpenApi31,
}

const SCHEMA_PREFIX: &str = "#/components/schemas/";

struct Converter<'a> {
    doc: &'a Value,
    dialect: Dialect,
    /// Converted `components.schemas` entries, by name.
    converted: HashMap<String, Value>,
}

impl Converter<'_> {
    fn operation(
        &mut self,
        method: &'static str,
        template: &'static str,
        item: &Value,
        op: &Value,
    ) -> Operation {
        let doc = self.doc;
        let multi = multi_segment_params(doc, item, Some(op));
        let mut parameters = Vec::new();
        let raw_params = item["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(op["parameters"].as_array().into_iter().flatten());
        for raw in raw_params {
            let param = resolve(doc, raw);
            let location = match param["in"].as_str() {
                Some("path") => Location::Path,
                Some("query") => Location::Query,
                // Header and cookie parameters: none on the served operations.
                _ => continue,
            };
            let schema = self.schema(&param["schema"]);
            parameters.push(Parameter {
                name: param["name"].as_str().expect("parameter name").to_string(),
                location,
                required: param["required"] == json!(true),
                kind: schema["type"]
                    .as_str()
                    .or_else(|| schema["type"].as_array()?.first()?.as_str())
                    .map(str::to_string),
                validator: self.compile(&schema, true),
            });
        }

        let body = op.get("requestBody").map(|raw| {
            let body = resolve(doc, raw);
            let content = body["content"].as_object().cloned().unwrap_or_default();
            RequestBody {
                required: body["required"] == json!(true),
                media_types: content.keys().cloned().collect(),
                validator: content
                    .get("application/json")
                    .and_then(|media| media.get("schema"))
                    .map(|schema| {
                        let schema = self.schema(schema);
                        self.compile(&schema, true)
                    }),
            }
        });

        let mut responses = BTreeMap::new();
        let mut response_refs = BTreeSet::new();
        for (status, raw) in op["responses"].as_object().expect("responses") {
            let Ok(status) = status.parse::<u16>() else {
                continue;
            };
            let response = resolve(doc, raw);
            let content = response["content"].as_object().cloned().unwrap_or_default();
            let json_media = content
                .get("application/json")
                .or_else(|| content.values().next());
            let schema = json_media
                .and_then(|media| media.get("schema"))
                .map(|schema| self.schema(schema));
            if let Some(schema) = &schema {
                collect_refs(schema, &mut response_refs);
            }
            let examples = json_media
                .and_then(|media| media["examples"].as_object())
                .into_iter()
                .flatten()
                .map(|(name, example)| (name.clone(), resolve(doc, example)["value"].clone()))
                .collect();
            responses.insert(
                status,
                Response {
                    media_types: content.keys().cloned().collect(),
                    schema,
                    examples,
                    validator: Mutex::new(None),
                },
            );
        }
        let defs = self.closure(response_refs);

        Operation {
            method,
            template,
            id: op["operationId"].as_str().unwrap_or_default().to_string(),
            docs_url: op["externalDocs"]["url"]
                .as_str()
                .unwrap_or("https://docs.github.com/rest")
                .to_string(),
            segments: parse_template(template, &multi),
            parameters,
            body,
            responses,
            defs: Arc::new(defs),
        }
    }

    /// Converts one schema, and every component it references (transitively), into JSON Schema 2020-12.
    fn schema(&mut self, schema: &Value) -> Value {
        let converted = convert(schema, self.dialect);
        let mut pending = BTreeSet::new();
        collect_refs(&converted, &mut pending);
        while let Some(name) = pending.pop_first() {
            if self.converted.contains_key(&name) {
                continue;
            }
            let raw = &self.doc["components"]["schemas"][&name];
            assert!(!raw.is_null(), "dangling schema reference {name}");
            let component = convert(raw, self.dialect);
            collect_refs(&component, &mut pending);
            self.converted.insert(name, component);
        }
        converted
    }

    /// The converted components `refs` name, and those they name in turn.
    fn closure(&self, mut pending: BTreeSet<String>) -> Map<String, Value> {
        let mut defs = Map::new();
        while let Some(name) = pending.pop_first() {
            if defs.contains_key(&name) {
                continue;
            }
            let component = self.converted[&name].clone();
            collect_refs(&component, &mut pending);
            defs.insert(name, component);
        }
        defs
    }

    fn compile(&self, schema: &Value, formats: bool) -> jsonschema::Validator {
        let mut refs = BTreeSet::new();
        collect_refs(schema, &mut refs);
        compile_with(schema, &self.closure(refs), formats)
    }
}

fn compile_with(schema: &Value, defs: &Map<String, Value>, formats: bool) -> jsonschema::Validator {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$defs": defs,
        "allOf": [schema],
    });
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(formats)
        .build(&root)
        .unwrap_or_else(|err| panic!("schema does not compile: {err}"))
}

/// Names of the `#/$defs/NAME` references in a converted schema.
fn collect_refs(value: &Value, out: &mut BTreeSet<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                if key == "$ref"
                    && let Some(name) = item.as_str().and_then(|r| r.strip_prefix("#/$defs/"))
                {
                    out.insert(name.to_string());
                } else {
                    collect_refs(item, out);
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, out)),
        _ => {}
    }
}

/// One OpenAPI schema object as JSON Schema 2020-12: `nullable: true` becomes a `"null"` type (or an
/// `anyOf` with null when there is no `type`), a `$ref` loses its siblings (3.0 ignores them) and points into
/// `$defs`, and keywords JSON Schema lacks (`example`, `discriminator`, `xml`) go.
fn convert(schema: &Value, dialect: Dialect) -> Value {
    let Value::Object(map) = schema else {
        return schema.clone();
    };
    if let Some(reference) = map.get("$ref").and_then(Value::as_str) {
        let target = match reference.strip_prefix(SCHEMA_PREFIX) {
            Some(name) => format!("#/$defs/{name}"),
            None => reference.to_string(),
        };
        if dialect == Dialect::OpenApi30 {
            return json!({ "$ref": target });
        }
        let mut out = convert_keywords(map, dialect);
        out.insert("$ref".into(), Value::String(target));
        return Value::Object(out);
    }
    let mut out = convert_keywords(map, dialect);
    if dialect == Dialect::OpenApi30 && map.get("nullable") == Some(&json!(true)) {
        match out.get_mut("type") {
            Some(Value::String(kind)) => {
                let kind = kind.clone();
                out.insert("type".into(), json!([kind, "null"]));
            }
            Some(Value::Array(kinds)) => kinds.push(json!("null")),
            _ => return json!({ "anyOf": [Value::Object(out), { "type": "null" }] }),
        }
        if let Some(Value::Array(values)) = out.get_mut("enum")
            && !values.contains(&Value::Null)
        {
            values.push(Value::Null);
        }
    }
    Value::Object(out)
}

fn convert_keywords(map: &Map<String, Value>, dialect: Dialect) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in map {
        let converted = match key.as_str() {
            "$ref" | "nullable" | "example" | "examples" | "discriminator" | "xml"
            | "externalDocs" | "description" => continue,
            "properties" | "patternProperties" => Value::Object(
                value
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, schema)| (name.clone(), convert(schema, dialect)))
                    .collect(),
            ),
            "items" | "additionalProperties" | "not" => convert(value, dialect),
            "allOf" | "anyOf" | "oneOf" => Value::Array(
                value
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|schema| convert(schema, dialect))
                    .collect(),
            ),
            _ => value.clone(),
        };
        out.insert(key.clone(), converted);
    }
    out
}

/// The text of a query or path parameter as the JSON value its schema describes; text that does not parse
/// stays a string, so the schema reports it.
fn typed(kind: Option<&str>, text: &str) -> Value {
    match kind {
        Some("integer") => text
            .parse::<i64>()
            .map(Value::from)
            .unwrap_or_else(|_| text.into()),
        Some("number") => text
            .parse::<f64>()
            .map(Value::from)
            .unwrap_or_else(|_| text.into()),
        Some("boolean") => match text {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => text.into(),
        },
        Some("array") => Value::Array(text.split(',').map(Value::from).collect()),
        _ => Value::String(text.to_string()),
    }
}

fn describe(errors: jsonschema::ErrorIterator<'_>, what: &str, out: &mut Vec<String>) {
    for error in errors {
        let at = error.instance_path().to_string();
        if at.is_empty() {
            out.push(format!("{what}: {error}"));
        } else {
            out.push(format!("{what} at {at}: {error}"));
        }
    }
}

impl Operation {
    /// Everything the description says is wrong with this request; empty when it is valid.
    pub fn check_request(
        &self,
        path_params: &BTreeMap<String, String>,
        query: &[(String, String)],
        content_type: Option<&str>,
        body: Option<&Value>,
    ) -> Vec<String> {
        let mut problems = Vec::new();
        for param in &self.parameters {
            let values: Vec<&str> = match param.location {
                Location::Path => path_params
                    .get(&param.name)
                    .map(String::as_str)
                    .into_iter()
                    .collect(),
                Location::Query => query
                    .iter()
                    .filter(|(name, _)| *name == param.name)
                    .map(|(_, value)| value.as_str())
                    .collect(),
            };
            let place = match param.location {
                Location::Path => "path parameter",
                Location::Query => "query parameter",
            };
            if values.is_empty() && param.required {
                problems.push(format!("{place} `{}` is required", param.name));
            }
            for text in values {
                let value = typed(param.kind.as_deref(), text);
                describe(
                    param.validator.iter_errors(&value),
                    &format!("{place} `{}`", param.name),
                    &mut problems,
                );
            }
        }
        match (&self.body, body) {
            (Some(spec), Some(body)) => {
                let media = content_type.map(|ct| {
                    ct.split(';')
                        .next()
                        .unwrap_or("")
                        .trim()
                        .to_ascii_lowercase()
                });
                // No Content-Type is GitHub's default (JSON); another type breaks the description.
                if let Some(media) = media
                    && !spec.media_types.contains(&media)
                {
                    problems.push(format!(
                        "request body: content type {media} is not one of {:?}",
                        spec.media_types
                    ));
                }
                if let Some(validator) = &spec.validator {
                    describe(validator.iter_errors(body), "request body", &mut problems);
                }
            }
            (Some(spec), None) if spec.required => {
                problems.push("request body is required".to_string())
            }
            (None, Some(_)) => problems.push(format!(
                "request body: {} {} takes none",
                self.method, self.template
            )),
            _ => {}
        }
        problems
    }

    /// Media types the description declares for the operation's success answer.
    pub fn success_media_types(&self) -> Vec<String> {
        self.responses
            .iter()
            .filter(|(status, _)| (200..300).contains(*status))
            .flat_map(|(_, response)| response.media_types.iter().cloned())
            .collect()
    }

    /// The description's example answer for `status` (the first one, or the one whose name contains `name`).
    pub fn example(&self, status: u16, name: Option<&str>) -> Value {
        let response = self
            .responses
            .get(&status)
            .unwrap_or_else(|| panic!("{} {}: no {status} answer", self.method, self.template));
        let example = match name {
            Some(name) => response.examples.iter().find(|(n, _)| n.contains(name)),
            None => response.examples.first(),
        };
        example
            .map(|(_, value)| value.clone())
            .unwrap_or_else(|| panic!("{} {}: no {status} example", self.method, self.template))
    }

    /// Where the answer differs from the description's schema for `status` (the test GitHub's own check).
    pub fn check_response(&self, status: u16, body: &Value) -> Vec<String> {
        let Some(response) = self.responses.get(&status) else {
            return vec![format!(
                "{} {}: status {status} is not declared",
                self.method, self.template
            )];
        };
        let Some(schema) = &response.schema else {
            return Vec::new();
        };
        let validator = {
            let mut slot = response.validator.lock().expect("validator lock");
            slot.get_or_insert_with(|| Arc::new(compile_with(schema, &self.defs, false)))
                .clone()
        };
        let mut problems = Vec::new();
        describe(
            validator.iter_errors(body),
            &format!("{} {} answer {status}", self.method, self.template),
            &mut problems,
        );
        problems
    }
}
