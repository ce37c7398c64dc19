//! End-to-end flows over Slack: request → card → approval → grant → expiry, denial with a
//! reason, quorum, cancellation, deactivation, the SLA ladder and the activate form.

use chrono::Duration;
use pimbot::core::state::RequestState;
use pimbot::directory::DirectoryCall;
use pimbot::testing::signing::text_inputs;

use crate::on_every_backend;
use crate::support::app::{APPROVERS, FEED, TestApp};

fn has_buttons(blocks: &serde_json::Value) -> bool {
    blocks.to_string().contains("\"action_id\":\"approve\"")
}

#[tokio::test]
async fn request_is_approved_granted_and_expires_on_time() {
    on_every_backend!(|app: TestApp| async move {
        let (reply, id) = app.activate("U0ALICE", "global-admin 1h #INC-4711 rotate leaked secret").await;
        assert!(reply.text().contains("waiting for approval"), "{}", reply.text());
        app.settle().await;

        let card = app.card(&id);
        assert!(has_buttons(&card.blocks), "card has Approve/Deny: {}", card.blocks);
        // What the card shows is the snapshot `slack_card_pending` (payloads_slack.rs).
        let blocks = card.blocks.to_string();
        assert!(
            !blocks.contains("<@U0ALICE> <@") && !card.blocks.to_string().contains("Approvers: <@U0ALICE>"),
            "requester not among approver mentions"
        );
        assert!(app.channel(FEED).iter().any(|m| m.text.contains(id.as_str())), "feed announces the request");

        // The requester is in the approver list, and still cannot approve.
        assert_eq!(app.click("U0ALICE", "approve", &id).await.status, 200);
        // Someone outside the pool cannot either.
        assert_eq!(app.click("U0BOB", "approve", &id).await.status, 200);
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Pending);
        assert!(app.ephemerals("U0ALICE").iter().any(|m| m.text.contains("your own request")));
        assert!(app.ephemerals("U0BOB").iter().any(|m| m.text.contains("not an approver")));

        assert_eq!(app.click("U0CAROL", "approve", &id).await.status, 200);
        app.settle().await;
        let request = app.request(&id).await;
        assert_eq!(request.state, RequestState::Active);
        let card = app.card(&id);
        assert!(!has_buttons(&card.blocks), "buttons gone once decided: {}", card.blocks);
        assert!(card.edits >= 1 && card.blocks.to_string().contains("<@U0CAROL>"));
        assert!(app.dms("U0ALICE").iter().any(|m| m.text.contains("approved")), "requester told");
        let calls = app.directory.calls();
        assert!(
            matches!(calls.as_slice(), [DirectoryCall::Grant(spec)] if spec.role.key.as_str() == "global-admin")
        );

        // A late click is refused and changes nothing.
        app.click("U0DAVE", "approve", &id).await;
        app.settle().await;
        assert!(app.ephemerals("U0DAVE").iter().any(|m| m.text.contains("already")), "late approver told");
        assert_eq!(app.request(&id).await.approvals.len(), 1);

        app.advance(Duration::minutes(61));
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Expired);
        assert!(matches!(app.directory.calls().last(), Some(DirectoryCall::Revoke(_))));
        assert!(app.channel(FEED).iter().any(|m| m.text.contains("expired")), "feed says it ended");
        assert!(
            pimbot::storage::audit_export::verify(
                app.store().as_ref(),
                &pimbot::testing::audit::test_ring(),
                None
            )
            .await
            .is_ok()
        );
        // What Slack was sent, and nothing else.
        let fake = &app.fake;
        fake.expect_post(APPROVERS, id.as_str());
        fake.expect_post(FEED, id.as_str());
        fake.expect_ephemeral("U0ALICE", "your own request");
        fake.expect_ephemeral("U0BOB", "not an approver");
        fake.expect_update(id.as_str());
        fake.expect_post(FEED, "carol approved");
        fake.expect_post(FEED, "alice is now");
        fake.expect_post("U0ALICE", "approved");
        fake.expect_post("U0ALICE", "You are now");
        fake.expect_ephemeral("U0DAVE", "already");
        fake.expect_post(FEED, "expired");
        fake.expect_post("U0ALICE", "expired");
        fake.assert_nothing_unexpected();
        app.stop().await;
    });
}

