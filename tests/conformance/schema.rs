//! A JSON value against a schema of a description: `$ref`, `oneOf`/`anyOf`/`allOf`, enums,
//! types, string and integer formats, `null` only where the description allows one, required
//! fields, and no fields the description does not have.
//!
//! Where null is allowed: OpenAPI 3.0 (GitHub's REST file) says `nullable: true`; OpenAPI 3.1
//! (GitHub's webhook file) puts `"null"` in `type` or offers a `{"type": "null"}` alternative; a
//! schema with no type at all takes anything. Swagger 2 (Gitea, Forgejo) cannot say nullable, so
//! the rule follows the Go encoder behind those files, which writes null only for a nil pointer,
//! slice or map: objects and arrays may be null (`*User`, `[]*Label`), and so may date-times
//! (their `*time.Time`); plain strings, numbers and booleans may not, except the few fields that
//! are pointers in Go ([`GO_POINTER_SCALARS`]). The descriptions do not say which date-times are
//! pointers, so a null `time.Time` would pass: that part of the corpus is ambiguous.

use super::description::{Spec, Violation, shown};
use super::formats;
use serde_json::{Map, Value, json};

/// How much of a value to expect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// As the forge sends or takes it: every required field present (requests, the simulator's
    /// answers and webhooks).
    Whole,
    /// A fixture kept small on purpose: fields may be left out, and nulls may stand where a
    /// client must survive them though the description shows none (GitHub answers `line: null`
    /// for an outdated review comment); what is there otherwise must be right.
    Sample,
}

/// Gitea and Forgejo fields whose Go type is a pointer to a scalar, so the servers write `null`
/// where their descriptions show a plain string (`MergedCommitID *string` in Gitea's
/// modules/structs/pull.go). Pointers with `omitempty` are left out instead, and are not here.
const GO_POINTER_SCALARS: &[(&str, &str)] = &[
    ("PullRequest", "merge_commit_sha"),
    // `*string` members of `ContentsResponse` (modules/structs/repo_file.go); the description
    // itself says "otherwise null" for four of them.
    ("ContentsResponse", "encoding"),
    ("ContentsResponse", "content"),
    ("ContentsResponse", "target"),
    ("ContentsResponse", "url"),
    ("ContentsResponse", "html_url"),
    ("ContentsResponse", "git_url"),
    ("ContentsResponse", "download_url"),
    ("ContentsResponse", "submodule_git_url"),
    ("FileLinksResponse", "self"),
    ("FileLinksResponse", "git"),
    ("FileLinksResponse", "html"),
];

/// Fields the real servers send that their descriptions leave out: the `User` marshaller of
/// Gitea and Forgejo adds `username`, a copy of `login` kept for old clients.
const SENT_BUT_UNDOCUMENTED: &[(&str, &str)] = &[("User", "username")];

impl Spec {
    /// Every way `value` departs from `schema`, each placed by its JSON path under `$`.
    pub fn validate(
        &self,
        operation: &str,
        value: &Value,
        schema: &Value,
        reading: Reading,
    ) -> Vec<Violation> {
        let mut walk = Walk {
            spec: self,
            operation,
            whole: reading == Reading::Whole,
            out: Vec::new(),
        };
        walk.check("$", value, schema, false);
        walk.out
    }
}

struct Walk<'s> {
    spec: &'s Spec,
    operation: &'s str,
    whole: bool,
    out: Vec<Violation>,
}

