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
//!
//! `allOf` is read as a set of schemas the value must fit together: a field is documented when
//! one of them documents it. The walk clones no schema and writes a JSON path only for a
//! departure, since every answer of every story goes through it.

use super::description::{Spec, Violation, shown};
use super::formats;
use serde_json::{Map, Value};

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
        walk.check(&Place::Root, value, &[schema], false);
        walk.out
    }
}

/// Where a value sits in the document checked; written out only for a departure.
enum Place<'a> {
    Root,
    Field(&'a Place<'a>, &'a str),
    Item(&'a Place<'a>, usize),
}

impl Place<'_> {
    fn path(&self) -> String {
        match self {
            Place::Root => "$".to_owned(),
            Place::Field(parent, name) => format!("{}.{name}", parent.path()),
            Place::Item(parent, i) => format!("{}[{i}]", parent.path()),
        }
    }
}

struct Walk<'s> {
    spec: &'s Spec,
    operation: &'s str,
    whole: bool,
    out: Vec<Violation>,
}

/// A schema with its `$ref`s followed, and the name of the definition it is (if a `$ref` led
/// to it).
type Named<'v> = (&'v Value, Option<&'v str>);

impl Walk<'_> {
    fn push(&mut self, at: &Place, expected: impl Into<String>, sent: String) {
        self.out
            .push(Violation::new(self.operation, &at.path(), expected, sent));
    }

    /// `value` against every schema of `schemas` at once (one, or the parts of an `allOf`);
    /// `go_pointer`: the field is a Go pointer to a scalar, whose nil is written as null.
    fn check(&mut self, at: &Place, value: &Value, schemas: &[&Value], go_pointer: bool) {
        if value.is_null() {
            if self.whole && !go_pointer && !schemas.iter().all(|s| self.accepts_null(s)) {
                let expected = schemas
                    .iter()
                    .map(|s| kind(self.spec.resolve(s)))
                    .collect::<Vec<_>>()
                    .join(" and ");
                self.push(
                    at,
                    format!("{expected} (the description allows no null)"),
                    "null".into(),
                );
            }
            return;
        }
        let mut set: Vec<Named> = Vec::new();
        for schema in schemas {
            self.flatten(schema, &mut set);
        }
        let mut plain: Vec<Named> = Vec::new();
        for (schema, name) in set {
            let choices = ["oneOf", "anyOf"]
                .into_iter()
                .find_map(|key| Some((key, schema[key].as_array()?)));
            match choices {
                Some((key, choices)) => self.alternatives(at, value, key, choices),
                None => plain.push((schema, name)),
            }
        }
        let before = self.out.len();
        for (schema, _) in &plain {
            self.scalar(at, value, schema);
        }
        if self.out.len() > before {
            return;
        }
        match value {
            Value::Object(object) => self.object(at, object, &plain),
            Value::Array(items) => {
                let item_schemas: Vec<&Value> =
                    plain.iter().filter_map(|(s, _)| s.get("items")).collect();
                if !item_schemas.is_empty() {
                    for (i, v) in items.iter().enumerate() {
                        self.check(&Place::Item(at, i), v, &item_schemas, false);
                    }
                }
            }
            _ => {}
        }
    }

    /// `schema` resolved into `set`, its `allOf` parts spread out.
    fn flatten<'v>(&self, schema: &'v Value, set: &mut Vec<Named<'v>>) {
        let (schema, name) = self.spec.resolve_named(schema);
        match schema["allOf"].as_array() {
            Some(parts) => {
                if schema.get("properties").is_some() {
                    set.push((schema, name));
                }
                for part in parts {
                    self.flatten(part, set);
                }
            }
            None => set.push((schema, name)),
        }
    }

    /// Enum, type and format of `value` against one schema.
    fn scalar(&mut self, at: &Place, value: &Value, schema: &Value) {
        if let Some(choices) = schema["enum"].as_array()
            && !choices.contains(value)
        {
            let expected = format!("one of {}", Value::Array(choices.clone()));
            self.push(at, expected, shown(value));
        }
        let fits = match &schema["type"] {
            Value::String(t) => type_fits(t, value),
            Value::Array(ts) => ts
                .iter()
                .any(|t| t.as_str().is_none_or(|t| type_fits(t, value))),
            _ if schema.get("properties").is_some() => value.is_object(),
            _ => true,
        };
        if !fits {
            self.push(at, format!("type {}", kind(schema)), shown(value));
            return;
        }
        if let Some(format) = schema["format"].as_str()
            && let Some(why) = formats::departure(format, value)
        {
            self.push(at, format!("format {format}: {why}"), shown(value));
        }
    }

    /// An object against the schemas of `set` together: the required fields of each, and each
    /// field against every schema that documents it.
    fn object(&mut self, at: &Place, object: &Map<String, Value>, set: &[Named]) {
        let swagger2 = self.spec.swagger2();
        let same = |a: &str, b: &str| {
            if swagger2 {
                a.eq_ignore_ascii_case(b)
            } else {
                a == b
            }
        };
        let described: Vec<(&Map<String, Value>, Option<&str>)> = set
            .iter()
            .filter_map(|(s, name)| Some((s["properties"].as_object()?, *name)))
            .collect();
        if described.is_empty() {
            let extra: Vec<&Value> = set
                .iter()
                .map(|(s, _)| &s["additionalProperties"])
                .filter(|e| e.is_object())
                .collect();
            if !extra.is_empty() {
                for (field, v) in object {
                    self.check(&Place::Field(at, field), v, &extra, false);
                }
            }
            return;
        }
        if self.whole {
            for required in set
                .iter()
                .flat_map(|(s, _)| s["required"].as_array().into_iter().flatten())
                .filter_map(Value::as_str)
            {
                if !object.keys().any(|k| same(k, required)) {
                    self.push(
                        &Place::Field(at, required),
                        "a required field",
                        "nothing".into(),
                    );
                }
            }
        }
        let open = set.iter().any(|(s, _)| s["additionalProperties"] == true);
        let extra: Vec<&Value> = set
            .iter()
            .map(|(s, _)| &s["additionalProperties"])
            .filter(|e| e.is_object())
            .collect();
        for (field, v) in object {
            let place = Place::Field(at, field);
            let mut subs: Vec<&Value> = Vec::new();
            let mut pointer = false;
            let mut sent_anyway = false;
            for (properties, name) in &described {
                let found = properties
                    .get_key_value(field)
                    .or_else(|| properties.iter().find(|(k, _)| same(k, field)));
                let owner = |list: &[(&str, &str)], key: &str| {
                    swagger2 && name.is_some_and(|n| list.contains(&(n, key)))
                };
                match found {
                    Some((key, sub)) => {
                        pointer |= owner(GO_POINTER_SCALARS, key);
                        subs.push(sub);
                    }
                    None => sent_anyway |= owner(SENT_BUT_UNDOCUMENTED, field),
                }
            }
            if !subs.is_empty() {
                self.check(&place, v, &subs, pointer);
            } else if !extra.is_empty() {
                self.check(&place, v, &extra, false);
            } else if !open && !sent_anyway {
                self.push(&place, "no such field (the description has none)", shown(v));
            }
        }
    }

    /// `value` against `oneOf`/`anyOf` `choices`: it must fit one; if none fits, the
    /// departures from the closest one are reported.
    fn alternatives(&mut self, at: &Place, value: &Value, key: &str, choices: &[Value]) {
        let here = at.path();
        let mut closest: Option<Vec<Violation>> = None;
        for choice in choices {
            let mut trial = Walk {
                spec: self.spec,
                operation: self.operation,
                whole: self.whole,
                out: Vec::new(),
            };
            trial.check(at, value, &[choice], false);
            if trial.out.is_empty() {
                return;
            }
            // An alternative of another JSON type is the farthest, however few its complaints.
            let rank = |found: &[Violation]| {
                let other_type = found
                    .iter()
                    .any(|v| v.at == here && v.expected.starts_with("type "));
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
