//! Load benchmark against the real `pimbot serve` process (build it first with
//! `cargo build --release`), with a fake Slack workspace in this process.
//!
//! - `cargo bench --bench load -- ack [--rate 200] [--secs 60] [--db URL]`: fires signed slash
//!   commands and button clicks at a fixed rate and reports ack latency p50/p99/max,
//!   throughput and errors.
//! - `cargo bench --bench load -- expiry [--grants 100000] [--spread-secs 600] [--lead-secs 90] [--db URL]`:
//!   stores active grants whose ends are spread over the window, starts the server, and reports
//!   how late each end was (from the audit trail) and the server's peak RSS.
//!
//! - `cargo bench --bench load -- workloads [--secs 3] [--db URL]`: the floor, many people at
//!   200/s and 1,500/s, and a one-person burst at 200/s (see `load/workloads.rs`).
//! - `cargo bench --bench load -- replicas --db postgres://… [--secs 3] [--rate 1500]`: the
//!   many-people workload on one replica, then round robin over two sharing the database, and
//!   what was done twice (see `load/replicas.rs`).
//!
//! `--db` defaults to a temporary SQLite file; pass `postgres://…/db` for PostgreSQL.

use std::fmt::Write as _;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use pimbot::core::audit::{Actor, AuditEvent};
use pimbot::core::ids::RequestId;
use pimbot::core::ports::{Commit, Store, SystemClock};
use pimbot::demo::driver::SlackDriver;
use pimbot::testing::FakeSlack;
use pimbot::testing::seed::push_active_grant;

#[path = "load/replicas.rs"]
mod replicas;
#[path = "load/workloads.rs"]
mod workloads;

const PEOPLE: usize = 1000;
const SECRET: &str = "bench-signing-secret";

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned()
}

