//! Durability: a Slack outage delays messages without losing or duplicating them, and a
//! restart ends overdue grants at once.

use chrono::Duration;
use pimbot::core::state::RequestState;

use crate::on_every_backend;
use crate::support::app::{APPROVERS, TestApp};

fn delivered(app: &TestApp, method: &str, channel: &str) -> usize {
    app.fake
        .calls_to(method)
        .iter()
        .filter(|c| c.failure.is_none() && c.body["channel"] == channel && c.body.get("thread_ts").is_none())
        .count()
}

#[tokio::test]
async fn slack_outage_delays_messages_but_delivers_each_exactly_once_in_order() {
    on_every_backend!(|app: TestApp| async move {
        app.fake.fail_next(4, 503);
        let (reply, id) = app.activate("U0ALICE", "global-admin 1h #INC-5 outage drill").await;
        assert!(reply.text().contains("waiting for approval"), "commands are acknowledged during an outage");
        // Steps stay well inside the outbox claim lease: a jump past it while a row is in
        // flight would (rightly) let a second dispatcher take the row.
        for _ in 0..64 {
            app.running.dispatcher.deliver_due().await.expect("pass");
            app.advance(Duration::seconds(5));
        }
        app.settle().await;
        assert_eq!(delivered(&app, "chat.postMessage", APPROVERS), 1, "the card arrives once");
        assert!(app.fake.failed_calls().len() >= 4);

        // 429: nothing is retried before Retry-After.
        app.fake.rate_limit_next(1, 120);
        app.click("U0CAROL", "approve", &id).await;
        app.running.dispatcher.deliver_due().await.expect("pass");
        let updates_before = delivered(&app, "chat.update", APPROVERS);
        for _ in 0..12 {
            app.advance(Duration::seconds(5));
            app.running.dispatcher.deliver_due().await.expect("pass");
        }
        assert_eq!(delivered(&app, "chat.update", APPROVERS), updates_before, "waits for Retry-After");
        for _ in 0..13 {
            app.advance(Duration::seconds(5));
            app.running.dispatcher.deliver_due().await.expect("pass");
        }
        app.settle().await;
        assert_eq!(delivered(&app, "chat.update", APPROVERS), updates_before + 1, "then delivers once");
        assert_eq!(app.request(&id).await.state, RequestState::Active);

        // Per-request order: the card update came before the feed line about the approval.
        let calls = app.fake.calls();
        let update_at = calls.iter().position(|c| c.failure.is_none() && c.method == "chat.update");
        let approved_feed_at = calls
            .iter()
            .position(|c| c.body["channel"] == "C0FEED" && c.body.to_string().contains("approved"));
        assert!(update_at < approved_feed_at, "card update precedes the feed line");
        app.stop().await;
    });
}

#[tokio::test]
async fn overdue_grants_end_immediately_after_a_restart() {
    for db in crate::support::db::backends().await {
        let app = TestApp::spawn(db).await;
        let (_, id) = app.activate("U0BOB", "reader 30m investigate").await;
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        let db = app.stop().await;

        // Down for two hours; the grant was due to end 90 minutes ago.
        let app = TestApp::spawn(db).await;
        app.advance(Duration::hours(2));
        pimbot::scheduler::sweep_once(&app.running.service).await;
        assert_eq!(app.request(&id).await.state, RequestState::Expired, "ended on the first sweep");
        let records = app.store().audit_records(None).await.expect("audit");
        let ended = records.iter().find(|r| r.event.kind == "grant.expired").expect("expiry audited");
        assert!(ended.event.detail["late_ms"].as_i64().unwrap_or(0) > 0, "lateness recorded");
        app.stop().await;
    }
}

#[tokio::test]
async fn postgres_backend_was_exercised() {
    let names: Vec<&str> = crate::support::db::backends().await.iter().map(|d| d.name).collect();
    if std::env::var_os("CI").is_some() {
        assert!(names.contains(&"postgres"), "CI must run the PostgreSQL tests: {names:?}");
    }
    assert!(names.contains(&"sqlite"));
}
