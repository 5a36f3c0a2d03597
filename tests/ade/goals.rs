//! Goals and spec versions in storage: versions count up per goal, content never changes, and a
//! state moves only from the state it is in, so racing commands cannot both move it.

use crate::support::databases;
use ade::forge::ForgeKind;
use ade::lifecycle::{SpecState, TaskState};
use ade::store::goals::{self, NewSpec};
use ade::store::sticky::{self, Sticky};
use ade::store::tasks;

fn spec(goal: i64, content: &str) -> NewSpec<'_> {
    NewSpec {
        goal,
        state: SpecState::Validated,
        content,
        content_hash: "h",
        author: "mia",
        planner: "manual",
        errors: None,
    }
}

#[tokio::test]
async fn versions_count_up_per_goal_and_states_move_only_from_where_they_are() {
    for db in databases().await {
        let store = db.store().await;
        let mut conn = store.writer().await.unwrap();
        let a = goals::goal(&mut conn, ForgeKind::Github, "acme/widgets", 12, 1)
            .await
            .unwrap();
        let again = goals::goal(&mut conn, ForgeKind::Github, "acme/widgets", 12, 2)
            .await
            .unwrap();
        let b = goals::goal(&mut conn, ForgeKind::Gitea, "acme/widgets", 12, 3)
            .await
            .unwrap();
        assert_eq!(a, again, "{}", db.name);
        assert_ne!(
            a, b,
            "{}: the same number on another forge is another goal",
            db.name
        );

        let v1 = goals::insert_spec(&mut conn, &spec(a, "{\"v\":1}"), 10)
            .await
            .unwrap();
        let v2 = goals::insert_spec(&mut conn, &spec(a, "{\"v\":2}"), 11)
            .await
            .unwrap();
        let other = goals::insert_spec(&mut conn, &spec(b, "{}"), 12)
            .await
            .unwrap();
        assert_eq!(
            (v1.version, v2.version, other.version),
            (1, 2, 1),
            "{}",
            db.name
        );

        assert!(
            goals::move_spec(
                &mut conn,
                v2.id,
                SpecState::Validated,
                SpecState::Active,
                "mia",
                20
            )
            .await
            .unwrap()
        );
        assert!(
            !goals::move_spec(
                &mut conn,
                v2.id,
                SpecState::Validated,
                SpecState::Active,
                "eve",
                21
            )
            .await
            .unwrap(),
            "{}: a second approval finds it moved already",
            db.name
        );
        let stored = goals::specs(&mut conn, a).await.unwrap();
        assert_eq!(
            stored
                .iter()
                .map(|s| (s.version, s.state))
                .collect::<Vec<_>>(),
            [(2, SpecState::Active), (1, SpecState::Validated)]
        );
        assert_eq!(stored[0].content, "{\"v\":2}");
        let moves = goals::transitions(&mut conn, v2.id).await.unwrap();
        assert_eq!(
            moves,
            [
                (None, "validated".to_string(), "mia".to_string(), 11),
                (
                    Some("validated".to_string()),
                    "active".to_string(),
                    "mia".to_string(),
                    20
                )
            ],
            "{}",
            db.name
        );

        tasks::insert_tasks(
            &mut conn,
            v2.id,
            &["t1".into(), "t2".into()],
            TaskState::Waiting,
            20,
        )
        .await
        .unwrap();
        assert_eq!(
            tasks::move_tasks(&mut conn, v2.id, TaskState::Waiting, TaskState::Ready, 21)
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            tasks::tasks_of(&mut conn, v2.id)
                .await
                .unwrap()
                .into_iter()
                .map(|t| (t.task_id, t.state))
                .collect::<Vec<_>>(),
            [
                ("t1".to_string(), TaskState::Ready),
                ("t2".to_string(), TaskState::Ready)
            ]
        );
    }
}