fn policy(db: &str, port: u16, api_url: &str) -> String {
    let mut p = format!(
        "[server]\nlisten = \"127.0.0.1:{port}\"\n[database]\nurl = \"{db}\"\n[slack]\nsigning_secret = \"{SECRET}\"\nbot_token = \"xoxb-fake-pimbot-token\"\napi_url = \"{api_url}\"\napprover_channel = \"C0APPROVERS\"\nfeed_channel = \"C0FEED\"\nalert_channel = \"C0ALERTS\"\n"
    );
    for i in 0..PEOPLE {
        let _ = write!(p, "[[person]]\nid = \"p{i}\"\nupn = \"p{i}@contoso.com\"\nslack = \"U{i:07}\"\n");
    }
    p.push_str("[[person]]\nid = \"approver\"\nupn = \"approver@contoso.com\"\nslack = \"U0APPROVER\"\n");
    p.push_str("[[group]]\nname = \"everyone\"\nmembers = [");
    p.push_str(&(0..PEOPLE).map(|i| format!("\"p{i}\"")).collect::<Vec<_>>().join(","));
    p.push_str("]\n");
    p.push_str("[[role]]\nkey = \"reader\"\nname = \"Reader\"\nkind = \"entra-role\"\ntier = \"standard\"\nmin_duration = \"1s\"\nmax_duration = \"8h\"\neligible = [\"@everyone\"]\n");
    p.push_str("[[role]]\nkey = \"ops\"\nname = \"Ops\"\nkind = \"entra-role\"\ntier = \"high\"\nrequire_mfa = false\napprovals_required = 1\napprovers = [\"approver\"]\nrequire_justification = true\neligible = [\"@everyone\"]\n");
    p
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    async fn start(config: &str, dir: &std::path::Path, port: u16) -> Self {
        let path = dir.join("bench.toml");
        std::fs::write(&path, config).expect("config");
        let bin = std::env::var("PIMBOT_BIN")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/pimbot").into());
        let child = Command::new(&bin)
            .args(["serve", "--config"])
            .arg(&path)
            .env("RUST_LOG", "warn")
            // The keyed audit chain, as in production.
            .env("PIMBOT_AUDIT_KEY", pimbot::testing::audit::TEST_AUDIT_KEY)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin} ({e}); run `cargo build --release` first"));
        let base = format!("http://127.0.0.1:{port}");
        let mut server = Self { child, base };
        for _ in 0..400 {
            if reqwest::get(format!("{}/readyz", server.base)).await.is_ok_and(|r| r.status() == 200) {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = server.child.kill();
        let _ = server.child.wait();
        panic!("server did not become ready");
    }

    fn peak_rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted[rank.min(sorted.len()) - 1]
}

async fn ack(args: &[String], db: &str, dir: &std::path::Path) {
    let rate: u64 = arg(args, "--rate").and_then(|v| v.parse().ok()).unwrap_or(200);
    let secs: u64 = arg(args, "--secs").and_then(|v| v.parse().ok()).unwrap_or(60);
    let fake = FakeSlack::start().await;
    let port = free_port();
    let server = Server::start(&policy(db, port, &fake.api_url()), dir, port).await;
    let driver = Arc::new(SlackDriver::new(
        server.base.clone(),
        SECRET,
        Arc::new(SystemClock),
        fake.response_url("C0CMD", "1"),
    ));
    let pending: Arc<tokio::sync::Mutex<Vec<String>>> = Arc::default();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let total = rate * secs;
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..total {
        tick.tick().await;
        let (driver, pending) = (driver.clone(), pending.clone());
        tasks.spawn(async move {
            let user = format!("U{:07}", (i as usize) % PEOPLE);
            let t0 = Instant::now();
            let (kind, reply) = match i % 4 {
                0 => (0, driver.command(&user, "activate ops 1h bench approval").await),
                1 => match pending.lock().await.pop() {
                    Some(id) => (1, driver.click("U0APPROVER", "approve", &id, "C0APPROVERS", "1.0").await),
                    None => (2, driver.command(&user, "status").await),
                },
                2 => (2, driver.command(&user, "status").await),
                _ => (3, driver.command(&user, "activate reader 1h bench").await),
            };
            let ms = t0.elapsed().as_secs_f64() * 1000.0;
            let ok = reply.as_ref().is_ok_and(|r| r.status == 200 && !r.body.contains("went wrong"));
            if let Ok(r) = &reply
                && let Some(id) = r.text().split('`').find(|w| w.starts_with("r-"))
                && i % 4 == 0
            {
                pending.lock().await.push(id.to_owned());
            }
            (kind, ms, ok)
        });
    }
    let mut lat = Vec::new();
    let mut by_kind: [Vec<f64>; 4] = Default::default();
    let mut errors = 0;
    while let Some(Ok((kind, ms, ok))) = tasks.join_next().await {
        lat.push(ms);
        by_kind[kind].push(ms);
        errors += usize::from(!ok);
    }
    let elapsed = started.elapsed().as_secs_f64();
    lat.sort_by(f64::total_cmp);
    println!(
        "ack: backend={} rate={rate}/s secs={secs} requests={} throughput={:.1}/s p50={:.2}ms p99={:.2}ms max={:.2}ms errors={errors} server_peak_rss={} KiB",
        if db.starts_with("postgres") { "postgres" } else { "sqlite" },
        lat.len(),
        lat.len() as f64 / elapsed,
        pct(&lat, 50.0),
        pct(&lat, 99.0),
        lat.last().copied().unwrap_or(f64::NAN),
        server.peak_rss_kib()
    );
    let names = ["activate (approval)", "approve click", "status", "activate (no approval)"];
    for (name, mut l) in names.iter().zip(by_kind) {
        l.sort_by(f64::total_cmp);
        println!(
            "  {name:<22} n={:<6} p50={:.2}ms p99={:.2}ms max={:.2}ms",
            l.len(),
            pct(&l, 50.0),
            pct(&l, 99.0),
            l.last().copied().unwrap_or(f64::NAN)
        );
    }
}

async fn expiry(args: &[String], db: &str, dir: &std::path::Path) {
    let grants: usize = arg(args, "--grants").and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let spread: i64 = arg(args, "--spread-secs").and_then(|v| v.parse().ok()).unwrap_or(600);
    let store =
        pimbot::storage::connect_with(db, pimbot::testing::audit::test_linker()).await.expect("store");
    // Time to seed and start the server before the first end (PostgreSQL seeds 100,000 grants
    // in about 40 s here); a grant that fell due before the server ran cannot end on time.
    let lead_secs: i64 = arg(args, "--lead-secs").and_then(|v| v.parse().ok()).unwrap_or(90);
    let lead = chrono::Duration::seconds(lead_secs);
    let t0 = Utc::now() + lead;
    let seeding = Instant::now();
    for chunk in (0..grants).collect::<Vec<_>>().chunks(1000) {
        let mut commit = Commit { at: Some(Utc::now()), ..Commit::default() };
        for &i in chunk {
            let ends = pimbot::core::audit::truncate_micros(
                t0 + chrono::Duration::milliseconds(spread * 1000 * i as i64 / grants as i64),
            );
            // One person per grant: at most one open grant per person and role is the rule, and
            // people outside the policy are ended like anyone else.
            let role = if (i / PEOPLE).is_multiple_of(2) { "reader" } else { "ops" };
            let started = pimbot::core::audit::truncate_micros(Utc::now());
            push_active_grant(&mut commit, &format!("b{i:08}"), &format!("bench-{i}"), role, started, ends);
        }
        // An event of a kind no service writes, so nothing reads it as an activation.
        commit.audit.push(AuditEvent {
            kind: "bench.seeded".into(),
            ..AuditEvent::about(
                Utc::now(),
                Actor::System,
                pimbot::core::audit::EventKind::GrantActivated,
                &RequestId("r-bench".into()),
                &"reader".into(),
                serde_json::json!({"n": chunk.len()}),
            )
        });
        store.commit(commit).await.expect("seed");
    }
    println!(
        "seeded {grants} grants in {:.1}s; first end at +{}s",
        seeding.elapsed().as_secs_f64(),
        (t0 - Utc::now()).num_seconds()
    );
    let fake = FakeSlack::start().await;
    let port = free_port();
    let server = Server::start(&policy(db, port, &fake.api_url()), dir, port).await;
    if Utc::now() > t0 {
        println!("warning: the first grants fell due before the server was ready; raise --lead-secs");
    }
    let deadline =
        Instant::now() + Duration::from_secs((spread + 120) as u64) + lead.to_std().unwrap_or_default();
    let mut peak = 0;
    loop {
        peak = peak.max(server.peak_rss_kib());
        if all_ended(&store).await || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let records = store.audit_records(None).await.expect("audit");
    let mut late: Vec<f64> = records
        .iter()
        .filter(|r| r.event.kind == "grant.expired")
        .filter_map(|r| r.event.detail["late_ms"].as_f64())
        .collect();
    late.sort_by(f64::total_cmp);
    let over_1s = late.iter().filter(|&&ms| ms > 1000.0).count();
    println!(
        "expiry: backend={} grants={grants} ended={} late_p50={:.0}ms late_p99={:.0}ms late_max={:.0}ms over_1s={over_1s} server_peak_rss={} KiB outbox_left={}",
        if db.starts_with("postgres") { "postgres" } else { "sqlite" },
        late.len(),
        pct(&late, 50.0),
        pct(&late, 99.0),
        late.last().copied().unwrap_or(f64::NAN),
        peak.max(server.peak_rss_kib()),
        store.outbox_depth().await.unwrap_or(-1)
    );
}

/// Whether every seeded grant has ended.
async fn all_ended(store: &Arc<dyn Store>) -> bool {
    store.due_grants(Utc::now() + chrono::Duration::days(1), 1).await.map(|g| g.is_empty()).unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port()).unwrap_or(18080)
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = tempfile::tempdir().expect("tmp");
    let db =
        arg(&args, "--db").unwrap_or_else(|| format!("sqlite://{}", dir.path().join("bench.db").display()));
    if args.iter().any(|a| a == "expiry") {
        expiry(&args, &db, dir.path()).await;
    } else if args.iter().any(|a| a == "workloads") {
        workloads::run(&args, &db, dir.path()).await;
    } else if args.iter().any(|a| a == "replicas") {
        replicas::run(&args, &db, dir.path()).await;
    } else if args.iter().any(|a| a == "ack") {
        ack(&args, &db, dir.path()).await;
    } else {
        println!("usage: cargo bench --bench load -- ack|expiry|workloads|replicas [options]");
    }
}
