//! Publishing signed checkpoints of the audit chain: when enough events or enough time have
//! passed since the last one, sign the head and record it with its feed line in one
//! transaction. The sinks carry it out of the database from there (see the `audit` module).

use chrono::{DateTime, Duration, Utc};

use super::AccessService;
use super::messages;
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::checkpoint::{Checkpoint, CheckpointSigner};
use crate::core::error::Result;
use crate::core::ports::Commit;

/// Order key of the checkpoint feed lines (they go out in the order they were signed).
pub const CHECKPOINT_ORDER_KEY: &str = "audit:checkpoints";

/// When checkpoints are due and who signs them (`[audit]`).
#[derive(Debug, Clone)]
pub struct CheckpointPolicy {
    /// Signs them.
    pub signer: CheckpointSigner,
    /// A checkpoint once this many events were appended since the last one.
    pub every_events: u64,
    /// A checkpoint once this much time passed since the last one (when events were appended).
    pub every: Duration,
}

impl AccessService {
    /// Signs and records a checkpoint of the chain head if one is due: `every_events` events
    /// or `every` since the last checkpoint (or since `since` when there is none yet), and
    /// only when the head moved. Returns the checkpoint when this call made it; `None` when
    /// nothing was due or another replica signed that position first.
    pub async fn checkpoint_if_due(
        &self,
        policy: &CheckpointPolicy,
        since: DateTime<Utc>,
    ) -> Result<Option<Checkpoint>> {
        let now = self.clock.now();
        let Some((seq, link)) = self.store.audit_head().await? else { return Ok(None) };
        let last = self.store.latest_checkpoint().await?;
        let (last_seq, last_at) = last.as_ref().map_or((0, since), |c| (c.seq, c.at));
        if seq < last_seq {
            // The head is behind a position already signed: the chain was rolled back.
            tracing::error!(
                head = seq,
                checkpoint = last_seq,
                "the audit head is behind the latest checkpoint: the chain was truncated or rolled back; \
                 run `pimbot audit verify --checkpoints` against a sink's copy"
            );
            return Ok(None);
        }
        let new_events = (seq - last_seq) as u64;
        if new_events == 0 || (new_events < policy.every_events && now - last_at < policy.every) {
            return Ok(None);
        }
        let checkpoint = policy.signer.sign(seq, &link, now);
        let feed = messages::feed(&self.channels, CHECKPOINT_ORDER_KEY, &checkpoint.feed_line());
        let feed_queued = !feed.is_empty();
        if !self.store.record_checkpoint(&checkpoint, &feed).await? {
            return Ok(None);
        }
        if feed_queued {
            self.outbox_kick.notify_one();
        }
        Ok(Some(checkpoint))
    }
}

impl AccessService {
    /// Marks where records linked with `key_id` begin when the newest record was linked
    /// otherwise (the first start after the upgrade to a keyed chain, or after a key rotation):
    /// an `audit.segment_started` record naming both key ids. Its link is computed over the
    /// previous head, so the keyed segment commits to the chain before it. Returns whether a
    /// record was appended; an empty chain needs none.
    pub async fn start_audit_segment(&self, key_id: &str) -> Result<bool> {
        let Some((seq, _)) = self.store.audit_head().await? else { return Ok(false) };
        if seq == 0 {
            return Ok(false);
        }
        let previous = self.store.audit_page(seq - 1, None, 1).await?.pop();
        let previous_key = previous.as_ref().map(|r| r.key_id.clone()).unwrap_or_default();
        if previous_key == key_id {
            return Ok(false);
        }
        let detail = serde_json::json!({
            "key_id": key_id,
            "previous_key_id": previous_key,
            "previous_seq": seq,
        });
        let event = AuditEvent::new(
            self.clock.now(),
            Actor::System,
            EventKind::AuditSegmentStarted,
            None,
            None,
            detail,
        );
        self.commit(Commit { audit: vec![event], ..Commit::default() }).await?;
        Ok(true)
    }
}
