//! Refusals are loud, on every backend: a break-glass alarm the alert channel refuses reaches the
//! approver channel (and can be acknowledged there), every refusal is counted in
//! `pimbot_chat_rejected_total`, announced on another channel or platform, audited, and named by
//! `pimbot outbox status` (exit 4), while `/readyz` stays ready.

use pimbot::testing::azure_monitor::log_alert_v2;
use pimbot::testing::signing::text_inputs;

use crate::support::app::{ALERTS, APPROVERS, POLICY, TestApp};
use crate::support::db::backends;
use crate::support::discord as dc;

const TOKEN: &str = "bg-refusal-token";
const BG: &str = "bg1@contoso.onmicrosoft.com";

fn with_break_glass(policy: &str) -> String {
    format!(
        "{policy}\n[break_glass_monitor]\nwebhook_token = \"{TOKEN}\"\nrepage_every = \"2m\"\n\n\
         [[break_glass]]\nupn = \"BG1@contoso.onmicrosoft.com\"\n"
    )
}

async fn sign_in(app: &TestApp, alert: &str) {
    let resp = reqwest::Client::new()
        .post(format!("http://{}/webhooks/azure-monitor?token={TOKEN}", app.running.addr))
        .json(&log_alert_v2("Fired", BG, "203.0.113.7", alert))
        .send()
        .await
        .expect("webhook");
    assert!(resp.status().is_success(), "{}", resp.status());
}

async fn get(app: &TestApp, path: &str) -> (u16, String) {
    let resp = reqwest::get(format!("http://{}{path}", app.running.addr)).await.expect("get");
    (resp.status().as_u16(), resp.text().await.expect("body"))
}

/// The value of one `pimbot_chat_rejected_total` series (0 when absent).
async fn rejected(app: &TestApp, platform: &str, reason: &str) -> f64 {
    let (_, text) = get(app, "/metrics").await;
    let labels = [format!("platform=\"{platform}\""), format!("reason=\"{reason}\"")];
    text.lines()
        .filter(|l| {
            l.starts_with("pimbot_chat_rejected_total{") && labels.iter().all(|x| l.contains(x.as_str()))
        })
        .filter_map(|l| l.rsplit(" ").next()?.parse::<f64>().ok())
        .sum()
}

/// `pimbot outbox status` against the app's database; returns the exit code and output.
fn outbox_status(app: &TestApp) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("pimbot.toml");
    std::fs::write(&path, POLICY.replace("sqlite://unused.db", &app.db.url)).expect("config");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_pimbot"))
        .args(["outbox", "--config"])
        .arg(&path)
        .arg("status")
        .env_remove("PIMBOT_CONFIG")
        .output()
        .expect("run pimbot");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[tokio::test]
async fn an_alarm_the_alert_channel_refuses_reaches_the_approvers_and_the_refusal_is_loud() {
    for db in backends().await {
        let name = db.name;
        let app = TestApp::spawn_with(db, &with_break_glass(POLICY)).await;
        assert_eq!(outbox_status(&app).0, 0, "{name}: nothing refused yet");
        let before = rejected(&app, "slack", "channel_not_found").await;
        app.fake.remove_channel(ALERTS);
        sign_in(&app, "refused-1").await;
        app.settle().await;

        let approvers = app.channel(APPROVERS);
        let alarm = approvers
            .iter()
            .find(|m| pimbot::demo::button_value(&m.blocks, "ack").is_some())
            .unwrap_or_else(|| panic!("{name}: the alarm reached the approver channel: {approvers:#?}"));
        assert!(alarm.text.starts_with("<!channel>"), "{name}: it still pages: {}", alarm.text);
        let announced = approvers.iter().find(|m| m.text.contains("refused")).expect("announced");
        assert!(
            announced.text.contains("channel_not_found") && announced.text.contains(ALERTS),
            "{name}: {}",
            announced.text
        );
        assert!(rejected(&app, "slack", "channel_not_found").await >= before + 1.0, "{name}: counted");
        let audit = app.store().audit_records(None).await.expect("audit");
        assert!(
            audit
                .iter()
                .any(|r| r.event.kind == "chat.rejected" && r.event.detail["reason"] == "channel_not_found")
        );
        let (status, body) = get(&app, "/readyz").await;
        assert_eq!((status, body.as_str()), (200, "ready"), "{name}: readiness is about the database");
        let (code, out) = outbox_status(&app);
        assert_eq!(code, 4, "{name}: {out}");
        assert!(
            out.contains("channel_not_found") && out.contains("break-glass alarm") && out.contains(ALERTS),
            "{out}"
        );

        // Acknowledged where it landed, it is updated in place there.
        let id = pimbot::demo::button_value(&alarm.blocks, "ack").expect("alarm id");
        app.slack.click("U0CAROL", "ack", &id, APPROVERS, &alarm.ts).await.expect("click");
        let reply = app.slack.submit("U0CAROL", "ack_reason", &id, text_inputs(&[("reason", "drill")])).await;
        assert_eq!(reply.expect("submit").status, 200);
        app.settle().await;
        let shown = app.fake.message(APPROVERS, &alarm.ts).expect("kept");
        assert!(pimbot::demo::button_value(&shown.blocks, "ack").is_none() && shown.edits >= 1, "{name}");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_revoked_token_is_announced_on_the_other_platform_and_discord_alarms_fall_back_too() {
    for db in backends().await {
        let name = db.name;
        let app = TestApp::spawn_with_discord_policy(db, &with_break_glass(&dc::policy())).await;
        let discord = app.fake_discord();
        // Discord's alert channel is gone: the alarm falls back to Discord's approver channel and
        // Slack's alert channel is told.
        discord.remove_channel(dc::ALERTS);
        sign_in(&app, "refused-2").await;
        app.settle().await;
        let fallback = discord.channel(dc::APPROVERS);
        assert!(
            fallback.iter().any(|m| m.content.starts_with("@everyone")
                && !m.components.to_string().is_empty()
                && m.components.to_string().contains("ack:")),
            "{name}: {fallback:#?}"
        );
        assert!(app.channel(ALERTS).iter().any(|m| m.text.contains("unknown_channel")), "{name}");

        // Slack's token is revoked: a card cannot go out there; Discord's alert channel (gone)
        // cannot carry the news, so its approver channel does.
        app.fake.revoke_token();
        let (_, id) = app.activate("U0ALICE", "global-admin 1h #INC-9 while slack is revoked").await;
        app.settle().await;
        let told: Vec<_> = discord
            .channel(dc::APPROVERS)
            .into_iter()
            .filter(|m| m.content.contains("invalid\\_auth"))
            .collect();
        assert!(!told.is_empty(), "{name}: {:#?}", discord.channel(dc::APPROVERS));
        assert!(told[0].content.contains("approval card"), "{}", told[0].content);
        assert!(
            discord.channel(dc::APPROVERS).iter().any(|m| m.embeds.to_string().contains(id.as_str())),
            "{name}: the card still reached Discord"
        );
        let refused = app
            .store()
            .recent_rejections(chrono::Utc::now() - chrono::Duration::hours(1), 50)
            .await
            .expect("read");
        let reasons: Vec<_> = refused.iter().map(|r| r.reason.as_str()).collect();
        assert!(
            reasons.contains(&"invalid_auth") && reasons.contains(&"unknown_channel"),
            "{name}: {reasons:?}"
        );
        app.stop().await;
    }
}
