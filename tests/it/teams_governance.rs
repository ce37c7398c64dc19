//! Access reviews and renewals on Teams against the fake Bot Framework, on SQLite and
//! PostgreSQL: a reviewer's card arrives in their personal chat with Keep / Remove
//! (`Action.Execute`), a click decides through the `adaptiveCard/action` invoke once and is
//! answered with the decided card (valid against the Adaptive Cards schema), a stranger's or a
//! second click is answered with a message, and the card is replaced for everyone (one `PUT`,
//! the same card) without buttons; a renewal asked on Teams gets an Approve / Deny card in the
//! approver channel mentioning the approvers, the requester cannot approve it, an approver's
//! click decides it once (a late click on Teams or on the Slack copy is refused). Each test
//! ends with everything Teams was sent taken and nothing else.

use std::future::Future;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use pimbot::core::ids::{PersonId, RoleKey};
use pimbot::testing::TeamsMessage;
use serde_json::{Value, json};

use crate::support::app::TestApp;
use crate::support::teams::{APPROVERS, FEED, OIDS, policy, text_of, user};
use crate::teams_schema::assert_valid_card;

const REVIEW: &str = "\n[[review]]\nname = \"ga\"\nroles = [\"global-admin\"]\nreviewer = \"carol\"\ncadence = \"30d\"\nduration = \"2d\"\n";

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

fn content(m: &TeamsMessage) -> Value {
    m.activity["attachments"][0]["content"].clone()
}

/// `who` clicks `verb` with `data` on `card`; returns the invoke's answer (HTTP 200).
async fn click(app: &TestApp, who: &str, n: &str, card: &TeamsMessage, verb: &str, data: Value) -> Value {
    let invoke = app.fake_teams().invoke(&user(who), n, &card.conversation, &card.id, verb, data);
    let (status, answer) = app.teams_send(&invoke).await;
    assert_eq!(status, 200, "{answer}");
    answer
}

/// The message a refused click is answered with (only the clicker sees it).
#[track_caller]
fn refusal(answer: &Value) -> String {
    assert_eq!(answer["type"], "application/vnd.microsoft.activity.message", "a message: {answer}");
    answer["value"].as_str().unwrap_or_default().to_owned()
}

/// The decided card a recorded click is answered with: an Adaptive Card replacing the
/// clicker's copy, without buttons, valid against the schema.
#[track_caller]
fn decided_card(answer: &Value) -> Value {
    assert_eq!(answer["statusCode"], 200, "{answer}");
    assert_eq!(answer["type"], "application/vnd.microsoft.card.adaptive", "the updated card: {answer}");
    let card = answer["value"].clone();
    assert!(!card.to_string().contains("Action.Execute"), "decided, so no buttons: {card}");
    assert_valid_card("the clicker's decided card", &card);
    card
}

/// `who` writes `text` to the bot in their personal chat.
async fn say(app: &TestApp, who: &str, n: &str, text: &str) {
    let fake = app.fake_teams();
    assert_eq!(app.teams_send(&fake.personal_message(&user(who), n, text)).await.0, 200);
    app.settle().await;
}

