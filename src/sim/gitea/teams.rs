//! Organization teams: finding one by name and whether a user is in it, which ade asks when a
//! policy grants a role to a team.

use super::super::core::{Caller, Sim};
use super::super::http::{ApiResult, Ctx};
use super::super::state::Team;
use super::json;
use axum::Json;
use axum::extract::Path;
use axum::response::IntoResponse;
use serde_json::{Value, json};

fn team_json(sim: &Sim, team: &Team) -> Value {
    let org = sim.user_or_ghost(&team.org);
    let units = ["repo.code", "repo.issues", "repo.pulls"];
    json!({
        "id": team.id,
        "name": team.name,
        "description": "",
        "organization": {
            "id": org.id,
            "name": org.login,
            "full_name": "",
            "email": "",
            "avatar_url": format!("{}/avatars/{}", sim.base_url, org.id),
            "description": "",
            "website": "",
            "location": "",
            "visibility": "public",
            "repo_admin_change_team_access": false,
            "username": org.login,
        },
        "includes_all_repositories": false,
        "permission": "write",
        "units": units,
        "units_map": units.iter().map(|u| (u.to_string(), json!("write"))).collect::<serde_json::Map<_, _>>(),
        "can_create_org_repo": false,
    })
}

/// `GET /api/v1/orgs/{org}/teams/search?q=`: the organization's teams whose name contains `q`.
pub async fn search(ctx: Ctx, Path(org): Path<String>) -> ApiResult {
    let known = ctx.sim.state().user(&org).is_some();
    if ctx.caller == Caller::Anonymous || !known {
        return Err(ctx.not_found());
    }
    let q = ctx.param("q").unwrap_or_default().to_lowercase();
    let teams: Vec<Team> = ctx
        .sim
        .state()
        .teams
        .iter()
        .filter(|t| t.org.eq_ignore_ascii_case(&org) && t.name.to_lowercase().contains(&q))
        .cloned()
        .collect();
    let found: Vec<Value> = teams.iter().map(|t| team_json(&ctx.sim, t)).collect();
    Ok(Json(json!({ "data": found, "ok": true })).into_response())
}

/// `GET /api/v1/teams/{id}/members/{username}`: the user if a member, else 404.
pub async fn member(ctx: Ctx, Path((id, login)): Path<(i64, String)>) -> ApiResult {
    if ctx.caller == Caller::Anonymous {
        return Err(ctx.not_found());
    }
    let member = {
        let state = ctx.sim.state();
        state
            .teams
            .iter()
            .find(|t| t.id == id)
            .filter(|t| t.has_member(&login))
            .and_then(|_| state.user(&login).cloned())
    };
    match member {
        Some(user) => Ok(Json(json::user(&ctx.sim, &user)).into_response()),
        None => Err(ctx.not_found()),
    }
}
