//! The grant invariant under races, on every backend, with a slow directory (2 s per Graph
//! call): whatever happens while a grant is being made (a cancel, a deactivate, a second
//! approval, a policy reload), afterwards the fake directory's assignments are exactly
//! pimbot's active grants, and the feed and the audit trail tell the same story.

use std::time::Duration as StdDuration;

use chrono::Duration;
use pimbot::core::ids::RequestId;
use pimbot::core::request::EndReason;
use pimbot::core::state::RequestState;
use pimbot::testing::FakeGraph;
use pimbot::testing::fake_graph::body_str;

use crate::support::app::{ALERTS, APPROVERS, FEED, TestApp};
use crate::support::graph_app::{
    ALICE, GA, Knobs, active_grants, audit_kinds, fake_assignments, on_every_backend, policy,
    wait_for_agreement,
};

const SLOW: StdDuration = StdDuration::from_secs(2);
const AGREE: StdDuration = StdDuration::from_secs(40);

/// alice asks for global-admin and carol approves while Graph answers slowly; returns once the
/// directory call is under way.
async fn approve_slowly(app: &TestApp, fake: &FakeGraph) -> RequestId {
    let (_, id) = app.activate("U0ALICE", "global-admin 30m rotate leaked secret").await;
    app.settle().await;
    fake.set_delay(SLOW);
    let reply = app.click("U0CAROL", "approve", &id).await;
    assert_eq!(reply.status, 200);
    // The approval wakes the activation at once: wait until it claimed the request and wrote
    // the grant row, then until Graph has the call (its answer takes 2 s more).
    let started = std::time::Instant::now();
    loop {
        let grant = app.store().open_grant(&"alice".into(), &"global-admin".into()).await.expect("read");
        if grant.is_some_and(|g| g.granting) && !fake.assignments().is_empty() {
            break;
        }
        assert!(started.elapsed() < StdDuration::from_secs(10), "the grant row is written before the call");
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    assert_eq!(app.request(&id).await.state, RequestState::Approved, "still being made");
    id
}

fn actions(fake: &FakeGraph) -> Vec<String> {
    fake.accepted_requests().iter().map(|c| body_str(&c.body, "action").to_owned()).collect()
}

fn texts(app: &TestApp, channel: &str) -> Vec<String> {
    app.channel(channel).into_iter().map(|m| m.text).collect()
}

#[tokio::test]
async fn cancel_while_the_grant_is_made_ends_the_assignment_at_once_and_alerts() {
    on_every_backend(Knobs::default(), |app: TestApp, fake: FakeGraph| async move {
        let id = approve_slowly(&app, &fake).await;
        let reply = app.slack.command("U0ALICE", &format!("cancel {id}")).await.expect("cancel");
        assert!(reply.text().contains("cancelled"), "{}", reply.text());
        wait_for_agreement(&app, &fake, AGREE).await;

        assert_eq!(app.request(&id).await.state, RequestState::Cancelled);
        assert!(fake_assignments(&fake).is_empty(), "no Global Administrator left behind");
        assert_eq!(actions(&fake), ["adminAssign", "adminRemove"], "made, then removed");
        let grant =
            app.store().grant(&format!("g-{}", &id.as_str()[2..]).into()).await.expect("read").expect("kept");
        assert_eq!(grant.end_reason, Some(EndReason::Withdrawn));
        let kinds = audit_kinds(&app).await;
        assert!(
            kinds.contains(&"request.cancelled".to_owned()) && kinds.contains(&"grant.withdrawn".to_owned())
        );
        assert!(!kinds.contains(&"grant.activated".to_owned()), "never shown active: {kinds:?}");
        for channel in [FEED, ALERTS] {
            assert!(
                texts(&app, channel).iter().any(|t| t.contains("pimbot removed the assignment")),
                "{channel}: {:?}",
                texts(&app, channel)
            );
        }
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_second_activation_leaves_a_leased_request_alone_and_the_lease_is_its_own_column() {
    on_every_backend(Knobs::default(), |app: TestApp, fake: FakeGraph| async move {
        let id = approve_slowly(&app, &fake).await;
        let held = app.request(&id).await;
        let now = pimbot::core::ports::Clock::now(app.clock.as_ref());
        let lease = held.activation_lease_until.expect("the claim took the activation lease");
        assert!(lease > now, "the lease runs while the directory is asked");
        assert_eq!(held.next_nudge_at, None, "the lease is no next try and no scheduled start");
        assert!(!held.activation_due(now));
        // Another worker (a second replica, or the sweep) comes by while Graph is still busy
        // with the first: it must leave the request alone, not ask for the grant again.
        app.running.service.activate(&id).await.expect("second activation");
        wait_for_agreement(&app, &fake, AGREE).await;
        assert_eq!(actions(&fake), ["adminAssign"], "the directory was asked once");
        let done = app.request(&id).await;
        assert_eq!(done.state, RequestState::Active);
        assert_eq!(done.activation_lease_until, None, "the activation ended and let go of its lease");
        assert_eq!(audit_kinds(&app).await.iter().filter(|k| *k == "grant.activated").count(), 1);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn deactivate_and_a_second_approval_while_the_grant_is_made_change_nothing() {
    on_every_backend(Knobs::default(), |app: TestApp, fake: FakeGraph| async move {
        let id = approve_slowly(&app, &fake).await;
        let early = app.slack.command("U0ALICE", "deactivate global-admin").await.expect("deactivate");
        assert!(early.text().contains("still being granted"), "{}", early.text());
        let second = app.click("U0DAVE", "approve", &id).await;
        assert_eq!(second.status, 200);
        wait_for_agreement(&app, &fake, AGREE).await;
        assert!(
            app.ephemerals("U0DAVE").iter().any(|m| m.text.contains("already approved")),
            "{:?}",
            app.ephemerals("U0DAVE")
        );
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        assert_eq!(fake_assignments(&fake), [(ALICE.to_owned(), GA.to_owned())]);
        assert_eq!(active_grants(app.store()).await, fake_assignments(&fake));
        assert_eq!(actions(&fake), ["adminAssign"], "one assignment");
        let kinds = audit_kinds(&app).await;
        assert_eq!(kinds.iter().filter(|k| *k == "grant.activated").count(), 1, "{kinds:?}");
        assert_eq!(kinds.iter().filter(|k| *k == "approval.recorded").count(), 1, "{kinds:?}");
        assert_eq!(texts(&app, FEED).iter().filter(|t| t.contains("is now *global-admin*")).count(), 1);

        // Done with it: deactivation ends it in the directory too (min_hold is 5m).
        app.advance(Duration::minutes(6));
        fake.set_delay(StdDuration::ZERO);
        let done = app.slack.command("U0ALICE", "deactivate global-admin").await.expect("deactivate");
        assert!(done.text().contains("deactivated"), "{}", done.text());
        wait_for_agreement(&app, &fake, AGREE).await;
        assert!(fake_assignments(&fake).is_empty());
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_reload_removing_the_role_while_the_grant_is_made_withdraws_it() {
    on_every_backend(Knobs::default(), |app: TestApp, fake: FakeGraph| async move {
        let id = approve_slowly(&app, &fake).await;
        let without = policy(&fake, &Knobs::default());
        let start = without.find("[[role]]\nkey = \"global-admin\"").expect("role");
        let end = without.find("[[role]]\nkey = \"reader\"").expect("reader");
        let without = format!("{}{}", &without[..start], &without[end..]);
        assert_eq!(app.set_policy(&without).await, 200);
        wait_for_agreement(&app, &fake, AGREE).await;

        let request = app.request(&id).await;
        assert_eq!(request.state, RequestState::Cancelled, "{request:?}");
        assert_eq!(request.reason.as_deref(), Some("its role was removed from the policy"));
        assert!(fake_assignments(&fake).is_empty());
        assert!(active_grants(app.store()).await.is_empty());
        let card = app.card(&id);
        assert!(card.blocks.to_string().contains("role was removed"), "{}", card.blocks);
        assert!(app.dms("U0ALICE").iter().any(|m| m.text.contains("was cancelled: its role was removed")));
        assert!(texts(&app, ALERTS).iter().any(|t| t.contains("pimbot removed the assignment")));
        assert!(app.channel(APPROVERS).len() == 1, "one card, updated in place");
        app.stop().await;
    })
    .await;
}
