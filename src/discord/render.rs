//! Renders the core's platform-neutral views into Discord messages: an embed plus an action row
//! of `approve:<id>` / `deny:<id>` buttons for approval cards, plain content with mentions for
//! notices. Pure functions, no I/O; serenity's builders spell the wire JSON.
//!
//! Pinging is controlled by `allowed_mentions`, never by what the text happens to contain: a
//! card pings exactly its approvers, a notice exactly its mentioned users, and only a notice
//! with `page_channel` may ping `@everyone`. Text a person or an outside system supplied goes
//! through one function, [`user_text`]: made one line, markdown and mention syntax escaped,
//! `@everyone` defused, and cut to Discord's limits ([`MAX_CONTENT`], [`MAX_FIELD_VALUE`],
//! [`MAX_TITLE`], [`MAX_EMBED_TOTAL`]); notices render their quoted pieces the same way.

use serenity::all::{
    ButtonStyle, Colour, CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed, CreateInputText,
    CreateMessage, CreateModal, EditMessage, InputTextStyle, MessageReference, UserId,
};

use crate::core::view::{CardStatus, CardView, MessageBody, Notice, PersonRef};

/// `custom_id` prefix of the approve button (`approve:<request-id>`).
pub const APPROVE_PREFIX: &str = "approve";
/// `custom_id` prefix of the deny button (`deny:<request-id>`).
pub const DENY_PREFIX: &str = "deny";
/// `custom_id` prefix of the alarm acknowledge button (`ack:<alarm-id>`).
pub const ACK_PREFIX: &str = "ack";
/// `custom_id` prefix of the deny-reason modal (`deny_reason:<request-id>`).
pub const DENY_REASON_PREFIX: &str = "deny_reason";
/// `custom_id` of the reason text input in the deny modal.
pub const FIELD_REASON: &str = "reason";

/// Message content limit.
pub const MAX_CONTENT: usize = 2000;
/// Embed title limit.
pub const MAX_TITLE: usize = 256;
/// Embed description limit.
pub const MAX_DESCRIPTION: usize = 4096;
/// Embed field name limit.
pub const MAX_FIELD_NAME: usize = 256;
/// Embed field value limit.
pub const MAX_FIELD_VALUE: usize = 1024;
/// Limit on all text of all embeds of a message together.
pub const MAX_EMBED_TOTAL: usize = 6000;
/// Buttons per action row.
pub const MAX_BUTTONS_PER_ROW: usize = 5;

pub(super) const ORANGE: Colour = Colour(0xE67E22);
pub(super) const GREEN: Colour = Colour(0x2ECC71);
pub(super) const RED: Colour = Colour(0xE74C3C);
const GREY: Colour = Colour(0x95A5A6);

/// Cuts `text` to at most `max` characters, ending in `…` when cut.
pub fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut s: String = text.chars().take(max.saturating_sub(1)).collect();
        s.push('…');
        s
    }
}

/// Longest quoted piece of user text inside a notice.
pub const MAX_QUOTE: usize = 1000;

/// One character of user text as Discord markdown needs it: formatting, quote, heading, link
/// and mention characters (`<@…>`, `<#…>`, `<t:…>`) backslash-escaped.
fn escaped(c: char) -> String {
    match c {
        '\\' | '*' | '_' | '~' | '`' | '|' | '<' | '>' | '#' | '[' | ']' => format!("\\{c}"),
        c => c.to_string(),
    }
}

/// The escaped characters of user text made one line and defused, cut to `max` (an escape is
/// never split).
fn user_units(text: &str, max: usize) -> Vec<String> {
    let line = defuse(&crate::core::text::one_line(text));
    let units: Vec<String> = line.chars().map(escaped).collect();
    let total: usize = units.iter().map(|u| u.chars().count()).sum();
    if total <= max { units } else { vec![crate::core::text::cut_units(units, max)] }
}

