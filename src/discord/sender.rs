//! The outbox's Discord delivery: renders a message, sends it to the REST route for its
//! [`Target`], and classifies the result as sent, retry-later or rejected for good.
//!
//! Target mapping:
//! - `Channel` → `POST /channels/{id}/messages`, remembered as a [`PostedRef`] when asked.
//! - `User` → open the bot's DM channel (`POST /users/@me/channels`), then post there.
//! - `Thread` → a reply (`message_reference`) to the parent in its channel; no Discord threads.
//! - `Replace` → `PATCH /channels/{channel}/messages/{id}`; not posted yet → retry in 5 s.
//!
//! Every create carries the outbox row id as `nonce` with `enforce_nonce: true`: Discord answers
//! a repeat within a few minutes with the message it already created, so a retry after a crash
//! or a timeout never posts twice.
//! - `Ephemeral` → Discord has ephemeral messages only as interaction responses, not in
//!   channels, so a queued ephemeral (a refusal produced outside a request/response) is sent
//!   as a DM to the user instead. Interactive refusals are answered inline as real ephemerals.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serenity::all::{ChannelId, MessageId, MessageReference, Nonce};

use super::client::{DiscordApi, DiscordApiError, Posted};
use super::render::{self, Rendered};
use crate::core::ids::Platform;
use crate::core::outbox::{DeliveryOutcome, OutboxItem, PostedRef, Target};
use crate::core::ports::ChatSender;

/// Wait after a transient failure (5xx, timeout, connection error).
pub const TRANSIENT_RETRY: std::time::Duration = std::time::Duration::from_secs(2);
/// Wait after a 429 that did not say how long.
pub const DEFAULT_RATE_LIMIT_RETRY: std::time::Duration = std::time::Duration::from_secs(30);
/// Wait when a `Replace` arrives before the message it replaces was posted.
pub const NOT_POSTED_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// Delivers outbox messages to Discord through a [`DiscordApi`].
#[derive(Debug, Clone)]
pub struct DiscordSender {
    api: Arc<DiscordApi>,
}

impl DiscordSender {
    /// A sender using `api`.
    pub fn new(api: Arc<DiscordApi>) -> Self {
        Self { api }
    }
}

fn later(now: DateTime<Utc>, wait: std::time::Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(30))
}

/// Turns a failed call into the dispatcher's outcome.
pub fn outcome_of_error(err: DiscordApiError, now: DateTime<Utc>) -> DeliveryOutcome {
    match err {
        DiscordApiError::RateLimited { retry_after } => {
            let wait = retry_after.unwrap_or(DEFAULT_RATE_LIMIT_RETRY);
            DeliveryOutcome::RetryAt(later(now, wait), format!("rate limited by Discord for {:?}", wait))
        }
        DiscordApiError::Transient(e) => DeliveryOutcome::RetryAt(later(now, TRANSIENT_RETRY), e),
        DiscordApiError::Rejected(e) => DeliveryOutcome::Rejected(e),
    }
}

/// The `nonce` of outbox row `id` (Discord allows up to 25 characters; an i64 has at most 20).
pub fn nonce(id: i64) -> String {
    id.to_string()
}

/// A reply reference to a remembered message, when its ids are snowflakes.
fn reference(parent: &PostedRef) -> Option<MessageReference> {
    let channel = parent.channel.parse::<u64>().ok().filter(|n| *n != 0)?;
    let message = parent.message_id.parse::<u64>().ok().filter(|n| *n != 0)?;
    Some(MessageReference::from((ChannelId::new(channel), MessageId::new(message))))
}

impl DiscordSender {
    /// Creates the message with the row id as `nonce` and `enforce_nonce`: Discord answers a
    /// repeat (after a crash or a timeout) with the message it already created, never a second.
    async fn post(
        &self,
        item: &OutboxItem,
        channel: &str,
        rendered: Rendered,
        reply_to: Option<MessageReference>,
    ) -> Result<Option<PostedRef>, DiscordApiError> {
        let message = &item.message;
        let body = rendered.create(reply_to).nonce(Nonce::String(nonce(item.id))).enforce_nonce(true);
        let Posted { id, channel_id } = self.api.create_message(channel, &body).await?;
        Ok(message.remember_as.as_ref().map(|key| PostedRef {
            platform: Platform::Discord,
            ref_key: key.clone(),
            channel: channel_id,
            message_id: id,
        }))
    }

    async fn post_dm(&self, item: &OutboxItem, user: &str) -> Result<Option<PostedRef>, DiscordApiError> {
        let channel = self.api.dm_channel(user).await?;
        self.post(item, &channel, render::message(&item.message.body), None).await
    }
}

#[async_trait]
impl ChatSender for DiscordSender {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    async fn deliver(
        &self,
        item: &OutboxItem,
        existing: Option<&PostedRef>,
        now: DateTime<Utc>,
    ) -> DeliveryOutcome {
        let message = &item.message;
        let rendered = render::message(&message.body);
        let creates = !matches!(message.target, Target::Replace { .. });
        let result = match &message.target {
            Target::Channel { channel } => self.post(item, channel, rendered, None).await,
            Target::User { user } => self.post_dm(item, user).await,
            Target::Thread { channel, .. } => match existing {
                Some(parent) => self.post(item, &parent.channel, rendered, reference(parent)).await,
                // The parent never made it: say it in the channel rather than lose it.
                None => self.post(item, channel, rendered, None).await,
            },
            Target::Replace { ref_key } => match existing {
                Some(posted) => self
                    .api
                    .edit_message(&posted.channel, &posted.message_id, &rendered.edit())
                    .await
                    .map(|_| None),
                None => {
                    return DeliveryOutcome::RetryAt(
                        later(now, NOT_POSTED_RETRY),
                        format!("card not posted yet ({ref_key})"),
                    );
                }
            },
            Target::Ephemeral { user, .. } => self.post_dm(item, user).await,
        };
        match result {
            Ok(posted) => DeliveryOutcome::Sent(posted),
            Err(e) => {
                tracing::warn!(outbox = item.id, target_kind = ?message.target, error = %e, "Discord delivery failed");
                // A create cut off by a timeout or a 5xx may have landed; repeating it is safe
                // (same nonce), but the row is marked in doubt.
                let maybe_taken = creates && matches!(e, DiscordApiError::Transient(_));
                match outcome_of_error(e, now) {
                    DeliveryOutcome::RetryAt(at, why) if maybe_taken => DeliveryOutcome::Unconfirmed(at, why),
                    other => other,
                }
            }
        }
    }
}
