//! `POST /graphql`: the two GitHub GraphQL mutations ade sends, `markPullRequestReadyForReview`
//! and `convertPullRequestToDraft`, served as GitHub serves them. The caller authenticates as on
//! the REST routes; the body is `{query, variables}`; the pull request is named by its global id
//! (its REST `node_id`); changing it needs write access; the answer holds the fields asked for.
//! Anything else (another field, a bad id, a missing permission) is answered as GitHub does: HTTP
//! 200 with `errors`. A change sends the `pull_request` webhook `ready_for_review` or
//! `converted_to_draft`.

mod parse;

use super::super::actions::{self, ActionError};
use super::super::core::Caller;
use super::super::http::{ApiResult, Ctx, parse_json};
use super::json::node_id;
use crate::forge::Permission;
use axum::Json;
use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use parse::{Field, Operation, Value};
use serde_json::{Map, Value as JsonValue, json};

/// The mutations served, and whether each makes a draft.
const MUTATIONS: &[(&str, bool)] = &[
    ("markPullRequestReadyForReview", false),
    ("convertPullRequestToDraft", true),
];
/// The fields of a mutation's payload.
const PAYLOAD_FIELDS: &[&str] = &["pullRequest", "clientMutationId", "__typename"];
/// The fields of a pull request that can be asked for.
const PULL_FIELDS: &[&str] = &[
    "id",
    "number",
    "isDraft",
    "title",
    "url",
    "state",
    "__typename",
];

/// One entry of `errors`.
fn error(message: impl Into<String>) -> JsonValue {
    json!({ "message": message.into() })
}

/// An error of executing field `key`, with GitHub's `type`.
fn field_error(key: &str, kind: &str, message: impl Into<String>) -> JsonValue {
    json!({ "type": kind, "path": [key], "message": message.into() })
}

fn only_errors(errors: Vec<JsonValue>) -> ApiResult {
    Ok(Json(json!({ "errors": errors })).into_response())
}

/// `POST /graphql`.
pub async fn graphql(ctx: Ctx, body: Bytes) -> ApiResult {
    let login = ctx.login().map_err(|_| {
        ctx.error(
            StatusCode::UNAUTHORIZED,
            "This endpoint requires you to be authenticated.",
        )
    })?;
    let request: JsonValue = parse_json(&ctx.sim, &body)?;
    let Some(query) = request.get("query").and_then(JsonValue::as_str) else {
        return only_errors(vec![error(
            "A query attribute must be specified and must be a string.",
        )]);
    };
    let variables = match request.get("variables") {
        None | Some(JsonValue::Null) => Map::new(),
        Some(JsonValue::Object(map)) => map.clone(),
        Some(JsonValue::String(text)) if text.trim().is_empty() => Map::new(),
        Some(JsonValue::String(text)) => match serde_json::from_str::<JsonValue>(text) {
            Ok(JsonValue::Object(map)) => map,
            _ => return only_errors(vec![error("Variables are invalid JSON.")]),
        },
        Some(_) => return only_errors(vec![error("Variables are invalid JSON.")]),
    };
    let operation = match parse::operation(query) {
        Ok(operation) => operation,
        Err(message) => return only_errors(vec![error(message)]),
    };
    let problems = validate(&operation, &variables);
    if !problems.is_empty() {
        return only_errors(problems);
    }
    let mut data = Map::new();
    let mut errors = Vec::new();
    for field in &operation.selections {
        match execute(&ctx, &login, (&operation, field), &variables).await {
            Ok(value) => {
                data.insert(field.key().to_owned(), value);
            }
            Err(e) => {
                data.insert(field.key().to_owned(), JsonValue::Null);
                errors.push(e);
            }
        }
    }
    let mut answer = json!({ "data": data });
    if !errors.is_empty() {
        answer["errors"] = JsonValue::Array(errors);
    }
    Ok(Json(answer).into_response())
}

/// Everything wrong with the operation before anything runs: GitHub validates the whole
/// document first and answers only `errors` when it fails.
fn validate(operation: &Operation, variables: &Map<String, JsonValue>) -> Vec<JsonValue> {
    let mut errors = Vec::new();
    let root = if operation.kind == "mutation" {
        "Mutation"
    } else {
        "Query"
    };
    for field in &operation.selections {
        let known = MUTATIONS.iter().any(|(name, _)| *name == field.name);
        if operation.kind != "mutation" || !known {
            errors.push(error(format!(
                "Field '{}' doesn't exist on type '{root}'",
                field.name
            )));
            continue;
        }
        validate_arguments(field, operation, variables, &mut errors);
        validate_selections(field, &mut errors);
    }
    errors
}

