//! What Teams is sent and answered, as snapshots (`tests/it/snapshots/teams_*.snap`): the
//! approval Adaptive Card pending and approved, the feed post, a refusal, the help text and the
//! break-glass alarm. Behaviour is asserted in `teams_flow.rs`.

use pimbot::core::ids::RequestId;
use serde_json::{Value, json};

use crate::assert_payload;
use crate::support::app::TestApp;
use crate::support::db;
use crate::support::teams::{ALERTS, APPROVERS, FEED, policy, text_of, user};

/// The last reply in `who`'s personal chat after typing `text` there.
async fn say(app: &TestApp, who: &str, msg_id: &str, text: &str) -> Value {
    let fake = app.fake_teams();
    let (status, _) = app.teams_send(&fake.personal_message(&user(who), msg_id, text)).await;
    assert_eq!(status, 200);
    app.settle().await;
    app.teams_dms(who).last().map(|m| m.activity.clone()).expect("a reply")
}

#[tokio::test]
async fn teams_card_feed_refusal_and_help() {
    let app = TestApp::spawn_with_teams(db::sqlite().await, &policy()).await;
    let reply = say(&app, "alice", "m-1", "activate global-admin 1h #INC-4711 rotate leaked secret").await;
    let text = reply["text"].as_str().unwrap_or_default().to_owned();
    let id = text.split('`').find(|w| w.starts_with("r-")).map(RequestId::from).expect("request id in reply");
    assert_payload!("teams_reply_submitted", reply);
    let fake = app.fake_teams();
    assert_payload!("teams_card_pending", fake.expect_thread(APPROVERS, id.as_str()).body);
    assert_payload!("teams_feed_submitted", fake.expect_thread(FEED, id.as_str()).body);

    let card = app.teams_card(id.as_str());
    let data = json!({"requestId": id.as_str()});
    let own = fake.invoke(&user("alice"), "f:1", &card.conversation, &card.id, "approve", data.clone());
    assert_payload!("teams_refusal_own_request", app.teams_send(&own).await.1);
    let approve = fake.invoke(&user("carol"), "f:2", &card.conversation, &card.id, "approve", data);
    let (_, answer) = app.teams_send(&approve).await;
    assert_payload!("teams_invoke_approved", answer);
    app.settle().await;
    assert_payload!("teams_card_approved", fake.expect_update(id.as_str()).body);

    let help = say(&app, "alice", "m-2", "help").await;
    assert!(text_of(&app.teams_dms("alice")[0]).contains(id.as_str()));
    assert_payload!("teams_help", help);
    app.stop().await;
}

#[tokio::test]
async fn teams_break_glass_alarm() {
    let policy = format!(
        "{}\n[break_glass_monitor]\nwebhook_token = \"bg-token\"\n\n\
         [[break_glass]]\nupn = \"bg1@contoso.onmicrosoft.com\"\nobject_id = \"26be570a-ae82-4189-b4e2-a37c6808512d\"\n",
        policy()
    );
    let app = TestApp::spawn_with_teams(db::sqlite().await, &policy).await;
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
    assert_payload!(
        "teams_alarm",
        app.fake_teams().expect_thread(ALERTS, "bg1@contoso.onmicrosoft.com").body
    );
    app.stop().await;
}
