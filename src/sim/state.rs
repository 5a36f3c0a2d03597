//! What the simulated forge knows besides git: users, repositories and everything on them. One
//! value behind one lock; handlers take it for a moment, never across an `await`. Git data
//! (branches, files, commits) is not here: it is read from the bare repositories every time.

use crate::forge::ReviewState;
use crate::forge::{BranchProtection, Permission};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

/// A forge account: a person, a bot user (Gitea) or a GitHub App's `<slug>[bot]`.
#[derive(Clone, Debug, Serialize)]
pub struct User {
    /// Numeric id.
    pub id: i64,
    /// Login name.
    pub login: String,
    /// Shown as `type: "Bot"` on GitHub.
    pub bot: bool,
    /// Forge administrator (GitHub `site_admin`, Gitea `is_admin`).
    pub site_admin: bool,
    /// The API token (GitHub personal access token, Gitea access token); also the git password.
    #[serde(skip)]
    pub token: String,
    /// When the account was made (Unix ms).
    pub created_at: i64,
}

/// A label defined on a repository.
#[derive(Clone, Debug, Serialize)]
pub struct Label {
    /// Numeric id.
    pub id: i64,
    /// Name.
    pub name: String,
    /// Six hex digits, no `#`.
    pub color: String,
    /// Description.
    pub description: String,
}

/// An issue, or the issue half of a pull request (both forges number them together).
#[derive(Clone, Debug, Serialize)]
pub struct Issue {
    /// Numeric id (not the number).
    pub id: i64,
    /// The number in the repository.
    pub number: i64,
    /// Title.
    pub title: String,
    /// Body.
    pub body: String,
    /// Author login.
    pub author: String,
    /// Label names.
    pub labels: Vec<String>,
    /// Open or closed.
    pub open: bool,
    /// Whether this is the issue of a pull request.
    pub is_pull: bool,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last changed (Unix ms).
    pub updated_at: i64,
    /// Closed (Unix ms).
    pub closed_at: Option<i64>,
}

/// One reaction on a comment.
#[derive(Clone, Debug, Serialize)]
pub struct ReactionRecord {
    /// Numeric id.
    pub id: i64,
    /// Who reacted.
    pub user: String,
    /// The forge's name for it (`eyes`, `rocket`, `confused`, `+1`, ...).
    pub content: String,
    /// When (Unix ms).
    pub created_at: i64,
    /// When the simulator stored it, on the process's monotonic clock (nanoseconds, not in
    /// JSON), for measuring intervals finer than `created_at`'s milliseconds: ade's reaction
    /// latency (examples/reaction_latency).
    #[serde(skip)]
    pub recorded: Instant,
}

/// A comment on an issue or a pull request.
#[derive(Clone, Debug, Serialize)]
pub struct Comment {
    /// Numeric id.
    pub id: i64,
    /// The issue or pull request number.
    pub number: i64,
    /// Author login.
    pub author: String,
    /// Text.
    pub body: String,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last edited (Unix ms).
    pub updated_at: i64,
    /// When the simulator stored it, on the process's monotonic clock (nanoseconds, not in
    /// JSON); see [`ReactionRecord::recorded`].
    #[serde(skip)]
    pub recorded: Instant,
    /// Reactions, oldest first.
    pub reactions: Vec<ReactionRecord>,
}

/// The pull-request half of a pull request; its title, body and author live in its [`Issue`].
#[derive(Clone, Debug, Serialize)]
pub struct Pull {
    /// Numeric id (differs from the issue id on both forges).
    pub id: i64,
    /// The number, shared with its issue.
    pub number: i64,
    /// The head branch.
    pub head: String,
    /// The base branch.
    pub base: String,
    /// The head commit when last seen; the branch itself is read from git while it exists.
    pub head_sha: String,
    /// The base branch's commit when the pull request was opened or last synchronized.
    pub base_sha: String,
    /// A draft.
    pub draft: bool,
    /// Merged.
    pub merged: bool,
    /// When merged (Unix ms).
    pub merged_at: Option<i64>,
    /// The commit the merge made.
    pub merge_commit_sha: Option<String>,
    /// Who merged.
    pub merged_by: Option<String>,
}

