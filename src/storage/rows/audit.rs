//! Audit rows: `audit_events`, the `audit_head`, `audit_checkpoints` and `audit_sinks`, and the
//! stored form of an actor. Like every row here, a row that cannot be a valid record is an error.

use anyhow::{Context, bail};
use chrono::{DateTime, Utc};

use super::{ACTOR_PERSON, ACTOR_SYSTEM};
use crate::core::audit::{Actor, AuditEvent, AuditRecord};
use crate::core::checkpoint::Checkpoint;
use crate::core::ports::SinkCursor;

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
