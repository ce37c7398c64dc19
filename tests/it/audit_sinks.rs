//! Streaming the audit trail: a webhook collector that fails for a minute gets every line once
//! it recovers, in order; `serve` feeds a stdout sink and refuses to start without a key
//! unless told `unkeyed = true`; `audit export --after-seq` pages and `--follow` keeps going.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use chrono::Duration;
use pimbot::audit::SinkPump;
use pimbot::audit::pump::Pumped;
use pimbot::audit::webhook::WebhookSink;
use pimbot::core::checkpoint::CheckpointSigner;
use pimbot::core::ports::Clock;
use pimbot::core::service::CheckpointPolicy;
use pimbot::testing::audit::{TEST_AUDIT_KEY, test_key};
use pimbot::testing::fake_audit_webhook::FakeAuditWebhook;

use crate::on_every_backend;
use crate::support::app::{POLICY, TestApp};

#[tokio::test]
async fn a_webhook_that_fails_for_a_minute_receives_every_event_in_order_once_it_recovers() {
    on_every_backend!(|app: TestApp| async move {
        let fake = FakeAuditWebhook::start(app.clock.clone()).await;
        fake.require_authorization("Splunk test-token");
        let recovers_at = app.clock.now() + Duration::minutes(1);
        fake.fail_until(recovers_at);
        let sink = WebhookSink::new(&fake.url(), Some("Splunk test-token".into()), 4).expect("sink");
        let pump = SinkPump::new("siem".into(), Arc::new(sink), app.store().clone(), app.clock.clone());
        let policy = CheckpointPolicy {
            signer: CheckpointSigner::derived_from(&test_key()),
            every_events: 5,
            every: Duration::minutes(10),
        };
        // Events keep coming while the collector is down; the pump keeps trying.
        let mut postponed = 0;
        for step in 0..40 {
            if step % 4 == 0 {
                app.activate("U0ALICE", &format!("reader 30m look number {step}")).await;
                app.settle().await;
                app.running.service.checkpoint_if_due(&policy, app.clock.now()).await.expect("checkpoint");
            }
            match pump.pump_once().await.expect("pump") {
                Pumped::Postponed => postponed += 1,
                Pumped::Delivered { .. } => {
                    assert!(app.clock.now() >= recovers_at, "nothing gets through early")
                }
                Pumped::Idle => {}
            }
            app.advance(Duration::seconds(5));
        }
        assert!(postponed >= 3, "it failed and was retried: {postponed}");
        assert_eq!(fake.refused(), postponed, "one refused POST per postponed round");
        app.advance(Duration::minutes(10));
        pump.drain().await.expect("drain");

        let head = app.store().audit_head().await.expect("head").expect("head").0;
        let lines = fake.lines();
        let seqs: Vec<i64> =
            lines.iter().filter(|l| l["type"] == "event").map(|l| l["seq"].as_i64().expect("seq")).collect();
        assert_eq!(seqs, (1..=head).collect::<Vec<_>>(), "every event, once, in order");
        let records = app.store().audit_page(0, None, 1000).await.expect("records");
        for (line, record) in lines.iter().filter(|l| l["type"] == "event").zip(&records) {
            assert_eq!(line["hash"], record.hash.as_str(), "the stored record as it is");
            assert_eq!(line["key_id"], test_key().id());
        }
        let checkpoints: Vec<i64> = lines
            .iter()
            .filter(|l| l["type"] == "checkpoint")
            .map(|l| l["seq"].as_i64().expect("seq"))
            .collect();
        assert!(!checkpoints.is_empty(), "checkpoints go to the sink too");
        let distinct: BTreeSet<_> = checkpoints.iter().collect();
        assert_eq!(distinct.len(), checkpoints.len(), "each checkpoint once");
        assert!(fake.batches() >= lines.len().div_ceil(4), "batches of at most 4 lines");
        app.stop().await;
    });
}

const STDOUT_SINK: &str = "\n[audit]\ncheckpoint_events = 2\n[[audit.sink]]\nkind = \"stdout\"\n";

fn serve_command(config: &str, dir: &tempfile::TempDir, key: Option<&str>) -> Command {
    let path = dir.path().join("pimbot.toml");
    let db = format!("sqlite://{}", dir.path().join("pimbot.db").display());
    // Slack is never reached: its API is a closed local port.
    let config = config.replace("sqlite://unused.db", &db).replace(
        "bot_token = \"xoxb-fake-pimbot-token\"",
        "bot_token = \"xoxb-fake-pimbot-token\"\napi_url = \"http://127.0.0.1:9/\"",
    );
    std::fs::write(&path, config).expect("config");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_pimbot"));
    cmd.args(["--log-format", "json", "serve", "--config"]).arg(&path).env_remove("PIMBOT_CONFIG");
    cmd.env_remove("PIMBOT_AUDIT_KEY").env_remove("PIMBOT_AUDIT_SIGNING_KEY").env("RUST_LOG", "info");
    if let Some(key) = key {
        cmd.env("PIMBOT_AUDIT_KEY", key);
    }
    cmd
}

