//! Text is data, not layout, on every backend and both platforms: a justification or reason with
//! line breaks, RTL override, BEL and escape codes is stored and shown as one clean line, one of
//! 60,000 characters is refused when submitted, and no feed line can be forged or dropped.

use pimbot::core::state::RequestState;

use crate::support::app::{FEED, TestApp};
use crate::support::db;
use crate::support::discord as dc;

/// A justification that tries to start a fake "approved" line, hide itself, ring the bell and
/// page the channel.
const FORGED: &str = "rotate keys\n✅ carol approved alice's request r-1a2b3c4d for *global-admin*\r\n\u{7}\u{1b}[2J\u{202e}gnirts <!channel> @everyone";

fn feed_lines(app: &TestApp) -> Vec<String> {
    app.channel(FEED).into_iter().map(|m| m.text).collect()
}

fn discord_feed_lines(app: &TestApp) -> Vec<String> {
    app.fake_discord().channel(dc::FEED).into_iter().map(|m| m.content).collect()
}

#[tokio::test]
async fn forged_lines_control_and_bidi_characters_never_reach_the_feed() {
    for db in db::backends().await {
        let name = db.name;
        let app = TestApp::spawn_with_discord(db).await;
        let (_, id) = app.activate("U0ALICE", &format!("global-admin 1h #INC-1\u{202e} {FORGED}")).await;
        let stored = app.request(&id).await;
        assert_eq!(
            stored.justification,
            "rotate keys ✅ carol approved alice's request r-1a2b3c4d for *global-admin* [2Jgnirts <!channel> @everyone",
            "{name}: stored as one clean line"
        );
        assert_eq!(stored.ticket.as_deref(), Some("INC-1"), "{name}");
        // The deny reason is user text too.
        app.settle().await;
        let card = app.card(&id);
        let reply = app
            .slack
            .submit(
                "U0CAROL",
                "deny_reason",
                id.as_str(),
                serde_json::json!({"reason": {"reason": {"type": "plain_text_input", "value": "no\n✅ dave approved it\u{7}"}}}),
            )
            .await
            .expect("deny");
        assert_eq!(reply.status, 200, "{reply:?}");
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Denied, "{name}");
        assert_eq!(app.request(&id).await.reason.as_deref(), Some("no ✅ dave approved it"), "{name}");

        // Slack pings only on `<!channel>` markup (plain `@everyone` text is inert there);
        // Discord on a literal `@everyone`.
        for (platform, lines, ping) in
            [("slack", feed_lines(&app), "<!channel>"), ("discord", discord_feed_lines(&app), "@everyone")]
        {
            assert_eq!(lines.len(), 2, "{name} {platform}: one request line, one deny line: {lines:#?}");
            for line in &lines {
                assert!(
                    !line.contains(['\n', '\r', '\u{7}', '\u{1b}', '\u{202e}']),
                    "{name} {platform}: {line:?}"
                );
                assert!(!line.starts_with('✅'), "{name} {platform}: a forged line: {line:?}");
                assert!(!line.contains(ping), "{name} {platform}: {line:?}");
            }
            assert!(lines[0].starts_with("📝 alice requested"), "{name} {platform}: {}", lines[0]);
            assert!(lines[1].starts_with("❌ carol denied"), "{name} {platform}: {}", lines[1]);
        }
        let shown = app.card(&id);
        assert_eq!(shown.ts, card.ts);
        assert!(!shown.blocks.to_string().contains("\\n✅"), "{name}: the card quotes one line");
        app.stop().await;
    }
}

#[tokio::test]
async fn a_justification_over_the_limit_is_refused_at_request_time_and_nothing_is_hidden() {
    for db in db::backends().await {
        let name = db.name;
        let app = TestApp::spawn_with_discord(db).await;
        let huge = "x".repeat(60_000);
        let reply =
            app.slack.command("U0ALICE", &format!("activate reader 1h {huge}")).await.expect("command");
        let text = reply.text();
        assert!(
            text.contains("60000") && text.contains("500"),
            "{name}: a clear reply: {}",
            &text[..text.len().min(300)]
        );
        app.settle().await;
        assert!(
            app.store().open_requests_for(&"alice".into()).await.expect("read").is_empty(),
            "{name}: nothing stored"
        );
        assert!(feed_lines(&app).is_empty() && discord_feed_lines(&app).is_empty(), "{name}: nothing posted");

        // Within the limit, the activation and its feed line go out on both platforms.
        let (_, id) = app.activate("U0ALICE", &format!("reader 1h {}", "y".repeat(500))).await;
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active, "{name}");
        let lines = feed_lines(&app);
        assert!(lines.iter().any(|l| l.starts_with("⚡ alice activated *reader*")), "{name}: {lines:#?}");
        assert!(discord_feed_lines(&app).iter().any(|l| l.contains("activated")), "{name}");
        assert!(
            app.fake.failed_calls().is_empty(),
            "{name}: Slack refused nothing: {:#?}",
            app.fake.failed_calls()
        );
        assert!(app.fake_discord().failed_calls().is_empty(), "{name}: Discord refused nothing");
        app.stop().await;
    }
}

#[tokio::test]
async fn max_justification_is_configurable() {
    let policy = dc::policy().replacen("[[person]]", "[limits]\nmax_justification = 20\n\n[[person]]", 1);
    for db in db::backends().await {
        let app = TestApp::spawn_with_discord_policy(db, &policy).await;
        let reply =
            app.slack.command("U0ALICE", "activate reader 1h this is thirty characters!").await.expect("cmd");
        assert!(reply.text().contains("at most 20"), "{}", reply.text());
        let (_, id) = app.activate("U0ALICE", "reader 1h short enough").await;
        assert_eq!(app.request(&id).await.justification, "short enough");
        app.stop().await;
    }
}
