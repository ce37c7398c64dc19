//! Renders the core's platform-neutral views as Teams activities: approval cards and alarms as
//! Adaptive Cards (version [`CARD_VERSION`]) with `Action.Execute` buttons inside `ActionSet`s,
//! notices as markdown text with `<at>` mentions backed by `mention` entities. Pure functions,
//! no I/O.
//!
//! Mentions are exact: a card mentions its approvers (never the requester) in
//! `msteams.entities`, a notice its mentioned people in `entities`; every entity's text occurs
//! verbatim in the text, or Teams ignores it. Everything a user typed goes through [`escape`],
//! the one function that neutralises markdown and `<at>` and cuts to a limit.

use serde_json::{Value, json};

use crate::core::view::{AlarmStatus, AlarmView, CardStatus, CardView, MessageBody, Notice, PersonRef};

/// Adaptive Card version sent (Universal Actions need 1.4+; Teams renders 1.5).
pub const CARD_VERSION: &str = "1.5";
/// The content type of an Adaptive Card attachment.
pub const CARD_CONTENT_TYPE: &str = "application/vnd.microsoft.card.adaptive";
/// Verb of the approve button.
pub const VERB_APPROVE: &str = "approve";
/// Verb of the deny button (the reason comes from the `reason` input).
pub const VERB_DENY: &str = "deny";
/// Verb of the alarm acknowledge button (the reason comes from the `reason` input).
pub const VERB_ACK: &str = "ack";
/// Id of the reason input on cards and alarms.
pub const INPUT_REASON: &str = "reason";
/// Longest user text shown in one place.
pub const MAX_USER_TEXT: usize = 1000;
/// Longest notice text.
pub const MAX_NOTICE: usize = 4000;

