//! Expiry: ending every grant whose time is up. The directory is asked to end several
//! assignments at once, and the ends of one batch are recorded in one commit, so a busy minute
//! (hundreds of grants ending per second) costs a few write transactions, not one per grant. A
//! batch that loses a race (another replica, or a holder deactivating in the same instant) is
//! written again grant by grant, and only the grants still open are ended.

use futures_util::StreamExt;

use super::AccessService;
use super::grant::Ending;
use super::messages::alert;
use crate::core::audit::Actor;
use crate::core::error::Error;
use crate::core::policy::Policy;
use crate::core::ports::Commit;
use crate::core::request::{EndReason, Grant};

/// Directory calls in flight at once while a batch is prepared.
pub const EXPIRY_CONCURRENCY: usize = 16;
/// Grants recorded as ended in one commit.
pub const EXPIRY_BATCH: usize = 64;

impl AccessService {
    /// Ends every grant whose time is up, at most `limit` per call; returns how many ended.
    pub async fn expire_due(&self, limit: i64) -> crate::core::Result<usize> {
        let policy = self.policy();
        let due = self.store.due_grants(self.now(), limit).await?;
        let mut ended = 0;
        for batch in due.chunks(EXPIRY_BATCH) {
            // Several at once: a real directory answers in tens of milliseconds, and one grant
            // ending must not wait for the previous one's round trip.
            let prepared: Vec<(Grant, Commit)> = futures_util::stream::iter(batch.iter().cloned())
                .map(|grant| self.prepare_expiry(&policy, grant))
                .buffer_unordered(EXPIRY_CONCURRENCY)
                .filter_map(|p| async move { p })
                .collect()
                .await;
            ended += self.record_expiries(prepared).await;
        }
        Ok(ended)
    }

    /// Ends one grant in the directory; `None` (logged, and alerted on when it keeps failing)
    /// when that failed, so the grant stays due and the next sweep tries again. The grant's
    /// recorded target is used, so a grant of a role since removed from the policy still ends.
    async fn prepare_expiry(&self, policy: &Policy, grant: Grant) -> Option<(Grant, Commit)> {
        let (role, person) = self.end_parts(policy, &grant).await;
        let mut ending = Ending::plain(EndReason::Expired, Actor::System);
        let mut unknown = None;
        if !Self::target_known(policy, &grant) {
            // Recorded before pimbot kept targets, and its role is gone: pimbot cannot address
            // the assignment. The directory's own schedule (PIM grants are made time-bound)
            // ends it at the same moment; people are told to check.
            ending.call_directory = false;
            ending.detail = serde_json::json!({"directory": "not called: the grant's target is unknown"});
            unknown = Some(format!(
                "🚨 {}'s {} (grant {}) ended, but its role is no longer in the policy and the grant \
                 predates recorded directory targets: pimbot could not remove the assignment itself. \
                 The directory's own schedule should have ended it; please check.",
                grant.person,
                crate::core::text::strong(&grant.role),
                grant.id
            ));
        }
        // Dated when the directory has ended it: that is the moment access ended.
        match self.prepare_end(&role, &person, grant.clone(), ending, None).await {
            Ok((ended, mut commit)) => {
                if let Some(text) = unknown {
                    commit.outbox.extend(alert(&self.channels, ended.id.as_str(), &text));
                }
                Some((ended, commit))
            }
            Err(e) => {
                tracing::error!(grant = %grant.id, error = %format!("{e:#}"), "expiring a grant failed; will retry");
                self.end_failed(&grant, &e, self.now()).await;
                None
            }
        }
    }

    /// Writes the ends of a batch in one commit, or grant by grant when the batch lost a race
    /// or failed; returns how many were recorded.
    async fn record_expiries(&self, prepared: Vec<(Grant, Commit)>) -> usize {
        if prepared.is_empty() {
            return 0;
        }
        let mut together = Commit::default();
        for (_, c) in &prepared {
            together.at = together.at.max(c.at);
            together.requests.extend(c.requests.iter().cloned());
            together.grants.extend(c.grants.iter().cloned());
            together.audit.extend(c.audit.iter().cloned());
            together.outbox.extend(c.outbox.iter().cloned());
        }
        match self.commit(together).await {
            Ok(()) => {
                prepared.iter().for_each(|(g, _)| self.end_succeeded(&g.id));
                return prepared.len();
            }
            Err(Error::Conflict(_)) => {}
            Err(e) => {
                tracing::warn!(error = %format!("{e:#}"), "recording a batch of expiries failed; recording them one by one")
            }
        }
        let mut ended = 0;
        for (grant, commit) in prepared {
            match self.commit(commit).await {
                Ok(()) => {
                    self.end_succeeded(&grant.id);
                    ended += 1;
                }
                Err(Error::Conflict(_)) => {} // another replica or a deactivation ended it first
                Err(e) => {
                    tracing::error!(grant = %grant.id, error = %format!("{e:#}"), "recording an expiry failed; will retry");
                    self.end_failed(&grant, &e, self.now()).await;
                }
            }
        }
        ended
    }
}