#[tokio::test]
async fn sticky_comments_are_recorded_per_marker() {
    for db in databases().await {
        let store = db.store().await;
        let mut conn = store.writer().await.unwrap();
        assert_eq!(
            sticky::find(&mut conn, ForgeKind::Github, "acme/widgets", "plan:12")
                .await
                .unwrap(),
            None
        );
        let first = Sticky {
            comment_id: 7,
            number: 12,
            body_hash: "a".into(),
        };
        sticky::record(
            &mut conn,
            ForgeKind::Github,
            "acme/widgets",
            "plan:12",
            &first,
            1,
        )
        .await
        .unwrap();
        let second = Sticky {
            body_hash: "b".into(),
            ..first.clone()
        };
        sticky::record(
            &mut conn,
            ForgeKind::Github,
            "acme/widgets",
            "plan:12",
            &second,
            2,
        )
        .await
        .unwrap();
        assert_eq!(
            sticky::find(&mut conn, ForgeKind::Github, "acme/widgets", "plan:12")
                .await
                .unwrap(),
            Some(second),
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn goals_page_by_forge_repository_and_newest_state_and_tokens_note_their_use_once_a_minute() {
    use ade::store::api_tokens::{self, NewToken, TokenScope};
    use ade::store::goals::{GoalFilter, goal, page};
    for db in crate::support::databases().await {
        let store = db.store().await;
        let mut conn = store.writer().await.unwrap();
        let mut ids = Vec::new();
        for (forge, repository, number) in [
            (ForgeKind::Github, "acme/widgets", 1),
            (ForgeKind::Gitea, "acme/widgets", 2),
            (ForgeKind::Github, "acme/gadgets", 3),
            (ForgeKind::Github, "acme/widgets", 4),
        ] {
            ids.push(goal(&mut conn, forge, repository, number, 1).await.unwrap());
        }
        let numbers = |goals: Vec<ade::store::goals::GoalSummary>| {
            goals.iter().map(|g| g.goal.number).collect::<Vec<_>>()
        };
        let all = GoalFilter::default();
        assert_eq!(
            numbers(page(&mut conn, &all, None, 10).await.unwrap()),
            [4, 3, 2, 1]
        );
        assert_eq!(
            numbers(page(&mut conn, &all, None, 2).await.unwrap()),
            [4, 3]
        );
        assert_eq!(
            numbers(page(&mut conn, &all, Some(ids[2]), 2).await.unwrap()),
            [2, 1]
        );
        let widgets_on_github = GoalFilter {
            forge: Some(ForgeKind::Github),
            repository: Some("acme/widgets"),
            state: None,
            within: None,
        };
        assert_eq!(
            numbers(page(&mut conn, &widgets_on_github, None, 10).await.unwrap()),
            [4, 1],
            "{}",
            db.name
        );
        assert_eq!(
            numbers(
                page(&mut conn, &widgets_on_github, Some(ids[3]), 10)
                    .await
                    .unwrap()
            ),
            [1]
        );
        let active = GoalFilter {
            state: Some(SpecState::Active),
            ..GoalFilter::default()
        };
        assert!(
            page(&mut conn, &active, None, 10).await.unwrap().is_empty(),
            "no spec yet"
        );
        assert!(
            page(&mut conn, &all, None, 10)
                .await
                .unwrap()
                .iter()
                .all(|g| g.newest.is_none())
        );

        let id = api_tokens::insert(
            &mut conn,
            &NewToken {
                name: "t",
                scope: TokenScope::Write,
                hash: "ab",
                expires_at: 10_000_000,
            },
            1_000,
        )
        .await
        .unwrap();
        api_tokens::used(&mut conn, id, 100_000, 40_000)
            .await
            .unwrap();
        api_tokens::used(&mut conn, id, 130_000, 70_000)
            .await
            .unwrap();
        let row = api_tokens::by_hash(&mut conn, "ab").await.unwrap().unwrap();
        assert_eq!(
            (row.scope, row.last_used_at),
            (TokenScope::Write, Some(100_000)),
            "{}",
            db.name
        );
        api_tokens::used(&mut conn, id, 170_000, 110_000)
            .await
            .unwrap();
        let row = api_tokens::by_hash(&mut conn, "ab").await.unwrap().unwrap();
        assert_eq!(row.last_used_at, Some(170_000));
        assert!(api_tokens::revoke(&mut conn, id, 200_000).await.unwrap());
        assert!(
            !api_tokens::revoke(&mut conn, id, 300_000).await.unwrap(),
            "once"
        );
        assert!(
            !api_tokens::revoke(&mut conn, id + 100, 300_000)
                .await
                .unwrap()
        );
        let listed = api_tokens::list(&mut conn).await.unwrap();
        assert_eq!(listed[0].revoked_at, Some(200_000), "{}", db.name);
    }
}

#[tokio::test]
async fn a_board_reads_only_the_repositories_it_is_given_and_tallies_the_newest_version() {
    use ade::store::goals::{GoalFilter, goal, page, repositories, tallies};
    for db in crate::support::databases().await {
        let store = db.store().await;
        let mut conn = store.writer().await.unwrap();
        let widgets = goal(&mut conn, ForgeKind::Github, "acme/widgets", 1, 1)
            .await
            .unwrap();
        let gadgets = goal(&mut conn, ForgeKind::Github, "acme/gadgets", 2, 1)
            .await
            .unwrap();
        goal(&mut conn, ForgeKind::Gitea, "acme/tools", 3, 1)
            .await
            .unwrap();
        assert_eq!(
            repositories(&mut conn, ForgeKind::Github).await.unwrap(),
            ["acme/gadgets", "acme/widgets"],
            "{}",
            db.name
        );
        let readable = vec!["acme/widgets".to_owned()];
        let within = GoalFilter {
            forge: Some(ForgeKind::Github),
            within: Some(&readable),
            ..GoalFilter::default()
        };
        let shown: Vec<i64> = page(&mut conn, &within, None, 10)
            .await
            .unwrap()
            .iter()
            .map(|g| g.goal.id)
            .collect();
        assert_eq!(shown, [widgets], "{}", db.name);
        let nothing = GoalFilter {
            within: Some(&[]),
            ..GoalFilter::default()
        };
        assert!(
            page(&mut conn, &nothing, None, 10)
                .await
                .unwrap()
                .is_empty()
        );

        let v1 = goals::insert_spec(&mut conn, &spec(widgets, "{\"v\":1}"), 10)
            .await
            .unwrap();
        let v2 = goals::insert_spec(&mut conn, &spec(widgets, "{\"v\":2}"), 11)
            .await
            .unwrap();
        for (spec, ids) in [
            (v1.id, vec!["t1".to_owned()]),
            (v2.id, vec!["t1".to_owned(), "t2".to_owned()]),
        ] {
            tasks::insert_tasks(&mut conn, spec, &ids, TaskState::Ready, 12)
                .await
                .unwrap();
        }
        let tallied = tallies(&mut conn, &[widgets, gadgets]).await.unwrap();
        assert_eq!(
            tallied[&widgets].tasks.get("ready"),
            Some(&2),
            "{}: the newest version's tasks only",
            db.name
        );
        assert!(!tallied.contains_key(&gadgets), "no spec, no tally");
        assert!(tallies(&mut conn, &[]).await.unwrap().is_empty());
    }
}

#[tokio::test]
async fn sessions_are_found_by_their_hash_end_once_and_go_a_day_after_they_expire() {
    use ade::store::web_sessions::{self, NewSession};
    for db in crate::support::databases().await {
        let store = db.store().await;
        let mut conn = store.writer().await.unwrap();
        let new = |hash: &'static str, expires_at| NewSession {
            hash,
            forge: ForgeKind::Gitea,
            login: "mia",
            csrf: "c",
            expires_at,
        };
        let live = web_sessions::insert(&mut conn, &new("h1", 1_000), 10)
            .await
            .unwrap();
        let old = web_sessions::insert(&mut conn, &new("h2", 100), 10)
            .await
            .unwrap();
        let row = web_sessions::by_hash(&mut conn, "h1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (row.id, row.forge, row.login.as_str(), row.ended_at),
            (live, ForgeKind::Gitea, "mia", None),
            "{}",
            db.name
        );
        assert!(
            web_sessions::by_hash(&mut conn, "nope")
                .await
                .unwrap()
                .is_none()
        );
        assert!(web_sessions::end(&mut conn, live, 50).await.unwrap());
        assert!(
            !web_sessions::end(&mut conn, live, 60).await.unwrap(),
            "once"
        );
        assert_eq!(
            web_sessions::purge(&mut conn, 40).await.unwrap(),
            Vec::<i64>::new()
        );
        let mut gone = web_sessions::purge(&mut conn, 200).await.unwrap();
        gone.sort();
        assert_eq!(gone, [live, old], "{}", db.name);
    }
}
