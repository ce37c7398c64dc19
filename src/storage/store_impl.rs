//! `Store` for [`SqlStore`]: every method is written once with shared SQL and compiled per
//! backend through `on_db!`. Writes run in one transaction each; `commit` is the only writer of
//! requests, approvals, grants and audit records.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::queries as q;
use super::rows::{AuditRow, GrantRow, HeadRow, RequestRow};
use super::{SqlStore, on_db};
use crate::core::alarm::Alarm;
use crate::core::audit::{AuditRecord, truncate_micros};
use crate::core::checkpoint::Checkpoint;
use crate::core::error::{Error, Result};
use crate::core::ids::{AlarmId, GrantId, PersonId, Platform, RequestId, RoleKey};
use crate::core::outbox::{DeliveryOutcome, OutboxItem, OutgoingMessage, PostedRef};
use crate::core::ports::{Commit, EligibilityRemoval, SinkCursor, Store};
use crate::core::renewal::EligibilityExtension;
use crate::core::request::{AccessRequest, Grant};
use crate::core::reviews::{Campaign, ReviewItem};

/// Wraps a database error as an internal error saying what was being done.
pub(super) fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| Error::Internal(anyhow::Error::new(e).context(what))
}

/// A unique-constraint violation becomes the conflict `message`; anything else is internal.
pub(super) fn unique_is_conflict(
    what: &'static str,
    message: impl FnOnce() -> String,
) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::Conflict(message()),
        _ => db(what)(e),
    }
}

pub(super) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    truncate_micros(t)
}

