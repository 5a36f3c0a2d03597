//! The round trips: each `Forge` operation, its result checked against what the simulator holds
//! (and the simulator's state against what the client asked for), then every call checked
//! against the API description.

use super::checks::assert_every_call_conforms;
use super::gate;
use super::git::Git;
use super::world::{Dialect, LEVELS, LIB, OTHER, README, REPO, SPACED, SPACED_TEXT, World};
use ade::forge::ReviewState;
use ade::forge::{
    BranchProtection, Check, CheckState, CheckTarget, CloneCredential, ForgeError,
    ForgePullRequest, GitAccess, MergeMethod, MergeRefusal, NewPullRequest, PullRequestUpdate,
    Reaction, Team,
};
use std::collections::BTreeMap;
use std::path::Path;

/// Comments seeded by people before ade lists them: past GitHub's page of 100.
const SEEDED_COMMENTS: usize = 104;

pub async fn run(dialect: Dialect) {
    let world = World::start(dialect).await;
    bot_login(&world).await;
    let issue = comments(&world).await;
    reactions(&world, issue).await;
    labels(&world, issue).await;
    files(&world).await;
    default_branch(&world).await;
    permissions(&world).await;
    teams(&world).await;
    let pull = pull_requests(&world).await;
    protection(&world).await;
    let head = checks(&world, pull).await;
    gate::annotated_checks(&world, &head).await;
    gate::drafts(&world, pull).await;
    reviews(&world, pull, &head).await;
    gate::review_comments(&world, pull).await;
    merge(&world, pull, &head).await;
    gate::close_issue(&world, issue).await;
    clone_and_push(&world).await;
    assert_every_call_conforms(&world);
}

async fn bot_login(w: &World) {
    assert_eq!(w.forge.bot_login().await.unwrap(), w.bot);
    // Asked once, then remembered.
    assert_eq!(w.forge.bot_login().await.unwrap(), w.bot);
}

/// Creates, edits and lists comments; returns the issue they are on.
async fn comments(w: &World) -> i64 {
    let issue = w
        .sim
        .open_issue(REPO, "maintainer", "Greet people", "- [ ] one\n- [ ] two")
        .await
        .unwrap();
    for i in 0..SEEDED_COMMENTS {
        let author = if i % 2 == 0 { "maintainer" } else { "reader" };
        w.sim
            .comment(REPO, issue, author, &format!("comment {i}"))
            .await
            .unwrap();
    }
    let id = w
        .forge
        .create_comment(&w.repo, issue, "<!-- ade:plan -->\nplan v1")
        .await
        .unwrap();
    let stored = w.sim.comments(REPO, issue);
    let mine = stored.iter().find(|c| c.id == id).expect("the new comment");
    assert_eq!(mine.author, w.bot);
    assert_eq!(mine.body, "<!-- ade:plan -->\nplan v1");

    w.forge
        .update_comment(&w.repo, id, "<!-- ade:plan -->\nplan v2 ✓")
        .await
        .unwrap();
    let stored = w.sim.comments(REPO, issue);
    assert_eq!(
        stored.iter().find(|c| c.id == id).unwrap().body,
        "<!-- ade:plan -->\nplan v2 ✓"
    );

    let listed = w.forge.list_comments(&w.repo, issue).await.unwrap();
    assert_eq!(listed.len(), SEEDED_COMMENTS + 1);
    let expected: Vec<(i64, &str, &str)> = stored
        .iter()
        .map(|c| (c.id, c.author.as_str(), c.body.as_str()))
        .collect();
    let got: Vec<(i64, &str, &str)> = listed
        .iter()
        .map(|c| (c.id, c.author.as_str(), c.body.as_str()))
        .collect();
    assert_eq!(got, expected, "every comment, oldest first");
    if w.dialect == Dialect::Github {
        let pages = w.sim.calls_to("GET", "/repos/*/*/issues/*/comments");
        assert_eq!(pages.len(), 2, "two pages of 100");
    }
    issue
}

