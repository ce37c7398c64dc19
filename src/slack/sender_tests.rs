//! The Slack sender and client against the fake Slack: targets, updates, threads, failures.

use std::time::Duration;

use chrono::{TimeZone, Utc};

use super::*;
use crate::core::outbox::OutgoingMessage;
use crate::core::view::{CardStatus, CardView, MessageBody, Notice, PersonRef};
use crate::testing::{FAKE_BOT_TOKEN, FakeSlack};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).single().expect("valid time")
}

fn sender_for(fake: &FakeSlack) -> SlackSender {
    SlackSender::new(Arc::new(SlackApi::new(&fake.api_url(), FAKE_BOT_TOKEN).expect("client")))
}

fn card(status: CardStatus) -> MessageBody {
    let who = |name: &str, id: &str| PersonRef { name: name.into(), chat_id: Some(id.into()) };
    MessageBody::Card(Box::new(CardView {
        request_id: "r-1".into(),
        requester: who("alice", "UA"),
        role_key: "global-admin".into(),
        role_name: "Global Administrator".into(),
        scope: "/".into(),
        tier: "critical".into(),
        duration: "1h".into(),
        justification: "rotate keys".into(),
        ticket: None,
        approvals: vec![],
        approvals_required: 1,
        sla: "5m".into(),
        approvers: vec![who("carol", "UC")],
        status,
    }))
}

/// A claimed outbox row (a fresh id each time) carrying the message.
fn msg(target: Target, body: MessageBody, remember_as: Option<&str>) -> OutboxItem {
    static NEXT_ID: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(1);
    let message = OutgoingMessage {
        platform: Platform::Slack,
        target,
        body,
        order_key: "r-1".into(),
        remember_as: remember_as.map(str::to_owned),
    };
    let id = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    OutboxItem::fresh(id, message, crate::core::audit::truncate_micros(Utc::now()))
}

/// The same row again, as claimed after an attempt whose outcome was never recorded.
fn in_doubt(item: &OutboxItem) -> OutboxItem {
    OutboxItem { in_doubt: true, attempts: 1, ..item.clone() }
}

fn channel(c: &str) -> Target {
    Target::Channel { channel: c.into() }
}

fn note(text: &str) -> MessageBody {
    MessageBody::Notice(Notice::text(text))
}

async fn post_card(sender: &SlackSender) -> PostedRef {
    let m = msg(channel("C0APPROVERS"), card(CardStatus::Open), Some("card:r-1"));
    match sender.deliver(&m, None, now()).await {
        DeliveryOutcome::Sent(Some(posted)) => posted,
        other => panic!("card not posted: {other:?}"),
    }
}

#[tokio::test]
async fn card_is_posted_then_replaced_in_place() {
    let fake = FakeSlack::start().await;
    let sender = sender_for(&fake);
    let posted = post_card(&sender).await;
    assert_eq!(posted.platform, Platform::Slack);
    assert_eq!(posted.ref_key, "card:r-1");
    assert_eq!(posted.channel, "C0APPROVERS");
    let call = &fake.calls_to("chat.postMessage")[0];
    assert_eq!(call.body["blocks"].as_array().map(|b| b.iter().any(|b| b["type"] == "actions")), Some(true));

    let by = PersonRef { name: "carol".into(), chat_id: Some("UC".into()) };
    let decided = msg(
        Target::Replace { ref_key: "card:r-1".into() },
        card(CardStatus::Approved { by: vec![by] }),
        None,
    );
    assert_eq!(sender.deliver(&decided, Some(&posted), now()).await, DeliveryOutcome::Sent(None));
    let update = &fake.calls_to("chat.update")[0];
    assert_eq!(update.body["ts"], posted.message_id.as_str());
    assert_eq!(update.body["channel"], "C0APPROVERS");
    let now_shown = fake.message("C0APPROVERS", &posted.message_id).expect("message kept");
    assert_eq!(now_shown.edits, 1);
    assert!(!now_shown.blocks.to_string().contains("\"actions\""));
    assert!(now_shown.text.contains("Approved by <@UC>"));
}

