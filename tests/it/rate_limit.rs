//! The per-person command rate limit (`[limits] commands_per_minute`, default 10), on every
//! backend and platform: the 11th command, click or form in a minute is answered "slow down"
//! at once and changes nothing (no request, outbox row, audit event or replay record), other
//! people are unaffected, the allowance comes back as the clock moves, and refusals are counted
//! in `pimbot_commands_limited_total{platform}`.

use std::time::Duration as StdDuration;

use chrono::Duration;
use pimbot::core::state::RequestState;
use pimbot::testing::discord_signing as ds;
use pimbot::testing::signing::text_inputs;
use serde_json::json;
use sqlx::{AssertSqlSafe, Connection, PgConnection, SqliteConnection};

use crate::support::app::{POLICY, TestApp};
use crate::support::db::{TestDb, backends};
use crate::support::discord::{self as dc, ephemeral_text};
use crate::support::teams::{policy as teams_policy, user as teams_user};

const SLOW_DOWN: &str = "Slow down: too many commands. Try again in 6s.";

/// Rows of `table`, read behind the store's back.
async fn count(db: &TestDb, table: &str) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM {table}");
    if db.url.starts_with("postgres") {
        let mut conn = PgConnection::connect(&db.url).await.expect("connect to postgres");
        sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut conn).await.expect("count")
    } else {
        let mut conn = SqliteConnection::connect(&db.url).await.expect("open sqlite");
        sqlx::query_scalar(AssertSqlSafe(sql)).fetch_one(&mut conn).await.expect("count")
    }
}

/// Everything a command could leave behind: requests, outbox rows, audit events, replay records.
async fn footprint(app: &TestApp) -> [i64; 4] {
    let db = &app.db;
    [
        count(db, "requests").await,
        count(db, "outbox").await,
        count(db, "audit_events").await,
        count(db, "seen_requests").await,
    ]
}