async fn reactions(w: &World, issue: i64) {
    let comment = w.sim.comments(REPO, issue)[0].id;
    for _ in 0..2 {
        w.forge
            .add_reaction(&w.repo, comment, Reaction::Eyes)
            .await
            .unwrap();
    }
    w.forge
        .add_reaction(&w.repo, comment, Reaction::Rocket)
        .await
        .unwrap();
    let stored: Vec<(String, String)> = w
        .sim
        .reactions(REPO, comment)
        .into_iter()
        .map(|r| (r.user, r.content))
        .collect();
    assert_eq!(
        stored,
        vec![
            (w.bot.clone(), "eyes".to_owned()),
            (w.bot.clone(), "rocket".to_owned())
        ],
        "one 👀 however often it is added"
    );
    if w.dialect == Dialect::Github {
        let statuses: Vec<u16> = w
            .sim
            .calls_to("POST", "/repos/*/*/issues/comments/*/reactions")
            .iter()
            .map(|c| c.status)
            .collect();
        assert_eq!(statuses, vec![201, 200, 201], "new, already there, new");
    }
}

async fn labels(w: &World, issue: i64) {
    let wanted = ["ade".to_owned(), "not-in-this-repo".to_owned()];
    w.forge.add_labels(&w.repo, issue, &wanted).await.unwrap();
    assert_eq!(w.sim.labels(REPO, issue), vec!["ade"]);
    w.forge
        .add_labels(&w.repo, issue, &["bug".to_owned()])
        .await
        .unwrap();
    let mut labels = w.sim.labels(REPO, issue);
    labels.sort();
    assert_eq!(labels, vec!["ade", "bug"]);
    w.forge.add_labels(&w.repo, issue, &[]).await.unwrap();
}

async fn files(w: &World) {
    let read = |path: &'static str, at: &'static str| w.forge.read_file(&w.repo, path, at);
    assert_eq!(
        read("README.md", "main").await.unwrap(),
        Some(README.into())
    );
    assert_eq!(read("src/lib.rs", "main").await.unwrap(), Some(LIB.into()));
    assert_eq!(
        read(SPACED, "main").await.unwrap(),
        Some(SPACED_TEXT.into()),
        "a path that needs encoding"
    );
    assert_eq!(read("nope.txt", "main").await.unwrap(), None);
    assert_eq!(read("src", "main").await.unwrap(), None, "a directory");
    let sha = w.sim.branch_sha(REPO, "main").await.unwrap();
    assert_eq!(
        w.forge.read_file(&w.repo, "README.md", &sha).await.unwrap(),
        Some(README.into()),
        "at a commit"
    );
    assert_eq!(
        w.forge
            .read_file(&w.repo, "README.md", "no-such-branch")
            .await
            .unwrap(),
        None
    );
}

async fn default_branch(w: &World) {
    let head = w.forge.default_branch(&w.repo).await.unwrap();
    assert_eq!(head.name, "main");
    assert_eq!(Some(head.sha), w.sim.branch_sha(REPO, "main").await);
}

async fn permissions(w: &World) {
    for (login, github, gitea) in LEVELS {
        let got = w.forge.permission(&w.repo, login).await.unwrap();
        assert_eq!(got, w.expected(*github, *gitea), "{login}");
    }
}

async fn teams(w: &World) {
    w.sim.add_team("octo", "reviewers", &["writer", "Reader"]);
    w.sim.add_team("octo", "reviewers-emeritus", &["triager"]);
    let cases = [
        ("octo", "reviewers", "writer", true),
        ("octo", "reviewers", "reader", true),
        ("octo", "Reviewers", "writer", true),
        ("octo", "reviewers", "triager", false),
        ("octo", "reviewers-emeritus", "triager", true),
        ("octo", "reviewers", "stranger", false),
        ("octo", "no-such-team", "writer", false),
        ("no-such-org", "reviewers", "writer", false),
    ];
    for (org, slug, login, member) in cases {
        let team = Team {
            org: org.into(),
            slug: slug.into(),
        };
        let got = w.forge.is_team_member(&w.repo, &team, login).await.unwrap();
        assert_eq!(got, member, "{login} in {org}/{slug}");
    }
}

