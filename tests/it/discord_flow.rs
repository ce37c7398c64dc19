//! End-to-end flows over Discord: signed interactions in, cards and notices out to a fake
//! Discord REST API, with Slack enabled alongside (people have both ids).

use std::future::Future;
use std::time::Duration as StdDuration;

use chrono::Duration;
use pimbot::core::ids::{PersonId, Platform, RequestId};
use pimbot::core::outbox::{DeliveryOutcome, OutboxItem, OutgoingMessage, Target};
use pimbot::core::ports::ChatSender;
use pimbot::core::state::RequestState;
use pimbot::core::view::{MessageBody, Notice};
use pimbot::testing::discord_signing::{self as ds, signed_discord_headers};
use pimbot::testing::{FAKE_DISCORD_TOKEN, FakeDiscord};
use serde_json::json;

use crate::support::app::{NowTs, TestApp};
use crate::support::discord::{self as dc, card, ephemeral_text, response};

async fn each_backend<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in crate::support::db::backends().await {
        let name = db.name;
        let app = TestApp::spawn_with_discord(db).await;
        tokio::time::timeout(StdDuration::from_secs(60), test(app))
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

async fn activate(app: &TestApp, user: &str, options: &[(&str, &str)]) -> RequestId {
    let text = ephemeral_text(&app.interact(&ds::command(user, "activate", options)).await);
    let id = text.split('`').find(|w| w.starts_with("r-")).map(RequestId::from);
    id.unwrap_or_else(|| panic!("no request id in reply: {text}"))
}

fn ga(why: &str) -> Vec<(&'static str, String)> {
    vec![
        ("role", "global-admin".into()),
        ("duration", "1h".into()),
        ("justification", why.into()),
        ("ticket", "#INC-4711".into()),
    ]
}

fn opts<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, s)| (*k, s.as_str())).collect()
}

async fn click(app: &TestApp, user: &str, custom_id: &str, id: &RequestId) -> serde_json::Value {
    let card = card(app.fake_discord(), id.as_str());
    let reply = app.interact(&ds::click(user, &format!("{custom_id}:{id}"), dc::APPROVERS, &card.id)).await;
    assert_eq!(reply.status, 200, "{reply:?}");
    response(&reply)
}

