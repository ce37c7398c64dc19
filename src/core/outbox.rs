//! Outgoing chat messages as they are queued in the outbox: where each goes and in what order.
//! Delivery (rendering, HTTP, retries) belongs to the `delivery` module, not here.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ids::Platform;
use super::view::MessageBody;

/// Where a message goes on its platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "to", rename_all = "snake_case")]
pub enum Target {
    /// A new message in a channel.
    Channel {
        /// Channel id.
        channel: String,
    },
    /// A direct message to a user.
    User {
        /// User id on the platform.
        user: String,
    },
    /// A reply in the thread of an earlier message remembered under `parent`.
    Thread {
        /// Channel of the parent.
        channel: String,
        /// Reference key of the parent message.
        parent: String,
    },
    /// Replace an earlier message remembered under `ref_key` in place.
    Replace {
        /// Reference key of the message to update.
        ref_key: String,
    },
    /// A message only `user` sees, in `channel`.
    Ephemeral {
        /// Channel id.
        channel: String,
        /// User id.
        user: String,
    },
}

/// A message waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutgoingMessage {
    /// Which platform delivers it.
    pub platform: Platform,
    /// Where.
    pub target: Target,
    /// What.
    pub body: MessageBody,
    /// Messages with the same key are delivered in the order they were queued.
    pub order_key: String,
    /// Remember the posted message under this key so later messages can update or thread on it.
    pub remember_as: Option<String>,
}

/// An outbox row claimed for delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Row id (delivery order). Senders hand it to the platform as an idempotency key (Discord
    /// `nonce`, Slack message metadata), so a repeated attempt can find its first post.
    pub id: i64,
    /// The message.
    pub message: OutgoingMessage,
    /// Failed attempts so far.
    pub attempts: i32,
    /// When the row was queued (a lookup for an earlier post starts there).
    pub created_at: DateTime<Utc>,
    /// An earlier attempt may have reached the platform without its outcome being recorded (a
    /// claim that lapsed after a crash, a timeout): look for that post before posting again.
    pub in_doubt: bool,
}

impl OutboxItem {
    /// A row attempted for the first time (tests and tools that deliver without a store).
    pub fn fresh(id: i64, message: OutgoingMessage, created_at: DateTime<Utc>) -> Self {
        Self { id, message, attempts: 0, created_at, in_doubt: false }
    }
}

/// A message the platform accepted, remembered for updates and threads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostedRef {
    /// Platform.
    pub platform: Platform,
    /// Reference key (`card:r-1a2b3c4d`).
    pub ref_key: String,
    /// Channel the message is in.
    pub channel: String,
    /// The platform's message id (Slack `ts`, Discord message id).
    pub message_id: String,
}

/// What happened to one delivery attempt: decided by the delivering adapter, then recorded in
/// the outbox by the dispatcher (which may put a retry off further, for backoff).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Delivered; remember this message if it was asked for.
    Sent(Option<PostedRef>),
    /// Try again no earlier than this moment (rate limit or transient failure); the platform
    /// certainly did not take the message.
    RetryAt(DateTime<Utc>, String),
    /// Try again no earlier than this moment, but the platform may have taken the message (a
    /// timeout, a dropped connection, an unreadable answer): the row is then in doubt.
    Unconfirmed(DateTime<Utc>, String),
    /// The platform refused it for good (bad channel, missing scope); give up and log loudly.
    /// The text is the refusal's short reason code (`channel_not_found`, `unknown_channel`,
    /// `http_403`), which also labels `pimbot_chat_rejected_total`.
    Rejected(String),
}

/// A message the platform refused for good, as `pimbot outbox status` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedMessage {
    /// Outbox row id.
    pub id: i64,
    /// The message that did not arrive.
    pub message: OutgoingMessage,
    /// The refusal's reason code.
    pub reason: String,
    /// When it was refused.
    pub at: DateTime<Utc>,
}
