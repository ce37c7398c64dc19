//! What Slack is sent, as snapshots (`tests/it/snapshots/slack_*.snap`): the approval card
//! pending, approved, denied and expired (timed out), the feed posts, a refusal, the help text
//! and the break-glass alarm. Behaviour is asserted in `slack_flow.rs`; these show the words
//! and the Block Kit.

use chrono::Duration;
use pimbot::testing::SlackCall;
use pimbot::testing::signing::text_inputs;
use serde_json::Value;

use crate::assert_payload;
use crate::support::app::{ALERTS, APPROVERS, FEED, POLICY, TestApp};
use crate::support::db;

/// The body of the last `chat.update` of the message that names `id`.
fn last_update(app: &TestApp, id: &str) -> Value {
    let updates: Vec<SlackCall> =
        app.fake.calls_to("chat.update").into_iter().filter(|c| c.body.to_string().contains(id)).collect();
    updates.last().map(|c| c.body.clone()).unwrap_or_else(|| panic!("no update of {id}"))
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("a JSON reply ({e}): {body}"))
}

#[tokio::test]
async fn slack_cards_feed_refusal_and_help() {
    let app = TestApp::spawn(db::sqlite().await).await;
    let (reply, id) = app.activate("U0ALICE", "global-admin 1h #INC-4711 rotate leaked secret").await;
    assert_payload!("slack_reply_submitted", json(&reply.body));
    app.settle().await;
    assert_payload!("slack_card_pending", app.fake.expect_post(APPROVERS, id.as_str()).body);
    assert_payload!("slack_feed_submitted", app.fake.expect_post(FEED, id.as_str()).body);

    app.click("U0ALICE", "approve", &id).await;
    app.settle().await;
    assert_payload!("slack_refusal_own_request", app.fake.expect_ephemeral("U0ALICE", "your own").body);

    app.click("U0CAROL", "approve", &id).await;
    app.settle().await;
    assert_payload!("slack_card_approved", last_update(&app, id.as_str()));

    let (_, denied) = app.activate("U0ALICE", "user-admin 1h reset a password").await;
    app.click("U0CAROL", "deny", &denied).await;
    app.fake.wait_for("views.open", 1, std::time::Duration::from_secs(30)).await.expect("deny form opened");
    assert_payload!("slack_deny_form", app.fake.calls_to("views.open")[0].body.clone());
    let reason = text_inputs(&[("reason", "no incident open")]);
    app.slack.submit("U0CAROL", "deny_reason", denied.as_str(), reason).await.expect("submit");
    app.settle().await;
    assert_payload!("slack_card_denied", last_update(&app, denied.as_str()));

    let (_, unanswered) = app.activate("U0BOB", "global-admin 30m #INC-5 look at logs").await;
    app.settle().await;
    app.advance(Duration::minutes(61));
    app.settle().await;
    assert_payload!("slack_card_expired", last_update(&app, unanswered.as_str()));
    let ended = app.fake.expect_post(FEED, "expired");
    assert_payload!("slack_feed_expired", ended.body);

    let help = app.slack.command("U0ALICE", "help").await.expect("help");
    assert_payload!("slack_help", json(&help.body));
    app.stop().await;
}

#[tokio::test]
async fn slack_break_glass_alarm() {
    let policy = format!(
        "{POLICY}\n[break_glass_monitor]\nwebhook_token = \"bg-token\"\n\n\
         [[break_glass]]\nupn = \"bg1@contoso.onmicrosoft.com\"\n"
    );
    let app = TestApp::spawn_with(db::sqlite().await, &policy).await;
    let alert = pimbot::testing::azure_monitor::log_alert_v2(
        "Fired",
        "bg1@contoso.onmicrosoft.com",
        "203.0.113.7",
        "a1",
    );
    let status = reqwest::Client::new()
        .post(format!("http://{}/webhooks/azure-monitor?token=bg-token", app.running.addr))
        .json(&alert)
        .send()
        .await
        .expect("webhook")
        .status();
    assert_eq!(status.as_u16(), 200);
    app.settle().await;
    assert_payload!("slack_alarm", app.fake.expect_post(ALERTS, "bg1@contoso.onmicrosoft.com").body);
    app.stop().await;
}
