//! Break-glass alarms page once per incident, on every backend: 1,500 sign-ins of one account in
//! one webhook raise one alarm whose card counts them and shows the latest; a retry or a second
//! alert rule reporting the same sign-ins adds nothing; later sign-ins join the open alarm
//! (paging again at once only after a quiet spell longer than `coalesce_window`); and only
//! `acknowledgers` may acknowledge.

use pimbot::testing::azure_monitor::{log_alert_v2, search_results};
use pimbot::testing::signing::text_inputs;
use serde_json::Value;

use crate::support::app::{ALERTS, FEED, POLICY, TestApp};
use crate::support::db::backends;

const TOKEN: &str = "bg-storm-token";
const BG: &str = "BG1@contoso.onmicrosoft.com";

fn policy(extra: &str) -> String {
    format!(
        "{POLICY}\n[break_glass_monitor]\nwebhook_token = \"{TOKEN}\"\nrepage_every = \"2m\"\n{extra}\n\
         [[break_glass]]\nupn = \"{BG}\"\n"
    )
}

async fn webhook(app: &TestApp, body: &Value) -> Value {
    let resp = reqwest::Client::new()
        .post(format!("http://{}/webhooks/azure-monitor?token={TOKEN}", app.running.addr))
        .json(body)
        .send()
        .await
        .expect("webhook");
    assert!(resp.status().is_success(), "{}", resp.status());
    resp.json().await.expect("json answer")
}

/// `n` sign-ins of the break-glass account, a second apart from `start_secs` past 14:00.
fn rows(n: usize, start_secs: usize) -> Vec<(String, String, String, String)> {
    (0..n)
        .map(|i| {
            let s = start_secs + i;
            let at = format!("2020-07-09T{:02}:{:02}:{:02}.5Z", 14 + s / 3600, (s / 60) % 60, s % 60);
            (BG.to_lowercase(), at, format!("203.0.{}.{}", i / 250, i % 250), "Azure Portal".to_owned())
        })
        .collect()
}

/// Alarm messages (with an acknowledge button) in the alert channel.
fn alarms(app: &TestApp) -> Vec<pimbot::testing::FakeMessage> {
    app.channel(ALERTS)
        .into_iter()
        .filter(|m| pimbot::demo::button_value(&m.blocks, "ack").is_some())
        .collect()
}

async fn count(app: &TestApp, kind: &str) -> usize {
    app.store().audit_records(None).await.expect("audit").iter().filter(|r| r.event.kind == kind).count()
}

#[tokio::test]
async fn fifteen_hundred_sign_ins_in_one_webhook_raise_one_alarm_showing_the_count() {
    for db in backends().await {
        let name = db.name;
        let app = TestApp::spawn_with(db, &policy("")).await;
        let body = search_results("storm-1", &rows(1500, 0));
        let answer = webhook(&app, &body).await;
        assert_eq!(answer["raised"].as_array().map(Vec::len), Some(1), "{name}: {answer}");
        assert_eq!(answer["signins"], 1500, "{name}: {answer}");
        app.settle().await;
        let pages = alarms(&app);
        assert_eq!(pages.len(), 1, "{name}: one alarm, one page");
        let shown = pages[0].blocks.to_string();
        assert!(pages[0].text.contains("(1500 sign-ins)"), "{name}: {}", pages[0].text);
        assert!(shown.contains("1500 sign-ins since 2020-07-09 14:00:00 UTC"), "{name}: {shown}");
        assert!(
            shown.contains("2020-07-09 14:24:59 UTC") && shown.contains("203.0.5.249"),
            "{name}: the latest: {shown}"
        );
        let sent = app.fake.calls_to("chat.postMessage").len();
        assert!(sent <= 3, "{name}: an alarm and a feed line, not thousands: {sent}");
        assert_eq!(count(&app, "breakglass.signin").await, 1, "{name}");

        // Azure retries the notification; another rule reports the same sign-ins: nothing new.
        let again = webhook(&app, &body).await;
        assert_eq!(
            (again["raised"].as_array().map(Vec::len), &again["signins"]),
            (Some(0), &Value::from(0)),
            "{name}"
        );
        let other_rule = webhook(&app, &search_results("storm-2", &rows(1500, 0))).await;
        assert_eq!(other_rule["signins"], 0, "{name}: {other_rule}");
        app.settle().await;
        assert_eq!(alarms(&app).len(), 1, "{name}");
        assert_eq!(app.fake.calls_to("chat.postMessage").len(), sent, "{name}: nothing more was posted");
        let open = app.store().open_alarm_for(BG).await.expect("read").expect("open");
        assert_eq!(open.signins, 1500, "{name}");
        app.stop().await;
    }
}

#[tokio::test]
async fn later_sign_ins_join_the_open_alarm_and_a_new_wave_pages_at_once() {
    for db in backends().await {
        let name = db.name;
        let app = TestApp::spawn_with(db, &policy("coalesce_window = \"10m\"")).await;
        webhook(&app, &search_results("w-1", &rows(3, 0))).await;
        // Two rules report one more sign-in without an Id (different alerts): counted once.
        let one = log_alert_v2("Fired", BG, "198.51.100.9", "rule-a");
        let joined = webhook(&app, &one).await;
        assert_eq!(joined["joined"].as_array().map(Vec::len), Some(1), "{name}: {joined}");
        assert_eq!(webhook(&app, &log_alert_v2("Fired", BG, "198.51.100.9", "rule-b")).await["signins"], 0);
        app.settle().await;
        let pages = alarms(&app);
        assert_eq!(pages.len(), 1, "{name}: joined in place, no new page");
        assert!(pages[0].text.contains("(4 sign-ins)") && pages[0].edits >= 1, "{name}: {}", pages[0].text);
        let feed = app.channel(FEED).len();

        // After a quiet spell longer than the window, the next sign-in pages again at once.
        webhook(&app, &search_results("w-2", &rows(1, 3600))).await;
        app.settle().await;
        let pages = alarms(&app);
        assert_eq!(pages.len(), 2, "{name}: a new wave pages now, not at the next repeat");
        assert!(
            pages[1].text.starts_with("<!channel>") && pages[1].text.contains("(5 sign-ins)"),
            "{}",
            pages[1].text
        );
        assert_eq!(app.channel(FEED).len(), feed, "{name}: still one incident in the feed");
        assert_eq!(count(&app, "breakglass.signin").await, 1);
        assert_eq!(count(&app, "breakglass.signins_joined").await, 2);
        app.stop().await;
    }
}

