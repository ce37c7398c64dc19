//! The audit trail against an insider with write access to the database: the four tamperings
//! and a rollback to an earlier checkpoint, each reported by `pimbot audit verify` (the real
//! binary) with the first bad record and exit 4; key rotation; the upgrade of a chain written
//! before keys; and checkpoints on their cadence, signed, in the feed and in the sinks.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use chrono::Duration;
use pimbot::audit::SinkPump;
use pimbot::audit::local::FileSink;
use pimbot::core::audit::{Actor, AuditRecord, EventKind, GENESIS_HASH, legacy_hash};
use pimbot::core::audit_chain::{AuditKey, Linker};
use pimbot::core::checkpoint::{CheckpointSigner, SinkLine};
use pimbot::core::ports::{Clock, Commit, Store};
use pimbot::core::service::CheckpointPolicy;
use pimbot::testing::audit::{TEST_AUDIT_KEY, test_key};
use tempfile::TempDir;

use crate::on_every_backend;
use crate::support::app::{FEED, POLICY, TestApp};
use crate::support::db::TestDb;

/// A second key, for rotation.
const NEW_KEY: &str = "rotated-audit-key-for-tests-only-fedcba9876543210";

/// Checkpoints after every event, signed with the key derived from the test key.
fn every_event() -> CheckpointPolicy {
    CheckpointPolicy {
        signer: CheckpointSigner::derived_from(&test_key()),
        every_events: 1,
        every: Duration::minutes(10),
    }
}

/// What the sinks carried away: a file sink's JSON lines, and where checkpoints were signed.
struct Trail {
    dir: TempDir,
    sink: PathBuf,
    checkpoints: Vec<i64>,
}

fn file_pump(app: &TestApp, path: &Path) -> SinkPump {
    let sink = Arc::new(FileSink::new(path.to_path_buf(), 10 * 1024 * 1024, 3));
    SinkPump::new("file".into(), sink, app.store().clone(), app.clock.clone())
}

/// Two activations, a checkpoint after each, everything pumped into a file sink.
async fn trail(app: &TestApp) -> Trail {
    let dir = tempfile::tempdir().expect("tmp");
    let sink = dir.path().join("audit.jsonl");
    let pump = file_pump(app, &sink);
    let mut checkpoints = Vec::new();
    for (user, text) in [("U0ALICE", "reader 30m first look"), ("U0BOB", "reader 30m second look")] {
        app.activate(user, text).await;
        app.settle().await;
        let cp = app.running.service.checkpoint_if_due(&every_event(), app.clock.now()).await.expect("sign");
        checkpoints.push(cp.expect("a checkpoint is due").seq);
        pump.drain().await.expect("pump");
    }
    Trail { dir, sink, checkpoints }
}

async fn records(store: &dyn Store) -> Vec<AuditRecord> {
    store.audit_page(0, None, 10_000).await.expect("records")
}

/// Runs `pimbot audit --config … <args>` on the app's database with `env`.
fn pimbot_audit(db: &TestDb, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let config = dir.join("verify.toml");
    std::fs::write(&config, POLICY.replace("sqlite://unused.db", &db.url)).expect("config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pimbot"));
    cmd.args(["--log-format", "json", "audit", "--config"]).arg(&config).args(args);
    cmd.env_remove("PIMBOT_CONFIG")
        .env_remove("PIMBOT_AUDIT_KEYS_OLD")
        .env_remove("PIMBOT_AUDIT_SIGNING_KEY");
    cmd.env("PIMBOT_AUDIT_KEY", TEST_AUDIT_KEY);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run pimbot audit");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn verify(app: &TestApp, trail: &Trail, with_checkpoints: bool) -> (i32, String) {
    let sink = trail.sink.display().to_string();
    let args: Vec<&str> =
        if with_checkpoints { vec!["verify", "--checkpoints", &sink] } else { vec!["verify"] };
    let (code, out, err) = pimbot_audit(&app.db, trail.dir.path(), &args, &[]);
    (code, format!("{out}{err}"))
}

