//! Builds the outgoing messages of each lifecycle event and fans them out to every enabled
//! platform: cards to the approver channel, lines to the feed, notices to the requester.

use crate::core::ids::Platform;
use crate::core::outbox::{OutgoingMessage, Target};
use crate::core::policy::{Person, Policy, Role};
use crate::core::request::AccessRequest;
use crate::core::view::{CardView, MessageBody, Notice};

/// One enabled platform and where its messages go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Channels {
    /// Platform.
    pub platform: Platform,
    /// Approval cards.
    pub approver: String,
    /// Lifecycle feed.
    pub feed: String,
    /// Loud alerts.
    pub alert: String,
}

/// The reference key a request's card is remembered under.
pub fn card_key(request: &AccessRequest) -> String {
    format!("card:{}", request.id)
}

fn message(platform: Platform, target: Target, body: MessageBody, order_key: &str) -> OutgoingMessage {
    OutgoingMessage { platform, target, body, order_key: order_key.to_owned(), remember_as: None }
}

/// Posts the card for a new request on every platform.
pub fn post_card(
    channels: &[Channels],
    policy: &Policy,
    role: &Role,
    request: &AccessRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<OutgoingMessage> {
    channels
        .iter()
        .map(|c| OutgoingMessage {
            remember_as: Some(card_key(request)),
            ..message(
                c.platform,
                Target::Channel { channel: c.approver.clone() },
                MessageBody::Card(Box::new(CardView::build(policy, role, request, c.platform, now))),
                request.id.as_str(),
            )
        })
        .collect()
}

/// Updates the card in place on every platform.
pub fn update_card(
    channels: &[Channels],
    policy: &Policy,
    role: &Role,
    request: &AccessRequest,
    now: chrono::DateTime<chrono::Utc>,
) -> Vec<OutgoingMessage> {
    channels
        .iter()
        .map(|c| {
            message(
                c.platform,
                Target::Replace { ref_key: card_key(request) },
                MessageBody::Card(Box::new(CardView::build(policy, role, request, c.platform, now))),
                request.id.as_str(),
            )
        })
        .collect()
}

/// A line in the card's thread, mentioning `people` (never pass the requester).
pub fn thread(
    channels: &[Channels],
    policy: &Policy,
    request: &AccessRequest,
    text: &str,
    people: &[crate::core::ids::PersonId],
) -> Vec<OutgoingMessage> {
    channels
        .iter()
        .map(|c| {
            let mentions = people
                .iter()
                .filter(|p| **p != request.requester)
                .filter_map(|p| {
                    policy.person(p).and_then(|person| person.chat_id(c.platform)).map(str::to_owned)
                })
                .collect();
            message(
                c.platform,
                Target::Thread { channel: c.approver.clone(), parent: card_key(request) },
                MessageBody::Notice(Notice::mentioning(text, mentions)),
                request.id.as_str(),
            )
        })
        .collect()
}

/// A feed line on every platform.
pub fn feed(channels: &[Channels], order_key: &str, text: &str) -> Vec<OutgoingMessage> {
    channels
        .iter()
        .map(|c| {
            message(
                c.platform,
                Target::Channel { channel: c.feed.clone() },
                MessageBody::Notice(Notice::text(text)),
                order_key,
            )
        })
        .collect()
}

/// A loud line in the alert channel on every platform (pages the channel).
pub fn alert(channels: &[Channels], order_key: &str, text: &str) -> Vec<OutgoingMessage> {
    channels
        .iter()
        .map(|c| {
            let notice = Notice { text: text.to_owned(), mentions: Vec::new(), page_channel: true };
            message(
                c.platform,
                Target::Channel { channel: c.alert.clone() },
                MessageBody::Notice(notice),
                order_key,
            )
        })
        .collect()
}

/// A direct message to a person on every enabled platform where they have an account.
pub fn direct(channels: &[Channels], person: &Person, order_key: &str, text: &str) -> Vec<OutgoingMessage> {
    channels
        .iter()
        .filter_map(|c| {
            person.chat_id(c.platform).map(|user| {
                message(
                    c.platform,
                    Target::User { user: user.to_owned() },
                    MessageBody::Notice(Notice::text(text)),
                    order_key,
                )
            })
        })
        .collect()
}

/// An ephemeral reply to one user.
pub fn ephemeral(platform: Platform, channel: &str, user: &str, text: &str) -> OutgoingMessage {
    message(
        platform,
        Target::Ephemeral { channel: channel.to_owned(), user: user.to_owned() },
        MessageBody::Notice(Notice::text(text)),
        &format!("ephemeral:{user}"),
    )
}

/// A direct message to one chat user on one platform.
pub fn direct_to(platform: Platform, user: &str, text: &str) -> OutgoingMessage {
    message(
        platform,
        Target::User { user: user.to_owned() },
        MessageBody::Notice(Notice::text(text)),
        &format!("dm:{user}"),
    )
}
