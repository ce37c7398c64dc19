//! Teams delivery details: `Retry-After` and failure classes on the Connector, the app token
//! cached across calls, a post in doubt (taken, answered too late) reported unconfirmed and
//! counted when posted again, notification-only mode through a fake Workflows webhook (feed and
//! alarms only, no buttons; an open alarm says it must be acknowledged and names the on-call
//! tag in text, since a webhook cannot page it), and `pimbot teams package`.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration as StdDuration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use chrono::{Duration, Utc};
use pimbot::auth::credential::ClientCredential;
use pimbot::core::ids::Platform;
use pimbot::core::outbox::{DeliveryOutcome, OutboxItem, OutgoingMessage, Target};
use pimbot::core::ports::{ChatSender, Clock, ManualClock};
use pimbot::core::view::{MessageBody, Notice};
use pimbot::teams::{BotIdentity, Connector, TeamsSender, webhook};
use pimbot::testing::{FAKE_TEAMS_APP_ID, FAKE_TEAMS_APP_PASSWORD, FAKE_TEAMS_TENANT, FakeTeams};
use serde_json::{Value, json};

use crate::support::app::TestApp;
use crate::support::teams::{FEED, ONCALL_TAG_NAME, policy};

fn feed_line(text: &str) -> OutgoingMessage {
    OutgoingMessage {
        platform: Platform::Teams,
        target: Target::Channel { channel: FEED.into() },
        body: MessageBody::Notice(Notice::text(text)),
        order_key: "t".into(),
        remember_as: None,
    }
}

#[tokio::test]
async fn connector_failures_are_classified_and_retry_after_is_honoured() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let fake = FakeTeams::start(clock.clone()).await;
    let db = crate::support::db::sqlite().await;
    let connector = Arc::new(
        Connector::new(BotIdentity {
            app_id: FAKE_TEAMS_APP_ID.into(),
            tenant_id: FAKE_TEAMS_TENANT.into(),
            token_url: fake.token_url(),
            credential: ClientCredential::Secret(FAKE_TEAMS_APP_PASSWORD.to_owned().into()),
        })
        .expect("connector"),
    );
    let sender = TeamsSender::new(
        connector,
        db.store.clone(),
        &fake.service_url(),
        Arc::new(|id: &str| id.to_owned()),
    );
    let now = clock.now();
    let deliver = |text: &'static str| {
        let sender = &sender;
        async move { sender.deliver(&OutboxItem::fresh(1, feed_line(text), now), None, now).await }
    };

    fake.fail_next(429, Some("7"));
    assert!(
        matches!(deliver("a").await, DeliveryOutcome::RetryAt(at, _) if at == now + Duration::seconds(7))
    );
    fake.fail_next(429, None);
    assert!(
        matches!(deliver("b").await, DeliveryOutcome::RetryAt(at, _) if at == now + Duration::seconds(5))
    );
    for transient in [412, 502, 504] {
        fake.fail_next(transient, None);
        assert!(
            matches!(deliver("c").await, DeliveryOutcome::RetryAt(at, _) if at == now + Duration::seconds(2))
        );
    }
    fake.fail_next(403, None);
    assert!(matches!(deliver("d").await, DeliveryOutcome::Rejected(e) if e.contains("403")));
    assert!(matches!(deliver("e").await, DeliveryOutcome::Sent(None)));
    assert_eq!(fake.messages().len(), 1, "only the last one landed");
    assert_eq!(fake.tokens_issued(), 1, "one app token for every call");
    // A user pimbot never talked to cannot be messaged: rejected, not retried forever.
    let dm = OutgoingMessage { target: Target::User { user: "0000".into() }, ..feed_line("x") };
    assert!(matches!(
        sender.deliver(&OutboxItem::fresh(2, dm, now), None, now).await,
        DeliveryOutcome::Rejected(_)
    ));
}

