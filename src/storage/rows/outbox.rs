//! Outbox rows: a claimed `outbox` message, a refused one, and the `posted_refs` that remember
//! where a message landed. A row whose platform disagrees with its payload is an error.

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Utc};

use crate::core::ids::Platform;
use crate::core::outbox::{OutboxItem, OutgoingMessage, PostedRef, RejectedMessage};

/// An `outbox` row as claimed.
#[derive(Debug, sqlx::FromRow)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// Platform name.
    pub platform: String,
    /// JSON of the message.
    pub message: String,
    /// Failed attempts.
    pub attempts: i32,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// Whether an earlier attempt may have reached the platform.
    pub in_doubt: bool,
}

impl TryFrom<OutboxRow> for OutboxItem {
    type Error = anyhow::Error;

    fn try_from(row: OutboxRow) -> anyhow::Result<Self> {
        let ctx = || format!("outbox row {} in the database is inconsistent", row.id);
        let message: OutgoingMessage = serde_json::from_str(&row.message).with_context(ctx)?;
        if message.platform.as_str() != row.platform {
            bail!("{}: platform column {:?} but message for {}", ctx(), row.platform, message.platform);
        }
        Ok(OutboxItem {
            id: row.id,
            message,
            attempts: row.attempts,
            created_at: row.created_at,
            in_doubt: row.in_doubt,
        })
    }
}

/// A refused `outbox` row.
#[derive(Debug, sqlx::FromRow)]
pub struct RejectedRow {
    /// Row id.
    pub id: i64,
    /// Platform name.
    pub platform: String,
    /// JSON of the message.
    pub message: String,
    /// The refusal's reason.
    pub last_error: Option<String>,
    /// When it was refused.
    pub rejected_at: Option<DateTime<Utc>>,
}

impl TryFrom<RejectedRow> for RejectedMessage {
    type Error = anyhow::Error;

    fn try_from(row: RejectedRow) -> anyhow::Result<Self> {
        let message: OutgoingMessage = serde_json::from_str(&row.message)
            .with_context(|| format!("outbox row {} in the database is inconsistent", row.id))?;
        let at = row.rejected_at.ok_or_else(|| anyhow!("refused outbox row {} has no time", row.id))?;
        Ok(RejectedMessage { id: row.id, message, reason: row.last_error.unwrap_or_default(), at })
    }
}

/// A `posted_refs` row.
#[derive(Debug, sqlx::FromRow)]
pub struct PostedRefRow {
    /// Platform name.
    pub platform: String,
    /// Reference key.
    pub ref_key: String,
    /// Channel.
    pub channel: String,
    /// Platform message id.
    pub message_id: String,
}

impl TryFrom<PostedRefRow> for PostedRef {
    type Error = anyhow::Error;

    fn try_from(row: PostedRefRow) -> anyhow::Result<Self> {
        let platform = Platform::parse(&row.platform)
            .ok_or_else(|| anyhow!("posted ref {:?} has unknown platform {:?}", row.ref_key, row.platform))?;
        Ok(PostedRef { platform, ref_key: row.ref_key, channel: row.channel, message_id: row.message_id })
    }
}
