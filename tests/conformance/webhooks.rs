//! Webhook bodies against what the corpus says the forge sends.
//!
//! GitHub publishes a JSON Schema for every webhook (`webhooks.api.github.com.json`, keyed
//! `issue-comment-created`, `push`, …): a body is checked against it whole, as an answer is.
//!
//! Gitea and Forgejo publish none. Their payloads are Go structs (`modules/structs/hook.go`)
//! whose members are the objects the API describes, so each member with a definition (`issue`,
//! `comment`, `pull_request`, `repository`, `sender`, `pusher`, `requested_reviewer`,
//! `commits[]`, `head_commit`) is checked against the API description of the forge played, and
//! the rest against the corpus examples of the same payload (constructed from Gitea 1.26's
//! structs, and captured from real servers): every field must appear there with a JSON type
//! they show, and the fields every constructed example has must be present.

use super::description::{Spec, Violation, corpus, shown};
use super::schema::Reading;
use serde_json::Value;
use std::sync::OnceLock;

/// Departures of a GitHub webhook body from GitHub's schema for `event` and `action`; empty
/// without the corpus.
pub fn check_github(event: &str, action: Option<&str>, body: &Value) -> Vec<Violation> {
    let Some(spec) = Spec::load("github/openapi/webhooks.api.github.com.json", "") else {
        return Vec::new();
    };
    let key = match action {
        Some(action) => format!("{event}-{action}"),
        None => event.to_owned(),
    }
    .replace('_', "-");
    let operation = format!("webhook {key}");
    let hooks = &spec.doc()["webhooks"];
    let Some(hook) = hooks
        .get(&key)
        .or_else(|| hooks.get(event.replace('_', "-")))
    else {
        return vec![Violation::new(
            &operation,
            "event",
            "an event the description has",
            key,
        )];
    };
    match hook.pointer("/post/requestBody/content/application~1json/schema") {
        Some(schema) => spec.validate(&operation, body, schema, Reading::Whole),
        None => Vec::new(),
    }
}

/// The payload structs of Gitea's hook.go that ade hears, told apart by `X-Gitea-Event-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Payload {
    Issue,
    Comment,
    Pull,
    Push,
    /// `CommitStatusPayload`, which the corpus has no example of: its members are checked
    /// against [`STATUS_FIELDS`], read from Gitea 1.26's hook.go.
    Status,
}

/// The members of Gitea's `CommitStatusPayload` besides `repository` and `sender`, with their
/// JSON types (`commit` is a `PayloadCommit`, checked against the API description).
const STATUS_FIELDS: &[(&str, &str)] = &[
    ("context", "string"),
    ("created_at", "string"),
    ("description", "string"),
    ("id", "number"),
    ("sha", "string"),
    ("state", "string"),
    ("target_url", "string"),
    ("updated_at", "string"),
];

impl Payload {
    fn of_event_type(event_type: &str) -> Option<Payload> {
        Some(match event_type {
            "issues" | "issue_assign" | "issue_label" | "issue_milestone" => Payload::Issue,
            "issue_comment" | "pull_request_comment" => Payload::Comment,
            "push" => Payload::Push,
            "status" => Payload::Status,
            t if t.starts_with("pull_request") => Payload::Pull,
            _ => return None,
        })
    }

    /// Which struct a corpus example is, by the members only it has.
    fn of_example(body: &Value) -> Option<Payload> {
        let has = |name: &str| body.get(name).is_some();
        Some(if has("comment") && has("is_pull") {
            Payload::Comment
        } else if has("pull_request") && has("number") {
            Payload::Pull
        } else if has("issue") && has("number") {
            Payload::Issue
        } else if has("commits") && has("pusher") {
            Payload::Push
        } else {
            return None;
        })
    }
}

/// Members that are objects the API describes, and the definition of each (`commits` holds a
/// list of them).
const DEFINED: &[(&str, &str)] = &[
    ("issue", "Issue"),
    ("comment", "Comment"),
    ("pull_request", "PullRequest"),
    ("repository", "Repository"),
    ("sender", "User"),
    ("pusher", "User"),
    ("requested_reviewer", "User"),
    ("head_commit", "PayloadCommit"),
    ("commits", "PayloadCommit"),
    ("commit", "PayloadCommit"),
];

/// Members whose struct is shared by several payloads while the corpus shows it in only some:
/// `changes` is one `*ChangesPayload` (`json:"changes,omitempty"`) on issue, comment and pull
/// request payloads alike, and the corpus has it on pull requests only. Their shape is read
/// from every example that has them.
const SHARED_MEMBERS: &[&str] = &["changes"];

/// Every Gitea and Forgejo example of the corpus, parsed once.
fn corpus_examples() -> &'static [(Payload, bool, Value)] {
    static EXAMPLES: OnceLock<Vec<(Payload, bool, Value)>> = OnceLock::new();
    EXAMPLES.get_or_init(|| {
        let Some(dir) = corpus() else {
            return Vec::new();
        };
        let read = |path: &std::path::Path| -> Option<Value> {
            serde_json::from_slice(&std::fs::read(path).ok()?).ok()
        };
        let Some(index) = read(&dir.join("gitea/webhooks/index.json")) else {
            return Vec::new();
        };
        index["files"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|entry| {
                let body = read(&dir.join(entry["file"].as_str()?))?;
                let constructed = entry["constructed"] == true;
                Some((Payload::of_example(&body)?, constructed, body))
            })
            .collect()
    })
}

