//! The [`Store`] port: durable state, one short transaction per method, and the small row types
//! its reads answer with (metrics gauge counts, audit sink cursors, Teams conversation refs).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::{Commit, EligibilityRemoval};
use crate::core::alarm::Alarm;
use crate::core::audit::AuditRecord;
use crate::core::checkpoint::Checkpoint;
use crate::core::error::Result;
use crate::core::identity::{AuthState, IdentityLink};
use crate::core::ids::{AlarmId, ChatUser, GrantId, PersonId, Platform, RequestId, RoleKey};
use crate::core::outbox::{DeliveryOutcome, OutboxItem, OutgoingMessage, PostedRef};
use crate::core::renewal::EligibilityExtension;
use crate::core::request::{AccessRequest, Grant};
use crate::core::reviews::{Campaign, ReviewItem};

/// Durable state. Every method is one short transaction; `commit` is the only writer of
/// requests, grants and audit events.
#[async_trait]
pub trait Store: Send + Sync {
    /// Applies a commit atomically.
    async fn commit(&self, commit: Commit) -> Result<()>;
    /// A request with its approvals.
    async fn request(&self, id: &RequestId) -> Result<Option<AccessRequest>>;
    /// A person's pending, approved and active requests, newest first.
    async fn open_requests_for(&self, person: &PersonId) -> Result<Vec<AccessRequest>>;
    /// Requests attached to a grant that are still active.
    async fn active_requests_of_grant(&self, grant: &GrantId) -> Result<Vec<AccessRequest>>;
    /// A grant by id.
    async fn grant(&self, id: &GrantId) -> Result<Option<Grant>>;
    /// The open grant of a person for a role.
    async fn open_grant(&self, person: &PersonId, role: &RoleKey) -> Result<Option<Grant>>;
    /// A person's open grants, ending soonest first.
    async fn open_grants_for(&self, person: &PersonId) -> Result<Vec<Grant>>;
    /// Every open grant, ending soonest first, at most `limit` (reconciliation with the directory).
    async fn open_grants(&self, limit: i64) -> Result<Vec<Grant>>;
    /// Open grants whose end is at or before `now`, soonest first, at most `limit`.
    async fn due_grants(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Grant>>;
    /// Pending requests whose next SLA step is due, and requests whose step-up window
    /// (`awaiting_mfa`) closed, at most `limit`.
    async fn due_nudges(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<AccessRequest>>;
    /// Approved requests still waiting for their grant, oldest first, at most `limit`.
    async fn approved_requests(&self, limit: i64) -> Result<Vec<AccessRequest>>;
    /// Pending and approved requests (not yet active), oldest first, at most `limit`.
    async fn requests_in_flight(&self, limit: i64) -> Result<Vec<AccessRequest>>;
    /// Open grants still `granting` whose request is no longer approved (cancelled, revoked,
    /// failed) and whose activation lease has run out at `now`: their assignment may exist and
    /// must be removed. At most `limit`, oldest first.
    async fn withdrawn_grants(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Grant>>;
    /// Records that a signed request with `key` was handled, until `until`; answers false when
    /// the key was already recorded and has not expired (a replay). Decided by the database's
    /// unique key, so two replicas never both accept the same request.
    async fn remember_request(&self, key: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool>;
    /// Whether `key` is recorded and unexpired at `now` (a read; the record itself decides).
    async fn seen_request(&self, key: &str, now: DateTime<Utc>) -> Result<bool>;
    /// Forgets request keys that expired before `now`; returns how many went.
    async fn prune_seen_requests(&self, now: DateTime<Utc>) -> Result<u64>;
    /// Claims due outbox rows for `lease`: rows are handed to one claimer at a time, in id
    /// order, and never a row while an earlier row with the same order key is undelivered.
    async fn claim_outbox(&self, now: DateTime<Utc>, lease: Duration, limit: i64) -> Result<Vec<OutboxItem>>;
    /// Claims like [`Store::claim_outbox`], on behalf of `dispatcher`, which keeps its claims
    /// alive with [`Store::dispatcher_heartbeat`]. A row claimed by another dispatcher whose
    /// last heartbeat is older than `alive_since` (the process died) is taken over at once,
    /// without waiting for its lease; like a row whose lease ran out, it comes back in doubt.
    async fn claim_outbox_for(
        &self,
        dispatcher: &str,
        alive_since: DateTime<Utc>,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<OutboxItem>>;
    /// Records that `dispatcher` is alive at `at`.
    async fn dispatcher_heartbeat(&self, dispatcher: &str, at: DateTime<Utc>) -> Result<()>;
    /// Forgets `dispatcher` (it stopped cleanly): its remaining claims are free at once.
    async fn retire_dispatcher(&self, dispatcher: &str) -> Result<()>;
    /// Records how attempts on claimed rows ended, all in one transaction: delivered (with the
    /// posted message to remember), put back until the given time, or given up. The dispatcher
    /// batches the outcomes of one round, so a busy outbox costs one write per batch, not one
    /// per message. A row no longer pending is left as it is.
    async fn finish_outbox(&self, finished: &[(i64, DeliveryOutcome)]) -> Result<()>;
    /// A remembered message.
    async fn posted_ref(&self, platform: Platform, ref_key: &str) -> Result<Option<PostedRef>>;
    /// Undelivered outbox rows.
    async fn outbox_depth(&self) -> Result<i64>;
    /// Deletes delivered and rejected outbox rows created before `before` (the audit trail, not
    /// the outbox, is the record of what happened); returns how many went. Pending rows stay.
    async fn prune_outbox(&self, before: DateTime<Utc>) -> Result<u64>;
    /// When the oldest undelivered outbox row was created; `None` when the outbox is empty.
    async fn outbox_oldest_pending(&self) -> Result<Option<DateTime<Utc>>> {
        Err(crate::core::error::Error::Internal(anyhow::anyhow!("outbox_oldest_pending is not supported")))
    }
    /// Messages the platforms refused for good at or after `since`, newest first, at most
    /// `limit` (what `pimbot outbox status` names).
    async fn recent_rejections(
        &self,
        _since: DateTime<Utc>,
        _limit: i64,
    ) -> Result<Vec<crate::core::outbox::RejectedMessage>> {
        Err(crate::core::error::Error::Internal(anyhow::anyhow!("recent_rejections is not supported")))
    }
    /// Grants in force: not yet ended, and confirmed by the directory.
    async fn open_grant_count(&self) -> Result<i64> {
        Err(crate::core::error::Error::Internal(anyhow::anyhow!("open_grant_count is not supported")))
    }
    /// Audit records at or after `since` (all when `None`), in chain order.
    async fn audit_records(&self, since: Option<DateTime<Utc>>) -> Result<Vec<AuditRecord>>;
    /// Whether the database answers.
    async fn ping(&self) -> Result<()>;
    /// A break-glass alarm by id.
    async fn alarm(&self, id: &AlarmId) -> Result<Option<Alarm>>;
    /// The open (unacknowledged) alarm of break-glass account `account`, as configured.
    async fn open_alarm_for(&self, account: &str) -> Result<Option<Alarm>>;
    /// Which of the sign-in dedupe keys `keys` are already recorded for an alarm.
    async fn known_signins(&self, keys: &[String]) -> Result<Vec<String>>;
    /// Unacknowledged alarms whose next page is at or before `now`, soonest first, at most `limit`.
    async fn due_alarm_pages(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Alarm>>;
    /// The sign-in poller's cursor for a break-glass account: the newest sign-in time seen.
    async fn signin_cursor(&self, account: &str) -> Result<Option<DateTime<Utc>>>;
    /// Moves the poller's cursor forward to `at` (never backwards).
    async fn set_signin_cursor(&self, account: &str, at: DateTime<Utc>) -> Result<()>;
    /// The chain head as recorded at the last append: `(seq, hash)` of the newest record, or
    /// `(0, GENESIS_HASH)` when empty. Comparing it with the records detects a deleted tail.
    /// `None` when the store keeps no separate head (tail deletion is then undetectable).
    async fn audit_head(&self) -> Result<Option<(i64, String)>> {
        Ok(None)
    }
    /// A sign-in state by id (the hash of its value).
    async fn auth_state(&self, _id: &str) -> Result<Option<AuthState>> {
        Err(crate::core::error::Error::Internal(anyhow::anyhow!("auth_state is not supported")))
    }
    /// The directory account a chat account is linked to.
    async fn identity_link(&self, _user: &ChatUser) -> Result<Option<IdentityLink>> {
        Ok(None)
    }
    /// Every chat account linked to a directory object id.
    async fn identity_links_of(&self, _object_id: &str) -> Result<Vec<IdentityLink>> {
        Ok(Vec::new())
    }
    /// One page of audit records after `after_seq` (and at or after `since`), at most `limit`,
    /// in chain order: export, verification and the sinks read the trail this way, in
    /// constant memory.
    async fn audit_page(
        &self,
        after_seq: i64,
        since: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>>;
    /// The checkpoint of the highest position signed so far.
    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>>;
    /// Records a signed checkpoint and queues `outbox` (the feed lines) in one transaction.
    /// Answers false, writing nothing, when that position was already checkpointed (another
    /// replica was first).
    async fn record_checkpoint(&self, checkpoint: &Checkpoint, outbox: &[OutgoingMessage]) -> Result<bool>;
    /// Checkpoints after position `after_seq` up to `up_to_seq`, in order, at most `limit`.
    async fn checkpoints_between(
        &self,
        after_seq: i64,
        up_to_seq: i64,
        limit: i64,
    ) -> Result<Vec<Checkpoint>>;
    /// Leases the audit sink `name` until `now + lease` if it is due and nobody holds it,
    /// creating its cursor (at the start of the trail) on first use; `None` otherwise.
    async fn claim_sink(&self, name: &str, now: DateTime<Utc>, lease: Duration)
    -> Result<Option<SinkCursor>>;
    /// Moves the sink's cursor to what was delivered, clears its retry state and lease.
    async fn advance_sink(&self, name: &str, event_seq: i64, checkpoint_seq: i64) -> Result<()>;
    /// Puts the sink off until `due_at` after a failed delivery and releases the lease.
    async fn postpone_sink(&self, name: &str, due_at: DateTime<Utc>, error: &str) -> Result<()>;
    /// Audit records at or after `since` whose kind is one of `kinds`, in chain order (the
    /// alert history; a store may filter in the database).
    async fn audit_records_of(&self, since: DateTime<Utc>, kinds: &[&str]) -> Result<Vec<AuditRecord>> {
        let all = self.audit_records(Some(since)).await?;
        Ok(all.into_iter().filter(|r| kinds.contains(&r.event.kind.as_str())).collect())
    }
    /// When the first audit record of the trail was written; `None` when the trail is empty.
    async fn audit_first_at(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self.audit_records(None).await?.first().map(|r| r.event.at))
    }
    /// Whether any campaign of `review` exists for the period starting at `period_start`.
    async fn campaign_exists(&self, _review: &str, _period_start: DateTime<Utc>) -> Result<bool> {
        Err(unsupported("campaign_exists"))
    }
    /// Every campaign with its undecided and unapplied item counts, oldest first.
    async fn campaign_statuses(&self) -> Result<Vec<(Campaign, usize, usize)>> {
        Err(unsupported("campaign_statuses"))
    }
    /// One review item.
    async fn review_item(&self, _id: &str) -> Result<Option<ReviewItem>> {
        Err(unsupported("review_item"))
    }
    /// Items not yet applied that need the sweep at `now`: decided, past the deadline or due a
    /// nudge; at most `limit`, soonest deadline first.
    async fn due_review_items(&self, _now: DateTime<Utc>, _limit: i64) -> Result<Vec<ReviewItem>> {
        Err(unsupported("due_review_items"))
    }
    /// Undecided items, soonest deadline first, at most `limit` (`/pim reviews` filters them).
    async fn open_review_items(&self, _limit: i64) -> Result<Vec<ReviewItem>> {
        Err(unsupported("open_review_items"))
    }
    /// Every recorded eligibility removal.
    async fn eligibility_removals(&self) -> Result<Vec<EligibilityRemoval>> {
        Err(unsupported("eligibility_removals"))
    }
    /// Whether a review removed `person`'s policy eligibility for `role`.
    async fn eligibility_removed(&self, _person: &PersonId, _role: &RoleKey) -> Result<bool> {
        Ok(false)
    }
    /// One eligibility extension.
    async fn extension(&self, _id: &str) -> Result<Option<EligibilityExtension>> {
        Err(unsupported("extension"))
    }
    /// Every approved extension, oldest first (`pimbot review changes`).
    async fn approved_extensions(&self) -> Result<Vec<EligibilityExtension>> {
        Err(unsupported("approved_extensions"))
    }
    /// The latest approved extension end of `person` for `role`.
    async fn extended_until(&self, _person: &PersonId, _role: &RoleKey) -> Result<Option<DateTime<Utc>>> {
        Ok(None)
    }
    /// Both marks the database keeps on `person`'s policy eligibility for `role` in one read:
    /// whether a review removed it, and the latest approved extension end. Every command
    /// checks both; a backend answers them together.
    async fn eligibility_marks(
        &self,
        person: &PersonId,
        role: &RoleKey,
    ) -> Result<(bool, Option<DateTime<Utc>>)> {
        Ok((self.eligibility_removed(person, role).await?, self.extended_until(person, role).await?))
    }
    /// Database-wide counts behind the `/metrics` gauges: pending requests and open grants by
    /// role, unacknowledged break-glass alarms by account and severity.
    async fn gauge_counts(&self) -> Result<GaugeCounts> {
        Err(crate::core::error::Error::Internal(anyhow::anyhow!("gauge_counts is not supported")))
    }
    /// How a chat platform reaches a user or channel (`key`), as last learned.
    async fn conversation_ref(&self, _key: &str) -> Result<Option<ConversationRef>> {
        Ok(None)
    }
    /// Records (or replaces) how a chat platform reaches a user or channel. Fields left `None`
    /// keep their stored value.
    async fn remember_conversation(&self, _conversation: &ConversationRef) -> Result<()> {
        Err(crate::core::error::Error::Internal(anyhow::anyhow!("remember_conversation is not supported")))
    }
    /// Deletes sign-in states that stopped working before `before` (expired, used or not);
    /// returns how many went.
    async fn prune_auth_states(&self, _before: DateTime<Utc>) -> Result<u64> {
        Ok(0)
    }
}

/// What [`Store::gauge_counts`] reads, for the metrics gauges.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GaugeCounts {
    /// Requests waiting for a decision, by role.
    pub pending_by_role: Vec<(RoleKey, i64)>,
    /// Grants in force (not yet ended), by role.
    pub open_grants_by_role: Vec<(RoleKey, i64)>,
    /// Unacknowledged break-glass alarms: `(account UPN, severity, count)`.
    pub open_alarms: Vec<(String, String, i64)>,
}

fn unsupported(what: &str) -> crate::core::error::Error {
    crate::core::error::Error::Internal(anyhow::anyhow!("{what} is not supported by this store"))
}

/// Where an audit sink stands: what it has received, and its retry state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkCursor {
    /// The sink's name (`[[audit.sink]] name`, or its kind).
    pub name: String,
    /// Last audit record delivered.
    pub event_seq: i64,
    /// Last checkpoint delivered.
    pub checkpoint_seq: i64,
    /// Failed attempts since the last delivery.
    pub attempts: i32,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
}

/// How a chat platform that needs an address per conversation (Teams) reaches a user or a
/// channel, learned from its inbound traffic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationRef {
    /// `user:<id>` or `channel:<id>`.
    pub key: String,
    /// The conversation to post into (a user's personal chat), when known.
    pub conversation_id: Option<String>,
    /// The base URL replies go to (Teams `serviceUrl`).
    pub service_url: String,
    /// The platform's own id of the user (Teams `29:…`), to open a personal chat.
    pub user_id: Option<String>,
    /// When it was learned.
    pub updated_at: DateTime<Utc>,
}
