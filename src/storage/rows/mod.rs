//! Row structs as the database returns them, and their conversion into core types.
//!
//! Conversions reject inconsistent data (an unknown state, a closed grant without a reason, an
//! outbox message whose platform disagrees with its column) instead of defaulting: a bad row is a
//! bug or tampering and must surface as an error, not as a plausible-looking record.

use anyhow::{Context, anyhow, bail};
use chrono::{DateTime, Duration, Utc};

use crate::core::alarm::{Alarm, Severity};
use crate::core::audit::{Actor, AuditEvent, AuditRecord};
use crate::core::checkpoint::Checkpoint;
use crate::core::ids::Platform;
use crate::core::outbox::{OutboxItem, OutgoingMessage, PostedRef, RejectedMessage};
use crate::core::policy::RoleKind;
use crate::core::ports::SinkCursor;
use crate::core::request::{AccessRequest, Approval, EndReason, Grant, GrantTarget, NudgeStage};
use crate::core::state::RequestState;

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

/// An `approvals` row (without its request id).
#[derive(Debug, sqlx::FromRow)]
pub struct ApprovalRow {
    /// Approver person id.
    pub approver: String,
    /// When.
    pub at: DateTime<Utc>,
}

impl From<ApprovalRow> for Approval {
    fn from(row: ApprovalRow) -> Self {
        Approval { approver: row.approver.into(), at: row.at }
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

/// An `audit_events` row.
#[derive(Debug, sqlx::FromRow)]
pub struct AuditRow {
    /// Chain position.
    pub seq: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// `person` or `system`.
    pub actor_kind: String,
    /// Person id, or `system`.
    pub actor: String,
    /// Dotted event kind.
    pub kind: String,
    /// Request concerned.
    pub request_id: Option<String>,
    /// Role concerned.
    pub role: Option<String>,
    /// JSON details.
    pub detail: String,
    /// Previous record's hash.
    pub prev_hash: String,
    /// This record's hash.
    pub hash: String,
    /// Id of the key that made the link (`''` for the first format).
    pub key_id: String,
}

impl TryFrom<AuditRow> for AuditRecord {
    type Error = anyhow::Error;

    fn try_from(row: AuditRow) -> anyhow::Result<Self> {
        let ctx = || format!("audit record {} in the database is inconsistent", row.seq);
        let actor = match (row.actor_kind.as_str(), row.actor.as_str()) {
            (ACTOR_SYSTEM, ACTOR_SYSTEM) => Actor::System,
            (ACTOR_PERSON, id) => Actor::Person(id.into()),
            (kind, actor) => bail!("{}: actor {kind:?}/{actor:?}", ctx()),
        };
        let detail = serde_json::from_str(&row.detail).with_context(ctx)?;
        Ok(AuditRecord {
            seq: row.seq,
            event: AuditEvent {
                at: row.at,
                actor,
                kind: row.kind,
                request_id: row.request_id.map(Into::into),
                role: row.role.map(Into::into),
                detail,
            },
            prev_hash: row.prev_hash,
            hash: row.hash,
            key_id: row.key_id,
        })
    }
}

/// The stored `actor_kind` and `actor` of an actor.
pub fn actor_columns(actor: &Actor) -> (&'static str, String) {
    match actor {
        Actor::Person(p) => (ACTOR_PERSON, p.to_string()),
        Actor::System => (ACTOR_SYSTEM, ACTOR_SYSTEM.to_owned()),
    }
}

/// The `audit_head` row.
#[derive(Debug, sqlx::FromRow)]
pub struct HeadRow {
    /// Last appended position (0 when empty).
    pub last_seq: i64,
    /// Last appended hash (the genesis hash when empty).
    pub last_hash: String,
}

/// An `audit_checkpoints` row.
#[derive(Debug, sqlx::FromRow)]
pub struct CheckpointRow {
    /// Position.
    pub seq: i64,
    /// Link at that position.
    pub link: String,
    /// When it was signed.
    pub at: DateTime<Utc>,
    /// Signer (hex).
    pub public_key: String,
    /// Signature (hex).
    pub signature: String,
}

impl From<CheckpointRow> for Checkpoint {
    fn from(row: CheckpointRow) -> Self {
        Checkpoint {
            seq: row.seq,
            link: row.link,
            at: row.at,
            public_key: row.public_key,
            signature: row.signature,
        }
    }
}

/// An `audit_sinks` row as claimed.
#[derive(Debug, sqlx::FromRow)]
pub struct SinkRow {
    /// Sink name.
    pub name: String,
    /// Last record delivered.
    pub event_seq: i64,
    /// Last checkpoint delivered.
    pub checkpoint_seq: i64,
    /// Failed attempts since the last delivery.
    pub attempts: i32,
    /// Last failure.
    pub last_error: Option<String>,
}

impl From<SinkRow> for SinkCursor {
    fn from(row: SinkRow) -> Self {
        SinkCursor {
            name: row.name,
            event_seq: row.event_seq,
            checkpoint_seq: row.checkpoint_seq,
            attempts: row.attempts,
            last_error: row.last_error,
        }
    }
}

/// An `outbox` row as claimed.
#[derive(Debug, sqlx::FromRow)]
pub struct OutboxRow {
    /// Row id.
    pub id: i64,
    /// Platform name.
    pub platform: String,
    /// JSON of the message.
    pub message: String,
    /// Failed attempts.
    pub attempts: i32,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// Whether an earlier attempt may have reached the platform.
    pub in_doubt: bool,
}

impl TryFrom<OutboxRow> for OutboxItem {
    type Error = anyhow::Error;

    fn try_from(row: OutboxRow) -> anyhow::Result<Self> {
        let ctx = || format!("outbox row {} in the database is inconsistent", row.id);
        let message: OutgoingMessage = serde_json::from_str(&row.message).with_context(ctx)?;
        if message.platform.as_str() != row.platform {
            bail!("{}: platform column {:?} but message for {}", ctx(), row.platform, message.platform);
        }
        Ok(OutboxItem {
            id: row.id,
            message,
            attempts: row.attempts,
            created_at: row.created_at,
            in_doubt: row.in_doubt,
        })
    }
}

/// A refused `outbox` row.
#[derive(Debug, sqlx::FromRow)]
pub struct RejectedRow {
    /// Row id.
    pub id: i64,
    /// Platform name.
    pub platform: String,
    /// JSON of the message.
    pub message: String,
    /// The refusal's reason.
    pub last_error: Option<String>,
    /// When it was refused.
    pub rejected_at: Option<DateTime<Utc>>,
}

impl TryFrom<RejectedRow> for RejectedMessage {
    type Error = anyhow::Error;

    fn try_from(row: RejectedRow) -> anyhow::Result<Self> {
        let message: OutgoingMessage = serde_json::from_str(&row.message)
            .with_context(|| format!("outbox row {} in the database is inconsistent", row.id))?;
        let at = row.rejected_at.ok_or_else(|| anyhow!("refused outbox row {} has no time", row.id))?;
        Ok(RejectedMessage { id: row.id, message, reason: row.last_error.unwrap_or_default(), at })
    }
}

/// A `posted_refs` row.
#[derive(Debug, sqlx::FromRow)]
pub struct PostedRefRow {
    /// Platform name.
    pub platform: String,
    /// Reference key.
    pub ref_key: String,
    /// Channel.
    pub channel: String,
    /// Platform message id.
    pub message_id: String,
}

impl TryFrom<PostedRefRow> for PostedRef {
    type Error = anyhow::Error;

    fn try_from(row: PostedRefRow) -> anyhow::Result<Self> {
        let platform = Platform::parse(&row.platform)
            .ok_or_else(|| anyhow!("posted ref {:?} has unknown platform {:?}", row.ref_key, row.platform))?;
        Ok(PostedRef { platform, ref_key: row.ref_key, channel: row.channel, message_id: row.message_id })
    }
}

/// An `alarms` row.
#[derive(Debug, sqlx::FromRow)]
pub struct AlarmRow {
    /// Alarm id.
    pub id: String,
    /// Dedupe key of the sign-in.
    pub signin_id: String,
    /// Break-glass account.
    pub account_upn: String,
    /// Sign-in time.
    pub signed_in_at: DateTime<Utc>,
    /// When the alarm was raised.
    pub raised_at: DateTime<Utc>,
    /// Client IP.
    pub ip: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// Application.
    pub app: Option<String>,
    /// Client.
    pub client: Option<String>,
    /// Conditional Access status.
    pub ca_status: Option<String>,
    /// Whether the sign-in succeeded.
    pub succeeded: bool,
    /// Severity name.
    pub severity: String,
    /// Acknowledging person.
    pub acknowledged_by: Option<String>,
    /// Acknowledgement time.
    pub acknowledged_at: Option<DateTime<Utc>>,
    /// Acknowledgement reason.
    pub reason: Option<String>,
    /// Next page.
    pub next_page_at: Option<DateTime<Utc>>,
    /// Pages sent.
    pub pages: i32,
    /// Compare-and-set version.
    pub version: i64,
    /// Sign-ins it stands for.
    pub signins: i32,
    /// The first sign-in (NULL before migration 0005: `signed_in_at`).
    pub first_signed_in_at: Option<DateTime<Utc>>,
}

impl TryFrom<AlarmRow> for Alarm {
    type Error = anyhow::Error;

    fn try_from(row: AlarmRow) -> anyhow::Result<Self> {
        let ctx = || format!("alarm {} in the database is inconsistent", row.id);
        let severity = Severity::parse(&row.severity)
            .ok_or_else(|| anyhow!("unknown severity {:?}", row.severity))
            .with_context(ctx)?;
        if severity != Severity::of(row.succeeded) {
            bail!("{}: severity {} does not fit succeeded = {}", ctx(), row.severity, row.succeeded);
        }
        let acked = [row.acknowledged_by.is_some(), row.acknowledged_at.is_some(), row.reason.is_some()];
        match (acked, row.next_page_at) {
            ([false, false, false], Some(_)) | ([true, true, true], None) => {}
            ([false, false, false], None) => bail!("{}: open but never pages again", ctx()),
            ([true, true, true], Some(_)) => bail!("{}: acknowledged but still paging", ctx()),
            _ => bail!("{}: acknowledger, time and reason must be set together", ctx()),
        }
        if row.reason.as_deref().is_some_and(|r| r.trim().is_empty()) {
            bail!("{}: acknowledged without a reason", ctx());
        }
        if row.pages < 1 || row.version < 1 {
            bail!("{}: pages {} / version {} below 1", ctx(), row.pages, row.version);
        }
        Ok(Alarm {
            id: row.id.into(),
            account_upn: row.account_upn,
            signin_id: row.signin_id,
            at: row.signed_in_at,
            raised_at: row.raised_at,
            ip: row.ip,
            location: row.location,
            app: row.app,
            client: row.client,
            ca_status: row.ca_status,
            succeeded: row.succeeded,
            severity,
            acknowledged_by: row.acknowledged_by.map(Into::into),
            acknowledged_at: row.acknowledged_at,
            reason: row.reason,
            next_page_at: row.next_page_at,
            pages: row.pages,
            version: row.version,
            signins: row.signins.max(1),
            first_at: row.first_signed_in_at.unwrap_or(row.signed_in_at),
        })
    }
}

/// A `signin_cursor` row's time.
#[derive(Debug, sqlx::FromRow)]
pub struct CursorRow {
    /// Newest sign-in time seen for the account.
    pub last_seen_at: DateTime<Utc>,
}

#[cfg(test)]
#[path = "rows_tests.rs"]
mod tests;
