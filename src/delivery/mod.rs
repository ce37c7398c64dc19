//! The outbox dispatcher: claims due rows, hands each to its platform's [`ChatSender`], and
//! records the outcome. Retries are scheduled in the database (exponential backoff with jitter,
//! never sooner than a `Retry-After`), so a crash or a chat outage delays messages but never
//! loses them. Rows with the same order key go out one at a time, in order.
//!
//! Crashes: every dispatcher has an id and writes a heartbeat every [`HEARTBEAT_EVERY`]; a row
//! claimed by a dispatcher silent for [`DISPATCHER_TIMEOUT`] (its process died) is taken over
//! at once instead of waiting for its lease, so a message claimed by a killed process goes out
//! within seconds of any survivor or restart. A clean stop retires the id, freeing its claims.
//!
//! Duplicates: a process killed after the platform took a message but before its outcome was
//! recorded leaves the row claimed. The claim that takes it over marks it in doubt, and the
//! sender finds the earlier post instead of posting again (Discord: the row id as `nonce` with
//! `enforce_nonce`; Slack: the row id in message metadata, looked up in the channel's history).
//! An attempt never outlives its lease ([`DELIVERY_BUDGET`]), so a live dispatcher's row is
//! never taken over mid-delivery.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use backon::{BackoffBuilder, ExponentialBuilder};
use chrono::{DateTime, Duration, Utc};

use crate::core::Result;
use crate::core::ids::Platform;
use crate::core::outbox::{DeliveryOutcome, OutboxItem, Target};
use crate::core::ports::{ChatSender, Clock, Commit, Store};
use crate::core::service::Channels;

pub mod refusal;
pub mod status;
use refusal::Refusals;

/// How long a claimed row is reserved for one dispatcher before another may take it, even while
/// that dispatcher's heartbeat goes on (a dead dispatcher's rows are taken over sooner).
pub const CLAIM_LEASE: Duration = Duration::seconds(60);
/// The longest one delivery attempt may take (lookups and post together); it ends well inside
/// the lease, so nobody else claims a row while its attempt is still running. An attempt cut
/// off here may have reached the platform, so the row is put back in doubt.
pub const DELIVERY_BUDGET: std::time::Duration = std::time::Duration::from_secs(45);
/// How often a dispatcher records that it is alive.
pub const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);
/// A dispatcher whose last heartbeat is this old is dead: its claims are taken over.
pub const DISPATCHER_TIMEOUT: Duration = Duration::seconds(10);
/// Rows claimed per round.
pub const CLAIM_BATCH: i64 = 64;
/// Least time between the starts of two claim rounds (see `Dispatcher::pace`): at most 200
/// claims a second, 12,800 rows a second at [`CLAIM_BATCH`].
pub const ROUND_GAP: std::time::Duration = std::time::Duration::from_millis(5);
/// How long a round's outcomes wait for the rest of the round before they are recorded.
pub const GATHER_OUTCOMES: std::time::Duration = std::time::Duration::from_millis(20);
/// An update or thread reply whose original message still is not posted after this many
/// attempts is given up (the original was refused by the platform; it will never appear).
pub const MAX_ORPHAN_ATTEMPTS: i32 = 12;
/// Longest wait between two attempts of one row.
pub const MAX_RETRY_DELAY: std::time::Duration = std::time::Duration::from_secs(300);

