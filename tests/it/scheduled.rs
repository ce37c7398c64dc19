//! Scheduled starts (`/pim activate <role> <duration> in 2h …`) end to end against the fake
//! Graph, on SQLite and PostgreSQL: approved now, no directory call before the start, the grant
//! at the start and its end at start + duration; cancel before the start sends nothing; a
//! restart (a fresh app over the same database) and a second replica neither hasten nor
//! repeat the grant.

use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use pimbot::core::ids::RequestId;
use pimbot::core::ports::Clock;
use pimbot::core::state::RequestState;
use pimbot::testing::FakeGraph;

use crate::support::app::{FEED, TestApp};
use crate::support::db::TestDb;
use crate::support::graph_app::{
    self, Knobs, audit_kinds, fake_assignments, on_every_backend, wait_for_agreement,
};

/// Actions of the schedule requests the fake Graph accepted, in order.
fn actions(fake: &FakeGraph) -> Vec<String> {
    fake.accepted_requests()
        .into_iter()
        .filter(|c| c.path.contains("ScheduleRequests"))
        .map(|c| c.body["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// alice asks for global-admin for 30m starting in 2h; carol approves; returns the request and
/// its start.
async fn scheduled_and_approved(app: &TestApp) -> (RequestId, DateTime<Utc>) {
    let t0 = app.clock.now();
    let (reply, id) = app.activate("U0ALICE", "global-admin 30m in 2h change window CHG-7").await;
    assert!(reply.text().contains("starting"), "the reply says when it starts: {}", reply.text());
    app.settle().await;
    let card = app.card(&id).blocks.to_string();
    assert!(card.contains("starting"), "the card says when it starts: {card}");
    let clicked = app.click("U0CAROL", "approve", &id).await;
    assert_eq!(clicked.status, 200, "{clicked:?}");
    app.settle().await;
    let request = app.request(&id).await;
    assert_eq!(request.state, RequestState::Approved, "approved now, in office hours");
    let start = request.starts_at.expect("the request records its start");
    assert_eq!(start, t0 + Duration::hours(2));
    (id, start)
}

/// Nothing was asked of the directory and no grant row exists.
async fn nothing_granted(app: &TestApp, fake: &FakeGraph, id: &RequestId) {
    assert!(actions(fake).is_empty(), "no directory call before the start: {:?}", actions(fake));
    assert!(fake_assignments(fake).is_empty());
    assert!(app.store().open_grants(100).await.expect("grants").is_empty(), "no grant row for {id}");
}

#[tokio::test]
async fn a_scheduled_activation_is_approved_now_granted_at_its_start_and_ended_at_its_end() {
    on_every_backend(Knobs::default(), |app, fake| async move {
        let (id, start) = scheduled_and_approved(&app).await;
        let feed: Vec<String> = app.channel(FEED).iter().map(|m| m.text.clone()).collect();
        assert!(feed.iter().any(|t| t.contains(&id.to_string()) && t.contains("starting")), "{feed:?}");
        let status = app.slack.command("U0ALICE", "status").await.expect("status").text();
        assert!(status.contains("scheduled") && status.contains(&id.to_string()), "{status}");

        app.clock.set(start - Duration::seconds(1));
        app.settle().await;
        nothing_granted(&app, &fake, &id).await;
        assert_eq!(app.request(&id).await.state, RequestState::Approved);

        app.clock.set(start);
        wait_for_agreement(&app, &fake, StdDuration::from_secs(30)).await;
        let request = app.request(&id).await;
        assert_eq!(request.state, RequestState::Active);
        let grant = app.store().grant(request.grant_id.as_ref().expect("grant id")).await.expect("read");
        let grant = grant.expect("grant row");
        assert_eq!((grant.starts_at, grant.ends_at), (start, start + Duration::minutes(30)));
        assert_eq!(actions(&fake), ["adminAssign"]);
        assert_eq!(fake_assignments(&fake).len(), 1);
        // The sweep asked at the start: the schedule starts then and lasts the duration.
        let assign =
            fake.accepted_requests().into_iter().find(|c| c.path.contains("ScheduleRequests")).expect("call");
        let info = &assign.body["scheduleInfo"];
        let asked =
            DateTime::parse_from_rfc3339(info["startDateTime"].as_str().unwrap_or_default()).expect("start");
        assert!((asked.with_timezone(&Utc) - start).num_seconds().abs() < 1, "{info}");
        assert_eq!(info["expiration"]["duration"], "PT30M", "{info}");

        app.clock.set(start + Duration::minutes(30));
        wait_for_agreement(&app, &fake, StdDuration::from_secs(30)).await;
        assert_eq!(app.request(&id).await.state, RequestState::Expired);
        assert_eq!(actions(&fake), ["adminAssign", "adminRemove"]);
        assert!(fake_assignments(&fake).is_empty());
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn cancelling_before_the_start_sends_nothing_to_the_directory() {
    on_every_backend(Knobs::default(), |app, fake| async move {
        let (id, start) = scheduled_and_approved(&app).await;
        app.clock.set(start - Duration::minutes(5));
        let reply = app.slack.command("U0ALICE", &format!("cancel {id}")).await.expect("cancel");
        assert_eq!(reply.status, 200, "{reply:?}");
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Cancelled);
        let feed: Vec<String> = app.channel(FEED).iter().map(|m| m.text.clone()).collect();
        assert!(feed.iter().any(|t| t.contains("before its start; nothing was granted")), "{feed:?}");

        app.clock.set(start + Duration::hours(1));
        app.settle().await;
        nothing_granted(&app, &fake, &id).await;
        assert_eq!(app.request(&id).await.state, RequestState::Cancelled);
        assert!(!audit_kinds(&app).await.iter().any(|k| k.starts_with("grant.")));
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_restart_before_the_start_neither_loses_nor_hastens_the_grant() {
    for db in crate::support::db::backends().await {
        let name = db.name;
        let fake = FakeGraph::start().await;
        let toml = graph_app::policy(&fake, &Knobs::default());
        let run = async {
            let app = graph_app::spawn(db, &toml).await;
            let (id, start) = scheduled_and_approved(&app).await;
            let db = app.stop().await;

            // A fresh process over the same database, its clock 10 minutes before the start.
            let app = graph_app::spawn(db, &toml).await;
            app.clock.set(start - Duration::minutes(10));
            app.settle().await;
            nothing_granted(&app, &fake, &id).await;

            app.clock.set(start + Duration::seconds(1));
            wait_for_agreement(&app, &fake, StdDuration::from_secs(30)).await;
            assert_eq!(app.request(&id).await.state, RequestState::Active);
            assert_eq!(actions(&fake), ["adminAssign"]);
            let grant = app.store().open_grants(10).await.expect("grants");
            assert_eq!(grant.len(), 1);
            assert_eq!(grant[0].ends_at, start + Duration::minutes(30), "ends at start + duration");
            app.stop().await;
        };
        tokio::time::timeout(StdDuration::from_secs(120), run)
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

#[tokio::test]
async fn two_replicas_make_a_scheduled_grant_once() {
    for db in crate::support::db::backends().await {
        let name = db.name;
        let fake = FakeGraph::start().await;
        let toml = graph_app::policy(&fake, &Knobs::default());
        let run = async {
            let app = graph_app::spawn(db, &toml).await;
            // The replica starts once the card is out: each replica posts to its own fake
            // workspace, and the first replica's checks read the card from its own.
            let (id, start) = scheduled_and_approved(&app).await;
            let replica = graph_app::spawn(TestDb::replica(&app.db).await, &toml).await;
            replica.clock.set(start - Duration::seconds(30));
            replica.settle().await;
            nothing_granted(&app, &fake, &id).await;

            app.clock.set(start);
            replica.clock.set(start);
            let (a, b) = tokio::join!(
                app.running.settle(StdDuration::from_secs(30)),
                replica.running.settle(StdDuration::from_secs(30))
            );
            a.expect("first replica settles");
            b.expect("second replica settles");
            wait_for_agreement(&app, &fake, StdDuration::from_secs(30)).await;
            assert_eq!(app.request(&id).await.state, RequestState::Active);
            assert_eq!(actions(&fake), ["adminAssign"], "one directory call for the grant");
            let activated = audit_kinds(&app).await.iter().filter(|k| *k == "grant.activated").count();
            assert_eq!(activated, 1, "recorded once");
            let feed: Vec<String> = app.channel(FEED).iter().map(|m| m.text.clone()).collect();
            let feed_lines = feed.iter().filter(|t| t.contains("is now *global-admin*")).count();
            let replica_lines =
                replica.channel(FEED).iter().filter(|m| m.text.contains("is now *global-admin*")).count();
            assert_eq!(feed_lines + replica_lines, 1, "announced once");
            replica.stop().await;
            app.stop().await;
        };
        tokio::time::timeout(StdDuration::from_secs(120), run)
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

#[tokio::test]
async fn a_start_beyond_max_start_ahead_or_in_the_past_is_refused_and_changes_nothing() {
    on_every_backend(Knobs::default(), |app, fake| async move {
        for text in [
            "global-admin 30m in 8d x",
            "global-admin 30m at 2020-01-01T10:00Z x",
            "global-admin 30m at 25:00 x",
        ] {
            let reply = app.slack.command("U0ALICE", &format!("activate {text}")).await.expect("command");
            assert_eq!(reply.status, 200);
            assert!(!reply.text().contains("waiting for approval"), "{text}: refused: {}", reply.text());
        }
        app.settle().await;
        assert!(app.store().open_requests_for(&"alice".into()).await.expect("requests").is_empty());
        assert!(actions(&fake).is_empty());
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_slack_form_and_the_discord_option_take_a_start() {
    use crate::support::discord::{self as dc, ephemeral_text};
    use pimbot::testing::discord_signing as ds;
    use pimbot::testing::signing::text_inputs;

    for db in crate::support::db::backends().await {
        let name = db.name;
        let app = TestApp::spawn_with_discord(db).await;
        let run = async {
            let fields = |start: &'static str| {
                text_inputs(&[
                    ("role", "global-admin"),
                    ("duration", "1h"),
                    ("start", start),
                    ("ticket", "CHG-1"),
                    ("justification", "change window"),
                ])
            };
            let bad = app.slack.submit("U0ALICE", "activate", "", fields("tonight")).await.expect("submit");
            assert!(
                bad.body.contains("\"response_action\":\"errors\"") && bad.body.contains("\"start\""),
                "{}",
                bad.body
            );
            let good = app.slack.submit("U0ALICE", "activate", "", fields("in 3h")).await.expect("submit");
            assert!(!good.body.contains("errors"), "{}", good.body);
            app.settle().await;
            let open = app.store().open_requests_for(&"alice".into()).await.expect("requests");
            assert_eq!(open.len(), 1);
            assert_eq!(open[0].starts_at, Some(app.clock.now() + Duration::hours(3)), "the form's start");
            let id = open[0].id.clone();
            assert_eq!(
                app.slack.command("U0ALICE", &format!("cancel {id}")).await.expect("cancel").status,
                200
            );

            let options = [
                ("role", "global-admin"),
                ("duration", "1h"),
                ("justification", "window"),
                ("ticket", "CHG-2"),
                ("start", "in 90m"),
            ];
            let text = ephemeral_text(&app.interact(&ds::command(dc::ALICE, "activate", &options)).await);
            assert!(text.contains("starting"), "{text}");
            let open = app.store().open_requests_for(&"alice".into()).await.expect("requests");
            assert_eq!(open.len(), 1);
            assert_eq!(
                open[0].starts_at,
                Some(app.clock.now() + Duration::minutes(90)),
                "the option's start"
            );
            app.stop().await;
        };
        tokio::time::timeout(StdDuration::from_secs(90), run)
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

#[tokio::test]
async fn an_undecided_scheduled_request_times_out_when_its_window_has_passed() {
    on_every_backend(Knobs::default(), |app, fake| async move {
        // global-admin's request_ttl is 1h; the window (start in 10m, 30m long) ends sooner.
        let (_, id) = app.activate("U0ALICE", "global-admin 30m in 10m change window").await;
        app.settle().await;
        app.advance(Duration::minutes(39));
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Pending, "still inside the window");
        app.advance(Duration::minutes(2));
        for _ in 0..5 {
            app.settle().await;
            if app.request(&id).await.state != RequestState::Pending {
                break;
            }
        }
        assert_eq!(app.request(&id).await.state, RequestState::TimedOut, "the window passed undecided");
        assert!(actions(&fake).is_empty());
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_start_after_the_requesters_eligibility_ends_is_refused() {
    let until = (Utc::now() + Duration::days(1)).format("%Y-%m-%d");
    let tail = format!(
        "\n[[role]]\nkey = \"temp-reader\"\nname = \"Temporary Reader\"\nkind = \"entra-role\"\n\
         directory_id = \"{}\"\ntier = \"standard\"\nmin_duration = \"1m\"\n\
         eligible = [{{ who = \"alice\", until = \"{until}\" }}]\n",
        graph_app::READER
    );
    on_every_backend(Knobs { tail, ..Knobs::default() }, |app, fake| async move {
        let late =
            app.slack.command("U0ALICE", "activate temp-reader 1h in 3d audit").await.expect("command");
        assert!(late.text().contains("ends before"), "{}", late.text());
        assert!(app.store().open_requests_for(&"alice".into()).await.expect("requests").is_empty());
        let (reply, id) = app.activate("U0ALICE", "temp-reader 1h in 1h audit").await;
        assert!(reply.text().contains("starting"), "{}", reply.text());
        assert_eq!(app.request(&id).await.state, RequestState::Approved, "no approval needed; waits");
        app.settle().await;
        assert!(actions(&fake).is_empty(), "nothing before the start");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn at_hh_mm_is_read_in_the_requesters_time_zone() {
    for db in crate::support::db::backends().await {
        let name = db.name;
        let fake = FakeGraph::start().await;
        // Tokyo keeps UTC+9 all year, so the expectation does not depend on the date.
        let toml = graph_app::policy(&fake, &Knobs::default()).replace(
            "upn = \"alice@contoso.com\"\n",
            "upn = \"alice@contoso.com\"\ntimezone = \"Asia/Tokyo\"\n",
        );
        let app = graph_app::spawn(db, &toml).await;
        let run = async {
            let target = app.clock.now() + Duration::hours(3);
            let wall = (target + Duration::hours(9)).format("%H:%M").to_string();
            let (reply, id) =
                app.activate("U0ALICE", &format!("global-admin 30m at {wall} change window")).await;
            assert!(reply.text().contains("starting"), "{}", reply.text());
            let expected = target.date_naive().and_time(
                chrono::NaiveTime::parse_from_str(&target.format("%H:%M").to_string(), "%H:%M")
                    .expect("time"),
            );
            assert_eq!(app.request(&id).await.starts_at, Some(expected.and_utc()), "{wall} in Tokyo");
            app.stop().await;
        };
        tokio::time::timeout(StdDuration::from_secs(60), run)
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}
