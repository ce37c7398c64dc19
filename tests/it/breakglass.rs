//! Break-glass alarms end to end: the Azure Monitor webhook (token, parsing, dedupe of retries
//! and resolves), the alarm in the alert channel, re-pages until acknowledged, acknowledgement
//! through the Slack button and modal, restarts, and the policy check.

use chrono::Duration;
use pimbot::testing::azure_monitor::{log_alert_v2, with_dimension};
use pimbot::testing::signing::text_inputs;
use serde_json::Value;

use crate::support::app::{ALERTS, FEED, POLICY, TestApp};
use crate::support::db::{TestDb, backends};

/// The shared webhook token of the test config.
const TOKEN: &str = "bg-test-token";
/// The break-glass account.
const BG: &str = "bg1@contoso.onmicrosoft.com";

fn policy() -> String {
    format!(
        "{POLICY}\n[break_glass_monitor]\nwebhook_token = \"{TOKEN}\"\nrepage_every = \"2m\"\n\n\
         [[break_glass]]\nupn = \"BG1@contoso.onmicrosoft.com\"\nobject_id = \"26be570a-ae82-4189-b4e2-a37c6808512d\"\n"
    )
}

async fn spawn(db: TestDb) -> TestApp {
    TestApp::spawn_with(db, &policy()).await
}

/// Runs `$body` with a fresh break-glass app on every backend, inside a timeout.
macro_rules! on_every_backend_bg {
    ($body:expr) => {{
        for db in backends().await {
            let name = db.name;
            let app = spawn(db).await;
            tokio::time::timeout(std::time::Duration::from_secs(60), $body(app))
                .await
                .unwrap_or_else(|_| panic!("timed out on {name}"));
        }
    }};
}

