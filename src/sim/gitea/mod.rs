//! The Gitea dialect (Forgejo speaks it too): the API v1 routes ade's Gitea client calls, under
//! `/api/v1`, with the JSON shapes of Gitea's swagger file, and the webhook payloads.

pub mod documented;
pub mod hooks;
mod issues;
pub mod json;
mod pulls;
mod repos;
mod review_comments;
mod statuses;
mod teams;

use super::core::Sim;
use super::routes;
use axum::Router;
use axum::routing::{get, post};
use std::sync::Arc;

/// Every Gitea route the simulator serves.
pub fn router() -> Router<Arc<Sim>> {
    let repo = "/api/v1/repos/{owner}/{repo}";
    Router::new()
        .route("/api/v1/version", get(repos::version))
        .route("/api/v1/user", get(repos::current_user))
        .route("/api/v1/users/{login}", get(repos::get_user))
        .route("/api/v1/orgs/{org}/teams/search", get(teams::search))
        .route("/api/v1/teams/{id}/members/{username}", get(teams::member))
        .route(repo, get(repos::get_repo))
        .route(
            &format!("{repo}/branches/{{*branch}}"),
            get(repos::get_branch),
        )
        .route(
            &format!("{repo}/contents/{{*path}}"),
            get(repos::get_contents),
        )
        .route(&format!("{repo}/raw/{{*path}}"), get(repos::get_raw))
        .route(&format!("{repo}/hooks"), get(repos::list_hooks))
        .route(
            &format!("{repo}/collaborators/{{user}}/permission"),
            get(repos::collaborator_permission),
        )
        .route(
            &format!("{repo}/labels"),
            get(routes::list_labels::<json::Shape>),
        )
        .route(
            &format!("{repo}/branch_protections"),
            get(repos::list_protections),
        )
        .route(
            &format!("{repo}/branch_protections/{{name}}"),
            get(repos::get_protection),
        )
        .route(
            &format!("{repo}/issues/{{index}}"),
            get(routes::get_issue::<json::Shape>).patch(issues::update_issue),
        )
        .route(
            &format!("{repo}/issues/{{index}}/comments"),
            get(issues::list_comments).post(routes::create_comment::<json::Shape>),
        )
        .route(
            &format!("{repo}/issues/{{index}}/labels"),
            get(issues::list_issue_labels).post(issues::add_labels),
        )
        .route(
            &format!("{repo}/issues/comments"),
            get(issues::list_repo_comments),
        )
        .route(
            &format!("{repo}/issues/comments/{{id}}"),
            get(routes::get_comment::<json::Shape>).patch(routes::update_comment::<json::Shape>),
        )
        .route(
            &format!("{repo}/issues/comments/{{id}}/reactions"),
            get(issues::list_reactions).post(routes::create_reaction::<json::Shape>),
        )
        .route(
            &format!("{repo}/pulls"),
            get(pulls::list_pulls).post(routes::create_pull::<json::Shape>),
        )
        .route(
            &format!("{repo}/pulls/{{index}}"),
            get(routes::get_pull::<json::Shape>).patch(routes::update_pull::<json::Shape>),
        )
        .route(
            &format!("{repo}/pulls/{{index}}/reviews"),
            get(routes::list_reviews::<json::Shape>),
        )
        .route(
            &format!("{repo}/pulls/{{index}}/reviews/{{id}}/comments"),
            get(review_comments::list),
        )
        .route(
            &format!("{repo}/pulls/{{index}}/merge"),
            post(routes::merge::<json::Shape>).get(routes::is_merged),
        )
        .route(
            &format!("{repo}/statuses/{{sha}}"),
            post(statuses::create_status).get(statuses::list_statuses),
        )
        .route(
            &format!("{repo}/commits/{{git_ref}}/statuses"),
            get(statuses::list_statuses),
        )
        .route(
            &format!("{repo}/commits/{{git_ref}}/status"),
            get(statuses::combined_status),
        )
}
