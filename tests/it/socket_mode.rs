//! Slack over Socket Mode: pimbot opens the WebSocket (through `apps.connections.open` with the
//! app-level token), commands and clicks arrive as envelopes and are answered in their acks,
//! the Slack HTTP routes are gone, and a `disconnect` makes the client reconnect.

use std::time::Duration;

use pimbot::core::ids::RequestId;
use pimbot::core::state::RequestState;
use pimbot::testing::FAKE_APP_TOKEN;
use pimbot::testing::signing::{
    block_action_payload, slash_command_payload, text_inputs, view_submission_payload,
};
use serde_json::Value;

use crate::support::app::{APPROVERS, TestApp};

const WAIT: Duration = Duration::from_secs(15);

fn command(app: &TestApp, user: &str, text: &str) -> Value {
    let trigger = pimbot::testing::signing::trigger_id();
    slash_command_payload(user, text, &app.fake.response_url("C0CMD", "1"), &trigger)
}

fn reply_text(ack: &Value) -> String {
    ack["payload"]["text"].as_str().unwrap_or_default().to_owned()
}

async fn click(app: &TestApp, user: &str, action: &str, id: &RequestId) -> Value {
    let card = app.card(id);
    let payload = block_action_payload(
        user,
        action,
        id.as_str(),
        APPROVERS,
        &card.ts,
        &app.fake.response_url(APPROVERS, &card.ts),
    );
    app.socket().interactive(payload).await.expect("click acked")
}

async fn flow(app: TestApp) {
    let socket = app.socket();
    socket.wait_connections(1, WAIT).await.expect("pimbot connects");
    let opens = app.fake.calls_to("apps.connections.open");
    assert_eq!(opens.len(), 1, "one socket, opened once");
    assert!(app.fake.failed_calls().is_empty(), "the app token was accepted: {:?}", app.fake.failed_calls());
    assert!(FAKE_APP_TOKEN.starts_with("xapp-"));

    // No inbound URL: the Slack HTTP routes are not mounted.
    assert_eq!(app.slack.command("U0ALICE", "help").await.expect("post").status, 404);
    assert_eq!(app.slack.post("/slack/interactions", "payload={}".into()).await.expect("post").status, 404);

    // `/pim activate …`: the ephemeral reply travels in the ack.
    let ack = socket
        .slash_command(command(&app, "U0ALICE", "activate global-admin 1h #INC-4711 rotate leaked secret"))
        .await
        .expect("command acked");
    assert!(ack["envelope_id"].as_str().is_some_and(|id| id.starts_with("fake-envelope-")), "{ack}");
    assert_eq!(ack["payload"]["response_type"], "ephemeral", "{ack}");
    let text = reply_text(&ack);
    assert!(text.contains("waiting for approval"), "{text}");
    let id = text.split('`').find(|w| w.starts_with("r-")).map(RequestId::from).expect("request id in reply");

    // The card goes out through the Web API.
    app.settle().await;
    assert!(app.card(&id).blocks.to_string().contains("\"action_id\":\"approve\""));

    // The requester's own click is refused (ephemeral via the outbox); an approver decides.
    let ack = click(&app, "U0ALICE", "approve", &id).await;
    assert!(ack.get("payload").is_none(), "a click gets a bare ack: {ack}");
    app.settle().await;
    assert_eq!(app.request(&id).await.state, RequestState::Pending);
    assert!(app.ephemerals("U0ALICE").iter().any(|m| m.text.contains("your own request")));
    click(&app, "U0CAROL", "approve", &id).await;
    app.settle().await;
    assert_eq!(app.request(&id).await.state, RequestState::Active);
    assert!(app.dms("U0ALICE").iter().any(|m| m.text.contains("approved")), "requester told");

    // Slack asks for a refresh: the client drops the socket and opens a new one.
    socket.disconnect("refresh_requested").expect("disconnect sent");
    socket.wait_connections(2, WAIT).await.expect("pimbot reconnects");
    assert_eq!(app.fake.calls_to("apps.connections.open").len(), 2, "a fresh URL for the new socket");

    // The next envelope still works, on the new connection.
    let ack = socket.slash_command(command(&app, "U0ALICE", "status")).await.expect("status acked");
    assert!(reply_text(&ack).contains("global-admin"), "{ack}");

    // A modal with a missing field answers with its `response_action`.
    let submit = view_submission_payload("U0CAROL", "ack_reason", "a-unknown", text_inputs(&[]));
    let ack = socket.interactive(submit).await.expect("submission acked");
    assert_eq!(ack["payload"]["response_action"], "errors", "{ack}");
    assert!(ack["payload"]["errors"]["reason"].as_str().is_some_and(|e| e.contains("reason")), "{ack}");

    // `/pim activate` alone opens the form: a bare ack, then views.open.
    let ack = socket.slash_command(command(&app, "U0ALICE", "activate")).await.expect("form acked");
    assert!(ack.get("payload").is_none(), "the form is the answer, no message: {ack}");
    app.fake.wait_for("views.open", 1, WAIT).await.expect("activate form opened");

    assert!(socket.stray_frames().is_empty(), "only acks came back: {:?}", socket.stray_frames());
    app.stop().await;
}

#[tokio::test]
async fn socket_mode_serves_commands_and_clicks_and_survives_a_reconnect() {
    for db in crate::support::db::backends().await {
        let name = db.name;
        let app = TestApp::spawn_socket_mode(db).await;
        tokio::time::timeout(Duration::from_secs(90), flow(app))
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

#[tokio::test]
async fn stopping_the_app_closes_the_socket() {
    let db = crate::support::db::backends().await.remove(0);
    let app = TestApp::spawn_socket_mode(db).await;
    app.socket().wait_connections(1, WAIT).await.expect("connected");
    let socket = app.socket.as_ref().map(|s| s.url()).expect("socket");
    let TestApp { running, socket: fake_socket, .. } = app;
    running.stop().await;
    let fake_socket = fake_socket.expect("socket");
    let closed = tokio::time::timeout(WAIT, async {
        while fake_socket.open_connections() > 0 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(closed.is_ok(), "socket {socket} still open after stop");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(fake_socket.connections(), 1, "no reconnect after shutdown");
}