/// A submitted pull request review.
#[derive(Clone, Debug, Serialize)]
pub struct Review {
    /// Numeric id.
    pub id: i64,
    /// The pull request number.
    pub number: i64,
    /// Reviewer login.
    pub author: String,
    /// Verdict.
    pub state: ReviewState,
    /// Text.
    pub body: String,
    /// The head commit reviewed.
    pub commit_id: String,
    /// When (Unix ms).
    pub submitted_at: i64,
}

/// A GitHub check run.
#[derive(Clone, Debug, Serialize)]
pub struct CheckRun {
    /// Numeric id.
    pub id: i64,
    /// Name (`ade/verify`).
    pub name: String,
    /// The commit it checks.
    pub head_sha: String,
    /// `queued`, `in_progress` or `completed`.
    pub status: String,
    /// Set once completed: `success`, `failure`, `neutral`, `cancelled`, `skipped`, ...
    pub conclusion: Option<String>,
    /// `output.title`.
    pub title: Option<String>,
    /// `output.summary`.
    pub summary: Option<String>,
    /// `output.text`.
    pub text: Option<String>,
    /// `output.annotations`, every batch appended in the order received.
    pub annotations: Vec<CheckRunAnnotation>,
    /// Link to details.
    pub details_url: Option<String>,
    /// The creator's own id for it.
    pub external_id: Option<String>,
    /// When started (Unix ms).
    pub started_at: i64,
    /// When completed (Unix ms).
    pub completed_at: Option<i64>,
    /// The slug of the app that made it when it is not ade's (a CI a test plays).
    pub app: Option<String>,
}

/// An annotation on a GitHub check run, as the API took it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CheckRunAnnotation {
    /// The file.
    pub path: String,
    /// The first line, from 1.
    pub start_line: u32,
    /// The last line.
    pub end_line: u32,
    /// The first column, on a one-line annotation.
    pub start_column: Option<u32>,
    /// The last column, on a one-line annotation.
    pub end_column: Option<u32>,
    /// `notice`, `warning` or `failure`.
    pub level: String,
    /// The message.
    pub message: String,
    /// The title.
    pub title: Option<String>,
    /// Details.
    pub raw_details: Option<String>,
}

/// A comment on a line (or a whole file) of a pull request's diff, made in a review.
#[derive(Clone, Debug, Serialize)]
pub struct ReviewComment {
    /// Numeric id.
    pub id: i64,
    /// The review it belongs to.
    pub review_id: i64,
    /// The pull request number.
    pub number: i64,
    /// Author login.
    pub author: String,
    /// Text.
    pub body: String,
    /// The file.
    pub path: String,
    /// The line in the head's version of the file.
    pub line: u32,
    /// The diff hunk up to the line, as GitHub shows it.
    pub diff_hunk: String,
    /// The head commit the comment was made on.
    pub commit_id: String,
    /// When (Unix ms).
    pub created_at: i64,
}

/// A Gitea commit status.
#[derive(Clone, Debug, Serialize)]
pub struct CommitStatus {
    /// Numeric id.
    pub id: i64,
    /// The commit.
    pub sha: String,
    /// Context (the check's name).
    pub context: String,
    /// `pending`, `success`, `error`, `failure`, `warning` or `skipped`.
    pub state: String,
    /// One line.
    pub description: String,
    /// Link.
    pub target_url: String,
    /// Who set it.
    pub creator: String,
    /// Created (Unix ms).
    pub created_at: i64,
}