impl Walk<'_> {
    fn push(&mut self, at: &str, expected: impl Into<String>, sent: String) {
        self.out
            .push(Violation::new(self.operation, at, expected, sent));
    }

    /// `go_pointer`: the field is a Go pointer to a scalar, whose nil is written as null.
    fn check(&mut self, at: &str, value: &Value, schema: &Value, go_pointer: bool) {
        let (schema, name) = self.spec.resolve_named(schema);
        if value.is_null() {
            if self.whole && !go_pointer && !self.accepts_null(schema) {
                let expected = format!("{} (the description allows no null)", kind(schema));
                self.push(at, expected, "null".into());
            }
            return;
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(choices) = schema[key].as_array() {
                self.alternatives(at, value, key, choices);
                return;
            }
        }
        if let Some(parts) = schema["allOf"].as_array() {
            match self.merge_all_of(schema, parts) {
                Merged::One(part) => self.check(at, value, part, false),
                Merged::Object(merged) => self.check(at, value, &merged, false),
                Merged::Each => {
                    for part in parts {
                        self.check(at, value, part, false);
                    }
                }
            }
            return;
        }
        if let Some(choices) = schema["enum"].as_array()
            && !choices.contains(value)
        {
            let expected = format!("one of {}", Value::Array(choices.clone()));
            self.push(at, expected, shown(value));
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ if schema.get("properties").is_some() => vec!["object"],
            _ => Vec::new(),
        };
        if !types.is_empty() && !types.iter().any(|t| type_fits(t, value)) {
            self.push(at, format!("type {}", types.join("|")), shown(value));
            return;
        }
        if let Some(format) = schema["format"].as_str()
            && let Some(why) = formats::departure(format, value)
        {
            self.push(at, format!("format {format}: {why}"), shown(value));
        }
        match value {
            Value::Object(object) => self.object(at, object, schema, name),
            Value::Array(items) => {
                if let Some(item) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.check(&format!("{at}[{i}]"), v, item, false);
                    }
                }
            }
            _ => {}
        }
    }

    fn object(
        &mut self,
        at: &str,
        object: &Map<String, Value>,
        schema: &Value,
        name: Option<&str>,
    ) {
        let extra = &schema["additionalProperties"];
        let Some(properties) = schema["properties"].as_object() else {
            if extra.is_object() {
                for (field, v) in object {
                    self.check(&format!("{at}.{field}"), v, extra, false);
                }
            }
            return;
        };
        let swagger2 = self.spec.swagger2();
        let same = |a: &str, b: &str| {
            if swagger2 {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        if self.whole {
            for required in schema["required"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
            {
                if !object.keys().any(|k| same(k, required)) {
                    self.push(
                        &format!("{at}.{required}"),
                        "a required field",
                        "nothing".into(),
                    );
                }
            }
        }
        for (field, v) in object {
            let child = format!("{at}.{field}");
            let documented = properties
                .get_key_value(field)
                .or_else(|| properties.iter().find(|(k, _)| same(k, field)));
            match documented {
                Some((key, sub)) => {
                    let pointer = swagger2
                        && name.is_some_and(|n| GO_POINTER_SCALARS.contains(&(n, key.as_str())));
                    self.check(&child, v, sub, pointer)
                }
                None if swagger2
                    && name
                        .is_some_and(|n| SENT_BUT_UNDOCUMENTED.contains(&(n, field.as_str()))) => {}
                None if extra.is_object() => self.check(&child, v, extra, false),
                None if *extra == true => {}
                None => self.push(&child, "no such field (the description has none)", shown(v)),
            }
        }
    }

    /// `value` against `oneOf`/`anyOf` `choices`: it must fit one; if none fits, the
    /// departures from the closest one are reported.
    fn alternatives(&mut self, at: &str, value: &Value, key: &str, choices: &[Value]) {
        let mut closest: Option<Vec<Violation>> = None;
        for choice in choices {
            let mut trial = Walk {
                spec: self.spec,
                operation: self.operation,
                whole: self.whole,
                out: Vec::new(),
            };
            trial.check(at, value, choice, false);
            if trial.out.is_empty() {
                return;
            }
            // An alternative of another JSON type is the farthest, however few its complaints.
            let rank = |found: &[Violation]| {
                let other_type = found
                    .iter()
                    .any(|v| v.at == at && v.expected.starts_with("type "));
                (other_type, found.len())
            };
            if closest.as_ref().is_none_or(|c| rank(&trial.out) < rank(c)) {
                closest = Some(trial.out);
            }
        }
        for mut v in closest.unwrap_or_default() {
            v.expected = format!(
                "{} (in the closest of {} {key} alternatives)",
                v.expected,
                choices.len()
            );
            self.out.push(v);
        }
    }

    fn accepts_null(&self, schema: &Value) -> bool {
        let schema = self.spec.resolve(schema);
        if schema["nullable"] == true || schema["x-nullable"] == true {
            return true;
        }
        if let Some(choices) = schema["enum"].as_array() {
            return choices.iter().any(Value::is_null);
        }
        for key in ["oneOf", "anyOf"] {
            if let Some(choices) = schema[key].as_array() {
                return choices.iter().any(|c| self.accepts_null(c));
            }
        }
        if let Some(parts) = schema["allOf"].as_array() {
            return parts.iter().all(|p| self.accepts_null(p));
        }
        match &schema["type"] {
            Value::String(t) if self.spec.swagger2() => {
                t == "object" || t == "array" || schema["format"] == "date-time"
            }
            Value::String(t) => t == "null",
            Value::Array(types) => types.iter().any(|t| t == "null"),
            _ => schema.get("properties").is_none() || self.spec.swagger2(),
        }
    }

    /// One schema standing for an `allOf`: its only part, or an object with the properties and
    /// required names of every part, so that a property one part documents is not
    /// "undocumented" for another.
    fn merge_all_of<'v>(&self, schema: &'v Value, parts: &'v [Value]) -> Merged<'v> {
        if let [only] = parts
            && schema.get("properties").is_none()
        {
            return Merged::One(only);
        }
        let object_like = |part: &Value| {
            let part = self.spec.resolve(part);
            part.get("properties").is_some()
                || part["type"] == "object"
                || part.get("allOf").is_some()
        };
        if !parts.iter().all(object_like) {
            return Merged::Each;
        }
        let mut properties = schema["properties"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        let mut required = schema["required"].as_array().cloned().unwrap_or_default();
        let mut open = false;
        for part in parts {
            let part = self.spec.resolve(part);
            let part = match part["allOf"].as_array() {
                Some(inner) => match self.merge_all_of(part, inner) {
                    Merged::One(one) => self.spec.resolve(one).clone(),
                    Merged::Object(merged) => merged,
                    Merged::Each => part.clone(),
                },
                None => part.clone(),
            };
            // A property two parts describe must fit both, so what either documents is
            // documented.
            for (name, sub) in part["properties"].as_object().into_iter().flatten() {
                let combined = match properties.remove(name) {
                    Some(earlier) => json!({ "allOf": [earlier, sub] }),
                    None => sub.clone(),
                };
                properties.insert(name.clone(), combined);
            }
            required.extend(part["required"].as_array().cloned().unwrap_or_default());
            open |=
                part["additionalProperties"].is_object() || part["additionalProperties"] == true;
        }
        Merged::Object(json!({
            "type": "object",
            "properties": properties,
            "required": required,
            "additionalProperties": open,
        }))
    }
}

/// What an `allOf` is checked against.
enum Merged<'v> {
    /// Its only part.
    One(&'v Value),
    /// The object all its parts describe together.
    Object(Value),
    /// Each part in turn (parts that are not all objects).
    Each,
}

/// What a schema asks for, in a few words.
fn kind(schema: &Value) -> String {
    let base = match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join("|"),
        _ if schema.get("properties").is_some() => "object".into(),
        _ if schema.get("oneOf").is_some() || schema.get("anyOf").is_some() => {
            "one of its alternatives".into()
        }
        _ => "a value".into(),
    };
    match schema["format"].as_str() {
        Some(format) => format!("{base} ({format})"),
        None => base,
    }
}

fn type_fits(kind: &str, value: &Value) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => true,
    }
}
