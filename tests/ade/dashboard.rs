//! The dashboard: a maintainer signs in with the forge and follows a goal from the board to its
//! lineage; a user sees only what the forge lets them read, and loses it on the next request when
//! the forge takes it away; sign-in refuses what did not come from the browser's own sign-in or
//! from the forge; signing out needs the session's CSRF token; hostile issue text reaches pages
//! escaped; an operator may make reading public. On GitHub, Gitea and Forgejo alike.

use super::support::browser::Browser;
use super::support::story::{MAINTAINER, REPO, Story, WRITER};
use ade::forge::{ForgeKind, Permission};
use ade::sim::{Fault, FaultRule};

const GOAL: &str = "Add a --dry-run flag";
const CHECKLIST: &str = "We want a dry run.\n\n\
- [ ] Parse the flag\n\
- [ ] Skip writes when it is set (after 1)\n\
- [ ] Document it (after 1, 2)\n";

/// Every forge the dashboard signs in with, as (kind, Forgejo?).
const FORGES: [(ForgeKind, bool); 3] = [
    (ForgeKind::Github, false),
    (ForgeKind::Gitea, false),
    (ForgeKind::Gitea, true),
];

/// A story with a planned goal; returns the issue number.
async fn planned(story: &Story, title: &str, body: &str) -> i64 {
    let issue = story.issue(WRITER, title, body).await;
    story.comment(issue, MAINTAINER, "/ade plan").await;
    story.until("the plan", |s| s.plan_comment(issue)).await;
    story.settle().await;
    issue
}

/// The first goal page the board links to.
fn first_goal_link(board: &str) -> String {
    let at = board
        .find("href=\"/goals/")
        .expect("the board links a goal");
    let rest = &board[at + 6..];
    rest[..rest.find('"').unwrap()].to_owned()
}