/// Opens, edits, closes and reopens pull requests; returns the one to merge.
async fn pull_requests(w: &World) -> i64 {
    let head = w
        .sim
        .push(
            REPO,
            "maintainer",
            "ade/1-greet",
            &[("src/lib.rs", Some("pub fn answer() -> u32 {\n    43\n}\n"))],
            "Answer 43",
        )
        .await
        .unwrap();
    let opened = w
        .forge
        .create_pull_request(
            &w.repo,
            &NewPullRequest {
                title: "Greet people".into(),
                body: "Task 1 of #1".into(),
                head: "ade/1-greet".into(),
                base: "main".into(),
                draft: false,
            },
        )
        .await
        .unwrap();
    assert_eq!(opened.head_sha, head);
    assert!(opened.open && !opened.merged);
    assert!(
        opened.url.contains(&format!("/pull/{}", opened.number))
            || opened.url.contains(&format!("/pulls/{}", opened.number)),
        "{}",
        opened.url
    );
    let stored = w.sim.pull(REPO, opened.number).unwrap();
    assert_eq!(
        (
            stored.title.as_str(),
            stored.body.as_str(),
            stored.author.as_str()
        ),
        ("Greet people", "Task 1 of #1", w.bot.as_str())
    );
    assert_eq!(
        (stored.head.as_str(), stored.base.as_str()),
        ("ade/1-greet", "main")
    );
    assert!(!stored.draft);

    w.sim
        .push(
            REPO,
            "maintainer",
            "ade/2-draft",
            &[("NOTES.md", Some("wip\n"))],
            "Notes",
        )
        .await
        .unwrap();
    let draft = w
        .forge
        .create_pull_request(
            &w.repo,
            &NewPullRequest {
                title: "Notes".into(),
                body: String::new(),
                head: "ade/2-draft".into(),
                base: "main".into(),
                draft: true,
            },
        )
        .await
        .unwrap();
    assert!(w.sim.pull(REPO, draft.number).unwrap().draft);
    let found = w
        .forge
        .find_pull_request(&w.repo, "ade/1-greet")
        .await
        .unwrap()
        .expect("the open pull request of a branch is found");
    assert_eq!(found.number, opened.number);
    assert_eq!(
        w.forge
            .find_pull_request(&w.repo, "ade/9-nothing")
            .await
            .unwrap(),
        None,
        "a branch without a pull request has none"
    );

    let edited = w
        .forge
        .update_pull_request(
            &w.repo,
            draft.number,
            &PullRequestUpdate {
                title: Some("Notes, edited".into()),
                body: Some("now with a body".into()),
                open: None,
            },
        )
        .await
        .unwrap();
    assert!(edited.open);
    let stored = w.sim.pull(REPO, draft.number).unwrap();
    assert!(stored.title.ends_with("Notes, edited"), "{}", stored.title);
    assert_eq!(stored.body, "now with a body");
    assert!(stored.draft, "a new title leaves a draft a draft");

    let close = PullRequestUpdate {
        open: Some(false),
        ..PullRequestUpdate::default()
    };
    let closed = w
        .forge
        .update_pull_request(&w.repo, draft.number, &close)
        .await
        .unwrap();
    assert!(!closed.open && !closed.merged);
    assert!(!w.sim.pull(REPO, draft.number).unwrap().open);
    let reopen = PullRequestUpdate {
        open: Some(true),
        ..PullRequestUpdate::default()
    };
    let reopened = w
        .forge
        .update_pull_request(&w.repo, draft.number, &reopen)
        .await
        .unwrap();
    assert!(reopened.open);
    w.forge
        .update_pull_request(&w.repo, draft.number, &close)
        .await
        .unwrap();
    opened.number
}

async fn protection(w: &World) {
    assert_eq!(
        w.forge.branch_protection(&w.repo, "main").await.unwrap(),
        None,
        "unprotected"
    );
    let rule = BranchProtection {
        required_approvals: 1,
        required_checks: vec!["ade/verify".into()],
        enforce_admins: true,
    };
    w.sim.protect_branch(REPO, "main", rule.clone()).unwrap();
    assert_eq!(
        w.forge.branch_protection(&w.repo, "main").await.unwrap(),
        Some(rule)
    );
    assert_eq!(
        w.forge
            .branch_protection(&w.repo, "ade/1-greet")
            .await
            .unwrap(),
        None,
        "another branch stays unprotected"
    );
}