#[tokio::test]
async fn replace_before_the_card_exists_waits() {
    let fake = FakeSlack::start().await;
    let m = msg(Target::Replace { ref_key: "card:r-1".into() }, card(CardStatus::Cancelled), None);
    let outcome = sender_for(&fake).deliver(&m, None, now()).await;
    assert!(matches!(outcome, DeliveryOutcome::RetryAt(at, _) if at == now() + chrono::Duration::seconds(5)));
    assert!(fake.all_calls().is_empty());
}

#[tokio::test]
async fn thread_reply_uses_the_parent_ts_and_falls_back_to_the_channel() {
    let fake = FakeSlack::start().await;
    let sender = sender_for(&fake);
    let parent = post_card(&sender).await;
    let thread = || Target::Thread { channel: "C0APPROVERS".into(), parent: "card:r-1".into() };
    let reply = msg(thread(), note("reminder"), None);
    assert_eq!(sender.deliver(&reply, Some(&parent), now()).await, DeliveryOutcome::Sent(None));
    assert_eq!(sender.deliver(&reply, None, now()).await, DeliveryOutcome::Sent(None));
    let posts = fake.calls_to("chat.postMessage");
    assert_eq!(posts[1].body["thread_ts"], parent.message_id.as_str());
    assert!(posts[2].body.get("thread_ts").is_none());
    let transcript = fake.transcript();
    assert!(transcript.contains("        ↳ ["), "{transcript}");
    assert!(transcript.contains("[Approve] [Deny]"), "{transcript}");
}

#[tokio::test]
async fn direct_message_is_remembered_under_the_dm_channel() {
    let fake = FakeSlack::start().await;
    let sender = sender_for(&fake);
    let m = msg(Target::User { user: "U0ALICE".into() }, note("approved"), Some("dm:r-1"));
    let DeliveryOutcome::Sent(Some(posted)) = sender.deliver(&m, None, now()).await else {
        panic!("not sent")
    };
    assert_eq!(fake.calls_to("chat.postMessage")[0].body["channel"], "U0ALICE");
    assert_eq!(posted.channel, "D0ALICE");
    let m = msg(Target::Replace { ref_key: "dm:r-1".into() }, note("expired"), None);
    assert_eq!(sender.deliver(&m, Some(&posted), now()).await, DeliveryOutcome::Sent(None));
}

#[tokio::test]
async fn ephemeral_goes_to_post_ephemeral() {
    let fake = FakeSlack::start().await;
    let target = Target::Ephemeral { channel: "C0APPROVERS".into(), user: "U0BOB".into() };
    let m = msg(target, note("you cannot approve your own request"), Some("ignored"));
    assert_eq!(sender_for(&fake).deliver(&m, None, now()).await, DeliveryOutcome::Sent(None));
    let call = &fake.calls_to("chat.postEphemeral")[0];
    assert_eq!(call.body["user"], "U0BOB");
    assert!(fake.transcript().contains("ephemeral, only U0BOB sees it"));
}

#[tokio::test]
async fn failures_are_classified() {
    let fake = FakeSlack::start().await;
    let sender = sender_for(&fake);
    let m = msg(channel("C0FEED"), note("x"), None);
    let at = |secs| now() + chrono::Duration::seconds(secs);

    fake.rate_limit_next(1, 7);
    assert!(matches!(sender.deliver(&m, None, now()).await, DeliveryOutcome::RetryAt(t, _) if t == at(7)));
    fake.fail_next(1, 500);
    let outcome = sender.deliver(&m, None, now()).await;
    assert!(
        matches!(outcome, DeliveryOutcome::Unconfirmed(t, _) if t == at(2)),
        "a 500 may have posted: {outcome:?}"
    );
    fake.fail_with_error_next(1, "ratelimited");
    assert!(matches!(sender.deliver(&m, None, now()).await, DeliveryOutcome::RetryAt(t, _) if t == at(30)));
    fake.fail_with_error_next(1, "channel_not_found");
    assert_eq!(sender.deliver(&m, None, now()).await, DeliveryOutcome::Rejected("channel_not_found".into()));
    fake.fail_next(1, 403);
    assert!(matches!(sender.deliver(&m, None, now()).await, DeliveryOutcome::Rejected(_)));

    assert_eq!(fake.failed_calls().len(), 5);
    assert!(fake.calls().is_empty());
    assert_eq!(sender.deliver(&m, None, now()).await, DeliveryOutcome::Sent(None));
    assert_eq!(fake.calls_to("chat.postMessage").len(), 1);
}

