//! The outbox's Slack delivery: renders a message, sends it to the right Web API method for its
//! [`Target`], and classifies the result as sent, retry-later or rejected for good.
//!
//! Every post carries metadata naming its outbox row, and a row in doubt (an earlier attempt
//! may have landed) is looked for before it is posted again ([`super::lookup`]).
//!
//! Stateless on purpose: transient failures come back as a short fixed delay
//! ([`TRANSIENT_RETRY`]); the dispatcher owns attempt counting and any backoff on top.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::client::{Posted, SlackApi, SlackApiError};
use super::render;
use crate::core::ids::Platform;
use crate::core::outbox::{DeliveryOutcome, OutboxItem, PostedRef, Target};
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
    /// Posts the row's message with metadata naming the row. A row in doubt is first looked
    /// for (see [`super::lookup`]): found, it is adopted as if just posted.
    async fn post(
        &self,
        item: &OutboxItem,
        channel: &str,
        thread_ts: Option<&str>,
    ) -> Result<Option<PostedRef>, SlackApiError> {
        let message = &item.message;
        let earlier = if item.in_doubt { self.find_earlier(item, channel, thread_ts).await? } else { None };
        let posted = match earlier {
            Some(posted) => posted,
            None => {
                let content = render::message(&message.body)
                    .with_metadata(super::lookup::outbox_metadata(item.id, item.created_at));
                self.api.post_message(channel, content, thread_ts).await?
            }
        };
        Ok(message.remember_as.as_ref().map(|key| PostedRef {
            platform: Platform::Slack,
            ref_key: key.clone(),
            channel: posted.channel,
            message_id: posted.ts,
        }))
    }

    /// The earlier post of a row in doubt. When Slack refuses the lookup itself (a missing
    /// history scope, an archived channel), the row is posted again: a possible duplicate
    /// is better than a message that never arrives.
    async fn find_earlier(
        &self,
        item: &OutboxItem,
        channel: &str,
        thread_ts: Option<&str>,
    ) -> Result<Option<Posted>, SlackApiError> {
        match self.api.find_posted(channel, thread_ts, item.id, item.created_at).await {
            Ok(Some(posted)) => {
                tracing::info!(outbox = item.id, ts = %posted.ts, "found the earlier post of a message in doubt; not posting again");
                Ok(Some(posted))
            }
            Ok(None) => Ok(None),
            Err(SlackApiError::Rejected(code)) => {
                tracing::warn!(outbox = item.id, %code, "cannot look for an earlier post (check the history scopes); posting again");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl ChatSender for SlackSender {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    async fn deliver(
        &self,
        item: &OutboxItem,
        existing: Option<&PostedRef>,
        now: DateTime<Utc>,
    ) -> DeliveryOutcome {
        let message = &item.message;
        let posts =
            matches!(message.target, Target::Channel { .. } | Target::User { .. } | Target::Thread { .. });
        let result = match &message.target {
            Target::Channel { channel } => self.post(item, channel, None).await,
            // Posting to a user id opens (or reuses) the bot's DM with them.
            Target::User { user } => self.post(item, user, None).await,
            Target::Thread { channel, .. } => match existing {
                Some(parent) => self.post(item, &parent.channel, Some(&parent.message_id)).await,
                // The parent never made it: say it in the channel rather than lose it.
                None => self.post(item, channel, None).await,
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
                tracing::warn!(outbox = item.id, target_kind = ?message.target, error = %e, "Slack delivery failed");
                // A post cut off by a timeout, a dropped connection or a 5xx may have landed.
                let maybe_taken = posts && matches!(e, SlackApiError::Transient(_));
                match outcome_of_error(e, now) {
                    DeliveryOutcome::RetryAt(at, why) if maybe_taken => DeliveryOutcome::Unconfirmed(at, why),
                    other => other,
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "sender_tests.rs"]
mod tests;
