//! Pull requests and merges on Gitea. Gitea keeps a pull request's draft state in its title: a
//! `WIP:` or `[WIP]` prefix (its default `WORK_IN_PROGRESS_PREFIXES`) makes it a draft.

use super::{Call, GiteaForge, repo_path, wire};
use crate::forge::http::Reply;
use crate::forge::rest;
use crate::forge::{
    ForgeError, ForgePullRequest, ForgeResult, MergeMethod, MergeRefusal, NewPullRequest,
    PullRequestUpdate, RepoRef,
};
use serde_json::json;

/// The title prefix ade gives a draft ("work in progress").
const DRAFT_PREFIX: &str = "WIP: ";
/// The prefixes Gitea reads as a draft by default, compared without case.
const DRAFT_PREFIXES: &[&str] = &["wip:", "[wip]"];

impl From<wire::PullRequest> for ForgePullRequest {
    fn from(pull: wire::PullRequest) -> ForgePullRequest {
        ForgePullRequest {
            number: pull.number,
            url: pull.html_url,
            draft: pull.draft.unwrap_or_else(|| is_draft_title(&pull.title)),
            title: pull.title,
            head_sha: pull.head.sha,
            head_branch: pull.head.branch,
            base_branch: pull.base.map(|b| b.branch).unwrap_or_default(),
            open: pull.state == "open" && !pull.merged,
            merged: pull.merged,
            node_id: None,
        }
    }
}

pub(super) async fn create(
    gitea: &GiteaForge,
    repo: &RepoRef,
    pull: &NewPullRequest,
) -> ForgeResult<ForgePullRequest> {
    let title = if pull.draft && !pull.title.starts_with(DRAFT_PREFIX) {
        format!("{DRAFT_PREFIX}{}", pull.title)
    } else {
        pull.title.clone()
    };
    let body = json!({ "title": title, "body": pull.body, "head": pull.head, "base": pull.base });
    rest::open_pull::<wire::PullRequest>(gitea, repo, pull, body).await
}

pub(super) async fn find(
    gitea: &GiteaForge,
    repo: &RepoRef,
    branch: &str,
) -> ForgeResult<Option<ForgePullRequest>> {
    let what = format!(
        "find the open pull request of {branch} in {}",
        repo.full_name()
    );
    let path = repo_path(repo, "/pulls");
    let pulls: Vec<wire::PullRequest> = gitea.list(&path, &[("state", "open")], &what).await?;
    Ok(pulls
        .into_iter()
        .find(|p| p.head.branch == branch)
        .map(ForgePullRequest::from))
}

pub(super) async fn update(
    gitea: &GiteaForge,
    repo: &RepoRef,
    number: i64,
    update: &PullRequestUpdate,
) -> ForgeResult<ForgePullRequest> {
    let title = match &update.title {
        Some(title) => Some(keep_draft(gitea, repo, number, title).await?),
        None => None,
    };
    rest::update_pull::<wire::PullRequest>(gitea, repo, number, title, update).await
}

/// Gitea keeps a pull request's draft state in its title (`WIP:` or `[WIP]` by default), so a
/// new title alone would mark a draft ready for review; a draft keeps its prefix, since an
/// update changes only what it names.
async fn keep_draft(
    gitea: &GiteaForge,
    repo: &RepoRef,
    number: i64,
    title: &str,
) -> ForgeResult<String> {
    if is_draft_title(title) {
        return Ok(title.to_string());
    }
    let what = format!("read pull request {}#{number}", repo.full_name());
    let path = repo_path(repo, &format!("/pulls/{number}"));
    let current: wire::PullRequest = gitea
        .call(Call::get(path, &what))
        .await?
        .success_json(&what)?;
    Ok(
        if current.draft.unwrap_or(false) || is_draft_title(&current.title) {
            format!("{DRAFT_PREFIX}{title}")
        } else {
            title.to_string()
        },
    )
}

/// Whether a title carries one of Gitea's default work-in-progress prefixes.
fn is_draft_title(title: &str) -> bool {
    draft_prefix_len(title).is_some()
}

/// The length in bytes of the draft prefix `title` starts with, if any.
fn draft_prefix_len(title: &str) -> Option<usize> {
    DRAFT_PREFIXES.iter().find_map(|prefix| {
        let head = title.get(..prefix.len())?;
        head.eq_ignore_ascii_case(prefix).then_some(prefix.len())
    })
}

/// The title without its draft prefixes (and the spaces after them), as Gitea's own "ready for
/// review" leaves it.
fn ready_title(title: &str) -> String {
    let mut rest = title;
    while let Some(len) = draft_prefix_len(rest) {
        rest = rest[len..].trim_start();
    }
    rest.to_string()
}

