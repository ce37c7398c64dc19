use super::*;

fn at(s: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600 + s, 0).expect("valid")
}

fn signer() -> CheckpointSigner {
    CheckpointSigner::from_hex_seed(&"11".repeat(32)).expect("seed")
}

#[test]
fn a_signed_checkpoint_verifies_and_an_altered_one_does_not() {
    let s = signer();
    let cp = s.sign(10, "ab".repeat(32).as_str(), at(0));
    assert_eq!(cp.public_key, s.public_key_hex());
    assert!(cp.verify(&[s.verifying_key()]).is_ok());
    let moved = Checkpoint { seq: 11, ..cp.clone() };
    assert!(moved.verify(&[s.verifying_key()]).is_err());
    let other = CheckpointSigner::from_hex_seed(&"22".repeat(32)).expect("seed");
    assert!(cp.verify(&[other.verifying_key()]).is_err());
    assert!(cp.verify(&[other.verifying_key(), s.verifying_key()]).is_ok());
}

#[test]
fn seeds_are_checked_and_derivation_is_stable_and_key_specific() {
    assert!(CheckpointSigner::from_hex_seed("abcd").is_err());
    assert!(CheckpointSigner::from_hex_seed(&"zz".repeat(32)).is_err());
    let k1 = AuditKey::new(&[7u8; 32]).expect("key");
    let k2 = AuditKey::new(&[8u8; 32]).expect("key");
    let d1 = CheckpointSigner::derived_from(&k1).public_key_hex();
    assert_eq!(d1, CheckpointSigner::derived_from(&k1).public_key_hex());
    assert_ne!(d1, CheckpointSigner::derived_from(&k2).public_key_hex());
    assert!(public_key_from_hex(&d1).is_ok());
}

#[test]
fn sink_lines_round_trip() {
    let cp = signer().sign(3, "cd", at(5));
    let line = serde_json::to_string(&SinkLine::Checkpoint(cp.clone())).expect("json");
    assert!(line.starts_with(r#"{"type":"checkpoint","seq":3,"#), "{line}");
    assert_eq!(serde_json::from_str::<SinkLine>(&line).expect("parse"), SinkLine::Checkpoint(cp));
}

#[test]
fn the_trail_reports_rewrites_and_truncation() {
    let s = signer();
    let trail = || CheckpointTrail::new(vec![s.sign(2, "l2", at(1)), s.sign(4, "l4", at(2))]).expect("trail");
    let mut t = trail();
    for (seq, link) in [(1, "l1"), (2, "l2"), (3, "l3"), (4, "l4"), (5, "l5")] {
        t.observe(seq, link).expect("matches");
    }
    assert_eq!(t.finish(5), Ok(()));
    assert_eq!(t.last_matched(), 4);

    let mut t = trail();
    t.observe(2, "l2").expect("matches");
    assert!(matches!(t.observe(4, "other"), Err(ChainBreak::CheckpointMismatch { seq: 4, .. })));

    let mut t = trail();
    t.observe(2, "l2").expect("matches");
    t.observe(3, "l3").expect("no checkpoint");
    let err = t.finish(3).expect_err("rolled back");
    assert_eq!(err.seq(), 4);
    assert_eq!(trail().finish(0).expect_err("wiped").seq(), 1);
}

#[test]
fn two_links_signed_for_one_position_are_refused() {
    let s = signer();
    assert!(CheckpointTrail::new(vec![s.sign(2, "a", at(1)), s.sign(2, "a", at(1))]).is_ok());
    assert!(CheckpointTrail::new(vec![s.sign(2, "a", at(1)), s.sign(2, "b", at(1))]).is_err());
}
