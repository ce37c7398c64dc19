//! The outbox's Teams delivery: renders a message, sends it through the [`Connector`] to the
//! conversation its [`Target`] names, and classifies the result as sent, retry-later or rejected.
//!
//! Target mapping:
//! - `Channel` → a new thread in the channel (`POST v3/conversations` with `channelData.channel`),
//!   remembered as the thread's conversation id and root activity id.
//! - `Thread` → a reply in the parent's thread (`POST v3/conversations/{thread}/activities`).
//! - `Replace` → `PUT v3/conversations/{thread}/activities/{id}`: the card changes for everyone.
//! - `User` and `Ephemeral` → the user's personal chat (Teams has no ephemeral messages in
//!   channels): the one learned from their messages, else opened with their `29:` id.
//!
//! The Connector base is the `serviceUrl` last seen for the channel or user (inbound activities
//! record it), else `[teams] service_url`.
//!
//! In doubt: a `POST` whose outcome is unknown (timeout or dropped connection after sending)
//! is [`DeliveryOutcome::Unconfirmed`]. The Bot Framework offers no idempotency key and no way
//! to list a conversation's activities, so the retry posts again and may show twice; it is
//! logged and counted in `pimbot_chat_reposts_in_doubt_total{platform="teams"}`.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::client::{Connector, ConnectorError};
use super::render;
use crate::core::ids::Platform;
use crate::core::outbox::{DeliveryOutcome, OutboxItem, OutgoingMessage, PostedRef, Target};
use crate::core::ports::{ChatSender, ConversationRef, Store};
use crate::core::view::MessageBody;

/// Wait after a transient failure.
pub const TRANSIENT_RETRY: std::time::Duration = std::time::Duration::from_secs(2);
/// Wait after a 429 that did not say how long.
pub const DEFAULT_RATE_LIMIT_RETRY: std::time::Duration = std::time::Duration::from_secs(5);
/// Wait when a `Replace` arrives before the message it replaces was posted.
pub const NOT_POSTED_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// The display name of a mentioned Entra object id.
pub type NameOf = Arc<dyn Fn(&str) -> String + Send + Sync>;

/// Delivers outbox messages to Teams.
pub struct TeamsSender {
    connector: Arc<Connector>,
    store: Arc<dyn Store>,
    default_service_url: String,
    name_of: NameOf,
    alert_tag: Option<render::Tag>,
}

/// The store key of a user's conversation reference.
pub fn user_key(object_id: &str) -> String {
    format!("user:{}", object_id.to_ascii_lowercase())
}

/// The store key of a channel's conversation reference.
pub fn channel_key(channel: &str) -> String {
    format!("channel:{}", channel_of(channel))
}

/// The channel of a thread conversation id (`<channel>;messageid=<root>`).
pub fn channel_of(conversation: &str) -> &str {
    conversation.split_once(";messageid=").map_or(conversation, |(c, _)| c)
}

fn later(now: DateTime<Utc>, wait: std::time::Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(wait).unwrap_or(chrono::Duration::seconds(30))
}

/// Turns a failed call into the dispatcher's outcome.
pub fn outcome_of_error(err: ConnectorError, now: DateTime<Utc>) -> DeliveryOutcome {
    match err {
        ConnectorError::RateLimited { retry_after } => {
            let wait = retry_after.unwrap_or(DEFAULT_RATE_LIMIT_RETRY);
            DeliveryOutcome::RetryAt(later(now, wait), format!("rate limited by Teams for {wait:?}"))
        }
        ConnectorError::Transient(e) => DeliveryOutcome::RetryAt(later(now, TRANSIENT_RETRY), e),
        ConnectorError::Unconfirmed(e) => DeliveryOutcome::Unconfirmed(later(now, TRANSIENT_RETRY), e),
        ConnectorError::Rejected(e) => DeliveryOutcome::Rejected(e),
    }
}

impl TeamsSender {
    /// A sender through `connector`, reading conversation references from `store`.
    pub fn new(
        connector: Arc<Connector>,
        store: Arc<dyn Store>,
        default_service_url: &str,
        name_of: NameOf,
    ) -> Self {
        Self {
            connector,
            store,
            default_service_url: default_service_url.to_owned(),
            name_of,
            alert_tag: None,
        }
    }

    /// Alarm pages @mention `tag` (the alert channel's on-call tag) while they are open.
    pub fn with_alert_tag(mut self, tag: Option<render::Tag>) -> Self {
        self.alert_tag = tag;
        self
    }

    async fn service_url(&self, key: &str) -> String {
        match self.store.conversation_ref(key).await {
            Ok(Some(c)) => c.service_url,
            Ok(None) => self.default_service_url.clone(),
            Err(e) => {
                tracing::warn!(error = %e, "reading a Teams conversation; using the default service URL");
                self.default_service_url.clone()
            }
        }
    }

