//! What GitHub's and Gitea's REST APIs have in common, written once. Both serve comments, labels,
//! pull requests and repository contents at the same paths, with answers ade reads alike; they
//! differ in a few rules and in some whole operations. A dialect supplies those through the traits
//! of [`dialect`], one per part of the API, and is then a [`Forge`](super::Forge) through the one
//! implementation in [`operations`].

mod contents;
mod dialect;
mod operations;

pub(crate) use contents::{FileRead, file_read, list_folder, raw_file};
pub(crate) use dialect::{Checks, Client, Issues, Pulls, Repos, Reviews};

use super::http::encode_segment;
use super::wire;
use super::{ForgePullRequest, ForgeResult, RepoRef};
use http::Method;

/// `/repos/{owner}/{repo}` followed by `rest`.
pub(crate) fn repo_path(repo: &RepoRef, rest: &str) -> String {
    format!(
        "/repos/{}/{}{rest}",
        encode_segment(&repo.owner),
        encode_segment(&repo.name)
    )
}

/// `GET /repos/{owner}/{repo}`.
pub(crate) async fn repository(
    client: &impl Client,
    repo: &RepoRef,
) -> ForgeResult<wire::Repository> {
    let what = format!("read repository {}", repo.full_name());
    client
        .request(repo, Method::GET, repo_path(repo, ""), None, &what)
        .await?
        .success_json(&what)
}

/// `GET …/pulls/{number}`, read the dialect's way.
pub(crate) async fn read_pull<D: Pulls>(
    forge: &D,
    repo: &RepoRef,
    number: i64,
) -> ForgeResult<ForgePullRequest> {
    let what = format!("read pull request {}#{number}", repo.full_name());
    let path = repo_path(repo, &format!("/pulls/{number}"));
    let pull: D::Pull = forge
        .request(repo, Method::GET, path, None, &what)
        .await?
        .success_json(&what)?;
    Ok(D::read_pull(pull))
}
