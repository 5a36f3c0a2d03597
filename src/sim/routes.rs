//! The steps both dialects' routes take alike: find what a route names (404 in the dialect's
//! words otherwise), check who may act, and run the shared action. Each dialect then only
//! renders the answer in its own JSON shape.

use super::actions;
use super::core::{PullGit, Sim};
use super::git::{MergeStyle, PathContent};
use super::http::{ApiResult, Ctx, JsonBody};
use super::state::{CheckRun, Comment, Issue, Label, Pull, ReactionRecord, Repo, Review, User};
use crate::forge::Permission;
use axum::Json;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// How a dialect renders what the routes both forges share answer, and the few rules in which
/// the two forges differ there.
pub trait Dialect: 'static {
    /// Who besides its author may edit a comment.
    const EDITORS: Editors;
    /// The reactions the forge takes.
    const REACTIONS: &'static [&'static str];
    /// The status an update of a pull request answers with.
    const PULL_UPDATED: StatusCode;
    /// Items a page of a list holds when the caller does not say.
    const PAGE: usize;
    /// The status that refuses a second open pull request for the same branches.
    const DUPLICATE_PULL: StatusCode;
    /// How the forge refuses a reaction it does not take.
    fn unknown_reaction(content: &str) -> (StatusCode, String);
    /// An issue, with its pull request if it is one.
    fn issue(sim: &Sim, repo: &Repo, issue: &Issue, pull: Option<&Pull>) -> Value;
    /// An issue comment.
    fn comment(sim: &Sim, repo: &Repo, comment: &Comment) -> Value;
    /// A reaction on a comment.
    fn reaction(sim: &Sim, reaction: &ReactionRecord) -> Value;
    /// A label of a repository.
    fn label(sim: &Sim, repo: &Repo, label: &Label) -> Value;
    /// A review of a pull request.
    fn review(sim: &Sim, repo: &Repo, review: &Review) -> Value;
    /// Whether a new pull request titled `title` is a draft, the request having asked `asked`.
    fn opens_draft(title: &str, asked: bool) -> bool;
    /// A pull request, as `viewer` sees it.
    fn pull(sim: &Sim, repo: &Repo, pull: &Pull, git: &PullGit, viewer: Permission) -> Value;
    /// The body of a merge request.
    type MergeRequest: DeserializeOwned;
    /// The merge a request asks for; why the forge refuses it (422) when it asks for none it
    /// knows.
    fn merge_asked(request: Self::MergeRequest) -> Result<MergeAsked, String>;
    /// The answer to a merge that made commit `sha`.
    fn merged(sha: &str) -> Response;
}

/// A merge as a request asks for it.
pub struct MergeAsked {
    /// How to merge.
    pub style: MergeStyle,
    /// The head the merge must find, if the request names one.
    pub head: Option<String>,
    /// The merge commit's message, if the request sets one.
    pub message: Option<String>,
}

type Numbered = Path<(String, String, i64)>;

/// `GET …/issues/{number}`.
pub async fn get_issue<D: Dialect>(ctx: Ctx, Path((owner, name, number)): Numbered) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let issue = issue(&ctx, &repo, number)?;
    Ok(Json(D::issue(&ctx.sim, &repo, issue, repo.pulls.get(&number))).into_response())
}

/// `POST …/issues/{number}/comments` → 201, and a comment webhook.
pub async fn create_comment<D: Dialect>(
    ctx: Ctx,
    Path((owner, name, number)): Numbered,
    JsonBody(request): JsonBody<CommentBody>,
) -> ApiResult {
    let (repo, comment) = post_comment(&ctx, &owner, &name, number, &request.body).await?;
    let body = D::comment(&ctx.sim, &repo, &comment);
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// `GET …/issues/comments/{id}`.
pub async fn get_comment<D: Dialect>(ctx: Ctx, Path((owner, name, id)): Numbered) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let comment = comment(&ctx, &repo, id)?;
    Ok(Json(D::comment(&ctx.sim, &repo, comment)).into_response())
}

