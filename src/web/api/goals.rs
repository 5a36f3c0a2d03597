//! `GET /api/v1/goals` and `GET /api/v1/goals/{id}`: every goal, and one goal's lineage (its
//! spec versions, each version's tasks, each task's runs and approval).

use super::Api;
use super::auth::Reader;
use super::error::ApiError;
use super::params::Params;
use crate::forge::ForgeKind;
use crate::lifecycle::{SpecState, State as _};
use crate::store::goals::{self, GoalFilter};
use crate::web::lineage::{self, Goal};
use crate::web::pages::sight::{Sight, sees, sight};
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, RawQuery, State};
use schemars::JsonSchema;
use serde::Serialize;

/// One page of a list, newest first.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Page<T> {
    /// The items of this page.
    pub items: Vec<T>,
    /// The `before` that fetches the next page; `null` on the last one.
    pub next: Option<i64>,
}

/// A goal in the list of goals.
#[derive(Debug, Serialize, JsonSchema)]
pub struct GoalItem {
    /// ade's id of the goal.
    pub id: i64,
    /// `github` or `gitea` (Forgejo speaks Gitea's dialect).
    pub forge: String,
    /// `owner/name`.
    pub repository: String,
    /// The issue number.
    pub number: i64,
    /// The issue title when it was last planned (sanitized).
    pub title: String,
    /// When ade first planned it, in Unix milliseconds.
    pub created_at: i64,
    /// The newest spec version, if any was stored.
    pub spec: Option<SpecBrief>,
}

/// A spec version's number and state.
#[derive(Debug, Serialize, JsonSchema)]
pub struct SpecBrief {
    /// The version number, from 1.
    pub version: i64,
    /// Where it stands: `draft`, `validated`, `rejected`, `active`, `superseded` or `archived`.
    pub state: String,
}

/// `GET /api/v1/goals?forge=&repository=&state=&limit=&before=`.
pub async fn list(
    State(api): State<Api>,
    reader: Reader,
    RawQuery(query): RawQuery,
) -> Result<Json<Page<GoalItem>>, ApiError> {
    let params = Params::parse(
        query.as_deref(),
        &["forge", "repository", "state", "limit", "before"],
    )?;
    let (limit, before) = params.page()?;
    let mut forge = params.read("forge", "github or gitea", ForgeKind::parse)?;
    // A dashboard viewer sees the repositories of their forge that it lets them read.
    let readable = match &reader {
        Reader::Token(_) => None,
        Reader::Viewer(viewer) => match viewer.user() {
            Some(user) if !api.dashboard.signin.config.public => {
                if forge.is_some_and(|asked| asked != user.forge) {
                    return Ok(Json(Page {
                        items: Vec::new(),
                        next: None,
                    }));
                }
                forge = Some(user.forge);
                let mut conn = api.store.reader().await?;
                let repositories = goals::repositories(&mut conn, user.forge).await?;
                drop(conn);
                match sight(&api.dashboard, viewer, repositories).await {
                    Sight::Everything => None,
                    Sight::Some { readable, .. } => Some(readable),
                }
            }
            _ => None,
        },
    };
    let filter = GoalFilter {
        forge,
        repository: params.read("repository", "owner/name", |v| {
            crate::forge::RepoRef::parse(v, None).map(|_| v)
        })?,
        // Compared as the forge spells it: `Acme/Widgets` is not `acme/widgets` here.
        state: params.read("state", "a spec state", SpecState::parse)?,
        within: readable.as_deref(),
    };
    let mut conn = api.store.reader().await?;
    let goals = goals::page(&mut conn, &filter, before, limit + 1).await?;
    let more = goals.len() as i64 > limit;
    let items: Vec<GoalItem> = goals
        .into_iter()
        .take(limit as usize)
        .map(|summary| GoalItem {
            id: summary.goal.id,
            forge: summary.goal.forge.as_str().to_string(),
            repository: summary.goal.repository.full_name(),
            number: summary.goal.number,
            title: summary.goal.title,
            created_at: summary.created_at,
            spec: summary.newest.map(|(version, state)| SpecBrief {
                version,
                state: state.as_str().to_string(),
            }),
        })
        .collect();
    let next = more.then(|| items.last().map(|goal| goal.id)).flatten();
    Ok(Json(Page { items, next }))
}

/// `GET /api/v1/goals/{id}`.
pub async fn one(
    State(api): State<Api>,
    reader: Reader,
    id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> Result<Json<Goal>, ApiError> {
    Params::parse(query.as_deref(), &[])?;
    let id = id
        .ok()
        .and_then(|Path(id)| crate::web::path_id(&id))
        .ok_or_else(ApiError::not_found)?;
    let mut conn = api.store.reader().await?;
    if let Reader::Viewer(viewer) = &reader {
        let row = goals::goal_row(&mut conn, id)
            .await?
            .ok_or_else(ApiError::not_found)?;
        drop(conn);
        match sees(
            &api.dashboard,
            viewer,
            row.forge,
            &row.repository.full_name(),
        )
        .await
        {
            Ok(true) => {}
            Ok(false) => return Err(ApiError::not_found()),
            Err(()) => return Err(ApiError::forge_unsure()),
        }
        conn = api.store.reader().await?;
    }
    let goal = lineage::read(&mut conn, id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Json(goal))
}
