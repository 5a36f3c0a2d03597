//! A small conformance checker: does a recorded request match the forge's published API
//! description? It finds the path template and method, then checks path and query parameters
//! (names, integer types, enums) and the JSON body (required fields, property names, types, enum
//! values), resolving `$ref`s. GitHub's file is OpenAPI 3 (`components`), Gitea's and Forgejo's
//! Swagger 2 (`definitions`); for the latter, names compare case-insensitively, as the Go servers
//! behind them read JSON. Answers the fakes give can be checked too, without `required`, since
//! fixtures are kept small.

use super::fake::Recorded;
use super::schema::check_scalar;
use serde_json::Value;
use std::path::PathBuf;

pub struct Spec {
    pub name: String,
    pub(crate) doc: Value,
    pub(crate) swagger2: bool,
    base_path: String,
}

/// The corpus folder, if this checkout has one beside it.
pub fn corpus() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus");
    dir.is_dir().then_some(dir)
}

impl Spec {
    /// Loads `relative` from the corpus; `None` (after printing `skipped: …`) without it.
    /// `base_path` is the prefix the client's requests carry before the documented paths.
    pub fn load(relative: &str, base_path: &str) -> Option<Spec> {
        let Some(dir) = corpus() else {
            println!("skipped: ../shared/corpus is absent, {relative} not checked");
            return None;
        };
        let text = std::fs::read_to_string(dir.join(relative)).ok()?;
        let doc: Value = serde_json::from_str(&text).expect("API description is JSON");
        let swagger2 = doc.get("swagger").is_some();
        Some(Spec {
            name: relative.to_string(),
            doc,
            swagger2,
            base_path: base_path.to_string(),
        })
    }

    pub(crate) fn resolve<'a>(&'a self, mut value: &'a Value) -> &'a Value {
        while let Some(reference) = value.get("$ref").and_then(Value::as_str) {
            let mut target = &self.doc;
            for part in reference.trim_start_matches("#/").split('/') {
                target = &target[part.replace("~1", "/").replace("~0", "~")];
            }
            value = target;
        }
        value
    }

    /// The documented path template a request path matches, preferring literal segments.
    pub fn template(&self, path: &str) -> Option<String> {
        let path = path.strip_prefix(&self.base_path)?;
        let segments: Vec<String> = path
            .trim_start_matches('/')
            .split('/')
            .map(percent_decode)
            .collect();
        let mut best: Option<(usize, String)> = None;
        for template in self.doc["paths"].as_object()?.keys() {
            let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
            let last_is_path_param = parts
                .last()
                .is_some_and(|p| *p == "{path}" || *p == "{filepath}");
            let fits_length = parts.len() == segments.len()
                || (last_is_path_param && segments.len() > parts.len());
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
            if fits && best.as_ref().is_none_or(|(n, _)| literal > *n) {
                best = Some((literal, template.clone()));
            }
        }
        best.map(|(_, t)| t)
    }

    fn operation(&self, request: &Recorded) -> Result<(String, &Value), String> {
        let template = self
            .template(&request.path)
            .ok_or_else(|| format!("{}: no documented path for {}", self.name, request.path))?;
        let method = request.method.to_lowercase();
        let op = self.doc["paths"][&template].get(&method).ok_or_else(|| {
            format!(
                "{}: {} {template} is not documented",
                self.name, request.method
            )
        })?;
        Ok((template, op))
    }

    fn parameters<'a>(&'a self, template: &str, op: &'a Value) -> Vec<&'a Value> {
        let shared = self.doc["paths"][template]["parameters"].as_array();
        let own = op["parameters"].as_array();
        shared
            .into_iter()
            .chain(own)
            .flatten()
            .map(|p| self.resolve(p))
            .collect()
    }

