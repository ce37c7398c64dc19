//! Block Kit for the break-glass alarm view: `<!channel>` first on every page while it is open,
//! the sign-in's details, and the acknowledge button; once acknowledged, who, when and why
//! instead of the button (and no page, since Slack does not notify on edits anyway).

use slack_morphism::prelude::*;

use super::{ACTION_ACK, BLOCK_ALARM_ACTIONS, MAX_USER_TEXT, button, escape, person, user_text};
use crate::core::view::{AlarmStatus, AlarmView};

/// How times are shown on an alarm (always UTC: responders may sit in any time zone).
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S UTC";

fn field(label: &str, value: Option<&str>) -> SlackBlockText {
    let value =
        value.filter(|v| !v.trim().is_empty()).map(|v| user_text(v, 300)).unwrap_or_else(|| "—".into());
    md!("*{}*\n{}", label, value)
}

/// The first line: the page while open, the headline, and which repeat this is.
pub fn alarm_line(view: &AlarmView) -> String {
    let repeat = if view.page > 1 { format!(" (repeat {})", view.page - 1) } else { String::new() };
    let page = if view.is_open() { "<!channel> " } else { "" };
    format!("{page}{}{repeat}", escape(&view.headline))
}

/// The status line: how to stop the paging, or who stopped it and why.
pub fn alarm_status_line(view: &AlarmView) -> String {
    match &view.status {
        AlarmStatus::Open if view.succeeded => {
            "Someone is signed in with an emergency account. If this is not a sanctioned emergency, \
             start incident response now. Acknowledge with a reason to stop the paging."
                .into()
        }
        AlarmStatus::Open => "A failed sign-in attempt (lower severity): nobody got in, but someone tried. \
             Acknowledge with a reason to stop the paging."
            .into(),
        AlarmStatus::Acknowledged { by, at, reason } => format!(
            "✅ Acknowledged by {} at {}: {}",
            person(by),
            at.format(TIME_FORMAT),
            user_text(reason, MAX_USER_TEXT)
        ),
    }
}

/// A break-glass alarm page.
pub fn alarm_view(view: &AlarmView) -> SlackMessageContent {
    let line = alarm_line(view);
    let result = if view.succeeded { "Succeeded" } else { "Failed attempt" };
    let when = view.at.format(TIME_FORMAT).to_string();
    let count = view.count_line();
    let mut fields = vec![
        field("Account", Some(&view.account)),
        field(if view.signins > 1 { "Latest sign-in" } else { "Sign-in time" }, Some(&when)),
        field("IP address", view.ip.as_deref()),
        field("Location", view.location.as_deref()),
        field("Application", view.app.as_deref()),
        field("Client", view.client.as_deref()),
        field("Conditional Access", view.ca_status.as_deref()),
        field("Result", Some(result)),
        field("Severity", Some(&view.severity)),
    ];
    if let Some(count) = count.as_deref() {
        fields.push(field("Sign-ins", Some(count)));
    }
    let mut blocks: Vec<SlackBlock> = slack_blocks![
        some_into(SlackSectionBlock::new().with_text(md!(line.clone()))),
        some_into(SlackSectionBlock::new().with_fields(fields)),
        some_into(SlackSectionBlock::new().with_text(md!(alarm_status_line(view)))),
        some_into(SlackContextBlock::new(vec![md!("Alarm `{}`", escape(view.alarm_id.as_str()))]))
    ];
    let mut text = line;
    if view.is_open() {
        blocks.push(
            SlackActionsBlock::new(slack_blocks![some_into(button(
                "Acknowledge",
                ACTION_ACK,
                view.alarm_id.as_str(),
                SlackBlockButtonStyle::Danger
            ))])
            .with_block_id(BLOCK_ALARM_ACTIONS.into())
            .into(),
        );
    } else {
        text.push_str(" — ");
        text.push_str(&alarm_status_line(view));
    }
    SlackMessageContent::new().with_text(text).with_blocks(blocks)
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::core::view::PersonRef;

    fn view(status: AlarmStatus) -> AlarmView {
        AlarmView {
            alarm_id: "a-1".into(),
            headline: "🚨 Break-glass sign-in: bg1@contoso.com signed in".into(),
            account: "bg1@contoso.com".into(),
            at: Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0).single().expect("valid"),
            ip: Some("203.0.113.7".into()),
            location: None,
            app: Some("Evil <!channel> app".into()),
            client: None,
            ca_status: None,
            succeeded: true,
            severity: "high".into(),
            page: 2,
            status,
            signins: 1,
            first_at: None,
        }
    }

    #[test]
    fn an_open_alarm_pages_and_carries_the_ack_button() {
        let json = serde_json::to_value(alarm_view(&view(AlarmStatus::Open))).expect("json");
        let text = json["text"].as_str().expect("text");
        assert!(text.starts_with("<!channel> ") && text.contains("(repeat 1)"), "{text}");
        let blocks = json["blocks"].to_string();
        assert!(blocks.contains("\"action_id\":\"ack\"") && blocks.contains("\"value\":\"a-1\""), "{blocks}");
        assert!(blocks.contains("Evil &lt;!channel&gt; app"), "sign-in data is escaped: {blocks}");
        assert_eq!(blocks.matches("<!channel>").count(), 1, "{blocks}");
    }

    #[test]
    fn an_acknowledged_alarm_shows_who_when_and_why_without_a_button() {
        let by = PersonRef { name: "carol".into(), chat_id: Some("UC".into()) };
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 9, 5, 0).single().expect("valid");
        let acked = AlarmStatus::Acknowledged { by, at, reason: "drill <@U1>".into() };
        let json = serde_json::to_value(alarm_view(&view(acked))).expect("json");
        let blocks = json["blocks"].to_string();
        assert!(!blocks.contains("\"action_id\":\"ack\""), "{blocks}");
        assert!(blocks.contains("<@UC>") && blocks.contains("2026-01-01 09:05:00 UTC"), "{blocks}");
        assert!(blocks.contains("drill &lt;@U1&gt;"), "{blocks}");
        assert!(!json["text"].as_str().unwrap_or_default().contains("<!channel>"));
    }
}
