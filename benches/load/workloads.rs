//! `cargo bench --bench load -- workloads [--secs 3] [--db URL]`: the throughput workloads of
//! issue 13, open loop (each request has a scheduled send time; latency is measured from it, so
//! a stalled server cannot hide its backlog), signed `/pim` slash commands against the real
//! `pimbot serve` process with a fake Slack in this process:
//!
//! - the floor: a bare axum server in this process doing only the Slack HMAC check, at 1,500/s;
//! - many people (1,000 eligible, round robin) activating a no-approval role, at 200/s and
//!   1,500/s;
//! - a one-person burst: one person activating (extending) a no-approval role at 200/s. With
//!   the default rate limit of 10 a minute, all but the first ten are answered "slow down";
//! - many people's `/pim status` at 200/s while another person bursts at 200/s beside them.
//!
//! Each prints the rate offered and achieved (answers per second of wall time from the first
//! scheduled send to the last answer), p50/p99/max and errors; the pimbot workloads also the
//! answers refused by the rate limit, and the server's peak RSS at the end. After many people
//! at 1,500/s it prints, from the audit trail, how long each request waited from its
//! submission to its activation, and how many commands were refused (a person's next command
//! finding the previous request not yet active is refused as a duplicate).

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::HeaderMap;
use pimbot::core::ports::SystemClock;
use pimbot::demo::driver::SlackDriver;
use pimbot::testing::FakeSlack;

use super::{PEOPLE, SECRET, Server, arg, free_port, pct, policy};

/// What one workload measured.
pub(super) struct Figures {
    offered: u64,
    answered: usize,
    achieved: f64,
    p50: f64,
    p99: f64,
    max: f64,
    errors: usize,
    limited: usize,
    /// What the first failed answer said, to tell a refusal from a timeout.
    first_error: Option<String>,
}

impl Figures {
    pub(super) fn print(&self, name: &str) {
        println!(
            "{name:<34} offered={:>5}/s achieved={:>7.1}/s answered={:<6} p50={:>8.2}ms p99={:>9.2}ms max={:>9.2}ms errors={} limited={}",
            self.offered,
            self.achieved,
            self.answered,
            self.p50,
            self.p99,
            self.max,
            self.errors,
            self.limited
        );
        if let Some(e) = &self.first_error {
            println!("{:<34} first error: {e}", "");
        }
    }
}

/// Sends `rate × secs` commands, the i-th by `user(i)` to `drivers[i % len]` (round robin over
/// replicas), each at its scheduled time.
pub(super) async fn open_loop(
    drivers: &[Arc<SlackDriver>],
    rate: u64,
    secs: u64,
    user: fn(u64) -> String,
    text: &str,
) -> Figures {
    let total = rate * secs;
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        let (driver, text) = (drivers[i as usize % drivers.len()].clone(), text.to_owned());
        let at = start + Duration::from_nanos(i * 1_000_000_000 / rate);
        tasks.spawn(async move {
            tokio::time::sleep_until(at).await;
            let reply = driver.command(&user(i), &text).await;
            let done = tokio::time::Instant::now();
            let ms = (done - at).as_secs_f64() * 1000.0;
            let ok = reply.as_ref().is_ok_and(|r| r.status == 200 && !r.body.contains("went wrong"));
            let limited = reply.as_ref().is_ok_and(|r| r.body.contains("Slow down"));
            let error = (!ok).then(|| match &reply {
                Ok(r) => format!("{} {}", r.status, r.body.chars().take(160).collect::<String>()),
                Err(e) => format!("{e:#}").chars().take(160).collect(),
            });
            (ms, error, limited, done)
        });
    }
    let (mut lat, mut errors, mut limited, mut last, mut first_error) = (Vec::new(), 0, 0, start, None);
    while let Some(Ok((ms, error, was_limited, done))) = tasks.join_next().await {
        lat.push(ms);
        errors += usize::from(error.is_some());
        first_error = first_error.or(error);
        limited += usize::from(was_limited);
        last = last.max(done);
    }
    lat.sort_by(f64::total_cmp);
    let wall = (last - start).as_secs_f64().max(f64::EPSILON);
    Figures {
        offered: rate,
        answered: lat.len(),
        achieved: lat.len() as f64 / wall,
        p50: pct(&lat, 50.0),
        p99: pct(&lat, 99.0),
        max: lat.last().copied().unwrap_or(f64::NAN),
        errors,
        limited,
        first_error,
    }
}

/// A bare axum server answering `POST /slack/commands` after the HMAC check only.
async fn floor_server() -> String {
    async fn command(headers: HeaderMap, body: Bytes) -> axum::response::Response {
        use axum::response::IntoResponse;
        match pimbot::slack::verify::verify(SECRET, &headers, &body, chrono::Utc::now()) {
            Ok(()) => {
                axum::Json(serde_json::json!({"response_type": "ephemeral", "text": "ok"})).into_response()
            }
            Err(_) => axum::http::StatusCode::UNAUTHORIZED.into_response(),
        }
    }
    let app = axum::Router::new().route("/slack/commands", axum::routing::post(command));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    base
}

pub(super) fn anyone(i: u64) -> String {
    format!("U{:07}", (i as usize) % PEOPLE)
}

