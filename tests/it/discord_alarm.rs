//! Break-glass alarms on Discord through the running app: `@everyone` with `allowed_mentions`
//! so the ping happens, the `ack:<id>` button, the reason form, and the edit in place.

use pimbot::testing::azure_monitor::log_alert_v2;
use pimbot::testing::discord_signing::{click, modal_submit};

use crate::support::app::TestApp;
use crate::support::db::backends;
use crate::support::discord::{self as dc, DAVE};

const TOKEN: &str = "bg-discord-token";

#[tokio::test]
async fn a_break_glass_sign_in_pages_everyone_on_discord_until_acknowledged() {
    for db in backends().await {
        let policy = format!(
            "{}\n[break_glass_monitor]\nwebhook_token = \"{TOKEN}\"\nrepage_every = \"2m\"\n\n[[break_glass]]\nupn = \"bg1@contoso.onmicrosoft.com\"\n",
            dc::policy()
        );
        let app = TestApp::spawn_with_discord_policy(db, &policy).await;
        let body = log_alert_v2("Fired", "bg1@contoso.onmicrosoft.com", "203.0.113.7", "alert-discord-1");
        let resp = reqwest::Client::new()
            .post(format!("http://{}/webhooks/azure-monitor?token={TOKEN}", app.running.addr))
            .json(&body)
            .send()
            .await
            .expect("webhook");
        assert!(resp.status().is_success());
        app.settle().await;

        let fake = app.fake_discord();
        let alarm = fake.channel(dc::ALERTS).into_iter().next().expect("alarm posted on Discord");
        assert!(alarm.content.starts_with("@everyone"), "{}", alarm.content);
        assert_eq!(
            alarm.allowed_mentions["parse"],
            serde_json::json!(["everyone"]),
            "the ping really happens"
        );
        let custom_id =
            alarm.components[0]["components"][0]["custom_id"].as_str().expect("ack button").to_owned();
        assert!(custom_id.starts_with("ack:a-"), "{custom_id}");
        let alarm_id = custom_id.trim_start_matches("ack:").to_owned();

        // The click opens the reason form; the submission acknowledges and edits in place.
        let opened = app.interact(&click(DAVE, &custom_id, dc::ALERTS, &alarm.id)).await;
        assert!(opened.body.contains("\"type\":9") && opened.body.contains("ack_reason:"), "{}", opened.body);
        let empty =
            app.interact(&modal_submit(DAVE, &format!("ack_reason:{alarm_id}"), &[("reason", " ")])).await;
        assert!(empty.body.contains("reason"), "an empty reason is refused: {}", empty.body);
        let done = app
            .interact(&modal_submit(DAVE, &format!("ack_reason:{alarm_id}"), &[("reason", "DR drill")]))
            .await;
        assert!(done.body.contains("acknowledged"), "{}", done.body);
        app.settle().await;
        let edited = fake.channel(dc::ALERTS).into_iter().find(|m| m.id == alarm.id).expect("same message");
        assert!(edited.edits >= 1 && edited.components.as_array().is_none_or(|c| c.is_empty()), "{edited:?}");
        assert!(edited.embeds.to_string().contains("DR drill"), "{}", edited.embeds);
        app.stop().await;
    }
}