/// Delivers outbox rows.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    senders: HashMap<Platform, Arc<dyn ChatSender>>,
    id: String,
    registered: AtomicBool,
    /// When this dispatcher last recorded a heartbeat, by its clock (Unix milliseconds).
    last_beat: std::sync::atomic::AtomicI64,
    refusals: Refusals,
    /// When the latest claim round began (see [`Dispatcher::pace`]).
    last_claim: std::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Dispatcher {
    /// A dispatcher with one sender per enabled platform and a fresh random id.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, senders: Vec<Arc<dyn ChatSender>>) -> Self {
        let senders = senders.into_iter().map(|s| (s.platform(), s)).collect();
        let id = format!("d-{:032x}", rand::random::<u128>());
        Self {
            store,
            clock,
            senders,
            id,
            registered: AtomicBool::new(false),
            last_beat: std::sync::atomic::AtomicI64::new(i64::MIN),
            refusals: Refusals::default(),
            last_claim: std::sync::Mutex::new(None),
        }
    }

    /// Announces refusals on these platforms' channels and reroutes refused alarms (see
    /// [`refusal`]); without it refusals are only counted, logged and audited.
    pub fn with_channels(mut self, channels: Vec<Channels>) -> Self {
        self.refusals = Refusals::new(channels);
        self
    }

    /// This dispatcher's id (the `claimed_by` of its rows).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Records that this dispatcher is alive; the scheduler calls it every [`HEARTBEAT_EVERY`].
    pub async fn heartbeat(&self) -> Result<()> {
        self.heartbeat_at(self.clock.now()).await
    }

    /// Records a heartbeat at `now`.
    async fn heartbeat_at(&self, now: DateTime<Utc>) -> Result<()> {
        self.store.dispatcher_heartbeat(&self.id, now).await?;
        self.registered.store(true, Ordering::Relaxed);
        self.last_beat.store(now.timestamp_millis(), Ordering::Relaxed);
        Ok(())
    }

    /// Forgets this dispatcher after a clean stop: rows it still holds are free at once.
    pub async fn retire(&self) -> Result<()> {
        self.store.retire_dispatcher(&self.id).await
    }

    /// Delivers everything due now, round after round until a round claims nothing; returns
    /// how many rows were handled (delivered, rescheduled or rejected).
    pub async fn deliver_due(&self) -> Result<usize> {
        let mut handled = 0;
        loop {
            self.pace().await;
            // A claim before the first heartbeat would look like a dead dispatcher's to others;
            // so would one whose last beat is older than a beat period by this dispatcher's
            // clock (the heartbeat loop fell behind, or the clock moved on): beat first, then
            // claim. The beat and the claim read the clock once, so a clock that moves between
            // them cannot leave a claim newer than its dispatcher's last recorded beat.
            let now = self.clock.now();
            let beat_age = now.timestamp_millis().saturating_sub(self.last_beat.load(Ordering::Relaxed));
            if !self.registered.load(Ordering::Relaxed) || beat_age >= HEARTBEAT_EVERY.as_millis() as i64 {
                self.heartbeat_at(now).await?;
            }
            let alive_since = now - DISPATCHER_TIMEOUT;
            let items =
                self.store.claim_outbox_for(&self.id, alive_since, now, CLAIM_LEASE, CLAIM_BATCH).await?;
            if items.is_empty() {
                return Ok(handled);
            }
            handled += items.len();
            let claimed = items.len();
            // Rows in one claim never share an order key, so they may go out concurrently.
            // Outcomes are recorded in batches: the round's, gathered for up to
            // [`GATHER_OUTCOMES`] after the first; whatever finishes later goes in the next.
            let (done, mut outcomes) = tokio::sync::mpsc::unbounded_channel();
            for item in items {
                let (store, done) = (self.store.clone(), done.clone());
                let sender = self.senders.get(&item.message.platform).cloned();
                tokio::spawn(async move {
                    let finished = match deliver_one(&store, sender, &item, now).await {
                        Ok(finished) => finished,
                        // The row keeps its lease and is tried again when the lease ends.
                        Err(e) => {
                            return tracing::error!(outbox = item.id, error = %format!("{e:#}"), "preparing a delivery failed");
                        }
                    };
                    let _ = done.send((item, finished));
                });
            }
            drop(done);
            let mut batch = Vec::new();
            let mut left = claimed;
            while outcomes.recv_many(&mut batch, CLAIM_BATCH as usize).await > 0 {
                // The rest of the round usually finishes within moments of the first: wait a
                // little for it, so a round's outcomes are one transaction, not one each.
                let until = tokio::time::Instant::now() + GATHER_OUTCOMES;
                while batch.len() < left {
                    match tokio::time::timeout_at(until, outcomes.recv_many(&mut batch, CLAIM_BATCH as usize))
                        .await
                    {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {}
                    }
                }
                left = left.saturating_sub(batch.len());
                self.follow_refusals(&batch, now).await?;
                let finished: Vec<_> = batch.drain(..).map(|(item, outcome)| (item.id, outcome)).collect();
                self.store.finish_outbox(&finished).await?;
            }
        }
    }

    /// Waits until [`ROUND_GAP`] has passed since the previous claim began. An idle dispatcher
    /// claims at once; a busy one claims what a few milliseconds brought in one round, instead
    /// of one transaction a message.
    async fn pace(&self) {
        let last = *self.last_claim.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(last) = last {
            tokio::time::sleep_until(last + ROUND_GAP).await;
        }
        *self.last_claim.lock().unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(tokio::time::Instant::now());
    }
}

