//! Every API call the simulator recorded, request and answer, against the forge's published API
//! description, with the checker the client tests use.

use super::fake::Recorded;
use super::openapi::Spec;
use super::world::{Dialect, World};
use ade::sim::ApiCall;
use axum::http::HeaderMap;
use serde_json::Value;

/// The description the simulator of `dialect` answers under (`None` without the corpus).
pub fn spec(dialect: Dialect) -> Option<Spec> {
    match dialect {
        Dialect::Github => Spec::load("github/openapi/api.github.com.json", ""),
        Dialect::Gitea => Spec::load("gitea/swagger.v1.json", "/api/v1"),
        Dialect::Forgejo => Spec::load("gitea/forgejo-swagger.v1.json", "/api/v1"),
    }
}

/// A recorded call in the checker's terms: the query decoded, the bodies parsed (a body that is
/// not JSON stays a string, which no object schema accepts).
fn recorded(call: &ApiCall) -> Recorded {
    let parse = |text: &str| serde_json::from_str(text).unwrap_or(Value::String(text.to_owned()));
    Recorded {
        method: call.method.clone(),
        path: call.path.clone(),
        query: form_urlencoded::parse(call.query.as_bytes())
            .into_owned()
            .collect(),
        headers: HeaderMap::new(),
        body: call.body.as_deref().map(parse),
        answer: Some((call.status, call.response.as_deref().map(parse))),
    }
}

/// Where the real servers depart from their own descriptions and the simulator follows the
/// servers: Gitea's and Forgejo's `User` marshaller adds `username`, a copy of `login` kept for
/// old clients, which their descriptions (generated from the struct) do not show.
fn known_departure(spec: &Spec, error: &str) -> bool {
    spec.swagger2 && error.ends_with(": property username undocumented")
}

/// Departures of one call: the request, the answer's status, and its body.
fn departures(spec: &Spec, call: &ApiCall) -> Vec<String> {
    let request = recorded(call);
    let mut errors = spec.check_request(&request);
    let body = request
        .answer
        .as_ref()
        .and_then(|(_, body)| body.clone())
        .unwrap_or(Value::Null);
    match body {
        // The other: Gitea's and Forgejo's descriptions give this operation
        // a `ContentsResponse` object, and their summary says "or a list of entries if a dir",
        // which is what both servers answer. Each entry is checked as a `ContentsResponse`.
        Value::Array(entries)
            if spec.swagger2
                && spec.template(&call.path).as_deref()
                    == Some("/repos/{owner}/{repo}/contents/{filepath}") =>
        {
            for entry in &entries {
                errors.extend(spec.check_answer(&request, call.status, entry));
                errors.extend(missing_required(spec, call, entry));
            }
        }
        body => {
            errors.extend(spec.check_answer(&request, call.status, &body));
            errors.extend(missing_required(spec, call, &body));
        }
    }
    errors
        .into_iter()
        .filter(|e| !known_departure(spec, e))
        .map(|e| format!("#{} {} {}: {e}", call.seq, call.method, call.path))
        .collect()
}

/// The checker reads answers leniently (fakes keep them small); the simulator's must be whole:
/// every field the description requires is present. Nulls stay allowed, as in lenient reading:
/// Swagger 2 cannot say a field is nullable, so Gitea's nil pointers marshal to undocumented
/// nulls, and GitHub's `nullable` beside a `oneOf` is not seen by the checker.
fn missing_required(spec: &Spec, call: &ApiCall, body: &Value) -> Vec<String> {
    let Some(template) = spec.template(&call.path) else {
        return Vec::new();
    };
    let op = &spec.doc["paths"][&template][call.method.to_lowercase()];
    let Some(response) = op["responses"].get(call.status.to_string()) else {
        return Vec::new();
    };
    let response = spec.resolve(response);
    let schema = if spec.swagger2 {
        response.get("schema")
    } else {
        response.pointer("/content/application~1json/schema")
    };
    let Some(schema) = schema else {
        return Vec::new();
    };
    let at = format!(
        "{}: answer to {} {template} ({}), strictly",
        spec.name, call.method, call.status
    );
    let mut errors = Vec::new();
    spec.validate(&at, body, schema, true, &mut errors);
    let about_null = |e: &String| {
        e.contains(": null where ")
            || e.ends_with("of the oneOf alternatives: null")
            || e.ends_with("of the anyOf alternatives: null")
    };
    errors.retain(|e| !about_null(e));
    errors
}

