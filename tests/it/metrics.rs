//! `GET /metrics` after a real Slack flow: the request counters, the decision-time and HTTP
//! histograms, chat API statuses, directory calls and the outbox gauges all move as they should.
//!
//! Metrics are process-wide and other tests run in parallel in this binary, so counters are
//! compared before and after (at least the expected increase); gauges are set from this test's
//! database on each scrape, and only tests in this module scrape.

use std::time::Duration as StdDuration;

use chrono::Duration;
use pimbot::core::state::RequestState;

use crate::on_every_backend;
use crate::support::app::TestApp;

/// Serialises the tests that scrape (gauges are process-wide).
pub static SCRAPE_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn scrape(app: &TestApp) -> String {
    let res = reqwest::get(format!("http://{}/metrics", app.running.addr)).await.expect("GET /metrics");
    assert_eq!(res.status(), 200);
    let kind = res.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(kind.starts_with("text/plain"), "content type {kind}");
    res.text().await.expect("metrics body")
}

/// The value of the sample `name` whose labels include every `labels` pair (0 when absent).
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.rsplit_once(' '))
        .filter(|(series, _)| {
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            metric == name && labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|(_, value)| value.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn metrics_follow_a_request_through_slack() {
    let _guard = SCRAPE_LOCK.lock().await;
    on_every_backend!(|app: TestApp| async move {
        let before = scrape(&app).await;
        let ga = [("role", "global-admin")];
        let count =
            |text: &str, outcome: &str| sample(text, "pimbot_requests_total", &[ga[0], ("outcome", outcome)]);

        // The card is rate limited for a minute; the feed post queues behind it (same order key).
        app.fake.rate_limit_next(1, 60);
        let (_, id) = app.activate("U0ALICE", "global-admin 1h #INC-9 metrics check").await;
        for _ in 0..500 {
            if !app.fake.failed_calls().is_empty() {
                break;
            }
            tokio::time::sleep(StdDuration::from_millis(10)).await;
        }
        assert_eq!(app.fake.failed_calls().len(), 1, "the card was refused");
        app.advance(Duration::seconds(30));
        let waiting = scrape(&app).await;
        assert!(sample(&waiting, "pimbot_outbox_depth", &[]) >= 2.0, "{waiting}");
        let pending = [("role", "global-admin"), ("tier", "critical")];
        assert_eq!(sample(&waiting, "pimbot_pending_requests", &pending), 1.0, "{waiting}");
        let age = sample(&waiting, "pimbot_outbox_oldest_age_seconds", &[]);
        assert!((30.0..120.0).contains(&age), "oldest age {age}");
        let limited = [("platform", "slack"), ("method", "chat.postMessage"), ("status", "429")];
        assert!(
            sample(&waiting, "pimbot_chat_api_calls_total", &limited)
                >= sample(&before, "pimbot_chat_api_calls_total", &limited) + 1.0
        );

        // Past the Retry-After the posts go out; then carol approves and the grant is made.
        app.advance(Duration::seconds(40));
        app.settle().await;
        app.advance(Duration::seconds(90));
        assert_eq!(app.click("U0CAROL", "approve", &id).await.status, 200);
        app.settle().await;
        assert_eq!(app.request(&id).await.state, RequestState::Active);
        let missing = reqwest::get(format!("http://{}/no/such/page", app.running.addr)).await.expect("GET");
        assert_eq!(missing.status(), 404);

        let after = scrape(&app).await;
        assert!(count(&after, "submitted") >= count(&before, "submitted") + 1.0, "{after}");
        assert!(count(&after, "approved") >= count(&before, "approved") + 1.0, "{after}");
        let decisions = sample(&after, "pimbot_time_to_decision_seconds_count", &[]);
        assert!(decisions >= sample(&before, "pimbot_time_to_decision_seconds_count", &[]) + 1.0);
        assert!(after.contains("pimbot_time_to_decision_seconds_bucket{le=\"300\"}"), "{after}");

        let commands = [("route", "/slack/commands"), ("status", "200")];
        let http_count = |t: &str| sample(t, "pimbot_http_request_duration_seconds_count", &commands);
        assert!(http_count(&after) >= http_count(&before) + 1.0, "{after}");
        assert!(
            sample(&after, "pimbot_http_request_duration_seconds_bucket", &[commands[0], ("le", "+Inf")])
                >= 1.0,
            "a real histogram with buckets: {after}"
        );
        assert!(
            sample(&after, "pimbot_http_request_duration_seconds_count", &[("route", "unmatched")]) >= 1.0
        );
        assert!(
            sample(&after, "pimbot_http_request_duration_seconds_count", &[("route", "/slack/interactions")])
                >= 1.0
        );

        let ok = [("platform", "slack"), ("method", "chat.postMessage"), ("status", "ok")];
        assert!(sample(&after, "pimbot_chat_api_calls_total", &ok) >= 2.0);
        let grants = [("directory", "static"), ("op", "grant"), ("outcome", "ok")];
        assert!(
            sample(&after, "pimbot_directory_calls_total", &grants)
                >= sample(&before, "pimbot_directory_calls_total", &grants) + 1.0
        );
        assert_eq!(sample(&after, "pimbot_outbox_depth", &[]), 0.0, "outbox drained");
        assert_eq!(sample(&after, "pimbot_outbox_oldest_age_seconds", &[]), 0.0);
        assert_eq!(sample(&after, "pimbot_active_grants", &[]), 1.0);
        assert_eq!(sample(&after, "pimbot_active_grants", &pending), 1.0, "by role and tier");
        assert_eq!(sample(&after, "pimbot_pending_requests", &pending), 0.0, "decided: back to 0");
        // Latency histograms of the chat, directory and database calls the flow made.
        let posts = [("platform", "slack"), ("method", "chat.postMessage")];
        assert!(sample(&after, "pimbot_chat_api_call_duration_seconds_count", &posts) >= 3.0, "{after}");
        let granted = [("directory", "static"), ("op", "grant")];
        assert!(sample(&after, "pimbot_directory_call_duration_seconds_count", &granted) >= 1.0, "{after}");
        assert!(sample(&after, "pimbot_database_call_duration_seconds_count", &[("op", "commit")]) >= 3.0);
        assert!(
            sample(
                &after,
                "pimbot_database_call_duration_seconds_bucket",
                &[("op", "claim_outbox"), ("le", "+Inf")]
            ) >= 1.0
        );
        assert_eq!(sample(&after, "pimbot_grants_overdue", &[]), 0.0);
        assert!(after.contains("pimbot_break_glass_alarms_total{event=\"raised\"}"), "alarm series exist");
        app.stop().await;
    });
}

/// A fresh `pimbot serve` (its own process, so nothing else has counted yet) exports every
/// metric an alert rule may use before the first event: counters at 0, gauges per role and
/// per break-glass account at 0, and the build info.
#[tokio::test]
async fn a_fresh_start_exports_every_series_at_zero() {
    use crate::support::binary::{Binary, wait_until_ok};
    let config = r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "sqlite://{dir}/pimbot.db"
[slack]
signing_secret = "8f742231b10e8888abcd99yyyzzz85a5"
bot_token = "xoxb-1-2-unused"
api_url = "http://127.0.0.1:9/api/"
approver_channel = "C0APPROVERS"
[break_glass_monitor]
webhook_token = "b7c1a0d9e2f34b5c8d6e7f8091a2b3c4"
[[person]]
id = "alice"
upn = "alice@contoso.com"
slack = "U0ALICE"
[[person]]
id = "carol"
upn = "carol@contoso.com"
slack = "U0CAROL"
[[role]]
key = "global-admin"
kind = "entra-role"
directory_id = "62e90394-69f5-4237-9190-012177145e10"
tier = "critical"
require_mfa = false
approver_mfa = false
approvers = ["carol"]
eligible = ["alice"]
[[break_glass]]
upn = "bg1@contoso.onmicrosoft.com"
"#;
    let bin = Binary::serve(config, &[]);
    wait_until_ok(&format!("{}/readyz", bin.url()), StdDuration::from_secs(10)).await;
    let text =
        reqwest::get(format!("{}/metrics", bin.url())).await.expect("scrape").text().await.expect("body");
    let has = |series: &str| text.lines().any(|l| l.starts_with(series));
    let zero =
        |series: &str| text.lines().any(|l| l.strip_prefix(series).is_some_and(|rest| rest.trim() == "0"));
    let ga = "role=\"global-admin\"";
    for outcome in pimbot::metrics::catalog::OUTCOMES {
        let series = format!("pimbot_requests_total{{{ga},outcome=\"{outcome}\"}}");
        let series = if has(&series) {
            series
        } else {
            format!("pimbot_requests_total{{outcome=\"{outcome}\",{ga}}}")
        };
        assert!(zero(&series), "{series} at 0:\n{text}");
    }
    for series in [
        "pimbot_reminders_total",
        "pimbot_escalations_total",
        "pimbot_break_glass_alarms_total{event=\"raised\"}",
        "pimbot_break_glass_alarms_total{event=\"acknowledged\"}",
        "pimbot_directory_calls_total{directory=\"static\",op=\"grant\",outcome=\"error\"}",
        "pimbot_chat_api_calls_total{platform=\"slack\",method=\"chat.postMessage\",status=\"ok\"}",
        "pimbot_pending_requests{role=\"global-admin\",tier=\"critical\"}",
        "pimbot_active_grants{role=\"global-admin\",tier=\"critical\"}",
        "pimbot_open_alarms{account=\"bg1@contoso.onmicrosoft.com\",severity=\"high\"}",
        "pimbot_grants_overdue",
        "pimbot_outbox_depth",
        "pimbot_outbox_oldest_age_seconds",
    ] {
        assert!(zero(series), "{series} at 0:\n{text}");
    }
    let build = format!("pimbot_build_info{{version=\"{}\",commit=\"", env!("CARGO_PKG_VERSION"));
    assert!(text.lines().any(|l| l.starts_with(&build) && l.ends_with(" 1")), "{text}");
    // The database is timed from the first call (the readiness probe pings it).
    assert!(has("pimbot_database_call_duration_seconds_bucket{op=\"ping\""), "{text}");
}