#[tokio::test]
async fn a_post_in_doubt_is_reported_unconfirmed_posted_again_and_counted() {
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let fake = FakeTeams::start(clock.clone()).await;
    let db = crate::support::db::sqlite().await;
    let connector = Connector::new(BotIdentity {
        app_id: FAKE_TEAMS_APP_ID.into(),
        tenant_id: FAKE_TEAMS_TENANT.into(),
        token_url: fake.token_url(),
        credential: ClientCredential::Secret(FAKE_TEAMS_APP_PASSWORD.to_owned().into()),
    })
    .expect("connector")
    .with_call_timeout(StdDuration::from_millis(500));
    let sender = TeamsSender::new(
        Arc::new(connector),
        db.store.clone(),
        &fake.service_url(),
        Arc::new(|id: &str| id.to_owned()),
    );
    let now = clock.now();
    let item = OutboxItem::fresh(7, feed_line("in doubt"), now);
    let reposts = || {
        crate::metrics::sample(
            &pimbot::metrics::render(),
            "pimbot_chat_reposts_in_doubt_total",
            &[("platform", "teams")],
        )
    };
    let before = reposts();

    // Teams takes the post but answers after the client gave up: the outcome is unknown.
    fake.take_then_stall(StdDuration::from_secs(3));
    let outcome = sender.deliver(&item, None, now).await;
    assert!(
        matches!(outcome, DeliveryOutcome::Unconfirmed(at, _) if at == now + Duration::seconds(2)),
        "{outcome:?}"
    );
    assert_eq!(fake.messages().len(), 1, "it landed");
    // A refused connection never sent anything: an ordinary retry, not in doubt.
    let closed = TeamsSender::new(
        Arc::new(
            Connector::new(BotIdentity {
                app_id: FAKE_TEAMS_APP_ID.into(),
                tenant_id: FAKE_TEAMS_TENANT.into(),
                token_url: fake.token_url(),
                credential: ClientCredential::Secret(FAKE_TEAMS_APP_PASSWORD.to_owned().into()),
            })
            .expect("connector"),
        ),
        db.store.clone(),
        "http://127.0.0.1:9/amer/",
        Arc::new(|id: &str| id.to_owned()),
    );
    assert!(matches!(closed.deliver(&item, None, now).await, DeliveryOutcome::RetryAt(..)));

    // The Bot Framework cannot find the first post, so the retry posts again and counts it.
    let retry = OutboxItem { in_doubt: true, attempts: 1, ..item.clone() };
    assert!(matches!(sender.deliver(&retry, None, now).await, DeliveryOutcome::Sent(None)));
    assert_eq!(fake.messages().len(), 2, "the documented limit: it may show twice");
    assert!(reposts() >= before + 1.0, "counted in pimbot_chat_reposts_in_doubt_total");
}

#[derive(Clone, Default)]
struct Workflows(Arc<Mutex<Vec<Value>>>);

async fn workflows(State(w): State<Workflows>, Json(body): Json<Value>) -> StatusCode {
    w.0.lock().expect("lock").push(body);
    StatusCode::ACCEPTED
}

