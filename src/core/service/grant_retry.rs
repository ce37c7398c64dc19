//! Grants that cannot be made right now: a transient directory failure keeps the request
//! approved (with its approvals) and schedules the next try with backoff, the card saying
//! "granting… (retrying)"; a permanent one, or the end of `grant_retry_for`, fails the request
//! loudly (alert channel, feed, requester, card).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::AccessService;
use super::activate::{GRANT_RETRY_MAX, GRANT_RETRY_MIN, RETRYING};
use super::messages::{alert, direct, feed, update_card};
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::error::{Error, Result};
use crate::core::policy::{Policy, Role};
use crate::core::ports::{Commit, Write};
use crate::core::request::AccessRequest;
use crate::core::state::{Action, transition};

impl AccessService {
    /// The directory is unavailable for now: try again later while `grant_retry_for` since the
    /// approval lasts, fail the request after that.
    pub(super) async fn not_now(
        &self,
        request: AccessRequest,
        policy: &Policy,
        role: &Role,
        error: &Error,
        now: DateTime<Utc>,
    ) -> Result<AccessRequest> {
        // A scheduled grant's retry window opens at its start, not at its approval.
        let from = request
            .decided_at
            .unwrap_or(request.created_at)
            .max(request.starts_at.unwrap_or(request.created_at));
        let window = from + self.directory.grant_retry_for();
        if now < window {
            tracing::warn!(request = %request.id, error = %format!("{error:#}"), "the directory is unavailable for now; will retry");
            return self.retry_later(request, policy, role, error, now).await;
        }
        tracing::error!(request = %request.id, error = %format!("{error:#}"), "the directory stayed unavailable");
        let why = "the directory stayed unavailable; the grant was not made";
        self.fail(request, policy, role, why, now).await
    }

    /// Keeps the request approved and schedules the next try with backoff; the first time,
    /// the card says "granting… (retrying)" and the feed hears why it waits.
    async fn retry_later(
        &self,
        mut request: AccessRequest,
        policy: &Policy,
        role: &Role,
        error: &Error,
        now: DateTime<Utc>,
    ) -> Result<AccessRequest> {
        let expected_version = request.version;
        let first = request.reason.is_none();
        let waited = now
            - request
                .decided_at
                .unwrap_or(request.created_at)
                .max(request.starts_at.unwrap_or(request.created_at));
        let next = now + waited.clamp(GRANT_RETRY_MIN, GRANT_RETRY_MAX);
        request.reason = Some(RETRYING.to_owned());
        request.next_nudge_at = Some(next);
        request.activation_lease_until = None;
        let id = request.id.clone();
        let mut outbox = Vec::new();
        let mut audit = Vec::new();
        if first {
            if !request.approvals.is_empty() {
                outbox.extend(update_card(&self.channels, policy, role, &request, now));
            }
            outbox.extend(feed(
                &self.channels,
                id.as_str(),
                &format!(
                    "⏳ Granting {} to {} ({id}) is delayed: the directory is unavailable; pimbot keeps trying.",
                    crate::core::text::strong(&role.key),
                    request.requester
                ),
            ));
            let cause: String = format!("{error:#}").chars().take(300).collect();
            audit.push(AuditEvent::about(
                now,
                Actor::System,
                EventKind::GrantRetrying,
                &id,
                &role.key,
                json!({"error": cause, "next_try_at": next}),
            ));
        }
        self.commit(Commit {
            at: Some(now),
            requests: vec![Write::Update { row: request.clone(), expected_version }],
            audit,
            outbox,
            ..Commit::default()
        })
        .await?;
        request.version = expected_version + 1;
        Ok(request)
    }

    /// Fails an approved request, loudly: alert channel, feed, the requester and the card. A
    /// grant row written ahead is left to the withdrawn-grant sweep, which removes whatever an
    /// earlier try may have made.
    pub(super) async fn fail(
        &self,
        mut request: AccessRequest,
        policy: &Policy,
        role: &Role,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessRequest> {
        let expected_version = request.version;
        request.state = transition(request.state, Action::Fail, now)?;
        request.reason = Some(why.to_owned());
        request.next_nudge_at = None;
        request.activation_lease_until = None;
        let id = request.id.clone();
        // The directory's error text is outside input: quoted, so it is escaped and cut.
        let shown = crate::core::text::quote(why);
        let text = format!(
            "🚨 Grant FAILED for request {} ({} → {}): {shown}",
            id,
            request.requester,
            crate::core::text::strong(&role.key)
        );
        let mut outbox = Vec::new();
        if !request.approvals.is_empty() {
            outbox.extend(update_card(&self.channels, policy, role, &request, now));
        }
        outbox.extend(alert(&self.channels, id.as_str(), &text));
        outbox.extend(feed(&self.channels, id.as_str(), &text));
        if let Some(p) = self.requester_to_tell(policy, &request.requester) {
            outbox.extend(direct(
                &self.channels,
                &p,
                id.as_str(),
                &format!(
                    "🚨 Your request {id} for {} was approved, but the grant failed: {shown}",
                    crate::core::text::strong(&role.key)
                ),
            ));
        }
        self.commit(Commit {
            at: Some(now),
            requests: vec![Write::Update { row: request.clone(), expected_version }],
            audit: vec![AuditEvent::about(
                now,
                Actor::System,
                EventKind::GrantFailed,
                &id,
                &role.key,
                json!({"reason": why}),
            )],
            outbox,
            ..Commit::default()
        })
        .await?;
        request.version = expected_version + 1;
        self.work_kick.notify_one(); // the withdrawn-grant sweep has work
        Ok(request)
    }
}
