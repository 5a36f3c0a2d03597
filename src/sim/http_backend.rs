//! Git over smart HTTP: `git http-backend` run as a CGI program for `/{owner}/{name}.git/...`,
//! behind the same credentials as the API (GitHub: `x-access-token` + an installation token;
//! Gitea: the user's login + their token). Bodies stream both ways. After a push the refs are
//! read again and the moved branches produce `push` (and `synchronize`) webhooks.

use super::actions;
use super::core::{Caller, Sim};
use super::http::{caller_for_token, presented_token};
use crate::forge::{ForgeKind, Permission};
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use std::process::Stdio;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

/// The repository a git URL names: `/{owner}/{name}.git/...` → (owner, name).
pub fn git_repo_of(path: &str) -> Option<(String, String)> {
    let mut parts = path.trim_start_matches('/').splitn(3, '/');
    let owner = parts.next()?;
    let repo = parts.next()?.strip_suffix(".git")?;
    parts.next()?;
    if owner.is_empty() || repo.is_empty() || owner.starts_with('.') || repo.starts_with('.') {
        return None;
    }
    Some((owner.to_owned(), repo.to_owned()))
}

fn challenge(sim: &Sim) -> Response {
    let realm = match sim.kind {
        ForgeKind::Github => "Basic realm=\"GitHub\"",
        ForgeKind::Gitea => "Basic realm=\"Gitea\"",
    };
    let mut response = (StatusCode::UNAUTHORIZED, "authentication required\n").into_response();
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(realm));
    response
}

/// Checks basic-auth credentials: the password is a token; on GitHub the user name must be
/// `x-access-token` for installation tokens (any name for a user's own token), on Gitea it must
/// be the token owner's login.
fn git_caller(sim: &Sim, headers: &HeaderMap) -> Result<Caller, ()> {
    let Some((user, token)) = presented_token(headers, None) else {
        return if headers.contains_key(header::AUTHORIZATION) {
            Err(())
        } else {
            Ok(Caller::Anonymous)
        };
    };
    let caller = caller_for_token(sim, &token).ok_or(())?;
    let user = user.unwrap_or_default();
    let name_ok = match (&caller, sim.kind) {
        (Caller::Installation { .. }, _) => user == "x-access-token",
        (Caller::User { .. }, ForgeKind::Github) => true,
        (Caller::User { login }, ForgeKind::Gitea) => user.eq_ignore_ascii_case(login),
        (Caller::App | Caller::Anonymous, _) => false,
    };
    if name_ok { Ok(caller) } else { Err(()) }
}

/// Serves one smart-HTTP request.
pub async fn serve(sim: Arc<Sim>, request: Request) -> Response {
    let path = request.uri().path().to_owned();
    let query = request.uri().query().unwrap_or("").to_owned();
    let Some((owner, name)) = git_repo_of(&path) else {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    };
    let Some(repo) = sim.repo(&owner, &name) else {
        return (StatusCode::NOT_FOUND, "Repository not found.\n").into_response();
    };
    let pushing = path.ends_with("/git-receive-pack") || query.contains("service=git-receive-pack");
    let caller = match git_caller(&sim, request.headers()) {
        Ok(caller) => caller,
        Err(()) => return challenge(&sim),
    };
    let access = sim.access(&caller, &repo);
    let needed = if pushing {
        Permission::Write
    } else {
        Permission::Read
    };
    if access < needed {
        if caller == Caller::Anonymous {
            return challenge(&sim);
        }
        let message = if access >= Permission::Read {
            format!("Permission to {owner}/{name}.git denied.\n")
        } else {
            "Repository not found.\n".to_owned()
        };
        let status = if access >= Permission::Read {
            StatusCode::FORBIDDEN
        } else {
            StatusCode::NOT_FOUND
        };
        return (status, message).into_response();
    }
    let remote_user = sim.login_of(&caller).unwrap_or_default();
    if !caller.may("contents", pushing) {
        let message = format!("Permission to {owner}/{name}.git denied to {remote_user}.\n");
        return (StatusCode::FORBIDDEN, message).into_response();
    }
    let before = if pushing && request.method() == "POST" {
        sim.git.branches(&repo.owner, &repo.name).await.ok()
    } else {
        None
    };
    match run_cgi(&sim, request, &path, &query, &remote_user).await {
        Ok((response, child)) => {
            let sim = Arc::clone(&sim);
            let full = repo.full_name();
            // A push over HTTP is a client's call like any API call: its webhooks are not the
            // test's own actions, so webhook faults leave them alone.
            tokio::spawn(super::webhooks::from_api(async move {
                let mut child = child;
                let _ = child.wait().await;
                if let Some(before) = before
                    && let Ok(after) = sim.git.branches(&repo.owner, &repo.name).await
                {
                    actions::after_push(&sim, &full, &remote_user, &before, &after).await;
                }
            }));
            response
        }
        Err(err) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("git http-backend failed: {err:#}\n"),
        )
            .into_response(),
    }
}

async fn run_cgi(
    sim: &Sim,
    request: Request,
    path: &str,
    query: &str,
    remote_user: &str,
) -> anyhow::Result<(Response, tokio::process::Child)> {
    let headers = request.headers().clone();
    let header_str = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let mut cmd = tokio::process::Command::new("git");
    cmd.arg("http-backend")
        .env("GIT_PROJECT_ROOT", sim.git.root())
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("PATH_INFO", path)
        .env("REQUEST_METHOD", request.method().as_str())
        .env("QUERY_STRING", query)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env(
            "CONTENT_TYPE",
            header_str("content-type").unwrap_or_default(),
        )
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if !remote_user.is_empty() {
        cmd.env("REMOTE_USER", remote_user);
    }
    if let Some(length) = header_str("content-length") {
        cmd.env("CONTENT_LENGTH", length);
    }
    if let Some(encoding) = header_str("content-encoding") {
        cmd.env("HTTP_CONTENT_ENCODING", encoding);
    }
    if let Some(protocol) = header_str("git-protocol") {
        cmd.env("GIT_PROTOCOL", protocol);
    }
    let mut child = cmd.spawn()?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut body = request.into_body();
    tokio::spawn(async move {
        while let Some(Ok(frame)) = body.frame().await {
            if let Ok(data) = frame.into_data()
                && stdin.write_all(&data).await.is_err()
            {
                return;
            }
        }
        let _ = stdin.shutdown().await;
    });
    let mut reader = BufReader::new(stdout);
    let mut status = StatusCode::OK;
    let mut response_headers = HeaderMap::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).await? == 0 {
            break;
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            break;
        }
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("status") {
            let code = value.split_whitespace().next().unwrap_or("200");
            status = code
                .parse()
                .ok()
                .and_then(|c| StatusCode::from_u16(c).ok())
                .unwrap_or(StatusCode::OK);
        } else if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response_headers.append(name, value);
        }
    }
    let stream = tokio_util::io::ReaderStream::new(reader);
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = status;
    *response.headers_mut() = response_headers;
    Ok((response, child))
}

#[cfg(test)]
mod tests {
    use super::git_repo_of;

    #[test]
    fn git_paths_name_their_repository() {
        assert_eq!(
            git_repo_of("/octo/demo.git/info/refs"),
            Some(("octo".into(), "demo".into()))
        );
        assert_eq!(git_repo_of("/octo/demo/info/refs"), None);
        assert_eq!(git_repo_of("/octo/demo.git"), None);
        assert_eq!(git_repo_of("/../demo.git/info/refs"), None);
    }
}