impl Dispatcher {
    /// Counts, audits and follows up the refusals among `finished` (see [`refusal`]), before
    /// their outcomes are recorded: if this fails, the rows stay claimed and are tried again,
    /// so a refusal is never recorded without its announcement.
    async fn follow_refusals(
        &self,
        finished: &[(OutboxItem, DeliveryOutcome)],
        now: DateTime<Utc>,
    ) -> Result<()> {
        let mut commit = Commit { at: Some(now), ..Commit::default() };
        for (item, outcome) in finished {
            let DeliveryOutcome::Rejected(reason) = outcome else { continue };
            let platform = item.message.platform;
            crate::metrics::chat_rejected(platform.as_str(), &refusal::reason_label(reason));
            let follow = self.refusals.follow_up(item, reason, now);
            commit.outbox.extend(follow.outbox);
            commit.audit.push(follow.audit);
        }
        if commit.audit.is_empty() {
            return Ok(());
        }
        self.store.commit(commit).await
    }
}

/// Delivers one row and says how its attempt ended (nothing is recorded here).
async fn deliver_one(
    store: &Arc<dyn Store>,
    sender: Option<Arc<dyn ChatSender>>,
    item: &OutboxItem,
    now: DateTime<Utc>,
) -> Result<DeliveryOutcome> {
    let Some(sender) = sender else {
        return Ok(DeliveryOutcome::Rejected("platform_disabled".into()));
    };
    let existing = match &item.message.target {
        Target::Replace { ref_key } | Target::Thread { parent: ref_key, .. } => {
            store.posted_ref(item.message.platform, ref_key).await?
        }
        Target::Channel { .. } | Target::User { .. } | Target::Ephemeral { .. } => None,
    };
    if existing.is_none()
        && matches!(item.message.target, Target::Replace { .. })
        && item.attempts >= MAX_ORPHAN_ATTEMPTS
    {
        tracing::error!(outbox = item.id, "giving up an update of a message that was never posted");
        return Ok(DeliveryOutcome::Rejected("original_missing".into()));
    }
    let attempt = tokio::time::timeout(DELIVERY_BUDGET, sender.deliver(item, existing.as_ref(), now)).await;
    let outcome = attempt.unwrap_or_else(|_| {
        DeliveryOutcome::Unconfirmed(now, format!("delivery took longer than {DELIVERY_BUDGET:?}"))
    });
    Ok(match outcome {
        sent @ DeliveryOutcome::Sent(_) => sent,
        DeliveryOutcome::RetryAt(at, why) => {
            let due = at.max(now + backoff(item.attempts));
            tracing::warn!(outbox = item.id, attempts = item.attempts + 1, retry_at = %due, reason = %why, "chat delivery postponed");
            DeliveryOutcome::RetryAt(due, why)
        }
        DeliveryOutcome::Unconfirmed(at, why) => {
            let due = at.max(now + backoff(item.attempts));
            tracing::warn!(outbox = item.id, attempts = item.attempts + 1, retry_at = %due, reason = %why, "chat delivery unconfirmed; the retry looks for the first post before posting");
            DeliveryOutcome::Unconfirmed(due, why)
        }
        DeliveryOutcome::Rejected(why) => {
            tracing::error!(outbox = item.id, platform = %item.message.platform, reason = %why, "chat platform rejected a message for good");
            DeliveryOutcome::Rejected(why)
        }
    })
}

/// The wait before attempt `attempts + 1`: exponential from 1 s with jitter, capped.
pub fn backoff(attempts: i32) -> Duration {
    let mut delays = ExponentialBuilder::default()
        .with_min_delay(std::time::Duration::from_secs(1))
        .with_max_delay(MAX_RETRY_DELAY)
        .with_jitter()
        .without_max_times()
        .build();
    let delay = delays.nth(attempts.clamp(0, 30) as usize).unwrap_or(MAX_RETRY_DELAY);
    Duration::from_std(delay).unwrap_or(Duration::seconds(300))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_ends_inside_its_lease_and_a_dead_dispatcher_is_noticed_quickly() {
        let lease = CLAIM_LEASE.to_std().expect("positive");
        assert!(DELIVERY_BUDGET < lease);
        // A slow post (one call timeout) plus a lookup fit in an attempt.
        assert!(DELIVERY_BUDGET >= 3 * crate::slack::client::CALL_TIMEOUT);
        let timeout = DISPATCHER_TIMEOUT.to_std().expect("positive");
        assert!(timeout >= 4 * HEARTBEAT_EVERY, "a missed beat or two is not death");
        assert!(timeout <= std::time::Duration::from_secs(10));
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert!(backoff(0) >= Duration::seconds(1) && backoff(0) <= Duration::seconds(2));
        assert!(backoff(3) >= Duration::seconds(8));
        assert!(backoff(30) <= Duration::seconds(600));
    }
}
