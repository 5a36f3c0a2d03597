//! A pull request's draft state. GitHub changes it on its own (GraphQL's
//! `markPullRequestReadyForReview` and `convertPullRequestToDraft`) and tells webhooks
//! `ready_for_review` or `converted_to_draft`; Gitea reads it from the title's prefix.

use super::{ActionError, ActionResult, HookEvent, emit, no_repo, split};
use crate::sim::core::Sim;

/// Whether Gitea reads `title` as a draft's: it starts with one of its default
/// `WORK_IN_PROGRESS_PREFIXES`, `WIP:` or `[WIP]`, in any case (Gitea compares the title as it
/// is, leading spaces included).
pub fn gitea_draft_title(title: &str) -> bool {
    ["wip:", "[wip]"].iter().any(|prefix| {
        title
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix))
    })
}

/// Makes an open pull request a draft or ready for review as `actor`, with the webhook GitHub
/// sends; returns whether anything changed (asking for the state it is in changes nothing and
/// sends nothing).
pub async fn set_draft(
    sim: &Sim,
    repo: &str,
    number: i64,
    actor: &str,
    draft: bool,
) -> ActionResult<bool> {
    let (owner, name) = split(repo);
    {
        let mut state = sim.state();
        let now = sim.now();
        let r = state.repo_mut(owner, name).ok_or_else(|| no_repo(repo))?;
        let open = r.issues.get(&number).is_some_and(|i| i.open);
        let pull = r
            .pulls
            .get_mut(&number)
            .ok_or_else(|| ActionError::NotFound(format!("pull request #{number} not found")))?;
        if pull.merged || !open {
            return Err(ActionError::Invalid(format!(
                "Pull request #{number} is {}",
                if pull.merged { "merged" } else { "closed" }
            )));
        }
        if pull.draft == draft {
            return Ok(false);
        }
        pull.draft = draft;
        if let Some(issue) = r.issues.get_mut(&number) {
            issue.updated_at = now;
        }
    }
    emit(
        sim,
        HookEvent::pull(
            repo,
            number,
            actor,
            if draft {
                "converted_to_draft"
            } else {
                "ready_for_review"
            },
        ),
    )
    .await;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::gitea_draft_title;

    #[test]
    fn gitea_reads_its_default_prefixes_as_they_stand() {
        assert!(gitea_draft_title("WIP: notes"));
        assert!(gitea_draft_title("wip:notes"));
        assert!(gitea_draft_title("[WiP] notes"));
        assert!(!gitea_draft_title(" WIP: notes"));
        assert!(!gitea_draft_title("Wipe the cache"));
    }
}
