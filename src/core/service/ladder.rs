//! The approval SLA ladder for pending requests: remind the approvers at `sla`, escalate after
//! another `sla`, time the request out at `request_ttl` (capped at 24 h). Each step advances
//! `nudge_stage` with compare-and-set, so two replicas never send the same step twice.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::AccessService;
use super::messages::{direct, feed, thread, update_card};
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::error::{Error, Result};
use crate::core::policy::{MAX_REQUEST_TTL, Role};
use crate::core::ports::{Commit, Write};
use crate::core::request::{AccessRequest, NudgeStage};
use crate::core::state::{Action, RequestState, transition};

/// When a pending request stops waiting.
pub fn deadline(role: &Role, request: &AccessRequest) -> DateTime<Utc> {
    let ttl = request.created_at + role.request_ttl.min(MAX_REQUEST_TTL);
    // A scheduled request undecided when its window has passed has nothing left to grant.
    match request.starts_at {
        Some(start) => ttl.min(start + request.duration),
        None => ttl,
    }
}

/// When the ladder's next step is due after one taken at `now`: one `sla` later, never past
/// the [`deadline`] (the first reminder of a new request, and the escalation after it).
pub fn next_step_at(role: &Role, request: &AccessRequest, now: DateTime<Utc>) -> DateTime<Utc> {
    (now + role.sla).min(deadline(role, request))
}

impl AccessService {
    /// Runs every due ladder step, at most `limit` requests per call; returns how many moved.
    pub async fn nudge_due(&self, limit: i64) -> Result<usize> {
        let mut moved = 0;
        for request in self.store.due_nudges(self.now(), limit).await? {
            match self.nudge(request).await {
                Ok(()) => moved += 1,
                Err(Error::Conflict(_)) => {}
                Err(e) => tracing::error!(error = %format!("{e:#}"), "SLA step failed; will retry"),
            }
        }
        Ok(moved)
    }

    async fn nudge(&self, mut request: AccessRequest) -> Result<()> {
        if request.state == RequestState::AwaitingMfa {
            return self.expire_step_up(request).await;
        }
        let policy = self.policy();
        let now = self.now();
        let Ok(role) = policy.role(&request.role).cloned() else {
            // Its role left the policy (a reload on this or another replica): stop waiting.
            let why = "its role was removed from the policy";
            return self.cancel_for_policy(request, &policy, why, now).await.map(drop);
        };
        let expected_version = request.version;
        let deadline = deadline(&role, &request);
        let id = request.id.clone();
        let pool = role.approver_pool(&request.requester, now);
        let (kind, outbox) = if now >= deadline {
            request.state = transition(request.state, Action::TimeOut { deadline }, now)?;
            request.decided_at = Some(now);
            request.next_nudge_at = None;
            let mut out = update_card(&self.channels, &policy, &role, &request, now);
            out.extend(feed(
                &self.channels,
                id.as_str(),
                &format!(
                    "⌛ Request {id} by {} for {} timed out: nobody decided",
                    request.requester,
                    crate::core::text::strong(&role.key)
                ),
            ));
            if let Some(p) = self.requester_to_tell(&policy, &request.requester) {
                out.extend(direct(
                    &self.channels,
                    &p,
                    id.as_str(),
                    &format!(
                        "⌛ Your request {id} for {} timed out without a decision.",
                        crate::core::text::strong(&role.key)
                    ),
                ));
            }
            (EventKind::RequestTimedOut, out)
        } else {
            match request.nudge_stage {
                NudgeStage::None => {
                    request.nudge_stage = NudgeStage::Reminded;
                    request.next_nudge_at = Some(next_step_at(&role, &request, now));
                    let text = format!(
                        "⏰ Reminder: request {id} for {} is waiting for approval ({} so far, {} needed).",
                        crate::core::text::strong(&role.key),
                        request.approvals.len(),
                        role.approvals_required
                    );
                    let waiting: Vec<_> = pool.iter().filter(|p| !request.approved_by(p)).cloned().collect();
                    (EventKind::RequestReminded, thread(&self.channels, &policy, &request, &text, &waiting))
                }
                NudgeStage::Reminded => {
                    request.nudge_stage = NudgeStage::Escalated;
                    request.next_nudge_at = Some(deadline);
                    let text = format!(
                        "📣 Escalation: request {id} by {} for {} has had no decision for {}.",
                        request.requester,
                        crate::core::text::strong(&role.key),
                        crate::core::duration::format_duration(now - request.created_at)
                    );
                    let mut out = thread(&self.channels, &policy, &request, &text, &role.escalate_to);
                    out.extend(feed(&self.channels, id.as_str(), &text));
                    (EventKind::RequestEscalated, out)
                }
                NudgeStage::Escalated => {
                    request.next_nudge_at = Some(deadline);
                    (EventKind::RequestNudgeRescheduled, Vec::new())
                }
            }
        };
        let detail = json!({"stage": request.nudge_stage.as_str(), "waited_secs": (now - request.created_at).num_seconds()});
        let audit = vec![AuditEvent::about(now, Actor::System, kind, &id, &role.key, detail)];
        self.commit(Commit {
            at: Some(now),
            requests: vec![Write::Update { row: request, expected_version }],
            audit,
            outbox,
            ..Commit::default()
        })
        .await
    }

    /// Times out a request whose requester did not finish the step-up within
    /// [`STEP_UP_TTL`](crate::core::identity::STEP_UP_TTL). No card was ever posted, so only
    /// the requester and the feed hear of it.
    async fn expire_step_up(&self, mut request: AccessRequest) -> Result<()> {
        let policy = self.policy();
        let now = self.now();
        let expected_version = request.version;
        let deadline =
            request.next_nudge_at.unwrap_or(request.created_at + crate::core::identity::STEP_UP_TTL);
        request.state = transition(request.state, Action::TimeOut { deadline }, now)?;
        request.decided_at = Some(now);
        request.next_nudge_at = None;
        request.reason = Some("the MFA step-up was not completed in time".into());
        let id = request.id.clone();
        let mut outbox = feed(
            &self.channels,
            id.as_str(),
            &format!(
                "⌛ Request {id} by {} for {} expired: no MFA step-up",
                request.requester,
                crate::core::text::strong(&request.role)
            ),
        );
        if let Some(p) = self.requester_to_tell(&policy, &request.requester) {
            outbox.extend(direct(
                &self.channels,
                &p,
                id.as_str(),
                &format!(
                    "⌛ Your request {id} for {} expired: the MFA step-up was not completed within {}. \
                     Request it again when you are ready.",
                    crate::core::text::strong(&request.role),
                    crate::core::duration::format_duration(crate::core::identity::STEP_UP_TTL)
                ),
            ));
        }
        let detail = json!({"waited_secs": (now - request.created_at).num_seconds(), "step_up": true});
        let audit = vec![AuditEvent::about(
            now,
            Actor::System,
            EventKind::RequestTimedOut,
            &id,
            &request.role,
            detail,
        )];
        self.commit(Commit {
            at: Some(now),
            requests: vec![Write::Update { row: request, expected_version }],
            audit,
            outbox,
            ..Commit::default()
        })
        .await
    }
}