/// Adds or strips the title prefix with one edit of the title. Gitea reads the prefix with its
/// configured `WORK_IN_PROGRESS_PREFIXES`; a server that answers with a draft flag that did not
/// follow (its prefixes are not the default ones) is reported, not trusted silently.
pub(super) async fn set_draft(
    gitea: &GiteaForge,
    repo: &RepoRef,
    pull: &ForgePullRequest,
    draft: bool,
) -> ForgeResult<()> {
    if pull.draft == draft {
        return Ok(());
    }
    let title = if draft {
        format!("{DRAFT_PREFIX}{}", ready_title(&pull.title))
    } else {
        ready_title(&pull.title)
    };
    let what = format!(
        "mark {}#{} {}",
        repo.full_name(),
        pull.number,
        if draft { "a draft" } else { "ready for review" }
    );
    let path = repo_path(repo, &format!("/pulls/{}", pull.number));
    let answer: wire::PullRequest = gitea
        .call(Call::patch(path, json!({ "title": title }), &what))
        .await?
        .success_json(&what)?;
    match answer.draft {
        Some(now) if now != draft => Err(ForgeError::Rejected(format!(
            "{what}: the title is now {:?} but the server reads the draft state as {now}; its \
             WORK_IN_PROGRESS_PREFIXES must include `WIP:`",
            answer.title
        ))),
        _ => Ok(()),
    }
}

/// `Do` is the name Forgejo and Gitea up to 1.25 declare; Gitea 1.26 declares `do`. Both servers
/// read JSON names case-insensitively (Go's decoder), so one spelling serves every version.
pub(super) async fn merge(
    gitea: &GiteaForge,
    repo: &RepoRef,
    number: i64,
    head_sha: &str,
    method: MergeMethod,
) -> ForgeResult<()> {
    let what = format!("merge {}#{number} at {head_sha}", repo.full_name());
    let body = json!({ "Do": method.as_str(), "head_commit_id": head_sha });
    let path = repo_path(repo, &format!("/pulls/{number}/merge"));
    let reply = gitea.call(Call::post(path, body, &what)).await?;
    rest::merge_outcome(&reply, &what, merge_refusal(&reply))
}

/// Why Gitea refused a merge: 409 "head out of date" when `head_commit_id` is not the head, 409
/// "merge push out of date" when another merge moved the base meanwhile, other 409s for
/// conflicts; 405 for branch protection ("not allowed to merge [reason: …]", "User not
/// allowed to merge PR", unsigned merges) and for the rest (a draft, already merged, mergeability
/// still being computed).
fn merge_refusal(reply: &Reply) -> Option<MergeRefusal> {
    let message = reply.message().to_lowercase();
    match reply.status.as_u16() {
        409 if message.contains("head out of date") => Some(MergeRefusal::HeadMoved),
        409 if message.contains("push out of date") => Some(MergeRefusal::BaseMoved),
        409 => Some(MergeRefusal::NotMergeable),
        405 if ["not allowed to merge", "requires signed commits"]
            .iter()
            .any(|m| message.contains(m)) =>
        {
            Some(MergeRefusal::Protected)
        }
        405 => Some(MergeRefusal::NotMergeable),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, StatusCode};

    #[test]
    fn ready_titles_lose_every_draft_prefix() {
        assert_eq!(ready_title("WIP: Notes"), "Notes");
        assert_eq!(ready_title("[wip]  WIP:Notes"), "Notes");
        assert_eq!(
            ready_title("Notes about WIP: later"),
            "Notes about WIP: later"
        );
        assert_eq!(ready_title("WIP:"), "");
    }

    fn refusal(status: u16, message: &str) -> Option<MergeRefusal> {
        merge_refusal(&Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: json!({ "message": message, "url": "" })
                .to_string()
                .into_bytes(),
        })
    }

    #[test]
    fn merge_refusals_are_told_apart() {
        assert_eq!(
            refusal(409, "head out of date"),
            Some(MergeRefusal::HeadMoved)
        );
        assert_eq!(
            refusal(409, "merge push out of date"),
            Some(MergeRefusal::BaseMoved)
        );
        assert_eq!(
            refusal(409, "merge conflict"),
            Some(MergeRefusal::NotMergeable)
        );
        assert_eq!(
            refusal(
                405,
                "not allowed to merge [reason: Does not have enough approvals]"
            ),
            Some(MergeRefusal::Protected)
        );
        assert_eq!(
            refusal(405, "User not allowed to merge PR"),
            Some(MergeRefusal::Protected)
        );
        assert_eq!(
            refusal(405, "Work in progress PRs cannot be merged"),
            Some(MergeRefusal::NotMergeable)
        );
        assert_eq!(refusal(404, "The target couldn't be found."), None);
        assert_eq!(refusal(200, ""), None);
    }

    #[test]
    fn draft_titles_are_giteas_default_prefixes() {
        assert!(is_draft_title("WIP: Notes"));
        assert!(is_draft_title("wip:notes"));
        assert!(is_draft_title("[WIP] Notes"));
        assert!(is_draft_title("[wip]Notes"));
        assert!(!is_draft_title("Notes about WIP: later"));
        assert!(!is_draft_title("Wipe the cache"));
    }
}