/// One repository's forge-side state.
#[derive(Clone, Debug, Serialize)]
pub struct Repo {
    /// Numeric id.
    pub id: i64,
    /// Owner login.
    pub owner: String,
    /// Name.
    pub name: String,
    /// Private.
    pub private: bool,
    /// Default branch.
    pub default_branch: String,
    /// Description.
    pub description: String,
    /// Created (Unix ms).
    pub created_at: i64,
    /// Last pushed (Unix ms).
    pub pushed_at: i64,
    /// Collaborators and their access; the owner is an admin without being listed.
    pub collaborators: BTreeMap<String, Permission>,
    /// Labels defined.
    pub labels: Vec<Label>,
    /// Issues and pull requests by number.
    pub issues: BTreeMap<i64, Issue>,
    /// Pull requests by number.
    pub pulls: BTreeMap<i64, Pull>,
    /// Comments in id order.
    pub comments: Vec<Comment>,
    /// Reviews in id order.
    pub reviews: Vec<Review>,
    /// Review comments in id order.
    pub review_comments: Vec<ReviewComment>,
    /// GitHub check runs in id order.
    pub check_runs: Vec<CheckRun>,
    /// Commit statuses in id order (Gitea's, and GitHub's that a CI a test plays sets).
    pub statuses: Vec<CommitStatus>,
    /// Branch protection by branch name.
    pub protections: BTreeMap<String, BranchProtection>,
    /// Protected branches whose rule dismisses approvals when new commits arrive (read by
    /// `ade doctor`; merges do not apply it).
    pub dismiss_stale: BTreeSet<String>,
    /// The repository's webhooks as Gitea lists them. Deliveries go to the simulator's one
    /// webhook URL whatever these say.
    pub hooks: Vec<RepoHook>,
}

/// A repository webhook (Gitea, Forgejo), as `GET …/hooks` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RepoHook {
    /// Numeric id.
    pub id: i64,
    /// `gitea`, `forgejo`, `slack`, …
    pub kind: String,
    /// Where it delivers.
    pub url: String,
    /// `json` or `form`.
    pub content_type: String,
    /// The event types it sends.
    pub events: Vec<String>,
    /// Whether it is active.
    pub active: bool,
}

impl Repo {
    /// A repository as it is created: the owner alone has access, and it holds no labels,
    /// issues, pull requests or hooks yet.
    pub fn new(
        id: i64,
        owner: String,
        name: String,
        default_branch: String,
        created_at: i64,
    ) -> Repo {
        Repo {
            id,
            owner,
            name,
            private: false,
            default_branch,
            description: String::new(),
            created_at,
            pushed_at: created_at,
            collaborators: BTreeMap::new(),
            labels: Vec::new(),
            issues: BTreeMap::new(),
            pulls: BTreeMap::new(),
            comments: Vec::new(),
            reviews: Vec::new(),
            review_comments: Vec::new(),
            check_runs: Vec::new(),
            statuses: Vec::new(),
            protections: BTreeMap::new(),
            dismiss_stale: BTreeSet::new(),
            hooks: Vec::new(),
        }
    }

    /// Comment `id` with the issue it is on and that issue's pull request, as a comment's
    /// webhook carries them.
    pub fn comment_thread(&self, id: i64) -> Option<(&Comment, &Issue, Option<&Pull>)> {
        let comment = self.comments.iter().find(|c| c.id == id)?;
        let issue = self.issues.get(&comment.number)?;
        Some((comment, issue, self.pulls.get(&comment.number)))
    }

    /// The labels of these names that are defined, in the order named.
    pub fn labels_named<'a>(&'a self, names: &'a [String]) -> impl Iterator<Item = &'a Label> {
        names.iter().filter_map(|n| self.label(n))
    }

    /// `owner/name`.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.owner, self.name)
    }

    /// A user's access: the owner is admin, collaborators have theirs, others can read public
    /// repositories only.
    pub fn permission_of(&self, login: &str) -> Permission {
        if login.eq_ignore_ascii_case(&self.owner) {
            return Permission::Admin;
        }
        let listed = self
            .collaborators
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(login))
            .map(|(_, permission)| *permission);
        match listed {
            Some(permission) => permission,
            None if self.private => Permission::None,
            None => Permission::Read,
        }
    }

    /// The comment with this id.
    pub fn comment_mut(&mut self, id: i64) -> Option<&mut Comment> {
        self.comments.iter_mut().find(|c| c.id == id)
    }

    /// The label of this name, if defined.
    pub fn label(&self, name: &str) -> Option<&Label> {
        self.labels
            .iter()
            .find(|l| l.name.eq_ignore_ascii_case(name))
    }
}