/// Sets `ade/verify` running on the pull request's head; returns the head.
async fn checks(w: &World, pull: i64) -> String {
    let head = w.sim.pull(REPO, pull).unwrap().head_sha;
    let check = |state: CheckState, title: &str| Check {
        name: "ade/verify".into(),
        head_sha: head.clone(),
        state,
        title: title.into(),
        summary: "**3** tasks".into(),
        text: None,
        annotations: Vec::new(),
        details_url: Some("https://ade.example.com/runs/7".into()),
        external_id: Some("run-7".into()),
    };
    let created = w
        .forge
        .set_check(
            &w.repo,
            &check(CheckState::InProgress, "running"),
            CheckTarget::Create,
        )
        .await
        .unwrap();
    let stored = w.sim.checks(REPO, &head);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].id, created.id);
    assert_eq!(stored[0].state, CheckState::InProgress);
    assert_eq!(stored[0].title, "running");
    assert_eq!(
        stored[0].details_url.as_deref(),
        Some("https://ade.example.com/runs/7")
    );
    let failed = w
        .forge
        .set_check(
            &w.repo,
            &check(CheckState::Failure, "1 test failed"),
            CheckTarget::Update(created.id),
        )
        .await
        .unwrap();
    let stored = w.sim.checks(REPO, &head);
    let last = stored.last().unwrap();
    assert_eq!((last.id, last.state), (failed.id, CheckState::Failure));
    assert_eq!(last.title, "1 test failed");
    if w.dialect == Dialect::Github {
        assert_eq!(failed.id, created.id, "the check run is updated in place");
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].summary, "**3** tasks");
        assert_eq!(stored[0].external_id.as_deref(), Some("run-7"));
    }
    head
}

async fn reviews(w: &World, pull: i64, head: &str) {
    assert!(
        w.forge
            .list_reviews(&w.repo, pull)
            .await
            .unwrap()
            .is_empty()
    );
    let said = [
        ("reader", ReviewState::Commented),
        ("writer", ReviewState::ChangesRequested),
        ("writer", ReviewState::Approved),
        ("maintainer", ReviewState::Approved),
    ];
    for (who, state) in said {
        w.sim.review(REPO, pull, who, state, "ok").await.unwrap();
    }
    let listed = w.forge.list_reviews(&w.repo, pull).await.unwrap();
    let got: Vec<(&str, ReviewState, Option<&str>)> = listed
        .iter()
        .map(|r| (r.author.as_str(), r.state, r.commit_sha.as_deref()))
        .collect();
    let expected: Vec<(&str, ReviewState, Option<&str>)> =
        said.iter().map(|(who, s)| (*who, *s, Some(head))).collect();
    assert_eq!(got, expected);
    assert!(listed.iter().all(|r| r.body == "ok"), "{listed:?}");
    let ids: Vec<i64> = w.sim.reviews(REPO, pull).iter().map(|r| r.id).collect();
    assert_eq!(listed.iter().map(|r| r.id).collect::<Vec<_>>(), ids);
}

