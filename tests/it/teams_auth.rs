//! Teams inbound authentication against the fake Bot Framework: every kind of bad token is
//! answered 401 and changes nothing (no request, no reply, no replay key); a foreign tenant or
//! channel, or a key endorsed only for another channel, 403; a token signed with a rotated-in key is accepted after one key refetch; a
//! token expired by less than the 5-minute skew still passes.

use std::future::Future;
use std::time::Duration as StdDuration;

use pimbot::testing::{SignWith, TokenSpec};

use crate::support::app::TestApp;
use crate::support::teams::{policy, user};

async fn each_backend<F, Fut>(test: F)
where
    F: Fn(TestApp) -> Fut,
    Fut: Future<Output = ()>,
{
    for db in crate::support::db::backends().await {
        let name = db.name;
        let app = TestApp::spawn_with_teams(db, &policy()).await;
        tokio::time::timeout(StdDuration::from_secs(60), test(app))
            .await
            .unwrap_or_else(|_| panic!("timed out on {name}"));
    }
}

fn base(app: &TestApp) -> String {
    format!("http://{}", app.running.addr)
}

#[tokio::test]
async fn bad_tokens_are_refused_with_401_and_change_nothing() {
    each_backend(|app: TestApp| async move {
        let fake = app.fake_teams();
        let good = fake.token_spec();
        let variants: Vec<(&str, TokenSpec)> = vec![
            ("unsigned (alg none)", TokenSpec { sign: SignWith::None, ..good.clone() }),
            ("wrong issuer", TokenSpec { iss: "https://api.botframework.evil".into(), ..good.clone() }),
            (
                "emulator issuer",
                TokenSpec {
                    iss: "https://sts.windows.net/d6d49420-f39b-4df7-a1dc-d59a935871db/".into(),
                    ..good.clone()
                },
            ),
            ("wrong audience", TokenSpec { aud: "https://api.botframework.com".into(), ..good.clone() }),
            ("expired beyond skew", TokenSpec { nbf: -4000, exp: -301, ..good.clone() }),
            ("not yet valid", TokenSpec { nbf: 400, exp: 4000, ..good.clone() }),
            ("unknown key", TokenSpec { sign: SignWith::Unknown, ..good.clone() }),
            (
                "other service url",
                TokenSpec { serviceurl: Some("https://evil.example/amer/".into()), ..good.clone() },
            ),
            ("no service url", TokenSpec { serviceurl: None, ..good.clone() }),
        ];
        let alice = user("alice");
        for (i, (why, spec)) in variants.iter().enumerate() {
            let activity =
                fake.personal_message(&alice, &format!("bad-{i}"), "activate reader 1h looking around");
            let token = fake.token(spec);
            assert_eq!(fake.deliver(&base(&app), &activity, Some(&token)).await.0, 401, "{why}");
        }
        let activity = fake.personal_message(&alice, "no-header", "activate reader 1h looking around");
        assert_eq!(fake.deliver(&base(&app), &activity, None).await.0, 401, "no header");
        let token = fake.token(&good);
        let basic = reqwest::Client::new()
            .post(format!("{}/teams/messages", base(&app)))
            .header("authorization", format!("Basic {token}"))
            .json(&activity)
            .send()
            .await
            .expect("post");
        assert_eq!(basic.status().as_u16(), 401, "Basic scheme");

        // Nothing happened: no request, no reply, and the refused ids were not used up.
        app.settle().await;
        let alice_id = pimbot::core::ids::PersonId::from("alice");
        assert!(app.store().open_requests_for(&alice_id).await.expect("read").is_empty());
        assert!(fake.messages().is_empty(), "{:?}", fake.messages());
        assert!(fake.calls().is_empty());

        // The same activity with a good token (expired, but within the skew) is acted on.
        let within_skew = fake.token(&TokenSpec { nbf: -4000, exp: -200, ..good.clone() });
        let again = fake.personal_message(&alice, "bad-0", "activate reader 1h looking around");
        assert_eq!(fake.deliver(&base(&app), &again, Some(&within_skew)).await.0, 200);
        app.settle().await;
        assert_eq!(app.store().open_requests_for(&alice_id).await.expect("read").len(), 1);
        assert!(
            app.teams_dms("alice").iter().any(|m| m.activity["text"].as_str().unwrap_or("").contains("r-"))
        );
        assert!(fake.problems().is_empty(), "{:?}", fake.problems());
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn foreign_tenants_and_channels_are_refused_with_403() {
    each_backend(|app: TestApp| async move {
        let fake = app.fake_teams();
        let alice = user("alice");
        let mut foreign = fake.personal_message(&alice, "t-1", "status");
        foreign["channelData"]["tenant"]["id"] = "11111111-2222-3333-4444-555555555555".into();
        foreign["conversation"]["tenantId"] = "11111111-2222-3333-4444-555555555555".into();
        assert_eq!(app.teams_send(&foreign).await.0, 403);
        let mut emulator = fake.personal_message(&alice, "t-2", "status");
        emulator["channelId"] = "emulator".into();
        assert_eq!(app.teams_send(&emulator).await.0, 403);
        // A genuine Bot Framework key endorsed only for Web Chat does not sign for Teams.
        let webchat = fake.token(&TokenSpec { sign: SignWith::Webchat, ..fake.token_spec() });
        let activity = fake.personal_message(&alice, "t-3", "status");
        assert_eq!(fake.deliver(&base(&app), &activity, Some(&webchat)).await.0, 403);
        app.settle().await;
        assert!(fake.messages().is_empty());
        app.stop().await;
    })
    .await;
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_one_refetch_and_a_resent_activity_acts_once() {
    each_backend(|app: TestApp| async move {
        let fake = app.fake_teams();
        let alice = user("alice");
        assert_eq!(app.teams_send(&fake.personal_message(&alice, "m-1", "status")).await.0, 200);
        let fetched = fake.jwks_fetches();
        assert_eq!(fetched, 1);
        fake.rotate(false);
        assert_eq!(app.teams_send(&fake.personal_message(&alice, "m-2", "status")).await.0, 200);
        assert_eq!(fake.jwks_fetches(), 2, "one refetch for the new kid");
        // Teams resends a slow turn with the same id: answered, not acted on again.
        assert_eq!(app.teams_send(&fake.personal_message(&alice, "m-2", "status")).await.0, 200);
        app.settle().await;
        assert_eq!(app.teams_dms("alice").len(), 2, "{:?}", app.teams_dms("alice"));
        app.stop().await;
    })
    .await;
}