impl SqlStore {
    fn grants(rows: Vec<GrantRow>) -> Result<Vec<Grant>> {
        Ok(rows.into_iter().map(Grant::try_from).collect::<anyhow::Result<_>>()?)
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn commit(&self, commit: Commit) -> Result<()> {
        self.apply(commit).await
    }

    async fn request(&self, id: &RequestId) -> Result<Option<AccessRequest>> {
        let row: Option<RequestRow> = on_db!(self, pool => {
            sqlx::query_as(q::REQUEST_BY_ID).bind(id.as_str()).fetch_optional(pool).await
        })
        .map_err(db("loading a request"))?;
        Ok(self.with_approvals(row.into_iter().collect()).await?.pop())
    }

    async fn open_requests_for(&self, person: &PersonId) -> Result<Vec<AccessRequest>> {
        let rows: Vec<RequestRow> = on_db!(self, pool => {
            sqlx::query_as(q::OPEN_REQUESTS_FOR).bind(person.as_str()).fetch_all(pool).await
        })
        .map_err(db("loading open requests"))?;
        self.with_approvals(rows).await
    }

    async fn active_requests_of_grant(&self, grant: &GrantId) -> Result<Vec<AccessRequest>> {
        let rows: Vec<RequestRow> = on_db!(self, pool => {
            sqlx::query_as(q::ACTIVE_REQUESTS_OF_GRANT).bind(grant.as_str()).fetch_all(pool).await
        })
        .map_err(db("loading the requests of a grant"))?;
        self.with_approvals(rows).await
    }

    async fn grant(&self, id: &GrantId) -> Result<Option<Grant>> {
        let row: Option<GrantRow> = on_db!(self, pool => {
            sqlx::query_as(q::GRANT_BY_ID).bind(id.as_str()).fetch_optional(pool).await
        })
        .map_err(db("loading a grant"))?;
        Ok(row.map(Grant::try_from).transpose()?)
    }

    async fn open_grant(&self, person: &PersonId, role: &RoleKey) -> Result<Option<Grant>> {
        let row: Option<GrantRow> = on_db!(self, pool => {
            sqlx::query_as(q::OPEN_GRANT).bind(person.as_str()).bind(role.as_str()).fetch_optional(pool).await
        })
        .map_err(db("loading an open grant"))?;
        Ok(row.map(Grant::try_from).transpose()?)
    }

    async fn open_grants_for(&self, person: &PersonId) -> Result<Vec<Grant>> {
        let rows: Vec<GrantRow> = on_db!(self, pool => {
            sqlx::query_as(q::OPEN_GRANTS_FOR).bind(person.as_str()).fetch_all(pool).await
        })
        .map_err(db("loading open grants"))?;
        Self::grants(rows)
    }

    async fn open_grants(&self, limit: i64) -> Result<Vec<Grant>> {
        let rows: Vec<GrantRow> = on_db!(self, pool => {
            sqlx::query_as(q::OPEN_GRANTS).bind(limit).fetch_all(pool).await
        })
        .map_err(db("loading open grants"))?;
        Self::grants(rows)
    }

    async fn due_grants(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Grant>> {
        let rows: Vec<GrantRow> = on_db!(self, pool => {
            sqlx::query_as(q::DUE_GRANTS).bind(now).bind(limit).fetch_all(pool).await
        })
        .map_err(db("loading due grants"))?;
        Self::grants(rows)
    }

    async fn due_nudges(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<AccessRequest>> {
        let rows: Vec<RequestRow> = on_db!(self, pool => {
            sqlx::query_as(q::DUE_NUDGES).bind(now).bind(limit).fetch_all(pool).await
        })
        .map_err(db("loading due nudges"))?;
        self.with_approvals(rows).await
    }

    async fn approved_requests(&self, limit: i64) -> Result<Vec<AccessRequest>> {
        let rows: Vec<RequestRow> = on_db!(self, pool => {
            sqlx::query_as(q::APPROVED_REQUESTS).bind(limit).fetch_all(pool).await
        })
        .map_err(db("loading approved requests"))?;
        self.with_approvals(rows).await
    }

    async fn requests_in_flight(&self, limit: i64) -> Result<Vec<AccessRequest>> {
        let rows: Vec<RequestRow> = on_db!(self, pool => {
            sqlx::query_as(q::REQUESTS_IN_FLIGHT).bind(limit).fetch_all(pool).await
        })
        .map_err(db("loading requests in flight"))?;
        self.with_approvals(rows).await
    }

    async fn withdrawn_grants(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Grant>> {
        let rows: Vec<GrantRow> = on_db!(self, pool => {
            sqlx::query_as(q::WITHDRAWN_GRANTS).bind(micros(now)).bind(limit).fetch_all(pool).await
        })
        .map_err(db("loading withdrawn grants"))?;
        Self::grants(rows)
    }

    async fn remember_request(&self, key: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool> {
        self.remember(key, now, until).await
    }

    async fn seen_request(&self, key: &str, now: DateTime<Utc>) -> Result<bool> {
        let seen: Option<i32> = on_db!(self, pool => {
            sqlx::query_scalar(q::SEEN_REQUEST).bind(key).bind(micros(now)).fetch_optional(pool).await
        })
        .map_err(db("reading a request key"))?;
        Ok(seen.is_some())
    }

    async fn prune_seen_requests(&self, now: DateTime<Utc>) -> Result<u64> {
        on_db!(write self, pool => {
            sqlx::query(q::PRUNE_SEEN_REQUESTS).bind(micros(now)).execute(pool).await.map(|r| r.rows_affected())
        })
        .map_err(db("pruning seen requests"))
    }

    async fn claim_outbox(&self, now: DateTime<Utc>, lease: Duration, limit: i64) -> Result<Vec<OutboxItem>> {
        self.claim(None, now, now, lease, limit).await
    }

    async fn claim_outbox_for(
        &self,
        dispatcher: &str,
        alive_since: DateTime<Utc>,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<OutboxItem>> {
        self.claim(Some(dispatcher), alive_since, now, lease, limit).await
    }

    async fn dispatcher_heartbeat(&self, dispatcher: &str, at: DateTime<Utc>) -> Result<()> {
        self.heartbeat(dispatcher, at).await
    }

    async fn retire_dispatcher(&self, dispatcher: &str) -> Result<()> {
        self.retire(dispatcher).await
    }

    async fn finish_outbox(&self, finished: &[(i64, DeliveryOutcome)]) -> Result<()> {
        self.finish(finished).await
    }

    async fn posted_ref(&self, platform: Platform, ref_key: &str) -> Result<Option<PostedRef>> {
        self.load_posted_ref(platform, ref_key).await
    }

    async fn prune_outbox(&self, before: DateTime<Utc>) -> Result<u64> {
        self.delete_outbox_before(before).await
    }

    async fn outbox_depth(&self) -> Result<i64> {
        self.count_outbox().await
    }

    async fn recent_rejections(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<crate::core::outbox::RejectedMessage>> {
        self.rejections(since, limit).await
    }

    async fn outbox_oldest_pending(&self) -> Result<Option<DateTime<Utc>>> {
        self.oldest_pending().await
    }

    async fn gauge_counts(&self) -> Result<crate::core::ports::GaugeCounts> {
        let pending: Vec<(String, i64)> =
            on_db!(self, pool => sqlx::query_as(q::PENDING_BY_ROLE).fetch_all(pool).await)
                .map_err(db("counting pending requests"))?;
        let grants: Vec<(String, i64)> =
            on_db!(self, pool => sqlx::query_as(q::OPEN_GRANTS_BY_ROLE).fetch_all(pool).await)
                .map_err(db("counting open grants by role"))?;
        let open_alarms: Vec<(String, String, i64)> =
            on_db!(self, pool => sqlx::query_as(q::OPEN_ALARMS).fetch_all(pool).await)
                .map_err(db("counting open alarms"))?;
        let by_role =
            |rows: Vec<(String, i64)>| rows.into_iter().map(|(r, n)| (RoleKey::from(r), n)).collect();
        Ok(crate::core::ports::GaugeCounts {
            pending_by_role: by_role(pending),
            open_grants_by_role: by_role(grants),
            open_alarms,
        })
    }

    async fn open_grant_count(&self) -> Result<i64> {
        on_db!(self, pool => sqlx::query_scalar(q::OPEN_GRANT_COUNT).fetch_one(pool).await)
            .map_err(db("counting open grants"))
    }

    async fn audit_records(&self, since: Option<DateTime<Utc>>) -> Result<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = on_db!(self, pool => match since {
            None => sqlx::query_as(q::AUDIT_ALL).fetch_all(pool).await,
            Some(t) => sqlx::query_as(q::AUDIT_SINCE).bind(t).fetch_all(pool).await,
        })
        .map_err(db("loading audit records"))?;
        Ok(rows.into_iter().map(AuditRecord::try_from).collect::<anyhow::Result<_>>()?)
    }

    async fn ping(&self) -> Result<()> {
        on_db!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop))
            .map_err(db("pinging the database"))
    }

    async fn alarm(&self, id: &AlarmId) -> Result<Option<Alarm>> {
        self.load_alarm(id).await
    }

    async fn open_alarm_for(&self, account: &str) -> Result<Option<crate::core::alarm::Alarm>> {
        self.load_open_alarm(account).await
    }

    async fn known_signins(&self, keys: &[String]) -> Result<Vec<String>> {
        self.load_known_signins(keys).await
    }

    async fn due_alarm_pages(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Alarm>> {
        self.load_due_alarm_pages(now, limit).await
    }

    async fn signin_cursor(&self, account: &str) -> Result<Option<DateTime<Utc>>> {
        self.load_signin_cursor(account).await
    }

    async fn set_signin_cursor(&self, account: &str, at: DateTime<Utc>) -> Result<()> {
        self.store_signin_cursor(account, at).await
    }

    async fn auth_state(&self, id: &str) -> Result<Option<crate::core::identity::AuthState>> {
        self.load_auth_state(id).await
    }

    async fn identity_link(
        &self,
        user: &crate::core::ids::ChatUser,
    ) -> Result<Option<crate::core::identity::IdentityLink>> {
        self.load_link(user).await
    }

    async fn identity_links_of(&self, object_id: &str) -> Result<Vec<crate::core::identity::IdentityLink>> {
        self.load_links_of(object_id).await
    }

    async fn audit_page(
        &self,
        after_seq: i64,
        since: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>> {
        self.load_audit_page(after_seq, since, limit).await
    }

    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>> {
        self.load_latest_checkpoint().await
    }

    async fn record_checkpoint(&self, checkpoint: &Checkpoint, outbox: &[OutgoingMessage]) -> Result<bool> {
        self.insert_checkpoint(checkpoint, outbox).await
    }

    async fn checkpoints_between(
        &self,
        after_seq: i64,
        up_to_seq: i64,
        limit: i64,
    ) -> Result<Vec<Checkpoint>> {
        self.load_checkpoints_between(after_seq, up_to_seq, limit).await
    }

    async fn claim_sink(
        &self,
        name: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<SinkCursor>> {
        self.lease_sink(name, now, lease).await
    }

    async fn advance_sink(&self, name: &str, event_seq: i64, checkpoint_seq: i64) -> Result<()> {
        self.move_sink(name, event_seq, checkpoint_seq).await
    }

    async fn postpone_sink(&self, name: &str, due_at: DateTime<Utc>, error: &str) -> Result<()> {
        self.put_off_sink(name, due_at, error).await
    }

    async fn conversation_ref(&self, key: &str) -> Result<Option<crate::core::ports::ConversationRef>> {
        self.load_conversation(key).await
    }

    async fn remember_conversation(&self, conversation: &crate::core::ports::ConversationRef) -> Result<()> {
        self.store_conversation(conversation).await
    }

    async fn prune_auth_states(&self, before: DateTime<Utc>) -> Result<u64> {
        self.delete_auth_states(before).await
    }

    async fn audit_head(&self) -> Result<Option<(i64, String)>> {
        let head: HeadRow = on_db!(self, pool => sqlx::query_as(q::AUDIT_HEAD).fetch_one(pool).await)
            .map_err(db("loading the audit head"))?;
        Ok(Some((head.last_seq, head.last_hash)))
    }

    async fn audit_records_of(&self, since: DateTime<Utc>, kinds: &[&str]) -> Result<Vec<AuditRecord>> {
        self.gv_audit_of(since, kinds).await
    }

    async fn audit_first_at(&self) -> Result<Option<DateTime<Utc>>> {
        self.gv_audit_first_at().await
    }

    async fn campaign_exists(&self, review: &str, period_start: DateTime<Utc>) -> Result<bool> {
        self.gv_campaign_exists(review, period_start).await
    }

    async fn campaign_statuses(&self) -> Result<Vec<(Campaign, usize, usize)>> {
        self.gv_campaign_statuses().await
    }

    async fn review_item(&self, id: &str) -> Result<Option<ReviewItem>> {
        self.gv_review_item(id).await
    }

    async fn due_review_items(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<ReviewItem>> {
        self.gv_due_items(now, limit).await
    }

    async fn open_review_items(&self, limit: i64) -> Result<Vec<ReviewItem>> {
        self.gv_open_items(limit).await
    }

    async fn eligibility_removals(&self) -> Result<Vec<EligibilityRemoval>> {
        self.gv_removals().await
    }

    async fn eligibility_removed(&self, person: &PersonId, role: &RoleKey) -> Result<bool> {
        self.gv_removed(person, role).await
    }

    async fn extension(&self, id: &str) -> Result<Option<EligibilityExtension>> {
        self.gv_extension(id).await
    }

    async fn approved_extensions(&self) -> Result<Vec<EligibilityExtension>> {
        self.gv_approved_extensions().await
    }

    async fn extended_until(&self, person: &PersonId, role: &RoleKey) -> Result<Option<DateTime<Utc>>> {
        self.gv_extended_until(person, role).await
    }

    async fn eligibility_marks(
        &self,
        person: &PersonId,
        role: &RoleKey,
    ) -> Result<(bool, Option<DateTime<Utc>>)> {
        self.gv_marks(person, role).await
    }
}