/// Moves the head as an insider would.
async fn set_head(db: &TestDb, seq: i64, hash: &str) {
    db.exec(&format!("UPDATE audit_head SET last_seq = {seq}, last_hash = '{hash}' WHERE id = 1")).await;
}

fn sql_text(s: &str) -> String {
    s.replace('\'', "''")
}

#[tokio::test]
async fn deleting_the_newest_rows_and_moving_the_head_back_is_caught_by_the_checkpoints() {
    on_every_backend!(|app: TestApp| async move {
        let trail = trail(&app).await;
        assert_eq!(verify(&app, &trail, true).0, 0, "intact: {}", verify(&app, &trail, true).1);
        let keep = trail.checkpoints[0];
        let kept = records(app.store().as_ref()).await[keep as usize - 1].clone();
        app.db.exec(&format!("DELETE FROM audit_events WHERE seq > {keep}")).await;
        set_head(&app.db, keep, &kept.hash).await;
        let (code, out) = verify(&app, &trail, false);
        assert_eq!(code, 0, "inside the database alone this is consistent: {out}");
        let (code, out) = verify(&app, &trail, true);
        assert_eq!(code, 4, "{out}");
        assert!(out.contains(&format!("first bad record {}", keep + 1)), "{out}");
        assert!(out.contains("truncated or rolled back"), "{out}");
        app.stop().await;
    });
}

#[tokio::test]
async fn wiping_the_table_and_resetting_the_head_is_caught_by_the_checkpoints() {
    on_every_backend!(|app: TestApp| async move {
        let trail = trail(&app).await;
        app.db.exec("DELETE FROM audit_events").await;
        set_head(&app.db, 0, GENESIS_HASH).await;
        let (code, out) = verify(&app, &trail, true);
        assert_eq!(code, 4, "{out}");
        assert!(out.contains("first bad record 1:"), "{out}");
        app.stop().await;
    });
}

#[tokio::test]
async fn an_edited_justification_with_every_later_hash_recomputed_is_caught() {
    on_every_backend!(|app: TestApp| async move {
        let trail = trail(&app).await;
        let all = records(app.store().as_ref()).await;
        let edited =
            all.iter().find(|r| r.event.detail.get("justification").is_some()).expect("a submission");
        let seq = edited.seq;
        let mut detail = edited.event.detail.clone();
        detail["justification"] = "routine check, nothing to see".into();
        app.db
            .exec(&format!(
                "UPDATE audit_events SET detail = '{}' WHERE seq = {seq}",
                sql_text(&detail.to_string())
            ))
            .await;
        // Every later link recomputed with plain SHA-256, and the head moved to match.
        let mut prev = if seq == 1 { GENESIS_HASH.to_owned() } else { all[seq as usize - 2].hash.clone() };
        for mut r in records(app.store().as_ref()).await.into_iter().skip(seq as usize - 1) {
            r.prev_hash.clone_from(&prev);
            r.hash = legacy_hash(r.seq, &r.event, &prev);
            app.db
                .exec(&format!(
                    "UPDATE audit_events SET prev_hash = '{}', hash = '{}' WHERE seq = {}",
                    r.prev_hash, r.hash, r.seq
                ))
                .await;
            prev = r.hash;
        }
        set_head(&app.db, all.len() as i64, &prev).await;
        for with_checkpoints in [false, true] {
            let (code, out) = verify(&app, &trail, with_checkpoints);
            assert_eq!(code, 4, "{out}");
            assert!(out.contains(&format!("first bad record {seq}:")), "{out}");
        }
        app.stop().await;
    });
}