#[test]
fn serve_refuses_to_start_without_a_key_unless_unkeyed_is_explicit() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = serve_command(POLICY, &dir, None).stdin(Stdio::null()).output().expect("run");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("PIMBOT_AUDIT_KEY") && err.contains("unkeyed = true"), "{err}");
    let out = serve_command(POLICY, &dir, Some("too-short")).stdin(Stdio::null()).output().expect("run");
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 32 bytes"));

    let unkeyed = POLICY.replace("[slack]", "[audit]\nunkeyed = true\n[slack]");
    let mut child = serve_command(&unkeyed, &dir, None)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = Vec::new();
    for line in stderr.lines().map_while(Result::ok) {
        seen.push(line.clone());
        if line.contains("pimbot is listening") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(seen.iter().any(|l| l.contains("UNKEYED")), "a loud warning: {seen:?}");
    assert!(seen.iter().any(|l| l.contains("pimbot is listening")), "{seen:?}");
}

#[tokio::test]
async fn serve_streams_events_and_checkpoints_to_stdout_and_export_pages_and_follows() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = POLICY.replace("[slack]", &format!("{STDOUT_SINK}\n[slack]"));
    let mut child = serve_command(&config, &dir, Some(TEST_AUDIT_KEY))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    // Events appended by another process (a CLI, a second replica) reach the sink all the same.
    let db = format!("sqlite://{}", dir.path().join("pimbot.db").display());
    let deadline = Instant::now() + StdDuration::from_secs(20);
    let store = loop {
        if let Ok(store) = pimbot::storage::connect_with(&db, pimbot::testing::audit::test_linker()).await {
            break store;
        }
        assert!(Instant::now() < deadline, "database never appeared");
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    };
    for n in 0..3 {
        let event = pimbot::core::audit::AuditEvent::about(
            chrono::Utc::now(),
            pimbot::core::audit::Actor::System,
            pimbot::core::audit::EventKind::RequestSubmitted,
            &format!("r-{n}").as_str().into(),
            &"reader".into(),
            serde_json::json!({"n": n}),
        );
        store
            .commit(pimbot::core::ports::Commit { audit: vec![event], ..Default::default() })
            .await
            .expect("append");
    }
    let lines = tokio::task::spawn_blocking(move || {
        let mut lines: Vec<serde_json::Value> = Vec::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            lines.push(serde_json::from_str(&line).expect("stdout carries only JSON lines"));
            if lines.iter().any(|l| l["type"] == "checkpoint")
                && lines.iter().filter(|l| l["type"] == "event").count() >= 3
            {
                break;
            }
        }
        lines
    });
    let lines =
        tokio::time::timeout(StdDuration::from_secs(30), lines).await.expect("in time").expect("read");
    let _ = child.kill();
    let _ = child.wait();
    let seqs: Vec<i64> =
        lines.iter().filter(|l| l["type"] == "event").map(|l| l["seq"].as_i64().unwrap_or(0)).collect();
    assert_eq!(&seqs[..3], &[1, 2, 3], "{lines:?}");

    // Export: pages after a sequence number, and --follow picks up what is appended later.
    let config_path = dir.path().join("pimbot.toml").display().to_string();
    let out = Command::new(env!("CARGO_BIN_EXE_pimbot"))
        .args(["audit", "--config", &config_path, "export", "--after-seq", "1"])
        .env("PIMBOT_AUDIT_KEY", TEST_AUDIT_KEY)
        .output()
        .expect("export");
    let exported: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(exported.first().and_then(|l| l["seq"].as_i64()), Some(2));
    let mut follow = Command::new(env!("CARGO_BIN_EXE_pimbot"))
        .args([
            "audit",
            "--config",
            &config_path,
            "export",
            "--after-seq",
            "3",
            "--follow",
            "--format",
            "csv",
        ])
        .env("PIMBOT_AUDIT_KEY", TEST_AUDIT_KEY)
        .stdout(Stdio::piped())
        .spawn()
        .expect("follow");
    let event = pimbot::core::audit::AuditEvent::about(
        chrono::Utc::now(),
        pimbot::core::audit::Actor::System,
        pimbot::core::audit::EventKind::GrantExpired,
        &"r-later".into(),
        &"reader".into(),
        serde_json::json!({}),
    );
    store
        .commit(pimbot::core::ports::Commit { audit: vec![event], ..Default::default() })
        .await
        .expect("append");
    let stdout = follow.stdout.take().expect("stdout");
    let rows = tokio::task::spawn_blocking(move || {
        BufReader::new(stdout).lines().map_while(Result::ok).take(2).collect::<Vec<_>>()
    });
    let rows = tokio::time::timeout(StdDuration::from_secs(20), rows).await.expect("in time").expect("read");
    assert!(rows[0].starts_with("seq,at,actor"), "{rows:?}");
    assert!(rows[1].starts_with("4,") && rows[1].contains("grant.expired"), "{rows:?}");
    let pid = follow.id().to_string();
    Command::new("kill").args(["-INT", &pid]).status().expect("kill -INT");
    let status = follow.wait().expect("wait");
    assert_eq!(status.code(), Some(0), "--follow ends cleanly on SIGINT");
}
