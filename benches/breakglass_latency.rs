//! Break-glass alarm latency: from Azure Monitor's webhook call leaving the sender to the alarm's
//! `chat.postMessage` arriving at a fake Slack, through the real app (HTTP, one transaction,
//! outbox, dispatcher). Prints p50/p90/p99/max over `PIMBOT_BENCH_ALARMS` alarms (default 500).
//!
//! `cargo bench --bench breakglass_latency` (SQLite in a temporary directory), or with
//! `PIMBOT_BENCH_DATABASE_URL=postgres://…` against an empty PostgreSQL database.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use pimbot::app::{self, BreakGlassParts, Parts, SlackParts};
use pimbot::core::ids::{ChatUser, Platform};
use pimbot::core::ports::SystemClock;
use pimbot::testing::FakeSlack;
use pimbot::testing::azure_monitor::{log_alert_v2, with_dimension};

const TOKEN: &str = "bench-token";
const ALERTS: &str = "C0ALERTS";
const POLICY: &str = r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "sqlite://unused.db"
[[person]]
id = "carol"
upn = "carol@contoso.com"
slack = "U0CAROL"
[[break_glass]]
upn = "bg1@contoso.onmicrosoft.com"
"#;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<34} n={:<5} p50={:>7.2} ms  p90={:>7.2} ms  p99={:>7.2} ms  max={:>7.2} ms",
        samples.len(),
        ms(percentile(&samples, 50.0)),
        ms(percentile(&samples, 90.0)),
        ms(percentile(&samples, 99.0)),
        ms(percentile(&samples, 100.0)),
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n: usize = std::env::var("PIMBOT_BENCH_ALARMS").ok().and_then(|v| v.parse().ok()).unwrap_or(500);
    let dir = tempfile::tempdir()?;
    let url = std::env::var("PIMBOT_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}", dir.path().join("bench.db").display()));
    let fake = FakeSlack::start().await;
    let config = pimbot::config::from_toml_str(POLICY)?;
    let policy = config.validate(chrono::Utc::now()).map_err(|e| anyhow::anyhow!("bench policy: {e}"))?;
    let parts = Parts {
        store: pimbot::storage::connect_with(&url, pimbot::testing::audit::test_linker()).await?,
        directory: Arc::new(pimbot::directory::StaticDirectory::new()),
        clock: Arc::new(SystemClock),
        policy,
        slack: Some(SlackParts {
            inbound: pimbot::app::SlackInbound::Http { signing_secret: "bench-secret".to_owned().into() },
            bot_token: fake.token().into(),
            api_url: fake.api_url(),
            channels: pimbot::app::channels(
                Platform::Slack,
                &Some("C0APPROVERS".into()),
                &Some("C0FEED".into()),
                &Some(ALERTS.into()),
            ),
            lookup_by_email: false,
        }),
        break_glass: Some(BreakGlassParts {
            webhook_token: TOKEN.to_owned().into(),
            repage_every: chrono::Duration::hours(1),
            poll_interval: chrono::Duration::seconds(60),
            coalesce_window: chrono::Duration::minutes(10),
        }),
        policy_source: None,
        admin_token: None,
        discord: None,
        teams: None,
        oidc: None,
        oncall: None,
        sign_ins: None,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let running = app::start(parts, listener).await?;
    let endpoint = format!("http://{}/webhooks/azure-monitor?token={TOKEN}", running.addr);
    let http = reqwest::Client::new();
    let alarms_posted = || {
        fake.calls_to("chat.postMessage")
            .into_iter()
            .filter(|c| c.body.get("channel").and_then(|v| v.as_str()) == Some(ALERTS))
            .collect::<Vec<_>>()
    };

    println!(
        "break-glass alarm latency: {n} alarms, database {}",
        if url.starts_with("postgres") { "postgres" } else { "sqlite" }
    );
    let (mut answered, mut posted) = (Vec::with_capacity(n), Vec::with_capacity(n));
    for i in 0..n {
        // Each round is its own incident: a distinct sign-in, and the previous alarm was
        // acknowledged (sign-ins of an account with an open alarm join it instead of paging).
        let at = (chrono::Utc::now() + chrono::Duration::milliseconds(i as i64)).to_rfc3339();
        let body = with_dimension(
            log_alert_v2("Fired", "bg1@contoso.onmicrosoft.com", "203.0.113.7", &format!("bench-{i}")),
            "TimeGenerated",
            &at,
        );
        let sent = Instant::now();
        let resp = http.post(&endpoint).json(&body).send().await.context("webhook call")?;
        anyhow::ensure!(resp.status().is_success(), "webhook answered {}", resp.status());
        answered.push(sent.elapsed());
        let answer: serde_json::Value = resp.json().await.context("webhook answer")?;
        let alarm = answer["raised"][0].as_str().context("a new alarm")?.to_owned();
        let deadline = sent + Duration::from_secs(10);
        let call = loop {
            if let Some(call) = alarms_posted().into_iter().nth(i) {
                break call;
            }
            anyhow::ensure!(Instant::now() < deadline, "alarm {i} never reached the fake Slack");
            tokio::time::sleep(Duration::from_micros(200)).await;
        };
        posted.push(call.at.saturating_duration_since(sent));
        let carol = ChatUser { platform: Platform::Slack, id: "U0CAROL".into() };
        running.service.acknowledge(&carol, &alarm.as_str().into(), Some("benchmark round")).await?;
    }
    report("webhook answered (2xx)", answered);
    report("alarm posted to Slack (postMessage)", posted);
    running.stop().await;
    Ok(())
}
