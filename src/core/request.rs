//! Access requests, approvals and grants: the records the use cases read and write.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{GrantId, PersonId, Platform, RequestId, RoleKey};
use super::policy::RoleKind;
use super::state::RequestState;

/// One approver's yes on a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Approval {
    /// Who approved.
    pub approver: PersonId,
    /// When.
    pub at: DateTime<Utc>,
}

/// How far the SLA ladder has gone for a pending request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NudgeStage {
    /// Nothing sent yet; the next step is a reminder.
    None,
    /// Approvers were reminded; the next step is escalation.
    Reminded,
    /// Escalated; the next step is the time-out.
    Escalated,
}

impl NudgeStage {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            NudgeStage::None => "none",
            NudgeStage::Reminded => "reminded",
            NudgeStage::Escalated => "escalated",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [NudgeStage::None, NudgeStage::Reminded, NudgeStage::Escalated].into_iter().find(|n| n.as_str() == s)
    }
}

/// One activation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessRequest {
    /// Id users type.
    pub id: RequestId,
    /// Who asked.
    pub requester: PersonId,
    /// For which role.
    pub role: RoleKey,
    /// For how long.
    pub duration: Duration,
    /// Why.
    pub justification: String,
    /// Ticket reference, without `#`.
    pub ticket: Option<String>,
    /// Where it is.
    pub state: RequestState,
    /// Compare-and-set version; bumped on every write.
    pub version: i64,
    /// Platform the request came from.
    pub origin: Platform,
    /// When it was submitted.
    pub created_at: DateTime<Utc>,
    /// When it was approved, denied, cancelled or timed out.
    pub decided_at: Option<DateTime<Utc>>,
    /// Who made the final decision.
    pub decided_by: Option<PersonId>,
    /// Denial reason or failure cause.
    pub reason: Option<String>,
    /// Approvals so far, oldest first.
    pub approvals: Vec<Approval>,
    /// SLA ladder position.
    pub nudge_stage: NudgeStage,
    /// When the next SLA step is due (reminder, escalation or time-out); `None` when not pending.
    pub next_nudge_at: Option<DateTime<Utc>>,
    /// The grant this request created or extended.
    pub grant_id: Option<GrantId>,
    /// When its grant starts (`/pim activate … at <time>`); `None` = as soon as approved. The
    /// grant then ends at this + `duration`.
    pub starts_at: Option<DateTime<Utc>>,
    /// Until when one worker holds this approved request while it makes the grant (the
    /// activation lease, taken with the compare-and-set claim); `None` when nobody does.
    pub activation_lease_until: Option<DateTime<Utc>>,
}

impl AccessRequest {
    /// Whether an activation may claim this approved request at `now`: no live lease (another
    /// worker making its grant) and no next try or scheduled start ahead in `next_nudge_at`.
    pub fn activation_due(&self, now: DateTime<Utc>) -> bool {
        let ahead = |at: Option<DateTime<Utc>>| at.is_some_and(|at| at > now);
        !ahead(self.activation_lease_until) && !ahead(self.next_nudge_at)
    }

    /// Whether `person` already approved.
    pub fn approved_by(&self, person: &PersonId) -> bool {
        self.approvals.iter().any(|a| &a.approver == person)
    }
}

/// Why a grant ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EndReason {
    /// Reached its end time.
    Expired,
    /// The holder ended it early.
    Deactivated,
    /// Revoked by an administrator or policy.
    Revoked,
    /// Never completed: its request was cancelled, revoked or failed while the assignment was
    /// being made, so whatever the directory made was removed again.
    Withdrawn,
}

impl EndReason {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            EndReason::Expired => "expired",
            EndReason::Deactivated => "deactivated",
            EndReason::Revoked => "revoked",
            EndReason::Withdrawn => "withdrawn",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [EndReason::Expired, EndReason::Deactivated, EndReason::Revoked, EndReason::Withdrawn]
            .into_iter()
            .find(|r| r.as_str() == s)
    }
}

/// Where in the directory a grant's assignment lives, recorded when the grant is made so the
/// grant can end itself even after its role or its holder left the policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantTarget {
    /// What kind of thing the role grants.
    pub kind: RoleKind,
    /// Role definition / group id in the directory.
    pub directory_id: String,
    /// Scope of the assignment.
    pub scope: String,
    /// The holder's directory object id, when known.
    pub principal_id: Option<String>,
}

/// A time-bound active assignment. At most one unended grant per person and role.
///
/// A grant row is written *before* its directory assignment is made (`granting`), so the
/// directory never holds an assignment pimbot has no row for; once the directory confirmed
/// it, the row is recorded active (`granting` false) together with its request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// Id.
    pub id: GrantId,
    /// The request that created it (later requests may extend it).
    pub request_id: RequestId,
    /// Holder.
    pub person: PersonId,
    /// Role.
    pub role: RoleKey,
    /// When it started.
    pub starts_at: DateTime<Utc>,
    /// When it ends (extensions move this).
    pub ends_at: DateTime<Utc>,
    /// When it actually ended.
    pub ended_at: Option<DateTime<Utc>>,
    /// Why it ended.
    pub end_reason: Option<EndReason>,
    /// Compare-and-set version.
    pub version: i64,
    /// The directory assignment it stands for; `None` on grants recorded before pimbot kept it
    /// (the policy's role is used for those).
    pub target: Option<GrantTarget>,
    /// Written ahead of the directory call and not yet confirmed: the assignment is being made.
    pub granting: bool,
}

impl Grant {
    /// Whether the grant is still in force.
    pub fn is_open(&self) -> bool {
        self.ended_at.is_none()
    }

    /// Whether it is in force and its assignment confirmed by the directory.
    pub fn is_active(&self) -> bool {
        self.is_open() && !self.granting
    }
}
