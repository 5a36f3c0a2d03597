//! The GitHub dialect: the REST routes ade's GitHub App client calls, the JSON shapes they answer
//! with, and the webhook payloads. Paths, methods and status codes follow GitHub's OpenAPI
//! description (`api.github.com.json`); the API root is the simulator's base URL, as on GitHub
//! Enterprise with `api_url` pointed at it.

mod annotations;
mod app;
mod checks;
mod graphql;
pub mod hooks;
mod issues;
pub mod json;
mod pulls;
mod repos;
mod review_comments;
pub mod scopes;
mod statuses;
mod teams;

pub use app::random_token;

use super::core::Sim;
use super::routes;
use axum::Router;
use axum::routing::{delete, get, post, put};
use std::sync::Arc;

/// Every GitHub route the simulator serves.
pub fn router() -> Router<Arc<Sim>> {
    Router::new()
        .route("/app", get(app::get_app))
        .route("/app/hook/config", get(app::hook_config))
        .route("/app/installations", get(app::list_installations))
        .route("/app/installations/{id}", get(app::get_installation))
        .route(
            "/app/installations/{id}/access_tokens",
            post(app::create_token),
        )
        .route("/installation/repositories", get(app::installation_repos))
        .route("/installation/token", delete(app::revoke_token))
        .route("/graphql", post(graphql::graphql))
        .route("/user", get(app::current_user))
        .route("/users/{login}", get(app::get_user))
        .route(
            "/orgs/{org}/teams/{team_slug}/memberships/{username}",
            get(teams::membership),
        )
        .route("/repos/{owner}/{repo}", get(repos::get_repo))
        .route(
            "/repos/{owner}/{repo}/installation",
            get(app::repo_installation),
        )
        .route(
            "/repos/{owner}/{repo}/branches/{*branch}",
            get(repos::get_branch),
        )
        .route(
            "/repos/{owner}/{repo}/rules/branches/{*branch}",
            get(repos::branch_rules),
        )
        .route(
            "/repos/{owner}/{repo}/contents/{*path}",
            get(repos::get_contents),
        )
        .route(
            "/repos/{owner}/{repo}/collaborators/{user}/permission",
            get(repos::collaborator_permission),
        )
        .route(
            "/repos/{owner}/{repo}/labels",
            get(routes::list_labels::<json::Shape>),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}",
            get(routes::get_issue::<json::Shape>).patch(issues::update_issue),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/comments",
            get(issues::list_comments).post(routes::create_comment::<json::Shape>),
        )
        .route(
            "/repos/{owner}/{repo}/issues/{number}/labels",
            get(issues::list_issue_labels).post(issues::add_labels),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments",
            get(issues::list_repo_comments),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{id}",
            get(routes::get_comment::<json::Shape>).patch(routes::update_comment::<json::Shape>),
        )
        .route(
            "/repos/{owner}/{repo}/issues/comments/{id}/reactions",
            get(issues::list_reactions).post(routes::create_reaction::<json::Shape>),
        )
        .route(
            "/repos/{owner}/{repo}/pulls",
            get(pulls::list_pulls).post(routes::create_pull::<json::Shape>),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}",
            get(routes::get_pull::<json::Shape>).patch(routes::update_pull::<json::Shape>),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/reviews",
            get(routes::list_reviews::<json::Shape>),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/comments",
            get(review_comments::list),
        )
        .route(
            "/repos/{owner}/{repo}/pulls/{number}/merge",
            put(routes::merge::<json::Shape>).get(routes::is_merged),
        )
        .route(
            "/repos/{owner}/{repo}/check-runs",
            post(checks::create_check_run),
        )
        .route(
            "/repos/{owner}/{repo}/check-runs/{id}",
            get(checks::get_check_run).patch(checks::update_check_run),
        )
        .route(
            "/repos/{owner}/{repo}/check-runs/{id}/annotations",
            get(checks::list_annotations),
        )
        .route(
            "/repos/{owner}/{repo}/commits/{git_ref}/check-runs",
            get(checks::list_for_ref),
        )
        .route(
            "/repos/{owner}/{repo}/commits/{git_ref}/status",
            get(statuses::combined_status),
        )
        .route(
            "/repos/{owner}/{repo}/commits/{git_ref}/statuses",
            get(statuses::list_statuses),
        )
}