/// POSTs `body` to the webhook with `token` (none: no query at all); returns status and body.
async fn webhook(app: &TestApp, token: Option<&str>, body: String) -> (u16, String) {
    let query = token.map(|t| format!("?token={t}")).unwrap_or_default();
    let resp = reqwest::Client::new()
        .post(format!("http://{}/webhooks/azure-monitor{query}", app.running.addr))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("webhook call");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

fn fired(upn: &str, alert: &str) -> Value {
    log_alert_v2("Fired", upn, "203.0.113.7", alert)
}

fn ack_value(blocks: &Value) -> Option<String> {
    pimbot::demo::button_value(blocks, "ack")
}

/// Messages in the alert channel everyone sees (ephemeral refusals left out).
fn pages_of(app: &TestApp) -> Vec<pimbot::testing::FakeMessage> {
    app.channel(ALERTS).into_iter().filter(|m| m.ephemeral_for.is_none()).collect()
}

async fn audit_kinds(app: &TestApp, kind: &str) -> usize {
    let records = app.store().audit_records(None).await.expect("audit");
    records.iter().filter(|r| r.event.kind == kind).count()
}

#[tokio::test]
async fn a_fired_alert_pages_the_alert_channel_once_despite_retries_and_resolves() {
    on_every_backend_bg!(|app: TestApp| async move {
        let (status, body) = webhook(&app, Some(TOKEN), fired(BG, "a1").to_string()).await;
        assert_eq!(status, 200, "{body}");
        app.settle().await;
        let alarms = pages_of(&app);
        assert_eq!(alarms.len(), 1, "{alarms:?}");
        assert!(alarms[0].text.starts_with("<!channel>"), "{}", alarms[0].text);
        let blocks = alarms[0].blocks.to_string();
        let id = ack_value(&alarms[0].blocks).expect("an ack button carrying the alarm id");
        assert!(body.contains(&id), "the answer names the alarm: {body}");
        for shown in ["BG1@contoso.onmicrosoft.com", "203.0.113.7", "2020-07-09 14:04:49 UTC", "Succeeded"] {
            assert!(blocks.contains(shown), "alarm shows {shown}: {blocks}");
        }
        assert!(app.channel(FEED).iter().any(|m| m.text.contains(&id)), "feed line");
        assert_eq!(audit_kinds(&app, "breakglass.signin").await, 1);

        // Azure retries the same notification, then posts the resolve: no second alarm.
        assert_eq!(webhook(&app, Some(TOKEN), fired(BG, "a1").to_string()).await.0, 200);
        let resolved = log_alert_v2("Resolved", BG, "203.0.113.7", "a1");
        assert_eq!(webhook(&app, Some(TOKEN), resolved.to_string()).await.0, 200);
        app.settle().await;
        assert_eq!(pages_of(&app).len(), 1);
        assert_eq!(audit_kinds(&app, "breakglass.signin").await, 1);
        app.stop().await;
    });
}

#[tokio::test]
async fn bad_tokens_unknown_accounts_and_malformed_bodies_raise_nothing() {
    on_every_backend_bg!(|app: TestApp| async move {
        let body = fired(BG, "a1").to_string();
        assert_eq!(webhook(&app, None, body.clone()).await.0, 401);
        assert_eq!(webhook(&app, Some("wrong"), body.clone()).await.0, 401);
        assert_eq!(webhook(&app, Some(""), body).await.0, 401);
        let (status, _) = webhook(&app, Some(TOKEN), fired("alice@contoso.com", "a2").to_string()).await;
        assert!((200..300).contains(&status), "unknown account is accepted quietly: {status}");
        assert_eq!(webhook(&app, Some(TOKEN), "{not json".into()).await.0, 400);
        assert_eq!(webhook(&app, Some(TOKEN), r#"{"schemaId":"other"}"#.into()).await.0, 400);
        // A bad token is refused before the body is looked at.
        assert_eq!(webhook(&app, Some("wrong"), "{not json".into()).await.0, 401);
        app.settle().await;
        assert!(pages_of(&app).is_empty());
        assert_eq!(audit_kinds(&app, "breakglass.signin").await, 0);
        app.stop().await;
    });
}

#[tokio::test]
async fn alarms_repage_until_acknowledged_with_a_reason() {
    on_every_backend_bg!(|app: TestApp| async move {
        webhook(&app, Some(TOKEN), fired(BG, "a1").to_string()).await;
        app.settle().await;
        app.advance(Duration::minutes(2) - Duration::seconds(1));
        app.settle().await;
        assert_eq!(pages_of(&app).len(), 1, "no repeat before repage_every");
        app.advance(Duration::seconds(1));
        app.settle().await;
        let pages = pages_of(&app);
        assert_eq!(pages.len(), 2, "one repeat after repage_every");
        assert!(pages[1].text.starts_with("<!channel>"), "{}", pages[1].text);
        assert_eq!(audit_kinds(&app, "breakglass.repaged").await, 1);

        let first = &pages[0];
        let id = ack_value(&first.blocks).expect("ack button");
        // Someone pimbot does not know may not acknowledge.
        app.slack.click("U0STRANGER", "ack", &id, ALERTS, &first.ts).await.expect("click");
        app.settle().await;
        assert_eq!(app.fake.views_opened(), 0);
        assert!(app.ephemerals("U0STRANGER").iter().any(|m| !m.text.is_empty()), "the stranger is told why");
        assert_eq!(
            app.slack.click("U0CAROL", "ack", &id, ALERTS, &first.ts).await.expect("click").status,
            200
        );
        app.fake
            .wait_for("views.open", 1, std::time::Duration::from_secs(30))
            .await
            .expect("ack form opened");

        let empty = app.slack.submit("U0CAROL", "ack_reason", &id, text_inputs(&[("reason", "  ")])).await;
        let empty = empty.expect("submit");
        assert!(empty.body.contains("\"response_action\":\"errors\""), "{empty:?}");
        let reply = app
            .slack
            .submit("U0CAROL", "ack_reason", &id, text_inputs(&[("reason", "sanctioned DR drill")]))
            .await
            .expect("submit");
        assert_eq!(reply.status, 200, "{reply:?}");
        assert!(!reply.body.contains("errors"), "{reply:?}");
        app.settle().await;

        let pages = pages_of(&app);
        assert_eq!(pages.len(), 2, "updated in place, not reposted");
        for page in &pages {
            let blocks = page.blocks.to_string();
            assert!(ack_value(&page.blocks).is_none(), "button gone: {blocks}");
            assert!(blocks.contains("<@U0CAROL>") && blocks.contains("sanctioned DR drill"), "{blocks}");
            assert!(page.edits >= 1);
        }
        assert!(app.channel(FEED).iter().any(|m| m.text.contains("acknowledged") && m.text.contains(&id)));
        assert_eq!(audit_kinds(&app, "breakglass.acknowledged").await, 1);

        // A second acknowledgement is refused; nothing pages any more.
        let again = app.slack.submit("U0DAVE", "ack_reason", &id, text_inputs(&[("reason", "me too")])).await;
        assert!(again.expect("submit").body.contains("already acknowledged"));
        app.advance(Duration::minutes(10));
        app.settle().await;
        assert_eq!(pages_of(&app).len(), 2, "no page after acknowledgement");
        assert!(
            pimbot::storage::audit_export::verify(
                app.store().as_ref(),
                &pimbot::testing::audit::test_ring(),
                None
            )
            .await
            .is_ok()
        );
        app.stop().await;
    });
}

#[tokio::test]
async fn a_failed_attempt_is_raised_with_lower_severity_wording() {
    on_every_backend_bg!(|app: TestApp| async move {
        let body = with_dimension(fired(BG, "a1"), "ResultType", "50126");
        assert_eq!(webhook(&app, Some(TOKEN), body.to_string()).await.0, 200);
        app.settle().await;
        let alarm = &pages_of(&app)[0];
        assert!(alarm.text.starts_with("<!channel>") && alarm.text.contains("Failed"), "{}", alarm.text);
        let blocks = alarm.blocks.to_string();
        assert!(blocks.contains("Failed attempt") && blocks.contains("lower severity"), "{blocks}");
        assert!(blocks.contains("medium"), "{blocks}");
        app.stop().await;
    });
}

#[tokio::test]
async fn a_restart_neither_reraises_nor_forgets_to_repage() {
    for db in backends().await {
        let app = spawn(db).await;
        webhook(&app, Some(TOKEN), fired(BG, "a1").to_string()).await;
        app.settle().await;
        assert_eq!(pages_of(&app).len(), 1);
        let db = app.stop().await;

        let app = spawn(db).await;
        let (status, body) = webhook(&app, Some(TOKEN), fired(BG, "a1").to_string()).await;
        assert_eq!(status, 200, "{body}");
        app.settle().await;
        assert!(pages_of(&app).is_empty(), "the redelivery raised nothing new");
        app.advance(Duration::minutes(2));
        app.settle().await;
        let pages = pages_of(&app);
        assert_eq!(pages.len(), 1, "the open alarm still pages after the restart");
        assert!(
            pages[0].text.starts_with("<!channel>") && pages[0].text.contains("repeat"),
            "{}",
            pages[0].text
        );
        assert_eq!(audit_kinds(&app, "breakglass.signin").await, 1);
        app.stop().await;
    }
}

#[tokio::test]
async fn check_refuses_a_break_glass_account_that_is_eligible_for_a_role() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("pimbot.toml");
    let bad = policy().replace(
        "[[break_glass]]",
        "[[person]]\nid = \"bg1\"\nupn = \"bg1@contoso.onmicrosoft.com\"\n\n[[break_glass]]",
    );
    let bad = bad.replace("eligible = [\"alice\", \"bob\"]", "eligible = [\"alice\", \"bob\", \"bg1\"]");
    std::fs::write(&path, &bad).expect("write config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pimbot"))
        .arg("check")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run pimbot check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "check must fail");
    assert!(stderr.contains("break-glass") && stderr.contains("bg1"), "{stderr}");

    std::fs::write(&path, policy()).expect("write config");
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_pimbot"))
        .arg("check")
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run pimbot check");
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
}