/// Text a person or an outside system supplied, as it may appear in a Discord message: one
/// line, markdown and mention syntax escaped, `@everyone`/`@here` defused, at most `max`
/// characters.
pub fn user_text(text: &str, max: usize) -> String {
    user_units(text, max).concat()
}

/// Defuses `@everyone` / `@here` typed by users (a zero-width space after the `@`), so text
/// never looks like a page even where `allowed_mentions` already stops the ping.
pub fn defuse(text: &str) -> String {
    text.replace("@everyone", "@\u{200B}everyone").replace("@here", "@\u{200B}here")
}

/// A Discord user id (snowflake) from a configured chat id, if it is one.
pub fn user_id(id: &str) -> Option<UserId> {
    id.parse::<u64>().ok().filter(|n| *n != 0).map(UserId::new)
}

/// `<@id>` for a snowflake, else the defused text `@id`.
pub fn mention_id(id: &str) -> String {
    match user_id(id) {
        Some(_) => format!("<@{id}>"),
        None => format!("@{}", defuse(id)),
    }
}

/// A person as a mention when their Discord id is known, else their name.
pub fn person(p: &PersonRef) -> String {
    match p.chat_id.as_deref().filter(|id| user_id(id).is_some()) {
        Some(id) => format!("<@{id}>"),
        None => defuse(&p.name),
    }
}

fn people(list: &[PersonRef]) -> String {
    list.iter().map(person).collect::<Vec<_>>().join(", ")
}

/// A rendered message, before it becomes a create or edit request.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// Message content (≤ [`MAX_CONTENT`]).
    pub content: String,
    /// Embeds (cards have one).
    pub embeds: Vec<CreateEmbed>,
    /// Action rows; empty removes the buttons on edit.
    pub components: Vec<CreateActionRow>,
    /// Who may be pinged.
    pub allowed_mentions: CreateAllowedMentions,
}

impl Rendered {
    /// `POST /channels/{id}/messages` body; `reply_to` makes it a reply to that message.
    pub fn create(self, reply_to: Option<MessageReference>) -> CreateMessage {
        let mut m = CreateMessage::new()
            .embeds(self.embeds)
            .components(self.components)
            .allowed_mentions(self.allowed_mentions);
        if !self.content.is_empty() {
            m = m.content(self.content);
        }
        if let Some(r) = reply_to {
            m = m.reference_message(r);
        }
        m
    }

    /// `PATCH /channels/{id}/messages/{id}` body: replaces content, embeds and components.
    pub fn edit(self) -> EditMessage {
        EditMessage::new()
            .content(self.content)
            .embeds(self.embeds)
            .components(self.components)
            .allowed_mentions(self.allowed_mentions)
    }
}

/// An embed's text, limits applied, before it becomes a [`CreateEmbed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbedText {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// `(name, value, inline)`.
    pub fields: Vec<(String, String, bool)>,
}

impl EmbedText {
    /// Characters Discord counts toward [`MAX_EMBED_TOTAL`].
    pub fn total(&self) -> usize {
        let n = |s: &String| s.chars().count();
        n(&self.title) + n(&self.description) + self.fields.iter().map(|(a, b, _)| n(a) + n(b)).sum::<usize>()
    }

    /// Applies the per-part limits, then shortens the longest field values until the total fits.
    pub fn fit(mut self) -> Self {
        self.title = cut(&self.title, MAX_TITLE);
        self.description = cut(&self.description, MAX_DESCRIPTION);
        for (name, value, _) in &mut self.fields {
            *name = cut(name, MAX_FIELD_NAME);
            *value = cut(if value.trim().is_empty() { "—" } else { value }, MAX_FIELD_VALUE);
        }
        while self.total() > MAX_EMBED_TOTAL {
            let excess = self.total() - MAX_EMBED_TOTAL;
            let Some(longest) = self.fields.iter_mut().max_by_key(|f| f.1.chars().count()) else { break };
            let len = longest.1.chars().count();
            if len <= 1 {
                self.description =
                    cut(&self.description, self.description.chars().count().saturating_sub(excess));
                break;
            }
            longest.1 = cut(&longest.1, len.saturating_sub(excess).max(len / 2).max(1));
        }
        self
    }