/// Neutralises user text for Teams markdown and cuts it to `max` characters: no `<at>` (no
/// forged mentions), no HTML, no links, no emphasis. Control characters other than newlines go.
pub fn escape(text: &str, max: usize) -> String {
    let mut out = String::new();
    for ch in text.chars() {
        match ch {
            '<' => out.push('‹'),
            '>' => out.push('›'),
            '\\' | '*' | '_' | '[' | ']' | '`' | '#' | '~' | '|' => {
                out.push('\\');
                out.push(ch);
            }
            '\n' => out.push('\n'),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    if out.chars().count() > max {
        let mut cut: String = out.chars().take(max.saturating_sub(1)).collect();
        // Never leave a dangling escape.
        if cut.ends_with('\\') {
            cut.pop();
        }
        cut.push('…');
        cut
    } else {
        out
    }
}

/// A Teams tag of the alert channel's team (`[teams] alert_tag`): its id (from Graph
/// `GET /teams/{team}/tags`) and display name. Alarm pages @mention it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tag {
    /// The tag id.
    pub id: String,
    /// The tag's display name.
    pub name: String,
}

/// Collects `<at>` mentions and their entities.
#[derive(Debug, Default)]
pub(super) struct Mentions(Vec<Value>);

impl Mentions {
    /// `<at>name</at>` for a person with a Teams (object) id, registering the entity; their
    /// escaped name otherwise.
    pub(super) fn person(&mut self, p: &PersonRef) -> String {
        match p.chat_id.as_deref() {
            Some(id) => self.id(id, &p.name),
            None => escape(&p.name, 100),
        }
    }

    /// `<at>name</at>` for a Teams tag, registering a tag mention (everyone with the tag is
    /// notified).
    fn tag(&mut self, tag: &Tag) -> String {
        let name = escape(&tag.name, 100).replace('\\', "");
        let text = format!("<at>{name}</at>");
        let mentioned = json!({"id": tag.id, "name": name, "type": "tag"});
        self.0.push(json!({"type": "mention", "text": text, "mentioned": mentioned}));
        text
    }

    fn id(&mut self, id: &str, name: &str) -> String {
        let name = escape(name, 100).replace('\\', "");
        let text = format!("<at>{name}</at>");
        if !self.0.iter().any(|e| e["text"] == text.as_str()) {
            self.0.push(json!({"type": "mention", "text": text, "mentioned": {"id": id, "name": name}}));
        }
        text
    }
}

fn names(people: &[PersonRef]) -> String {
    people.iter().map(|p| escape(&p.name, 100)).collect::<Vec<_>>().join(", ")
}

pub(super) fn text_block(text: impl Into<String>) -> Value {
    json!({"type": "TextBlock", "text": text.into(), "wrap": true})
}

pub(super) fn fact(title: &str, value: impl Into<String>) -> Value {
    json!({"title": title, "value": value.into()})
}

/// The decision line of a decided card (`None` while open).
pub fn decision_line(status: &CardStatus) -> Option<String> {
    let reason = |r: &Option<String>| {
        r.as_deref().filter(|r| !r.trim().is_empty()).map(|r| format!(": {}", escape(r, MAX_USER_TEXT)))
    };
    match status {
        CardStatus::Open => None,
        CardStatus::Approved { by } if by.is_empty() => Some("✅ Approved (no approval required)".into()),
        CardStatus::Approved { by } => Some(format!("✅ Approved by {}", names(by))),
        CardStatus::Denied { by, reason: r } => {
            Some(format!("❌ Denied by {}{}", escape(&by.name, 100), reason(r).unwrap_or_default()))
        }
        CardStatus::Cancelled => Some("↩️ Cancelled by the requester".into()),
        CardStatus::TimedOut => Some("⌛ Timed out: nobody decided in time".into()),
        CardStatus::Withdrawn { reason: r } => Some(format!("↩️ Cancelled: {}", escape(r, MAX_USER_TEXT))),
        CardStatus::Retrying { by } => Some(format!("✅ Approved by {}: granting… (retrying)", names(by))),
        CardStatus::GrantFailed { by, reason: r } => Some(format!(
            "❌ Approved by {}, but the grant failed{}",
            names(by),
            reason(r).unwrap_or_default()
        )),
    }
}

pub(super) fn adaptive_card(body: Vec<Value>, mentions: Mentions) -> Value {
    let mut card = json!({
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": CARD_VERSION,
        "body": body,
    });
    if !mentions.0.is_empty() {
        card["msteams"] = json!({"entities": mentions.0});
    }
    card
}

/// An `Action.Execute` with an `Action.Submit` fallback for clients without Universal Actions
/// (the submit arrives as a message whose `value` carries the verb).
pub(super) fn execute(title: &str, verb: &str, data: &Value) -> Value {
    let mut submit_data = data.clone();
    submit_data["verb"] = json!(verb);
    json!({
        "type": "Action.Execute", "title": title, "verb": verb, "data": data,
        "fallback": {"type": "Action.Submit", "title": title, "data": submit_data}
    })
}

/// A reason form behind a button: `title` opens it, `submit` sends `verb` with `data` and the
/// typed reason.
fn reason_form(title: &str, submit: &str, verb: &str, data: Value, required: bool, label: &str) -> Value {
    json!({
        "type": "Action.ShowCard",
        "title": title,
        "card": {
            "type": "AdaptiveCard",
            "body": [
                {
                    "type": "Input.Text", "id": INPUT_REASON, "label": label, "isMultiline": true,
                    "maxLength": 500, "isRequired": required,
                    "errorMessage": "A reason is required."
                },
                // Old Teams clients ignore Action.Execute outside an ActionSet.
                {"type": "ActionSet", "actions": [execute(submit, verb, &data)]}
            ]
        }
    })
}

/// The Adaptive Card of an approval request as it stands.
pub fn card(view: &CardView) -> Value {
    let mut mentions = Mentions::default();
    let mut facts = vec![
        fact("Requester", escape(&view.requester.name, 100)),
        fact("Role", format!("{} ({})", escape(&view.role_name, 200), escape(&view.role_key, 100))),
        fact("Scope", escape(&view.scope, 300)),
        fact("Tier", view.tier.clone()),
        fact("Duration", view.duration.clone()),
        fact("Justification", escape(&view.justification, MAX_USER_TEXT)),
    ];
    if let Some(ticket) = &view.ticket {
        facts.push(fact("Ticket", escape(ticket, 100)));
    }
    facts.push(fact("Approvals", format!("{} of {}", view.approvals.len(), view.approvals_required)));
    facts.push(fact("SLA", view.sla.clone()));
    let mut body = vec![
        json!({"type": "TextBlock", "text": format!("🔐 PIM request {}", view.request_id), "weight": "Bolder",
               "size": "Medium", "wrap": true}),
        json!({"type": "FactSet", "facts": facts}),
    ];
    match decision_line(&view.status) {
        None => {
            if !view.approvers.is_empty() {
                let who: Vec<String> = view.approvers.iter().map(|p| mentions.person(p)).collect();
                body.push(text_block(format!("Approvers: {}", who.join(" "))));
            }
            let data = json!({"requestId": view.request_id.as_str()});
            body.push(json!({"type": "ActionSet", "actions": [
                execute("Approve", VERB_APPROVE, &data),
                reason_form("Deny…", "Deny", VERB_DENY, data, false, "Reason for denying (optional)"),
            ]}));
        }
        Some(line) => body.push(json!({"type": "TextBlock", "text": line, "weight": "Bolder", "wrap": true})),
    }
    adaptive_card(body, mentions)
}

/// The Adaptive Card of a break-glass alarm (page 1 or a repeat); open alarms carry the
/// acknowledge form, which requires a reason.
pub fn alarm_card(view: &AlarmView) -> Value {
    alarm_card_paging(view, None)
}

/// [`alarm_card`] that, while the alarm is open, @mentions `tag` (the alert channel's on-call
/// tag). Without a tag the page only starts a thread in the alert channel: bots cannot
/// mention a channel.
pub fn alarm_card_paging(view: &AlarmView, tag: Option<&Tag>) -> Value {
    let mut mentions = Mentions::default();
    let mut facts = vec![fact("Account", escape(&view.account, 200)), fact("When", view.at.to_rfc3339())];
    for (title, value) in [
        ("IP", &view.ip),
        ("Location", &view.location),
        ("Application", &view.app),
        ("Client", &view.client),
        ("Conditional Access", &view.ca_status),
    ] {
        if let Some(v) = value {
            facts.push(fact(title, escape(v, 200)));
        }
    }
    facts.push(fact("Severity", view.severity.clone()));
    let repeat = if view.page > 1 { format!(" (page {})", view.page) } else { String::new() };
    let mut body = vec![
        json!({"type": "TextBlock", "text": format!("🚨 {}{repeat}", escape(&view.headline, 300)),
               "weight": "Bolder", "size": "Medium", "color": "Attention", "wrap": true}),
        json!({"type": "FactSet", "facts": facts}),
    ];
    if let (AlarmStatus::Open, Some(tag)) = (&view.status, tag) {
        body.push(text_block(format!("Paging {}: acknowledge with a reason.", mentions.tag(tag))));
    }
    match &view.status {
        AlarmStatus::Open => body.push(json!({"type": "ActionSet", "actions": [reason_form(
            "Acknowledge…",
            "Acknowledge",
            VERB_ACK,
            json!({"alarmId": view.alarm_id.as_str()}),
            true,
            "What is going on (required)",
        )]})),
        AlarmStatus::Acknowledged { by, at, reason } => body.push(text_block(format!(
            "✅ Acknowledged by {} at {}: {}",
            escape(&by.name, 100),
            at.to_rfc3339(),
            escape(reason, MAX_USER_TEXT)
        ))),
    }
    adaptive_card(body, mentions)
}

/// A message activity carrying one Adaptive Card (no text: Teams splits text plus attachment,
/// and the split message's id cannot be edited).
pub fn card_activity(card: Value) -> Value {
    json!({"type": "message", "attachments": [{"contentType": CARD_CONTENT_TYPE, "content": card}]})
}

/// A notice as a markdown message; `name_of` gives the display name of a mentioned object id.
pub fn notice_activity(notice: &Notice, name_of: &dyn Fn(&str) -> String) -> Value {
    let mut mentions = Mentions::default();
    let mut text = String::new();
    if notice.page_channel {
        // Bots cannot @mention a channel; the alert channel's notifications carry the page.
        text.push_str("🚨 **Attention** ");
    }
    for id in &notice.mentions {
        text.push_str(&mentions.id(id, &name_of(id)));
        text.push(' ');
    }
    text.push_str(&escape_notice(&notice.text));
    let mut activity = json!({"type": "message", "textFormat": "markdown", "text": text});
    if !mentions.0.is_empty() {
        activity["entities"] = Value::Array(mentions.0);
    }
    activity
}

/// Notice texts are written by pimbot (with user text already inside); its emphasis becomes
/// Markdown `**bold**`, only `<`/`>` are neutralised so nobody's text can become a mention, and
/// the length is bounded.
fn escape_notice(text: &str) -> String {
    let text = crate::core::text::emphasis(text, "**").replace('<', "‹").replace('>', "›");
    if text.chars().count() > MAX_NOTICE {
        let mut cut: String = text.chars().take(MAX_NOTICE - 1).collect();
        cut.push('…');
        cut
    } else {
        text
    }
}

/// The activity for any outbox body.
pub fn activity(body: &MessageBody, name_of: &dyn Fn(&str) -> String) -> Value {
    match body {
        MessageBody::Card(view) => card_activity(card(view)),
        MessageBody::Alarm(view) => card_activity(alarm_card(view)),
        MessageBody::Notice(notice) => notice_activity(notice, name_of),
        MessageBody::Review(view) => card_activity(super::render_review::review(view)),
        MessageBody::Renewal(view) => card_activity(super::render_review::renewal(view)),
    }
}

/// The body of an `adaptiveCard/action` answer that replaces the clicker's card.
pub fn invoke_card(card: Value) -> Value {
    json!({"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card})
}

/// The body of an `adaptiveCard/action` answer that shows the clicker a message.
pub fn invoke_message(text: &str) -> Value {
    json!({"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": escape_notice(text)})
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