/// A GitHub App installation.
#[derive(Clone, Debug, Serialize)]
pub struct Installation {
    /// Numeric id.
    pub id: i64,
    /// The account it is installed on.
    pub account: String,
    /// `owner/name` of the repositories it covers.
    pub repositories: Vec<String>,
    /// Permission name to level (`read`, `write`) as granted by its account.
    pub permissions: BTreeMap<String, String>,
    /// The webhook events it receives.
    pub events: Vec<String>,
    /// Created (Unix ms).
    pub created_at: i64,
}

/// A team of an organization (any account serves as one): what policy team grants ask about.
#[derive(Clone, Debug, Serialize)]
pub struct Team {
    /// Numeric id (Gitea addresses teams by it).
    pub id: i64,
    /// The organization's login.
    pub org: String,
    /// The name, which is also its slug.
    pub name: String,
    /// Member logins.
    pub members: Vec<String>,
}

impl Team {
    /// Whether `login` is a member, case-insensitively as both forges compare logins.
    pub fn has_member(&self, login: &str) -> bool {
        self.members.iter().any(|m| m.eq_ignore_ascii_case(login))
    }
}

/// An installation access token the simulator issued.
#[derive(Clone, Debug)]
pub struct IssuedToken {
    /// Its number, from 1 in the order issued: how the call record names the token a call
    /// carried ([`super::ApiCall::installation_token`]).
    pub serial: u64,
    /// The installation it acts for.
    pub installation_id: i64,
    /// When it stops working (Unix ms).
    pub expires_at: i64,
    /// What it may reach and do.
    pub scope: TokenScope,
    /// Whether `DELETE /installation/token` ended it.
    pub revoked: bool,
}

/// What an installation token may reach and do, as it was asked for
/// (`POST /app/installations/{id}/access_tokens` with `repositories` and `permissions`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct TokenScope {
    /// `owner/name` of the repositories it reaches; `None`: every repository of its
    /// installation.
    pub repositories: Option<Vec<String>>,
    /// Permission name to level (`read`, `write`) it was granted, `metadata: read` among them
    /// as GitHub adds it; `None`: not narrowed, and then the simulator holds it to nothing but
    /// its installation's repositories.
    pub permissions: Option<BTreeMap<String, String>>,
}

impl TokenScope {
    /// Whether it reaches the repository `full_name`, as far as its own list goes.
    pub fn reaches(&self, full_name: &str) -> bool {
        self.repositories
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n.eq_ignore_ascii_case(full_name)))
    }

    /// Whether it may read (or, with `write`, write) what `permission` covers.
    pub fn allows(&self, permission: &str, write: bool) -> bool {
        let Some(granted) = &self.permissions else {
            return true;
        };
        match granted.get(permission).map(String::as_str) {
            Some("write") => true,
            Some("read") => !write,
            _ => false,
        }
    }
}

/// The whole forge-side state.
#[derive(Debug, Default, Serialize)]
pub struct State {
    next_id: i64,
    /// Accounts by login.
    pub users: BTreeMap<String, User>,
    /// Repositories by `owner/name`.
    pub repos: BTreeMap<String, Repo>,
    /// GitHub App installations.
    pub installations: Vec<Installation>,
    /// Organization teams.
    pub teams: Vec<Team>,
    /// Installation access tokens by token.
    #[serde(skip)]
    pub installation_tokens: HashMap<String, IssuedToken>,
    /// OAuth applications users sign in to.
    pub oauth_apps: Vec<super::oauth::OAuthApp>,
    /// OAuth codes handed out and not yet traded, by code.
    #[serde(skip)]
    pub oauth_codes: HashMap<String, super::oauth::OAuthCode>,
}

impl State {
    /// Records `token` as issued to `installation_id` until `expires_at` with `scope`; returns
    /// its serial.
    pub fn issue_token(
        &mut self,
        token: &str,
        installation_id: i64,
        expires_at: i64,
        scope: TokenScope,
    ) -> u64 {
        let serial = self.installation_tokens.len() as u64 + 1;
        self.installation_tokens.insert(
            token.to_owned(),
            IssuedToken {
                serial,
                installation_id,
                expires_at,
                scope,
                revoked: false,
            },
        );
        serial
    }

