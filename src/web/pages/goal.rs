//! `GET /goals/{id}`: a goal's lineage (the same read model as `/api/v1/goals/{id}`): its spec
//! versions newest first, each version's tasks with their approval and every run, each linking
//! to the forge.

use super::Dashboard;
use super::sight::sees;
use crate::web::html;
use crate::web::lineage::{self, Goal};
use crate::web::signin::Viewer;
use axum::extract::{Path, State};
use axum::response::Response;
use serde::Serialize;

#[derive(Serialize)]
struct GoalPage {
    #[serde(flatten)]
    header: super::Header,
    goal: Goal,
    link: Option<String>,
    /// The forge's address of the repository's pull requests, which a number follows.
    pulls_link: Option<String>,
}

/// `GET /goals/{id}`.
pub async fn goal(
    State(dashboard): State<Dashboard>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let Some(id) = crate::web::path_id(&id) else {
        return super::not_found();
    };
    // Who may see it first: a goal the viewer may not see costs no more than one that is not.
    let row = async {
        let mut conn = dashboard.store.reader().await?;
        crate::store::goals::goal_row(&mut conn, id).await
    };
    let row = match row.await {
        Ok(Some(row)) => row,
        Ok(None) => return super::not_found(),
        Err(error) => return super::unavailable(error),
    };
    let forge = row.forge;
    match sees(&dashboard, &viewer, forge, &row.repository.full_name()).await {
        Ok(true) => {}
        Ok(false) => return super::not_found(),
        Err(()) => return super::forge_unsure(),
    }
    let read = async {
        let mut conn = dashboard.store.reader().await?;
        lineage::read(&mut conn, id).await
    };
    let goal = match read.await {
        Ok(Some(goal)) => goal,
        Ok(None) => return super::not_found(),
        Err(error) => return super::unavailable(error),
    };
    let link = dashboard.forge_link(forge, &row.repository, goal.number);
    let pulls = match forge {
        crate::forge::ForgeKind::Github => "pull",
        crate::forge::ForgeKind::Gitea => "pulls",
    };
    let pulls_link = dashboard
        .repository_link(forge, &row.repository)
        .map(|base| format!("{base}/{pulls}"));
    html::page(
        "goal.html",
        GoalPage {
            header: dashboard.header(&viewer),
            goal,
            link,
            pulls_link,
        },
    )
}