async fn merge(w: &World, pull: i64, head: &str) {
    let read = w.forge.pull_request(&w.repo, pull).await.unwrap();
    let at = |sha: &str| ForgePullRequest {
        head_sha: sha.to_owned(),
        ..read.clone()
    };
    let refused = w
        .forge
        .merge(&w.repo, &at(head), MergeMethod::Squash)
        .await
        .unwrap_err();
    assert!(
        matches!(
            refused,
            ForgeError::MergeRefused {
                refusal: MergeRefusal::Protected,
                ..
            }
        ),
        "a failing required check refuses: {refused:?}"
    );
    assert!(!w.sim.pull(REPO, pull).unwrap().merged);
    gate::a_draft_does_not_merge(w, pull, head).await;

    let passing = Check {
        name: "ade/verify".into(),
        head_sha: head.to_owned(),
        state: CheckState::Success,
        title: "all green".into(),
        summary: "done".into(),
        text: None,
        annotations: Vec::new(),
        details_url: None,
        external_id: Some("run-7".into()),
    };
    w.forge
        .set_check(&w.repo, &passing, CheckTarget::Find)
        .await
        .unwrap();
    let stale = "0".repeat(40);
    let moved = w
        .forge
        .merge(&w.repo, &at(&stale), MergeMethod::Squash)
        .await
        .unwrap_err();
    assert!(
        matches!(
            moved,
            ForgeError::MergeRefused {
                refusal: MergeRefusal::HeadMoved,
                ..
            }
        ),
        "{moved:?}"
    );
    let sent = w
        .sim
        .calls()
        .into_iter()
        .rev()
        .find(|c| c.path.ends_with("/merge"))
        .unwrap();
    let checked = match w.dialect {
        Dialect::Github => sent.json()["sha"].clone(),
        Dialect::Gitea | Dialect::Forgejo => sent.json()["head_commit_id"].clone(),
    };
    assert_eq!(
        checked,
        stale.as_str(),
        "the merge names the head it checked"
    );

    let before = w.sim.branch_sha(REPO, "main").await.unwrap();
    w.forge
        .merge(&w.repo, &at(head), MergeMethod::Squash)
        .await
        .unwrap();
    let merged = w.sim.pull(REPO, pull).unwrap();
    assert!(merged.merged && !merged.open);
    let after = w.sim.branch_sha(REPO, "main").await.unwrap();
    assert_ne!(after, before);
    assert_eq!(merged.merge_commit_sha.as_deref(), Some(after.as_str()));
    assert_eq!(
        w.sim.file(REPO, "main", "src/lib.rs").await.as_deref(),
        Some("pub fn answer() -> u32 {\n    43\n}\n".as_bytes())
    );
    // A merged pull request reads as merged in the client's answer too.
    let read = w
        .forge
        .update_pull_request(
            &w.repo,
            pull,
            &PullRequestUpdate {
                body: Some("Task 1 of #1, merged".into()),
                ..PullRequestUpdate::default()
            },
        )
        .await
        .unwrap();
    assert!(read.merged && !read.open, "{read:?}");
}

/// Clones with a credential to push, checks what came, pushes a branch, and shows a wrong token
/// fails; on GitHub, that the token reaches nothing else and is dead once revoked.
async fn clone_and_push(w: &World) {
    let credential = w
        .forge
        .clone_credential(&w.repo, GitAccess::Push)
        .await
        .unwrap();
    assert_eq!(credential.url, w.sim.clone_url(REPO));
    match w.dialect {
        Dialect::Github => {
            assert_eq!(credential.username, "x-access-token");
            assert!(credential.password.expose().starts_with("ghs_"));
            let expires = credential.expires_at.expect("installation tokens expire");
            assert!(expires > ade::clock::unix_ms());
        }
        Dialect::Gitea | Dialect::Forgejo => {
            assert_eq!(credential.username, w.bot);
            assert_eq!(credential.expires_at, None);
        }
    }
    let git = Git::new(&w.dir.0);
    let work = w.dir.0.join("clones");
    std::fs::create_dir_all(&work).unwrap();

    let refused = git
        .run(
            &work,
            &credential,
            "not-the-token",
            &["clone", &credential.url, "refused"],
        )
        .await;
    assert!(!refused.status.success(), "a wrong token must not clone");

    git.ok(&work, &credential, &["clone", &credential.url, "demo"])
        .await;
    let clone = work.join("demo");
    assert_eq!(
        std::fs::read_to_string(clone.join("README.md")).unwrap(),
        README
    );
    let head = git.ok(&clone, &credential, &["rev-parse", "HEAD"]).await;
    assert_eq!(Some(head), w.sim.branch_sha(REPO, "main").await);

    std::fs::write(clone.join("RUN.md"), "run 7\n").unwrap();
    git.ok(&clone, &credential, &["checkout", "-q", "-b", "ade/run-7"])
        .await;
    git.ok(&clone, &credential, &["add", "RUN.md"]).await;
    git.ok(&clone, &credential, &["commit", "-q", "-m", "Run 7"])
        .await;
    git.ok(&clone, &credential, &["push", "-q", "origin", "ade/run-7"])
        .await;
    let pushed = git.ok(&clone, &credential, &["rev-parse", "HEAD"]).await;
    assert_eq!(Some(pushed), w.sim.branch_sha(REPO, "ade/run-7").await);
    assert_eq!(
        w.forge
            .read_file(&w.repo, "RUN.md", "ade/run-7")
            .await
            .unwrap(),
        Some(b"run 7\n".to_vec()),
        "the API reads what git pushed"
    );
    if w.dialect == Dialect::Github {
        git_token_scope(w, &git, &clone, &credential).await;
    }
    w.forge.revoke_credential(&credential).await.unwrap();
    let after = git
        .run(
            &work,
            &credential,
            credential.password.expose(),
            &["ls-remote", &credential.url],
        )
        .await;
    match w.dialect {
        Dialect::Github => assert!(!after.status.success(), "a revoked token fetches nothing"),
        // The bot's own token: there is nothing to revoke, and ade goes on using it.
        Dialect::Gitea | Dialect::Forgejo => assert!(after.status.success()),
    }
}