#[tokio::test]
async fn deny_asks_for_a_reason_and_updates_the_card() {
    on_every_backend!(|app: TestApp| async move {
        let (_, id) = app.activate("U0ALICE", "global-admin 30m #INC-1 look around").await;
        app.settle().await;
        // The requester may not even open the deny form.
        app.click("U0ALICE", "deny", &id).await;
        app.settle().await;
        assert_eq!(app.fake.views_opened(), 0);
        assert_eq!(app.click("U0CAROL", "deny", &id).await.status, 200);
        app.fake
            .wait_for("views.open", 1, std::time::Duration::from_secs(30))
            .await
            .expect("deny form opened");
        let reply = app
            .slack
            .submit("U0CAROL", "deny_reason", id.as_str(), text_inputs(&[("reason", "no incident open")]))
            .await
            .expect("submit");
        assert_eq!(reply.status, 200, "{reply:?}");
        app.settle().await;
        let request = app.request(&id).await;
        assert_eq!(request.state, RequestState::Denied);
        assert_eq!(request.reason.as_deref(), Some("no incident open"));
        let card = app.card(&id).blocks.to_string();
        assert!(card.contains("no incident open") && !card.contains("\"action_id\":\"approve\""), "{card}");
        assert!(app.dms("U0ALICE").iter().any(|m| m.text.contains("denied")));
        assert!(app.directory.calls().is_empty(), "nothing granted");
        let fake = &app.fake;
        fake.expect_post(APPROVERS, id.as_str());
        fake.expect_post(FEED, id.as_str());
        fake.expect_ephemeral("U0ALICE", "your own request");
        fake.expect("views.open", |c| c.body.to_string().contains("deny_reason"));
        fake.expect_update("no incident open");
        fake.expect_post(FEED, "denied");
        fake.expect_post("U0ALICE", "denied");
        fake.assert_nothing_unexpected();
        app.stop().await;
    });
}

#[tokio::test]
async fn concurrent_clicks_decide_exactly_once_and_quorum_needs_two_people() {
    on_every_backend!(|app: TestApp| async move {
        let (_, id) = app.activate("U0ALICE", "user-admin 1h reset a password").await;
        app.settle().await;
        let card = app.card(&id);
        let clicks = (0..12).map(|_| app.slack.click("U0CAROL", "approve", id.as_str(), APPROVERS, &card.ts));
        for reply in futures::future::join_all(clicks).await {
            assert_eq!(reply.expect("click").status, 200);
        }
        let request = app.request(&id).await;
        assert_eq!(request.approvals.len(), 1, "one approval per person, however many clicks");
        assert_eq!(request.state, RequestState::Pending);
        app.settle().await;
        assert!(app.card(&id).blocks.to_string().contains("1/2"));

        // Two different approvers racing: both count, the request is approved once.
        let (a, b) = tokio::join!(
            app.slack.click("U0DAVE", "approve", id.as_str(), APPROVERS, &card.ts),
            app.slack.click("U0ERIN", "approve", id.as_str(), APPROVERS, &card.ts)
        );
        assert_eq!((a.expect("dave").status, b.expect("erin").status), (200, 200));
        app.settle().await;
        let request = app.request(&id).await;
        assert_eq!(request.state, RequestState::Active);
        assert_eq!(request.approvals.len(), 2, "quorum reached by exactly two approvals");
        let grants =
            app.directory.calls().into_iter().filter(|c| matches!(c, DirectoryCall::Grant(_))).count();
        assert_eq!(grants, 1, "granted once");
        app.stop().await;
    });
}

#[tokio::test]
async fn deactivation_waits_for_min_hold_and_cancel_withdraws() {
    on_every_backend!(|app: TestApp| async move {
        let (reply, id) = app.activate("U0BOB", "reader 30m check logs").await;
        assert!(reply.text().contains("no approval"), "{}", reply.text());
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);

        let early = app.slack.command("U0BOB", "deactivate reader").await.expect("cmd");
        assert!(early.text().contains("try again in"), "{}", early.text());
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        app.advance(Duration::minutes(6));
        let ok = app.slack.command("U0BOB", "deactivate reader").await.expect("cmd");
        assert!(ok.text().contains("deactivated"), "{}", ok.text());
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Deactivated);

        let (_, pending) = app.activate("U0ALICE", "global-admin 1h #INC-2 fix").await;
        let status = app.slack.command("U0ALICE", "status").await.expect("status");
        assert!(status.text().contains(pending.as_str()), "{}", status.text());
        let not_yours = app.slack.command("U0BOB", &format!("cancel {pending}")).await.expect("cmd");
        assert!(not_yours.text().contains("not yours"), "{}", not_yours.text());
        let cancelled = app.slack.command("U0ALICE", &format!("cancel {pending}")).await.expect("cmd");
        assert!(cancelled.text().contains("cancelled"), "{}", cancelled.text());
        app.settle().await;
        assert_eq!(app.request(&pending).await.state, RequestState::Cancelled);
        assert!(!has_buttons(&app.card(&pending).blocks));
        app.stop().await;
    });
}

#[tokio::test]
async fn silent_approvers_are_reminded_then_escalated_then_the_request_times_out() {
    on_every_backend!(|app: TestApp| async move {
        let (_, id) = app.activate("U0ALICE", "global-admin 1h #INC-3 urgent").await;
        app.settle().await;
        let card = app.card(&id);
        let thread = |app: &TestApp| {
            app.fake
                .messages()
                .into_iter()
                .filter(|m| m.thread_ts.as_deref() == Some(card.ts.as_str()))
                .collect::<Vec<_>>()
        };

        app.advance(Duration::minutes(5));
        app.settle().await;
        let replies = thread(&app);
        assert_eq!(replies.len(), 1, "one reminder");
        assert!(
            replies[0].text.contains("<@U0CAROL>") && replies[0].text.contains("<@U0DAVE>"),
            "{}",
            replies[0].text
        );
        assert!(!replies[0].text.contains("<@U0ALICE>"), "never the requester");
        app.settle().await;
        assert_eq!(thread(&app).len(), 1, "no second reminder");

        app.advance(Duration::minutes(5));
        app.settle().await;
        let replies = thread(&app);
        assert_eq!(replies.len(), 2);
        assert!(replies[1].text.contains("<@U0ERIN>"), "escalated to erin: {}", replies[1].text);

        app.advance(Duration::minutes(50));
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::TimedOut);
        assert!(!has_buttons(&app.card(&id).blocks));
        assert!(app.dms("U0ALICE").iter().any(|m| m.text.contains("timed out")));
        app.stop().await;
    });
}

