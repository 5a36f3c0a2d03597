//! Repository contents (`GET …/contents/{path}`): both forges answer a file with its bytes in
//! base64 (unless it is too large), a folder with its entries, and nothing with a 404.

use super::{Client, repo_path};
use crate::forge::http::{Reply, encode_path, query};
use crate::forge::setup::FolderEntry;
use crate::forge::wire;
use crate::forge::{ForgeError, ForgeResult, RepoRef};
use base64::Engine;
use http::Method;
use serde_json::Value;

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
