//! The operations whose REST calls are the same on GitHub and Gitea (same paths, bodies and
//! answers as far as ade reads them), written once over how each client sends a call.

use super::http::{Reply, encode_path, encode_segment, query};
use super::setup::FolderEntry;
use super::wire;
use super::{
    ForgeError, ForgePullRequest, ForgeResult, MergeRefusal, NewPullRequest, PullRequestUpdate,
    RepoRef,
};
use base64::Engine;
use http::Method;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::future::Future;

/// How a client sends one JSON call about a repository: GitHub with the token of the
/// repository's installation, Gitea with the bot's token.
#[async_trait::async_trait]
pub(crate) trait Client: Sync {
    /// Sends `method` to `path` (below the API root) with `body`; `what` names it in errors.
    async fn request(
        &self,
        repo: &RepoRef,
        method: Method,
        path: String,
        body: Option<Value>,
        what: &str,
    ) -> ForgeResult<Reply>;
}

/// `/repos/{owner}/{repo}` followed by `rest`.
pub(crate) fn repo_path(repo: &RepoRef, rest: &str) -> String {
    format!(
        "/repos/{}/{}{rest}",
        encode_segment(&repo.owner),
        encode_segment(&repo.name)
    )
}

/// Comments on issue or pull request `number`; answers the comment's id.
pub(crate) async fn create_comment(
    client: &impl Client,
    repo: &RepoRef,
    number: i64,
    body: &str,
) -> ForgeResult<i64> {
    let what = format!("comment on {}#{number}", repo.full_name());
    let path = repo_path(repo, &format!("/issues/{number}/comments"));
    let reply = client
        .request(
            repo,
            Method::POST,
            path,
            Some(json!({ "body": body })),
            &what,
        )
        .await?;
    Ok(reply.success_json::<wire::Comment>(&what)?.id)
}

/// Replaces the body of comment `comment_id`.
pub(crate) async fn update_comment(
    client: &impl Client,
    repo: &RepoRef,
    comment_id: i64,
    body: &str,
) -> ForgeResult<()> {
    let what = format!("update comment {comment_id} in {}", repo.full_name());
    let path = repo_path(repo, &format!("/issues/comments/{comment_id}"));
    client
        .request(
            repo,
            Method::PATCH,
            path,
            Some(json!({ "body": body })),
            &what,
        )
        .await?
        .success(&what)
}

/// Closes issue `number` with `change` (`{"state": "closed", …}` as the forge takes it).
pub(crate) async fn close_issue(
    client: &impl Client,
    repo: &RepoRef,
    number: i64,
    change: Value,
) -> ForgeResult<()> {
    let what = format!("close {}#{number}", repo.full_name());
    let path = repo_path(repo, &format!("/issues/{number}"));
    client
        .request(repo, Method::PATCH, path, Some(change), &what)
        .await?
        .success(&what)
}

/// Adds those of `labels` the repository has, never creating the others (GitHub would); the
/// repository's labels are read only when there are some to add. `existing` maps each label's
/// name to how the forge's request names it (GitHub by name, Gitea by id).
pub(crate) async fn add_labels(
    client: &impl Client,
    repo: &RepoRef,
    number: i64,
    labels: &[String],
    existing: impl Future<Output = ForgeResult<HashMap<String, Value>>>,
) -> ForgeResult<()> {
    if labels.is_empty() {
        return Ok(());
    }
    let existing = existing.await?;
    let (present, missing): (Vec<&String>, Vec<&String>) = labels
        .iter()
        .partition(|l| existing.contains_key(l.as_str()));
    if !missing.is_empty() {
        tracing::warn!(repo = %repo.full_name(), ?missing, "labels missing from the repository are not added");
    }
    if present.is_empty() {
        return Ok(());
    }
    let named: Vec<&Value> = present.iter().map(|l| &existing[l.as_str()]).collect();
    let what = format!("label {}#{number}", repo.full_name());
    let path = repo_path(repo, &format!("/issues/{number}/labels"));
    client
        .request(
            repo,
            Method::POST,
            path,
            Some(json!({ "labels": named })),
            &what,
        )
        .await?
        .success(&what)
}

/// `GET …/pulls/{number}`, read through the forge's wire shape `T`.
pub(crate) async fn get_pull<T: DeserializeOwned + Into<ForgePullRequest>>(
    client: &impl Client,
    repo: &RepoRef,
    number: i64,
) -> ForgeResult<ForgePullRequest> {
    let what = format!("read pull request {}#{number}", repo.full_name());
    let path = repo_path(repo, &format!("/pulls/{number}"));
    client
        .request(repo, Method::GET, path, None, &what)
        .await?
        .success_json::<T>(&what)
        .map(Into::into)
}

