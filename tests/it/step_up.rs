//! MFA step-up against the fake Entra provider, on every backend: a `require_mfa` request
//! posts no card before its requester's fresh MFA; weak, stale or foreign sign-ins leave it
//! waiting; unfinished step-ups expire after ten minutes; an `approver_mfa` approval counts
//! only after the approver's own step-up, never the requester's; evidence lands in the audit
//! trail without the token.

use chrono::Duration;
use pimbot::testing::Scenario;

use crate::support::app::{APPROVERS, TestApp};
use crate::support::db::backends;
use crate::support::identity::{
    ALICE_OID, CAROL_OID, assert_no_token_in_audit, audit_of, idp, link_in, sign_in, spawn,
};

async fn each_backend<F, Fut>(f: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in backends().await {
        let name = db.name;
        let app = spawn(db, "").await;
        tokio::time::timeout(std::time::Duration::from_secs(90), f(app))
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

fn cards(app: &TestApp) -> usize {
    app.channel(APPROVERS).len()
}

/// A person who signs in afresh with MFA (both `acrs` as asked and `amr`).
fn mfa(oid: &str, name: &str) -> Scenario {
    Scenario { amr: Some(vec!["pwd".into(), "mfa".into()]), ..Scenario::person(oid, name) }
}

#[tokio::test]
async fn no_card_before_the_requesters_step_up_and_the_card_after() {
    each_backend(|app| async move {
        let (reply, id) = app.activate("U0ALICE", "global-admin 1h rotate leaked secret").await;
        let link = link_in(&reply.text());
        assert_eq!(app.request(&id).await.state.as_str(), "awaiting_mfa");
        app.settle().await;
        assert_eq!(cards(&app), 0, "no card before the step-up");
        let page = sign_in(&app, &link, Scenario::person(ALICE_OID, "alice@contoso.com")).await;
        assert_eq!(page.status, 200, "{page:?}");
        // The authorize request asked for a fresh sign-in and the role's authentication context.
        let q = idp(&app).authorize_queries().pop().expect("authorize");
        assert_eq!(q.get("prompt").map(String::as_str), Some("login"));
        assert_eq!(q.get("max_age").map(String::as_str), Some("300"));
        assert_eq!(q.get("login_hint").map(String::as_str), Some("alice@contoso.com"));
        let claims: serde_json::Value = serde_json::from_str(&q["claims"]).expect("claims JSON");
        assert_eq!(claims["id_token"]["acrs"]["value"], "c1");
        assert_eq!(app.request(&id).await.state.as_str(), "pending");
        app.settle().await;
        assert_eq!(cards(&app), 1, "the card is posted after the step-up");
        let verified = audit_of(&app, "request.mfa_verified").await;
        assert_eq!(verified.len(), 1);
        let evidence = &verified[0]["evidence"];
        assert_eq!(
            (evidence["mode"].as_str(), evidence["acrs"][0].as_str()),
            (Some("auth_context"), Some("c1"))
        );
        assert!(evidence["auth_time"].is_string() && evidence["token_id"].is_string(), "{evidence}");
        assert_eq!(evidence["oid"], ALICE_OID);
        assert_no_token_in_audit(&app).await;
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn weak_stale_or_missing_evidence_leaves_the_request_waiting() {
    each_backend(|app| async move {
        // user-admin names no authentication context: amr must contain mfa.
        let (reply, id) = app.activate("U0ALICE", "user-admin 1h reset a password").await;
        let mut link = link_in(&reply.text());
        let base = || mfa(ALICE_OID, "alice@contoso.com");
        let refusals: Vec<(&str, Scenario)> = vec![
            ("password only", Scenario { amr: Some(vec!["pwd".into()]), ..base() }),
            ("no amr at all", Scenario { amr: None, ..base() }),
            (
                "stale auth_time",
                Scenario { fresh_sign_in: false, last_auth_ago: Duration::minutes(30), ..base() },
            ),
            ("no auth_time", Scenario { emit_auth_time: false, ..base() }),
        ];
        for (what, scenario) in refusals {
            let page = sign_in(&app, &link, scenario).await;
            assert_eq!(page.status, 403, "{what}: {page:?}");
            assert_eq!(app.request(&id).await.state.as_str(), "awaiting_mfa", "{what}");
            app.settle().await;
            assert_eq!(cards(&app), 0, "{what}: no card");
            // pimbot sends a fresh link for the same request.
            let dm =
                app.dms("U0ALICE").into_iter().rev().find(|m| m.text.contains("new link")).expect("new link");
            let fresh = link_in(&dm.text);
            assert_ne!(fresh, link, "{what}");
            link = fresh;
        }
        assert_eq!(audit_of(&app, "request.step_up_refused").await.len(), 4);
        let page = sign_in(&app, &link, base()).await;
        assert_eq!(page.status, 200, "{page:?}");
        app.settle().await;
        assert_eq!(cards(&app), 1);
        let evidence = &audit_of(&app, "request.mfa_verified").await[0]["evidence"];
        assert_eq!(evidence["mode"], "amr");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn an_unsatisfied_authentication_context_or_another_person_is_refused() {
    each_backend(|app| async move {
        let (reply, id) = app.activate("U0ALICE", "global-admin 1h rotate leaked secret").await;
        let link = link_in(&reply.text());
        // carol opens alice's link: her sign-in is refused, alice's request keeps waiting.
        let page = sign_in(&app, &link, Scenario::person(CAROL_OID, "carol@contoso.com")).await;
        assert_eq!(page.status, 403, "{page:?}");
        assert!(page.body.contains("another account"), "{}", page.body);
        assert_eq!(app.request(&id).await.state.as_str(), "awaiting_mfa");
        app.settle().await;
        let link = link_in(
            &app.dms("U0ALICE").into_iter().rev().find(|m| m.text.contains("new link")).expect("dm").text,
        );
        // alice signs in, but Conditional Access did not grant c1 (no acrs).
        let page =
            sign_in(&app, &link, Scenario { satisfies_auth_context: false, ..mfa(ALICE_OID, "alice") }).await;
        assert_eq!(page.status, 403, "{page:?}");
        assert_eq!(app.request(&id).await.state.as_str(), "awaiting_mfa");
        app.settle().await;
        assert_eq!(cards(&app), 0);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn unfinished_step_ups_expire_after_ten_minutes() {
    each_backend(|app| async move {
        let (reply, id) = app.activate("U0ALICE", "global-admin 1h rotate leaked secret").await;
        let link = link_in(&reply.text());
        app.advance(Duration::minutes(9));
        app.settle().await;
        assert_eq!(app.request(&id).await.state.as_str(), "awaiting_mfa");
        app.advance(Duration::minutes(2));
        app.settle().await;
        let request = app.request(&id).await;
        assert_eq!(request.state.as_str(), "timed_out");
        assert!(app.dms("U0ALICE").iter().any(|m| m.text.contains("expired")));
        // The link died with it.
        let page = sign_in(&app, &link, Scenario::person(ALICE_OID, "alice")).await;
        assert_eq!(page.status, 410, "{page:?}");
        assert_eq!(cards(&app), 0);
        // A new request is possible again (the expired one no longer blocks it).
        app.activate("U0ALICE", "global-admin 1h rotate leaked secret").await;
        app.stop().await;
    })
    .await;
}

/// alice's global-admin request, stepped up and on the approvers' card.
async fn stepped_up_request(app: &TestApp) -> pimbot::core::ids::RequestId {
    let (reply, id) = app.activate("U0ALICE", "global-admin 1h rotate leaked secret").await;
    let page = sign_in(app, &link_in(&reply.text()), Scenario::person(ALICE_OID, "alice")).await;
    assert_eq!(page.status, 200, "{page:?}");
    app.settle().await;
    id
}

#[tokio::test]
async fn an_approval_counts_only_after_the_approvers_step_up() {
    each_backend(|app| async move {
        let id = stepped_up_request(&app).await;
        let reply = app.click("U0CAROL", "approve", &id).await;
        assert_eq!(reply.status, 200);
        app.settle().await;
        let request = app.request(&id).await;
        assert_eq!(
            (request.state.as_str(), request.approvals.len()),
            ("pending", 0),
            "the click alone approves nothing"
        );
        let note = app.ephemerals("U0CAROL").pop().expect("step-up link for carol");
        let link = link_in(&note.text);
        let page = sign_in(&app, &link, Scenario::person(CAROL_OID, "carol@contoso.com")).await;
        assert_eq!(page.status, 200, "{page:?}");
        app.settle().await;
        let request = app.request(&id).await;
        assert_eq!(request.state.as_str(), "active");
        assert_eq!(request.approvals[0].approver.as_str(), "carol");
        let recorded = audit_of(&app, "approval.recorded").await;
        assert_eq!(recorded[0]["evidence"]["mode"], "auth_context");
        assert_eq!(recorded[0]["evidence"]["oid"], CAROL_OID);
        assert_no_token_in_audit(&app).await;
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn the_requester_never_completes_an_approval_step_up_and_deny_needs_none() {
    each_backend(|app| async move {
        let id = stepped_up_request(&app).await;
        // alice is in the pool but it is her own request: no link, a refusal.
        app.click("U0ALICE", "approve", &id).await;
        app.settle().await;
        let own = app.ephemerals("U0ALICE").pop().expect("refusal");
        assert!(own.text.contains("your own request") && !own.text.contains("http"), "{}", own.text);
        // carol's link, opened by alice signing in as herself.
        app.click("U0CAROL", "approve", &id).await;
        app.settle().await;
        let link = link_in(&app.ephemerals("U0CAROL").pop().expect("carol's link").text);
        let page = sign_in(&app, &link, Scenario::person(ALICE_OID, "alice@contoso.com")).await;
        assert_eq!(page.status, 403, "{page:?}");
        assert!(page.body.contains("own request"), "{}", page.body);
        let request = app.request(&id).await;
        assert_eq!((request.state.as_str(), request.approvals.len()), ("pending", 0));
        // dave denies without any step-up.
        let reason = pimbot::testing::signing::text_inputs(&[("reason", "not now")]);
        let reply = app.slack.submit("U0DAVE", "deny_reason", id.as_str(), reason).await.expect("submit");
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(app.request(&id).await.state.as_str(), "denied");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_cancelled_request_cannot_be_stepped_up_and_status_shows_the_wait() {
    each_backend(|app| async move {
        let (reply, id) = app.activate("U0ALICE", "global-admin 1h rotate leaked secret").await;
        let link = link_in(&reply.text());
        let status = app.slack.command("U0ALICE", "status").await.expect("status").text();
        assert!(status.contains("awaiting MFA"), "{status}");
        // A second request for the same role is refused while this one waits.
        let again = app.slack.command("U0ALICE", "activate global-admin 1h again").await.expect("cmd").text();
        assert!(again.contains("already have request"), "{again}");
        let cancelled = app.slack.command("U0ALICE", &format!("cancel {id}")).await.expect("cancel").text();
        assert!(cancelled.contains("cancelled"), "{cancelled}");
        let page = sign_in(&app, &link, Scenario::person(ALICE_OID, "alice")).await;
        assert_eq!(page.status, 403, "{page:?}");
        assert_eq!(app.request(&id).await.state.as_str(), "cancelled");
        app.settle().await;
        assert_eq!(cards(&app), 0);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn on_discord_the_approve_click_answers_with_the_approvers_step_up_link() {
    use crate::support::discord::{self as dc, card, ephemeral_text};
    use pimbot::testing::discord_signing as ds;
    for db in backends().await {
        let mut policy = crate::support::identity::POLICY.to_owned();
        for (slack, discord) in [("U0ALICE", dc::ALICE), ("U0CAROL", dc::CAROL)] {
            policy = policy.replace(
                &format!("slack = \"{slack}\"\n"),
                &format!("slack = \"{slack}\"\ndiscord = \"{discord}\"\n"),
            );
        }
        let policy = policy.replacen(
            "{oidc}",
            &format!(
                "[discord]\napplication_id = \"290926444748734465\"\npublic_key = \"{}\"\nbot_token = \"{}\"\napprover_channel = \"{}\"\n\n{{oidc}}",
                ds::TEST_PUBLIC_KEY_HEX,
                pimbot::testing::FAKE_DISCORD_TOKEN,
                dc::APPROVERS
            ),
            1,
        );
        let app = TestApp::spawn_with_discord_policy(db, &policy).await;
        let id = stepped_up_request(&app).await;
        let message = card(app.fake_discord(), id.as_str());
        let click = ds::click(dc::CAROL, &format!("approve:{id}"), dc::APPROVERS, &message.id);
        let text = ephemeral_text(&app.interact(&click).await);
        assert!(text.contains("needs a fresh MFA sign-in"), "{text}");
        assert_eq!(app.request(&id).await.approvals.len(), 0);
        let page = sign_in(&app, &link_in(&text), Scenario::person(CAROL_OID, "carol@contoso.com")).await;
        assert_eq!(page.status, 200, "{page:?}");
        app.settle().await;
        assert_eq!(app.request(&id).await.state.as_str(), "active");
        app.stop().await;
    }
}