fn audit_actions(story: &Story, action: &str) -> Vec<serde_json::Value> {
    story
        .audit_records()
        .into_iter()
        .filter(|r| r["action"] == action)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_maintainer_signs_in_with_the_forge_and_follows_a_goal_from_the_board_to_its_lineage() {
    for (kind, forgejo) in FORGES {
        let story = Story::with_dashboard(kind, forgejo, false).await;
        let issue = planned(&story, GOAL, CHECKLIST).await;
        let mut browser = Browser::new(&story);

        let first = browser.get("/").await;
        assert_eq!(first.status, 303, "{kind}: nobody signed in");
        assert_eq!(first.location.as_deref(), Some("/signin?to=%2F"));
        let choose = browser.get("/signin?to=%2F").await;
        assert!(
            choose
                .body
                .contains(&format!("id=\"signin-{}\"", kind.as_str())),
            "{}",
            choose.body
        );

        let fields = browser.start_sign_in(kind.as_str()).await;
        let back = browser
            .decide(&story, &fields, MAINTAINER, "authorize")
            .await;
        let callback = browser.get(back.location.as_deref().unwrap()).await;
        assert_eq!(callback.status, 303, "{kind}: {}", callback.body);
        assert_eq!(callback.location.as_deref(), Some("/"));
        let session = callback
            .set_cookies
            .iter()
            .find(|c| c.starts_with("ade_session=ades_"))
            .expect("a session cookie");
        for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
            assert!(session.contains(flag), "{kind}: {flag} in {session}");
        }
        assert!(
            !session.contains("Secure"),
            "plain http on loopback sets no Secure"
        );

        let board = browser.get("/").await;
        assert_eq!(board.status, 200);
        for expected in [
            GOAL,
            "v1",
            "validated",
            "acme/widgets",
            MAINTAINER,
            "id=\"signout\"",
        ] {
            assert!(
                board.body.contains(expected),
                "{kind}: {expected:?} on the board:\n{}",
                board.body
            );
        }
        assert!(
            board
                .body
                .contains("hx-get=\"/\" hx-trigger=\"every 15s\" hx-select=\"#board\""),
            "an open board reads itself again"
        );
        let issue_link = format!("{}/acme/widgets/issues/{issue}", story.sim.url());
        assert!(board.body.contains(&issue_link), "{kind}: {issue_link}");

        let goal = browser.get(&first_goal_link(&board.body)).await;
        assert_eq!(goal.status, 200);
        for expected in [
            "Version 1",
            "t1",
            "Parse the flag",
            "Document it",
            "We want a dry run.",
        ] {
            assert!(
                goal.body.contains(expected),
                "{kind}: {expected:?} on the goal page:\n{}",
                goal.body
            );
        }

        let signins = audit_actions(&story, "web.signin");
        assert_eq!(signins.len(), 1, "{kind}");
        assert_eq!(signins[0]["actor"], MAINTAINER);
        assert_eq!(signins[0]["details"]["forge"], kind.as_str());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_user_sees_only_what_the_forge_lets_them_read_and_loses_it_on_the_next_request() {
    for (kind, forgejo) in [FORGES[0], FORGES[1]] {
        let story = Story::with_dashboard(kind, forgejo, false).await;
        planned(&story, GOAL, CHECKLIST).await;

        story.sim.add_user("olga");
        let mut outsider = Browser::new(&story);
        let board = outsider.sign_in(&story, "olga").await;
        assert!(
            board.body.contains("id=\"empty\"") && !board.body.contains(GOAL),
            "{kind}: olga cannot read {REPO}:\n{}",
            board.body
        );

        let mut mia = Browser::new(&story);
        let board = mia.sign_in(&story, MAINTAINER).await;
        let link = first_goal_link(&board.body);
        assert_eq!(outsider.get(&link).await.status, 404, "{kind}");
        assert_eq!(
            outsider.get("/goals/999999").await.status,
            404,
            "the same answer"
        );
        assert!(
            !outsider
                .get(&format!("/?repository={REPO}"))
                .await
                .body
                .contains(GOAL),
            "{kind}: naming the repository shows nothing more"
        );

        // The forge cannot say: the page is refused, never shown.
        let path = match kind {
            ForgeKind::Github => "/repos/acme/widgets/collaborators/*/permission",
            ForgeKind::Gitea => "/api/v1/repos/acme/widgets/collaborators/*/permission",
        };
        story
            .sim
            .inject(FaultRule::new("GET", path, Fault::Status(503)).times(100));
        let unsure = mia.get(&link).await;
        assert_eq!(unsure.status, 503, "{kind}: {}", unsure.body);
        assert!(
            !unsure.body.contains("widgets") && !unsure.body.contains("503"),
            "{kind}: the page names neither the repository nor the forge's error:\n{}",
            unsure.body
        );
        let board = mia.get("/").await;
        assert!(
            board.body.contains("id=\"unknown\"") && !board.body.contains(GOAL),
            "{kind}: {}",
            board.body
        );
        story.sim.clear_faults();
        assert_eq!(mia.get(&link).await.status, 200);

        story
            .sim
            .set_permission(REPO, MAINTAINER, Permission::None)
            .unwrap();
        assert_eq!(
            mia.get(&link).await.status,
            404,
            "{kind}: access taken away on the forge"
        );
        assert!(!mia.get("/").await.body.contains(GOAL));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_in_refuses_what_did_not_come_from_this_browser_or_from_the_forge() {
    for (kind, forgejo) in [FORGES[0], FORGES[1]] {
        let story = Story::with_dashboard(kind, forgejo, false).await;
        let forge = kind.as_str();
        let callback = format!("/signin/{forge}/callback");

        // A callback this browser never started.
        let mut stranger = Browser::new(&story);
        let page = stranger
            .get(&format!("{callback}?code=abc&state=xyz"))
            .await;
        assert_eq!(page.status, 400, "{kind}: {}", page.body);
        assert!(stranger.cookie("ade_session").is_none());

        // A state that is not the one this browser's sign-in carries, of the same length.
        let mut browser = Browser::new(&story);
        let fields = browser.start_sign_in(forge).await;
        let back = browser
            .decide(&story, &fields, MAINTAINER, "authorize")
            .await;
        let location = back.location.unwrap();
        let state = &fields.iter().find(|(k, _)| k == "state").unwrap().1;
        let other: String = state
            .chars()
            .map(|c| if c == 'A' { 'B' } else { 'A' })
            .collect();
        let forged = location.replace(&format!("state={state}"), &format!("state={other}"));
        assert_ne!(forged, location);
        let page = browser.get(&forged).await;
        assert_eq!(page.status, 400, "{kind}: {}", page.body);
        assert!(page.body.contains("does not belong"), "{}", page.body);

        // A planted cookie that ade did not mint starts nothing.
        let mut planted = Browser::new(&story);
        planted.set_cookie("ade_signin", "..Lw");
        let page = planted.get(&format!("{callback}?code=abc&state=")).await;
        assert_eq!(page.status, 400, "{kind}: {}", page.body);

        // The user says no at the forge.
        let fields = browser.start_sign_in(forge).await;
        let denied = browser.decide(&story, &fields, MAINTAINER, "deny").await;
        let page = browser.get(denied.location.as_deref().unwrap()).await;
        assert_eq!(page.status, 403);
        assert!(page.body.contains("did not authorize"), "{}", page.body);

        // A code is good once: the same callback, with the same sign-in cookie (so the same PKCE
        // verifier), a second time.
        let fields = browser.start_sign_in(forge).await;
        let carried = browser.cookie("ade_signin").unwrap().to_owned();
        let back = browser
            .decide(&story, &fields, MAINTAINER, "authorize")
            .await;
        let used = back.location.unwrap();
        let landed = browser.get(&used).await;
        assert_eq!(landed.status, 303);
        let mut again = Browser::new(&story);
        again.set_cookie("ade_signin", &carried);
        let page = again.get(&used).await;
        assert_eq!(page.status, 403, "{kind}: {}", page.body);
        assert!(page.body.contains("refused the sign-in"), "{}", page.body);
        assert!(again.cookie("ade_session").is_none());

        // The forge fails while trading the code.
        story.sim.inject(FaultRule::new(
            "POST",
            "/login/oauth/access_token",
            Fault::Status(500),
        ));
        let fields = again.start_sign_in(forge).await;
        let back = again.decide(&story, &fields, MAINTAINER, "authorize").await;
        let page = again.get(back.location.as_deref().unwrap()).await;
        assert_eq!(page.status, 502, "{kind}: {}", page.body);
        assert!(again.cookie("ade_session").is_none());

        // A page to return to elsewhere is not followed.
        let start = again
            .get(&format!("/signin/{forge}?to=https%3A%2F%2Fevil.example%2F"))
            .await;
        let authorize = again.get(start.location.as_deref().unwrap()).await;
        let fields: Vec<(String, String)> = ["client_id", "redirect_uri", "state"]
            .iter()
            .map(|name| {
                (
                    (*name).to_owned(),
                    super::support::browser::input(&authorize.body, name).unwrap(),
                )
            })
            .collect();
        let back = again.decide(&story, &fields, MAINTAINER, "authorize").await;
        let page = again.get(back.location.as_deref().unwrap()).await;
        assert_eq!(
            page.location.as_deref(),
            Some("/"),
            "{kind}: {:?}",
            page.location
        );

        assert_eq!(
            audit_actions(&story, "web.signin").len(),
            2,
            "{kind}: two sign-ins went through"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn signing_out_needs_the_session_s_csrf_token_and_ends_the_session_at_once() {
    let story = Story::with_dashboard(ForgeKind::Github, false, false).await;
    let mut browser = Browser::new(&story);
    let board = browser.sign_in(&story, MAINTAINER).await;
    let csrf = super::support::browser::input(&board.body, "csrf").expect("a sign-out form");
    let cookie = browser.cookie("ade_session").unwrap().to_owned();

    for form in [vec![], vec![("csrf", "forged")], vec![("csrf", "")]] {
        let refused = browser.post("/signout", &form).await;
        assert_eq!(refused.status, 403, "{form:?}: {}", refused.body);
        assert_eq!(browser.get("/").await.status, 200, "still signed in");
    }

    let out = browser.post("/signout", &[("csrf", csrf.as_str())]).await;
    assert_eq!(out.status, 303);
    assert_eq!(out.location.as_deref(), Some("/signin"));
    assert!(
        browser.cookie("ade_session").is_none(),
        "the cookie is gone"
    );
    browser.set_cookie("ade_session", &cookie);
    assert_eq!(
        browser.get("/").await.status,
        303,
        "the old cookie signs nobody in"
    );
    browser.set_cookie(
        "ade_session",
        "ades_0123456789012345678901234567890123456789abc",
    );
    assert_eq!(browser.get("/").await.status, 303, "nor does a made-up one");

    let outs = audit_actions(&story, "web.signout");
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0]["actor"], MAINTAINER);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn hostile_text_reaches_the_pages_escaped() {
    let story = Story::with_dashboard(ForgeKind::Gitea, false, false).await;
    let title = "<script>alert('title')</script> & \"quotes\"";
    let body = "<img src=x onerror=alert(1)>\n\n- [ ] <script>alert('task')</script>\n";
    planned(&story, title, body).await;
    let mut browser = Browser::new(&story);
    let board = browser.sign_in(&story, MAINTAINER).await;
    let link = first_goal_link(&board.body);
    let goal = browser.get(&link).await;
    // ade cleans issue text when it plans; whatever got through, or a row written another way,
    // is escaped on the page all the same.
    let store = story.database().await;
    let mut conn = store.writer().await.unwrap();
    let hostile = "<script>alert('stored')</script>\"><img src=x onerror=alert(2)>";
    for sql in [
        "UPDATE goals SET title = $1, body = $1",
        "UPDATE specs SET author = $1, planner = $1",
    ] {
        sqlx::query(sql)
            .bind(hostile)
            .execute(&mut *conn)
            .await
            .unwrap();
    }
    drop(conn);
    let stored_board = browser.get("/").await;
    let stored_goal = browser.get(&link).await;
    for page in [
        &board.body,
        &goal.body,
        &stored_board.body,
        &stored_goal.body,
    ] {
        for raw in ["<script>alert", "<img src=x", "\"><img"] {
            assert!(!page.contains(raw), "{raw:?} raw in:\n{page}");
        }
    }
    for page in [&stored_board.body, &stored_goal.body] {
        assert!(
            page.contains("&lt;script&gt;alert(&#39;stored&#39;)&lt;/script&gt;&quot;&gt;&lt;img"),
            "{page}"
        );
    }
    let headers = reqwest::Client::new()
        .get(format!("{}/signin", browser.base))
        .send()
        .await
        .unwrap();
    let csp = headers.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(
        csp.contains("default-src 'none'")
            && csp.contains("script-src 'self';")
            && !csp.contains("unsafe"),
        "{csp}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_public_dashboard_is_read_without_signing_in() {
    let story = Story::with_dashboard(ForgeKind::Github, false, true).await;
    planned(&story, GOAL, CHECKLIST).await;
    let mut anyone = Browser::new(&story);
    let board = anyone.get("/").await;
    assert_eq!(board.status, 200);
    assert!(
        board.body.contains(GOAL) && board.body.contains("id=\"signin\""),
        "{}",
        board.body
    );
    let link = first_goal_link(&board.body);
    let goal = anyone.get(&link).await;
    assert_eq!(goal.status, 200);
    let out = anyone.post("/signout", &[("csrf", "x")]).await;
    assert_eq!(out.location.as_deref(), Some("/signin"));

    // Signed in, a user who cannot read the repository still reads what everyone reads.
    story.sim.add_user("olga");
    let mut olga = Browser::new(&story);
    let board = olga.sign_in(&story, "olga").await;
    assert!(board.body.contains(GOAL), "{}", board.body);
    assert_eq!(olga.get(&link).await.status, 200);
}

#[tokio::test]
async fn without_sign_in_set_up_the_dashboard_says_how_to_set_it_up() {
    let story = Story::github().await;
    let mut browser = Browser::new(&story);
    let first = browser.get("/goals/1").await;
    assert_eq!(first.location.as_deref(), Some("/signin?to=%2Fgoals%2F1"));
    let page = browser.follow(first).await;
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("Sign-in is not set up") && page.body.contains("web.github_client_id"),
        "{}",
        page.body
    );
    let css = browser.get(ade::web::html::STYLESHEET).await;
    assert_eq!(css.status, 200);
}

const POLICY: &str = "[agents]\ndefault = \"script\"\n";

/// A story whose one task's agent runs `script`, signed in as the maintainer: the browser, and
/// the path of the task's first run page once it exists.
async fn running(kind: ForgeKind, script: &str) -> (Story, Browser, String) {
    let story = Story::dashboard_with(
        kind,
        false,
        false,
        &[(".ade/config.toml", POLICY)],
        |c, d| {
            super::support::runner::runner_config(
                c,
                d,
                &super::support::runner::script_agent(script, 120),
            )
        },
    )
    .await;
    let issue = story
        .issue(MAINTAINER, "Notes", "- [ ] Write the notes\n")
        .await;
    super::support::verify::plan_and_approve(&story, issue).await;
    let mut browser = Browser::new(&story);
    let board = browser.sign_in(&story, MAINTAINER).await;
    let goal = first_goal_link(&board.body);
    let started = std::time::Instant::now();
    let run = loop {
        let page = browser.get(&goal).await;
        if let Some(at) = page.body.find("href=\"/runs/") {
            let rest = &page.body[at + 6..];
            break rest[..rest.find('"').unwrap()].to_owned();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no run appeared:\n{}",
            page.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    (story, browser, run)
}

/// The run page once the run has ended (nothing left to follow).
async fn ended(browser: &mut Browser, run: &str) -> super::support::browser::Page {
    let started = std::time::Instant::now();
    loop {
        let page = browser.get(run).await;
        if page.status == 200 && page.body.contains("<th>Ended</th><td><small>2") {
            return page;
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(90),
            "the run did not end:\n{}",
            page.body
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// The events of a server-sent stream until `end`: (event, id, data).
async fn stream(
    browser: &Browser,
    path: &str,
    last_event_id: Option<&str>,
) -> Vec<(String, String, String)> {
    let mut request = reqwest::Client::new()
        .get(format!("{}{path}", browser.base))
        .header(
            "cookie",
            format!("ade_session={}", browser.cookie("ade_session").unwrap()),
        )
        .header("accept", "text/event-stream");
    if let Some(id) = last_event_id {
        request = request.header("last-event-id", id);
    }
    let mut response = request.send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let mut buffer = String::new();
    let mut events = Vec::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(90);
    loop {
        let chunk = tokio::time::timeout_at(deadline, response.chunk())
            .await
            .expect("the stream ends within 90 s")
            .unwrap();
        let Some(chunk) = chunk else { break };
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(at) = buffer.find("\n\n") {
            let block: String = buffer.drain(..at + 2).collect();
            let (mut event, mut id, mut data) = (String::new(), String::new(), Vec::new());
            for line in block.lines() {
                if let Some(v) = line.strip_prefix("event:") {
                    event = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("id:") {
                    id = v.trim().to_owned();
                } else if let Some(v) = line.strip_prefix("data:") {
                    data.push(v.strip_prefix(' ').unwrap_or(v).to_owned());
                }
            }
            if event.is_empty() {
                continue;
            }
            let ended = event == "end";
            events.push((event, id, data.join("\n")));
            if ended {
                return events;
            }
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_run_page_follows_the_log_while_the_agent_writes_and_resumes_where_it_was() {
    let script = "echo \"key ghp_ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\"\n\
                  for i in 1 2 3 4 5 6; do echo \"step $i <script>alert($i)</script>\"; sleep 0.4; done\n\
                  mkdir -p notes\necho done > notes/$ADE_TASK_ID.md\n";
    let (story, mut browser, run) = running(ForgeKind::Github, script).await;
    let page = browser.get(&run).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let id = run.trim_start_matches("/runs/");

    let events = stream(&browser, &format!("{run}/events?after=0&line=1"), None).await;
    let lines: Vec<&(String, String, String)> = events
        .iter()
        .filter(|(event, _, _)| event == "line")
        .collect();
    assert!(
        lines.len() >= 2,
        "the log arrived as it grew, in more than one event: {events:?}"
    );
    let all: String = lines.iter().map(|(_, _, data)| data.as_str()).collect();
    for i in 1..=6 {
        assert!(
            all.contains(&format!("step {i} &lt;script&gt;alert({i})&lt;/script&gt;")),
            "step {i} in {all}"
        );
    }
    assert!(!all.contains("<script>alert"), "{all}");
    assert!(all.contains("id=\"L1\""), "numbered from 1: {all}");
    let secret = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    assert!(
        all.contains("key ") && !all.contains(secret),
        "the token is masked: {all}"
    );
    assert_eq!(events.last().unwrap().0, "end");

    // A browser that lost the stream after the first event resumes after it.
    let first_id = &lines[0].1;
    let resumed = stream(
        &browser,
        &format!("{run}/events?after=0&line=1"),
        Some(first_id),
    )
    .await;
    let again: String = resumed
        .iter()
        .filter(|(event, _, _)| event == "line")
        .map(|(_, _, data)| data.as_str())
        .collect();
    assert!(!again.contains(&lines[0].2), "nothing sent twice");
    assert!(all.ends_with(&again), "the rest, as it was: {again}");

    // A place to resume from inside a line (here, inside the token's line) is not taken: masking
    // must see the whole line.
    let token_line_end: u64 = lines
        .iter()
        .flat_map(|(_, id, data)| {
            let end: u64 = id.split(':').next().unwrap().parse().unwrap();
            data.contains("key ").then_some(end)
        })
        .next()
        .expect("an event holds the token's line");
    for inside in (1..40).step_by(3) {
        let probe = token_line_end.saturating_sub(inside);
        let events = stream(
            &browser,
            &format!("{run}/events?after={probe}&line=2"),
            None,
        )
        .await;
        let text: String = events.iter().map(|(_, _, data)| data.as_str()).collect();
        assert!(
            !text.contains(&secret[8..]),
            "after={probe} showed part of the token: {text}"
        );
    }

    // Once ended, the page holds the whole log, and a search and a download.
    let page = ended(&mut browser, &run).await;
    assert!(page.body.contains("step 6 &lt;script&gt;"), "{}", page.body);
    assert!(
        page.body.contains("class=\"note\""),
        "ade's notes are told apart"
    );
    assert!(
        !page.body.contains("sse-connect"),
        "nothing to follow once ended"
    );
    let found = browser.get(&format!("{run}?q=STEP+3")).await;
    assert!(
        found.body.contains("id=\"matches\">1 matching"),
        "{}",
        found.body
    );
    let text = browser.get(&format!("{run}/log.txt")).await;
    assert_eq!(text.status, 200);
    assert!(
        text.body.contains("step 6 <script>alert(6)</script>"),
        "as text, as written"
    );

    // Someone who cannot read the repository gets neither the page nor the stream.
    story.sim.add_user("olga");
    let mut outsider = Browser::new(&story);
    outsider.sign_in(&story, "olga").await;
    for path in [
        run.clone(),
        format!("{run}/events"),
        format!("{run}/log.txt"),
    ] {
        assert_eq!(outsider.get(&path).await.status, 404, "{path}");
    }
    assert_eq!(browser.get(&format!("/runs/{id}x")).await.status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hundred_thousand_line_log_is_shown_a_window_at_a_time() {
    let script = "seq 1 100000\nmkdir -p notes\necho done > notes/$ADE_TASK_ID.md\n";
    let (_story, mut browser, run) = running(ForgeKind::Gitea, script).await;
    let last = ended(&mut browser, &run).await;
    assert!(
        last.body.contains(">100000</span>"),
        "{}",
        &last.body[..2000]
    );
    let shown = last.body.matches("<li id=\"L").count();
    assert_eq!(shown, 2000, "the last 2,000 lines");
    assert!(last.body.contains("id=\"earlier\""));
    assert!(!last.body.contains("id=\"L1\""));
    let first = browser.get(&format!("{run}?from=1")).await;
    assert!(first.body.contains("id=\"L1\"") && first.body.contains("id=\"L2000\""));
    assert!(!first.body.contains("id=\"L2001\""));
    assert!(first.body.contains("id=\"later\""));
    assert_eq!(browser.get(&format!("{run}?from=0")).await.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn in_a_real_browser_a_maintainer_signs_in_and_watches_a_run_s_log_grow() {
    let Some(chrome) = super::support::webdriver::Chrome::start().await else {
        return;
    };
    let script = "for i in $(seq 1 24); do echo \"writing part $i of the notes\"; sleep 0.25; done\n\
                  mkdir -p notes\necho done > notes/$ADE_TASK_ID.md\n";
    let (story, _http, run) = running(ForgeKind::Github, script).await;
    let base = story.ade_public_url().unwrap();

    chrome.open(&format!("{base}/")).await;
    chrome
        .until("the sign-in page", |page| {
            page.contains("id=\"signin-github\"")
        })
        .await;
    chrome.screenshot("signin").await;
    chrome.click("#signin-github").await;
    chrome
        .until("the forge's page", |page| page.contains("id=\"login\""))
        .await;
    chrome.type_into("#login", MAINTAINER).await;
    chrome.click("#authorize").await;
    chrome
        .until("the board, signed in", |page| page.contains("id=\"goals\""))
        .await;
    assert!(chrome.text("#viewer").await.contains(MAINTAINER));
    assert_eq!(chrome.url().await, format!("{base}/"));
    chrome.screenshot("board").await;

    chrome.open(&format!("{base}{run}")).await;
    let first = chrome.count("#log li").await;
    chrome
        .until("the log growing in the open page", |page| {
            page.matches("<li id=\"L").count() > first + 3
        })
        .await;
    chrome.screenshot("run").await;
    chrome
        .until("the whole log, followed to its end", |page| {
            page.contains("writing part 24 of the notes")
        })
        .await;
    let lines = chrome.count("#log li").await;
    let numbers: Vec<String> = (1..=lines).map(|n| format!("id=\"L{n}\"")).collect();
    let source = chrome.source().await;
    assert!(
        numbers
            .iter()
            .all(|id| source.matches(id.as_str()).count() == 1),
        "every line once, numbered in order"
    );

    chrome.click("p.muted a").await;
    chrome
        .until("the goal's page", |page| page.contains("Version 1"))
        .await;
    chrome.screenshot("goal").await;

    // Another user, who cannot read the repository, is refused the same pages.
    story.sim.add_user("olga");
    chrome.clear_cookies().await;
    chrome.open(&format!("{base}/signin")).await;
    chrome.click("#signin-github").await;
    chrome
        .until("the forge's page", |page| page.contains("id=\"login\""))
        .await;
    chrome.type_into("#login", "olga").await;
    chrome.click("#authorize").await;
    chrome
        .until("olga's board", |page| page.contains("id=\"empty\""))
        .await;
    chrome.open(&format!("{base}{run}")).await;
    chrome
        .until("the refusal", |page| page.contains("Not found"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_dashboard_session_reads_the_api_as_its_pages_show_it() {
    let story = Story::with_dashboard(ForgeKind::Gitea, false, false).await;
    planned(&story, GOAL, CHECKLIST).await;
    let api = |browser: &Browser, path: &str| {
        let request = reqwest::Client::new()
            .get(format!("{}{path}", browser.base))
            .header(
                "cookie",
                format!(
                    "ade_session={}",
                    browser.cookie("ade_session").unwrap_or("")
                ),
            );
        async move {
            let answer = request.send().await.unwrap();
            let status = answer.status().as_u16();
            let text = answer.text().await.unwrap();
            (
                status,
                serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            )
        }
    };
    let mut mia = Browser::new(&story);
    let board = mia.sign_in(&story, MAINTAINER).await;
    let id = first_goal_link(&board.body)
        .trim_start_matches("/goals/")
        .to_owned();
    let (status, goals) = api(&mia, "/api/v1/goals").await;
    assert_eq!(status, 200, "{goals}");
    assert_eq!(goals["items"][0]["title"], GOAL);
    let (status, goal) = api(&mia, &format!("/api/v1/goals/{id}")).await;
    assert_eq!((status, goal["title"].as_str()), (200, Some(GOAL)));
    let (_, other) = api(&mia, "/api/v1/goals?forge=github").await;
    assert_eq!(
        other["items"],
        serde_json::json!([]),
        "another forge's goals are not theirs"
    );

    story.sim.add_user("olga");
    let mut olga = Browser::new(&story);
    olga.sign_in(&story, "olga").await;
    let (status, goals) = api(&olga, "/api/v1/goals").await;
    assert_eq!(
        (status, goals["items"].clone()),
        (200, serde_json::json!([]))
    );
    let (status, _) = api(&olga, &format!("/api/v1/goals/{id}")).await;
    assert_eq!(status, 404, "a goal olga may not read is not there");

    let board = mia.get("/").await;
    let csrf = super::support::browser::input(&board.body, "csrf").unwrap();
    let cookie = mia.cookie("ade_session").unwrap().to_owned();
    mia.post("/signout", &[("csrf", csrf.as_str())]).await;
    mia.set_cookie("ade_session", &cookie);
    let (status, refused) = api(&mia, "/api/v1/goals").await;
    assert_eq!(status, 401, "an ended session reads nothing: {refused}");
}