/// Opens `pull` with `body` (the fields as the forge names them); the answer is read through
/// the forge's wire shape `T`.
pub(crate) async fn open_pull<T: DeserializeOwned + Into<ForgePullRequest>>(
    client: &impl Client,
    repo: &RepoRef,
    pull: &NewPullRequest,
    body: Value,
) -> ForgeResult<ForgePullRequest> {
    let what = format!(
        "open a pull request {} → {} in {}",
        pull.head,
        pull.base,
        repo.full_name()
    );
    let path = repo_path(repo, "/pulls");
    client
        .request(repo, Method::POST, path, Some(body), &what)
        .await?
        .success_json::<T>(&what)
        .map(Into::into)
}

/// Changes pull request `number` as `update` asks, with `title` as the forge should store it;
/// the answer is read through the forge's wire shape `T`.
pub(crate) async fn update_pull<T: DeserializeOwned + Into<ForgePullRequest>>(
    client: &impl Client,
    repo: &RepoRef,
    number: i64,
    title: Option<String>,
    update: &PullRequestUpdate,
) -> ForgeResult<ForgePullRequest> {
    let what = format!("update pull request {}#{number}", repo.full_name());
    let mut body = Map::new();
    if let Some(title) = title {
        body.insert("title".into(), Value::from(title));
    }
    if let Some(text) = &update.body {
        body.insert("body".into(), Value::from(text.as_str()));
    }
    if let Some(open) = update.open {
        body.insert(
            "state".into(),
            Value::from(if open { "open" } else { "closed" }),
        );
    }
    let path = repo_path(repo, &format!("/pulls/{number}"));
    client
        .request(repo, Method::PATCH, path, Some(Value::Object(body)), &what)
        .await?
        .success_json::<T>(&what)
        .map(Into::into)
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

/// `GET …/contents/{path}` at `git_ref` for a folder: its entries; `None` when there is no such
/// folder.
pub(crate) async fn list_folder(
    client: &impl Client,
    repo: &RepoRef,
    path: &str,
    git_ref: &str,
) -> ForgeResult<Option<Vec<FolderEntry>>> {
    let what = format!("list {path} at {git_ref} in {}", repo.full_name());
    let url =
        repo_path(repo, &format!("/contents/{}", encode_path(path))) + &query(&[("ref", git_ref)]);
    let reply = client.request(repo, Method::GET, url, None, &what).await?;
    if reply.status.as_u16() == 404 {
        return Ok(None);
    }
    let value: Value = reply.success_json(&what)?;
    if !value.is_array() {
        return Ok(None);
    }
    let entries: Vec<wire::Entry> =
        serde_json::from_value(value).map_err(|e| ForgeError::Malformed(format!("{what}: {e}")))?;
    Ok(Some(
        entries
            .into_iter()
            .map(|e| FolderEntry {
                is_file: e.kind == "file",
                name: e.name,
                path: e.path,
            })
            .collect(),
    ))
}

/// The outcome of a merge from the forge's answer: `refusal` is why it refused, as read from
/// that answer by the forge's own rules.
pub(crate) fn merge_outcome(
    reply: &Reply,
    what: &str,
    refusal: Option<MergeRefusal>,
) -> ForgeResult<()> {
    match refusal {
        Some(refusal) => Err(ForgeError::MergeRefused {
            refusal,
            message: format!("{what}: {}", reply.message()),
        }),
        None => reply.success(what),
    }
}

/// What a `contents` answer says of a path.
pub(crate) enum FileRead {
    /// No file there (nothing, or a directory, a link, a submodule).
    Missing,
    /// The file's bytes, sent inline.
    Inline(Vec<u8>),
    /// A file too large to be sent inline: the raw endpoint has it.
    Large,
}

/// Reads a `GET …/contents/{path}` answer.
pub(crate) fn file_read(reply: &Reply, what: &str) -> ForgeResult<FileRead> {
    if reply.status.as_u16() == 404 {
        return Ok(FileRead::Missing);
    }
    let value: Value = reply.success_json(what)?;
    if value.is_array() {
        return Ok(FileRead::Missing);
    }
    let contents: wire::Contents =
        serde_json::from_value(value).map_err(|e| ForgeError::Malformed(format!("{what}: {e}")))?;
    if contents.kind != "file" {
        return Ok(FileRead::Missing);
    }
    let (Some("base64"), Some(text)) = (contents.encoding.as_deref(), contents.content.as_deref())
    else {
        return Ok(FileRead::Large);
    };
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map(FileRead::Inline)
        .map_err(|e| ForgeError::Malformed(format!("{what}: content is not base64: {e}")))
}

/// A raw file's bytes from its answer; `None` on 404.
pub(crate) fn raw_file(reply: Reply, what: &str) -> ForgeResult<Option<Vec<u8>>> {
    if reply.status.as_u16() == 404 {
        return Ok(None);
    }
    reply.success(what)?;
    Ok(Some(reply.body))
}
