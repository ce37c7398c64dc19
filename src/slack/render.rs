//! Renders the core's platform-neutral views into Slack Block Kit: approval cards, notices,
//! the break-glass alarm and the modals. Pure functions, no I/O.
//!
//! Everything a user or the policy file typed is escaped (`&`, `<`, `>`) before it lands in
//! mrkdwn, so nobody can smuggle a `<!channel>` or a fake mention into a card. Text a person or
//! an outside system supplied goes through one function, [`user_text`]: made one line, escaped,
//! and cut to fit; notices render their quoted pieces (`core::text::quote`) the same way.

use slack_morphism::prelude::*;

use crate::core::refusal::Field;
use crate::core::text;
use crate::core::view::{CardStatus, CardView, MessageBody, Notice, PersonRef};

/// `action_id` of the approve button (value: request id).
pub const ACTION_APPROVE: &str = "approve";
/// `action_id` of the deny button (value: request id).
pub const ACTION_DENY: &str = "deny";
/// `action_id` of the break-glass alarm's acknowledge button (value: alarm id).
pub const ACTION_ACK: &str = "ack";
/// `block_id` of the actions block on an open card.
pub const BLOCK_CARD_ACTIONS: &str = "pim_card_actions";
/// `block_id` of the actions block on an alarm.
pub const BLOCK_ALARM_ACTIONS: &str = "pim_alarm_actions";
/// `callback_id` of the activation modal.
pub const CALLBACK_ACTIVATE: &str = "activate";
/// `callback_id` of the deny-reason modal (private_metadata: request id).
pub const CALLBACK_DENY_REASON: &str = "deny_reason";
/// `callback_id` of the alarm-acknowledgement modal (private_metadata: alarm id).
pub const CALLBACK_ACK_REASON: &str = "ack_reason";
/// Block id and action id of the role input in the activation modal.
pub const FIELD_ROLE: &str = "role";
/// Block id and action id of the duration input in the activation modal.
pub const FIELD_DURATION: &str = "duration";
/// Block id and action id of the (optional) start input in the activation modal.
pub const FIELD_START: &str = "start";
/// Block id and action id of the (optional) ticket input in the activation modal.
pub const FIELD_TICKET: &str = "ticket";
/// Block id and action id of the justification input in the activation modal.
pub const FIELD_JUSTIFICATION: &str = "justification";
/// Block id and action id of the reason input in the deny and acknowledge modals.
pub const FIELD_REASON: &str = "reason";

/// The activation modal's input a refused submission is shown under: the input the refusal
/// names, else the role (a refusal that names no input is about the request as a whole).
pub fn activate_block(field: Option<Field>) -> &'static str {
    match field {
        Some(Field::Duration) => FIELD_DURATION,
        Some(Field::Start) => FIELD_START,
        Some(Field::Ticket) => FIELD_TICKET,
        Some(Field::Justification) => FIELD_JUSTIFICATION,
        Some(Field::Role | Field::Reason) | None => FIELD_ROLE,
    }
}

/// Slack refuses section text over 3000 characters; user text is cut well below that.
const MAX_USER_TEXT: usize = 2000;
/// Longest quoted piece of user text inside a notice.
pub const MAX_QUOTE: usize = 1000;
/// Longest notice text. Slack refuses `text` over 40,000 characters (`msg_too_long`) and
/// truncates long ones; a feed line stays well inside.
pub const MAX_NOTICE: usize = 3900;
/// Slack allows at most 100 options in a static select.
const MAX_SELECT_OPTIONS: usize = 100;

/// One character as Slack mrkdwn needs it: `&`, `<` and `>` as entities.
fn escaped(c: char) -> String {
    match c {
        '&' => "&amp;".into(),
        '<' => "&lt;".into(),
        '>' => "&gt;".into(),
        c => c.to_string(),
    }
}

/// Escapes the three characters Slack mrkdwn treats as control characters.
pub fn escape(text: &str) -> String {
    text.chars().map(escaped).collect()
}

/// The escaped characters of user text made one line, cut to `max` (an entity is never split).
fn user_units(text: &str, max: usize) -> Vec<String> {
    let units: Vec<String> = text::one_line(text).chars().map(escaped).collect();
    let total: usize = units.iter().map(|u| u.chars().count()).sum();
    if total <= max { units } else { vec![text::cut_units(units, max)] }
}

