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
