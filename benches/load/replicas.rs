//! `cargo bench --bench load -- replicas --db postgres://…/db [--secs 3] [--rate 1500]`:
//! scale-out measured. The many-people workload (1,000 eligible people activating a
//! no-approval role) against one `pimbot serve`, then spread round robin over two replicas
//! sharing the same PostgreSQL database, at the same offered rate, with the floor of the same
//! run. Afterwards it looks for work done twice: a request activated twice in the audit trail,
//! or one outbox row posted twice (every Slack post names its row in its metadata).
//!
//! Both replicas run with `[limits] commands_per_minute = 600`: the rate limit is per process,
//! and this workload measures the write path, not the limit.

use std::collections::HashMap;

use pimbot::testing::FakeSlack;

use super::workloads::{anyone, drain, driver, floor, open_loop, outbox_left};
use super::{Server, arg, free_port, policy};

/// Runs the floor, one replica, then two replicas, and prints what was done twice.
pub async fn run(args: &[String], db: &str, dir: &std::path::Path) {
    if !db.starts_with("postgres") {
        println!("replicas: needs --db postgres://…: replicas share a PostgreSQL database");
        return;
    }
    let secs: u64 = arg(args, "--secs").and_then(|v| v.parse().ok()).unwrap_or(3);
    let rate: u64 = arg(args, "--rate").and_then(|v| v.parse().ok()).unwrap_or(1500);
    println!(
        "replicas: backend=postgres secs={secs} rate={rate}/s (open loop, latency from the scheduled send)"
    );
    let fake = FakeSlack::start().await;
    let driver = |base: String| driver(&fake, base);
    floor(&fake, rate, secs).await;

    let config =
        |port: u16| format!("{}[limits]\ncommands_per_minute = 600\n", policy(db, port, &fake.api_url()));
    let (dir_a, dir_b) = (dir.join("a"), dir.join("b"));
    for d in [&dir_a, &dir_b] {
        std::fs::create_dir_all(d).expect("replica directory");
    }
    let port_a = free_port();
    let a = Server::start(&config(port_a), &dir_a, port_a).await;
    let one = [driver(a.base.clone())];
    open_loop(&one, rate, secs, anyone, "activate reader 1h bench").await.print("one replica, many people");
    drain(db).await;

    let port_b = free_port();
    let b = Server::start(&config(port_b), &dir_b, port_b).await;
    // The first replica's client again: a new one would open connections beside the idle ones
    // the first run left, over the server's connection limit.
    let two = [one[0].clone(), driver(b.base.clone())];
    open_loop(&two, rate, secs, anyone, "activate reader 1h bench").await.print("two replicas, round robin");
    drain(db).await;
    println!(
        "peak_rss: replica_a={} KiB replica_b={} KiB outbox_left={}",
        a.peak_rss_kib(),
        b.peak_rss_kib(),
        outbox_left(db).await
    );
    done_twice(db, &fake).await;
}

/// Counts work done more than once across the replicas.
async fn done_twice(db: &str, fake: &FakeSlack) {
    let store = match pimbot::storage::connect_with(db, pimbot::testing::audit::test_linker()).await {
        Ok(store) => store,
        Err(e) => {
            println!("done twice: cannot open the store: {e:#}");
            return;
        }
    };
    let records = store.audit_records(None).await.unwrap_or_default();
    let mut activations: HashMap<String, usize> = HashMap::new();
    for r in records.iter().filter(|r| r.event.kind == "grant.activated") {
        if let Some(id) = &r.event.request_id {
            *activations.entry(id.0.clone()).or_default() += 1;
        }
    }
    let twice = activations.values().filter(|&&n| n > 1).count();
    // Every post names its outbox row in its metadata: one row posted twice is work done twice.
    // Identical text is counted apart: two requests can say the same words.
    let (mut rows, mut texts): (HashMap<String, usize>, HashMap<String, usize>) = Default::default();
    for call in fake.calls_to("chat.postMessage") {
        let row = call.body["metadata"]["event_payload"]["outbox_id"].to_string();
        *rows.entry(row).or_default() += 1;
        let text = format!("{}|{}|{}", call.body["channel"], call.body["text"], call.body["blocks"]);
        *texts.entry(text).or_default() += 1;
    }
    let posted_twice = rows.values().filter(|&&n| n > 1).count();
    let same_words = texts.values().filter(|&&n| n > 1).count();
    let verified =
        pimbot::storage::audit_export::verify(store.as_ref(), &pimbot::testing::audit::test_ring(), None)
            .await
            .unwrap_or_else(|e| format!("BROKEN: {e}"));
    println!(
        "done twice: requests_activated={} activated_twice={twice} chat_posts={} outbox_rows_posted_twice={posted_twice} (posts with the same words as another: {same_words})\n  {verified}",
        activations.len(),
        rows.values().sum::<usize>(),
    );
}
