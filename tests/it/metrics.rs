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
        assert_eq!(sample(&after, "pimbot_grants_overdue", &[]), 0.0);
        assert!(after.contains("pimbot_break_glass_alarms_total{event=\"raised\"}"), "alarm series exist");
        app.stop().await;
    });
}
