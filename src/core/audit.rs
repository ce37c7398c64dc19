//! The append-only audit trail: event kinds, and the hash chain that makes edits and deletions
//! detectable. Each record's hash covers its sequence number, its content and the previous hash.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ids::{PersonId, RequestId, RoleKey};

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
    /// What, as a dotted name (`request.submitted`).
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
        kind: &str,
        request_id: &RequestId,
        role: &RoleKey,
        detail: serde_json::Value,
    ) -> Self {
        Self {
            at: truncate_micros(at),
            actor,
            kind: kind.into(),
            request_id: Some(request_id.clone()),
            role: Some(role.clone()),
            detail,
        }
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
    /// Hash of the previous record.
    pub prev_hash: String,
    /// Hash of this record.
    pub hash: String,
}

impl AuditRecord {
    /// Chains `event` after a record with `prev_hash` at position `seq`.
    pub fn chain(seq: i64, event: AuditEvent, prev_hash: &str) -> Self {
        let hash = chain_hash(seq, &event, prev_hash);
        Self { seq, event, prev_hash: prev_hash.into(), hash }
    }
}

/// The hash of an event at a position after `prev_hash`: SHA-256 over a canonical text form.
pub fn chain_hash(seq: i64, event: &AuditEvent, prev_hash: &str) -> String {
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

/// Where and why a chain check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainBreak {
    /// A sequence number is missing (a row was deleted).
    #[error("record {expected} is missing (found {found} next): a row was deleted")]
    Gap {
        /// The position expected.
        expected: i64,
        /// The position found.
        found: i64,
    },
    /// A record does not link to its predecessor.
    #[error("record {seq} does not link to record {}: the chain was cut or reordered", seq - 1)]
    BadLink {
        /// The position.
        seq: i64,
    },
    /// A record's content no longer matches its hash.
    #[error("record {seq} was edited: its content does not match its hash")]
    Tampered {
        /// The position.
        seq: i64,
    },
}

/// Verifies a whole chain from the first record; returns the number of records checked.
pub fn verify_chain(records: &[AuditRecord]) -> Result<usize, ChainBreak> {
    let mut prev = GENESIS_HASH.to_owned();
    for (i, rec) in records.iter().enumerate() {
        let expected = i as i64 + 1;
        if rec.seq != expected {
            return Err(ChainBreak::Gap { expected, found: rec.seq });
        }
        if rec.prev_hash != prev {
            return Err(ChainBreak::BadLink { seq: rec.seq });
        }
        if chain_hash(rec.seq, &rec.event, &rec.prev_hash) != rec.hash {
            return Err(ChainBreak::Tampered { seq: rec.seq });
        }
        prev = rec.hash.clone();
    }
    Ok(records.len())
}

/// Drops sub-microsecond precision, which PostgreSQL would drop on its own.
pub fn truncate_micros(t: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    t.trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn chain(n: i64) -> Vec<AuditRecord> {
        let mut prev = GENESIS_HASH.to_owned();
        (1..=n)
            .map(|seq| {
                let at = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, seq as u32).single().expect("valid");
                let ev = AuditEvent::about(
                    at,
                    Actor::Person("alice".into()),
                    "request.submitted",
                    &RequestId::from("r-1"),
                    &RoleKey::from("global-admin"),
                    serde_json::json!({"n": seq}),
                );
                let rec = AuditRecord::chain(seq, ev, &prev);
                prev = rec.hash.clone();
                rec
            })
            .collect()
    }

    #[test]
    fn an_untouched_chain_verifies() {
        assert_eq!(verify_chain(&chain(5)), Ok(5));
        assert_eq!(verify_chain(&[]), Ok(0));
    }

    #[test]
    fn an_edit_is_detected() {
        let mut c = chain(5);
        c[2].event.detail = serde_json::json!({"n": 99});
        assert_eq!(verify_chain(&c), Err(ChainBreak::Tampered { seq: 3 }));
    }

    #[test]
    fn a_deletion_is_detected() {
        let mut c = chain(5);
        c.remove(2);
        assert_eq!(verify_chain(&c), Err(ChainBreak::Gap { expected: 3, found: 4 }));
    }

    #[test]
    fn a_rehashed_edit_still_breaks_the_link() {
        let mut c = chain(5);
        c[1].event.kind = "request.approved".into();
        c[1].hash = chain_hash(2, &c[1].event, &c[1].prev_hash);
        assert_eq!(verify_chain(&c), Err(ChainBreak::BadLink { seq: 3 }));
    }
}