    /// A fresh id; ids are unique across every kind of object, as a real forge's need not be but
    /// which keeps mistakes (a comment id used as a review id) visible.
    pub fn next_id(&mut self) -> i64 {
        self.next_id += 1;
        1000 + self.next_id
    }

    /// A team of `org` by name (slug), case-insensitively.
    pub fn team(&self, org: &str, name: &str) -> Option<&Team> {
        self.teams
            .iter()
            .find(|t| t.org.eq_ignore_ascii_case(org) && t.name.eq_ignore_ascii_case(name))
    }

    /// A user by login, case-insensitively.
    pub fn user(&self, login: &str) -> Option<&User> {
        self.users.get(login).or_else(|| {
            self.users
                .values()
                .find(|u| u.login.eq_ignore_ascii_case(login))
        })
    }

    /// The user a personal token belongs to.
    pub fn user_by_token(&self, token: &str) -> Option<&User> {
        self.users
            .values()
            .find(|u| !u.token.is_empty() && u.token == token)
    }

    /// A repository by owner and name, case-insensitively.
    pub fn repo(&self, owner: &str, name: &str) -> Option<&Repo> {
        self.repos
            .values()
            .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
    }

    /// A repository to change.
    pub fn repo_mut(&mut self, owner: &str, name: &str) -> Option<&mut Repo> {
        self.repos
            .values_mut()
            .find(|r| r.owner.eq_ignore_ascii_case(owner) && r.name.eq_ignore_ascii_case(name))
    }

    /// The installation covering a repository.
    pub fn installation_for(&self, full_name: &str) -> Option<&Installation> {
        self.installations.iter().find(|i| {
            i.repositories
                .iter()
                .any(|r| r.eq_ignore_ascii_case(full_name))
        })
    }
}

/// Pages a list the way both forges do: 1-based `page`, `per_page` items each.
pub fn page<T: Clone>(items: &[T], page: usize, per_page: usize) -> Vec<T> {
    let start = page.saturating_sub(1).saturating_mul(per_page);
    items.iter().skip(start).take(per_page).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo() -> Repo {
        Repo {
            private: true,
            collaborators: BTreeMap::from([
                ("maintainer".to_owned(), Permission::Maintain),
                ("reader".to_owned(), Permission::Read),
            ]),
            ..Repo::new(1, "octo".into(), "demo".into(), "main".into(), 0)
        }
    }

    fn review(id: i64, author: &str, state: ReviewState) -> Review {
        Review {
            id,
            number: 2,
            author: author.into(),
            state,
            body: String::new(),
            commit_id: "abc".into(),
            submitted_at: 0,
        }
    }

    #[test]
    fn permissions_follow_owner_collaborators_and_visibility() {
        let mut r = repo();
        assert_eq!(r.permission_of("OCTO"), Permission::Admin);
        assert_eq!(r.permission_of("maintainer"), Permission::Maintain);
        assert_eq!(r.permission_of("stranger"), Permission::None);
        r.private = false;
        assert_eq!(r.permission_of("stranger"), Permission::Read);
    }

    #[test]
    fn approvals_count_the_latest_verdict_of_writers() {
        let mut r = repo();
        r.reviews = vec![
            review(1, "maintainer", ReviewState::Approved),
            review(2, "reader", ReviewState::Approved),
            review(3, "maintainer", ReviewState::Commented),
        ];
        assert_eq!(r.approvals(2), 1, "a reader's approval does not count");
        r.reviews
            .push(review(4, "maintainer", ReviewState::ChangesRequested));
        assert_eq!(r.approvals(2), 0);
    }

    #[test]
    fn pages_are_one_based() {
        let items: Vec<i32> = (1..=7).collect();
        assert_eq!(page(&items, 1, 3), vec![1, 2, 3]);
        assert_eq!(page(&items, 3, 3), vec![7]);
        assert!(page(&items, 4, 3).is_empty());
        assert_eq!(page(&items, 0, 3), vec![1, 2, 3]);
    }
}