#[tokio::test]
async fn flipping_the_actor_kind_from_system_to_person_is_caught() {
    on_every_backend!(|app: TestApp| async move {
        let trail = trail(&app).await;
        let all = records(app.store().as_ref()).await;
        let seq = all.iter().find(|r| r.event.actor == Actor::System).expect("a system event").seq;
        app.db.exec(&format!("UPDATE audit_events SET actor_kind = 'person' WHERE seq = {seq}")).await;
        let (code, out) = verify(&app, &trail, false);
        assert_eq!(code, 4, "{out}");
        assert!(out.contains(&format!("first bad record {seq}:")), "{out}");
        app.stop().await;
    });
}

#[tokio::test]
async fn a_rollback_to_an_earlier_checkpoint_is_caught_even_after_new_events() {
    on_every_backend!(|app: TestApp| async move {
        let trail = trail(&app).await;
        let (first, second) = (trail.checkpoints[0], trail.checkpoints[1]);
        let at_first = records(app.store().as_ref()).await[first as usize - 1].hash.clone();
        // The database restored to the state of the first checkpoint...
        app.db.exec(&format!("DELETE FROM audit_events WHERE seq > {first}")).await;
        set_head(&app.db, first, &at_first).await;
        let (code, out) = verify(&app, &trail, true);
        assert_eq!(code, 4, "{out}");
        assert!(out.contains(&format!("first bad record {}", first + 1)), "{out}");
        // ...and pimbot carrying on past the second checkpoint's position with valid links.
        while app.store().audit_head().await.expect("head").expect("kept").0 < second {
            app.activate("U0ALICE", "reader 30m carrying on").await;
            app.settle().await;
        }
        assert_eq!(verify(&app, &trail, false).0, 0, "the new chain is keyed and consistent");
        let (code, out) = verify(&app, &trail, true);
        assert_eq!(code, 4, "{out}");
        assert!(out.contains(&format!("first bad record {second}:")), "{out}");
        assert!(out.contains(&format!("still matched at record {first}")), "{out}");
        app.stop().await;
    });
}

#[tokio::test]
async fn a_forged_checkpoint_is_refused() {
    on_every_backend!(|app: TestApp| async move {
        let trail = trail(&app).await;
        let forger = CheckpointSigner::from_hex_seed(&"42".repeat(32)).expect("seed");
        let forged = SinkLine::Checkpoint(forger.sign(1, GENESIS_HASH, app.clock.now()));
        let mut text = std::fs::read_to_string(&trail.sink).expect("sink");
        text.push_str(&serde_json::to_string(&forged).expect("json"));
        text.push('\n');
        std::fs::write(&trail.sink, text).expect("write");
        let (code, out) = verify(&app, &trail, true);
        assert_eq!(code, 4, "{out}");
        assert!(out.contains("does not verify"), "{out}");
        app.stop().await;
    });
}

#[tokio::test]
async fn rotating_the_key_keeps_old_events_verifiable_with_the_old_key_id() {
    on_every_backend!(|app: TestApp| async move {
        let trail = trail(&app).await;
        let old_id = test_key().id().to_owned();
        // Restart with a new key: a new segment starts, later records carry the new key id.
        let new_key = Arc::new(AuditKey::new(NEW_KEY.as_bytes()).expect("key"));
        let store =
            pimbot::storage::connect_with(&app.db.url, Linker::Keyed(new_key.clone())).await.expect("store");
        let service = pimbot::core::service::AccessService::new(
            store.clone(),
            app.directory.clone(),
            app.clock.clone(),
            app.running.service.policy().as_ref().clone(),
            Vec::new(),
        );
        assert!(service.start_audit_segment(new_key.id()).await.expect("segment"));
        assert!(!service.start_audit_segment(new_key.id()).await.expect("once"), "only at a change of key");
        let all = records(store.as_ref()).await;
        let bridge = all.last().expect("bridge");
        assert_eq!(
            (bridge.event.kind.as_str(), bridge.key_id.as_str()),
            ("audit.segment_started", new_key.id())
        );
        assert_eq!(bridge.event.detail["previous_key_id"], old_id.as_str());
        assert!(all[..all.len() - 1].iter().all(|r| r.key_id == old_id));

        let sink = trail.sink.display().to_string();
        let both = [("PIMBOT_AUDIT_KEY", NEW_KEY), ("PIMBOT_AUDIT_KEYS_OLD", TEST_AUDIT_KEY)];
        let (code, out, err) =
            pimbot_audit(&app.db, trail.dir.path(), &["verify", "--checkpoints", &sink], &both);
        assert_eq!(code, 0, "old records verify with the old key id: {out}{err}");
        let (code, out, err) = pimbot_audit(&app.db, trail.dir.path(), &["verify"], &both[..1]);
        assert_eq!(code, 4, "{out}{err}");
        assert!(
            err.contains(&format!("key id \"{old_id}\"")) && err.contains("first bad record 1:"),
            "{err}"
        );
        app.stop().await;
    });
}