#[tokio::test]
async fn activate_form_opens_and_its_submission_files_the_request() {
    on_every_backend!(|app: TestApp| async move {
        let reply = app.slack.command("U0ALICE", "activate").await.expect("cmd");
        assert_eq!(reply.status, 200);
        app.fake.wait_for("views.open", 1, std::time::Duration::from_secs(30)).await.expect("form opened");

        let bad = text_inputs(&[
            ("role", "global-admin"),
            ("duration", "9h"),
            ("ticket", "INC-9"),
            ("justification", "x"),
        ]);
        let reply = app.slack.submit("U0ALICE", "activate", "", bad).await.expect("submit");
        assert!(reply.body.contains("\"response_action\":\"errors\""), "{}", reply.body);

        let good = text_inputs(&[
            ("role", "global-admin"),
            ("duration", "1h"),
            ("ticket", "INC-9"),
            ("justification", "patch"),
        ]);
        let reply = app.slack.submit("U0ALICE", "activate", "", good).await.expect("submit");
        assert_eq!(reply.status, 200);
        assert!(!reply.body.contains("errors"), "{}", reply.body);
        app.settle().await;
        assert!(app.dms("U0ALICE").iter().any(|m| m.text.contains("waiting for approval")));
        assert_eq!(app.channel(APPROVERS).len(), 1, "card posted");
        app.stop().await;
    });
}

#[tokio::test]
async fn activating_an_active_role_extends_the_one_grant_within_max_duration() {
    on_every_backend!(|app: TestApp| async move {
        let (_, first) = app.activate("U0BOB", "reader 30m first look").await;
        app.settle().await;
        let grant =
            app.store().open_grant(&"bob".into(), &"reader".into()).await.expect("read").expect("granted");
        app.advance(Duration::minutes(20));
        let (reply, second) = app.activate("U0BOB", "reader 30m more time").await;
        assert!(reply.text().contains("Extension"), "{}", reply.text());
        app.settle().await;
        let extended =
            app.store().open_grant(&"bob".into(), &"reader".into()).await.expect("read").expect("still one");
        assert_eq!(extended.id, grant.id, "the same grant, not a second one");
        assert_eq!(extended.ends_at, grant.starts_at + Duration::minutes(50), "ends 30m after the extension");
        assert_eq!(app.request(&second).await.state, RequestState::Active);
        assert_eq!(
            app.request(&first).await.state,
            RequestState::Superseded,
            "one open request per person and role: the extension took over the grant"
        );
        assert_eq!(app.store().open_requests_for(&"bob".into()).await.expect("open").len(), 1);

        app.advance(Duration::minutes(31));
        app.settle().await;
        assert_eq!(app.request(&first).await.state, RequestState::Superseded);
        assert_eq!(
            app.request(&second).await.state,
            RequestState::Expired,
            "the request ends with the grant"
        );

        // extend needs an active grant, and follows the role's approval rules.
        let refused = app.slack.command("U0ALICE", "extend global-admin 1h #INC-12 more").await.expect("cmd");
        assert!(refused.text().contains("no active"), "{}", refused.text());
        let (_, ga) = app.activate("U0ALICE", "global-admin 2h #INC-12 incident").await;
        app.click("U0CAROL", "approve", &ga).await;
        app.settle().await;
        let reply =
            app.slack.command("U0ALICE", "extend global-admin 2h #INC-12 still burning").await.expect("cmd");
        assert!(reply.text().contains("waiting for approval"), "{}", reply.text());
        let ext = reply
            .text()
            .split('`')
            .find(|w| w.starts_with("r-"))
            .map(pimbot::core::ids::RequestId::from)
            .expect("id");
        let over = app.slack.command("U0ALICE", "extend global-admin 3h #INC-12 longer").await.expect("cmd");
        assert!(over.text().contains("5m to 2h") || over.text().contains("already have"), "{}", over.text());
        app.advance(Duration::minutes(50)); // inside the request's 1h time-to-live
        app.click("U0DAVE", "approve", &ext).await;
        app.settle().await;
        let extension = app.request(&ext).await;
        assert_eq!(extension.state, RequestState::Active, "{extension:?}");
        let g = app
            .store()
            .open_grant(&"alice".into(), &"global-admin".into())
            .await
            .expect("read")
            .expect("open");
        let approved_at = app.request(&ext).await.decided_at.expect("decided");
        assert_eq!(
            g.ends_at,
            approved_at + Duration::hours(2),
            "never more than max_duration from the last approval"
        );
        app.stop().await;
    });
}
