//! What Discord is sent and answered, as snapshots (`tests/it/snapshots/discord_*.snap`): the
//! approval message with its components, pending and approved, the feed post, the reply to
//! `/pim activate`, a refusal, the help text and the break-glass alarm. Behaviour is asserted
//! in `discord_flow.rs` and `discord_alarm.rs`.

use pimbot::core::ids::RequestId;
use pimbot::testing::discord_signing as ds;
use serde_json::Value;

use crate::assert_payload;
use crate::support::app::TestApp;
use crate::support::db;
use crate::support::discord::{self as dc, card, response};

#[tokio::test]
async fn discord_card_feed_refusal_and_help() {
    let app = TestApp::spawn_with_discord(db::sqlite().await).await;
    let options = [
        ("role", "global-admin"),
        ("duration", "1h"),
        ("justification", "rotate leaked secret"),
        ("ticket", "#INC-4711"),
    ];
    let reply = response(&app.interact(&ds::command(dc::ALICE, "activate", &options)).await);
    let text = reply["data"]["content"].as_str().unwrap_or_default().to_owned();
    let id = text.split('`').find(|w| w.starts_with("r-")).map(RequestId::from).expect("request id in reply");
    assert_payload!("discord_reply_submitted", reply);
    app.settle().await;
    let fake = app.fake_discord();
    assert_payload!("discord_card_pending", fake.expect_post(dc::APPROVERS, id.as_str()).body);
    assert_payload!("discord_feed_submitted", fake.expect_post(dc::FEED, id.as_str()).body);

    let posted = card(fake, id.as_str());
    let click = |user: &str| ds::click(user, &format!("approve:{id}"), dc::APPROVERS, &posted.id);
    assert_payload!("discord_refusal_own_request", response(&app.interact(&click(dc::ALICE)).await));
    app.interact(&click(dc::CAROL)).await;
    app.settle().await;
    let edits: Vec<Value> = fake
        .calls()
        .into_iter()
        .filter(|c| c.method == "PATCH" && c.path.ends_with(&format!("/messages/{}", posted.id)))
        .map(|c| c.body)
        .collect();
    assert_payload!("discord_card_approved", edits.last().cloned().expect("the card was edited"));

    let help = response(&app.interact(&ds::command(dc::ALICE, "help", &[])).await);
    assert_payload!("discord_help", help);
    app.stop().await;
}

#[tokio::test]
async fn discord_break_glass_alarm() {
    let policy = format!(
        "{}\n[break_glass_monitor]\nwebhook_token = \"bg-token\"\n\n[[break_glass]]\nupn = \"bg1@contoso.onmicrosoft.com\"\n",
        dc::policy()
    );
    let app = TestApp::spawn_with_discord_policy(db::sqlite().await, &policy).await;
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
    let alarm = app.fake_discord().expect_post(dc::ALERTS, "bg1@contoso.onmicrosoft.com");
    assert_payload!("discord_alarm", alarm.body);
    app.stop().await;
}
