use super::*;
use crate::core::audit::EventKind;
use crate::core::ids::{RequestId, RoleKey};

const KEY_A: &[u8] = b"0123456789abcdef0123456789abcdef-key-a";
const KEY_B: &[u8] = b"0123456789abcdef0123456789abcdef-key-b";

fn key(secret: &[u8]) -> Arc<AuditKey> {
    Arc::new(AuditKey::new(secret).expect("long enough"))
}

fn event(n: i64, actor: Actor) -> AuditEvent {
    let at = chrono::DateTime::from_timestamp(1_767_225_600 + n, 0).expect("valid");
    AuditEvent::about(
        at,
        actor,
        EventKind::RequestSubmitted,
        &RequestId::from("r-1"),
        &RoleKey::from("global-admin"),
        serde_json::json!({"justification": format!("reason {n}")}),
    )
}

/// Records `from..=to` linked by `linker` after `prev`.
fn extend(records: &mut Vec<AuditRecord>, linker: &Linker, to: i64) {
    let from = records.len() as i64 + 1;
    for seq in from..=to {
        let prev = records.last().map_or(GENESIS_HASH.to_owned(), |r| r.hash.clone());
        let actor = if seq % 2 == 0 { Actor::System } else { Actor::Person("alice".into()) };
        records.push(linker.chain(seq, event(seq, actor), &prev));
    }
}

fn keyed(n: i64) -> (KeyRing, Vec<AuditRecord>) {
    let k = key(KEY_A);
    let mut records = Vec::new();
    extend(&mut records, &Linker::Keyed(k.clone()), n);
    (KeyRing::new([k]), records)
}

#[test]
fn an_untouched_keyed_chain_verifies() {
    let (ring, records) = keyed(5);
    assert_eq!(verify_records(&ring, &records), Ok(5));
    assert_eq!(verify_records(&ring, &[]), Ok(0));
    assert!(records.iter().all(|r| r.key_id == ring.ids()[0]));
}

#[test]
fn keys_are_refused_when_short_and_their_id_depends_on_the_secret() {
    assert_eq!(AuditKey::new(b"short").err(), Some(ShortKey(5)));
    assert_ne!(key(KEY_A).id(), key(KEY_B).id());
    assert_eq!(key(KEY_A).id(), key(KEY_A).id());
    assert!(!format!("{:?}", key(KEY_A)).contains("0123456789"), "Debug must not show the secret");
}

#[test]
fn an_edit_is_reported_at_its_own_sequence_number() {
    let (ring, mut records) = keyed(5);
    records[2].event.detail = serde_json::json!({"justification": "nothing to see"});
    assert_eq!(verify_records(&ring, &records), Err(ChainBreak::Tampered { seq: 3 }));
}

#[test]
fn an_edit_with_every_later_link_recomputed_without_the_key_is_caught() {
    let (ring, mut records) = keyed(6);
    records[2].event.detail = serde_json::json!({"justification": "nothing to see"});
    // The insider recomputes links 3..=6, with plain SHA-256 and with the unkeyed format, and
    // keeps the key id column as it was.
    for forge in [Linker::Unkeyed] {
        let mut forged = records.clone();
        for i in 2..forged.len() {
            let prev = forged[i - 1].hash.clone();
            let rec = forge.chain(forged[i].seq, forged[i].event.clone(), &prev);
            forged[i].prev_hash = rec.prev_hash;
            forged[i].hash = rec.hash;
        }
        assert_eq!(verify_records(&ring, &forged), Err(ChainBreak::Tampered { seq: 3 }));
    }
    let mut forged = records.clone();
    for i in 2..forged.len() {
        let prev = forged[i - 1].hash.clone();
        forged[i].prev_hash.clone_from(&prev);
        forged[i].hash = legacy_hash(forged[i].seq, &forged[i].event, &prev);
    }
    assert_eq!(verify_records(&ring, &forged), Err(ChainBreak::Tampered { seq: 3 }));
}

#[test]
fn flipping_the_actor_kind_is_caught() {
    let (ring, mut records) = keyed(4);
    assert_eq!(records[1].event.actor, Actor::System);
    records[1].event.actor = Actor::Person("system".into());
    assert_eq!(verify_records(&ring, &records), Err(ChainBreak::Tampered { seq: 2 }));
}

