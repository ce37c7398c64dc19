//! The append-only audit trail: events, who did them, and the stored record. How records are
//! linked (the keyed chain) and checked lives in `audit_chain`; checkpoints in `checkpoint`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use super::event_kind::EventKind;
use super::ids::{PersonId, RequestId, RoleKey};

/// Detail key: the decision was made by pimbot (an automatic approval), not by a person.
pub const DETAIL_AUTO: &str = "auto";
/// Detail key: seconds from submission to the decision.
pub const DETAIL_TIME_TO_DECISION_SECS: &str = "time_to_decision_secs";

/// The hash before the first record.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "snake_case")]
pub enum Actor {
    /// A known person.
    Person(PersonId),
    /// pimbot itself (scheduler, sweeps).
    System,
}

impl Actor {
    /// Stable text form: a person id or `system`.
    pub fn label(&self) -> String {
        match self {
            Actor::Person(p) => p.to_string(),
            Actor::System => "system".into(),
        }
    }
}

/// One thing that happened, before it is chained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When (truncated to microseconds so both stores round-trip it exactly).
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: Actor,
    /// What, as the stored dotted name of an [`EventKind`] (`request.submitted`). Kept as
    /// text so that records of kinds this version does not know still read and verify.
    pub kind: String,
    /// The request concerned.
    pub request_id: Option<RequestId>,
    /// The role concerned.
    pub role: Option<RoleKey>,
    /// Structured details.
    pub detail: serde_json::Value,
}

impl AuditEvent {
    /// A new event about a request.
    pub fn about(
        at: DateTime<Utc>,
        actor: Actor,
        kind: EventKind,
        request_id: &RequestId,
        role: &RoleKey,
        detail: serde_json::Value,
    ) -> Self {
        Self::new(at, actor, kind, Some(request_id.clone()), Some(role.clone()), detail)
    }

    /// A new event, about a request and role or not.
    pub fn new(
        at: DateTime<Utc>,
        actor: Actor,
        kind: EventKind,
        request_id: Option<RequestId>,
        role: Option<RoleKey>,
        detail: serde_json::Value,
    ) -> Self {
        Self { at: truncate_micros(at), actor, kind: kind.into(), request_id, role, detail }
    }

    /// The kind, when this version knows it.
    pub fn event_kind(&self) -> Option<EventKind> {
        EventKind::parse(&self.kind)
    }

    /// Whether pimbot made the decision itself (`auto` in the details).
    pub fn automatic(&self) -> bool {
        self.detail.get(DETAIL_AUTO).and_then(|v| v.as_bool()).unwrap_or(false)
    }

    /// Seconds from submission to the decision (`time_to_decision_secs`), when recorded.
    pub fn time_to_decision_secs(&self) -> Option<i64> {
        self.detail.get(DETAIL_TIME_TO_DECISION_SECS).and_then(|v| v.as_i64())
    }
}

/// A chained, stored event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditRecord {
    /// Position in the chain, from 1.
    pub seq: i64,
    /// The event.
    #[serde(flatten)]
    pub event: AuditEvent,
    /// Link of the previous record.
    pub prev_hash: String,
    /// This record's link (see `audit_chain`).
    pub hash: String,
    /// Id of the key that made the link: empty for records of the first, unkeyed format,
    /// `unkeyed` for records written with `[audit] unkeyed = true`.
    #[serde(default)]
    pub key_id: String,
}

/// The link of the first chain format (records without a key id): SHA-256 over a text form
/// that leaves out the actor's kind. Kept to verify records written before keys existed.
pub fn legacy_hash(seq: i64, event: &AuditEvent, prev_hash: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        seq.to_string(),
        event.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        event.actor.label(),
        event.kind.clone(),
        event.request_id.as_ref().map(|r| r.to_string()).unwrap_or_default(),
        event.role.as_ref().map(|r| r.to_string()).unwrap_or_default(),
        event.detail.to_string(),
        prev_hash.to_owned(),
    ] {
        h.update(part.as_bytes());
        h.update([0x1f]);
    }
    hex::encode(h.finalize())
}

/// Drops sub-microsecond precision, which PostgreSQL would drop on its own.
pub fn truncate_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_format_leaves_the_actor_kind_out() {
        // Why the chain was re-keyed: a person named "system" and pimbot itself hash alike.
        let at = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("valid");
        let system = AuditEvent {
            at,
            actor: Actor::System,
            kind: EventKind::GrantExpired.into(),
            request_id: None,
            role: None,
            detail: serde_json::json!({}),
        };
        let person = AuditEvent { actor: Actor::Person("system".into()), ..system.clone() };
        assert_eq!(legacy_hash(1, &system, GENESIS_HASH), legacy_hash(1, &person, GENESIS_HASH));
    }

    #[test]
    fn decision_details_are_written_and_read_under_their_stored_keys() {
        let at = chrono::DateTime::from_timestamp(1_767_225_600, 0).expect("valid");
        let detail = serde_json::json!({DETAIL_AUTO: true, DETAIL_TIME_TO_DECISION_SECS: 42});
        assert_eq!(detail, serde_json::json!({"auto": true, "time_to_decision_secs": 42}));
        let auto = AuditEvent::about(
            at,
            Actor::System,
            EventKind::RequestApproved,
            &"r-1".into(),
            &"reader".into(),
            detail,
        );
        assert!(auto.automatic());
        assert_eq!(auto.time_to_decision_secs(), Some(42));
        assert_eq!(auto.event_kind(), Some(EventKind::RequestApproved));
        let human = AuditEvent { detail: serde_json::json!({"time_to_decision_secs": 7}), ..auto.clone() };
        assert!(!human.automatic());
        assert_eq!(human.time_to_decision_secs(), Some(7));
        let unknown = AuditEvent { kind: "test.unknown".into(), detail: serde_json::json!({}), ..auto };
        assert_eq!((unknown.event_kind(), unknown.time_to_decision_secs()), (None, None));
    }
}