fn one_person(_: u64) -> String {
    "U0000998".to_owned()
}

fn other_person(_: u64) -> String {
    "U0000999".to_owned()
}

/// A client signing slash commands for `base`, with `fake`'s `response_url`.
pub(super) fn driver(fake: &FakeSlack, base: String) -> Arc<SlackDriver> {
    Arc::new(SlackDriver::new(base, SECRET, Arc::new(SystemClock), fake.response_url("C0CMD", "1")))
}

/// Measures and prints the floor at `rate` (after a warm-up): the same run's yardstick.
pub(super) async fn floor(fake: &FakeSlack, rate: u64, secs: u64) {
    let floor = driver(fake, floor_server().await);
    open_loop(std::slice::from_ref(&floor), 200, 1, anyone, "status").await; // warm-up
    open_loop(std::slice::from_ref(&floor), rate, secs, anyone, "activate reader 1h bench")
        .await
        .print("floor: HMAC check only");
}

/// Runs the floor and the three pimbot workloads.
pub async fn run(args: &[String], db: &str, dir: &std::path::Path) {
    let secs: u64 = arg(args, "--secs").and_then(|v| v.parse().ok()).unwrap_or(3);
    let backend = if db.starts_with("postgres") { "postgres" } else { "sqlite" };
    println!("workloads: backend={backend} secs={secs} (open loop, latency from the scheduled send)");
    let fake = FakeSlack::start().await;
    let driver = |base: String| driver(&fake, base);
    floor(&fake, 1500, secs).await;

    let port = free_port();
    let server = Server::start(&policy(db, port, &fake.api_url()), dir, port).await;
    let pimbot = driver(server.base.clone());
    let started = Instant::now();
    open_loop(std::slice::from_ref(&pimbot), 200, secs, anyone, "activate reader 1h bench")
        .await
        .print("many people, activate reader");
    drain(db).await;
    let since = chrono::Utc::now();
    open_loop(std::slice::from_ref(&pimbot), 1500, secs, anyone, "activate reader 1h bench")
        .await
        .print("many people, activate reader");
    drain(db).await;
    time_to_grant(db, since).await;
    open_loop(std::slice::from_ref(&pimbot), 200, secs, one_person, "activate reader 1h bench")
        .await
        .print("one-person burst, activate reader");
    drain(db).await;
    // Does a burst slow anyone else down? Many people's `/pim status` at 200/s beside another
    // person (with a fresh allowance) bursting at 200/s.
    let (others, burst) = tokio::join!(
        open_loop(std::slice::from_ref(&pimbot), 200, secs, anyone, "status"),
        open_loop(std::slice::from_ref(&pimbot), 200, secs, other_person, "activate reader 1h bench"),
    );
    others.print("many people /pim status, beside...");
    burst.print("...a one-person burst at 200/s");
    println!(
        "server_peak_rss={} KiB outbox_left={} ({:.1}s of load)",
        server.peak_rss_kib(),
        outbox_left(db).await,
        started.elapsed().as_secs_f64()
    );
}

/// Lets the server finish the previous workload (outbox empty, or 20 s) so the next one is
/// measured on its own.
pub(super) async fn drain(db: &str) {
    for _ in 0..40 {
        if outbox_left(db).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// From the audit trail of the requests submitted since `since`: how long each waited from its
/// submission to the start of its activation (`grant.activated`/`grant.extended` are stamped
/// when the activation claims the request), and how many commands were refused.
pub(super) async fn time_to_grant(db: &str, since: chrono::DateTime<chrono::Utc>) {
    let Ok(store) = pimbot::storage::connect_with(db, pimbot::testing::audit::test_linker()).await else {
        return println!("{:<34} (the audit trail could not be read)", "");
    };
    let kinds = ["request.submitted", "grant.activated", "grant.extended", "request.refused"];
    let records = store.audit_records_of(since, &kinds).await.unwrap_or_default();
    let mut submitted = std::collections::HashMap::new();
    let mut waits = Vec::new();
    let mut refused = 0;
    for r in &records {
        match (r.event.kind.as_str(), &r.event.request_id) {
            ("request.submitted", Some(id)) => {
                submitted.insert(id.clone(), r.event.at);
            }
            ("grant.activated" | "grant.extended", Some(id)) => {
                if let Some(at) = submitted.remove(id) {
                    waits.push((r.event.at - at).num_microseconds().unwrap_or(0) as f64 / 1000.0);
                }
            }
            ("request.refused", _) => refused += 1,
            _ => {}
        }
    }
    waits.sort_by(f64::total_cmp);
    println!(
        "{:<34} submitted→activation n={} p50={:.0}ms p99={:.0}ms max={:.0}ms; refused={refused}",
        "",
        waits.len(),
        pct(&waits, 50.0),
        pct(&waits, 99.0),
        waits.last().copied().unwrap_or(f64::NAN)
    );
}

/// Undelivered outbox rows when the load ends.
pub(super) async fn outbox_left(db: &str) -> i64 {
    match pimbot::storage::connect_with(db, pimbot::testing::audit::test_linker()).await {
        Ok(store) => store.outbox_depth().await.unwrap_or(-1),
        Err(_) => -1,
    }
}