#[tokio::test]
async fn a_chain_written_before_keys_continues_as_a_keyed_segment_committing_to_its_head() {
    on_every_backend!(|app: TestApp| async move {
        // Three records of the first format, as a database from before migration 0007 holds.
        let mut prev = GENESIS_HASH.to_owned();
        let legacy = pimbot::storage::connect_with(&app.db.url, Linker::Unkeyed).await.expect("store");
        for n in 1..=3 {
            let event = pimbot::core::audit::AuditEvent::about(
                app.clock.now(),
                Actor::Person("alice".into()),
                EventKind::RequestSubmitted,
                &format!("r-old{n}").as_str().into(),
                &"reader".into(),
                serde_json::json!({"justification": format!("old {n}")}),
            );
            legacy.commit(Commit { audit: vec![event], ..Commit::default() }).await.expect("append");
            let rec = records(legacy.as_ref()).await.pop().expect("appended");
            let hash = legacy_hash(rec.seq, &rec.event, &prev);
            app.db
                .exec(&format!(
                    "UPDATE audit_events SET key_id = '', prev_hash = '{prev}', hash = '{hash}' WHERE seq = {}",
                    rec.seq
                ))
                .await;
            set_head(&app.db, rec.seq, &hash).await;
            prev = hash;
        }
        assert!(app.running.service.start_audit_segment(test_key().id()).await.expect("segment"));
        let all = records(app.store().as_ref()).await;
        assert_eq!((all[3].prev_hash.as_str(), all[3].key_id.as_str()), (prev.as_str(), test_key().id()));
        let dir = tempfile::tempdir().expect("tmp");
        let (code, out, err) = pimbot_audit(&app.db, dir.path(), &["verify"], &[]);
        assert_eq!(code, 0, "{out}{err}");
        assert!(out.contains("3 record(s) predate the keyed chain"), "{out}");
        // Rewriting the old segment consistently still breaks the bridge.
        app.db.exec("UPDATE audit_events SET detail = '{\"justification\":\"x\"}' WHERE seq = 3").await;
        let rec = records(app.store().as_ref()).await[2].clone();
        let rehashed = legacy_hash(3, &rec.event, &rec.prev_hash);
        app.db.exec(&format!("UPDATE audit_events SET hash = '{rehashed}' WHERE seq = 3")).await;
        let (code, _, err) = pimbot_audit(&app.db, dir.path(), &["verify"], &[]);
        assert_eq!(code, 4, "{err}");
        assert!(err.contains("first bad record 4:"), "{err}");
        app.stop().await;
    });
}