#[tokio::test]
async fn only_acknowledgers_may_acknowledge() {
    for db in backends().await {
        let name = db.name;
        // Default: the approvers of the most critical role (carol, dave and alice for
        // global-admin); bob is eligible for it but approves nothing.
        let app = TestApp::spawn_with(db, &policy("")).await;
        webhook(&app, &log_alert_v2("Fired", BG, "203.0.113.7", "ack-1")).await;
        app.settle().await;
        let page = alarms(&app).remove(0);
        let id = pimbot::demo::button_value(&page.blocks, "ack").expect("alarm id");
        app.slack.click("U0BOB", "ack", &id, ALERTS, &page.ts).await.expect("click");
        let refused = app.slack.submit("U0BOB", "ack_reason", &id, text_inputs(&[("reason", "mine")])).await;
        assert!(refused.expect("submit").body.contains("acknowledgers"), "{name}: bob is refused");
        app.settle().await;
        assert!(app.ephemerals("U0BOB").iter().any(|m| m.text.contains("acknowledgers")), "{name}");
        assert_eq!(app.fake.views_opened(), 0, "{name}: no form for bob");
        assert!(app.store().open_alarm_for(BG).await.expect("read").is_some(), "{name}: still open");
        let ok = app.slack.submit("U0DAVE", "ack_reason", &id, text_inputs(&[("reason", "drill")])).await;
        assert!(!ok.expect("submit").body.contains("errors"), "{name}");
        assert!(app.store().open_alarm_for(BG).await.expect("read").is_none(), "{name}: acknowledged");
        app.stop().await;
    }
    // Configured: only erin (not an approver at all) may acknowledge.
    for db in backends().await {
        let app = TestApp::spawn_with(db, &policy("acknowledgers = [\"erin\"]")).await;
        webhook(&app, &log_alert_v2("Fired", BG, "203.0.113.7", "ack-2")).await;
        app.settle().await;
        let id = pimbot::demo::button_value(&alarms(&app)[0].blocks, "ack").expect("alarm id");
        let carol = app.slack.submit("U0CAROL", "ack_reason", &id, text_inputs(&[("reason", "x")])).await;
        assert!(carol.expect("submit").body.contains("acknowledgers"));
        let erin = app.slack.submit("U0ERIN", "ack_reason", &id, text_inputs(&[("reason", "seen")])).await;
        assert!(!erin.expect("submit").body.contains("errors"));
        app.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_webhooks_for_one_account_make_one_alarm() {
    for db in backends().await {
        let name = db.name;
        let app = TestApp::spawn_with(db, &policy("")).await;
        let calls: Vec<_> = (0..6)
            .map(|i| {
                let body = search_results(&format!("race-{i}"), &rows(20, i * 20));
                let url = format!("http://{}/webhooks/azure-monitor?token={TOKEN}", app.running.addr);
                tokio::spawn(async move { reqwest::Client::new().post(url).json(&body).send().await })
            })
            .collect();
        for call in calls {
            let resp = call.await.expect("task").expect("webhook");
            let status = resp.status();
            assert!(status.is_success(), "{name}: {status} {}", resp.text().await.unwrap_or_default());
        }
        app.settle().await;
        assert_eq!(alarms(&app).len(), 1, "{name}: one alarm");
        assert_eq!(
            app.store().open_alarm_for(BG).await.expect("read").map(|a| a.signins),
            Some(120),
            "{name}"
        );
        assert_eq!(count(&app, "breakglass.signin").await, 1, "{name}");
        app.stop().await;
    }
}

#[tokio::test]
async fn an_alarm_stored_before_migration_0005_reads_as_one_sign_in_and_does_not_block_new_ones() {
    for db in backends().await {
        let name = db.name;
        // As the code before 0005 wrote it: no count, no first time, no open-account marker.
        let at = if name == "postgres" { "'2026-01-01T09:00:00Z'" } else { "'2026-01-01T09:00:00+00:00'" };
        db.exec(&format!(
            "INSERT INTO alarms (id, signin_id, account_upn, signed_in_at, raised_at, succeeded, severity, \
             next_page_at, pages, version) VALUES ('a-old', 'signin:old', '{BG}', {at}, {at}, TRUE, 'high', {at}, 1, 1)"
        ))
        .await;
        let old = db.store.alarm(&"a-old".into()).await.expect("read").expect("kept");
        assert_eq!((old.signins, old.first_at), (1, old.at), "{name}");
        assert!(db.store.open_alarm_for(BG).await.expect("read").is_none(), "{name}: not the open one");
        let app = TestApp::spawn_with(db, &policy("")).await;
        let answer = webhook(&app, &log_alert_v2("Fired", BG, "203.0.113.7", "after-upgrade")).await;
        assert_eq!(answer["raised"].as_array().map(Vec::len), Some(1), "{name}: {answer}");
        app.stop().await;
    }
}
