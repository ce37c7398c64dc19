//! Row structs as the database returns them, and their conversion into core types.
//!
//! Conversions reject inconsistent data (an unknown state, a closed grant without a reason, an
//! outbox message whose platform disagrees with its column) instead of defaulting: a bad row is a
//! bug or tampering and must surface as an error, not as a plausible-looking record. Requests,
//! approvals and grants are here; `audit`, `outbox`, `alarm` and `governance` hold the other
//! tables' rows.

mod alarm;
mod audit;
mod governance;
mod outbox;

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Duration, Utc};

use crate::core::ids::Platform;
use crate::core::policy::RoleKind;
use crate::core::request::{AccessRequest, Approval, EndReason, Grant, GrantTarget, NudgeStage};
use crate::core::state::RequestState;

pub use alarm::{AlarmRow, CursorRow};
pub use audit::{AuditRow, CheckpointRow, HeadRow, SinkRow, actor_columns};
pub use governance::{CampaignRow, ExtensionRow, ItemRow, RemovalRow};
pub use outbox::{OutboxRow, PostedRefRow, RejectedRow};

/// Stored `actor_kind` of a person.
pub const ACTOR_PERSON: &str = "person";
/// Stored `actor_kind` (and `actor`) of pimbot itself.
pub const ACTOR_SYSTEM: &str = "system";

/// A `requests` row.
#[derive(Debug, sqlx::FromRow)]
pub struct RequestRow {
    /// Request id.
    pub id: String,
    /// Requester person id.
    pub requester: String,
    /// Role key.
    pub role: String,
    /// Requested duration in whole seconds.
    pub duration_secs: i64,
    /// Justification.
    pub justification: String,
    /// Ticket.
    pub ticket: Option<String>,
    /// State name.
    pub state: String,
    /// Compare-and-set version.
    pub version: i64,
    /// Origin platform name.
    pub origin: String,
    /// Submission time.
    pub created_at: DateTime<Utc>,
    /// Decision time.
    pub decided_at: Option<DateTime<Utc>>,
    /// Decider.
    pub decided_by: Option<String>,
    /// Reason.
    pub reason: Option<String>,
    /// Nudge stage name.
    pub nudge_stage: String,
    /// Next SLA step.
    pub next_nudge_at: Option<DateTime<Utc>>,
    /// Linked grant.
    pub grant_id: Option<String>,
    /// Scheduled start (migration 0010).
    pub starts_at: Option<DateTime<Utc>>,
    /// Activation lease (migration 0014).
    pub activation_lease_until: Option<DateTime<Utc>>,
    /// Whether any approval of the request is stored (`queries::request_select`).
    pub has_approvals: bool,
}

impl RequestRow {
    /// Converts the row, attaching `approvals` (already ordered).
    pub fn into_request(self, approvals: Vec<Approval>) -> anyhow::Result<AccessRequest> {
        let ctx = || format!("request {} in the database is inconsistent", self.id);
        let state = RequestState::parse(&self.state)
            .ok_or_else(|| anyhow!("unknown state {:?}", self.state))
            .with_context(ctx)?;
        let origin = Platform::parse(&self.origin)
            .ok_or_else(|| anyhow!("unknown origin platform {:?}", self.origin))
            .with_context(ctx)?;
        let nudge_stage = NudgeStage::parse(&self.nudge_stage)
            .ok_or_else(|| anyhow!("unknown nudge stage {:?}", self.nudge_stage))
            .with_context(ctx)?;
        if self.duration_secs <= 0 {
            return Err(anyhow!("non-positive duration {}s", self.duration_secs)).with_context(ctx);
        }
        if self.version < 1 {
            return Err(anyhow!("version {} below 1", self.version)).with_context(ctx);
        }
        Ok(AccessRequest {
            duration: Duration::seconds(self.duration_secs),
            id: self.id.into(),
            requester: self.requester.into(),
            role: self.role.into(),
            justification: self.justification,
            ticket: self.ticket,
            state,
            version: self.version,
            origin,
            created_at: self.created_at,
            decided_at: self.decided_at,
            decided_by: self.decided_by.map(Into::into),
            reason: self.reason,
            approvals,
            nudge_stage,
            next_nudge_at: self.next_nudge_at,
            grant_id: self.grant_id.map(Into::into),
            starts_at: self.starts_at,
            activation_lease_until: self.activation_lease_until,
        })
    }
}

/// A `grants` row.
#[derive(Debug, sqlx::FromRow)]
pub struct GrantRow {
    /// Grant id.
    pub id: String,
    /// Creating request.
    pub request_id: String,
    /// Holder.
    pub person: String,
    /// Role key.
    pub role: String,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// Scheduled end.
    pub ends_at: DateTime<Utc>,
    /// Actual end.
    pub ended_at: Option<DateTime<Utc>>,
    /// End reason name.
    pub end_reason: Option<String>,
    /// Compare-and-set version.
    pub version: i64,
    /// Directory kind of the assignment (`entra-role`, `azure-role`, `group`).
    pub target_kind: Option<String>,
    /// Role definition / group id of the assignment.
    pub target_directory_id: Option<String>,
    /// Scope of the assignment.
    pub target_scope: Option<String>,
    /// Holder's directory object id.
    pub target_principal: Option<String>,
    /// Written ahead of the directory call, not yet confirmed.
    pub granting: bool,
}

impl TryFrom<GrantRow> for Grant {
    type Error = anyhow::Error;

    fn try_from(row: GrantRow) -> anyhow::Result<Self> {
        let ctx = || format!("grant {} in the database is inconsistent", row.id);
        let end_reason = match (&row.ended_at, &row.end_reason) {
            (None, None) => None,
            (Some(_), Some(r)) => Some(
                EndReason::parse(r).ok_or_else(|| anyhow!("unknown end reason {r:?}")).with_context(ctx)?,
            ),
            (Some(_), None) => bail!("{}: ended without a reason", ctx()),
            (None, Some(r)) => bail!("{}: open but has end reason {r:?}", ctx()),
        };
        if row.ends_at < row.starts_at {
            bail!("{}: ends before it starts", ctx());
        }
        let target = match (row.target_kind, row.target_directory_id, row.target_scope) {
            (None, None, None) => None,
            (Some(kind), Some(directory_id), Some(scope)) => Some(GrantTarget {
                kind: RoleKind::parse(&kind)
                    .ok_or_else(|| anyhow!("unknown target kind {kind:?}"))
                    .with_context(ctx)?,
                directory_id,
                scope,
                principal_id: row.target_principal,
            }),
            _ => bail!("{}: a partial directory target", ctx()),
        };
        Ok(Grant {
            id: row.id.into(),
            request_id: row.request_id.into(),
            person: row.person.into(),
            role: row.role.into(),
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            ended_at: row.ended_at,
            end_reason,
            version: row.version,
            target,
            granting: row.granting,
        })
    }
}

#[cfg(test)]
mod tests;
