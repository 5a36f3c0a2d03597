//! One published description (GitHub's OpenAPI 3 file, Gitea's and Forgejo's Swagger 2 files,
//! GitHub's webhook schemas), read once per process, and the operation a request is for: the
//! documented path template and method, its path and query parameters, its request body and its
//! answers by status.

use super::schema::Reading;
use serde_json::Value;
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

/// One way a request, an answer or a webhook departs from the forge's description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    /// What was checked: `answer to GET /repos/{owner}/{repo} (200)`, `webhook push`.
    pub operation: String,
    /// Where in it: a JSON path (`$.user.html_url`), `query per_page`, `path pull_number`,
    /// `status`.
    pub at: String,
    /// What the description allows there.
    pub expected: String,
    /// What was sent (JSON, cut short when long).
    pub sent: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: expected {}, sent {}",
            self.operation, self.at, self.expected, self.sent
        )
    }
}

impl Violation {
    /// A violation at `at` of `operation`.
    pub fn new(
        operation: &str,
        at: &str,
        expected: impl Into<String>,
        sent: impl Into<String>,
    ) -> Violation {
        Violation {
            operation: operation.to_owned(),
            at: at.to_owned(),
            expected: expected.into(),
            sent: sent.into(),
        }
    }
}

/// A JSON value as a violation shows it: compact, and cut at 100 characters.
pub fn shown(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(100) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

/// A request as the checker reads it: the path still percent-encoded, the query decoded, the
/// body parsed (a body that is not JSON is a string, which no object schema accepts).
#[derive(Clone, Debug, Default)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Option<Value>,
}

impl Request {
    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A documented path, split once into its segments.
struct Template {
    text: String,
    segments: Vec<String>,
    /// The last segment is `{path}` or `{filepath}`, which takes the rest of the path.
    open_ended: bool,
}

/// A description as read from the corpus.
pub struct Loaded {
    name: String,
    doc: Value,
    swagger2: bool,
    templates: Vec<Template>,
}

/// The corpus folder, if this checkout has one beside it.
pub fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    dir.is_dir().then_some(dir)
}

type Cell = Arc<OnceLock<Option<&'static Loaded>>>;

/// `relative` read and indexed once per process (kept for its life), or `None` without the
/// corpus. Threads asking for the same file wait for one reading.
fn loaded(relative: &str) -> Option<&'static Loaded> {
    static CELLS: OnceLock<Mutex<HashMap<String, Cell>>> = OnceLock::new();
    let cell = CELLS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(relative.to_owned())
        .or_default()
        .clone();
    *cell.get_or_init(|| {
        let Some(dir) = corpus() else {
            println!("skipped: ../shared/corpus is absent, {relative} not checked");
            return None;
        };
        let text = std::fs::read(dir.join(relative)).ok()?;
        let doc: Value = serde_json::from_slice(&text).expect("the description is JSON");
        let templates = doc["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(text, _)| {
                let segments: Vec<String> = text
                    .trim_start_matches('/')
                    .split('/')
                    .map(str::to_owned)
                    .collect();
                let open_ended = segments
                    .last()
                    .is_some_and(|s| s == "{path}" || s == "{filepath}");
                Template {
                    text: text.clone(),
                    segments,
                    open_ended,
                }
            })
            .collect();
        Some(&*Box::leak(Box::new(Loaded {
            name: relative.to_owned(),
            swagger2: doc.get("swagger").is_some(),
            doc,
            templates,
        })))
    })
}

/// A description, and the prefix that requests carry before its documented paths.
#[derive(Clone)]
pub struct Spec {
    loaded: &'static Loaded,
    base_path: String,
}

impl Spec {
    /// `relative` (a file under the corpus) with requests under `base_path`; `None` (after
    /// printing `skipped: …` once) without the corpus.
    pub fn load(relative: &str, base_path: &str) -> Option<Spec> {
        Some(Spec {
            loaded: loaded(relative)?,
            base_path: base_path.to_owned(),
        })
    }