#[test]
fn a_deleted_middle_record_is_a_gap() {
    let (ring, mut records) = keyed(5);
    records.remove(2);
    assert_eq!(verify_records(&ring, &records), Err(ChainBreak::Gap { expected: 3, found: 4 }));
    assert_eq!(ChainBreak::Gap { expected: 3, found: 4 }.seq(), 3);
}

#[test]
fn a_rotated_key_keeps_old_records_verifiable_with_the_old_key_id() {
    let (old, new) = (key(KEY_A), key(KEY_B));
    let mut records = Vec::new();
    extend(&mut records, &Linker::Keyed(old.clone()), 3);
    extend(&mut records, &Linker::Keyed(new.clone()), 6);
    assert_eq!(records[2].key_id, old.id());
    assert_eq!(records[3].key_id, new.id());
    assert_eq!(verify_records(&KeyRing::new([new.clone(), old.clone()]), &records), Ok(6));
    assert_eq!(
        verify_records(&KeyRing::new([new]), &records),
        Err(ChainBreak::UnknownKey { seq: 1, key_id: old.id().to_owned() })
    );
}

#[test]
fn a_keyed_segment_continues_a_chain_of_the_first_format() {
    let mut records = Vec::new();
    for seq in 1..=3 {
        let prev = records.last().map_or(GENESIS_HASH.to_owned(), |r: &AuditRecord| r.hash.clone());
        let ev = event(seq, Actor::System);
        let hash = legacy_hash(seq, &ev, &prev);
        records.push(AuditRecord { seq, event: ev, prev_hash: prev, hash, key_id: String::new() });
    }
    let k = key(KEY_A);
    extend(&mut records, &Linker::Keyed(k.clone()), 5);
    assert_eq!(records[3].prev_hash, records[2].hash, "the first keyed link commits to the old head");
    let ring = KeyRing::new([k]);
    let mut v = ChainVerifier::new(&ring);
    for r in &records {
        v.push(r).expect("verifies");
    }
    assert_eq!(v.unprotected(), (3, 0));
    // Rewriting the old segment, even consistently, breaks the bridge.
    let mut forged = records.clone();
    forged[1].event.kind = EventKind::RequestApproved.into();
    forged[1].hash = legacy_hash(2, &forged[1].event, &forged[1].prev_hash);
    forged[2].prev_hash = forged[1].hash.clone();
    forged[2].hash = legacy_hash(3, &forged[2].event, &forged[2].prev_hash);
    assert_eq!(verify_records(&ring, &forged), Err(ChainBreak::BadLink { seq: 4 }));
}

#[test]
fn unkeyed_records_after_keyed_ones_are_a_downgrade() {
    let (ring, mut records) = keyed(3);
    extend(&mut records, &Linker::Unkeyed, 4);
    assert_eq!(
        verify_records(&ring, &records),
        Err(ChainBreak::Downgrade { seq: 4, key_id: KEY_ID_UNKEYED.into() })
    );
    // Unkeyed before keyed is an upgrade: fine.
    let mut up = Vec::new();
    extend(&mut up, &Linker::Unkeyed, 2);
    extend(&mut up, &Linker::Keyed(key(KEY_A)), 4);
    assert_eq!(verify_records(&ring, &up), Ok(4));
}

#[test]
fn the_encoding_separates_fields_and_absent_from_empty() {
    let linker = Linker::Keyed(key(KEY_A));
    let base = event(1, Actor::System);
    let link = |e: &AuditEvent| linker.prepare(e).finish(1, GENESIS_HASH);
    let none = AuditEvent { request_id: None, ..base.clone() };
    let empty = AuditEvent { request_id: Some(RequestId::from("")), ..base.clone() };
    assert_ne!(link(&none), link(&empty));
    let swapped = AuditEvent {
        request_id: Some(RequestId::from("global-admin")),
        role: Some(RoleKey::from("r-1")),
        ..base.clone()
    };
    assert_ne!(link(&base), link(&swapped));
    let shifted = AuditEvent { kind: "request.submittedx".into(), ..base.clone() };
    assert_ne!(link(&base), link(&shifted));
    assert_ne!(linker.prepare(&base).finish(1, GENESIS_HASH), linker.prepare(&base).finish(2, GENESIS_HASH));
}
