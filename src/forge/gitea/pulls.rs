//! Pull requests and merges on Gitea. Gitea keeps a pull request's draft state in its title: a
//! `WIP:` or `[WIP]` prefix (its default `WORK_IN_PROGRESS_PREFIXES`) makes it a draft.

use super::{Call, GiteaForge, repo_path, wire};
use crate::forge::http::Reply;
use crate::forge::rest::Pulls;
use crate::forge::{
    ForgeError, ForgePullRequest, ForgeResult, MergeMethod, MergeRefusal, NewPullRequest, RepoRef,
};
use http::Method;
use serde_json::{Value, json};

/// The title prefix ade gives a draft ("work in progress").
const DRAFT_PREFIX: &str = "WIP: ";
/// The prefixes Gitea reads as a draft by default, compared without case.
const DRAFT_PREFIXES: &[&str] = &["wip:", "[wip]"];

#[async_trait::async_trait]
impl Pulls for GiteaForge {
    type Pull = wire::PullRequest;

    /// A server before 1.21 sends no `draft`: the title says.
    fn read_pull(pull: wire::PullRequest) -> ForgePullRequest {
        let title = pull.title.unwrap_or_default();
        let merged = pull.merged.unwrap_or(false);
        ForgePullRequest {
            number: pull.number,
            url: pull.html_url,
            draft: pull.draft.unwrap_or_else(|| is_draft_title(&title)),
            title,
            head_sha: pull.head.sha,
            head_branch: pull.head.branch,
            base_branch: pull.base.map(|b| b.branch).unwrap_or_default(),
            open: pull.state == "open" && !merged,
            merged,
            node_id: None,
        }
    }

    /// A draft is opened with the title prefix, which is what makes it one.
    fn new_pull(pull: &NewPullRequest) -> Value {
        let title = if pull.draft && !pull.title.starts_with(DRAFT_PREFIX) {
            format!("{DRAFT_PREFIX}{}", pull.title)
        } else {
            pull.title.clone()
        };
        json!({ "title": title, "body": pull.body, "head": pull.head, "base": pull.base })
    }

    /// Gitea keeps a pull request's draft state in its title, so a new title alone would mark a
    /// draft ready for review; a draft keeps its prefix, since an update changes only what it
    /// names.
    async fn title_to_store(
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
            if current.draft.unwrap_or(false)
                || is_draft_title(current.title.as_deref().unwrap_or_default())
            {
                format!("{DRAFT_PREFIX}{title}")
            } else {
                title.to_string()
            },
        )
    }

    /// Every open pull request, page by page.
    async fn open_pulls(
        gitea: &GiteaForge,
        repo: &RepoRef,
        _branch: &str,
        what: &str,
    ) -> ForgeResult<Vec<wire::PullRequest>> {
        let path = repo_path(repo, "/pulls");
        gitea.list(&path, &[("state", "open")], what).await
    }

    /// Adds or strips the title prefix with one edit of the title. Gitea reads the prefix with
    /// its configured `WORK_IN_PROGRESS_PREFIXES`; a server that answers with a draft flag that
    /// did not follow (its prefixes are not the default ones) is reported, not trusted silently.
    async fn set_draft(
        gitea: &GiteaForge,
        repo: &RepoRef,
        pull: &ForgePullRequest,
        draft: bool,
    ) -> ForgeResult<()> {
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
                answer.title.unwrap_or_default()
            ))),
            _ => Ok(()),
        }
    }

    /// `Do` is the name Forgejo and Gitea up to 1.25 declare; Gitea 1.26 declares `do`. Both
    /// servers read JSON names case-insensitively (Go's decoder), so one spelling serves every
    /// version.
    fn merge_request(head_sha: &str, method: MergeMethod) -> (Method, Value) {
        let body = json!({ "Do": method.as_str(), "head_commit_id": head_sha });
        (Method::POST, body)
    }

    /// 409 "head out of date" when `head_commit_id` is not the head, 409 "merge push out of
    /// date" when another merge moved the base meanwhile, other 409s for conflicts; 405 for
    /// branch protection ("not allowed to merge [reason: …]", "User not allowed to merge PR",
    /// unsigned merges) and for the rest (a draft, already merged, mergeability still being
    /// computed).
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
        GiteaForge::merge_refusal(&Reply {
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
