//! A `Store` decorator that times every call in `pimbot_database_call_duration_seconds{op}`,
//! so neither backend has to know about metrics. `app::start` wraps the store with it.
//!
//! It forwards **every** `Store` method, including those with default bodies: one left out
//! would answer with the trait's default instead of the database. A new `Store` method without
//! a default fails to compile here until it is forwarded; one with a default must be added by
//! hand (the test below lists them).

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::core::alarm::Alarm;
use crate::core::audit::AuditRecord;
use crate::core::checkpoint::Checkpoint;
use crate::core::error::Result;
use crate::core::identity::{AuthState, IdentityLink};
use crate::core::ids::{AlarmId, ChatUser, GrantId, PersonId, Platform, RequestId, RoleKey};
use crate::core::outbox::{DeliveryOutcome, OutboxItem, OutgoingMessage, PostedRef};
use crate::core::ports::{Commit, EligibilityRemoval, GaugeCounts, SinkCursor, Store};
use crate::core::renewal::EligibilityExtension;
use crate::core::request::{AccessRequest, Grant};
use crate::core::reviews::{Campaign, ReviewItem};

/// Wraps a store and records the latency of each call by operation.
pub struct InstrumentedStore {
    inner: Arc<dyn Store>,
}

impl InstrumentedStore {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Store>) -> Self {
        Self { inner }
    }
}

/// Runs `call` and records its duration under `op`.
async fn timed<T>(op: &'static str, call: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let out = call.await;
    crate::metrics::database_call(op, started.elapsed().as_secs_f64());
    out
}

#[async_trait]
impl Store for InstrumentedStore {
    async fn commit(&self, commit: Commit) -> Result<()> {
        timed("commit", self.inner.commit(commit)).await
    }

    async fn request(&self, id: &RequestId) -> Result<Option<AccessRequest>> {
        timed("request", self.inner.request(id)).await
    }

    async fn open_requests_for(&self, person: &PersonId) -> Result<Vec<AccessRequest>> {
        timed("open_requests_for", self.inner.open_requests_for(person)).await
    }

    async fn active_requests_of_grant(&self, grant: &GrantId) -> Result<Vec<AccessRequest>> {
        timed("active_requests_of_grant", self.inner.active_requests_of_grant(grant)).await
    }

    async fn grant(&self, id: &GrantId) -> Result<Option<Grant>> {
        timed("grant", self.inner.grant(id)).await
    }

    async fn open_grant(&self, person: &PersonId, role: &RoleKey) -> Result<Option<Grant>> {
        timed("open_grant", self.inner.open_grant(person, role)).await
    }

    async fn open_grants_for(&self, person: &PersonId) -> Result<Vec<Grant>> {
        timed("open_grants_for", self.inner.open_grants_for(person)).await
    }

    async fn open_grants(&self, limit: i64) -> Result<Vec<Grant>> {
        timed("open_grants", self.inner.open_grants(limit)).await
    }

