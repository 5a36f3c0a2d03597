//! Forgejo's objects. The builders in `json` make Gitea 1.26's objects; when the simulator plays
//! Forgejo, each JSON answer of the API and each webhook payload is brought within Forgejo's
//! description (forgejo-swagger.v1.json, Forgejo 11) on its way out: it lacks fields Gitea added
//! since the fork, and names one differently.
//!
//! Objects are told apart by fields only they have; the builders are this module's only input,
//! so the signatures are known. Both forges' `User` keeps the `username` copy of `login` their
//! marshaller adds, though neither description shows it.

use super::super::core::Sim;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use serde_json::{Map, Value};
use std::sync::Arc;

/// `Repository` fields of Gitea that Forgejo's description lacks.
const REPOSITORY_GITEA_ONLY: &[&str] = &[
    "allow_manual_merge",
    "autodetect_manual_merge",
    "branch_count",
    "default_target_branch",
    "has_code",
    "licenses",
    "projects_mode",
];
/// `ContentsResponse` fields of Gitea that Forgejo's description lacks.
const CONTENTS_GITEA_ONLY: &[&str] = &[
    "last_author_date",
    "last_commit_message",
    "last_committer_date",
    "lfs_oid",
    "lfs_size",
];
/// `BranchProtection` fields of Gitea that Forgejo's description lacks.
const PROTECTION_GITEA_ONLY: &[&str] = &[
    "enable_force_push",
    "enable_force_push_allowlist",
    "force_push_allowlist_deploy_keys",
    "force_push_allowlist_teams",
    "force_push_allowlist_usernames",
    "priority",
];

/// The layer over the Gitea API routes that rewrites JSON answers when playing Forgejo.
pub async fn layer(State(sim): State<Arc<Sim>>, request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    if !sim.forgejo {
        return response;
    }
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.contains("json"));
    if !is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(collected) = body.collect().await else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let bytes = collected.to_bytes();
    let Ok(mut value) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    as_forgejo(&mut value);
    parts.headers.remove(CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(value.to_string()))
}

/// Brings every object in `value` within Forgejo's description.
pub fn as_forgejo(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(as_forgejo),
        Value::Object(fields) => {
            object(fields);
            fields.values_mut().for_each(as_forgejo);
        }
        _ => {}
    }
}

fn object(fields: &mut Map<String, Value>) {
    let has = |name: &str| fields.contains_key(name);
    let repository = has("clone_url") && has("default_branch");
    let pull = has("merge_base") && has("head");
    let issue = has("original_author") && has("pull_request") && has("number");
    let contents = has("last_commit_sha") && has("download_url");
    let protection = has("rule_name") && has("status_check_contexts");
    let drop: &[&str] = if repository {
        REPOSITORY_GITEA_ONLY
    } else if contents {
        CONTENTS_GITEA_ONLY
    } else if protection {
        PROTECTION_GITEA_ONLY
    } else if pull {
        &["content_version"]
    } else if issue {
        &["content_version", "time_estimate"]
    } else {
        &[]
    };
    for name in drop {
        fields.remove(*name);
    }
    if protection && let Some(enforce) = fields.remove("block_admin_merge_override") {
        fields.insert("apply_to_admins".into(), enforce);
    }
}

#[cfg(test)]
mod tests {
    use super::as_forgejo;
    use serde_json::json;

    #[test]
    fn gitea_only_fields_go_wherever_they_are_nested() {
        let mut answer = json!([{
            "user": { "login": "a", "login_name": "", "username": "a" },
            "head": { "repo": { "clone_url": "x", "default_branch": "main", "has_code": true } },
            "merge_base": "abc",
            "content_version": 0,
        }]);
        as_forgejo(&mut answer);
        assert_eq!(answer[0]["head"]["repo"].get("has_code"), None);
        assert_eq!(answer[0]["head"]["repo"]["clone_url"], "x");
        assert_eq!(answer[0].get("content_version"), None);
        assert_eq!(answer[0]["merge_base"], "abc");
        assert_eq!(answer[0]["user"]["username"], "a");
    }

    #[test]
    fn forgejo_names_the_admin_rule_apply_to_admins() {
        let mut rule = json!({
            "rule_name": "main", "status_check_contexts": [], "priority": 0,
            "block_admin_merge_override": true,
        });
        as_forgejo(&mut rule);
        assert_eq!(
            rule,
            json!({ "rule_name": "main", "status_check_contexts": [], "apply_to_admins": true })
        );
    }
}
