//! One open request per person and role, and replays: racing identical activations leave one
//! request and one card, and a replayed signed command, click or form (Slack) or interaction
//! (Discord) is answered without acting again, also when it reaches another replica sharing
//! the database. On SQLite and PostgreSQL.

use std::collections::HashMap;

use pimbot::core::state::RequestState;
use pimbot::testing::discord_signing::signed_discord_headers;
use pimbot::testing::signing::{
    block_action_form, signed_slack_headers, slash_command_form, text_inputs, trigger_id,
    view_submission_form,
};

use crate::support::app::{APPROVERS, NowTs, POLICY, SECRET, TestApp};
use crate::support::db::{TestDb, backends};
use crate::support::discord::{self as dc, ephemeral_text};

async fn racing_activations(n: usize) {
    for db in backends().await {
        let name = db.name;
        // The database must hold the line, not the rate limit (which is per replica).
        let policy = format!("{POLICY}\n[limits]\ncommands_per_minute = 100\n");
        let app = TestApp::spawn_with(db, &policy).await;
        let replies = futures::future::join_all(
            (0..n).map(|_| app.slack.command("U0ALICE", "activate user-admin 1h racing to the same role")),
        )
        .await;
        let mut outcomes: HashMap<&str, usize> = HashMap::new();
        let mut ids = std::collections::BTreeSet::new();
        for reply in &replies {
            let reply = reply.as_ref().expect("answered");
            assert_eq!(reply.status, 200, "{reply:?}");
            let text = reply.text();
            let kind = if text.contains("waiting for approval") {
                "filed"
            } else if text.contains("you already have request") {
                "refused"
            } else {
                panic!("{name}: unexpected reply {text}")
            };
            *outcomes.entry(kind).or_default() += 1;
            ids.extend(text.split('`').filter(|w| w.starts_with("r-")).map(str::to_owned));
        }
        assert_eq!(outcomes.get("filed"), Some(&1), "{name}: {outcomes:?}");
        assert_eq!(outcomes.get("refused"), Some(&(n - 1)), "{name}: {outcomes:?}");
        assert_eq!(ids.len(), 1, "{name}: every refusal names the one request: {ids:?}");
        app.settle().await;
        assert_eq!(app.channel(APPROVERS).len(), 1, "{name}: one card");
        assert_eq!(app.store().open_requests_for(&"alice".into()).await.expect("open").len(), 1);
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn eight_racing_activations_leave_one_request_and_one_card() {
    racing_activations(8).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_racing_activations_leave_one_request_and_one_card() {
    racing_activations(50).await;
}

/// Sends a signed request again to `app` and to a second replica on the same database (own
/// fakes, own clock), started for the replay and stopped after it, so it delivers nothing of
/// `app`'s own messages.
async fn replay_everywhere(
    app: &TestApp,
    path: &str,
    body: &str,
    headers: &[(String, String)],
) -> Vec<pimbot::demo::driver::Reply> {
    let replica = TestApp::spawn_with(TestDb::replica(&app.db).await, POLICY).await;
    let mut replies = Vec::new();
    for to in [app, &replica] {
        replies.push(to.slack.post_with(path, body.to_owned(), headers).await.expect("post"));
    }
    replica.stop().await;
    replies
}

/// Alice's `/pim` command `text`, signed now: the form body and its headers.
fn alices_signed_command(app: &TestApp, text: &str) -> (String, Vec<(String, String)>) {
    let body = slash_command_form("U0ALICE", text, "http://127.0.0.1:9/h", &trigger_id());
    let headers = signed_slack_headers(SECRET, app.clock.now_ts(), &body);
    (body, headers)
}

#[tokio::test]
async fn a_replayed_command_click_or_form_changes_nothing_on_any_replica() {
    for db in backends().await {
        let name = db.name;
        let app = TestApp::spawn(db).await;
        let post = async |path: &str, body: &str, headers: &[(String, String)]| {
            app.slack.post_with(path, body.to_owned(), headers).await.expect("post")
        };

        // A signed command, replayed on both replicas inside the signature window.
        let (body, headers) = alices_signed_command(&app, "activate reader 30m quick look");
        let first = post("/slack/commands", &body, &headers).await;
        assert!(first.text().contains("needs no approval"), "{name}: {}", first.text());
        app.settle().await;
        for again in replay_everywhere(&app, "/slack/commands", &body, &headers).await {
            assert_eq!(again.status, 200);
            assert!(again.text().contains("already received"), "{name}: {}", again.text());
        }
        let open = app.store().open_requests_for(&"alice".into()).await.expect("open");
        assert_eq!(open.len(), 1, "{name}: no extension filed by the replay");
        assert_eq!(open[0].state, RequestState::Active);

        // The activate form, replayed: it would otherwise file an extension.
        let values =
            text_inputs(&[("role", "reader"), ("duration", "30m"), ("justification", "via the form")]);
        let form = view_submission_form("U0BOB", "activate", "", values);
        let headers = signed_slack_headers(SECRET, app.clock.now_ts(), &form);
        assert_eq!(post("/slack/interactions", &form, &headers).await.status, 200);
        app.settle().await;
        for again in replay_everywhere(&app, "/slack/interactions", &form, &headers).await {
            assert_eq!(again.status, 200);
        }
        let bob = app.store().open_requests_for(&"bob".into()).await.expect("open");
        assert_eq!((bob.len(), bob[0].state), (1, RequestState::Active), "{name}");

        // A click, replayed: the approval counts once and nobody is told twice.
        let (_, id) = app.activate("U0ALICE", "user-admin 1h one click").await;
        app.settle().await;
        let card = app.card(&id);
        let click =
            block_action_form("U0CAROL", "approve", id.as_str(), APPROVERS, &card.ts, "http://127.0.0.1:9/h");
        let headers = signed_slack_headers(SECRET, app.clock.now_ts(), &click);
        assert_eq!(post("/slack/interactions", &click, &headers).await.status, 200);
        app.settle().await;
        for again in replay_everywhere(&app, "/slack/interactions", &click, &headers).await {
            assert_eq!(again.status, 200);
        }
        app.settle().await;
        let request = app.request(&id).await;
        assert_eq!((request.state, request.approvals.len()), (RequestState::Pending, 1), "{name}");
        assert!(app.ephemerals("U0CAROL").is_empty(), "{name}: the replays were not even refused aloud");
        let audit = app.store().audit_records(None).await.expect("audit");
        assert_eq!(audit.iter().filter(|r| r.event.kind == "approval.recorded").count(), 1, "{name}");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_replayed_discord_interaction_is_answered_without_acting() {
    for db in backends().await {
        let name = db.name;
        let app = TestApp::spawn_with_discord(db).await;
        let payload = pimbot::testing::discord_signing::command(
            dc::ALICE,
            "activate",
            &[("role", "reader"), ("duration", "30m"), ("justification", "replay drill")],
        );
        let body = payload.to_string();
        let headers = signed_discord_headers(app.clock.now_ts(), &body);
        let driver = &app.discord.as_ref().expect("discord").1;
        let first = ephemeral_text(&driver.post_raw(body.clone(), headers.clone()).await);
        assert!(first.contains("needs no approval"), "{name}: {first}");
        app.settle().await;
        let again = ephemeral_text(&driver.post_raw(body, headers).await);
        assert!(again.contains("already received"), "{name}: {again}");
        let open = app.store().open_requests_for(&"alice".into()).await.expect("open");
        assert_eq!((open.len(), open[0].state), (1, RequestState::Active), "{name}");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_redelivered_socket_mode_envelope_is_acted_on_once() {
    for db in backends().await {
        let name = db.name;
        let app = TestApp::spawn_socket_mode(db).await;
        let socket = app.socket();
        socket.wait_connections(1, std::time::Duration::from_secs(15)).await.expect("pimbot connects");
        let payload = pimbot::testing::signing::slash_command_payload(
            "U0ALICE",
            "activate reader 30m over the socket",
            &app.fake.response_url("C0CMD", "1"),
            &trigger_id(),
        );
        let text = |ack: &serde_json::Value| ack["payload"]["text"].as_str().unwrap_or_default().to_owned();
        let first = socket.slash_command(payload.clone()).await.expect("acked");
        assert!(text(&first).contains("needs no approval"), "{name}: {first}");
        let again = socket.slash_command(payload).await.expect("acked");
        assert!(text(&again).contains("already received"), "{name}: {again}");
        assert_eq!(app.store().open_requests_for(&"alice".into()).await.expect("open").len(), 1, "{name}");
        app.stop().await;
    }
}

/// Copies of one signed command racing each other, on this replica and on a second one sharing
/// the database: the command's replay key goes in with what it changes, so exactly one copy
/// acts and every other is answered as a replay, whichever commit came first. A command that
/// changes nothing (`/pim status`) records its key by itself and is a replay afterwards too.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_copies_of_one_signed_command_act_once_on_any_replica() {
    for db in backends().await {
        let name = db.name;
        // The database must hold the line, not the rate limit (which is per replica).
        let policy = format!("{POLICY}\n[limits]\ncommands_per_minute = 100\n");
        let app = TestApp::spawn_with(db, &policy).await;
        let replica = TestApp::spawn_with(TestDb::replica(&app.db).await, &policy).await;
        let (body, headers) = alices_signed_command(&app, "activate reader 30m racing copies");
        let copies = (0..32).map(|i| {
            let to = if i % 2 == 0 { &app } else { &replica };
            to.slack.post_with("/slack/commands", body.clone(), &headers)
        });
        let replies = futures::future::join_all(copies).await;
        let texts: Vec<String> = replies.iter().map(|r| r.as_ref().expect("answered").text()).collect();
        let acted = texts.iter().filter(|t| t.contains("needs no approval")).count();
        let replayed = texts.iter().filter(|t| t.contains("already received")).count();
        assert_eq!((acted, replayed), (1, 31), "{name}: {texts:?}");
        app.settle().await;
        let open = app.store().open_requests_for(&"alice".into()).await.expect("open");
        assert_eq!(open.len(), 1, "{name}: one request");
        let audit = app.store().audit_records(None).await.expect("audit");
        let submitted = audit.iter().filter(|r| r.event.kind == "request.submitted").count();
        assert_eq!(submitted, 1, "{name}: one submission recorded");
        // A copy that ran into the original's request wrote no refusal of its own either.
        let refused = audit.iter().filter(|r| r.event.kind == "request.refused").count();
        assert_eq!(refused, 0, "{name}: nothing recorded for the copies");

        let status = slash_command_form("U0BOB", "status", "http://127.0.0.1:9/h", &trigger_id());
        let headers = signed_slack_headers(SECRET, app.clock.now_ts(), &status);
        let first = app.slack.post_with("/slack/commands", status.clone(), &headers).await.expect("post");
        assert!(!first.text().contains("already received"), "{name}: {}", first.text());
        let again = replica.slack.post_with("/slack/commands", status, &headers).await.expect("post");
        assert!(again.text().contains("already received"), "{name}: {}", again.text());
        replica.stop().await;
        app.stop().await;
    }
}