fn validate_arguments(
    field: &Field,
    operation: &Operation,
    variables: &Map<String, JsonValue>,
    errors: &mut Vec<JsonValue>,
) {
    for (name, _) in &field.arguments {
        if name != "input" {
            errors.push(error(format!(
                "Field '{}' doesn't accept argument '{name}'",
                field.name
            )));
        }
    }
    let Some((_, input)) = field.arguments.iter().find(|(name, _)| name == "input") else {
        errors.push(error(format!(
            "Field '{}' is missing required arguments: input",
            field.name
        )));
        return;
    };
    match resolve(input, operation, variables) {
        Err(message) => errors.push(error(message)),
        Ok(JsonValue::Object(input)) => {
            for key in input.keys() {
                if key != "pullRequestId" && key != "clientMutationId" {
                    errors.push(error(format!(
                        "InputObject '{}Input' doesn't accept argument '{key}'",
                        capitalized(&field.name)
                    )));
                }
            }
            if !input.get("pullRequestId").is_some_and(JsonValue::is_string) {
                errors.push(error(format!(
                    "Argument 'input' on Field '{}' has an invalid value: pullRequestId (ID!) is required",
                    field.name
                )));
            }
        }
        Ok(_) => errors.push(error(format!(
            "Argument 'input' on Field '{}' has an invalid value: not an input object",
            field.name
        ))),
    }
}

fn validate_selections(field: &Field, errors: &mut Vec<JsonValue>) {
    let payload = format!("{}Payload", capitalized(&field.name));
    if field.selections.is_empty() {
        errors.push(error(format!(
            "Field must have selections (field '{}' returns {payload} but has no selections.)",
            field.name
        )));
    }
    for selected in &field.selections {
        if !PAYLOAD_FIELDS.contains(&selected.name.as_str()) {
            errors.push(error(format!(
                "Field '{}' doesn't exist on type '{payload}'",
                selected.name
            )));
            continue;
        }
        let object = selected.name == "pullRequest";
        if object && selected.selections.is_empty() {
            errors.push(error(
                "Field must have selections (field 'pullRequest' returns PullRequest but has no selections.)",
            ));
        }
        if !object && !selected.selections.is_empty() {
            errors.push(error(format!(
                "Selections can't be made on scalars (field '{}')",
                selected.name
            )));
        }
        for inner in &selected.selections {
            if !PULL_FIELDS.contains(&inner.name.as_str()) || !inner.selections.is_empty() {
                errors.push(error(format!(
                    "Field '{}' doesn't exist on type 'PullRequest'",
                    inner.name
                )));
            }
        }
    }
}