#[tokio::test]
async fn a_review_card_on_teams_is_decided_once_and_replaced_for_everyone() {
    each_backend(&format!("{}{REVIEW}", policy()), |app: TestApp| async move {
        // The bot can only write to people who wrote to it once.
        say(&app, "carol", "m-1", "whoami").await;
        app.running.service.review_sweep().await.expect("sweep");
        app.settle().await;
        let items = app.store().open_review_items(10).await.expect("items");
        let item = |who: &str| items.iter().find(|i| i.person.as_str() == who).expect("item").id.clone();
        let (bob, alice) = (item("bob"), item("alice"));
        let card = app
            .teams_dms("carol")
            .into_iter()
            .find(|m| m.activity.to_string().contains(&bob))
            .expect("carol's Teams card for bob's eligibility");
        let shown = content(&card);
        assert_eq!(shown["version"], "1.5");
        let text = shown.to_string();
        assert!(
            text.contains("\"verb\":\"review_keep\"") && text.contains("\"verb\":\"review_remove\""),
            "{text}"
        );
        assert!(text.contains("Global Administrator") && text.contains("activation(s) since"), "{text}");

        // Someone who is not a reviewer is refused and nothing changes.
        let refused =
            refusal(&click(&app, "dave", "f:1", &card, "review_keep", json!({"itemId": alice})).await);
        assert!(refused.contains("not a reviewer"), "{refused}");
        let answer = click(&app, "carol", "f:2", &card, "review_remove", json!({"itemId": bob})).await;
        let decided = decided_card(&answer);
        assert!(decided.to_string().contains("remove by carol"), "{decided}");
        let again = refusal(&click(&app, "carol", "f:3", &card, "review_keep", json!({"itemId": bob})).await);
        assert!(again.contains("already decided"), "{again}");
        app.settle().await;

        let removed = app
            .store()
            .eligibility_removed(&PersonId::from("bob"), &RoleKey::from("global-admin"))
            .await
            .expect("read");
        assert!(removed, "the decision was applied");
        let open = app.store().open_review_items(10).await.expect("items");
        assert!(open.iter().any(|i| i.id == alice), "alice's item is still open");
        let edited = app.teams_dms("carol").into_iter().find(|m| m.id == card.id).expect("the card");
        assert_eq!(edited.updates, 1, "replaced once in place");
        assert_eq!(content(&edited), decided, "everyone's copy is the clicker's card");
        assert!(app.fake_teams().problems().is_empty(), "{:?}", app.fake_teams().problems());

        // What Teams was sent, and nothing else (the answers went back on the invokes).
        let fake = app.fake_teams();
        fake.expect_post("a:personal-", "carol");
        fake.expect_post("a:personal-", &bob);
        fake.expect_post("a:personal-", &alice);
        fake.expect_thread(FEED, "Access review **ga** started");
        fake.expect_thread(FEED, "bob's `global-admin` removed");
        let put = fake.expect_update("remove by carol");
        assert!(
            put.path.ends_with(&format!("/activities/{}", card.id)),
            "the card's own message: {}",
            put.path
        );
        fake.assert_nothing_unexpected();
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_renewal_asked_on_teams_is_approved_on_its_card_once() {
    let until = (Utc::now() + Duration::days(3)).format("%Y-%m-%d").to_string();
    let policy = policy().replace(
        "approvers = [\"carol\", \"dave\", \"erin\"]\neligible = [\"alice\"]",
        &format!("approvers = [\"carol\", \"dave\", \"erin\"]\neligible = [{{ who = \"alice\", until = \"{until}\" }}]"),
    );
    each_backend(&policy, |app: TestApp| async move {
        say(&app, "alice", "m-1", "renew user-admin 30d still on the migration").await;
        let reply = app.teams_dms("alice").last().map(text_of).unwrap_or_default();
        assert!(reply.contains("Renewal `e-"), "{reply}");
        let card = app
            .teams_channel(APPROVERS)
            .into_iter()
            .find(|m| m.activity.to_string().contains("renew_approve"))
            .expect("the renewal card");
        let shown = content(&card);
        let id = shown
            .to_string()
            .split("\"extensionId\":\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("id")
            .to_owned();
        let mentioned: Vec<String> = shown["msteams"]["entities"]
            .as_array()
            .expect("mentions")
            .iter()
            .map(|e| e["mentioned"]["id"].as_str().unwrap_or_default().to_owned())
            .collect();
        let oid = |n: &str| OIDS.iter().find(|(p, _)| *p == n).map(|(_, o)| (*o).to_owned()).expect("oid");
        assert!(mentioned.contains(&oid("carol")) && !mentioned.contains(&oid("alice")), "{mentioned:?}");

        let refused =
            refusal(&click(&app, "alice", "f:1", &card, "renew_approve", json!({"extensionId": id})).await);
        assert!(
            !refused.contains("is approved") && !refused.is_empty(),
            "the requester cannot approve: {refused}"
        );
        let answer = click(&app, "carol", "f:2", &card, "renew_approve", json!({"extensionId": id})).await;
        let decided = decided_card(&answer);
        assert!(decided.to_string().contains("Approved by carol"), "{decided}");
        let late =
            refusal(&click(&app, "dave", "f:3", &card, "renew_deny", json!({"extensionId": id})).await);
        assert!(late.contains("already approved"), "{late}");
        app.settle().await;
        // Decided once across platforms: the Slack card's late click is refused too.
        let slack_card = app
            .channel(crate::support::app::APPROVERS)
            .into_iter()
            .find(|m| m.blocks.to_string().contains("renew_approve") || m.text.contains(&id))
            .expect("the Slack renewal card");
        let slack_click =
            app.slack.click("U0ERIN", "renew_deny", &id, crate::support::app::APPROVERS, &slack_card.ts);
        slack_click.await.expect("click");
        app.settle().await;
        assert!(
            app.ephemerals("U0ERIN").iter().any(|m| m.text.contains("already approved")),
            "refused on Slack"
        );

        let edited = app.teams_channel(APPROVERS).into_iter().find(|m| m.id == card.id).expect("card");
        assert_eq!(edited.updates, 1, "replaced once in place");
        assert_eq!(content(&edited), decided, "everyone's copy is the clicker's card");
        assert!(app.teams_channel(FEED).iter().any(|m| text_of(m).contains("renewed")), "the feed says so");
        assert!(app.teams_dms("alice").iter().any(|m| text_of(m).contains("renewed")), "alice is told");

        // What Teams was sent, and nothing else (the refusals were invoke answers).
        let fake = app.fake_teams();
        fake.expect_post("a:personal-", "Renewal");
        fake.expect_thread(APPROVERS, &id);
        let put = fake.expect_update("Approved by carol");
        assert!(
            put.path.ends_with(&format!("/activities/{}", card.id)),
            "the card's own message: {}",
            put.path
        );
        fake.expect_thread(FEED, "renewed");
        fake.expect_post("a:personal-", "renewed");
        fake.assert_nothing_unexpected();
        app.stop().await;
    })
    .await;
}
