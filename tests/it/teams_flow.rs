//! End-to-end flows over Teams against the fake Bot Framework, with Slack enabled alongside:
//! a request typed in a personal chat, its Adaptive Card with Approve/Deny, the requester's own
//! click refused, the approver's click answered with the updated card and the card replaced
//! for everyone (`PUT`), the grant, the feed, expiry; deny with a reason; a request made on
//! Slack decided on Teams once; SLA reminders as thread replies; commands in a channel answered
//! privately; break-glass alarms paging the alert channel's on-call tag until acknowledged on
//! Teams with a reason; the approver's MFA
//! step-up link shown only to the clicker.

use std::future::Future;
use std::time::Duration as StdDuration;

use chrono::Duration;
use pimbot::core::ids::RequestId;
use pimbot::core::state::RequestState;
use pimbot::directory::DirectoryCall;
use serde_json::{Value, json};

use crate::support::app::TestApp;
use crate::support::teams::{
    ALERTS, APPROVERS, FEED, OIDS, ONCALL_TAG_ID, ONCALL_TAG_NAME, policy, text_of, user,
};

async fn each_backend<F, Fut>(policy_toml: &str, test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in crate::support::db::backends().await {
        let name = db.name;
        let app = TestApp::spawn_with_teams(db, policy_toml).await;
        tokio::time::timeout(StdDuration::from_secs(60), test(app))
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

fn oid(name: &str) -> &'static str {
    OIDS.iter().find(|(n, _)| *n == name).map(|(_, o)| *o).expect("known person")
}

/// Types `text` in `who`'s personal chat; returns the request id named in the reply.
async fn activate(app: &TestApp, who: &str, msg_id: &str, text: &str) -> RequestId {
    let fake = app.fake_teams();
    let (status, _) = app.teams_send(&fake.personal_message(&user(who), msg_id, text)).await;
    assert_eq!(status, 200);
    app.settle().await;
    let reply = app.teams_dms(who).last().map(text_of).unwrap_or_default();
    let id = reply.split('`').find(|w| w.starts_with("r-")).map(RequestId::from);
    id.unwrap_or_else(|| panic!("no request id in reply: {reply}"))
}

/// Clicks `verb` on the Teams card of `id` as `who`; returns the invoke answer.
async fn click(app: &TestApp, who: &str, click_id: &str, id: &RequestId, verb: &str, data: Value) -> Value {
    let card = app.teams_card(id.as_str());
    let fake = app.fake_teams();
    let invoke = fake.invoke(&user(who), click_id, &card.conversation, &card.id, verb, data);
    let (status, body) = app.teams_send(&invoke).await;
    assert_eq!(status, 200, "invoke answers are HTTP 200: {body}");
    body
}

fn card_content(m: &pimbot::testing::TeamsMessage) -> Value {
    m.activity["attachments"][0]["content"].clone()
}

fn has_actions(card: &Value) -> bool {
    card.to_string().contains("Action.Execute")
}

#[tokio::test]
async fn request_card_refusal_approval_grant_feed_and_expiry() {
    each_backend(&policy(), |app: TestApp| async move {
        let id = activate(&app, "alice", "m-1", "activate global-admin 1h #INC-4711 rotate leaked secret").await;
        let card = app.teams_card(id.as_str());
        let content = card_content(&card);
        assert_eq!(content["type"], "AdaptiveCard");
        assert_eq!(content["version"], "1.5");
        assert_eq!(card.activity["attachments"][0]["contentType"], "application/vnd.microsoft.card.adaptive");
        let shown = content.to_string();
        for s in ["Global Administrator", "INC-4711", "rotate leaked secret", "critical", "1h", "0 of 1"] {
            assert!(shown.contains(s), "card shows {s}: {shown}");
        }
        // Approve and Deny are Action.Execute inside ActionSets; deny asks for a reason.
        let actions = content["body"].as_array().expect("body").iter().find(|b| b["type"] == "ActionSet").expect("actions");
        assert_eq!(actions["actions"][0]["verb"], "approve");
        assert_eq!(actions["actions"][1]["card"]["body"][0]["type"], "Input.Text");
        assert_eq!(actions["actions"][1]["card"]["body"][1]["actions"][0]["verb"], "deny");
        // Approvers are mentioned by object id, the requester never.
        let mentioned: Vec<String> = content["msteams"]["entities"]
            .as_array()
            .expect("mentions")
            .iter()
            .map(|e| e["mentioned"]["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert_eq!(mentioned, [oid("carol"), oid("dave")]);
        assert!(app.teams_channel(FEED).iter().any(|m| text_of(m).contains(id.as_str())), "feed announces it");

        // The requester's own click is refused, only to her, and changes nothing.
        let answer = click(&app, "alice", "f:1", &id, "approve", json!({"requestId": id.as_str()})).await;
        assert_eq!(answer["type"], "application/vnd.microsoft.activity.message", "{answer}");
        assert!(answer["value"].as_str().unwrap_or_default().contains("your own request"), "{answer}");
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Pending);
        assert_eq!(app.teams_card(id.as_str()).updates, 0);

        // The approver's click answers with the updated card and replaces it for everyone.
        let answer = click(&app, "carol", "f:2", &id, "approve", json!({"requestId": id.as_str()})).await;
        assert_eq!(answer["statusCode"], 200);
        assert_eq!(answer["type"], "application/vnd.microsoft.card.adaptive", "{answer}");
        assert!(!has_actions(&answer["value"]), "the clicker's card has no buttons: {answer}");
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        let card = app.teams_card(id.as_str());
        assert!(card.updates >= 1, "card PUT in place");
        let content = card_content(&card);
        assert!(!has_actions(&content) && content.to_string().contains("Approved by carol"), "{content}");
        let calls = app.directory.calls();
        assert!(matches!(calls.as_slice(), [DirectoryCall::Grant(spec)] if spec.role.key.as_str() == "global-admin"));
        assert!(app.teams_dms("alice").iter().any(|m| text_of(m).contains("approved")), "requester told");
        let puts = app.fake_teams().calls().into_iter().filter(|c| c.method == "PUT").count();
        assert!(puts >= 1);

        // A late click (or a resent one) changes nothing.
        let answer = click(&app, "dave", "f:3", &id, "approve", json!({"requestId": id.as_str()})).await;
        assert!(answer["value"].as_str().unwrap_or_default().contains("already"), "{answer}");
        assert_eq!(app.request(&id).await.approvals.len(), 1);

        app.advance(Duration::minutes(61));
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Expired);
        assert!(matches!(app.directory.calls().last(), Some(DirectoryCall::Revoke(_))));
        assert!(app.teams_channel(FEED).iter().any(|m| text_of(m).contains("expired")), "feed says it ended");
        assert!(app.fake_teams().problems().is_empty(), "{:?}", app.fake_teams().problems());
        // What Teams was sent, and nothing else (the refusals were invoke answers).
        let fake = app.fake_teams();
        fake.expect_thread(APPROVERS, id.as_str());
        fake.expect_thread(FEED, id.as_str());
        fake.expect_update(id.as_str());
        fake.expect_post("a:personal-", id.as_str());
        fake.expect_thread(FEED, "carol approved");
        fake.expect_thread(FEED, "alice is now");
        fake.expect_post("a:personal-", "approved");
        fake.expect_post("a:personal-", "You are now");
        fake.expect_thread(FEED, "expired");
        fake.expect_post("a:personal-", "expired");
        fake.assert_nothing_unexpected();
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn deny_takes_the_reason_from_the_card() {
    each_backend(&policy(), |app: TestApp| async move {
        let id = activate(&app, "alice", "m-1", "activate global-admin 30m #INC-1 check logs").await;
        let data = json!({"requestId": id.as_str(), "reason": "use the <at>break-glass</at> runbook"});
        let answer = click(&app, "dave", "f:1", &id, "deny", data).await;
        assert_eq!(answer["type"], "application/vnd.microsoft.card.adaptive", "{answer}");
        app.settle().await;
        let request = app.request(&id).await;
        assert_eq!(request.state, RequestState::Denied);
        assert_eq!(request.reason.as_deref(), Some("use the <at>break-glass</at> runbook"));
        let content = card_content(&app.teams_card(id.as_str())).to_string();
        assert!(content.contains("Denied by dave") && content.contains("‹at›break-glass‹/at›"), "{content}");
        assert!(app.directory.calls().is_empty());
        let fake = app.fake_teams();
        fake.expect_thread(APPROVERS, id.as_str());
        fake.expect_thread(FEED, id.as_str());
        fake.expect_post("a:personal-", id.as_str());
        fake.expect_update("Denied by dave");
        fake.expect_thread(FEED, "denied");
        fake.expect_post("a:personal-", "denied");
        fake.assert_nothing_unexpected();
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_request_made_on_slack_is_decided_on_teams_once() {
    each_backend(&policy(), |app: TestApp| async move {
        let (_, id) = app.activate("U0ALICE", "global-admin 1h #INC-9 from slack").await;
        app.settle().await;
        let answer = click(&app, "carol", "f:1", &id, "approve", json!({"requestId": id.as_str()})).await;
        assert_eq!(answer["type"], "application/vnd.microsoft.card.adaptive", "{answer}");
        app.settle().await;
        // The Slack card shows the decision, and a late Slack click is refused.
        assert_eq!(app.click("U0DAVE", "approve", &id).await.status, 200);
        app.settle().await;
        assert!(app.ephemerals("U0DAVE").iter().any(|m| m.text.contains("already")));
        let request = app.request(&id).await;
        assert_eq!((request.state, request.approvals.len()), (RequestState::Active, 1));
        let grants =
            app.directory.calls().into_iter().filter(|c| matches!(c, DirectoryCall::Grant(_))).count();
        assert_eq!(grants, 1);
        assert!(app.card(&id).blocks.to_string().contains("Approved"));
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_action_submit_fallback_is_decided_like_a_click() {
    each_backend(&policy(), |app: TestApp| async move {
        let id = activate(&app, "alice", "m-1", "activate global-admin 1h #INC-11 old client").await;
        let fake = app.fake_teams();
        let submit = |who: &str, n: &str| {
            let mut m = fake.channel_message(&user(who), APPROVERS, n, "");
            m["text"] = Value::Null;
            m["entities"] = json!([]);
            m["value"] = json!({"verb": "approve", "requestId": id.as_str()});
            m
        };
        assert_eq!(app.teams_send(&submit("alice", "s-1")).await.0, 200);
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Pending, "the requester still cannot approve");
        assert!(app.teams_dms("alice").iter().any(|m| text_of(m).contains("your own request")));
        assert_eq!(app.teams_send(&submit("carol", "s-2")).await.0, 200);
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        assert!(card_content(&app.teams_card(id.as_str())).to_string().contains("Approved by carol"));
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_request_made_on_teams_is_decided_on_slack_and_the_teams_card_follows() {
    each_backend(&policy(), |app: TestApp| async move {
        let id = activate(&app, "alice", "m-1", "activate global-admin 1h #INC-10 from teams").await;
        assert_eq!(app.click("U0DAVE", "approve", &id).await.status, 200);
        app.settle().await;
        let request = app.request(&id).await;
        assert_eq!((request.state, request.approvals.len()), (RequestState::Active, 1));
        let card = app.teams_card(id.as_str());
        assert!(card.updates >= 1 && card_content(&card).to_string().contains("Approved by dave"));
        // The Teams click that comes too late changes nothing.
        let answer = click(&app, "carol", "f:1", &id, "approve", json!({"requestId": id.as_str()})).await;
        assert!(answer["value"].as_str().unwrap_or_default().contains("already"), "{answer}");
        assert_eq!(app.request(&id).await.approvals.len(), 1);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn reminders_are_thread_replies_and_channel_commands_are_answered_privately() {
    each_backend(&policy(), |app: TestApp| async move {
        let fake = app.fake_teams();
        // A command in a channel: the reply goes to a personal chat the bot opens.
        let (status, _) =
            app.teams_send(&fake.channel_message(&user("bob"), APPROVERS, "c-1", "roles")).await;
        assert_eq!(status, 200);
        let id = activate(&app, "alice", "m-1", "activate global-admin 1h #INC-3 urgent").await;
        let bob = app.teams_dms("bob");
        assert!(bob.iter().any(|m| text_of(m).contains("global-admin")), "{bob:?}");
        assert!(
            app.teams_channel(APPROVERS).iter().all(|m| !text_of(m).contains("Global Reader")),
            "nothing public"
        );

        let card = app.teams_card(id.as_str());
        app.advance(Duration::minutes(5));
        app.settle().await;
        let replies: Vec<_> = app
            .teams_channel(APPROVERS)
            .into_iter()
            .filter(|m| m.conversation == card.conversation && m.id != card.id)
            .collect();
        assert_eq!(replies.len(), 1, "one reminder in the card's thread");
        let entities = replies[0].activity["entities"].to_string();
        assert!(entities.contains(oid("carol")) && entities.contains(oid("dave")), "{entities}");
        assert!(!entities.contains(oid("alice")), "never the requester");
        assert!(fake.problems().is_empty(), "{:?}", fake.problems());
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_break_glass_alarm_reaches_teams_and_is_acknowledged_there_with_a_reason() {
    let bg = format!(
        "{}\n[break_glass_monitor]\nwebhook_token = \"bg-token\"\nrepage_every = \"2m\"\n\n\
         [[break_glass]]\nupn = \"bg1@contoso.onmicrosoft.com\"\nobject_id = \"26be570a-ae82-4189-b4e2-a37c6808512d\"\n",
        policy()
    );
    each_backend(&bg, |app: TestApp| async move {
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
        let pages = app.teams_channel(ALERTS);
        assert_eq!(pages.len(), 1, "{pages:?}");
        let page = &pages[0];
        let content = card_content(page).to_string();
        assert!(
            content.contains("bg1@contoso.onmicrosoft.com") && content.contains("\"verb\":\"ack\""),
            "{content}"
        );
        // The alert channel's on-call tag is paged (a tag mention the text carries verbatim).
        let tag = &card_content(page)["msteams"]["entities"][0];
        assert_eq!(tag["mentioned"], json!({"id": ONCALL_TAG_ID, "name": ONCALL_TAG_NAME, "type": "tag"}));
        assert!(content.contains(&format!("Paging <at>{ONCALL_TAG_NAME}</at>")), "{content}");
        let alarm = content
            .split("\"alarmId\":\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("alarm id")
            .to_owned();
        let fake = app.fake_teams();
        let ack = |who: &str, n: &str, data: Value| {
            fake.invoke(&user(who), n, &page.conversation, &page.id, "ack", data)
        };

        // Not an acknowledger: refused.
        let (_, answer) = app.teams_send(&ack("erin", "f:0", json!({"alarmId": alarm, "reason": "x"}))).await;
        assert!(answer["value"].as_str().unwrap_or_default().contains("acknowledgers"), "{answer}");
        // No reason: refused, still paging.
        let (_, answer) = app.teams_send(&ack("carol", "f:1", json!({"alarmId": alarm}))).await;
        assert!(answer["value"].as_str().unwrap_or_default().contains("reason"), "{answer}");
        app.advance(Duration::minutes(2));
        app.settle().await;
        let pages = app.teams_channel(ALERTS);
        assert_eq!(pages.len(), 2, "re-paged until acknowledged");
        assert!(card_content(&pages[1]).to_string().contains(ONCALL_TAG_ID), "the repeat pages the tag too");

        let (_, answer) = app
            .teams_send(&ack("carol", "f:2", json!({"alarmId": alarm, "reason": "planned DR test"})))
            .await;
        assert!(answer["value"].as_str().unwrap_or_default().contains("acknowledged"), "{answer}");
        app.settle().await;
        for page in app.teams_channel(ALERTS) {
            let content = card_content(&page).to_string();
            assert!(
                content.contains("Acknowledged by carol") && content.contains("planned DR test"),
                "{content}"
            );
            assert!(!content.contains("Action.Execute") && !content.contains(ONCALL_TAG_ID), "{content}");
        }
        app.advance(Duration::minutes(4));
        app.settle().await;
        assert_eq!(app.teams_channel(ALERTS).len(), 2, "no more pages");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn on_teams_the_approve_click_answers_with_the_approvers_step_up_link() {
    use crate::support::identity::{ALICE_OID, CAROL_OID, POLICY, link_in, sign_in};
    use pimbot::testing::{Scenario, TeamsUser};
    each_backend(POLICY, |app: TestApp| async move {
        let (reply, id) = app.activate("U0ALICE", "global-admin 1h rotate leaked secret").await;
        let page = sign_in(&app, &link_in(&reply.text()), Scenario::person(ALICE_OID, "alice")).await;
        assert_eq!(page.status, 200, "{page:?}");
        app.settle().await;
        let card = app.teams_card(id.as_str());
        let carol = TeamsUser::new("carol", CAROL_OID);
        let invoke = app.fake_teams().invoke(
            &carol,
            "f:1",
            &card.conversation,
            &card.id,
            "approve",
            json!({"requestId": id.as_str()}),
        );
        let (status, answer) = app.teams_send(&invoke).await;
        assert_eq!(status, 200);
        let text = answer["value"].as_str().unwrap_or_default().to_owned();
        assert!(text.contains("needs a fresh MFA sign-in"), "only the clicker sees the link: {answer}");
        assert_eq!(app.request(&id).await.approvals.len(), 0, "the click alone approves nothing");
        let page = sign_in(&app, &link_in(&text), Scenario::person(CAROL_OID, "carol@contoso.com")).await;
        assert_eq!(page.status, 200, "{page:?}");
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        assert!(card_content(&app.teams_card(id.as_str())).to_string().contains("Approved by carol"));
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn help_on_teams_lists_what_slack_lists_in_markdown_bold() {
    each_backend(&policy(), |app: TestApp| async move {
        let fake = app.fake_teams();
        let (status, _) = app.teams_send(&fake.personal_message(&user("alice"), "m-help", "help")).await;
        assert_eq!(status, 200);
        app.settle().await;
        let help = app.teams_dms("alice").last().map(text_of).unwrap_or_default();
        assert!(help.starts_with("**pimbot** gives you"), "{help}");
        assert!(help.contains("\n- `renew ‹role› ‹duration› ‹justification›`"), "{help}");
        let slack = app.slack.command("U0ALICE", "help").await.expect("help").text();
        let listed = pimbot::core::help::commands_listed;
        assert_eq!(listed(&help), listed(&slack), "one help text");
        app.stop().await;
    })
    .await;
}