    pub(super) fn build(self, colour: Colour) -> CreateEmbed {
        CreateEmbed::new().title(self.title).description(self.description).fields(self.fields).colour(colour)
    }
}

/// The decision line shown on a decided card (`None` while the card is open).
pub fn decision_line(status: &CardStatus) -> Option<String> {
    match status {
        CardStatus::Open => None,
        CardStatus::Approved { by } if by.is_empty() => Some("✅ Approved (no approval required)".into()),
        CardStatus::Approved { by } => Some(format!("✅ Approved by {}", people(by))),
        CardStatus::Denied { by, reason: Some(reason) } if !reason.trim().is_empty() => {
            Some(format!("❌ Denied by {}: {}", person(by), user_text(reason, MAX_QUOTE)))
        }
        CardStatus::Denied { by, .. } => Some(format!("❌ Denied by {}", person(by))),
        CardStatus::Cancelled => Some("↩️ Cancelled by the requester".into()),
        CardStatus::TimedOut => Some("⌛ Timed out: nobody decided in time".into()),
        CardStatus::Withdrawn { reason } => Some(format!("↩️ Cancelled: {}", defuse(reason))),
        CardStatus::Retrying { by } => Some(format!("✅ Approved by {}: granting… (retrying)", people(by))),
        CardStatus::GrantFailed { by, reason } => Some(format!(
            "❌ Approved by {}, but the grant failed{}",
            people(by),
            reason.as_deref().map(|r| format!(": {}", defuse(r))).unwrap_or_default()
        )),
    }
}

/// The card's embed text (limits applied).
pub fn card_embed(view: &CardView) -> EmbedText {
    let mut approvals = format!("{}/{}", view.approvals.len(), view.approvals_required);
    if !view.approvals.is_empty() {
        approvals.push_str(&format!(" by {}", people(&view.approvals)));
    }
    let mut fields = vec![
        ("Requester".to_owned(), person(&view.requester), true),
        ("Role".to_owned(), format!("{} (`{}`)", defuse(&view.role_name), defuse(&view.role_key)), true),
        ("Scope".to_owned(), format!("`{}`", defuse(&view.scope)), true),
        ("Tier".to_owned(), view.tier.clone(), true),
        ("Duration".to_owned(), view.duration.clone(), true),
        (
            "Ticket".to_owned(),
            view.ticket.as_deref().map(|t| user_text(t, 200)).unwrap_or_else(|| "—".into()),
            true,
        ),
        ("Request".to_owned(), format!("`{}`", view.request_id), true),
        ("Approvals".to_owned(), approvals, true),
        ("SLA".to_owned(), view.sla.clone(), true),
        ("Justification".to_owned(), user_text(&view.justification, MAX_FIELD_VALUE), false),
    ];
    if let Some(line) = decision_line(&view.status) {
        fields.push(("Decision".to_owned(), line, false));
    }
    EmbedText {
        title: format!("Access request: {}", defuse(&view.role_name)),
        description: format!(
            "{} requests **{}** for **{}**",
            person(&view.requester),
            defuse(&view.role_name),
            view.duration
        ),
        fields,
    }
    .fit()
}

/// The approve/deny buttons of an open card.
pub fn card_buttons(request_id: &str) -> CreateActionRow {
    CreateActionRow::Buttons(vec![
        CreateButton::new(format!("{APPROVE_PREFIX}:{request_id}"))
            .label("Approve")
            .style(ButtonStyle::Success),
        CreateButton::new(format!("{DENY_PREFIX}:{request_id}")).label("Deny").style(ButtonStyle::Danger),
    ])
}