#[tokio::test]
async fn ping_is_answered_with_pong_and_bad_signatures_with_401() {
    each_backend(|app: TestApp| async move {
        let pong = app.interact(&ds::ping()).await;
        assert_eq!((pong.status, response(&pong)["type"].clone()), (200, json!(1)));

        let driver = &app.discord.as_ref().expect("discord").1;
        let body = ds::command(dc::ALICE, "activate", &opts(&ga("x"))).to_string();
        let now = app.clock.now_ts();
        let mut tampered = signed_discord_headers(now, &body);
        tampered[0].1 = ds::discord_signature(&now.to_string(), "{}");
        let mut truncated = signed_discord_headers(now, &body);
        truncated[0].1.truncate(100);
        for headers in [
            vec![("content-type".to_owned(), "application/json".to_owned())],
            signed_discord_headers(now - 400, &body),
            tampered,
            truncated,
        ] {
            assert_eq!(driver.post_raw(body.clone(), headers).await.status, 401);
        }
        let malformed = "{\"type\": \"nope\"}";
        assert_eq!(
            driver.post_raw(malformed.into(), signed_discord_headers(now, malformed)).await.status,
            400
        );
        assert!(app.store().open_requests_for(&PersonId::from("alice")).await.expect("read").is_empty());
        assert_eq!(app.store().outbox_depth().await.expect("depth"), 0, "nothing stored");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn activate_posts_a_card_and_only_an_approver_can_approve_it() {
    each_backend(|app: TestApp| async move {
        let id = activate(&app, dc::ALICE, &opts(&ga("rotate leaked secret"))).await;
        app.settle().await;
        let fake = app.fake_discord();
        let posted = card(fake, id.as_str());
        let buttons = &posted.components[0]["components"];
        assert_eq!(
            (buttons[0]["custom_id"].clone(), buttons[1]["custom_id"].clone()),
            (json!(format!("approve:{id}")), json!(format!("deny:{id}")))
        );
        assert!(posted.content.contains(&format!("<@{}>", dc::CAROL)) && !posted.content.contains(dc::ALICE));
        assert_eq!(posted.allowed_mentions["users"], json!([dc::CAROL, dc::DAVE]));
        assert!(
            posted.embeds.to_string().contains("INC-4711")
                && posted.embeds.to_string().contains("rotate leaked secret")
        );

        let own = click(&app, dc::ALICE, "approve", &id).await;
        assert!(own["data"]["content"].as_str().unwrap_or_default().contains("your own request"), "{own}");
        assert_eq!(own["data"]["flags"], 64);
        let outsider = click(&app, dc::BOB, "approve", &id).await;
        assert!(
            outsider["data"]["content"].as_str().unwrap_or_default().contains("not an approver"),
            "{outsider}"
        );
        assert_eq!(app.request(&id).await.state, RequestState::Pending);

        let ok = click(&app, dc::CAROL, "approve", &id).await;
        assert!(ok["data"]["content"].as_str().unwrap_or_default().contains("approved"), "{ok}");
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        let decided = card(fake, id.as_str());
        assert_eq!(decided.components, json!([]), "buttons removed");
        assert!(decided.edits >= 1 && decided.content.contains(&format!("Approved by <@{}>", dc::CAROL)));
        assert!(fake.dms(dc::ALICE).iter().any(|m| m.content.contains("approved")), "requester DM'd");
        // The role is emphasised in Discord's own markup: `**bold**`, not Slack's `*bold*`
        // (which Discord shows as italics).
        let dms: Vec<String> = fake.dms(dc::ALICE).into_iter().map(|m| m.content).collect();
        assert!(dms.iter().any(|c| c.contains("for **global-admin** was approved")), "{dms:#?}");
        assert!(dms.iter().all(|c| !c.replace("**", "").contains('*')), "{dms:#?}");
        assert!(fake.calls().iter().all(|c| c.failure.is_none()), "{:#?}", fake.failed_calls());
        // What Discord was sent, and nothing else (the refusals were interaction answers).
        fake.expect_post(dc::APPROVERS, id.as_str());
        fake.expect_post(dc::FEED, id.as_str());
        fake.expect_edit(id.as_str());
        fake.expect_post(dc::FEED, "carol approved");
        fake.expect_post(dc::FEED, "alice is now");
        fake.expect_dm(dc::ALICE, "approved");
        fake.expect_dm(dc::ALICE, "You are now");
        fake.assert_nothing_unexpected();
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn deny_opens_a_modal_whose_submission_denies_with_the_reason() {
    each_backend(|app: TestApp| async move {
        let id = activate(&app, dc::ALICE, &opts(&ga("look around"))).await;
        app.settle().await;
        let refused = click(&app, dc::ALICE, "deny", &id).await;
        assert_eq!(refused["type"], 4, "the requester gets no form: {refused}");
        let modal = click(&app, dc::CAROL, "deny", &id).await;
        assert_eq!(modal["type"], 9, "{modal}");
        assert_eq!(modal["data"]["custom_id"], format!("deny_reason:{id}"));
        let submit =
            ds::modal_submit(dc::CAROL, &format!("deny_reason:{id}"), &[("reason", "no incident open")]);
        assert!(ephemeral_text(&app.interact(&submit).await).contains("denied"));
        app.settle().await;
        let request = app.request(&id).await;
        assert_eq!(
            (request.state, request.reason.as_deref()),
            (RequestState::Denied, Some("no incident open"))
        );
        let decided = card(app.fake_discord(), id.as_str());
        assert_eq!(decided.components, json!([]));
        assert!(decided.embeds.to_string().contains("no incident open"));
        let unknown = app.interact(&ds::click(dc::CAROL, "launch:missiles", dc::APPROVERS, "1")).await;
        assert!(ephemeral_text(&unknown).contains("Unknown action"));
        let fake = app.fake_discord();
        fake.expect_post(dc::APPROVERS, id.as_str());
        fake.expect_post(dc::FEED, id.as_str());
        fake.expect_edit("no incident open");
        fake.expect_post(dc::FEED, "denied");
        fake.expect_dm(dc::ALICE, "denied");
        fake.assert_nothing_unexpected();
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_slack_request_is_decided_on_discord_and_the_slack_click_comes_too_late() {
    each_backend(|app: TestApp| async move {
        let (_, id) = app.activate("U0ALICE", "global-admin 1h #INC-1 cross platform").await;
        app.settle().await;
        assert!(card(app.fake_discord(), id.as_str()).embeds.to_string().contains("cross platform"));
        click(&app, dc::CAROL, "approve", &id).await;
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        assert_eq!(app.click("U0DAVE", "approve", &id).await.status, 200);
        app.settle().await;
        assert!(app.ephemerals("U0DAVE").iter().any(|m| m.text.contains("already")), "Slack click refused");
        let late = click(&app, dc::DAVE, "approve", &id).await;
        assert!(late["data"]["content"].as_str().unwrap_or_default().contains("already"), "{late}");
        assert_eq!(app.request(&id).await.approvals.len(), 1);
        assert!(
            !app.card(&id).blocks.to_string().contains("\"action_id\":\"approve\""),
            "Slack card updated"
        );
        assert_eq!(card(app.fake_discord(), id.as_str()).components, json!([]), "Discord card updated");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn long_text_is_cut_to_discords_limits_and_a_429_delays_but_delivers_once() {
    // The longest justification a policy may allow still exceeds an embed field.
    let policy = dc::policy().replacen("[[person]]", "[limits]\nmax_justification = 2000\n\n[[person]]", 1);
    for db in crate::support::db::backends().await {
        let app = TestApp::spawn_with_discord_policy(db, &policy).await;
        let fake = app.fake_discord();
        fake.rate_limit_next(1, 2);
        let long = "why ".repeat(500);
        let mut fields = ga(&long);
        fields[3].1 = format!("#{}", "T".repeat(90));
        let id = activate(&app, dc::ALICE, &opts(&fields)).await;
        fake.wait_until(StdDuration::from_secs(5), |_| !fake.failed_calls().is_empty()).await.ok();
        tokio::time::sleep(StdDuration::from_millis(200)).await;
        assert!(fake.channel(dc::APPROVERS).is_empty(), "nothing delivered before Retry-After");
        app.advance(Duration::seconds(3));
        app.settle().await;
        let cards: Vec<_> = fake
            .channel(dc::APPROVERS)
            .into_iter()
            .filter(|m| m.embeds.to_string().contains(id.as_str()))
            .collect();
        assert_eq!(cards.len(), 1, "delivered exactly once");
        let embed = &cards[0].embeds[0];
        let justification = embed["fields"]
            .as_array()
            .expect("fields")
            .iter()
            .find(|f| f["name"] == "Justification")
            .expect("field");
        assert!(justification["value"].as_str().expect("value").chars().count() <= 1024);
        assert_eq!(fake.failed_calls().len(), 1, "{:#?}", fake.failed_calls());
        app.stop().await;
    }
}

#[tokio::test]
async fn autocomplete_offers_the_callers_eligible_roles() {
    each_backend(|app: TestApp| async move {
        let reply = app.interact(&ds::autocomplete(dc::BOB, "activate", &[("role", "READ")], "role")).await;
        let v = response(&reply);
        assert_eq!(v["type"], 8, "{v}");
        assert_eq!(v["data"]["choices"], json!([{"name": "Global Reader (reader)", "value": "reader"}]));
        let help = ephemeral_text(&app.interact(&ds::command(dc::BOB, "help", &[])).await);
        assert!(help.starts_with("**pimbot** gives you"), "{help}");
        assert!(
            help.contains("\n• `/pim activate role duration justification [ticket]`: request a role"),
            "{help}"
        );
        // One help text: Discord lists exactly the commands Slack's help lists.
        let slack = app.slack.command("U0ALICE", "help").await.expect("help").text();
        assert!(slack.starts_with("*pimbot* gives you"), "{slack}");
        let listed = pimbot::core::help::commands_listed;
        assert_eq!(listed(&help), listed(&slack));
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_paging_notice_allows_everyone_and_plain_notices_only_their_users() {
    let fake = FakeDiscord::start().await;
    let api = pimbot::discord::DiscordApi::new(&fake.api_url(), FAKE_DISCORD_TOKEN).expect("client");
    let sender = pimbot::discord::DiscordSender::new(std::sync::Arc::new(api));
    let now = chrono::Utc::now();
    let next_id = std::sync::atomic::AtomicI64::new(1);
    let send = |notice: Notice, target: Target| {
        let message = OutgoingMessage {
            platform: Platform::Discord,
            target,
            body: MessageBody::Notice(notice),
            order_key: "k".into(),
            remember_as: None,
        };
        OutboxItem::fresh(next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed), message, now)
    };
    let alarm = Notice { text: "🚨 break-glass sign-in".into(), mentions: vec![], page_channel: true };
    let outcome =
        sender.deliver(&send(alarm, Target::Channel { channel: dc::ALERTS.into() }), None, now).await;
    assert!(matches!(outcome, DeliveryOutcome::Sent(None)), "{outcome:?}");
    let plain = Notice::mentioning("please decide", vec![dc::CAROL.into()]);
    sender.deliver(&send(plain, Target::User { user: dc::ALICE.into() }), None, now).await;
    let messages = fake.messages();
    assert_eq!(messages[0].content, "@everyone 🚨 break-glass sign-in");
    assert_eq!(messages[0].allowed_mentions["parse"], json!(["everyone"]));
    assert_eq!(messages[0].to_wire()["mention_everyone"], true);
    assert_eq!(messages[1].dm_user.as_deref(), Some(dc::ALICE));
    assert_eq!(messages[1].allowed_mentions, json!({"parse": [], "users": [dc::CAROL], "roles": []}));

    fake.fail_next(1, 503);
    let retry =
        sender.deliver(&send(Notice::text("x"), Target::Channel { channel: "1".into() }), None, now).await;
    assert!(
        matches!(retry, DeliveryOutcome::Unconfirmed(at, _) if at == now + Duration::seconds(2)),
        "a 503 on a create may have created it: {retry:?}"
    );
    fake.fail_next(1, 403);
    let rejected =
        sender.deliver(&send(Notice::text("x"), Target::Channel { channel: "1".into() }), None, now).await;
    assert!(matches!(rejected, DeliveryOutcome::Rejected(_)), "{rejected:?}");
    let replace = send(Notice::text("x"), Target::Replace { ref_key: "card:r-1".into() });
    assert!(
        matches!(sender.deliver(&replace, None, now).await, DeliveryOutcome::RetryAt(at, _) if at == now + Duration::seconds(5))
    );
}

#[tokio::test]
async fn register_puts_the_command_tree_through_serenity() {
    let fake = FakeDiscord::start().await;
    let http =
        pimbot::discord::commands::http_client(&fake.api_url(), FAKE_DISCORD_TOKEN, 290926444748734465)
            .expect("client");
    let names = pimbot::discord::commands::register(&http, Some(42)).await.expect("registered");
    assert_eq!(names, ["pim"]);
    let calls = fake.calls();
    assert_eq!(calls[0].path, "/api/v10/applications/290926444748734465/guilds/42/commands");
    assert_eq!(fake.registered_commands()[0]["name"], "pim");
    pimbot::discord::commands::register(&http, None).await.expect("global");
    assert_eq!(fake.calls()[1].path, "/api/v10/applications/290926444748734465/commands");
}

#[tokio::test]
async fn a_repeated_create_with_the_same_nonce_returns_the_first_message() {
    let fake = FakeDiscord::start().await;
    let api = pimbot::discord::DiscordApi::new(&fake.api_url(), FAKE_DISCORD_TOKEN).expect("client");
    let sender = pimbot::discord::DiscordSender::new(std::sync::Arc::new(api));
    let now = chrono::Utc::now();
    let message = OutgoingMessage {
        platform: Platform::Discord,
        target: Target::Channel { channel: dc::APPROVERS.into() },
        body: MessageBody::Notice(Notice::text("card")),
        order_key: "r-1".into(),
        remember_as: Some("card:r-1".into()),
    };
    let item = OutboxItem::fresh(77, message, now);
    let DeliveryOutcome::Sent(Some(first)) = sender.deliver(&item, None, now).await else { panic!("posted") };
    let again = OutboxItem { in_doubt: true, attempts: 1, ..item.clone() };
    assert_eq!(sender.deliver(&again, None, now).await, DeliveryOutcome::Sent(Some(first.clone())));
    let creates: Vec<_> = fake.calls().into_iter().filter(|c| c.path.ends_with("/messages")).collect();
    assert_eq!(creates.len(), 2, "both attempts reached Discord");
    assert!(
        creates.iter().all(|c| c.body["nonce"] == "77" && c.body["enforce_nonce"] == true),
        "{creates:?}"
    );
    assert_eq!(fake.channel(dc::APPROVERS).len(), 1, "but one message exists");

    // Another row's create is a new message; a removed channel is a refusal with its reason.
    let other = OutboxItem::fresh(78, item.message.clone(), now);
    assert!(
        matches!(sender.deliver(&other, None, now).await, DeliveryOutcome::Sent(Some(p)) if p.message_id != first.message_id)
    );
    fake.remove_channel(dc::FEED);
    let gone =
        OutgoingMessage { target: Target::Channel { channel: dc::FEED.into() }, ..item.message.clone() };
    let refused = sender.deliver(&OutboxItem::fresh(79, gone, now), None, now).await;
    assert_eq!(refused, DeliveryOutcome::Rejected("unknown_channel".into()));
}