/// Checks every call the scenario made. Git traffic has no API description; it must only have
/// worked or asked for credentials. An answer cut short by the record's limit cannot be checked,
/// so the scenario raises the limit and any cut is a failure.
pub fn assert_every_call_conforms(world: &World) {
    let calls = world.sim.calls();
    assert!(!calls.is_empty(), "the simulator recorded no calls");
    let (git, api): (Vec<&ApiCall>, Vec<&ApiCall>) = calls.iter().partition(|c| c.git);
    assert!(
        git.iter().all(|c| matches!(c.status, 200 | 401 | 403)),
        "git calls: {:?}",
        git.iter()
            .map(|c| (&c.method, &c.path, c.status))
            .collect::<Vec<_>>()
    );
    for call in &api {
        assert!(
            !call.response_truncated,
            "#{} {} {}: answer cut short by the call record",
            call.seq, call.method, call.path
        );
    }
    // GraphQL has no OpenAPI description: its calls are checked for the shape GitHub documents
    // in its GraphQL guide instead.
    let (graphql, api): (Vec<&ApiCall>, Vec<&ApiCall>) = api
        .into_iter()
        .partition(|c| world.dialect == Dialect::Github && c.path == "/graphql");
    for call in &graphql {
        assert_graphql_shape(call);
    }
    let Some(spec) = spec(world.dialect) else {
        return;
    };
    let errors: Vec<String> = api.iter().flat_map(|c| departures(&spec, c)).collect();
    assert!(
        errors.is_empty(),
        "{} of {} calls depart from {}:\n{}",
        errors.len(),
        api.len(),
        spec.name,
        errors.join("\n")
    );
    println!(
        "{}: {} API calls and {} git calls checked against {}, {} GraphQL calls by shape",
        world.dialect.tag(),
        api.len(),
        git.len(),
        spec.name,
        graphql.len()
    );
}

/// A GraphQL call as ade makes it: a POST of exactly `{query, variables}`, the query one
/// mutation with an `$id: ID!` variable given as the pull request's id, answered 200 with data
/// and without errors.
fn assert_graphql_shape(call: &ApiCall) {
    let at = format!("#{} {} {}", call.seq, call.method, call.path);
    assert_eq!(call.method, "POST", "{at}");
    assert_eq!(call.status, 200, "{at}");
    let body = call.json();
    let keys: Vec<&String> = body
        .as_object()
        .map(|o| o.keys().collect())
        .unwrap_or_default();
    assert_eq!(keys.len(), 2, "{at}: {body}");
    let query = body["query"].as_str().unwrap_or_default();
    assert!(query.starts_with("mutation($id: ID!) {"), "{at}: {query}");
    assert!(
        ["markPullRequestReadyForReview", "convertPullRequestToDraft"]
            .iter()
            .any(|m| query.contains(&format!("{m}(input: {{pullRequestId: $id}})"))),
        "{at}: {query}"
    );
    assert!(
        body["variables"]["id"]
            .as_str()
            .is_some_and(|id| !id.is_empty()),
        "{at}: {body}"
    );
    let answer = call.response_json();
    assert!(answer.get("errors").is_none(), "{at}: {answer}");
    assert!(answer["data"].is_object(), "{at}: {answer}");
}

/// The checks must catch what they claim to, or a passing scenario means nothing.
#[test]
fn bad_answers_are_caught() {
    let Some(spec) = spec(Dialect::Github) else {
        return;
    };
    let call = |status: u16, response: Value| ApiCall {
        seq: 1,
        method: "POST".into(),
        path: "/repos/o/r/issues/7/comments".into(),
        query: String::new(),
        git: false,
        status,
        body: Some(r#"{"body":"hi"}"#.into()),
        response: Some(response.to_string()),
        response_truncated: false,
        fault: None,
        at_ms: 0,
    };
    let expect = |errors: Vec<String>, needle: &str| {
        assert!(
            errors.iter().any(|e| e.contains(needle)),
            "expected an error about {needle}, got {errors:?}"
        );
    };
    let thin = serde_json::json!({ "id": 1, "body": "hi" });
    assert!(
        spec.check_answer(&recorded(&call(201, thin.clone())), 201, &thin)
            .is_empty()
    );
    expect(
        departures(&spec, &call(201, thin)),
        "required field html_url missing",
    );
    expect(
        departures(
            &spec,
            &call(201, serde_json::json!({ "id": 1, "bogus": 2 })),
        ),
        "property bogus undocumented",
    );
    expect(
        departures(&spec, &call(418, serde_json::json!({}))),
        "status undocumented",
    );
    expect(
        departures(&spec, &call(201, serde_json::json!({ "id": "one" }))),
        "is not of type integer",
    );
}