/// The approval card: approvers pinged in `content` (never the requester), the request in an
/// embed, and buttons while open; once decided no buttons and the decision shown.
pub fn card(view: &CardView) -> Rendered {
    let colour = match &view.status {
        CardStatus::Open => ORANGE,
        CardStatus::Approved { .. } => GREEN,
        CardStatus::Retrying { .. } => ORANGE,
        CardStatus::Denied { .. } | CardStatus::GrantFailed { .. } => RED,
        CardStatus::Cancelled | CardStatus::TimedOut | CardStatus::Withdrawn { .. } => GREY,
    };
    let embed = card_embed(view).build(colour);
    match decision_line(&view.status) {
        None => {
            let pinged: Vec<&str> = view
                .approvers
                .iter()
                .filter(|p| p.chat_id != view.requester.chat_id)
                .filter_map(|p| p.chat_id.as_deref())
                .filter(|id| user_id(id).is_some())
                .collect();
            let mut content = String::from("🔔 Approval needed");
            let mut allowed = Vec::new();
            for id in pinged {
                let next = if allowed.is_empty() { format!(" from <@{id}>") } else { format!(", <@{id}>") };
                if content.chars().count() + next.chars().count() > MAX_CONTENT {
                    break;
                }
                content.push_str(&next);
                allowed.extend(user_id(id));
            }
            Rendered {
                content,
                embeds: vec![embed],
                components: vec![card_buttons(view.request_id.as_str())],
                allowed_mentions: CreateAllowedMentions::new().users(allowed),
            }
        }
        Some(line) => Rendered {
            content: cut(&line, MAX_CONTENT),
            embeds: vec![embed],
            components: Vec::new(),
            allowed_mentions: CreateAllowedMentions::new(),
        },
    }
}

/// The content of a notice: `@everyone` when paging, then the mentions, then the text with
/// each quoted piece of user text through [`user_text`]; at most [`MAX_CONTENT`] long.
pub fn notice_content(n: &Notice) -> String {
    let mut head: Vec<String> = Vec::new();
    if n.page_channel {
        head.push("@everyone".into());
    }
    head.extend(n.mentions.iter().map(|m| mention_id(m)));
    let mut units: Vec<String> = head.into_iter().map(|h| format!("{h} ")).collect();
    for piece in crate::core::text::pieces(&n.text) {
        match piece {
            crate::core::text::Piece::Own(own) => units.extend(defuse(own).chars().map(String::from)),
            crate::core::text::Piece::Strong(own) => {
                units.push("**".into());
                units.extend(defuse(own).chars().map(String::from));
                units.push("**".into());
            }
            crate::core::text::Piece::User(quoted) => units.extend(user_units(quoted, MAX_QUOTE)),
        }
    }
    crate::core::text::cut_units(units, MAX_CONTENT)
}

/// A notice: content only; pings exactly the mentioned users, and `@everyone` when paging.
pub fn notice(n: &Notice) -> Rendered {
    let users: Vec<UserId> = n.mentions.iter().filter_map(|m| user_id(m)).collect();
    Rendered {
        content: notice_content(n),
        allowed_mentions: CreateAllowedMentions::new().everyone(n.page_channel).users(users),
        ..Rendered::default()
    }
}

/// Renders any message body.
pub fn message(body: &MessageBody) -> Rendered {
    match body {
        MessageBody::Card(view) => card(view),
        MessageBody::Notice(n) => notice(n),
        MessageBody::Alarm(a) => super::render_alarm::alarm(a),
        MessageBody::Review(r) => super::render_review::review(r),
        MessageBody::Renewal(r) => super::render_review::renewal(r),
    }
}

/// The modal asking an approver why they deny `request_id` (`custom_id` `deny_reason:<id>`).
pub fn deny_modal(request_id: &str) -> CreateModal {
    let input = CreateInputText::new(InputTextStyle::Paragraph, "Reason", FIELD_REASON)
        .placeholder("Why is this request denied?")
        .max_length(1000)
        .required(true);
    CreateModal::new(format!("{DENY_REASON_PREFIX}:{request_id}"), "Deny request")
        .components(vec![CreateActionRow::InputText(input)])
}

#[cfg(test)]
#[path = "render_tests.rs"]
mod tests;