/// `PATCH …/issues/comments/{id}`: its author, or whom the forge lets edit others' comments.
pub async fn update_comment<D: Dialect>(
    ctx: Ctx,
    Path((owner, name, id)): Numbered,
    JsonBody(request): JsonBody<CommentBody>,
) -> ApiResult {
    let (repo, comment) = edit_comment(&ctx, &owner, &name, id, &request.body, D::EDITORS).await?;
    Ok(Json(D::comment(&ctx.sim, &repo, &comment)).into_response())
}

/// The body of a request that reacts to a comment.
#[derive(Deserialize)]
pub struct ReactionBody {
    content: String,
}

/// `POST …/issues/comments/{id}/reactions`: 201 when new, 200 when the same user already
/// reacted the same way.
pub async fn create_reaction<D: Dialect>(
    ctx: Ctx,
    Path((owner, name, id)): Numbered,
    JsonBody(request): JsonBody<ReactionBody>,
) -> ApiResult {
    if !D::REACTIONS.contains(&request.content.as_str()) {
        let (status, message) = D::unknown_reaction(&request.content);
        return Err(ctx.error(status, message));
    }
    let repo = ctx.with(&owner, &name, Permission::Read)?;
    let login = ctx.login()?;
    let (reaction, created) =
        actions::react(&ctx.sim, &repo.full_name(), id, &login, &request.content)
            .map_err(|e| ctx.refused(e))?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(D::reaction(&ctx.sim, &reaction))).into_response())
}

/// `GET …/labels`: the repository's labels, paged.
pub async fn list_labels<D: Dialect>(
    ctx: Ctx,
    Path((owner, name)): Path<(String, String)>,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    let items = repo
        .labels
        .iter()
        .map(|l| D::label(&ctx.sim, &repo, l))
        .collect();
    Ok(ctx.paged(D::PAGE, items))
}

/// The reactions on comment `id` of a readable repository that `keep` keeps, oldest first.
pub fn reactions_on<D: Dialect>(
    ctx: &Ctx,
    owner: &str,
    name: &str,
    id: i64,
    keep: impl Fn(&ReactionRecord) -> bool,
) -> ApiResult<Vec<Value>> {
    let repo = ctx.readable(owner, name)?;
    let comment = comment(ctx, &repo, id)?;
    Ok(comment
        .reactions
        .iter()
        .filter(|r| keep(r))
        .map(|r| D::reaction(&ctx.sim, r))
        .collect())
}

/// The labels of issue `number`, all in one answer.
pub fn issue_labels<D: Dialect>(ctx: &Ctx, owner: &str, name: &str, number: i64) -> ApiResult {
    let repo = ctx.readable(owner, name)?;
    let issue = issue(ctx, &repo, number)?;
    let list: Vec<_> = repo
        .labels_named(&issue.labels)
        .map(|l| D::label(&ctx.sim, &repo, l))
        .collect();
    Ok(Json(list).into_response())
}

/// `GET …/pulls/{number}/reviews`: oldest first, paged.
pub async fn list_reviews<D: Dialect>(
    ctx: Ctx,
    Path((owner, name, number)): Numbered,
) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    pull(&ctx, &repo, number)?;
    let items = repo
        .reviews
        .iter()
        .filter(|r| r.number == number)
        .map(|r| D::review(&ctx.sim, &repo, r))
        .collect();
    Ok(ctx.paged(D::PAGE, items))
}

/// How a list shows a pull request, with its git facts, as `viewer` sees it.
pub type ShowPull = fn(&Sim, &Repo, &Pull, &PullGit, Permission) -> Value;

