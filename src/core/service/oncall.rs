//! On-call auto-approval in the workflow: asking the provider when a request reaches the
//! approvers (at submission, or after the requester's MFA step-up), and recording what being
//! on call is worth as approvals named "on call per <schedule>", announced loudly.
//!
//! Only a positive answer approves: a provider error or timeout, an unknown e-mail, or a rule
//! that does not cover the role (critical without `allow_critical`) leaves normal approval.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::AccessService;
use super::messages::feed;
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::ids::{PersonId, RequestId};
use crate::core::oncall::{OnCallOutcome, approver_name};
use crate::core::outbox::OutgoingMessage;
use crate::core::policy::{Person, Role};
use crate::core::request::{AccessRequest, Approval};
use crate::core::state::{Action, transition};

impl AccessService {
    /// Asks the role's on-call provider whether `person` is on call now. Never fails: an
    /// error is an outcome, logged, and means normal approval.
    pub(super) async fn oncall_outcome(
        &self,
        role: &Role,
        person: &Person,
        now: DateTime<Utc>,
    ) -> OnCallOutcome {
        let Some(rule) = role.oncall.as_ref().filter(|r| r.applies_to(role)) else {
            return OnCallOutcome::NotApplicable;
        };
        let Some(source) = &self.oncall else {
            return OnCallOutcome::Unavailable("no on-call provider is configured".into());
        };
        let email = person.upn.trim();
        if email.is_empty() {
            return OnCallOutcome::NotOnCall;
        }
        match source.on_call_in(rule.provider, &rule.schedules, email, now).await {
            Ok(Some(schedule)) => OnCallOutcome::OnCall { schedule, approvals: rule.approvals_for(role) },
            Ok(None) => OnCallOutcome::NotOnCall,
            Err(e) => {
                let why: String = format!("{e:#}").chars().take(300).collect();
                tracing::warn!(role = %role.key, person = %person.id, error = %why, "on-call check failed; normal approval");
                OnCallOutcome::Unavailable(why)
            }
        }
    }
}

/// Records the approvals being on call is worth on a pending request (quorum may be reached:
/// then the request is approved). Returns whether it approved the request.
pub(super) fn apply_oncall(
    request: &mut AccessRequest,
    role: &Role,
    outcome: &OnCallOutcome,
    now: DateTime<Utc>,
    audit: &mut Vec<AuditEvent>,
) -> crate::core::error::Result<bool> {
    let OnCallOutcome::OnCall { schedule, approvals } = outcome else { return Ok(false) };
    let Some(rule) = role.oncall.as_ref() else { return Ok(false) };
    for n in 1..=*approvals {
        let name = PersonId::from(approver_name(rule.provider, schedule, n).as_str());
        request.approvals.push(Approval { approver: name.clone(), at: now });
        let count = request.approvals.len() as u32;
        request.state = transition(
            request.state,
            Action::Approve { approvals: count, required: role.approvals_required },
            now,
        )?;
        audit.push(AuditEvent::about(
            now,
            Actor::System,
            EventKind::ApprovalRecorded,
            &request.id,
            &role.key,
            json!({
                "approvals": count,
                "required": role.approvals_required,
                "evidence": {"mode": "on_call", "provider": rule.provider.as_str(), "schedule": schedule},
                "approver": name,
            }),
        ));
    }
    Ok(request.state == crate::core::state::RequestState::Approved)
}

/// The loud feed line announcing an automatic approval.
pub(super) fn announce(
    channels: &[super::Channels],
    request: &AccessRequest,
    role: &Role,
    outcome: &OnCallOutcome,
    approved: bool,
) -> Vec<OutgoingMessage> {
    let OnCallOutcome::OnCall { schedule, approvals } = outcome else { return Vec::new() };
    let provider = role.oncall.as_ref().map_or("on-call", |r| r.provider.display());
    let what = if approved {
        "AUTO-APPROVED".to_owned()
    } else {
        format!("{approvals}/{} approvals recorded automatically", role.approvals_required)
    };
    feed(
        channels,
        request.id.as_str(),
        &format!(
            "🚨📟 ON-CALL {what}: {} is on call per {provider} schedule {schedule}, so request {} for {} ({}) \
             was approved without a human approver{}",
            request.requester,
            request.id,
            crate::core::text::strong(&role.key),
            role.tier.as_str(),
            if approved { "" } else { " for part of its quorum" }
        ),
    )
}

/// The approval rows of a fresh request, for its commit.
pub(super) fn approval_rows(request: &AccessRequest) -> Vec<(RequestId, Approval)> {
    request.approvals.iter().map(|a| (request.id.clone(), a.clone())).collect()
}
