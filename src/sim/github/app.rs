//! The GitHub App's own endpoints: who the app is, where it is installed, installation access
//! tokens (`ghs_…`, one hour), and the user endpoints.

use super::super::core::Caller;
use super::super::http::{ApiResult, Ctx};
use super::super::state::{Installation, IssuedToken};
use super::super::time::rfc3339;
use super::json;
use crate::forge::Permission;
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

fn require_app(ctx: &Ctx) -> ApiResult<()> {
    if ctx.caller == Caller::App {
        Ok(())
    } else {
        Err(ctx.error(
            StatusCode::UNAUTHORIZED,
            "A JSON web token could not be decoded",
        ))
    }
}

/// `GET /app`.
pub async fn get_app(ctx: Ctx) -> ApiResult {
    require_app(&ctx)?;
    Ok(Json(json::app(&ctx.sim)).into_response())
}

/// `GET /app/hook/config`: the app's webhook is where the simulator delivers, signed with its
/// secret (masked, as GitHub shows it; absent when there is none).
pub async fn hook_config(ctx: Ctx) -> ApiResult {
    require_app(&ctx)?;
    let mut body = json!({ "content_type": "json", "insecure_ssl": "0" });
    if let Some(url) = ctx.sim.hooks.url() {
        body["url"] = json!(url);
    }
    if !ctx.sim.hooks.secret().is_empty() {
        body["secret"] = json!("********");
    }
    Ok(Json(body).into_response())
}

/// `GET /app/installations`.
pub async fn list_installations(ctx: Ctx) -> ApiResult {
    require_app(&ctx)?;
    let installations = ctx.sim.state().installations.clone();
    let items = installations
        .iter()
        .map(|i| json::installation(&ctx.sim, i))
        .collect();
    Ok(ctx.paged(30, items))
}

/// Installation `id`.
fn installation(ctx: &Ctx, id: i64) -> ApiResult<Installation> {
    ctx.sim
        .state()
        .installations
        .iter()
        .find(|i| i.id == id)
        .cloned()
        .ok_or_else(|| ctx.not_found())
}

/// `GET /app/installations/{id}`.
pub async fn get_installation(ctx: Ctx, Path(id): Path<i64>) -> ApiResult {
    require_app(&ctx)?;
    let installation = installation(&ctx, id)?;
    Ok(Json(json::installation(&ctx.sim, &installation)).into_response())
}

/// `GET /repos/{owner}/{repo}/installation`: the app's installation covering a repository.
pub async fn repo_installation(ctx: Ctx, Path((owner, repo)): Path<(String, String)>) -> ApiResult {
    require_app(&ctx)?;
    let installation = ctx
        .sim
        .state()
        .installation_for(&format!("{owner}/{repo}"))
        .cloned()
        .ok_or_else(|| ctx.not_found())?;
    Ok(Json(json::installation(&ctx.sim, &installation)).into_response())
}

/// `POST /app/installations/{id}/access_tokens`: a token that expires after the configured time
/// (an hour, as GitHub's).
pub async fn create_token(ctx: Ctx, Path(id): Path<i64>) -> ApiResult {
    require_app(&ctx)?;
    let sim = &ctx.sim;
    let installation = installation(&ctx, id)?;
    let token = format!("ghs_{}", random_token(36));
    let expires_at = sim.now() + sim.token_ttl_ms;
    sim.state().installation_tokens.insert(
        token.clone(),
        IssuedToken {
            installation_id: id,
            expires_at,
        },
    );
    let repositories: Vec<_> = installation
        .repositories
        .iter()
        .filter_map(|full| {
            let (o, n) = full.split_once('/')?;
            sim.repo(o, n)
        })
        .map(|r| json::nested_repository(sim, &r, None))
        .collect();
    let body = json!({
        "token": token,
        "expires_at": rfc3339(expires_at),
        "permissions": installation.permissions,
        "repository_selection": "selected",
        "repositories": repositories,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Random alphanumerics, the body of GitHub's token formats.
pub fn random_token(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| ALPHABET[fastrand::usize(..ALPHABET.len())] as char)
        .collect()
}

/// `GET /installation/repositories`: what an installation token may reach.
pub async fn installation_repos(ctx: Ctx) -> ApiResult {
    let Caller::Installation { id } = ctx.caller else {
        return Err(ctx.error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        ));
    };
    let sim = &ctx.sim;
    let names = sim
        .state()
        .installations
        .iter()
        .find(|i| i.id == id)
        .map(|i| i.repositories.clone())
        .unwrap_or_default();
    let repos: Vec<_> = names
        .iter()
        .filter_map(|full| {
            let (o, n) = full.split_once('/')?;
            sim.repo(o, n)
        })
        .map(|r| json::nested_repository(sim, &r, Some(Permission::Write)))
        .collect();
    let request = ctx.page(30);
    let page = super::super::state::page(&repos, request.page, request.per_page);
    Ok(Json(json!({
        "total_count": repos.len(),
        "repository_selection": "selected",
        "repositories": page,
    }))
    .into_response())
}

/// `GET /user`: the token's own user; installation tokens have none.
pub async fn current_user(ctx: Ctx) -> ApiResult {
    match &ctx.caller {
        Caller::User { login } => Ok(Json(json::user_named(&ctx.sim, login)).into_response()),
        Caller::Installation { .. } => Err(ctx.error(
            StatusCode::FORBIDDEN,
            "Resource not accessible by integration",
        )),
        Caller::App | Caller::Anonymous => {
            Err(ctx.error(StatusCode::UNAUTHORIZED, "Requires authentication"))
        }
    }
}

/// `GET /users/{login}`.
pub async fn get_user(ctx: Ctx, Path(login): Path<String>) -> Response {
    let user = ctx.sim.state().user(&login).cloned();
    match user {
        Some(user) => Json(json::user(&ctx.sim, &user)).into_response(),
        None => ctx.not_found().into_response(),
    }
}