#[tokio::test]
async fn checkpoints_follow_their_cadence_reach_the_feed_and_the_sinks_and_match_pubkey() {
    on_every_backend!(|app: TestApp| async move {
        let policy = CheckpointPolicy { every_events: 3, every: Duration::minutes(10), ..every_event() };
        let started = app.clock.now();
        let service = &app.running.service;
        assert!(service.checkpoint_if_due(&policy, started).await.expect("none").is_none(), "empty chain");
        app.activate("U0ALICE", "global-admin 1h #INC-1 look").await;
        let head = app.store().audit_head().await.expect("head").expect("head").0;
        assert!(head < 3, "fewer events than the cadence: {head}");
        assert!(service.checkpoint_if_due(&policy, started).await.expect("none").is_none());
        app.activate("U0ALICE", "reader 30m two").await;
        app.activate("U0BOB", "reader 30m three").await;
        let first = service.checkpoint_if_due(&policy, started).await.expect("sign").expect("3 events");
        assert!(service.checkpoint_if_due(&policy, started).await.expect("none").is_none(), "head unmoved");
        app.settle().await;
        let events_before = app.store().audit_head().await.expect("head").expect("head").0;
        app.advance(Duration::minutes(11));
        let second = match service.checkpoint_if_due(&policy, started).await.expect("sign") {
            Some(cp) => cp,
            // The app's own checkpoint loop (every 10 minutes by default, polling every second)
            // may sign the same position first; the position is signed once either way.
            None => match app.store().latest_checkpoint().await.expect("read") {
                Some(cp) if cp.seq > first.seq => cp,
                _ => panic!("time-based checkpoint expected at {events_before} (first at {})", first.seq),
            },
        };
        assert_eq!(second.seq, events_before);
        app.settle().await;
        let feed: Vec<String> = app.channel(FEED).into_iter().map(|m| m.text).collect();
        assert_eq!(feed.iter().filter(|t| t.starts_with("Audit checkpoint")).count(), 2, "{feed:?}");

        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("sink.jsonl");
        file_pump(&app, &path).drain().await.expect("pump");
        let lines: Vec<SinkLine> = std::fs::read_to_string(&path)
            .expect("sink")
            .lines()
            .map(|l| serde_json::from_str(l).expect("a sink line"))
            .collect();
        let mut last_event = 0;
        let mut signed = Vec::new();
        for line in &lines {
            match line {
                SinkLine::Event(r) => {
                    assert_eq!(r.seq, last_event + 1, "events in order, none twice");
                    last_event = r.seq;
                }
                SinkLine::Checkpoint(cp) => {
                    assert!(cp.seq <= last_event, "a checkpoint follows the record it signs");
                    signed.push(cp.clone());
                }
            }
        }
        assert_eq!(signed, vec![first.clone(), second]);
        let (code, out, _) = pimbot_audit(&app.db, dir.path(), &["pubkey"], &[]);
        assert_eq!((code, out.trim()), (0, first.public_key.as_str()));
        app.stop().await;
    });
}

#[tokio::test]
async fn decision_records_name_the_card_messages_on_every_platform() {
    for db in crate::support::db::backends().await {
        let app = TestApp::spawn_with_discord(db).await;
        let (_, id) = app.activate("U0ALICE", "global-admin 1h #INC-1 evidence").await;
        app.settle().await;
        let discord_card = crate::support::discord::card(app.fake_discord(), id.as_str());
        let click = pimbot::testing::discord_signing::click(
            crate::support::discord::CAROL,
            &format!("approve:{id}"),
            crate::support::discord::APPROVERS,
            &discord_card.id,
        );
        app.interact(&click).await;
        app.settle().await;
        let all = records(app.store().as_ref()).await;
        for kind in [EventKind::ApprovalRecorded, EventKind::RequestApproved] {
            let rec = all.iter().find(|r| r.event.kind == kind && r.event.request_id == Some(id.clone()));
            let detail = &rec.unwrap_or_else(|| panic!("{kind} recorded")).event.detail;
            assert_eq!(detail["decided_on"], "discord", "{detail}");
            let messages = detail["messages"].as_array().expect("messages");
            assert!(
                messages.contains(&serde_json::json!({
                    "platform": "slack", "channel": crate::support::app::APPROVERS, "message_id": app.card(&id).ts
                })),
                "{detail}"
            );
            assert!(
                messages
                    .iter()
                    .any(|m| m["platform"] == "discord" && m["message_id"] == discord_card.id.as_str()),
                "{detail}"
            );
        }
        app.stop().await;
    }
}