/// The pull requests of a repository in the `state` the query asks for (`open` unless `closed`
/// or `all`) that `keep` keeps, newest first, paged, each as `show` shows it (whole, or in a
/// shorter form a forge lists).
pub async fn list_pulls<D: Dialect>(
    ctx: &Ctx,
    owner: &str,
    name: &str,
    keep: impl Fn(&Pull) -> bool,
    show: ShowPull,
) -> ApiResult {
    let repo = ctx.readable(owner, name)?;
    let wanted = ctx.param("state").unwrap_or_else(|| "open".into());
    let viewer = ctx.sim.access(&ctx.caller, &repo);
    let branches = ctx.sim.git.branches(owner, name).await.unwrap_or_default();
    let mut items = Vec::new();
    for pull in repo.pulls.values().rev() {
        let open = repo.issues.get(&pull.number).is_some_and(|i| i.open);
        let state_ok = match wanted.as_str() {
            "all" => true,
            "closed" => !open,
            _ => open,
        };
        if state_ok && keep(pull) {
            let git = ctx.sim.pull_git_with(&repo, pull, &branches).await;
            items.push(show(&ctx.sim, &repo, pull, &git, viewer));
        }
    }
    Ok(ctx.paged(D::PAGE, items))
}

/// The body of a request that opens a pull request.
#[derive(Deserialize)]
pub struct NewPull {
    title: Option<String>,
    body: Option<String>,
    head: String,
    base: String,
    #[serde(default)]
    draft: bool,
}

/// `POST …/pulls` → 201 and a `pull_request` `opened` webhook; the title defaults to the head
/// branch.
pub async fn create_pull<D: Dialect>(
    ctx: Ctx,
    Path((owner, name)): Path<(String, String)>,
    JsonBody(request): JsonBody<NewPull>,
) -> ApiResult {
    let repo = ctx.with(&owner, &name, Permission::Write)?;
    let login = ctx.login()?;
    let title = request.title.unwrap_or_else(|| request.head.clone());
    let spec = actions::PullSpec {
        title: &title,
        body: request.body.as_deref().unwrap_or(""),
        head: &request.head,
        base: &request.base,
        draft: D::opens_draft(&title, request.draft),
    };
    let number = actions::open_pull(&ctx.sim, &repo.full_name(), &login, spec)
        .await
        .map_err(|e| match e {
            actions::ActionError::Invalid(message) if message.starts_with("A pull request") => {
                ctx.error(D::DUPLICATE_PULL, message)
            }
            other => ctx.refused(other),
        })?;
    let body = render_pull::<D>(&ctx, &owner, &name, number).await?;
    Ok((StatusCode::CREATED, Json(body)).into_response())
}

/// Pull request `number` of a readable repository as the caller sees it.
pub async fn render_pull<D: Dialect>(
    ctx: &Ctx,
    owner: &str,
    name: &str,
    number: i64,
) -> ApiResult<Value> {
    let repo = ctx.readable(owner, name)?;
    let pull = pull(ctx, &repo, number)?;
    let git = ctx.sim.pull_git(&repo, pull).await;
    let viewer = ctx.sim.access(&ctx.caller, &repo);
    Ok(D::pull(&ctx.sim, &repo, pull, &git, viewer))
}

/// `GET …/pulls/{number}`.
pub async fn get_pull<D: Dialect>(ctx: Ctx, Path((owner, name, number)): Numbered) -> ApiResult {
    Ok(Json(render_pull::<D>(&ctx, &owner, &name, number).await?).into_response())
}

/// `PATCH …/pulls/{number}`: title, body, `state: open|closed`.
pub async fn update_pull<D: Dialect>(
    ctx: Ctx,
    Path((owner, name, number)): Numbered,
    JsonBody(request): JsonBody<PullUpdate>,
) -> ApiResult {
    change_pull(&ctx, &owner, &name, number, request).await?;
    let body = render_pull::<D>(&ctx, &owner, &name, number).await?;
    Ok((D::PULL_UPDATED, Json(body)).into_response())
}

/// Issue (or pull request) `number`.
pub fn issue<'r>(ctx: &Ctx, repo: &'r Repo, number: i64) -> ApiResult<&'r Issue> {
    repo.issues.get(&number).ok_or_else(|| ctx.not_found())
}

