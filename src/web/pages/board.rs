//! `GET /`: the goals board. Every goal of the repositories the viewer reads, newest first, with
//! its newest spec version's state and how its tasks, runs and approvals stand; filtered by
//! repository and state through a plain form, a page at a time.

use super::Dashboard;
use super::sight::{Sight, sight};
use crate::forge::ForgeKind;
use crate::lifecycle::{SpecState, State as _};
use crate::store::goals::{self, GoalFilter, Tally};
use crate::web::html;
use crate::web::signin::Viewer;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use std::collections::BTreeMap;

/// Goals a page of the board shows.
const PAGE: i64 = 50;

/// How often an open board reads itself again (with JavaScript): each time asks the forge what
/// the viewer reads, so not more often.
const REFRESH_SECS: u64 = 15;

#[derive(Serialize)]
struct Row {
    id: i64,
    forge: &'static str,
    repository: String,
    number: i64,
    title: String,
    link: Option<String>,
    created_at: i64,
    version: Option<i64>,
    state: Option<&'static str>,
    tasks: BTreeMap<String, i64>,
    runs: BTreeMap<String, i64>,
    approvals: BTreeMap<String, i64>,
}

#[derive(Serialize)]
struct Board {
    #[serde(flatten)]
    header: super::Header,
    rows: Vec<Row>,
    repositories: Vec<String>,
    states: Vec<&'static str>,
    repository: Option<String>,
    state: Option<&'static str>,
    next: Option<String>,
    unknown: usize,
    public: bool,
    /// This page's own address, which it reads itself again from.
    here: String,
    refresh_secs: u64,
}

fn bad_filter(text: &str) -> Response {
    html::message(StatusCode::BAD_REQUEST, "Bad filter", text)
}

/// `GET /?repository=&state=&before=`.
pub async fn board(
    State(dashboard): State<Dashboard>,
    viewer: Viewer,
    RawQuery(query): RawQuery,
) -> Response {
    let mut repository = None;
    let mut state = None;
    let mut before = None;
    for (key, value) in form_urlencoded::parse(query.as_deref().unwrap_or("").as_bytes()) {
        if value.is_empty() {
            continue;
        }
        match key.as_ref() {
            "repository" => match crate::forge::RepoRef::parse(&value, None) {
                Some(_) => repository = Some(value.into_owned()),
                None => return bad_filter("A repository is named owner/name."),
            },
            "state" => match SpecState::parse(&value) {
                Some(parsed) => state = Some(parsed),
                None => return bad_filter("That is not a spec state."),
            },
            "before" => match value.parse::<i64>() {
                Ok(id) if id > 0 => before = Some(id),
                _ => return bad_filter("`before` is a goal id."),
            },
            _ => {}
        }
    }
    let mut conn = match dashboard.store.reader().await {
        Ok(conn) => conn,
        Err(error) => return super::unavailable(error),
    };
    let (forge, seen) = match viewer.user() {
        Some(user) => match goals::repositories(&mut conn, user.forge).await {
            Ok(repositories) => {
                drop(conn);
                (
                    Some(user.forge),
                    sight(&dashboard, &viewer, repositories).await,
                )
            }
            Err(error) => return super::unavailable(error),
        },
        None => {
            drop(conn);
            (None, Sight::Everything)
        }
    };
    let (within, unknown) = match &seen {
        Sight::Everything => (None, 0),
        Sight::Some {
            readable, unknown, ..
        } => (Some(readable.as_slice()), *unknown),
    };
    let filter = GoalFilter {
        forge,
        repository: repository.as_deref(),
        state,
        within,
    };
    let read = async {
        let mut conn = dashboard.store.reader().await?;
        let page = goals::page(&mut conn, &filter, before, PAGE + 1).await?;
        let ids: Vec<i64> = page.iter().map(|summary| summary.goal.id).collect();
        let tallies = goals::tallies(&mut conn, &ids).await?;
        let repositories = match within {
            Some(readable) => readable.to_vec(),
            None => {
                let mut all = goals::repositories(&mut conn, ForgeKind::Github).await?;
                all.extend(goals::repositories(&mut conn, ForgeKind::Gitea).await?);
                all.sort();
                all.dedup();
                all
            }
        };
        Ok::<_, crate::store::StoreError>((page, tallies, repositories))
    };
    let (page, mut tallies, repositories) = match read.await {
        Ok(read) => read,
        Err(error) => return super::unavailable(error),
    };
    let more = page.len() as i64 > PAGE;
    let rows: Vec<Row> = page
        .into_iter()
        .take(PAGE as usize)
        .map(|summary| {
            let goal = summary.goal;
            let Tally {
                tasks,
                runs,
                approvals,
            } = tallies.remove(&goal.id).unwrap_or_default();
            Row {
                id: goal.id,
                forge: goal.forge.as_str(),
                link: dashboard.forge_link(goal.forge, &goal.repository, goal.number),
                repository: goal.repository.full_name(),
                number: goal.number,
                title: goal.title,
                created_at: summary.created_at,
                version: summary.newest.map(|(version, _)| version),
                state: summary.newest.map(|(_, state)| state.as_str()),
                tasks,
                runs,
                approvals,
            }
        })
        .collect();
    let next = more
        .then(|| rows.last().map(|row| row.id))
        .flatten()
        .map(|last| {
            let mut query = form_urlencoded::Serializer::new(String::new());
            if let Some(repository) = &repository {
                query.append_pair("repository", repository);
            }
            if let Some(state) = state {
                query.append_pair("state", state.as_str());
            }
            query.append_pair("before", &last.to_string());
            format!("/?{}", query.finish())
        });
    html::page(
        "board.html",
        Board {
            header: dashboard.header(&viewer),
            rows,
            repositories,
            states: SpecState::ALL.iter().map(|state| state.as_str()).collect(),
            repository,
            state: state.map(|state| state.as_str()),
            next,
            unknown,
            public: viewer.user().is_none(),
            here: match query.as_deref() {
                Some(query) if !query.is_empty() => format!("/?{query}"),
                _ => "/".to_owned(),
            },
            refresh_secs: REFRESH_SECS,
        },
    )
}