    /// The user's personal chat and its service URL, opened if only their `29:` id is known.
    async fn personal(
        &self,
        object_id: &str,
        now: DateTime<Utc>,
    ) -> Result<(String, String), ConnectorError> {
        let key = user_key(object_id);
        let known =
            self.store.conversation_ref(&key).await.map_err(|e| ConnectorError::Transient(e.to_string()))?;
        let Some(known) = known else {
            return Err(ConnectorError::Rejected(format!(
                "pimbot has not talked with Teams user {object_id} yet; they must message the bot once"
            )));
        };
        if let Some(conversation) = &known.conversation_id {
            return Ok((known.service_url, conversation.clone()));
        }
        let user_id = known
            .user_id
            .clone()
            .ok_or_else(|| ConnectorError::Rejected(format!("no Teams id known for user {object_id}")))?;
        let conversation = self.connector.open_personal(&known.service_url, &user_id).await?;
        let learned =
            ConversationRef { conversation_id: Some(conversation.clone()), updated_at: now, ..known.clone() };
        if let Err(e) = self.store.remember_conversation(&learned).await {
            tracing::warn!(error = %e, "could not remember a personal Teams chat; it is opened again next time");
        }
        Ok((known.service_url, conversation))
    }

    async fn post_channel(
        &self,
        message: &OutgoingMessage,
        channel: &str,
        activity: &serde_json::Value,
    ) -> Result<Option<PostedRef>, ConnectorError> {
        let service = self.service_url(&channel_key(channel)).await;
        let (thread, id) = self.connector.start_thread(&service, channel, activity).await?;
        Ok(message.remember_as.as_ref().map(|key| PostedRef {
            platform: Platform::Teams,
            ref_key: key.clone(),
            channel: thread,
            message_id: id,
        }))
    }

    async fn try_deliver(
        &self,
        message: &OutgoingMessage,
        existing: Option<&PostedRef>,
        now: DateTime<Utc>,
    ) -> Result<DeliveryOutcome, ConnectorError> {
        let activity = match &message.body {
            MessageBody::Alarm(view) => {
                render::card_activity(render::alarm_card_paging(view, self.alert_tag.as_ref()))
            }
            body => render::activity(body, &*self.name_of),
        };
        let posted = match &message.target {
            Target::Channel { channel } => self.post_channel(message, channel, &activity).await?,
            Target::Thread { channel, .. } => match existing {
                Some(parent) => {
                    let service = self.service_url(&channel_key(&parent.channel)).await;
                    self.connector.send(&service, &parent.channel, &activity).await?;
                    None
                }
                // The parent never made it: say it in the channel rather than lose it.
                None => self.post_channel(message, channel, &activity).await?,
            },
            Target::Replace { ref_key } => match existing {
                Some(posted) => {
                    let service = self.service_url(&channel_key(&posted.channel)).await;
                    self.connector.update(&service, &posted.channel, &posted.message_id, &activity).await?;
                    None
                }
                None => {
                    return Ok(DeliveryOutcome::RetryAt(
                        later(now, NOT_POSTED_RETRY),
                        format!("card not posted yet ({ref_key})"),
                    ));
                }
            },
            Target::User { user } | Target::Ephemeral { user, .. } => {
                let (service, conversation) = self.personal(user, now).await?;
                let id = self.connector.send(&service, &conversation, &activity).await?;
                message.remember_as.as_ref().map(|key| PostedRef {
                    platform: Platform::Teams,
                    ref_key: key.clone(),
                    channel: conversation,
                    message_id: id,
                })
            }
        };
        Ok(DeliveryOutcome::Sent(posted))
    }
}

#[async_trait]
impl ChatSender for TeamsSender {
    fn platform(&self) -> Platform {
        Platform::Teams
    }

    async fn deliver(
        &self,
        item: &OutboxItem,
        existing: Option<&PostedRef>,
        now: DateTime<Utc>,
    ) -> DeliveryOutcome {
        let message = &item.message;
        match self.try_deliver(message, existing, now).await {
            // The Bot Framework takes no idempotency key and cannot list a conversation's
            // activities, so an earlier attempt that may have landed cannot be found: the row
            // was posted again (a lost alarm or card is worse than a double one); say so. A
            // `PUT` is idempotent and needs no such care.
            Ok(DeliveryOutcome::Sent(posted))
                if item.in_doubt && !matches!(message.target, Target::Replace { .. }) =>
            {
                tracing::warn!(
                    outbox = item.id,
                    target_kind = ?message.target,
                    "Teams post in doubt was posted again; it may show twice"
                );
                crate::metrics::chat_reposted_in_doubt("teams");
                DeliveryOutcome::Sent(posted)
            }
            Ok(outcome) => outcome,
            Err(e) => {
                tracing::warn!(target_kind = ?message.target, error = %e, "Teams delivery failed");
                outcome_of_error(e, now)
            }
        }
    }
}