fn capitalized(name: &str) -> String {
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// A written value with its variables filled in; a variable must be declared, and given when
/// its type is non-null.
fn resolve(
    value: &Value,
    operation: &Operation,
    variables: &Map<String, JsonValue>,
) -> Result<JsonValue, String> {
    Ok(match value {
        Value::Variable(name) => {
            let Some((_, ty)) = operation.variables.iter().find(|(n, _)| n == name) else {
                return Err(format!(
                    "Variable ${name} is used by anonymous {} but not declared",
                    operation.kind
                ));
            };
            match variables.get(name) {
                Some(value) if !value.is_null() => value.clone(),
                _ if ty.ends_with('!') => {
                    return Err(format!(
                        "Variable ${name} of type {ty} was provided invalid value"
                    ));
                }
                _ => JsonValue::Null,
            }
        }
        Value::String(text) | Value::Enum(text) => JsonValue::String(text.clone()),
        Value::Number(n) => n
            .parse::<f64>()
            .map(JsonValue::from)
            .unwrap_or(JsonValue::Null),
        Value::Bool(b) => JsonValue::Bool(*b),
        Value::Null => JsonValue::Null,
        Value::List(items) => JsonValue::Array(
            items
                .iter()
                .map(|v| resolve(v, operation, variables))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(fields) => JsonValue::Object(
            fields
                .iter()
                .map(|(k, v)| Ok((k.clone(), resolve(v, operation, variables)?)))
                .collect::<Result<_, String>>()?,
        ),
    })
}

/// Runs one validated mutation field; the error is its `errors` entry.
async fn execute(
    ctx: &Ctx,
    login: &str,
    (operation, field): (&Operation, &Field),
    variables: &Map<String, JsonValue>,
) -> Result<JsonValue, JsonValue> {
    let key = field.key();
    let input = field
        .arguments
        .iter()
        .find(|(name, _)| name == "input")
        .map(|(_, v)| resolve(v, operation, variables))
        .and_then(Result::ok)
        .unwrap_or_default();
    let id = input["pullRequestId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let client_mutation_id = input.get("clientMutationId").cloned().unwrap_or_default();
    let draft = MUTATIONS
        .iter()
        .find(|(name, _)| *name == field.name)
        .is_some_and(|(_, draft)| *draft);
    let unresolved = || {
        field_error(
            key,
            "NOT_FOUND",
            format!("Could not resolve to a node with the global id of '{id}'"),
        )
    };
    let (repo, number) = pull_by_node_id(ctx, &id).ok_or_else(unresolved)?;
    let (owner, name) = repo.split_once('/').unwrap_or_default();
    let snapshot = ctx.readable(owner, name).map_err(|_| unresolved())?;
    if ctx.sim.access(&ctx.caller, &snapshot) < Permission::Write
        || !ctx.caller.may("pull_requests", true)
    {
        let message = match ctx.caller {
            Caller::Installation { .. } => "Resource not accessible by integration".to_owned(),
            _ => format!(
                "{login} does not have the correct permissions to execute `{}`",
                capitalized(&field.name)
            ),
        };
        return Err(field_error(key, "FORBIDDEN", message));
    }
    actions::set_draft(&ctx.sim, &repo, number, login, draft)
        .await
        .map_err(|e| match e {
            ActionError::Invalid(message) => field_error(key, "UNPROCESSABLE", message),
            other => field_error(key, "INTERNAL", other.to_string()),
        })?;
    let mut payload = Map::new();
    for selected in &field.selections {
        let value = match selected.name.as_str() {
            "pullRequest" => pull_fields(ctx, &repo, number, &selected.selections),
            "clientMutationId" => client_mutation_id.clone(),
            _ => JsonValue::from(format!("{}Payload", capitalized(&field.name))),
        };
        payload.insert(selected.key().to_owned(), value);
    }
    Ok(JsonValue::Object(payload))
}

/// The repository and number of the pull request whose global id is `id`.
fn pull_by_node_id(ctx: &Ctx, id: &str) -> Option<(String, i64)> {
    let state = ctx.sim.state();
    state.repos.values().find_map(|repo| {
        repo.pulls
            .values()
            .find(|p| node_id("PullRequest", p.id) == id)
            .map(|p| (repo.full_name(), p.number))
    })
}

/// The asked-for fields of a pull request as it is now.
fn pull_fields(ctx: &Ctx, repo: &str, number: i64, selections: &[Field]) -> JsonValue {
    let (owner, name) = repo.split_once('/').unwrap_or_default();
    let Some(snapshot) = ctx.sim.repo(owner, name) else {
        return JsonValue::Null;
    };
    let (Some(pull), Some(issue)) = (snapshot.pulls.get(&number), snapshot.issues.get(&number))
    else {
        return JsonValue::Null;
    };
    let mut out = Map::new();
    for selected in selections {
        let value = match selected.name.as_str() {
            "id" => JsonValue::from(node_id("PullRequest", pull.id)),
            "number" => JsonValue::from(number),
            "isDraft" => JsonValue::from(pull.draft),
            "title" => JsonValue::from(issue.title.clone()),
            "url" => JsonValue::from(format!("{}/{repo}/pull/{number}", ctx.sim.base_url)),
            "state" => JsonValue::from(match (pull.merged, issue.open) {
                (true, _) => "MERGED",
                (false, true) => "OPEN",
                (false, false) => "CLOSED",
            }),
            _ => JsonValue::from("PullRequest"),
        };
        out.insert(selected.key().to_owned(), value);
    }
    JsonValue::Object(out)
}