    /// Every way `request` departs from the description.
    pub fn check_request(&self, request: &Recorded) -> Vec<String> {
        let (template, op) = match self.operation(request) {
            Ok(found) => found,
            Err(e) => return vec![e],
        };
        let at = format!("{}: {} {template}", self.name, request.method);
        let mut errors = Vec::new();
        let params = self.parameters(&template, op);
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
            let param = params
                .iter()
                .find(|p| p["in"] == "path" && p["name"] == name);
            match param {
                None => errors.push(format!("{at}: path parameter {name} undocumented")),
                Some(p) => {
                    let schema = if self.swagger2 {
                        *p
                    } else {
                        self.resolve(&p["schema"])
                    };
                    if schema["type"] == "integer" && segment.parse::<i64>().is_err() {
                        errors.push(format!(
                            "{at}: path parameter {name}={segment} is not an integer"
                        ));
                    }
                }
            }
        }
        for (name, value) in &request.query {
            match params
                .iter()
                .find(|p| p["in"] == "query" && p["name"] == name.as_str())
            {
                None => errors.push(format!("{at}: query parameter {name} undocumented")),
                Some(p) => {
                    let schema = if self.swagger2 {
                        *p
                    } else {
                        self.resolve(&p["schema"])
                    };
                    check_scalar(&format!("{at}: query {name}"), schema, value, &mut errors);
                }
            }
        }
        for p in params
            .iter()
            .filter(|p| p["in"] == "query" && p["required"] == true)
        {
            if request
                .query(p["name"].as_str().unwrap_or_default())
                .is_none()
            {
                errors.push(format!(
                    "{at}: required query parameter {} missing",
                    p["name"]
                ));
            }
        }
        let (schema, required) = self.body_schema(op, &params);
        match (&request.body, schema) {
            (None, Some(_)) if required => errors.push(format!("{at}: required body missing")),
            (Some(_), None) => errors.push(format!("{at}: a body where none is documented")),
            (Some(body), Some(schema)) => {
                self.validate(&format!("{at}: body"), body, schema, true, &mut errors)
            }
            _ => {}
        }
        errors
    }

    /// Departures of an answer the fake gives for `request` from the documented answer schema
    /// for `status` (property names, types, enums; not `required`).
    pub fn check_answer(&self, request: &Recorded, status: u16, body: &Value) -> Vec<String> {
        let (template, op) = match self.operation(request) {
            Ok(found) => found,
            Err(e) => return vec![e],
        };
        let at = format!(
            "{}: answer to {} {template} ({status})",
            self.name, request.method
        );
        let Some(response) = op["responses"].get(status.to_string()) else {
            return vec![format!("{at}: status undocumented")];
        };
        let response = self.resolve(response);
        let schema = if self.swagger2 {
            response.get("schema")
        } else {
            response.pointer("/content/application~1json/schema")
        };
        let mut errors = Vec::new();
        if let Some(schema) = schema {
            self.validate(&at, body, schema, false, &mut errors);
        }
        errors
    }

    /// The documented example answer (OpenAPI 3 `examples`), if any.
    pub fn example(&self, method: &str, template: &str, status: u16) -> Option<Value> {
        let op = self.doc["paths"][template].get(method.to_lowercase())?;
        let response = self.resolve(op["responses"].get(status.to_string())?);
        let examples = response.pointer("/content/application~1json/examples")?;
        let first = examples.as_object()?.values().next()?;
        Some(self.resolve(first)["value"].clone())
    }

    fn body_schema<'a>(&'a self, op: &'a Value, params: &[&'a Value]) -> (Option<&'a Value>, bool) {
        if self.swagger2 {
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

/// Checks every request, and every JSON answer the fake gave to it, against every description
/// given; panics listing all departures.
pub fn assert_conforms(specs: &[Spec], requests: &[Recorded]) {
    let mut errors = Vec::new();
    for spec in specs {
        for request in requests {
            errors.extend(spec.check_request(request));
            if let Some((status, Some(body))) = &request.answer {
                errors.extend(spec.check_answer(request, *status, body));
            }
        }
    }
    assert!(
        errors.is_empty(),
        "requests depart from the API descriptions:\n{}",
        errors.join("\n")
    );
}
