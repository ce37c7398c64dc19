//! The outbox as an operator asks about it (`pimbot outbox status`, and `pimbot check --online`
//! may use it too): how much waits and for how long, and which messages the chat platforms
//! refused for good recently. A refusal means someone never saw a card, a feed line or an alarm.

use std::fmt;

use chrono::{DateTime, Utc};

use super::refusal::{what, where_to};
use crate::core::Result;
use crate::core::outbox::RejectedMessage;
use crate::core::ports::Store;

/// Refusals listed at most.
pub const MAX_LISTED: i64 = 100;

/// What the outbox holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxStatus {
    /// Messages waiting to be delivered.
    pub waiting: i64,
    /// When the oldest waiting message was queued.
    pub oldest: Option<DateTime<Utc>>,
    /// The start of the refusal window.
    pub since: DateTime<Utc>,
    /// Messages refused for good since then, newest first (at most [`MAX_LISTED`]).
    pub refused: Vec<RejectedMessage>,
    /// When this was read.
    pub now: DateTime<Utc>,
}

impl OutboxStatus {
    /// Reads the status from `store` at `now`, refusals since `since`.
    pub async fn read(store: &dyn Store, since: DateTime<Utc>, now: DateTime<Utc>) -> Result<Self> {
        Ok(Self {
            waiting: store.outbox_depth().await?,
            oldest: store.outbox_oldest_pending().await?,
            since,
            refused: store.recent_rejections(since, MAX_LISTED).await?,
            now,
        })
    }

    /// Whether anything was refused in the window (the check fails).
    pub fn has_refusals(&self) -> bool {
        !self.refused.is_empty()
    }
}

impl fmt::Display for OutboxStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let age = self.oldest.map(|t| crate::core::duration::format_duration(self.now - t));
        match age {
            Some(age) => writeln!(f, "outbox: {} message(s) waiting, the oldest for {age}", self.waiting)?,
            None => writeln!(f, "outbox: nothing waiting")?,
        }
        let since = self.since.format("%Y-%m-%d %H:%M UTC");
        if self.refused.is_empty() {
            return writeln!(f, "refused since {since}: none");
        }
        writeln!(f, "REFUSED since {since}: {} message(s) never arrived", self.refused.len())?;
        for r in &self.refused {
            writeln!(
                f,
                "  {}  {:<8} {:<20} {} for {} (outbox row {}, order key {})",
                r.at.format("%Y-%m-%d %H:%M:%S"),
                r.message.platform.as_str(),
                r.reason,
                what(&r.message.body),
                where_to(&r.message.target),
                r.id,
                r.message.order_key,
            )?;
        }
        writeln!(f, "fix the channel ids, the bot's channel membership or its token, then check again")
    }
}
