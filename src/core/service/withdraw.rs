//! Withdrawing grants that never completed: a grant row written ahead of its directory call
//! whose request was cancelled, revoked or failed before the grant was recorded active. The
//! assignment may exist (the call may have landed, or its answer been lost), so it is removed
//! in the directory (safe to repeat) before the row is closed. The activation does this at once
//! when its record loses the race; [`AccessService::finish_withdrawn`] is the sweep that
//! finishes what a dead worker left, once its lease ran out.

use serde_json::json;

use super::AccessService;
use super::grant::Ending;
use super::messages::{alert, feed};
use crate::core::audit::Actor;
use crate::core::error::{Error, Result};
use crate::core::policy::Policy;
use crate::core::request::{EndReason, Grant};
use crate::core::state::RequestState;

impl AccessService {
    /// Removes the assignments of grants being made whose request is no longer approved, at
    /// most `limit`; returns how many were closed.
    pub async fn finish_withdrawn(&self, limit: i64) -> Result<usize> {
        let policy = self.policy();
        let mut done = 0;
        for grant in self.store.withdrawn_grants(self.now(), limit).await? {
            let request = self.store.request(&grant.request_id).await?;
            let state = request.as_ref().map(|r| r.state);
            let why = match state {
                Some(s) => format!("request {} was {s} before its grant was confirmed", grant.request_id),
                None => format!("request {} is gone", grant.request_id),
            };
            // A failed request was already alerted on; anything else is news.
            let loud = state != Some(RequestState::Failed);
            match self.withdraw(&policy, grant, &why, loud).await {
                Ok(()) => done += 1,
                Err(Error::Conflict(_)) => {}
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "withdrawing a grant failed; will retry")
                }
            }
        }
        Ok(done)
    }

    /// Removes `grant`'s assignment in the directory and closes the row (`withdrawn`), with an
    /// audit event, a feed line and, when `loud`, an alert. A directory failure leaves the row
    /// open for the next sweep (and alerts once it keeps failing).
    pub(super) async fn withdraw(&self, policy: &Policy, grant: Grant, why: &str, loud: bool) -> Result<()> {
        let (role, person) = self.end_parts(policy, &grant).await;
        let mut ending = Ending::plain(EndReason::Withdrawn, Actor::System);
        ending.note = Some(why.to_owned());
        ending.detail = json!({"alerted": loud});
        let (ended, mut commit) = match self.prepare_end(&role, &person, grant.clone(), ending, None).await {
            Ok(prepared) => prepared,
            Err(e) => {
                self.end_failed(&grant, &e, self.now()).await;
                return Err(e);
            }
        };
        let text = format!(
            "🚨 A grant of {} to {} was being made when {why}; pimbot removed the assignment (grant {}).",
            crate::core::text::strong(&ended.role),
            person.id,
            ended.id
        );
        // The holder never had it confirmed: tell the feed and the alert channel, not them.
        commit.outbox = feed(&self.channels, ended.request_id.as_str(), &text);
        if loud {
            commit.outbox.extend(alert(&self.channels, ended.request_id.as_str(), &text));
        }
        self.commit(commit).await?;
        self.end_succeeded(&ended.id);
        Ok(())
    }
}