mod store {
    //! The alarm half of the `Store` contract, on every backend.

    use chrono::{TimeZone, Utc};
    use pimbot::core::Error;
    use pimbot::core::alarm::{Alarm, SignIn, signin_key};
    use pimbot::core::policy::BreakGlass;
    use pimbot::core::ports::{Commit, Write};

    use super::*;

    fn alarm(id: &str, signin: &str) -> Alarm {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).single().expect("valid");
        let s = SignIn {
            signin_id: signin_key(signin),
            upn: BG.into(),
            object_id: None,
            at: t,
            ip: Some("203.0.113.7".into()),
            location: Some("Redmond, US".into()),
            app: Some("Azure Portal".into()),
            client: Some("Browser".into()),
            ca_status: Some("notApplied".into()),
            succeeded: false,
        };
        let account = BreakGlass { upn: BG.into(), object_id: None };
        Alarm::raise(id.into(), &account, &s, t, Duration::minutes(2))
    }

    #[tokio::test]
    async fn alarms_dedupe_compare_and_set_and_come_due() {
        for db in backends().await {
            let s = &db.store;
            let a = alarm("a-1", "s-1");
            s.commit(Commit { alarms: vec![Write::Insert(a.clone())], ..Commit::default() })
                .await
                .expect("insert");
            assert_eq!(s.alarm(&a.id).await.expect("read"), Some(a.clone()), "round trip on {}", db.name);
            let dup = s
                .commit(Commit { alarms: vec![Write::Insert(alarm("a-2", "s-1"))], ..Commit::default() })
                .await;
            assert!(matches!(dup, Err(Error::Conflict(_))), "same sign-in twice: {dup:?}");
            assert!(s.alarm(&"a-2".into()).await.expect("read").is_none());

            let due_at = a.next_page_at.expect("open");
            assert!(s.due_alarm_pages(due_at - Duration::seconds(1), 10).await.expect("due").is_empty());
            assert_eq!(s.due_alarm_pages(due_at, 10).await.expect("due").len(), 1);

            let mut acked = a.clone();
            acked.acknowledged_by = Some("carol".into());
            acked.acknowledged_at = Some(due_at);
            acked.reason = Some("drill".into());
            acked.next_page_at = None;
            let update = |row: Alarm| Commit {
                alarms: vec![Write::Update { row, expected_version: 1 }],
                ..Commit::default()
            };
            s.commit(update(acked.clone())).await.expect("first update wins");
            assert!(
                matches!(s.commit(update(acked.clone())).await, Err(Error::Conflict(_))),
                "stale version loses"
            );
            let stored = s.alarm(&a.id).await.expect("read").expect("exists");
            assert_eq!((stored.version, stored.reason.as_deref()), (2, Some("drill")));
            assert!(s.due_alarm_pages(due_at + Duration::hours(1), 10).await.expect("due").is_empty());
        }
    }

    #[tokio::test]
    async fn signin_cursors_only_move_forward() {
        for db in backends().await {
            let s = &db.store;
            let t = Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).single().expect("valid");
            assert_eq!(s.signin_cursor(BG).await.expect("read"), None);
            s.set_signin_cursor(BG, t).await.expect("set");
            s.set_signin_cursor(BG, t - Duration::minutes(5)).await.expect("set");
            assert_eq!(s.signin_cursor(BG).await.expect("read"), Some(t));
            s.set_signin_cursor(BG, t + Duration::seconds(1)).await.expect("set");
            assert_eq!(s.signin_cursor(BG).await.expect("read"), Some(t + Duration::seconds(1)));
            assert_eq!(s.signin_cursor("other").await.expect("read"), None);
        }
    }
}

