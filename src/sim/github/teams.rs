//! Organization teams: whether a user is in one, which ade asks when a policy grants a role to a
//! team.

use super::super::core::Caller;
use super::super::http::{ApiResult, Ctx};
use axum::Json;
use axum::extract::Path;
use axum::response::IntoResponse;
use serde_json::json;

/// `GET /orgs/{org}/teams/{team_slug}/memberships/{username}`: an active membership, or 404 for
/// a user who is not in the team (or a team or caller GitHub would not show).
pub async fn membership(
    ctx: Ctx,
    Path((org, slug, login)): Path<(String, String, String)>,
) -> ApiResult {
    if matches!(ctx.caller, Caller::Anonymous | Caller::App) {
        return Err(ctx.not_found());
    }
    let member = ctx
        .sim
        .state()
        .team(&org, &slug)
        .is_some_and(|t| t.has_member(&login));
    if !member {
        return Err(ctx.not_found());
    }
    let url = format!(
        "{}/orgs/{org}/teams/{slug}/memberships/{login}",
        ctx.sim.base_url
    );
    Ok(Json(json!({ "url": url, "role": "member", "state": "active" })).into_response())
}