/// Pull request `number`.
pub fn pull<'r>(ctx: &Ctx, repo: &'r Repo, number: i64) -> ApiResult<&'r Pull> {
    repo.pulls.get(&number).ok_or_else(|| ctx.not_found())
}

/// User `login`.
pub fn user(ctx: &Ctx, login: &str) -> ApiResult<User> {
    ctx.sim
        .state()
        .user(login)
        .cloned()
        .ok_or_else(|| ctx.not_found())
}

/// Issue comment `id`.
pub fn comment<'r>(ctx: &Ctx, repo: &'r Repo, id: i64) -> ApiResult<&'r Comment> {
    repo.comments
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ctx.not_found())
}

/// Check run `id`.
pub fn check_run<'r>(ctx: &Ctx, repo: &'r Repo, id: i64) -> ApiResult<&'r CheckRun> {
    repo.check_runs
        .iter()
        .find(|c| c.id == id)
        .ok_or_else(|| ctx.not_found())
}

/// The comments on issue `number`, oldest first.
pub fn comments_on<'r>(
    ctx: &Ctx,
    repo: &'r Repo,
    number: i64,
) -> ApiResult<impl Iterator<Item = &'r Comment>> {
    issue(ctx, repo, number)?;
    Ok(repo.comments.iter().filter(move |c| c.number == number))
}

/// The comments of every issue and pull request, oldest first, edited at or after the query's
/// `since` (RFC 3339) when it names one: the repository-wide listing both forges serve.
pub fn comments_since<'r>(ctx: &Ctx, repo: &'r Repo) -> ApiResult<Vec<&'r Comment>> {
    let since = match ctx.param("since") {
        None => i64::MIN,
        Some(text) => crate::clock::parse_rfc3339_ms(&text).ok_or_else(|| {
            ctx.error(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("since `{text}` is not a time"),
            )
        })?,
    };
    // Forges compare whole seconds.
    let since = since - since.rem_euclid(1000);
    Ok(repo
        .comments
        .iter()
        .filter(|c| c.updated_at >= since)
        .collect())
}

/// The body of a request that posts or edits a comment.
#[derive(Deserialize)]
pub struct CommentBody {
    body: String,
}

/// Posts comment `text` on issue `number`; answers the repository as it is after.
async fn post_comment(
    ctx: &Ctx,
    owner: &str,
    name: &str,
    number: i64,
    text: &str,
) -> ApiResult<(Repo, Comment)> {
    let repo = ctx.with(owner, name, Permission::Read)?;
    let login = ctx.login()?;
    let comment = actions::comment(&ctx.sim, &repo.full_name(), number, &login, text)
        .await
        .map_err(|e| ctx.refused(e))?;
    Ok((ctx.readable(owner, name)?, comment))
}

/// Who besides its author may edit a comment, and how the forge refuses everyone else.
pub struct Editors {
    /// The access that lets someone else edit it.
    pub needed: Permission,
    /// The forge's 403 message.
    pub refusal: &'static str,
}

/// Gives comment `id` the text `text`; answers the repository as it is after.
async fn edit_comment(
    ctx: &Ctx,
    owner: &str,
    name: &str,
    id: i64,
    text: &str,
    editors: Editors,
) -> ApiResult<(Repo, Comment)> {
    let repo = ctx.readable(owner, name)?;
    let login = ctx.login()?;
    if comment(ctx, &repo, id)?.author != login
        && ctx.sim.access(&ctx.caller, &repo) < editors.needed
    {
        return Err(ctx.error(StatusCode::FORBIDDEN, editors.refusal));
    }
    let comment = actions::edit_comment(&ctx.sim, &repo.full_name(), id, &login, text)
        .await
        .map_err(|e| ctx.refused(e))?;
    Ok((ctx.readable(owner, name)?, comment))
}