    /// The file's name under the corpus.
    pub fn name(&self) -> &'static str {
        &self.loaded.name
    }

    /// The whole document.
    pub fn doc(&self) -> &'static Value {
        &self.loaded.doc
    }

    /// Swagger 2 (Gitea, Forgejo) rather than OpenAPI 3 (GitHub): names compare
    /// case-insensitively, as the Go servers behind them read JSON, and nulls follow Go's encoder.
    pub fn swagger2(&self) -> bool {
        self.loaded.swagger2
    }

    /// `value` with `$ref`s followed, and the name of the last schema a `$ref` led to.
    pub fn resolve_named<'a>(&self, mut value: &'a Value) -> (&'a Value, Option<&'a str>) {
        let mut name = None;
        while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
            let mut target = self.doc();
            for part in reference.trim_start_matches("#/").split('/') {
                target = if part.contains('~') {
                    &target[part.replace("~1", "/").replace("~0", "~").as_str()]
                } else {
                    &target[part]
                };
            }
            name = reference.rsplit('/').next();
            value = target;
        }
        (value, name)
    }

    /// `value` with `$ref`s followed.
    pub fn resolve<'a>(&self, value: &'a Value) -> &'a Value {
        self.resolve_named(value).0
    }

    /// The documented path template a request path matches, preferring literal segments.
    pub fn template(&self, path: &str) -> Option<&'static str> {
        let path = path.strip_prefix(&self.base_path)?;
        let segments: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let mut best: Option<(usize, &'static str)> = None;
        for template in &self.loaded.templates {
            let parts = &template.segments;
            let fits_length = parts.len() == segments.len()
                || (template.open_ended && segments.len() > parts.len());
            if !fits_length {
                continue;
            }
            let mut literal = 0;
            let fits = parts.iter().zip(&segments).all(|(part, segment)| {
                if part.starts_with('{') {
                    !segment.is_empty()
                } else {
                    literal += 1;
                    part == segment
                }
            });
            if fits && best.is_none_or(|(n, _)| literal > n) {
                best = Some((literal, template.text.as_str()));
            }
        }
        best.map(|(_, t)| t)
    }

    /// The documented operation for `method` on `path`: its template and its description.
    pub fn operation(
        &self,
        method: &str,
        path: &str,
    ) -> Result<(&'static str, &'static Value), Violation> {
        let operation = format!("{} {path}", method.to_uppercase());
        let template = self.template(path).ok_or_else(|| {
            Violation::new(&operation, "path", "a path documented in", self.name())
        })?;
        let op = self.doc()["paths"][template]
            .get(method.to_lowercase())
            .ok_or_else(|| {
                Violation::new(
                    &operation,
                    "method",
                    format!("a method documented for {template}"),
                    method,
                )
            })?;
        Ok((template, op))
    }

    fn parameters(&self, template: &str, op: &'static Value) -> Vec<&'static Value> {
        let shared = self.doc()["paths"][template]["parameters"].as_array();
        let own = op["parameters"].as_array();
        shared
            .into_iter()
            .chain(own)
            .flatten()
            .map(|p| self.resolve(p))
            .collect()
    }

    fn parameter_schema(&self, parameter: &'static Value) -> &'static Value {
        if self.swagger2() {
            parameter
        } else {
            self.resolve(&parameter["schema"])
        }
    }

    /// Every way `request` departs from the description: its path, method, path and query
    /// parameters, and its body (whole: every required field present).
    pub fn check_request(&self, request: &Request) -> Vec<Violation> {
        let (template, op) = match self.operation(&request.method, &request.path) {
            Ok(found) => found,
            Err(e) => return vec![e],
        };
        let operation = format!("request {} {template}", request.method);
        let mut errors = Vec::new();
        let params = self.parameters(template, op);
        let path = request
            .path
            .strip_prefix(&self.base_path)
            .unwrap_or_default();
        for (part, segment) in template
            .trim_start_matches('/')
            .split('/')
            .zip(path.trim_start_matches('/').split('/'))
        {
            let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) else {
                continue;
            };
            let at = format!("path {name}");
            match params
                .iter()
                .find(|p| p["in"] == "path" && p["name"] == name)
            {
                None => errors.push(Violation::new(
                    &operation,
                    &at,
                    "a documented parameter",
                    segment,
                )),
                Some(p) => {
                    let schema = self.parameter_schema(p);
                    if schema["type"] == "integer" && segment.parse::<i64>().is_err() {
                        errors.push(Violation::new(&operation, &at, "an integer", segment));
                    }
                }
            }
        }
        for (name, value) in &request.query {
            let at = format!("query {name}");
            match params
                .iter()
                .find(|p| p["in"] == "query" && p["name"] == name.as_str())
            {
                None => errors.push(Violation::new(
                    &operation,
                    &at,
                    "a documented parameter",
                    value,
                )),
                Some(p) => check_scalar(
                    &operation,
                    &at,
                    self.parameter_schema(p),
                    value,
                    &mut errors,
                ),
            }
        }
        for p in params
            .iter()
            .filter(|p| p["in"] == "query" && p["required"] == true)
        {
            let name = p["name"].as_str().unwrap_or_default();
            if request.query(name).is_none() {
                errors.push(Violation::new(
                    &operation,
                    &format!("query {name}"),
                    "a required parameter",
                    "nothing",
                ));
            }
        }
        let (schema, required) = self.body_schema(op, &params);
        match (&request.body, schema) {
            (None, Some(_)) if required => errors.push(Violation::new(
                &operation,
                "body",
                "a required body",
                "nothing",
            )),
            (Some(body), None) => errors.push(Violation::new(
                &operation,
                "body",
                "no body (none is documented)",
                shown(body),
            )),
            (Some(body), Some(schema)) => {
                errors.extend(self.validate(&operation, body, schema, Reading::Whole))
            }
            _ => {}
        }
        errors
    }

    /// The documented schema of the JSON answer to `method` `path` with `status`: `Ok(None)`
    /// when the status is documented without a JSON body.
    pub fn answer_schema(
        &self,
        method: &str,
        path: &str,
        status: u16,
    ) -> Result<(String, Option<&'static Value>), Violation> {
        let (template, op) = self.operation(method, path)?;
        let operation = format!("answer to {} {template} ({status})", method.to_uppercase());
        let Some(response) = op["responses"].get(status.to_string()) else {
            let documented: Vec<&String> = op["responses"]
                .as_object()
                .map(|r| r.keys().collect())
                .unwrap_or_default();
            return Err(Violation::new(
                &operation,
                "status",
                format!("one of the documented statuses {documented:?}"),
                status.to_string(),
            ));
        };
        let response = self.resolve(response);
        let schema = if self.swagger2() {
            response.get("schema")
        } else {
            response.pointer("/content/application~1json/schema")
        };
        Ok((operation, schema))
    }

    /// Departures of `body`, answered to `request` with `status`, from the documented answer.
    pub fn check_answer(
        &self,
        request: &Request,
        status: u16,
        body: &Value,
        reading: Reading,
    ) -> Vec<Violation> {
        match self.answer_schema(&request.method, &request.path, status) {
            Err(e) => vec![e],
            Ok((_, None)) => Vec::new(),
            Ok((operation, Some(schema))) => self.validate(&operation, body, schema, reading),
        }
    }

    /// The documented example answer (OpenAPI 3 `examples`), if any.
    pub fn example(&self, method: &str, template: &str, status: u16) -> Option<Value> {
        let op = self.doc()["paths"][template].get(method.to_lowercase())?;
        let response = self.resolve(op["responses"].get(status.to_string())?);
        let examples = response.pointer("/content/application~1json/examples")?;
        let first = examples.as_object()?.values().next()?;
        Some(self.resolve(first)["value"].clone())
    }

    fn body_schema(
        &self,
        op: &'static Value,
        params: &[&'static Value],
    ) -> (Option<&'static Value>, bool) {
        if self.swagger2() {
            return match params.iter().find(|p| p["in"] == "body") {
                Some(p) => (Some(&p["schema"]), p["required"] == true),
                None => (None, false),
            };
        }
        match op.get("requestBody").map(|b| self.resolve(b)) {
            Some(body) => (
                body.pointer("/content/application~1json/schema"),
                body["required"] == true,
            ),
            None => (None, false),
        }
    }
}

fn check_scalar(
    operation: &str,
    at: &str,
    schema: &Value,
    text: &str,
    errors: &mut Vec<Violation>,
) {
    if schema["type"] == "integer" && text.parse::<i64>().is_err() {
        errors.push(Violation::new(operation, at, "an integer", text));
    }
    if let Some(choices) = schema["enum"].as_array()
        && !choices.iter().any(|c| c.as_str() == Some(text))
    {
        errors.push(Violation::new(
            operation,
            at,
            format!("one of {}", Value::Array(choices.clone())),
            text,
        ));
    }
}

fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = segment
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
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
