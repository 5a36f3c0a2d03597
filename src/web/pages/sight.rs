//! Which repositories a viewer may see, asked of the forge on every request: a user sees a
//! repository they can read there, through ade's own forge client, so access the forge takes
//! away is gone from the dashboard on the next page. On a public dashboard everyone sees all.

use super::Dashboard;
use crate::forge::{ForgeKind, Permission, RepoRef};
use crate::web::signin::Viewer;

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

/// Whether the forge says `login` reads `repository`; `Err` with why when it could not tell.
async fn reads(
    dashboard: &Dashboard,
    forge: ForgeKind,
    repository: &str,
    login: &str,
) -> Result<bool, String> {
    let Some(repo) = RepoRef::parse(repository, None) else {
        return Ok(false);
    };
    let client = dashboard
        .forge(forge)
        .ok_or_else(|| format!("ade has no {forge} client configured"))?;
    match client.permission(&repo, login).await {
        Ok(permission) => Ok(permission >= Permission::Read),
        Err(error) => {
            tracing::warn!(%forge, %error, "could not ask a forge what a dashboard user reads");
            Err(error.to_string())
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
) -> Result<bool, String> {
    match viewer {
        Viewer::Public => Ok(true),
        Viewer::User(user) if user.forge != forge => Ok(false),
        Viewer::User(user) => reads(dashboard, forge, repository, &user.login).await,
    }
}

/// Of `repositories` on the viewer's forge, the ones the viewer reads, asked all at once.
pub async fn sight(dashboard: &Dashboard, viewer: &Viewer, repositories: Vec<String>) -> Sight {
    let user = match viewer {
        Viewer::Public => return Sight::Everything,
        Viewer::User(user) => user.clone(),
    };
    let mut asked = tokio::task::JoinSet::new();
    for repository in repositories {
        let dashboard = dashboard.clone();
        let login = user.login.clone();
        let forge = user.forge;
        asked.spawn(async move {
            let answer = reads(&dashboard, forge, &repository, &login).await;
            (repository, answer)
        });
    }
    let mut readable = Vec::new();
    let mut unknown = 0;
    while let Some(done) = asked.join_next().await {
        match done {
            Ok((repository, Ok(true))) => readable.push(repository),
            Ok((_, Ok(false))) => {}
            Ok((_, Err(_))) | Err(_) => unknown += 1,
        }
    }
    readable.sort();
    Sight::Some {
        forge: user.forge,
        readable,
        unknown,
    }
}