mod poller {
    //! The Graph sign-in poller against a fake source: dedupe by sign-in id, a persisted cursor,
    //! and a restart that neither misses nor re-raises.

    use std::sync::Mutex;

    use async_trait::async_trait;
    use chrono::{DateTime, Utc};
    use pimbot::core::alarm::{SignIn, signin_key};
    use pimbot::core::policy::BreakGlass;
    use pimbot::core::ports::Clock;
    use pimbot::signins::{OVERLAP, SignInSource, cursor_key, poll_once};

    use super::*;

    #[derive(Default)]
    struct FakeSource {
        signins: Mutex<Vec<SignIn>>,
        asked_since: Mutex<Vec<DateTime<Utc>>>,
    }

    #[async_trait]
    impl SignInSource for FakeSource {
        async fn sign_ins(&self, _account: &BreakGlass, since: DateTime<Utc>) -> anyhow::Result<Vec<SignIn>> {
            self.asked_since.lock().expect("lock").push(since);
            Ok(self.signins.lock().expect("lock").iter().filter(|s| s.at >= since).cloned().collect())
        }
    }

    fn signin(id: &str, at: DateTime<Utc>) -> SignIn {
        SignIn {
            signin_id: signin_key(id),
            upn: BG.to_uppercase(),
            object_id: Some("26be570a-ae82-4189-b4e2-a37c6808512d".into()),
            at,
            ip: Some("131.107.159.37".into()),
            location: Some("Redmond, Washington, US".into()),
            app: Some("Graph explorer".into()),
            client: Some("Browser".into()),
            ca_status: Some("notApplied".into()),
            succeeded: true,
        }
    }

    #[tokio::test]
    async fn polled_sign_ins_raise_once_across_polls_and_restarts() {
        for db in backends().await {
            let app = spawn(db).await;
            let source = FakeSource::default();
            let t = app.clock.now() - Duration::minutes(3);
            source.signins.lock().expect("lock").push(signin("s-1", t));
            let service = &app.running.service;
            assert_eq!(poll_once(service, &source).await, 1);
            assert_eq!(
                poll_once(service, &source).await,
                0,
                "the overlap re-reads s-1 but does not re-raise it"
            );
            let key = cursor_key(&service.policy().break_glass[0]);
            assert_eq!(app.store().signin_cursor(&key).await.expect("cursor"), Some(t));
            assert_eq!(source.asked_since.lock().expect("lock").last().copied(), Some(t - OVERLAP));
            app.settle().await;
            assert_eq!(pages_of(&app).len(), 1);
            let db = app.stop().await;

            let app = spawn(db).await;
            source.signins.lock().expect("lock").push(signin("s-2", t + Duration::minutes(1)));
            assert_eq!(poll_once(&app.running.service, &source).await, 1, "only the new sign-in");
            app.settle().await;
            // (This app's fake Slack is new, so the update of the first page has nothing to
            // edit there; what matters is that no second alarm was raised.)
            let alarms = pages_of(&app).into_iter().filter(|m| ack_value(&m.blocks).is_some()).count();
            assert_eq!(alarms, 0, "it joined the open alarm: no new alarm");
            let open = app.store().open_alarm_for("BG1@contoso.onmicrosoft.com").await.expect("read");
            assert_eq!(open.map(|a| a.signins), Some(2));
            assert_eq!(audit_kinds(&app, "breakglass.signin").await, 1);
            assert_eq!(audit_kinds(&app, "breakglass.signins_joined").await, 1);
            app.stop().await;
        }
    }
}
