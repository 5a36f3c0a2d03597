//! Which repositories a viewer may see, asked of the forge on every request: a user sees a
//! repository they can read there, through ade's own forge client, so access the forge takes
//! away is gone from the dashboard on the next page. An operator may let answers be reused for
//! `web.access_cache_secs` to spare the forge's rate limit. On a public dashboard everyone,
//! signed in or not, sees all.

use super::Dashboard;
use crate::forge::{ForgeKind, Permission, RepoRef};
use crate::web::signin::Viewer;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a viewer may see of one forge's repositories.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sight {
    /// Every repository: the dashboard is public.
    Everything,
    /// These repositories of this forge; `unknown` more the forge could not be asked about.
    Some {
        /// The forge.
        forge: ForgeKind,
        /// The repositories (`owner/name`) the viewer reads.
        readable: Vec<String>,
        /// How many the forge did not answer for (shown as a notice, never as readable).
        unknown: usize,
    },
}

/// Most questions one page asks the forge at once.
const AT_ONCE: usize = 8;

/// A question asked of the forge: on this forge, may this login read this repository.
type Question = (ForgeKind, String, String);

/// Answers the forge gave, kept for `web.access_cache_secs`.
#[derive(Default)]
pub struct Answers(Mutex<HashMap<Question, (bool, Instant)>>);

impl Answers {
    fn get(&self, key: &Question, ttl: Duration) -> Option<bool> {
        let answers = self.0.lock().unwrap_or_else(|e| e.into_inner());
        answers
            .get(key)
            .filter(|(_, at)| at.elapsed() < ttl)
            .map(|(reads, _)| *reads)
    }

    fn put(&self, key: Question, reads: bool) {
        let mut answers = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if answers.len() > 100_000 {
            answers.clear();
        }
        answers.insert(key, (reads, Instant::now()));
    }
}

/// Whether the forge says `login` reads `repository`; `Err` when it could not tell (the reason
/// goes to ade's log, never to the page).
async fn reads(
    dashboard: &Dashboard,
    forge: ForgeKind,
    repository: &str,
    login: &str,
) -> Result<bool, ()> {
    let Some(repo) = RepoRef::parse(repository, None) else {
        return Ok(false);
    };
    let ttl = dashboard.signin.config.access_cache;
    let key = (forge, login.to_owned(), repository.to_owned());
    if !ttl.is_zero()
        && let Some(answer) = dashboard.answers.get(&key, ttl)
    {
        return Ok(answer);
    }
    let Some(client) = dashboard.forge(forge) else {
        tracing::warn!(%forge, "a dashboard user signed in with a forge ade has no client for");
        return Err(());
    };
    match client.permission(&repo, login).await {
        Ok(permission) => {
            let answer = permission >= Permission::Read;
            if !ttl.is_zero() {
                dashboard.answers.put(key, answer);
            }
            Ok(answer)
        }
        Err(error) => {
            tracing::warn!(%forge, %error, "could not ask a forge what a dashboard user reads");
            Err(())
        }
    }
}

/// Whether `viewer` may see `repository` on `forge`: `Err` when the forge could not tell, which
/// is never taken as yes.
pub async fn sees(
    dashboard: &Dashboard,
    viewer: &Viewer,
    forge: ForgeKind,
    repository: &str,
) -> Result<bool, ()> {
    if dashboard.signin.config.public {
        return Ok(true);
    }
    match viewer {
        Viewer::Public => Ok(true),
        Viewer::User(user) if user.forge != forge => Ok(false),
        Viewer::User(user) => reads(dashboard, forge, repository, &user.login).await,
    }
}

/// Of `repositories` on the viewer's forge, the ones the viewer reads, a few asked at a time.
pub async fn sight(dashboard: &Dashboard, viewer: &Viewer, repositories: Vec<String>) -> Sight {
    let user = match viewer {
        _ if dashboard.signin.config.public => return Sight::Everything,
        Viewer::Public => return Sight::Everything,
        Viewer::User(user) => user.clone(),
    };
    let mut asked = tokio::task::JoinSet::new();
    let mut readable = Vec::new();
    let mut unknown = 0;
    let mut tally = |done: Result<(String, Result<bool, ()>), tokio::task::JoinError>| match done {
        Ok((repository, Ok(true))) => readable.push(repository),
        Ok((_, Ok(false))) => {}
        Ok((_, Err(()))) | Err(_) => unknown += 1,
    };
    for repository in repositories {
        if asked.len() >= AT_ONCE
            && let Some(done) = asked.join_next().await
        {
            tally(done);
        }
        let dashboard = dashboard.clone();
        let login = user.login.clone();
        let forge = user.forge;
        asked.spawn(async move {
            let answer = reads(&dashboard, forge, &repository, &login).await;
            (repository, answer)
        });
    }
    while let Some(done) = asked.join_next().await {
        tally(done);
    }
    readable.sort();
    Sight::Some {
        forge: user.forge,
        readable,
        unknown,
    }
}
