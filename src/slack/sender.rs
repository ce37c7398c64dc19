//! The outbox's Slack delivery: renders a message, sends it to the right Web API method for its
//! [`Target`], and classifies the result as sent, retry-later or rejected for good.
//!
//! Stateless on purpose: transient failures come back as a short fixed delay
//! ([`TRANSIENT_RETRY`]); the dispatcher owns attempt counting and any backoff on top.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::client::{SlackApi, SlackApiError};
use super::render;
use crate::core::ids::Platform;
use crate::core::outbox::{DeliveryOutcome, OutgoingMessage, PostedRef, Target};
use crate::core::ports::ChatSender;

/// Wait after a transient failure (5xx, timeout, connection error).
pub const TRANSIENT_RETRY: std::time::Duration = std::time::Duration::from_secs(2);
/// Wait after a 429 that did not say how long.
pub const DEFAULT_RATE_LIMIT_RETRY: std::time::Duration = std::time::Duration::from_secs(30);
/// Wait when a `Replace` arrives before the message it replaces was posted.
pub const NOT_POSTED_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// Delivers outbox messages to Slack through a [`SlackApi`].
#[derive(Debug, Clone)]
pub struct SlackSender {
    api: Arc<SlackApi>,
}

impl SlackSender {
    /// A sender using `api` (shared with the HTTP layer, which opens modals with it).
    pub fn new(api: Arc<SlackApi>) -> Self {
        Self { api }
    }

    /// The underlying client.
    pub fn api(&self) -> &Arc<SlackApi> {
        &self.api
    }
}

fn later(now: DateTime<Utc>, wait: std::time::Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(30))
}

/// Turns a failed call into the dispatcher's outcome.
pub fn outcome_of_error(err: SlackApiError, now: DateTime<Utc>) -> DeliveryOutcome {
    match err {
        SlackApiError::RateLimited { retry_after } => {
            let wait = retry_after.unwrap_or(DEFAULT_RATE_LIMIT_RETRY);
            DeliveryOutcome::RetryAt(
                later(now, wait),
                format!("rate limited by Slack for {}s", wait.as_secs()),
            )
        }
        SlackApiError::Transient(e) => DeliveryOutcome::RetryAt(later(now, TRANSIENT_RETRY), e),
        SlackApiError::Rejected(e) => DeliveryOutcome::Rejected(e),
    }
}

impl SlackSender {
    async fn post(
        &self,
        message: &OutgoingMessage,
        channel: &str,
        thread_ts: Option<&str>,
    ) -> Result<Option<PostedRef>, SlackApiError> {
        let posted = self.api.post_message(channel, render::message(&message.body), thread_ts).await?;
        Ok(message.remember_as.as_ref().map(|key| PostedRef {
            platform: Platform::Slack,
            ref_key: key.clone(),
            channel: posted.channel,
            message_id: posted.ts,
        }))
    }
}

#[async_trait]
impl ChatSender for SlackSender {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    async fn deliver(
        &self,
        message: &OutgoingMessage,
        existing: Option<&PostedRef>,
        now: DateTime<Utc>,
    ) -> DeliveryOutcome {
        let result = match &message.target {
            Target::Channel { channel } => self.post(message, channel, None).await,
            // Posting to a user id opens (or reuses) the bot's DM with them.
            Target::User { user } => self.post(message, user, None).await,
            Target::Thread { channel, .. } => match existing {
                Some(parent) => self.post(message, &parent.channel, Some(&parent.message_id)).await,
                // The parent never made it: say it in the channel rather than lose it.
                None => self.post(message, channel, None).await,
            },
            Target::Replace { ref_key } => match existing {
                Some(posted) => {
                    let mut content = render::message(&message.body);
                    // chat.update keeps the old blocks (and their buttons) unless told otherwise.
                    content.blocks.get_or_insert_with(Vec::new);
                    self.api.update(&posted.channel, &posted.message_id, content).await.map(|()| None)
                }
                None => {
                    return DeliveryOutcome::RetryAt(
                        later(now, NOT_POSTED_RETRY),
                        format!("card not posted yet ({ref_key})"),
                    );
                }
            },
            Target::Ephemeral { channel, user } => {
                self.api.post_ephemeral(channel, user, render::message(&message.body)).await.map(|()| None)
            }
        };
        match result {
            Ok(posted) => DeliveryOutcome::Sent(posted),
            Err(e) => {
                tracing::warn!(target_kind = ?message.target, error = %e, "Slack delivery failed");
                outcome_of_error(e, now)
            }
        }
    }
}

#[cfg(test)]
#[path = "sender_tests.rs"]
mod tests;