    async fn due_grants(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Grant>> {
        timed("due_grants", self.inner.due_grants(now, limit)).await
    }

    async fn due_nudges(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<AccessRequest>> {
        timed("due_nudges", self.inner.due_nudges(now, limit)).await
    }

    async fn approved_requests(&self, limit: i64) -> Result<Vec<AccessRequest>> {
        timed("approved_requests", self.inner.approved_requests(limit)).await
    }

    async fn requests_in_flight(&self, limit: i64) -> Result<Vec<AccessRequest>> {
        timed("requests_in_flight", self.inner.requests_in_flight(limit)).await
    }

    async fn withdrawn_grants(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Grant>> {
        timed("withdrawn_grants", self.inner.withdrawn_grants(now, limit)).await
    }

    async fn remember_request(&self, key: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool> {
        timed("remember_request", self.inner.remember_request(key, now, until)).await
    }

    async fn seen_request(&self, key: &str, now: DateTime<Utc>) -> Result<bool> {
        timed("seen_request", self.inner.seen_request(key, now)).await
    }

    async fn prune_seen_requests(&self, now: DateTime<Utc>) -> Result<u64> {
        timed("prune_seen_requests", self.inner.prune_seen_requests(now)).await
    }

    async fn claim_outbox(&self, now: DateTime<Utc>, lease: Duration, limit: i64) -> Result<Vec<OutboxItem>> {
        timed("claim_outbox", self.inner.claim_outbox(now, lease, limit)).await
    }

    async fn finish_outbox(&self, finished: &[(i64, DeliveryOutcome)]) -> Result<()> {
        timed("finish_outbox", self.inner.finish_outbox(finished)).await
    }

    async fn posted_ref(&self, platform: Platform, ref_key: &str) -> Result<Option<PostedRef>> {
        timed("posted_ref", self.inner.posted_ref(platform, ref_key)).await
    }

    async fn outbox_depth(&self) -> Result<i64> {
        timed("outbox_depth", self.inner.outbox_depth()).await
    }

    async fn prune_outbox(&self, before: DateTime<Utc>) -> Result<u64> {
        timed("prune_outbox", self.inner.prune_outbox(before)).await
    }

    async fn outbox_oldest_pending(&self) -> Result<Option<DateTime<Utc>>> {
        timed("outbox_oldest_pending", self.inner.outbox_oldest_pending()).await
    }

    async fn open_grant_count(&self) -> Result<i64> {
        timed("open_grant_count", self.inner.open_grant_count()).await
    }

    async fn audit_records(&self, since: Option<DateTime<Utc>>) -> Result<Vec<AuditRecord>> {
        timed("audit_records", self.inner.audit_records(since)).await
    }

    async fn ping(&self) -> Result<()> {
        timed("ping", self.inner.ping()).await
    }

    async fn alarm(&self, id: &AlarmId) -> Result<Option<Alarm>> {
        timed("alarm", self.inner.alarm(id)).await
    }

    async fn due_alarm_pages(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Alarm>> {
        timed("due_alarm_pages", self.inner.due_alarm_pages(now, limit)).await
    }

    async fn signin_cursor(&self, account: &str) -> Result<Option<DateTime<Utc>>> {
        timed("signin_cursor", self.inner.signin_cursor(account)).await
    }

    async fn set_signin_cursor(&self, account: &str, at: DateTime<Utc>) -> Result<()> {
        timed("set_signin_cursor", self.inner.set_signin_cursor(account, at)).await
    }

    async fn audit_head(&self) -> Result<Option<(i64, String)>> {
        timed("audit_head", self.inner.audit_head()).await
    }

    async fn gauge_counts(&self) -> Result<GaugeCounts> {
        timed("gauge_counts", self.inner.gauge_counts()).await
    }

    async fn auth_state(&self, id: &str) -> Result<Option<AuthState>> {
        timed("auth_state", self.inner.auth_state(id)).await
    }

    async fn identity_link(&self, user: &ChatUser) -> Result<Option<IdentityLink>> {
        timed("identity_link", self.inner.identity_link(user)).await
    }

    async fn identity_links_of(&self, object_id: &str) -> Result<Vec<IdentityLink>> {
        timed("identity_links_of", self.inner.identity_links_of(object_id)).await
    }

    async fn claim_outbox_for(
        &self,
        dispatcher: &str,
        alive_since: DateTime<Utc>,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<OutboxItem>> {
        timed("claim_outbox", self.inner.claim_outbox_for(dispatcher, alive_since, now, lease, limit)).await
    }

    async fn dispatcher_heartbeat(&self, dispatcher: &str, at: DateTime<Utc>) -> Result<()> {
        timed("dispatcher_heartbeat", self.inner.dispatcher_heartbeat(dispatcher, at)).await
    }

    async fn retire_dispatcher(&self, dispatcher: &str) -> Result<()> {
        timed("retire_dispatcher", self.inner.retire_dispatcher(dispatcher)).await
    }

    async fn recent_rejections(
        &self,
        since: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<crate::core::outbox::RejectedMessage>> {
        timed("recent_rejections", self.inner.recent_rejections(since, limit)).await
    }

    async fn open_alarm_for(&self, account: &str) -> Result<Option<Alarm>> {
        timed("open_alarm_for", self.inner.open_alarm_for(account)).await
    }

    async fn known_signins(&self, keys: &[String]) -> Result<Vec<String>> {
        timed("known_signins", self.inner.known_signins(keys)).await
    }

    async fn audit_page(
        &self,
        after_seq: i64,
        since: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>> {
        timed("audit_page", self.inner.audit_page(after_seq, since, limit)).await
    }

    async fn latest_checkpoint(&self) -> Result<Option<Checkpoint>> {
        timed("latest_checkpoint", self.inner.latest_checkpoint()).await
    }

    async fn record_checkpoint(&self, checkpoint: &Checkpoint, outbox: &[OutgoingMessage]) -> Result<bool> {
        timed("record_checkpoint", self.inner.record_checkpoint(checkpoint, outbox)).await
    }

    async fn checkpoints_between(
        &self,
        after_seq: i64,
        up_to_seq: i64,
        limit: i64,
    ) -> Result<Vec<Checkpoint>> {
        timed("checkpoints_between", self.inner.checkpoints_between(after_seq, up_to_seq, limit)).await
    }

    async fn claim_sink(
        &self,
        name: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<SinkCursor>> {
        timed("claim_sink", self.inner.claim_sink(name, now, lease)).await
    }

    async fn advance_sink(&self, name: &str, event_seq: i64, checkpoint_seq: i64) -> Result<()> {
        timed("advance_sink", self.inner.advance_sink(name, event_seq, checkpoint_seq)).await
    }

    async fn postpone_sink(&self, name: &str, due_at: DateTime<Utc>, error: &str) -> Result<()> {
        timed("postpone_sink", self.inner.postpone_sink(name, due_at, error)).await
    }

    async fn audit_records_of(&self, since: DateTime<Utc>, kinds: &[&str]) -> Result<Vec<AuditRecord>> {
        timed("audit_records_of", self.inner.audit_records_of(since, kinds)).await
    }

    async fn audit_first_at(&self) -> Result<Option<DateTime<Utc>>> {
        timed("audit_first_at", self.inner.audit_first_at()).await
    }

    async fn campaign_exists(&self, review: &str, period_start: DateTime<Utc>) -> Result<bool> {
        timed("campaign_exists", self.inner.campaign_exists(review, period_start)).await
    }

    async fn campaign_statuses(&self) -> Result<Vec<(Campaign, usize, usize)>> {
        timed("campaign_statuses", self.inner.campaign_statuses()).await
    }

    async fn review_item(&self, id: &str) -> Result<Option<ReviewItem>> {
        timed("review_item", self.inner.review_item(id)).await
    }

    async fn due_review_items(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<ReviewItem>> {
        timed("due_review_items", self.inner.due_review_items(now, limit)).await
    }

    async fn open_review_items(&self, limit: i64) -> Result<Vec<ReviewItem>> {
        timed("open_review_items", self.inner.open_review_items(limit)).await
    }

    async fn eligibility_removals(&self) -> Result<Vec<EligibilityRemoval>> {
        timed("eligibility_removals", self.inner.eligibility_removals()).await
    }

    async fn eligibility_removed(&self, person: &PersonId, role: &RoleKey) -> Result<bool> {
        timed("eligibility_removed", self.inner.eligibility_removed(person, role)).await
    }

    async fn extension(&self, id: &str) -> Result<Option<EligibilityExtension>> {
        timed("extension", self.inner.extension(id)).await
    }

    async fn approved_extensions(&self) -> Result<Vec<EligibilityExtension>> {
        timed("approved_extensions", self.inner.approved_extensions()).await
    }

    async fn extended_until(&self, person: &PersonId, role: &RoleKey) -> Result<Option<DateTime<Utc>>> {
        timed("extended_until", self.inner.extended_until(person, role)).await
    }

    async fn eligibility_marks(
        &self,
        person: &PersonId,
        role: &RoleKey,
    ) -> Result<(bool, Option<DateTime<Utc>>)> {
        timed("eligibility_marks", self.inner.eligibility_marks(person, role)).await
    }

    async fn conversation_ref(&self, key: &str) -> Result<Option<crate::core::ports::ConversationRef>> {
        timed("conversation_ref", self.inner.conversation_ref(key)).await
    }

    async fn remember_conversation(&self, conversation: &crate::core::ports::ConversationRef) -> Result<()> {
        timed("remember_conversation", self.inner.remember_conversation(conversation)).await
    }

    async fn prune_auth_states(&self, before: DateTime<Utc>) -> Result<u64> {
        timed("prune_auth_states", self.inner.prune_auth_states(before)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn defaulted_methods_reach_the_database() {
        let dir = tempfile::tempdir().expect("tmp");
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        // The recorder must exist before the calls, or they are timed into nothing (alone, this
        // test would otherwise depend on another test having installed it first).
        crate::metrics::install();
        let store = InstrumentedStore::new(crate::storage::connect(&url).await.expect("open"));
        // Each of these has a default body in the trait that fails or answers `None`.
        assert_eq!(store.open_grant_count().await.ok(), Some(0));
        assert_eq!(store.outbox_oldest_pending().await.ok(), Some(None));
        assert_eq!(store.gauge_counts().await.ok(), Some(GaugeCounts::default()));
        assert!(store.audit_head().await.is_ok_and(|h| h.is_some()), "SQLite keeps an audit head");
        assert_eq!(store.auth_state("unknown").await.ok(), Some(None), "auth_state reaches the store");
        assert_eq!(
            store.campaign_statuses().await.ok().map(|c| c.len()),
            Some(0),
            "campaigns reach the store"
        );
        assert_eq!(store.open_review_items(10).await.ok().map(|c| c.len()), Some(0));
        assert_eq!(store.eligibility_removals().await.ok().map(|c| c.len()), Some(0));
        assert_eq!(store.approved_extensions().await.ok().map(|c| c.len()), Some(0));
        assert!(
            store.recent_rejections(chrono::Utc::now(), 10).await.is_ok(),
            "rejected messages reach the store"
        );
        let text = crate::metrics::render();
        assert!(text.contains("pimbot_database_call_duration_seconds_count{op=\"gauge_counts\"}"), "{text}");
    }
}
