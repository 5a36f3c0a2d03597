//! The GitHub App's own endpoints: who the app is, where it is installed, installation access
//! tokens (`ghs_…`, one hour, for some repositories and permissions when asked, revoked by
//! themselves), and the user endpoints.

use super::super::core::Caller;
use super::super::http::{ApiResult, Ctx, JsonBody, presented_token};
use super::super::state::{Installation, Repo, TokenScope};
use super::super::time::rfc3339;
use super::json;
use crate::forge::Permission;
use axum::Json;
use axum::extract::Path;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

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

/// What `POST /app/installations/{id}/access_tokens` may ask for: some of the installation's
/// repositories (by name or by id) and some of its permissions; without them, all of each.
#[derive(Deserialize)]
pub struct TokenRequest {
    #[serde(default)]
    repositories: Option<Vec<String>>,
    #[serde(default)]
    repository_ids: Option<Vec<i64>>,
    #[serde(default)]
    permissions: Option<BTreeMap<String, String>>,
}

/// `POST /app/installations/{id}/access_tokens`: a token that expires after the configured time
/// (an hour, as GitHub's), for the repositories and permissions asked (422 for any the
/// installation was not given), `metadata: read` always among them.
pub async fn create_token(
    ctx: Ctx,
    Path(id): Path<i64>,
    JsonBody(request): JsonBody<TokenRequest>,
) -> ApiResult {
    require_app(&ctx)?;
    let sim = &ctx.sim;
    let installation = installation(&ctx, id)?;
    let scope = scope_of(&ctx, &installation, request)?;
    let token = format!("ghs_{}", random_token(36));
    let expires_at = sim.now() + sim.token_ttl_ms;
    sim.state()
        .issue_token(&token, id, expires_at, scope.clone());
    let repositories: Vec<_> = installation
        .repositories
        .iter()
        .filter(|full| scope.reaches(full))
        .filter_map(|full| {
            let (o, n) = full.split_once('/')?;
            sim.repo(o, n)
        })
        .map(|r| json::nested_repository(sim, &r, None))
        .collect();
    let body = json!({
        "token": token,
        "expires_at": rfc3339(expires_at),
        "permissions": scope.permissions.as_ref().unwrap_or(&installation.permissions),
        "repository_selection": "selected",
        "repositories": repositories,
    });
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// The scope a token request asks for, checked against what the installation was given.
fn scope_of(
    ctx: &Ctx,
    installation: &Installation,
    request: TokenRequest,
) -> ApiResult<TokenScope> {
    let refused = |message: &str| ctx.error(StatusCode::UNPROCESSABLE_ENTITY, message);
    let names = request.repositories.unwrap_or_default();
    let ids = request.repository_ids.unwrap_or_default();
    let repositories = if names.is_empty() && ids.is_empty() {
        None
    } else {
        let covered: Vec<Repo> = installation
            .repositories
            .iter()
            .filter_map(|full| {
                let (owner, name) = full.split_once('/')?;
                ctx.sim.repo(owner, name)
            })
            .collect();
        let mut chosen = Vec::new();
        for wanted in names.iter().map(Ok).chain(ids.iter().map(Err)) {
            let found = covered.iter().find(|r| match wanted {
                Ok(name) => r.name.eq_ignore_ascii_case(name),
                Err(id) => r.id == *id,
            });
            let Some(repo) = found else {
                return Err(refused(
                    "There is at least one repository that does not exist or is not accessible to the parent installation.",
                ));
            };
            if !chosen.contains(&repo.full_name()) {
                chosen.push(repo.full_name());
            }
        }
        Some(chosen)
    };
    let permissions = match request.permissions {
        None => None,
        Some(asked) => {
            let mut granted = BTreeMap::from([("metadata".to_owned(), "read".to_owned())]);
            for (name, level) in asked {
                let has = installation.permissions.get(&name).map(String::as_str);
                let within = match level.as_str() {
                    "read" => matches!(has, Some("read" | "write")),
                    "write" => has == Some("write"),
                    _ => false,
                };
                if !within {
                    return Err(refused(
                        "The permissions requested are not granted to this installation.",
                    ));
                }
                granted.insert(name, level);
            }
            Some(granted)
        }
    };
    Ok(TokenScope {
        repositories,
        permissions,
    })
}

/// `DELETE /installation/token`: the token that authenticates the call stops working.
pub async fn revoke_token(ctx: Ctx, headers: HeaderMap) -> ApiResult {
    if !matches!(ctx.caller, Caller::Installation { .. }) {
        return Err(ctx.error(StatusCode::UNAUTHORIZED, "Bad credentials"));
    }
    if let Some((_, token)) = presented_token(&headers, None)
        && let Some(issued) = ctx.sim.state().installation_tokens.get_mut(&token)
    {
        issued.revoked = true;
    }
    Ok(StatusCode::NO_CONTENT.into_response())
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
    let Caller::Installation { id, scope } = &ctx.caller else {
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
        .find(|i| i.id == *id)
        .map(|i| i.repositories.clone())
        .unwrap_or_default();
    let repos: Vec<_> = names
        .iter()
        .filter(|full| scope.reaches(full))
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
        Caller::User { login } => Ok(Json(json::private_user(&ctx.sim, login)).into_response()),
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