#[tokio::test]
async fn wrong_token_is_rejected() {
    let fake = FakeSlack::start().await;
    let api = SlackApi::new(&fake.api_url(), "xoxb-wrong").expect("client");
    let m = msg(channel("C0FEED"), note("x"), None);
    let outcome = SlackSender::new(Arc::new(api)).deliver(&m, None, now()).await;
    assert_eq!(outcome, DeliveryOutcome::Rejected("invalid_auth".into()));
}

#[tokio::test]
async fn silent_server_and_closed_port_are_transient() {
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = silent.local_addr().expect("addr");
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((sock, _)) = silent.accept().await {
            open.push(sock);
        }
    });
    let api = SlackApi::new(&format!("http://{addr}/api/"), FAKE_BOT_TOKEN)
        .expect("client")
        .with_timeout(Duration::from_millis(200));
    let err = api.post_message("C1", render::notice(&Notice::text("x")), None).await.expect_err("times out");
    assert!(matches!(err, SlackApiError::Transient(ref e) if e.contains("timed out")), "{err:?}");
    held.abort();

    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = closed.local_addr().expect("addr");
    drop(closed);
    let api = SlackApi::new(&format!("http://{addr}/api"), FAKE_BOT_TOKEN).expect("client");
    let err = api.post_message("C1", render::notice(&Notice::text("x")), None).await.expect_err("refused");
    assert!(matches!(err, SlackApiError::Transient(_)), "{err:?}");
    assert!(SlackApi::new("ftp://x", "t").is_err());
}

#[tokio::test]
async fn modals_open_and_response_urls_replace_the_clicked_message() {
    let fake = FakeSlack::start().await;
    let api = SlackApi::new(&fake.api_url(), FAKE_BOT_TOKEN).expect("client");
    let roles = vec![("global-admin".to_owned(), "Global Administrator".to_owned())];
    api.views_open("t.1", render::activate_modal(&roles)).await.expect("activate modal");
    api.views_open("t.2", render::deny_modal("r-1")).await.expect("deny modal");
    assert_eq!(fake.views_opened(), 2);
    assert_eq!(fake.calls_to("views.open")[1].body["view"]["private_metadata"], "r-1");

    let ts =
        api.post_message("C0APPROVERS", render::notice(&Notice::text("card")), None).await.expect("post").ts;
    let url = fake.response_url("C0APPROVERS", &ts);
    api.respond(&url, render::notice(&Notice::text("decided")), true).await.expect("respond");
    assert_eq!(fake.message("C0APPROVERS", &ts).map(|m| m.text), Some("decided".into()));
    assert_eq!(fake.wait_for("response_url", 1, Duration::from_secs(1)).await.map(|c| c.len()), Ok(1));
    assert!(fake.wait_for("chat.update", 1, Duration::from_millis(30)).await.is_err());
}

#[tokio::test]
async fn replacing_a_card_with_a_notice_clears_its_buttons() {
    let fake = FakeSlack::start().await;
    let sender = sender_for(&fake);
    let posted = post_card(&sender).await;
    let m = msg(Target::Replace { ref_key: "card:r-1".into() }, note("withdrawn"), None);
    assert_eq!(sender.deliver(&m, Some(&posted), now()).await, DeliveryOutcome::Sent(None));
    assert_eq!(fake.calls_to("chat.update")[0].body["blocks"], serde_json::json!([]));
    let shown = fake.message(&posted.channel, &posted.message_id).expect("kept");
    assert_eq!((shown.text.as_str(), shown.blocks.clone()), ("withdrawn", serde_json::json!([])));
}

