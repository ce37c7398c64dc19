//! One sink's feed: claim its cursor, read the next records and checkpoints, hand them to the
//! sink as JSON lines, and move the cursor only once the sink took them. A failure puts the
//! sink off (exponential backoff with jitter, never sooner than `Retry-After`) and releases
//! it; the same lines are offered again then, so nothing is skipped and order is kept.

use std::sync::Arc;

use chrono::Duration;

use super::{AuditSink, SinkFailure};
use crate::core::checkpoint::SinkLine;
use crate::core::error::Result;
use crate::core::ports::{Clock, Store};

/// How long a claimed sink is reserved for one replica.
pub const SINK_LEASE: Duration = Duration::seconds(120);
/// After this many failed attempts in a row, failures are logged as errors, not warnings.
pub const LOUD_AFTER_ATTEMPTS: i32 = 3;

/// What one round did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pumped {
    /// Not due (backing off), held by another replica, or nothing new.
    Idle,
    /// Lines delivered; `full` when the batch was full (more may be waiting).
    Delivered {
        /// Lines delivered.
        lines: usize,
        /// Whether the batch was full.
        full: bool,
    },
    /// The sink failed; retried later.
    Postponed,
}

/// Feeds one sink from its cursor.
pub struct SinkPump {
    name: String,
    sink: Arc<dyn AuditSink>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
}

impl SinkPump {
    /// A pump for the sink whose cursor is `name`.
    pub fn new(name: String, sink: Arc<dyn AuditSink>, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self { name, sink, store, clock }
    }

    /// The cursor name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// One round: at most one batch.
    pub async fn pump_once(&self) -> Result<Pumped> {
        let now = self.clock.now();
        let Some(cursor) = self.store.claim_sink(&self.name, now, SINK_LEASE).await? else {
            return Ok(Pumped::Idle);
        };
        let batch = self.sink.batch().max(1);
        let records = self.store.audit_page(cursor.event_seq, None, batch as i64).await?;
        let up_to = records.last().map_or(cursor.event_seq, |r| r.seq);
        let checkpoints = self.store.checkpoints_between(cursor.checkpoint_seq, up_to, batch as i64).await?;
        // A checkpoint follows the record it signs; ones signing records delivered earlier go
        // first. Lines beyond the batch wait for the next round.
        let mut lines = Vec::with_capacity(batch);
        let (mut event_seq, mut checkpoint_seq) = (cursor.event_seq, cursor.checkpoint_seq);
        let mut pending = checkpoints.into_iter().peekable();
        let mut records = records.into_iter().peekable();
        while lines.len() < batch {
            let next_is_checkpoint = match (pending.peek(), records.peek()) {
                (Some(cp), Some(r)) => cp.seq < r.seq,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (None, None) => break,
            };
            let line = if next_is_checkpoint {
                let Some(cp) = pending.next() else { break };
                checkpoint_seq = cp.seq;
                SinkLine::Checkpoint(cp)
            } else {
                let Some(r) = records.next() else { break };
                event_seq = r.seq;
                SinkLine::Event(r)
            };
            lines.push(serde_json::to_string(&line).map_err(anyhow::Error::new)?);
        }
        if lines.is_empty() {
            self.store.advance_sink(&self.name, event_seq, checkpoint_seq).await?;
            return Ok(Pumped::Idle);
        }
        match self.sink.deliver(&lines).await {
            Ok(()) => {
                self.store.advance_sink(&self.name, event_seq, checkpoint_seq).await?;
                Ok(Pumped::Delivered { lines: lines.len(), full: lines.len() == batch })
            }
            Err(SinkFailure { reason, retry_after }) => {
                let wait = crate::delivery::backoff(cursor.attempts);
                let asked = retry_after.and_then(|d| Duration::from_std(d).ok()).unwrap_or_default();
                let due = now + wait.max(asked);
                let attempts = cursor.attempts + 1;
                if attempts >= LOUD_AFTER_ATTEMPTS {
                    tracing::error!(sink = %self.name, attempts, retry_at = %due, from_seq = cursor.event_seq + 1, %reason, "audit sink keeps failing; lines are kept and retried");
                } else {
                    tracing::warn!(sink = %self.name, attempts, retry_at = %due, %reason, "audit sink failed; retrying");
                }
                self.store.postpone_sink(&self.name, due, &reason).await?;
                Ok(Pumped::Postponed)
            }
        }
    }

    /// Rounds until nothing is left or the sink fails (tests and the demo).
    pub async fn drain(&self) -> Result<usize> {
        let mut total = 0;
        loop {
            match self.pump_once().await? {
                Pumped::Delivered { lines, .. } => total += lines,
                Pumped::Idle | Pumped::Postponed => return Ok(total),
            }
        }
    }
}