/// The sum of `pimbot_commands_limited_total{platform=…}` (the recorder is process-wide, so
/// tests compare before and after).
async fn limited(app: &TestApp, platform: &str) -> f64 {
    let text = reqwest::get(format!("http://{}/metrics", app.running.addr))
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    let label = format!("platform=\"{platform}\"");
    text.lines()
        .filter(|l| l.starts_with("pimbot_commands_limited_total{") && l.contains(&label))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Uses up `user`'s allowance with ten read-only commands.
async fn use_up(app: &TestApp, user: &str) {
    for _ in 0..10 {
        let reply = app.slack.command(user, "status").await.expect("command");
        assert!(!reply.text().contains("Slow down"), "within the limit: {}", reply.text());
    }
}

#[tokio::test]
async fn the_eleventh_slack_command_click_or_form_in_a_minute_is_refused_and_changes_nothing() {
    for db in backends().await {
        let name = db.name;
        let app = TestApp::spawn_with(db, POLICY).await;
        let counted = limited(&app, "slack").await;
        // bob's request waits for carol's decision.
        let (_, pending) = app.activate("U0BOB", "global-admin 1h #INC-7 rotate a secret").await;
        app.settle().await;
        let card = app.card(&pending);

        use_up(&app, "U0ALICE").await;
        use_up(&app, "U0CAROL").await;
        let before = footprint(&app).await;
        let reply = app.slack.command("U0ALICE", "activate reader 1h check the logs").await.expect("command");
        assert_eq!(reply.status, 200, "{name}");
        assert!(reply.text().contains(SLOW_DOWN), "{name}: {}", reply.text());
        let click = app.slack.click("U0CAROL", "approve", pending.as_str(), "C0APPROVERS", &card.ts).await;
        assert_eq!(click.expect("click").status, 200, "{name}: acknowledged, not acted on");
        let form = app
            .slack
            .submit("U0CAROL", "deny_reason", pending.as_str(), text_inputs(&[("reason", "not now")]))
            .await
            .expect("submit");
        assert!(form.body.contains("errors") && form.body.contains(SLOW_DOWN), "{name}: {}", form.body);
        let told = app.fake.wait_for("response_url", 1, StdDuration::from_secs(5)).await.expect("told");
        assert!(told.iter().any(|c| c.body.to_string().contains(SLOW_DOWN)), "{name}: {told:?}");
        app.settle().await;
        assert_eq!(footprint(&app).await, before, "{name}: nothing was recorded or sent");
        assert_eq!(app.request(&pending).await.state, RequestState::Pending, "{name}");
        assert!(limited(&app, "slack").await >= counted + 3.0, "{name}: counted");

        // Someone else is unaffected.
        let (_, other) = app.activate("U0BOB", "reader 30m look around").await;
        app.settle().await;
        assert_eq!(app.request(&other).await.state, RequestState::Active, "{name}");

        // A minute later the allowance is back.
        app.advance(Duration::minutes(1));
        let (_, mine) = app.activate("U0ALICE", "reader 1h check the logs").await;
        app.settle().await;
        assert_eq!(app.request(&mine).await.state, RequestState::Active, "{name}");
        assert_eq!(app.click("U0CAROL", "approve", &pending).await.status, 200);
        app.settle().await;
        assert_eq!(app.request(&pending).await.state, RequestState::Active, "{name}: approved now");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_configured_limit_applies_and_discord_interactions_are_limited_alike() {
    for db in backends().await {
        let name = db.name;
        let policy = format!("{}\n[limits]\ncommands_per_minute = 2\n", dc::policy());
        let app = TestApp::spawn_with_discord_policy(db, &policy).await;
        let counted = limited(&app, "discord").await;
        for _ in 0..2 {
            let text = ephemeral_text(&app.interact(&ds::command(dc::ALICE, "status", &[])).await);
            assert!(!text.contains("Slow down"), "{name}: {text}");
        }
        let before = footprint(&app).await;
        let options = [("role", "reader"), ("duration", "1h"), ("justification", "check the logs")];
        let text = ephemeral_text(&app.interact(&ds::command(dc::ALICE, "activate", &options)).await);
        assert!(text.contains("Slow down") && text.contains("Try again in 30s"), "{name}: {text}");
        assert_eq!(footprint(&app).await, before, "{name}: nothing was recorded");
        assert!(limited(&app, "discord").await >= counted + 1.0, "{name}: counted");
        // PING and autocomplete are not commands.
        let pong = app.interact(&ds::ping()).await;
        assert_eq!(dc::response(&pong)["type"], 1, "{name}");
        // bob is unaffected; alice gets one command back after 30 s.
        let text = ephemeral_text(&app.interact(&ds::command(dc::BOB, "activate", &options)).await);
        assert!(text.contains("r-"), "{name}: {text}");
        app.advance(Duration::seconds(30));
        let text = ephemeral_text(&app.interact(&ds::command(dc::ALICE, "activate", &options)).await);
        assert!(text.contains("r-"), "{name}: {text}");
        app.stop().await;
    }
}

#[tokio::test]
async fn teams_clicks_over_the_limit_are_answered_and_typed_commands_dropped() {
    for db in backends().await {
        let name = db.name;
        let policy = format!("{}\n[limits]\ncommands_per_minute = 1\n", teams_policy());
        let app = TestApp::spawn_with_teams(db, &policy).await;
        let fake = app.fake_teams();
        let (status, _) = app
            .teams_send(&fake.personal_message(
                &teams_user("bob"),
                "m-1",
                "activate global-admin 1h #INC-1 fix",
            ))
            .await;
        assert_eq!(status, 200, "{name}");
        app.settle().await;
        let before = footprint(&app).await;
        // bob's second message is over the limit: no reply, nothing recorded.
        let (status, _) = app.teams_send(&fake.personal_message(&teams_user("bob"), "m-2", "status")).await;
        assert_eq!(status, 200, "{name}");
        app.settle().await;
        assert_eq!(footprint(&app).await, before, "{name}: nothing was recorded or queued");
        // carol's first click acts; her second is answered "slow down".
        let id = app.store().open_requests_for(&"bob".into()).await.expect("open")[0].id.clone();
        let card = app.teams_card(id.as_str());
        let data = json!({"requestId": id.as_str()});
        let invoke =
            fake.invoke(&teams_user("carol"), "c-1", &card.conversation, &card.id, "approve", data.clone());
        assert_eq!(app.teams_send(&invoke).await.0, 200);
        app.settle().await;
        let before = footprint(&app).await;
        let invoke = fake.invoke(&teams_user("carol"), "c-2", &card.conversation, &card.id, "deny", data);
        let (status, answer) = app.teams_send(&invoke).await;
        assert_eq!(status, 200, "{name}");
        assert!(answer.to_string().contains("Slow down"), "{name}: {answer}");
        assert_eq!(footprint(&app).await, before, "{name}: nothing was recorded");
        app.stop().await;
    }
}
