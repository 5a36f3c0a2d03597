//! Repository routes: the server version, users, the repository, branches, file contents at a
//! ref, a collaborator's permission, labels and branch protections.

use super::super::core::{Caller, Sim};
use super::super::git::PathContent;
use super::super::http::{ApiResult, Ctx, escape_path, escape_query};
use super::super::routes;
use super::super::state::Repo;
use super::super::time::rfc3339;
use super::json;
use crate::forge::{BranchProtection, Permission};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine;
use serde_json::{Value, json};
use std::sync::Arc;

/// `GET /api/v1/version`: the versions whose API descriptions the simulator follows (Forgejo
/// names the Gitea version it forked from, as Forgejo does).
pub async fn version(State(sim): State<Arc<Sim>>) -> impl IntoResponse {
    let version = if sim.forgejo {
        "11.0.3+gitea-1.22.0"
    } else {
        "1.26.3"
    };
    Json(json!({ "version": version }))
}

/// `GET /api/v1/user`: the token's user.
pub async fn current_user(ctx: Ctx) -> ApiResult {
    let Caller::User { login } = &ctx.caller else {
        return Err(ctx.error(StatusCode::UNAUTHORIZED, "token is required"));
    };
    Ok(Json(json::user_named(&ctx.sim, login)).into_response())
}

/// `GET /api/v1/users/{login}`.
pub async fn get_user(ctx: Ctx, Path(login): Path<String>) -> ApiResult {
    let user = routes::user(&ctx, &login)?;
    Ok(Json(json::user(&ctx.sim, &user)).into_response())
}

/// `GET /api/v1/repos/{owner}/{repo}`.
pub async fn get_repo(ctx: Ctx, Path((owner, name)): Path<(String, String)>) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let access = ctx.sim.access(&ctx.caller, &repo);
    Ok(Json(json::repository(&ctx.sim, &repo, access)).into_response())
}

/// `GET /api/v1/repos/{owner}/{repo}/branches/{branch}`.
pub async fn get_branch(
    ctx: Ctx,
    Path((owner, name, branch)): Path<(String, String, String)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let git = &ctx.sim.git;
    let internal = |e: anyhow::Error| ctx.error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let sha = git
        .branch_sha(&owner, &name, &branch)
        .await
        .map_err(internal)?
        .ok_or_else(|| ctx.not_found())?;
    let info = git
        .commit_info(&owner, &name, &sha)
        .await
        .map_err(internal)?;
    let protection = repo.protections.get(&branch);
    let access = ctx.sim.access(&ctx.caller, &repo);
    let base = &ctx.sim.base_url;
    let body = json!({
        "name": branch,
        "commit": {
            "id": sha,
            "message": info.message,
            "url": format!("{base}/{}/commit/{sha}", repo.full_name()),
            "author": { "name": info.author_name, "email": info.author_email, "username": "" },
            "committer": { "name": info.committer_name, "email": info.committer_email, "username": "" },
            "verification": Value::Null,
            "timestamp": info.timestamp,
            "added": Value::Null,
            "removed": Value::Null,
            "modified": Value::Null,
        },
        "protected": protection.is_some(),
        "required_approvals": protection.map_or(0, |p| p.required_approvals),
        "enable_status_check": protection.is_some_and(|p| !p.required_checks.is_empty()),
        "status_check_contexts": protection.map(|p| p.required_checks.clone()).unwrap_or_default(),
        "user_can_push": access >= Permission::Write && protection.is_none(),
        "user_can_merge": access >= Permission::Write,
        "effective_branch_protection_name": if protection.is_some() { branch.as_str() } else { "" },
    });
    Ok(Json(body).into_response())
}

async fn read(
    ctx: &Ctx,
    owner: &str,
    name: &str,
    path: &str,
) -> ApiResult<(Repo, String, String, PathContent)> {
    let repo = ctx.readable(owner, name)?;
    let git_ref = ctx
        .param("ref")
        .unwrap_or_else(|| repo.default_branch.clone());
    let git = &ctx.sim.git;
    let commit = git
        .resolve(owner, name, &git_ref)
        .await
        .ok()
        .flatten()
        .ok_or_else(|| ctx.not_found())?;
    let content = routes::read_path(ctx, owner, name, &commit, path).await?;
    Ok((repo, git_ref, commit, content))
}

/// `GET /api/v1/repos/{owner}/{repo}/contents/{path}?ref=`: a file as `ContentsResponse` with
/// base64 content, or a directory as a list of them.
pub async fn get_contents(
    ctx: Ctx,
    Path((owner, name, path)): Path<(String, String, String)>,
) -> ApiResult {
    let (repo, git_ref, commit, content) = read(&ctx, &owner, &name, &path).await?;
    let info = ctx.sim.git.commit_info(&owner, &name, &commit).await.ok();
    let base = &ctx.sim.base_url;
    let full = repo.full_name();
    let entry = |kind: &str, path: &str, sha: &str, size: u64| {
        let (in_url, ref_in_url) = (escape_path(path), escape_path(&git_ref));
        let api = format!(
            "{base}/api/v1/repos/{full}/contents/{in_url}?ref={}",
            escape_query(&git_ref)
        );
        let html = format!("{base}/{full}/src/branch/{ref_in_url}/{in_url}");
        let git_url = format!("{base}/api/v1/repos/{full}/git/blobs/{sha}");
        let mut value = json!({
            "name": path.rsplit('/').next().unwrap_or(path),
            "path": path,
            "sha": sha,
            "last_commit_sha": commit,
            "type": kind,
            "size": size,
            "encoding": Value::Null,
            "content": Value::Null,
            "target": Value::Null,
            "url": api,
            "html_url": html,
            "git_url": git_url,
            "download_url": format!("{base}/{full}/raw/branch/{ref_in_url}/{in_url}"),
            "submodule_git_url": Value::Null,
            // `lfs_oid` and `lfs_size` are `omitempty` pointers, left out for a file not in LFS.
            "_links": { "self": api, "git": git_url, "html": html },
        });
        // `omitempty` pointers: left out, not null, when the commit could not be read.
        if let Some(info) = &info {
            value["last_commit_message"] = json!(info.message);
            value["last_author_date"] = json!(info.timestamp);
            value["last_committer_date"] = json!(info.timestamp);
        }
        value
    };
    let body = routes::contents(&path, content, entry, |bytes| {
        base64::engine::general_purpose::STANDARD.encode(bytes)
    });
    Ok(Json(body).into_response())
}