#[tokio::test]
async fn notification_only_mode_posts_the_feed_and_alarms_to_the_webhook() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "http://{}/workflows/triggers/manual/paths/invoke?api-version=1&sig=x",
        listener.local_addr().expect("addr")
    );
    let hook = Workflows::default();
    let router = axum::Router::new()
        .route("/workflows/triggers/manual/paths/invoke", post(workflows))
        .with_state(hook.clone());
    tokio::spawn(async move { axum::serve(listener, router).await.ok() });
    let bg = format!(
        "{}\n[break_glass_monitor]\nwebhook_token = \"bg-token\"\n\n[[break_glass]]\nupn = \"bg1@contoso.onmicrosoft.com\"\n",
        policy()
    );
    for db in crate::support::db::backends().await {
        hook.0.lock().expect("lock").clear();
        let app = TestApp::spawn_with_teams_webhook(db, &bg, &url).await;
        let run = async {
            let (_, id) = app.activate("U0ALICE", "global-admin 1h #INC-1 webhook test").await;
            app.settle().await;
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
            let posts = hook.0.lock().expect("lock").clone();
            assert!(posts.iter().all(|p| p["type"] == "message"
                && p["attachments"][0]["contentType"] == "application/vnd.microsoft.card.adaptive"));
            assert!(posts.iter().any(|p| p.to_string().contains(id.as_str())), "the feed line: {posts:?}");
            let alarm = posts
                .iter()
                .find(|p| p.to_string().contains("bg1@contoso.onmicrosoft.com"))
                .map(|p| p["attachments"][0]["content"].clone())
                .expect("the alarm");
            // Workflows cannot page the on-call tag (documented for bots only): the card says
            // in bold that it must be acknowledged and names who is on call, with no mention.
            let body = alarm["body"].as_array().expect("body");
            let must = body.iter().find(|b| b["text"] == webhook::MUST_ACKNOWLEDGE).expect("must ack");
            assert_eq!((&must["weight"], &must["color"]), (&json!("Bolder"), &json!("Attention")), "{must}");
            let on_call = format!("On call: {ONCALL_TAG_NAME}.");
            assert!(
                body.iter().any(|b| b["text"].as_str().is_some_and(|t| t.starts_with(&on_call))),
                "{alarm}"
            );
            assert!(alarm["msteams"].is_null() && !alarm.to_string().contains("<at>"), "no mention: {alarm}");
            crate::teams_schema::assert_valid_card("the webhook's alarm", &alarm);
            assert!(posts.iter().all(|p| !p.to_string().contains("Action.")), "nothing to click: {posts:?}");
            assert!(
                posts.iter().all(|p| !p.to_string().contains("FactSet") || p.to_string().contains("bg1")),
                "no approval card"
            );
        };
        tokio::time::timeout(StdDuration::from_secs(60), run).await.expect("in time");
        app.stop().await;
    }
}

#[test]
fn teams_package_zips_the_manifest_with_the_app_id_and_both_icons() {
    let dir = tempfile::tempdir().expect("dir");
    let config = dir.path().join("pimbot.toml");
    let toml = format!(
        "{}\n[teams]\napp_id = \"{FAKE_TEAMS_APP_ID}\"\ntenant_id = \"{FAKE_TEAMS_TENANT}\"\napp_password = \"x\"\napprover_channel = \"19:a@thread.tacv2\"\n",
        policy().replace(
            "url = \"sqlite://unused.db\"",
            &format!("url = \"sqlite://{}\"", dir.path().join("db").display())
        )
    );
    std::fs::write(&config, toml).expect("write");
    let out = dir.path().join("pkg.zip");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_pimbot"))
        .args(["teams", "--config"])
        .arg(&config)
        .args(["package", "--out"])
        .arg(&out)
        .env_remove("PIMBOT_CONFIG")
        .output()
        .expect("run pimbot");
    assert!(status.status.success(), "{}", String::from_utf8_lossy(&status.stderr));
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&out).expect("zip")).expect("a zip");
    let mut names: Vec<String> = zip.file_names().map(|n| n.expect("a name").into_owned()).collect();
    names.sort();
    assert_eq!(names, ["color.png", "manifest.json", "outline.png"]);
    let mut text = String::new();
    zip.by_name("manifest.json").expect("manifest").read_to_string(&mut text).expect("read");
    let manifest: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(manifest["id"], FAKE_TEAMS_APP_ID);
    assert_eq!(manifest["bots"][0]["botId"], FAKE_TEAMS_APP_ID);
    assert_eq!(manifest["manifestVersion"], "1.17");
    assert_eq!(manifest["bots"][0]["scopes"], serde_json::json!(["personal", "team"]));
    assert_eq!(
        (manifest["icons"]["color"].as_str(), manifest["icons"]["outline"].as_str()),
        (Some("color.png"), Some("outline.png"))
    );
    for (name, side) in [("color.png", 192u32), ("outline.png", 32)] {
        let mut png = Vec::new();
        zip.by_name(name).expect("icon").read_to_end(&mut png).expect("read");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let w = u32::from_be_bytes([png[16], png[17], png[18], png[19]]);
        let h = u32::from_be_bytes([png[20], png[21], png[22], png[23]]);
        assert_eq!((w, h), (side, side), "{name}");
    }
}
