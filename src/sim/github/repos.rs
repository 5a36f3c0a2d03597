//! Repository routes: the repository, branches and their protection, file contents at a ref,
//! a collaborator's permission, labels.

use super::super::core::Sim;
use super::super::http::{ApiResult, Ctx, escape_path, escape_query};
use super::super::routes;
use super::super::state::Repo;
use super::json;
use crate::forge::{BranchProtection, Permission};
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use base64::Engine;
use serde_json::{Value, json};

/// `GET /repos/{owner}/{repo}`.
pub async fn get_repo(ctx: Ctx, Path((owner, name)): Path<(String, String)>) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let access = ctx.sim.access(&ctx.caller, &repo);
    Ok(Json(json::repository(&ctx.sim, &repo, Some(access))).into_response())
}

/// `GET /repos/{owner}/{repo}/rules/branches/{branch}`: the rulesets' rules for a branch. The
/// simulator protects branches the classic way only, so there are none, which GitHub answers
/// with an empty list (for any branch name).
pub async fn branch_rules(
    ctx: Ctx,
    Path((owner, name, _branch)): Path<(String, String, String)>,
) -> ApiResult {
    ctx.readable(&owner, &name)?;
    Ok(Json(json!([])).into_response())
}

/// `GET /repos/{owner}/{repo}/branches/{branch}` and `.../branches/{branch}/protection` (one
/// route, since branch names contain slashes).
pub async fn get_branch(
    ctx: Ctx,
    Path((owner, name, branch)): Path<(String, String, String)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    if let Some(protected) = branch.strip_suffix("/protection") {
        return protection(&ctx, &repo, protected).await;
    }
    let sha = ctx
        .sim
        .git
        .branch_sha(&owner, &name, &branch)
        .await
        .map_err(|e| ctx.error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .ok_or_else(|| ctx.error(StatusCode::NOT_FOUND, "Branch not found"))?;
    let info = ctx
        .sim
        .git
        .commit_info(&owner, &name, &sha)
        .await
        .map_err(|e| ctx.error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let base = &ctx.sim.base_url;
    let full = repo.full_name();
    let api = format!("{base}/repos/{full}");
    let protection = repo.protections.get(&branch);
    let body = json!({
        "name": branch,
        "commit": {
            "sha": sha,
            "node_id": format!("C_{sha}"),
            "commit": {
                "author": { "name": info.author_name, "email": info.author_email, "date": info.timestamp },
                "committer": { "name": info.committer_name, "email": info.committer_email, "date": info.timestamp },
                "message": info.message.trim_end(),
                "tree": { "sha": info.tree, "url": format!("{api}/git/trees/{}", info.tree) },
                "url": format!("{api}/git/commits/{sha}"),
                "comment_count": 0,
                "verification": { "verified": false, "reason": "unsigned", "signature": Value::Null, "payload": Value::Null, "verified_at": Value::Null },
            },
            "url": format!("{api}/commits/{sha}"),
            "html_url": format!("{base}/{full}/commit/{sha}"),
            "comments_url": format!("{api}/commits/{sha}/comments"),
            "author": Value::Null,
            "committer": Value::Null,
            "parents": [],
        },
        "_links": {
            "self": format!("{api}/branches/{branch}"),
            "html": format!("{base}/{full}/tree/{branch}"),
        },
        "protected": protection.is_some(),
        "protection": {
            "enabled": protection.is_some(),
            "required_status_checks": {
                "enforcement_level": if protection.is_some() { "non_admins" } else { "off" },
                "contexts": protection.map(|p| p.required_checks.clone()).unwrap_or_default(),
                "checks": protection.map(|p| p.required_checks.iter().map(|c| json!({ "context": c, "app_id": Value::Null })).collect::<Vec<_>>()).unwrap_or_default(),
            },
        },
        "protection_url": format!("{api}/branches/{branch}/protection"),
    });
    Ok(Json(body).into_response())
}

async fn protection(ctx: &Ctx, repo: &Repo, branch: &str) -> ApiResult {
    if ctx.sim.access(&ctx.caller, repo) < Permission::Read {
        return Err(ctx.not_found());
    }
    let protection = repo
        .protections
        .get(branch)
        .ok_or_else(|| ctx.error(StatusCode::NOT_FOUND, "Branch not protected"))?;
    Ok(Json(protection_json(&ctx.sim, repo, branch, protection)).into_response())
}

/// A branch protection as `GET .../protection` answers.
pub fn protection_json(
    sim: &Sim,
    repo: &Repo,
    branch: &str,
    protection: &BranchProtection,
) -> Value {
    let url = format!(
        "{}/repos/{}/branches/{branch}/protection",
        sim.base_url,
        repo.full_name()
    );
    let mut body = json!({
        "url": url,
        "enforce_admins": { "url": format!("{url}/enforce_admins"), "enabled": protection.enforce_admins },
        "required_linear_history": { "enabled": false },
        "allow_force_pushes": { "enabled": false },
        "allow_deletions": { "enabled": false },
        "block_creations": { "enabled": false },
        "required_conversation_resolution": { "enabled": false },
        "lock_branch": { "enabled": false },
        "allow_fork_syncing": { "enabled": false },
        "required_signatures": { "url": format!("{url}/required_signatures"), "enabled": false },
    });
    if !protection.required_checks.is_empty() {
        body["required_status_checks"] = json!({
            "url": format!("{url}/required_status_checks"),
            "strict": false,
            "contexts": protection.required_checks,
            "contexts_url": format!("{url}/required_status_checks/contexts"),
            "checks": protection.required_checks.iter().map(|c| json!({ "context": c, "app_id": Value::Null })).collect::<Vec<_>>(),
        });
    }
    if protection.required_approvals > 0 {
        body["required_pull_request_reviews"] = json!({
            "url": format!("{url}/required_pull_request_reviews"),
            "dismiss_stale_reviews": repo.dismiss_stale.contains(branch),
            "require_code_owner_reviews": false,
            "required_approving_review_count": protection.required_approvals,
            "require_last_push_approval": false,
        });
    }
    body
}

/// `GET /repos/{owner}/{repo}/contents/{path}?ref=`: a file (base64, wrapped at 60 columns as
/// GitHub does) or a directory listing, read from git at the ref (default branch if none).
pub async fn get_contents(
    ctx: Ctx,
    Path((owner, name, path)): Path<(String, String, String)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let git_ref = ctx
        .param("ref")
        .unwrap_or_else(|| repo.default_branch.clone());
    let git = &ctx.sim.git;
    let commit = git
        .resolve(&owner, &name, &git_ref)
        .await
        .map_err(|e| ctx.error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .ok_or_else(|| {
            ctx.error(
                StatusCode::NOT_FOUND,
                format!("No commit found for the ref {git_ref}"),
            )
        })?;
    let content = routes::read_path(&ctx, &owner, &name, &commit, &path).await?;
    let base = &ctx.sim.base_url;
    let full = repo.full_name();
    let entry = |kind: &str, path: &str, sha: &str, size: u64| {
        let (in_url, ref_in_url) = (escape_path(path), escape_path(&git_ref));
        let api = format!(
            "{base}/repos/{full}/contents/{in_url}?ref={}",
            escape_query(&git_ref)
        );
        let html = format!("{base}/{full}/blob/{ref_in_url}/{in_url}");
        let git_url = format!(
            "{base}/repos/{full}/git/{}/{sha}",
            if kind == "dir" { "trees" } else { "blobs" }
        );
        json!({
            "type": kind,
            "size": size,
            "name": path.rsplit('/').next().unwrap_or(path),
            "path": path,
            "sha": sha,
            "url": api,
            "git_url": git_url,
            "html_url": html,
            "download_url": if kind == "file" { json!(format!("{base}/{full}/raw/{ref_in_url}/{in_url}")) } else { Value::Null },
            "_links": { "self": api, "git": git_url, "html": html },
        })
    };
    let body = routes::contents(&path, content, entry, wrapped_base64);
    Ok(Json(body).into_response())
}

/// Base64 with a newline after every 60 characters, as GitHub sends file contents.
pub fn wrapped_base64(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 60 + 1);
    for chunk in encoded.as_bytes().chunks(60) {
        out.push_str(std::str::from_utf8(chunk).expect("base64 is ASCII"));
        out.push('\n');
    }
    out
}

/// The role names GitHub reports: `permission` keeps the legacy ladder (admin/write/read/none),
/// `role_name` the fine one.
pub fn permission_names(permission: Permission) -> (&'static str, &'static str) {
    match permission {
        Permission::Admin => ("admin", "admin"),
        Permission::Maintain => ("write", "maintain"),
        Permission::Write => ("write", "write"),
        Permission::Triage => ("read", "triage"),
        Permission::Read => ("read", "read"),
        Permission::None => ("none", "none"),
    }
}

/// `GET /repos/{owner}/{repo}/collaborators/{user}/permission`.
pub async fn collaborator_permission(
    ctx: Ctx,
    Path((owner, name, login)): Path<(String, String, String)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let user = ctx
        .sim
        .state()
        .user(&login)
        .cloned()
        .ok_or_else(|| ctx.error(StatusCode::NOT_FOUND, format!("{login} is not a user")))?;
    let permission = repo.permission_of(&user.login);
    let (legacy, role) = permission_names(permission);
    let mut collaborator = json::user(&ctx.sim, &user);
    collaborator["permissions"] = json!({
        "admin": permission >= Permission::Admin,
        "maintain": permission >= Permission::Maintain,
        "push": permission >= Permission::Write,
        "triage": permission >= Permission::Triage,
        "pull": permission >= Permission::Read,
    });
    collaborator["role_name"] = json!(role);
    Ok(Json(json!({
        "permission": legacy,
        "role_name": role,
        "user": collaborator,
    }))
    .into_response())
}