/// A GitHub token asked for one repository and `contents` reaches that repository alone, for
/// that alone; one asked to fetch cannot push.
async fn git_token_scope(w: &World, git: &Git, clone: &Path, credential: &CloneCredential) {
    let other = w.sim.clone_url(OTHER);
    let elsewhere = git
        .run(
            clone,
            credential,
            credential.password.expose(),
            &["ls-remote", &other],
        )
        .await;
    assert!(!elsewhere.status.success(), "the token reaches {OTHER}");
    let api = reqwest::Client::new();
    let bearer = format!("Bearer {}", credential.password.expose());
    let other_repo = api
        .get(format!("{}/repos/{OTHER}", w.sim.api_url()))
        .header("authorization", &bearer)
        .send()
        .await
        .unwrap();
    assert_eq!(other_repo.status(), 404, "another repository is hidden");
    let comment = api
        .post(format!(
            "{}/repos/{REPO}/issues/1/comments",
            w.sim.api_url()
        ))
        .header("authorization", &bearer)
        .header("content-type", "application/json")
        .body(r#"{"body": "not mine to say"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(comment.status(), 403, "a permission it was not given");

    let fetch = w
        .forge
        .clone_credential(&w.repo, GitAccess::Fetch)
        .await
        .unwrap();
    git.ok(clone, &fetch, &["fetch", "-q", &fetch.url, "main"])
        .await;
    let push = git
        .run(
            clone,
            &fetch,
            fetch.password.expose(),
            &["push", "-q", &fetch.url, "HEAD:refs/heads/ade/run-8"],
        )
        .await;
    assert!(!push.status.success(), "a token to fetch pushes nothing");
    assert_eq!(w.sim.branch_sha(REPO, "ade/run-8").await, None);
    w.forge.revoke_credential(&fetch).await.unwrap();

    let tokens = w.sim.installation_tokens();
    let scope_of = |token: &CloneCredential| {
        tokens
            .iter()
            .find(|t| t.token == token.password.expose())
            .map(|t| (t.scope.clone(), t.revoked))
            .expect("the simulator issued it")
    };
    let contents = |level: &str| {
        Some(BTreeMap::from([
            ("contents".to_string(), level.to_string()),
            ("metadata".to_string(), "read".to_string()),
        ]))
    };
    let (pushing, _) = scope_of(credential);
    assert_eq!(pushing.repositories, Some(vec![REPO.to_string()]));
    assert_eq!(pushing.permissions, contents("write"));
    let (fetching, revoked) = scope_of(&fetch);
    assert_eq!(fetching.repositories, Some(vec![REPO.to_string()]));
    assert_eq!(fetching.permissions, contents("read"));
    assert!(revoked);
}