#[tokio::test]
async fn every_post_names_its_outbox_row_in_metadata() {
    let fake = FakeSlack::start().await;
    let m = msg(channel("C0FEED"), note("x"), None);
    assert_eq!(sender_for(&fake).deliver(&m, None, now()).await, DeliveryOutcome::Sent(None));
    let metadata = &fake.calls_to("chat.postMessage")[0].body["metadata"];
    assert_eq!(metadata["event_type"], "pimbot_outbox");
    assert_eq!(metadata["event_payload"]["outbox_id"], m.id.to_string());
}

#[tokio::test]
async fn a_row_in_doubt_adopts_its_earlier_post_instead_of_posting_again() {
    let fake = FakeSlack::start().await;
    let sender = sender_for(&fake);
    // The first attempt posted, but its outcome was never recorded (the process died).
    let card = msg(channel("C0APPROVERS"), card(CardStatus::Open), Some("card:r-1"));
    let DeliveryOutcome::Sent(Some(first)) = sender.deliver(&card, None, now()).await else {
        panic!("posted")
    };
    // Other traffic in the channel meanwhile, some of it with other apps' metadata.
    for i in 0..5 {
        sender.deliver(&msg(channel("C0APPROVERS"), note(&format!("other {i}")), None), None, now()).await;
    }
    let again = sender.deliver(&in_doubt(&card), None, now()).await;
    assert_eq!(again, DeliveryOutcome::Sent(Some(first.clone())), "the earlier post is adopted");
    assert_eq!(fake.calls_to("chat.postMessage").len(), 6, "no second card");
    let lookup = &fake.calls_to("conversations.history")[0];
    assert_eq!(lookup.body["include_all_metadata"], "true");
    assert_eq!(lookup.body["channel"], "C0APPROVERS");

    // A thread reply in doubt is looked for in the thread; a DM in the DM channel.
    let reply =
        msg(Target::Thread { channel: "C0APPROVERS".into(), parent: "card:r-1".into() }, note("r"), None);
    assert_eq!(sender.deliver(&reply, Some(&first), now()).await, DeliveryOutcome::Sent(None));
    assert_eq!(sender.deliver(&in_doubt(&reply), Some(&first), now()).await, DeliveryOutcome::Sent(None));
    assert_eq!(fake.calls_to("conversations.replies").len(), 1);
    let dm = msg(Target::User { user: "U0ALICE".into() }, note("approved"), Some("dm:r-1"));
    let DeliveryOutcome::Sent(Some(dm_first)) = sender.deliver(&dm, None, now()).await else { panic!("dm") };
    assert_eq!(sender.deliver(&in_doubt(&dm), None, now()).await, DeliveryOutcome::Sent(Some(dm_first)));
    assert_eq!(fake.calls_to("conversations.open").len(), 1);
    assert_eq!(fake.calls_to("chat.postMessage").len(), 8, "every message exactly once");
}

#[tokio::test]
async fn a_row_in_doubt_that_never_landed_is_posted_once() {
    let fake = FakeSlack::start().await;
    let sender = sender_for(&fake);
    let m = in_doubt(&msg(channel("C0FEED"), note("x"), None));
    assert_eq!(sender.deliver(&m, None, now()).await, DeliveryOutcome::Sent(None));
    assert_eq!(fake.calls_to("conversations.history").len(), 1);
    assert_eq!(fake.calls_to("chat.postMessage").len(), 1);

    // Without the history scope the lookup is refused: post anyway, never drop the message.
    fake.fail_with_error_next(1, "missing_scope");
    let m = in_doubt(&msg(channel("C0FEED"), note("y"), None));
    assert_eq!(sender.deliver(&m, None, now()).await, DeliveryOutcome::Sent(None));
    assert_eq!(fake.calls_to("chat.postMessage").len(), 2);

    // A lookup that fails for now keeps the row in doubt for the next try; nothing is posted.
    fake.fail_next(1, 503);
    let m = in_doubt(&msg(channel("C0FEED"), note("z"), None));
    assert!(matches!(
        sender.deliver(&m, None, now()).await,
        DeliveryOutcome::RetryAt(..) | DeliveryOutcome::Unconfirmed(..)
    ));
    assert_eq!(fake.calls_to("chat.postMessage").len(), 2);
}
