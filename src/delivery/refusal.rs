//! What happens when a platform refuses a message for good: never silence. Every refusal is
//! counted (`pimbot_chat_rejected_total{platform,reason}`), logged, audited (`chat.rejected`)
//! and kept in the outbox for `pimbot outbox status`; it is announced on the alert channel of
//! every other platform and, unless the refusal was that channel's or the token's, of its own
//! platform (at most once per platform, reason and channel every [`ANNOUNCE_EVERY`]). A
//! break-glass alarm or a paging alert refused by its alert channel is posted again to the
//! approver channel of its platform (never throttled), so someone who can act still sees it.
//!
//! Announcements are never announced in turn (one refused by its alert channel still falls
//! back to the approver channel), so a platform that refuses everything cannot start a loop.

use std::collections::HashMap;
use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::ids::Platform;
use crate::core::outbox::{OutboxItem, OutgoingMessage, Target};
use crate::core::service::Channels;
use crate::core::text::quote;
use crate::core::view::{MessageBody, Notice};

/// How often one kind of refusal (platform, reason, channel) is announced at most.
pub const ANNOUNCE_EVERY: Duration = Duration::minutes(15);
/// Order-key prefix of announcements (they are never announced themselves).
pub const ANNOUNCEMENT_KEY: &str = "refusal:";

/// Reasons that mean the platform refuses everything from this bot (a revoked or wrong token):
/// its own channels cannot carry the announcement.
const AUTH_REASONS: &[&str] = &[
    "invalid_auth",
    "not_authed",
    "token_revoked",
    "token_expired",
    "account_inactive",
    "missing_scope",
    "no_permission",
    "http_401",
    "unauthorized",
];

/// The `reason` label of a refusal: lower-case letters, digits and `_`, at most 48, else
/// `other` (the label set stays small whatever a platform answers).
pub fn reason_label(reason: &str) -> String {
    let ok = !reason.is_empty()
        && reason.len() <= 48
        && reason.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if ok { reason.to_owned() } else { "other".into() }
}

/// Decides the follow-ups of refusals; remembers recent announcements.
#[derive(Debug, Default)]
pub struct Refusals {
    channels: Vec<Channels>,
    announced: Mutex<HashMap<(Platform, String, String), DateTime<Utc>>>,
}

/// What one refusal leads to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    /// Messages to queue: the alarm's fallback and the announcements.
    pub outbox: Vec<OutgoingMessage>,
    /// The audit record of the refusal.
    pub audit: AuditEvent,
}

fn display(platform: Platform) -> &'static str {
    match platform {
        Platform::Slack => "Slack",
        Platform::Discord => "Discord",
        Platform::Teams => "Teams",
    }
}

pub(crate) fn what(body: &MessageBody) -> &'static str {
    match body {
        MessageBody::Card(_) => "an approval card",
        MessageBody::Alarm(_) => "a break-glass alarm",
        MessageBody::Notice(n) if n.page_channel => "an alert",
        MessageBody::Notice(_) => "a message",
        MessageBody::Review(_) => "an access review card",
        MessageBody::Renewal(_) => "a renewal card",
    }
}

pub(crate) fn where_to(target: &Target) -> String {
    match target {
        Target::Channel { channel } => format!("channel {channel}"),
        Target::User { user } => format!("a direct message to {user}"),
        Target::Thread { channel, .. } => format!("a thread in channel {channel}"),
        Target::Replace { ref_key } => format!("an update of {ref_key}"),
        Target::Ephemeral { user, .. } => format!("a reply only {user} sees"),
    }
}

impl Refusals {
    /// Follow-ups for the platforms and channels of `channels`.
    pub fn new(channels: Vec<Channels>) -> Self {
        Self { channels, announced: Mutex::new(HashMap::new()) }
    }

    /// What the refusal of `item` for `reason` at `now` leads to.
    pub fn follow_up(&self, item: &OutboxItem, reason: &str, now: DateTime<Utc>) -> FollowUp {
        let message = &item.message;
        let platform = message.platform;
        let own = self.channels.iter().find(|c| c.platform == platform);
        let is_announcement = message.order_key.starts_with(ANNOUNCEMENT_KEY);
        let urgent = !matches!(&message.body, MessageBody::Notice(n) if !n.page_channel)
            && !matches!(message.target, Target::User { .. } | Target::Ephemeral { .. });
        let refused_channel = match &message.target {
            Target::Channel { channel } | Target::Thread { channel, .. } => Some(channel.as_str()),
            _ => None,
        };
        let mut outbox = Vec::new();
        // An alarm or a paging alert (an announcement too) the alert channel refused goes to
        // the approver channel.
        let pages = matches!(&message.body, MessageBody::Alarm(_))
            || matches!(&message.body, MessageBody::Notice(n) if n.page_channel);
        let fallback = match (own, &message.target) {
            (Some(c), Target::Channel { channel }) if pages => {
                (*channel == c.alert && c.approver != c.alert).then(|| c.approver.clone())
            }
            _ => None,
        };
        if let Some(approver) = &fallback {
            outbox.push(OutgoingMessage {
                target: Target::Channel { channel: approver.clone() },
                ..message.clone()
            });
        }
        let auth = AUTH_REASONS.contains(&reason);
        let mut announced_to = Vec::new();
        if !is_announcement {
            let rerouted = fallback
                .as_ref()
                .map(|to| format!(" It was posted to channel {to} instead."))
                .unwrap_or_default();
            let text = format!(
                "⚠️ {} refused {} for {} for good ({}).{rerouted} Check the channel id, that the bot is \
                 in the channel, and its token; `pimbot outbox status` lists refusals.",
                display(platform),
                what(&message.body),
                where_to(&message.target),
                quote(reason),
            );
            for c in &self.channels {
                let to = if c.platform != platform {
                    Some(c.alert.clone())
                } else if auth {
                    None
                } else if refused_channel == Some(c.alert.as_str()) {
                    (c.approver != c.alert).then(|| c.approver.clone())
                } else {
                    Some(c.alert.clone())
                };
                let Some(to) = to else { continue };
                if refused_channel == Some(to.as_str()) && c.platform == platform {
                    continue;
                }
                if !self.first_in_a_while((c.platform, reason.to_owned(), to.clone()), now) {
                    continue;
                }
                announced_to.push(json!({"platform": c.platform, "channel": to}));
                outbox.push(OutgoingMessage {
                    platform: c.platform,
                    target: Target::Channel { channel: to },
                    body: MessageBody::Notice(Notice {
                        text: text.clone(),
                        mentions: Vec::new(),
                        page_channel: urgent,
                    }),
                    order_key: format!("{ANNOUNCEMENT_KEY}{platform}:{reason}"),
                    remember_as: None,
                });
            }
        }
        let detail = json!({
                "outbox_id": item.id,
                "platform": platform,
                "reason": reason,
                "message": what(&message.body),
                "target": where_to(&message.target),
                "order_key": message.order_key,
                "fallback_to": fallback,
                "announced_to": announced_to,
        });
        let audit = AuditEvent::new(now, Actor::System, EventKind::ChatRejected, None, None, detail);
        FollowUp { outbox, audit }
    }