/// Text a person or an outside system supplied, as it may appear in a Slack message: one line
/// (no forged lines, no control or bidi characters), `&<>` escaped, at most `max` characters.
pub fn user_text(text: &str, max: usize) -> String {
    user_units(text, max).concat()
}

/// Plain text cut to `max` characters (for headers, labels, option texts).
fn plain_cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
        cut.push('…');
        cut
    }
}

/// Whether `id` looks like a Slack user id, so wrapping it in `<@…>` cannot inject markup.
fn is_user_id(id: &str) -> bool {
    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A user mention `<@U…>` for a well-formed id, else the escaped text `@id`.
pub fn mention_id(id: &str) -> String {
    if is_user_id(id) { format!("<@{id}>") } else { format!("@{}", escape(id)) }
}

/// A person as a mention when their Slack id is known, else their escaped name.
pub fn person(p: &PersonRef) -> String {
    match p.chat_id.as_deref() {
        Some(id) if is_user_id(id) => format!("<@{id}>"),
        _ => escape(&p.name),
    }
}

fn people(list: &[PersonRef]) -> String {
    list.iter().map(person).collect::<Vec<_>>().join(", ")
}

/// Quotes every line of `text` as a mrkdwn block quote.
fn quote(text: &str) -> String {
    format!(">{}", text.replace('\n', "\n>"))
}

/// The decision line shown on a decided card (`None` while the card is open).
pub fn decision_line(status: &CardStatus) -> Option<String> {
    match status {
        CardStatus::Open => None,
        CardStatus::Approved { by } if by.is_empty() => Some("✅ Approved (no approval required)".into()),
        CardStatus::Approved { by } => Some(format!("✅ Approved by {}", people(by))),
        CardStatus::Denied { by, reason: Some(reason) } if !reason.trim().is_empty() => {
            Some(format!("❌ Denied by {}: {}", person(by), user_text(reason, MAX_USER_TEXT)))
        }
        CardStatus::Denied { by, .. } => Some(format!("❌ Denied by {}", person(by))),
        CardStatus::Cancelled => Some("↩️ Cancelled by the requester".into()),
        CardStatus::TimedOut => Some("⌛ Timed out: nobody decided in time".into()),
        CardStatus::Withdrawn { reason } => {
            Some(format!("↩️ Cancelled: {}", user_text(reason, MAX_USER_TEXT)))
        }
        CardStatus::Retrying { by } => Some(format!("✅ Approved by {}: granting… (retrying)", people(by))),
        CardStatus::GrantFailed { by, reason } => Some(format!(
            "❌ Approved by {}, but the grant failed{}",
            people(by),
            reason.as_deref().map(|r| format!(": {}", user_text(r, MAX_USER_TEXT))).unwrap_or_default()
        )),
    }
}

fn button(
    label: &str,
    action_id: &str,
    value: &str,
    style: SlackBlockButtonStyle,
) -> SlackBlockButtonElement {
    SlackBlockButtonElement::new(pt!(label))
        .with_action_id(action_id.into())
        .with_value(value.to_owned())
        .with_style(style)
}

/// The approval card: who wants what, for how long and why, how far the approvals are, and
/// either the approve/deny buttons (open) or the decision (decided).
pub fn card(view: &CardView) -> SlackMessageContent {
    let id = view.request_id.as_str();
    let mut approvals = format!("{}/{}", view.approvals.len(), view.approvals_required);
    if !view.approvals.is_empty() {
        approvals.push_str(&format!(" by {}", people(&view.approvals)));
    }
    let ticket = view.ticket.as_deref().map(|t| user_text(t, 200)).unwrap_or_else(|| "—".into());
    let fields: Vec<SlackBlockText> = vec![
        md!("*Scope*\n`{}`", user_text(&view.scope, 500)),
        md!("*Tier*\n{}", escape(&view.tier)),
        md!("*Duration*\n{}", escape(&view.duration)),
        md!("*Ticket*\n{}", ticket),
        md!("*Request*\n`{}`", escape(id)),
        md!("*Approvals*\n{}", approvals),
        md!("*SLA*\n{}", escape(&view.sla)),
    ];
    let justification = if view.justification.trim().is_empty() {
        "_none given_".to_owned()
    } else {
        quote(&user_text(&view.justification, MAX_USER_TEXT))
    };
    let mut blocks: Vec<SlackBlock> = slack_blocks![
        some_into(SlackHeaderBlock::new(pt!(plain_cut(&format!("Access request: {}", view.role_name), 150)))),
        some_into(SlackSectionBlock::new().with_text(md!(
            "{} requests *{}* (`{}`) for *{}*",
            person(&view.requester),
            user_text(&view.role_name, 200),
            user_text(&view.role_key, 100),
            escape(&view.duration)
        ))),
        some_into(SlackSectionBlock::new().with_fields(fields)),
        some_into(SlackSectionBlock::new().with_text(md!("*Justification*\n{}", justification)))
    ];
    match decision_line(&view.status) {
        None => {
            let approvers = if view.approvers.is_empty() {
                "nobody (check the policy)".into()
            } else {
                people(&view.approvers)
            };
            blocks.push(
                SlackContextBlock::new(vec![md!(
                    "Approvers: {} · respond within {}",
                    approvers,
                    escape(&view.sla)
                )])
                .into(),
            );
            blocks.push(
                SlackActionsBlock::new(slack_blocks![
                    some_into(button("Approve", ACTION_APPROVE, id, SlackBlockButtonStyle::Primary)),
                    some_into(button("Deny", ACTION_DENY, id, SlackBlockButtonStyle::Danger))
                ])
                .with_block_id(BLOCK_CARD_ACTIONS.into())
                .into(),
            );
        }
        Some(line) => blocks.push(SlackSectionBlock::new().with_text(md!(line)).into()),
    }
    let mut text = escape(&view.summary());
    if let Some(line) = decision_line(&view.status) {
        text.push_str(" — ");
        text.push_str(&line);
    }
    SlackMessageContent::new().with_text(text).with_blocks(blocks)
}

/// The text of a notice: `<!channel>` when paging, then the mentions, then the escaped text
/// with each quoted piece of user text through [`user_text`]; at most [`MAX_NOTICE`] long.
pub fn notice_text(n: &Notice) -> String {
    let mut head: Vec<String> = Vec::with_capacity(n.mentions.len() + 1);
    if n.page_channel {
        head.push("<!channel>".into());
    }
    head.extend(n.mentions.iter().map(|m| mention_id(m)));
    let mut units: Vec<String> = head.into_iter().map(|h| format!("{h} ")).collect();
    for piece in text::pieces(&n.text) {
        match piece {
            text::Piece::Own(own) => units.extend(own.chars().map(escaped)),
            text::Piece::Strong(own) => {
                units.push("*".into());
                units.extend(own.chars().map(escaped));
                units.push("*".into());
            }
            text::Piece::User(quoted) => units.extend(user_units(quoted, MAX_QUOTE)),
        }
    }
    text::cut_units(units, MAX_NOTICE)
}

/// A plain notice (feed line, reminder, refusal): text only, mentions first.
pub fn notice(n: &Notice) -> SlackMessageContent {
    SlackMessageContent::new().with_text(notice_text(n))
}

/// Renders any message body.
pub fn message(body: &MessageBody) -> SlackMessageContent {
    match body {
        MessageBody::Card(view) => card(view),
        MessageBody::Notice(n) => notice(n),
        MessageBody::Alarm(view) => alarm_view(view),
        MessageBody::Review(view) => review_card(view),
        MessageBody::Renewal(view) => renewal_card(view),
    }
}

/// A break-glass alarm: pages the channel and carries an acknowledge button (value: alarm id).
pub fn alarm(text: &str, alarm_id: &str) -> SlackMessageContent {
    let line = format!("<!channel> 🚨 {}", user_text(text, MAX_USER_TEXT));
    let blocks = slack_blocks![
        some_into(SlackSectionBlock::new().with_text(md!(line.clone()))),
        some_into(
            SlackActionsBlock::new(slack_blocks![some_into(button(
                "Acknowledge",
                ACTION_ACK,
                alarm_id,
                SlackBlockButtonStyle::Danger
            ))])
            .with_block_id(BLOCK_ALARM_ACTIONS.into())
        )
    ];
    SlackMessageContent::new().with_text(line).with_blocks(blocks)
}

fn text_input(field: &str, multiline: bool) -> SlackBlockPlainTextInputElement {
    let input = SlackBlockPlainTextInputElement::new().with_action_id(field.into());
    if multiline { input.with_multiline(true) } else { input }
}

fn input_block(field: &str, label: &str, element: SlackInputBlockElement) -> SlackInputBlock {
    SlackInputBlock::new(pt!(label), element).with_block_id(field.into())
}

/// The `/pim activate` modal: role (a select of `(key, name)` pairs, or free text when the list
/// is empty), duration, optional ticket and justification.
pub fn activate_modal(roles: &[(String, String)]) -> SlackView {
    let role_element: SlackInputBlockElement = if roles.is_empty() {
        text_input(FIELD_ROLE, false).with_placeholder(pt!("role key, e.g. global-admin")).into()
    } else {
        let options = roles
            .iter()
            .take(MAX_SELECT_OPTIONS)
            .map(|(key, name)| {
                SlackBlockChoiceItem::new(pt!(plain_cut(&format!("{name} ({key})"), 75)), key.clone())
            })
            .collect();
        SlackBlockStaticSelectElement::new()
            .with_action_id(FIELD_ROLE.into())
            .with_placeholder(pt!("Choose a role"))
            .with_options(options)
            .into()
    };
    let blocks = slack_blocks![
        some_into(input_block(FIELD_ROLE, "Role", role_element)),
        some_into(
            input_block(
                FIELD_DURATION,
                "Duration",
                text_input(FIELD_DURATION, false).with_placeholder(pt!("e.g. 30m or 2h")).into()
            )
            .with_hint(pt!("Within the role's minimum and maximum"))
        ),
        some_into(
            input_block(
                FIELD_START,
                "Starts",
                text_input(FIELD_START, false)
                    .with_placeholder(pt!("e.g. 22:00, in 2h or 2026-12-03T22:00Z"))
                    .into()
            )
            .with_optional(true)
            .with_hint(pt!("Leave empty to start as soon as it is approved"))
        ),
        some_into(
            input_block(
                FIELD_TICKET,
                "Ticket",
                text_input(FIELD_TICKET, false).with_placeholder(pt!("e.g. INC-4711")).into()
            )
            .with_optional(true)
        ),
        some_into(input_block(
            FIELD_JUSTIFICATION,
            "Justification",
            text_input(FIELD_JUSTIFICATION, true).into()
        ))
    ];
    SlackView::Modal(
        SlackModalView::new(pt!("Activate a role"), blocks)
            .with_submit(pt!("Request"))
            .with_close(pt!("Cancel"))
            .with_callback_id(CALLBACK_ACTIVATE.into()),
    )
}

fn reason_modal(title: &str, submit: &str, callback_id: &str, metadata: &str) -> SlackView {
    let blocks =
        slack_blocks![some_into(input_block(FIELD_REASON, "Reason", text_input(FIELD_REASON, true).into()))];
    SlackView::Modal(
        SlackModalView::new(pt!(title), blocks)
            .with_submit(pt!(submit))
            .with_close(pt!("Cancel"))
            .with_callback_id(callback_id.into())
            .with_private_metadata(metadata.to_owned()),
    )
}

/// The modal asking an approver why they deny `request_id` (carried in `private_metadata`).
pub fn deny_modal(request_id: &str) -> SlackView {
    reason_modal("Deny request", "Deny", CALLBACK_DENY_REASON, request_id)
}

/// The modal asking why a break-glass sign-in is acknowledged (`private_metadata`: alarm id).
pub fn ack_modal(alarm_id: &str) -> SlackView {
    reason_modal("Acknowledge alarm", "Acknowledge", CALLBACK_ACK_REASON, alarm_id)
}

#[path = "render_alarm.rs"]
mod render_alarm;
#[path = "render_review.rs"]
mod render_review;
pub use render_alarm::{alarm_line, alarm_view};
pub use render_review::{
    ACTION_RENEW_APPROVE, ACTION_RENEW_DENY, ACTION_REVIEW_KEEP, ACTION_REVIEW_REMOVE, renewal_card,
    review_card,
};

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
