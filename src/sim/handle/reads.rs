//! The test handle's reads: what the forge holds now, in the shapes tests compare with what ade
//! sent.

use super::Simulator;
use crate::forge::{CheckState, ForgeKind};
use crate::sim::git;
use crate::sim::options::{SimCheck, SimPull, SimToken};
use crate::sim::state::{Repo, ReviewComment};
use crate::sim::{Comment, Issue, ReactionRecord, Review};

impl Simulator {
    pub(super) fn read_repo(&self, repo: &str) -> Option<Repo> {
        let (owner, name) = repo.split_once('/')?;
        self.sim.repo(owner, name)
    }

    /// Every installation token issued so far, in the order issued.
    pub fn installation_tokens(&self) -> Vec<SimToken> {
        let state = self.sim.state();
        let mut tokens: Vec<SimToken> = state
            .installation_tokens
            .iter()
            .map(|(token, issued)| SimToken {
                serial: issued.serial,
                token: token.clone(),
                installation_id: issued.installation_id,
                scope: issued.scope.clone(),
                revoked: issued.revoked,
                expires_at: issued.expires_at,
            })
            .collect();
        tokens.sort_by_key(|t| t.serial);
        tokens
    }

    /// The comments on an issue or pull request, oldest first.
    pub fn comments(&self, repo: &str, number: i64) -> Vec<Comment> {
        self.read_repo(repo)
            .map(|r| {
                r.comments
                    .into_iter()
                    .filter(|c| c.number == number)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The reactions on a comment, oldest first.
    pub fn reactions(&self, repo: &str, comment_id: i64) -> Vec<ReactionRecord> {
        self.read_repo(repo)
            .and_then(|r| r.comments.into_iter().find(|c| c.id == comment_id))
            .map(|c| c.reactions)
            .unwrap_or_default()
    }

    /// An issue (or a pull request's issue).
    pub fn issue(&self, repo: &str, number: i64) -> Option<Issue> {
        self.read_repo(repo)?.issues.remove(&number)
    }

    /// The labels on an issue or pull request.
    pub fn labels(&self, repo: &str, number: i64) -> Vec<String> {
        self.issue(repo, number)
            .map(|i| i.labels)
            .unwrap_or_default()
    }

    /// The reviews on a pull request, oldest first.
    pub fn reviews(&self, repo: &str, number: i64) -> Vec<Review> {
        self.read_repo(repo)
            .map(|r| {
                r.reviews
                    .into_iter()
                    .filter(|x| x.number == number)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every pull request, by number.
    pub fn pulls(&self, repo: &str) -> Vec<SimPull> {
        let Some(r) = self.read_repo(repo) else {
            return Vec::new();
        };
        r.pulls
            .values()
            .filter_map(|p| {
                let issue = r.issues.get(&p.number)?;
                Some(SimPull {
                    number: p.number,
                    title: issue.title.clone(),
                    body: issue.body.clone(),
                    author: issue.author.clone(),
                    head: p.head.clone(),
                    base: p.base.clone(),
                    head_sha: p.head_sha.clone(),
                    open: issue.open,
                    merged: p.merged,
                    draft: p.draft,
                    merge_commit_sha: p.merge_commit_sha.clone(),
                    labels: issue.labels.clone(),
                })
            })
            .collect()
    }

    /// One pull request.
    pub fn pull(&self, repo: &str, number: i64) -> Option<SimPull> {
        self.pulls(repo).into_iter().find(|p| p.number == number)
    }

    /// The checks on a commit, oldest first: GitHub check runs (with their output and
    /// annotations) or Gitea statuses.
    pub fn checks(&self, repo: &str, sha: &str) -> Vec<SimCheck> {
        let Some(r) = self.read_repo(repo) else {
            return Vec::new();
        };
        match self.sim.kind {
            ForgeKind::Github => r
                .check_runs
                .iter()
                .filter(|c| c.head_sha == sha)
                .map(|c| {
                    let raw = c.conclusion.clone().unwrap_or_else(|| c.status.clone());
                    SimCheck {
                        id: c.id,
                        name: c.name.clone(),
                        state: check_state(&raw),
                        raw_state: raw,
                        conclusion: c.conclusion.clone(),
                        title: c.title.clone().unwrap_or_default(),
                        summary: c.summary.clone().unwrap_or_default(),
                        text: c.text.clone(),
                        annotations: c.annotations.clone(),
                        details_url: c.details_url.clone(),
                        external_id: c.external_id.clone(),
                    }
                })
                .collect(),
            ForgeKind::Gitea => r
                .statuses
                .iter()
                .filter(|s| s.sha == sha)
                .map(|s| SimCheck {
                    id: s.id,
                    name: s.context.clone(),
                    state: check_state(&s.state),
                    raw_state: s.state.clone(),
                    conclusion: None,
                    title: s.description.clone(),
                    summary: String::new(),
                    text: None,
                    annotations: Vec::new(),
                    details_url: (!s.target_url.is_empty()).then(|| s.target_url.clone()),
                    external_id: None,
                })
                .collect(),
        }
    }

    /// The commit a branch points at now, read from git.
    pub async fn branch_sha(&self, repo: &str, branch: &str) -> Option<String> {
        let (owner, name) = repo.split_once('/')?;
        self.sim.git.branch_sha(owner, name, branch).await.ok()?
    }

    /// A file's bytes at a ref, read from git.
    pub async fn file(&self, repo: &str, git_ref: &str, path: &str) -> Option<Vec<u8>> {
        let (owner, name) = repo.split_once('/')?;
        let commit = self.sim.git.resolve(owner, name, git_ref).await.ok()??;
        match self
            .sim
            .git
            .read_path(owner, name, &commit, path)
            .await
            .ok()??
        {
            git::PathContent::File { bytes, .. } => Some(bytes),
            git::PathContent::Dir(_) => None,
        }
    }

    /// The whole state as JSON (what `/_sim/state` shows).
    pub fn state_json(&self) -> serde_json::Value {
        serde_json::to_value(&*self.sim.state()).unwrap_or_default()
    }

    /// The line comments of a pull request's reviews, oldest first.
    pub fn review_comments(&self, repo: &str, number: i64) -> Vec<ReviewComment> {
        self.read_repo(repo)
            .map(|r| {
                r.review_comments
                    .into_iter()
                    .filter(|c| c.number == number)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A check's state in ade's words, from the forge's: a GitHub status or conclusion, or a Gitea
/// status state (`warning` passes there, so it reads as neutral).
fn check_state(raw: &str) -> CheckState {
    match raw {
        "queued" | "requested" | "waiting" => CheckState::Queued,
        "in_progress" | "pending" => CheckState::InProgress,
        "success" => CheckState::Success,
        "failure" | "timed_out" | "action_required" => CheckState::Failure,
        "cancelled" => CheckState::Cancelled,
        "error" => CheckState::Error,
        _ => CheckState::Neutral,
    }
}
