//! Block Kit for the break-glass alarm view: `<!channel>` first on every page while it is open,
//! the sign-in's details, and the acknowledge button; once acknowledged, who, when and why
//! instead of the button (and no page, since Slack does not notify on edits anyway).

use slack_morphism::prelude::*;

use super::{ACTION_ACK, BLOCK_ALARM_ACTIONS, MAX_USER_TEXT, button, escape, escape_cut, person};
use crate::core::view::{AlarmStatus, AlarmView};

/// How times are shown on an alarm (always UTC: responders may sit in any time zone).
const TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S UTC";

fn field(label: &str, value: Option<&str>) -> SlackBlockText {
    let value =
        value.filter(|v| !v.trim().is_empty()).map(|v| escape_cut(v, 300)).unwrap_or_else(|| "—".into());
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
            escape_cut(reason, MAX_USER_TEXT)
        ),
    }
}

/// A break-glass alarm page.
pub fn alarm_view(view: &AlarmView) -> SlackMessageContent {
    let line = alarm_line(view);
    let result = if view.succeeded { "Succeeded" } else { "Failed attempt" };
    let when = view.at.format(TIME_FORMAT).to_string();
    let fields = vec![
        field("Account", Some(&view.account)),
        field("Sign-in time", Some(&when)),
        field("IP address", view.ip.as_deref()),
        field("Location", view.location.as_deref()),
        field("Application", view.app.as_deref()),
        field("Client", view.client.as_deref()),
        field("Conditional Access", view.ca_status.as_deref()),
        field("Result", Some(result)),
        field("Severity", Some(&view.severity)),
    ];
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