    /// Whether `key` was not announced within [`ANNOUNCE_EVERY`] (and records it now if so).
    fn first_in_a_while(&self, key: (Platform, String, String), now: DateTime<Utc>) -> bool {
        let mut announced = self.announced.lock().unwrap_or_else(|e| e.into_inner());
        match announced.get(&key) {
            Some(at) if now - *at < ANNOUNCE_EVERY => false,
            _ => {
                announced.insert(key, now);
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::view::Notice;

    fn channels() -> Vec<Channels> {
        let c = |platform, p: &str| Channels {
            platform,
            approver: format!("{p}-approvers"),
            feed: format!("{p}-feed"),
            alert: format!("{p}-alerts"),
        };
        vec![c(Platform::Slack, "s"), c(Platform::Discord, "d")]
    }

    fn item(platform: Platform, channel: &str, body: MessageBody) -> OutboxItem {
        let message = OutgoingMessage {
            platform,
            target: Target::Channel { channel: channel.into() },
            body,
            order_key: "alarm:a-1".into(),
            remember_as: Some("alarm:a-1".into()),
        };
        OutboxItem::fresh(7, message, Utc::now())
    }

    fn paging(text: &str) -> MessageBody {
        MessageBody::Notice(Notice { text: text.into(), mentions: vec![], page_channel: true })
    }

    fn targets(f: &FollowUp) -> Vec<(Platform, String)> {
        f.outbox
            .iter()
            .map(|m| match &m.target {
                Target::Channel { channel } => (m.platform, channel.clone()),
                other => panic!("{other:?}"),
            })
            .collect()
    }

    #[test]
    fn an_alarm_refused_by_its_alert_channel_goes_to_the_approvers_and_is_announced() {
        let refusals = Refusals::new(channels());
        let now = Utc::now();
        let f =
            refusals.follow_up(&item(Platform::Slack, "s-alerts", paging("🚨")), "channel_not_found", now);
        assert_eq!(
            targets(&f),
            [
                (Platform::Slack, "s-approvers".into()),
                (Platform::Slack, "s-approvers".into()),
                (Platform::Discord, "d-alerts".into()),
            ]
        );
        assert_eq!(f.outbox[0].remember_as.as_deref(), Some("alarm:a-1"), "updates follow the fallback");
        assert_eq!(f.audit.kind, EventKind::ChatRejected);
        assert_eq!(f.audit.detail["fallback_to"], "s-approvers");
        // The next alarm refused the same way still falls back, but is not announced again.
        let again =
            refusals.follow_up(&item(Platform::Slack, "s-alerts", paging("🚨")), "channel_not_found", now);
        assert_eq!(targets(&again), [(Platform::Slack, "s-approvers".into())]);
        let later = now + ANNOUNCE_EVERY + Duration::seconds(1);
        assert_eq!(
            refusals
                .follow_up(&item(Platform::Slack, "s-alerts", paging("🚨")), "channel_not_found", later)
                .outbox
                .len(),
            3
        );
    }

    #[test]
    fn a_revoked_token_is_announced_on_the_other_platform_only_and_announcements_never_cascade() {
        let refusals = Refusals::new(channels());
        let card = item(Platform::Slack, "s-approvers", paging("escalation"));
        let f = refusals.follow_up(&card, "invalid_auth", Utc::now());
        assert_eq!(targets(&f), [(Platform::Discord, "d-alerts".into())]);
        let mut announcement = f.outbox[0].clone();
        announcement.platform = Platform::Discord;
        let f = refusals.follow_up(
            &OutboxItem::fresh(8, announcement, Utc::now()),
            "unknown_channel",
            Utc::now(),
        );
        assert_eq!(targets(&f), [(Platform::Discord, "d-approvers".into())], "it falls back, unannounced");
        assert_eq!(reason_label("channel_not_found"), "channel_not_found");
        assert_eq!(reason_label("HTTP 404 {\"message\"}"), "other");
    }
}
