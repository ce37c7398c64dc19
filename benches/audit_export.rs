//! Memory of `pimbot audit export` over a long trail: seeds `PIMBOT_BENCH_EVENTS` keyed audit
//! records (default 1,000,000) through the real store, then runs the release binary under
//! `/usr/bin/time -v`, once as `export --follow` (stopped with SIGINT once every record is out)
//! and once as a plain CSV export, and prints the peak RSS and throughput of each.
//!
//! `cargo bench --bench audit_export` (SQLite in a temporary directory), or with
//! `PIMBOT_BENCH_DATABASE_URL=postgres://…` against an empty PostgreSQL database.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::Context;
use pimbot::core::audit::{Actor, AuditEvent, EventKind};
use pimbot::core::ports::Commit;
use pimbot::testing::audit::{TEST_AUDIT_KEY, test_linker};

/// Records per commit while seeding.
const SEED_BATCH: usize = 1000;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let events: usize =
        std::env::var("PIMBOT_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let url = std::env::var("PIMBOT_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let store = pimbot::storage::connect_with(&url, test_linker()).await?;
    let started = Instant::now();
    let at = chrono::Utc::now();
    for batch in 0..events.div_ceil(SEED_BATCH) {
        let audit = (0..SEED_BATCH.min(events - batch * SEED_BATCH))
            .map(|i| {
                let n = batch * SEED_BATCH + i;
                AuditEvent::about(
                    at,
                    if n.is_multiple_of(3) {
                        Actor::System
                    } else {
                        Actor::Person(format!("person-{}", n % 97).into())
                    },
                    EventKind::RequestSubmitted,
                    &format!("r-{n:08x}").as_str().into(),
                    &"global-admin".into(),
                    serde_json::json!({
                        "duration_secs": 3600,
                        "justification": format!("investigating incident INC-{n} in the payments cluster"),
                        "ticket": format!("INC-{n}"),
                        "platform": "slack",
                    }),
                )
            })
            .collect();
        store.commit(Commit { audit, ..Commit::default() }).await?;
    }
    eprintln!("seeded {events} keyed records in {:.1} s", started.elapsed().as_secs_f64());
    let config = dir.path().join("pimbot.toml");
    std::fs::write(&config, format!("[server]\nlisten = \"127.0.0.1:0\"\n[database]\nurl = \"{url}\"\n"))?;

    for (name, args) in [
        ("export --follow (jsonl)", vec!["export", "--after-seq", "0", "--follow"]),
        ("export --format csv", vec!["export", "--after-seq", "0", "--format", "csv"]),
    ] {
        let started = Instant::now();
        let mut child = Command::new("/usr/bin/time")
            .arg("-v")
            .arg(env!("CARGO_BIN_EXE_pimbot"))
            .args(["audit", "--config"])
            .arg(&config)
            .args(&args)
            .env("PIMBOT_AUDIT_KEY", TEST_AUDIT_KEY)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running /usr/bin/time -v pimbot")?;
        let mut lines = 0usize;
        let stdout = child.stdout.take().context("stdout")?;
        let mut reader = BufReader::with_capacity(1 << 20, stdout);
        let mut line = Vec::new();
        let wanted = if args.contains(&"csv") { events + 1 } else { events };
        while lines < wanted {
            line.clear();
            if reader.read_until(b'\n', &mut line)? == 0 {
                break;
            }
            lines += 1;
        }
        let elapsed = started.elapsed();
        if args.contains(&"--follow") {
            // `time` runs pimbot as its child; stop pimbot itself.
            let pids = Command::new("pgrep").args(["-P", &child.id().to_string()]).output()?;
            for pid in String::from_utf8_lossy(&pids.stdout).split_whitespace() {
                Command::new("kill").args(["-INT", pid]).status()?;
            }
        }
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest)?;
        let mut stderr = String::new();
        child.stderr.take().context("stderr")?.read_to_string(&mut stderr)?;
        let status = child.wait()?;
        let rss_kb = stderr
            .lines()
            .find_map(|l| l.trim().strip_prefix("Maximum resident set size (kbytes):"))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .context("no RSS figure from /usr/bin/time -v")?;
        println!(
            "{name}: {lines} lines in {:.1} s ({:.0} records/s), peak RSS {:.1} MiB, exit {status}",
            elapsed.as_secs_f64(),
            events as f64 / elapsed.as_secs_f64(),
            rss_kb / 1024.0,
        );
        anyhow::ensure!(lines == wanted, "{name}: expected {wanted} lines, got {lines}");
    }
    Ok(())
}