/// A requested `state`: `open` or `closed`, anything else refused with 422.
pub fn open_state(ctx: &Ctx, state: Option<&str>) -> ApiResult<Option<bool>> {
    match state {
        None => Ok(None),
        Some("open") => Ok(Some(true)),
        Some("closed") => Ok(Some(false)),
        Some(other) => Err(ctx.error(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("state `{other}` is not open or closed"),
        )),
    }
}

/// The body of a request that changes a pull request.
#[derive(Deserialize)]
pub struct PullUpdate {
    title: Option<String>,
    body: Option<String>,
    state: Option<String>,
}

/// Changes pull request `number`'s title, body and state as `request` asks.
async fn change_pull(
    ctx: &Ctx,
    owner: &str,
    name: &str,
    number: i64,
    request: PullUpdate,
) -> ApiResult<()> {
    let repo = ctx.with(owner, name, Permission::Write)?;
    let login = ctx.login()?;
    let open = open_state(ctx, request.state.as_deref())?;
    actions::update_pull(
        &ctx.sim,
        &repo.full_name(),
        number,
        &login,
        request.title.as_deref(),
        request.body.as_deref(),
        open,
    )
    .await
    .map_err(|e| ctx.refused(e))
}

/// `…/pulls/{number}/merge` (`PUT` on GitHub, `POST` on Gitea): merges as the request asks, under
/// branch protection; refused when the head is not the one the request names, or when the pull
/// request is closed, a draft, in conflict or not allowed to merge.
pub async fn merge<D: Dialect>(
    ctx: Ctx,
    Path((owner, name, number)): Numbered,
    JsonBody(request): JsonBody<D::MergeRequest>,
) -> ApiResult {
    let repo = ctx.with(&owner, &name, Permission::Write)?;
    let login = ctx.login()?;
    let asked = D::merge_asked(request)
        .map_err(|message| ctx.error(StatusCode::UNPROCESSABLE_ENTITY, message))?;
    let sha = actions::merge(
        &ctx.sim,
        &repo.full_name(),
        number,
        &login,
        asked.style,
        asked.head.as_deref(),
        asked.message.as_deref(),
    )
    .await
    .map_err(|e| ctx.refused(e))?;
    Ok(D::merged(&sha))
}

/// `GET …/pulls/{number}/merge`, the same on both forges: 204 if merged, 404 if not.
pub async fn is_merged(ctx: Ctx, Path((owner, name, number)): Numbered) -> ApiResult {
    let repo = ctx.readable(&owner, &name)?;
    match repo.pulls.get(&number) {
        Some(pull) if pull.merged => Ok(StatusCode::NO_CONTENT.into_response()),
        _ => Err(ctx.not_found()),
    }
}

/// What `path` holds at `commit`: 404 when nothing.
pub async fn read_path(
    ctx: &Ctx,
    owner: &str,
    name: &str,
    commit: &str,
    path: &str,
) -> ApiResult<PathContent> {
    ctx.sim
        .git
        .read_path(owner, name, commit, path)
        .await
        .map_err(|e| ctx.error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .ok_or_else(|| ctx.not_found())
}

/// A file or a directory as both forges answer `contents`: `entry` renders one entry (kind,
/// path, sha, size) in the dialect's shape, and `encode` a file's bytes.
pub fn contents(
    path: &str,
    content: PathContent,
    entry: impl Fn(&str, &str, &str, u64) -> Value,
    encode: fn(&[u8]) -> String,
) -> Value {
    match content {
        PathContent::File { sha, bytes } => {
            let mut value = entry("file", path, &sha, bytes.len() as u64);
            value["encoding"] = json!("base64");
            value["content"] = json!(encode(&bytes));
            value
        }
        PathContent::Dir(entries) => Value::Array(
            entries
                .iter()
                .map(|e| {
                    let kind = match e.kind.as_str() {
                        "tree" => "dir",
                        "commit" => "submodule",
                        _ => "file",
                    };
                    let child = format!("{}/{}", path.trim_end_matches('/'), e.name);
                    entry(kind, child.trim_start_matches('/'), &e.sha, e.size)
                })
                .collect(),
        ),
    }
}
