//! The outbox's Discord delivery: renders a message, sends it to the REST route for its
//! [`Target`], and classifies the result as sent, retry-later or rejected for good.
//!
//! Target mapping:
//! - `Channel` → `POST /channels/{id}/messages`, remembered as a [`PostedRef`] when asked.
//! - `User` → open the bot's DM channel (`POST /users/@me/channels`), then post there.
//! - `Thread` → a reply (`message_reference`) to the parent in its channel; no Discord threads.
//! - `Replace` → `PATCH /channels/{channel}/messages/{id}`; not posted yet → retry in 5 s.
//! - `Ephemeral` → Discord has ephemeral messages only as interaction responses, not in
//!   channels, so a queued ephemeral (a refusal produced outside a request/response) is sent
//!   as a DM to the user instead. Interactive refusals are answered inline as real ephemerals.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serenity::all::{ChannelId, MessageId, MessageReference};

use super::client::{DiscordApi, DiscordApiError, Posted};
use super::render::{self, Rendered};
use crate::core::ids::Platform;
use crate::core::outbox::{DeliveryOutcome, OutgoingMessage, PostedRef, Target};
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

/// A reply reference to a remembered message, when its ids are snowflakes.
fn reference(parent: &PostedRef) -> Option<MessageReference> {
    let channel = parent.channel.parse::<u64>().ok().filter(|n| *n != 0)?;
    let message = parent.message_id.parse::<u64>().ok().filter(|n| *n != 0)?;
    Some(MessageReference::from((ChannelId::new(channel), MessageId::new(message))))
}

impl DiscordSender {
    async fn post(
        &self,
        message: &OutgoingMessage,
        channel: &str,
        rendered: Rendered,
        reply_to: Option<MessageReference>,
    ) -> Result<Option<PostedRef>, DiscordApiError> {
        let Posted { id, channel_id } = self.api.create_message(channel, &rendered.create(reply_to)).await?;
        Ok(message.remember_as.as_ref().map(|key| PostedRef {
            platform: Platform::Discord,
            ref_key: key.clone(),
            channel: channel_id,
            message_id: id,
        }))
    }

    async fn post_dm(
        &self,
        message: &OutgoingMessage,
        user: &str,
    ) -> Result<Option<PostedRef>, DiscordApiError> {
        let channel = self.api.dm_channel(user).await?;
        self.post(message, &channel, render::message(&message.body), None).await
    }
}

#[async_trait]
impl ChatSender for DiscordSender {
    fn platform(&self) -> Platform {
        Platform::Discord
    }

    async fn deliver(
        &self,
        message: &OutgoingMessage,
        existing: Option<&PostedRef>,
        now: DateTime<Utc>,
    ) -> DeliveryOutcome {
        let rendered = render::message(&message.body);
        let result = match &message.target {
            Target::Channel { channel } => self.post(message, channel, rendered, None).await,
            Target::User { user } => self.post_dm(message, user).await,
            Target::Thread { channel, .. } => match existing {
                Some(parent) => self.post(message, &parent.channel, rendered, reference(parent)).await,
                // The parent never made it: say it in the channel rather than lose it.
                None => self.post(message, channel, rendered, None).await,
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
            Target::Ephemeral { user, .. } => self.post_dm(message, user).await,
        };
        match result {
            Ok(posted) => DeliveryOutcome::Sent(posted),
            Err(e) => {
                tracing::warn!(target_kind = ?message.target, error = %e, "Discord delivery failed");
                outcome_of_error(e, now)
            }
        }
    }
}
