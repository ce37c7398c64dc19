//! `/pim link` against the fake Entra provider: a valid flow binds the chat account to the
//! token's `oid`; replays, wrong nonce, audience, tenant or lifetime, unknown keys and
//! someone else's account are refused and bind nothing; rotated keys are picked up, with at
//! most one refetch per unknown key; `require_link`; `/pim whoami`. On every backend.

use chrono::Duration;
use pimbot::testing::{FakeOidc, KeyChoice, Scenario};

use crate::support::db::backends;
use crate::support::identity::{
    ALICE_OID, BOB_OID, CAROL_OID, ERIN_OID, assert_no_token_in_audit, audit_of, idp, link_of, linked,
    sign_in, spawn, stored_link,
};

async fn each_backend<F, Fut>(extra: &str, f: F)
where
    F: Fn(crate::support::app::TestApp) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for db in backends().await {
        let name = db.name;
        let app = spawn(db, extra).await;
        tokio::time::timeout(std::time::Duration::from_secs(60), f(app))
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

#[tokio::test]
async fn a_valid_flow_binds_the_chat_account_and_is_audited_without_the_token() {
    each_backend("", |app| async move {
        let link = link_of(&app, "U0BOB").await;
        assert!(link.contains("/auth/link?state="), "{link}");
        let page = sign_in(&app, &link, Scenario::person(BOB_OID, "bob@contoso.com")).await;
        assert_eq!(page.status, 200, "{page:?}");
        assert!(page.body.contains("linked to bob@contoso.com"), "{}", page.body);
        let stored = stored_link(&app, "U0BOB").await.expect("bob is linked");
        assert_eq!(stored.object_id, BOB_OID);
        assert_eq!(stored.tenant_id, pimbot::testing::fake_oidc::FAKE_OIDC_TENANT);
        let linked = audit_of(&app, "identity.linked").await;
        assert_eq!(linked.len(), 1);
        assert_eq!(linked[0]["evidence"]["oid"], BOB_OID);
        assert_eq!(linked[0]["chat_id"], "U0BOB");
        assert_eq!(linked[0]["evidence"]["token_sha256"].as_str().map(str::len), Some(64));
        assert_no_token_in_audit(&app).await;
        let whoami = app.slack.command("U0BOB", "whoami").await.expect("whoami").text();
        assert!(whoami.contains(BOB_OID) && whoami.contains("`bob`"), "{whoami}");
        // The authorize request carried PKCE (S256), a nonce and the state, and no step-up.
        let q = idp(&app).authorize_queries().pop().expect("authorize request");
        assert_eq!(q.get("code_challenge_method").map(String::as_str), Some("S256"));
        assert!(q.contains_key("nonce") && q.contains_key("state") && !q.contains_key("prompt"));
        app.settle().await;
        assert!(app.dms("U0BOB").iter().any(|m| m.text.contains("linked")));
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_person_without_a_chat_id_is_found_through_their_link() {
    each_backend("", |app| async move {
        let roles = app.slack.command("U0ERIN", "roles").await.expect("roles").text();
        assert!(roles.contains("not known") && roles.contains("/pim link"), "{roles}");
        linked(&app, "U0ERIN", ERIN_OID, "erin@contoso.com").await;
        let roles = app.slack.command("U0ERIN", "roles").await.expect("roles").text();
        assert!(roles.contains("reader"), "{roles}");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_replayed_state_is_refused_and_binds_nothing_more() {
    each_backend("", |app| async move {
        let link = link_of(&app, "U0BOB").await;
        let page = sign_in(&app, &link, Scenario::person(BOB_OID, "bob@contoso.com")).await;
        assert_eq!(page.status, 200);
        let callback = page.callback.expect("callback url");
        let again = FakeOidc::replay(&callback).await.expect("replay");
        assert_eq!(again.status, 410, "{again:?}");
        // Opening the used link again is refused before the provider is even asked.
        let reopened = reqwest::get(&link).await.expect("reopen");
        assert_eq!(reopened.status().as_u16(), 410);
        assert_eq!(audit_of(&app, "identity.linked").await.len(), 1);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn bad_tokens_are_refused_and_bind_nothing() {
    each_backend("", |app| async move {
        let base = || Scenario::person(BOB_OID, "bob@contoso.com");
        let cases: Vec<(&str, Scenario)> = vec![
            ("wrong nonce", Scenario { nonce: Some("someone-elses-nonce".into()), ..base() }),
            ("wrong aud", Scenario { aud: Some("another-app".into()), ..base() }),
            ("expired", Scenario { lifetime: Duration::minutes(-30), ..base() }),
            ("unknown key", Scenario { key: KeyChoice::Unpublished, ..base() }),
            ("wrong tenant", Scenario { tid: Some("other-tenant".into()), ..base() }),
            ("wrong issuer", Scenario { iss: Some("https://evil.example/v2.0".into()), ..base() }),
            ("refused at the provider", Scenario { deny: true, ..base() }),
        ];
        for (what, scenario) in cases {
            let link = link_of(&app, "U0BOB").await;
            let page = sign_in(&app, &link, scenario).await;
            assert_eq!(page.status, 403, "{what}: {page:?}");
            assert!(stored_link(&app, "U0BOB").await.is_none(), "{what} bound an account");
            // The state is used up: the same link never works again.
            assert_eq!(reqwest::get(&link).await.expect("reopen").status().as_u16(), 410, "{what}");
        }
        assert_eq!(audit_of(&app, "identity.sign_in_failed").await.len(), 7);
        assert!(audit_of(&app, "identity.linked").await.is_empty());
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_callback_for_a_different_chat_user_or_account_is_refused() {
    each_backend("", |app| async move {
        // bob's code delivered with erin's state: PKCE and nonce belong to bob's flow.
        let bob_link = link_of(&app, "U0BOB").await;
        let erin_link = link_of(&app, "U0ERIN").await;
        idp(&app).push(Scenario::person(BOB_OID, "bob@contoso.com"));
        let bob_callback = FakeOidc::callback_for(&bob_link).await.expect("bob's callback");
        idp(&app).push(Scenario::person(ERIN_OID, "erin@contoso.com"));
        let erin_callback = FakeOidc::callback_for(&erin_link).await.expect("erin's callback");
        let code = |url: &str| url.split("code=").nth(1).and_then(|r| r.split('&').next()).map(str::to_owned);
        let bob_code = code(&bob_callback).expect("code");
        let erin_code = code(&erin_callback).expect("code");
        let swapped = erin_callback.replace(&erin_code, &bob_code);
        let page = FakeOidc::replay(&swapped).await.expect("swapped callback");
        assert_eq!(page.status, 403, "{page:?}");
        assert!(stored_link(&app, "U0ERIN").await.is_none() && stored_link(&app, "U0BOB").await.is_none());

        // alice's Slack account is alice's in the policy: carol's sign-in cannot take it.
        let link = link_of(&app, "U0ALICE").await;
        let page = sign_in(&app, &link, Scenario::person(CAROL_OID, "carol@contoso.com")).await;
        assert_eq!(page.status, 403, "{page:?}");
        assert!(page.body.contains("belongs to `alice`"), "{}", page.body);
        // A stranger's Slack account cannot take alice's directory account either.
        let link = link_of(&app, "U0MALLORY").await;
        let page = sign_in(&app, &link, Scenario::person(ALICE_OID, "alice@contoso.com")).await;
        assert_eq!(page.status, 403, "{page:?}");
        for user in ["U0ALICE", "U0MALLORY"] {
            assert!(stored_link(&app, user).await.is_none(), "{user}");
        }
        assert_eq!(audit_of(&app, "identity.link_refused").await.len(), 2);
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn rotated_keys_are_picked_up_and_unknown_keys_refetch_at_most_once() {
    each_backend("", |app| async move {
        linked(&app, "U0BOB", BOB_OID, "bob").await;
        let fetches = idp(&app).jwks_fetches();
        assert_eq!(fetches, 1);
        // The provider rotates: the next token is signed with a key pimbot has not seen.
        idp(&app).rotate();
        linked(&app, "U0ERIN", ERIN_OID, "erin").await;
        assert_eq!(idp(&app).jwks_fetches(), 2, "one refetch picked up the new key");
        // Tokens signed with unknown keys: one refetch, then refusals without fetching.
        for _ in 0..3 {
            let link = link_of(&app, "U0DAVE").await;
            let page =
                sign_in(&app, &link, Scenario { key: KeyChoice::Unpublished, ..Scenario::person("x", "x") })
                    .await;
            assert_eq!(page.status, 403);
        }
        assert_eq!(idp(&app).jwks_fetches(), 2, "the rotation's refetch used the allowance");
        app.advance(Duration::minutes(6));
        let link = link_of(&app, "U0DAVE").await;
        let page =
            sign_in(&app, &link, Scenario { key: KeyChoice::Unpublished, ..Scenario::person("x", "x") })
                .await;
        assert_eq!(page.status, 403);
        assert_eq!(idp(&app).jwks_fetches(), 3, "one more refetch after five minutes");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn with_require_link_unlinked_people_can_neither_request_nor_approve() {
    each_backend("require_link = true", |app| async move {
        let reply = app.slack.command("U0BOB", "activate reader 30m check logs").await.expect("cmd").text();
        assert!(reply.contains("/pim link"), "{reply}");
        linked(&app, "U0BOB", BOB_OID, "bob").await;
        let (_, id) = app.activate("U0BOB", "reader 30m check logs").await;
        app.settle().await;
        assert_eq!(app.request(&id).await.state.as_str(), "active");
        // carol is an approver in the policy but has not linked: her click is refused.
        linked(&app, "U0ALICE", ALICE_OID, "alice").await;
        let page_text = app.slack.command("U0CAROL", "whoami").await.expect("whoami").text();
        assert!(page_text.contains("not linked"), "{page_text}");
        let denied = app.slack.command("U0CAROL", "roles").await.expect("roles").text();
        assert!(denied.contains("requires a linked account"), "{denied}");
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn discord_links_and_answers_whoami() {
    use crate::support::discord::{self as dc, ephemeral_text};
    use pimbot::testing::discord_signing as ds;
    for db in backends().await {
        let policy = dc::policy().replacen("[[person]]", "{oidc}\n[[person]]", 1);
        let app = crate::support::app::TestApp::spawn_with_discord_policy(db, &policy).await;
        let text = ephemeral_text(&app.interact(&ds::command(dc::DAVE, "link", &[])).await);
        let link = crate::support::identity::link_in(&text);
        let page = sign_in(&app, &link, Scenario::person(CAROL_OID, "dave@contoso.com")).await;
        assert_eq!(page.status, 200, "{page:?}");
        let stored =
            app.store().identity_link(&pimbot::core::ids::ChatUser::discord(dc::DAVE)).await.expect("read");
        assert_eq!(stored.map(|l| l.object_id).as_deref(), Some(CAROL_OID));
        let whoami = ephemeral_text(&app.interact(&ds::command(dc::DAVE, "whoami", &[])).await);
        assert!(whoami.contains(CAROL_OID) && whoami.contains("`dave`"), "{whoami}");
        app.stop().await;
    }
}