/// Departures of a Gitea or Forgejo webhook body (`X-Gitea-Event-Type` `event_type`) from the
/// API description `spec` and the corpus examples; empty without the corpus.
pub fn check_gitea(spec: &Spec, event_type: &str, body: &Value) -> Vec<Violation> {
    let operation = format!("webhook {event_type}");
    let Some(payload) = Payload::of_event_type(event_type) else {
        return vec![Violation::new(
            &operation,
            "event type",
            "an event type with a payload the checker knows",
            event_type,
        )];
    };
    let examples: Vec<&Value> = corpus_examples()
        .iter()
        .filter(|(p, _, _)| *p == payload)
        .map(|(_, _, body)| body)
        .collect();
    if payload == Payload::Status {
        return check_status(spec, &operation, body);
    }
    if examples.is_empty() {
        return Vec::new();
    }
    let Some(object) = body.as_object() else {
        return vec![Violation::new(&operation, "$", "an object", shown(body))];
    };
    let mut errors = Vec::new();
    let constructed: Vec<&Value> = corpus_examples()
        .iter()
        .filter(|(p, constructed, _)| *p == payload && *constructed)
        .map(|(_, _, body)| body)
        .collect();
    if let Some(first) = constructed.first().and_then(|b| b.as_object()) {
        for name in first.keys() {
            if constructed.iter().all(|b| b.get(name).is_some()) && !object.contains_key(name) {
                errors.push(Violation::new(
                    &operation,
                    &format!("$.{name}"),
                    "a field every constructed example has",
                    "nothing",
                ));
            }
        }
    }
    for (name, value) in object {
        let at = format!("$.{name}");
        if let Some((_, definition)) = DEFINED.iter().find(|(member, _)| member == name) {
            let reference = serde_json::json!({ "$ref": format!("#/definitions/{definition}") });
            let schema = if name == "commits" {
                serde_json::json!({ "type": "array", "items": reference })
            } else {
                reference
            };
            let member = format!("{operation} {name}");
            errors.extend(
                spec.validate(&member, value, &schema, Reading::Whole)
                    .into_iter()
                    .map(|mut v| {
                        v.at = v.at.replacen('$', &at, 1);
                        v.operation = operation.clone();
                        v
                    }),
            );
            continue;
        }
        let seen: Vec<&Value> = if SHARED_MEMBERS.contains(&name.as_str()) {
            corpus_examples()
                .iter()
                .filter_map(|(_, _, body)| body.get(name))
                .collect()
        } else {
            examples.iter().filter_map(|body| body.get(name)).collect()
        };
        like_examples(&operation, &at, value, &seen, &mut errors);
    }
    errors
}

/// A `status` body: every member of `CommitStatusPayload` present with its type, nothing else,
/// and the members the API describes checked against it.
fn check_status(spec: &Spec, operation: &str, body: &Value) -> Vec<Violation> {
    let Some(object) = body.as_object() else {
        return vec![Violation::new(operation, "$", "an object", shown(body))];
    };
    let mut errors = Vec::new();
    for (name, kind) in STATUS_FIELDS {
        match object.get(*name) {
            Some(value) if json_type(value) == *kind => {}
            Some(value) => errors.push(Violation::new(
                operation,
                &format!("$.{name}"),
                *kind,
                shown(value),
            )),
            None => errors.push(Violation::new(
                operation,
                &format!("$.{name}"),
                "a member of CommitStatusPayload",
                "nothing",
            )),
        }
    }
    for (name, value) in object {
        if let Some((_, definition)) = DEFINED.iter().find(|(member, _)| member == name) {
            let schema = serde_json::json!({ "$ref": format!("#/definitions/{definition}") });
            errors.extend(
                spec.validate(operation, value, &schema, Reading::Whole)
                    .into_iter()
                    .map(|mut v| {
                        v.at = v.at.replacen('$', &format!("$.{name}"), 1);
                        v
                    }),
            );
        } else if !STATUS_FIELDS.iter().any(|(field, _)| field == name) {
            errors.push(Violation::new(
                operation,
                &format!("$.{name}"),
                "no such member of CommitStatusPayload",
                shown(value),
            ));
        }
    }
    errors
}

/// `value` against the values the examples have in its place: present in one of them, of a JSON
/// type one of them has (null only where one is null), and, for objects, field by field.
fn like_examples(
    operation: &str,
    at: &str,
    value: &Value,
    seen: &[&Value],
    errors: &mut Vec<Violation>,
) {
    if seen.is_empty() {
        errors.push(Violation::new(
            operation,
            at,
            "no such field (no example has it)",
            shown(value),
        ));
        return;
    }
    if !seen.iter().any(|s| json_type(s) == json_type(value)) {
        let types: Vec<&str> = seen.iter().map(|s| json_type(s)).collect();
        errors.push(Violation::new(
            operation,
            at,
            format!("what the examples have there ({})", types.join("|")),
            shown(value),
        ));
        return;
    }
    if let Some(object) = value.as_object() {
        for (name, child) in object {
            let children: Vec<&Value> = seen.iter().filter_map(|s| s.get(name)).collect();
            like_examples(operation, &format!("{at}.{name}"), child, &children, errors);
        }
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