/// `GET /api/v1/repos/{owner}/{repo}/raw/{path}?ref=`: the file's bytes.
pub async fn get_raw(
    ctx: Ctx,
    Path((owner, name, path)): Path<(String, String, String)>,
) -> ApiResult {
    match read(&ctx, &owner, &name, &path).await? {
        (_, _, _, PathContent::File { bytes, .. }) => Ok(bytes.into_response()),
        _ => Err(ctx.not_found()),
    }
}

/// Gitea's permission names: `owner` for the owner, else `admin`, `write`, `read`, `none`
/// (GitHub's `maintain` shows as `admin`, `triage` as `read`).
pub fn permission_name(repo: &Repo, login: &str, permission: Permission) -> &'static str {
    if login.eq_ignore_ascii_case(&repo.owner) {
        return "owner";
    }
    match permission {
        Permission::Admin | Permission::Maintain => "admin",
        Permission::Write => "write",
        Permission::Triage | Permission::Read => "read",
        Permission::None => "none",
    }
}

/// `GET /api/v1/repos/{owner}/{repo}/collaborators/{user}/permission`.
pub async fn collaborator_permission(
    ctx: Ctx,
    Path((owner, name, login)): Path<(String, String, String)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let user = routes::user(&ctx, &login)?;
    let permission = repo.permission_of(&user.login);
    let name = permission_name(&repo, &user.login, permission);
    Ok(Json(json!({
        "permission": name,
        "role_name": name,
        "user": json::user(&ctx.sim, &user),
    }))
    .into_response())
}

fn protection_json(repo: &Repo, branch: &str, protection: &BranchProtection) -> Value {
    json!({
        "branch_name": branch,
        "rule_name": branch,
        "priority": 0,
        "enable_push": false,
        "enable_push_whitelist": false,
        "push_whitelist_usernames": [],
        "push_whitelist_teams": [],
        "push_whitelist_deploy_keys": false,
        "enable_force_push": false,
        "enable_force_push_allowlist": false,
        "force_push_allowlist_usernames": [],
        "force_push_allowlist_teams": [],
        "force_push_allowlist_deploy_keys": false,
        "enable_merge_whitelist": false,
        "merge_whitelist_usernames": [],
        "merge_whitelist_teams": [],
        "enable_status_check": !protection.required_checks.is_empty(),
        "status_check_contexts": protection.required_checks,
        "required_approvals": protection.required_approvals,
        "enable_approvals_whitelist": false,
        "approvals_whitelist_username": [],
        "approvals_whitelist_teams": [],
        "block_on_rejected_reviews": false,
        "block_on_official_review_requests": false,
        "block_on_outdated_branch": false,
        "dismiss_stale_approvals": repo.dismiss_stale.contains(branch),
        "ignore_stale_approvals": false,
        "require_signed_commits": false,
        "protected_file_patterns": "",
        "unprotected_file_patterns": "",
        "block_admin_merge_override": protection.enforce_admins,
        "created_at": rfc3339(0),
        "updated_at": rfc3339(0),
    })
}

/// `GET /api/v1/repos/{owner}/{repo}/branch_protections`.
pub async fn list_protections(ctx: Ctx, Path((owner, name)): Path<(String, String)>) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let list: Vec<Value> = repo
        .protections
        .iter()
        .map(|(branch, p)| protection_json(&repo, branch, p))
        .collect();
    Ok(Json(list).into_response())
}

/// `GET /api/v1/repos/{owner}/{repo}/branch_protections/{name}`: 404 when unprotected.
pub async fn get_protection(
    ctx: Ctx,
    Path((owner, name, branch)): Path<(String, String, String)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let protection = repo
        .protections
        .get(&branch)
        .ok_or_else(|| ctx.not_found())?;
    Ok(Json(protection_json(&repo, &branch, protection)).into_response())
}

/// `GET /api/v1/repos/{owner}/{repo}/hooks`: repository admins only, as Gitea's `reqRepoAdmin`.
pub async fn list_hooks(ctx: Ctx, Path((owner, name)): Path<(String, String)>) -> ApiResult {
    let repo = ctx.with(&owner, &name, Permission::Admin)?;
    let items = repo
        .hooks
        .iter()
        .map(|hook| {
            json!({
                "id": hook.id,
                "type": hook.kind,
                "branch_filter": "*",
                "config": {
                    "url": hook.url,
                    "content_type": hook.content_type,
                    "http_method": "post",
                },
                "events": hook.events,
                "active": hook.active,
                "authorization_header": "",
                "created_at": rfc3339(repo.created_at),
                "updated_at": rfc3339(repo.created_at),
            })
        })
        .collect();
    Ok(ctx.paged(50, items))
}
