//! The OpenAPI 3.1 description of `/api/v1`, generated from the types the routes answer with, so
//! that docs/openapi.json and what ade answers are one thing (a test fails when the published
//! copy is stale).

use super::error::Body;
use super::goals::{GoalItem, Page};
use crate::web::lineage::Goal;
use schemars::generate::{Contract, SchemaSettings};
use serde_json::{Value, json};

/// The description, pretty-printed, ending in a newline.
pub fn description() -> String {
    let mut settings = SchemaSettings::draft2020_12();
    settings.definitions_path = "/components/schemas".into();
    settings.contract = Contract::Serialize;
    settings.meta_schema = None;
    let mut generator = settings.into_generator();
    let page = generator.subschema_for::<Page<GoalItem>>();
    let goal = generator.subschema_for::<Goal>();
    let error = generator.subschema_for::<Body<'static>>();
    let schemas = generator.take_definitions(true);
    let refusal = |why: &str| {
        json!({
            "description": why,
            "content": { "application/json": { "schema": error.clone() } }
        })
    };
    let refusals = json!({
        "400": refusal("A parameter the route does not take, one given twice, or a value that does not read."),
        "401": refusal("No bearer token or dashboard session, or one that is unknown, expired, revoked or ended."),
        "500": refusal("ade failed; its log says why."),
    });
    let with = |ok: Value, mut more: Value| {
        let mut responses = refusals.clone();
        if let (Some(all), Some(extra)) = (responses.as_object_mut(), more.as_object_mut()) {
            all.insert("200".to_owned(), ok);
            all.append(extra);
        }
        responses
    };
    let query = |name: &str, description: &str, schema: Value| json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema });
    let document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "ade",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "ade's REST API: goals with their spec versions, tasks, runs and approvals (docs/api.md)."
        },
        "paths": {
            "/api/v1/goals": { "get": {
                "summary": "Every goal, newest first, a page at a time",
                "operationId": "listGoals",
                "parameters": [
                    query("forge", "`github` or `gitea`", json!({ "type": "string", "enum": ["github", "gitea"] })),
                    query("repository", "`owner/name`", json!({ "type": "string" })),
                    query("state", "The state of the goal's newest spec version", json!({ "type": "string", "enum": ["draft", "validated", "rejected", "active", "superseded", "archived"] })),
                    query("limit", "Items per page", json!({ "type": "integer", "minimum": 1, "maximum": 200, "default": 50 })),
                    query("before", "The `next` of the page before", json!({ "type": "integer", "minimum": 1 })),
                ],
                "responses": with(
                    json!({ "description": "A page of goals", "content": { "application/json": { "schema": page } } }),
                    json!({}),
                ),
            }},
            "/api/v1/goals/{id}": { "get": {
                "summary": "One goal's lineage",
                "operationId": "getGoal",
                "parameters": [{ "name": "id", "in": "path", "required": true, "schema": { "type": "integer" } }],
                "responses": with(
                    json!({ "description": "The goal with every spec version, task, run and approval", "content": { "application/json": { "schema": goal } } }),
                    json!({
                        "404": refusal("No such goal, or one a dashboard session may not read."),
                        "503": refusal("A dashboard session's forge could not say whether its user may read the goal."),
                    }),
                ),
            }},
        },
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "token": { "type": "http", "scheme": "bearer", "description": "A token `ade tokens create` made (`ade_…`)." },
                "session": { "type": "apiKey", "in": "cookie", "name": "__Host-ade_session", "description": "A dashboard session (`ade_session` over http on loopback); it reads what its user may read on the forge." }
            }
        },
        "security": [{ "token": [] }, { "session": [] }],
    });
    let mut text = serde_json::to_string_pretty(&document).expect("the description is plain JSON");
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    #[test]
    fn openapi_description_is_current() {
        crate::policy::schema::check_published("docs/openapi.json", &super::description());
    }
}
