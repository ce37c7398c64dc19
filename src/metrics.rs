//! Prometheus metrics, served as text on `GET /metrics`.
//!
//! Recording goes through the `metrics` facade (a few macros, no I/O); the exporter is
//! `metrics-exporter-prometheus` with its HTTP listener switched off: [`install`] sets the global
//! recorder once per process and [`render`] produces the text our own axum route returns.
//!
//! | metric | type | labels | meaning |
//! |---|---|---|---|
//! | `pimbot_requests_total` | counter | `role`, `outcome` | Requests by outcome: `submitted`, `approved`, `denied`, `cancelled`, `timed_out`, `failed` (the grant could not be made). Counted once the change is committed. |
//! | `pimbot_time_to_decision_seconds` | histogram | — | Submission to the final approval or the denial, for requests that needed approval. |
//! | `pimbot_active_grants` | gauge | — | Grants in force now (database-wide). |
//! | `pimbot_grants_overdue` | gauge | — | Grants whose end passed more than a minute ago but are still open: the expiry sweep or the directory is stuck. |
//! | `pimbot_reminders_total` | counter | — | SLA reminders sent to approvers. |
//! | `pimbot_escalations_total` | counter | — | SLA escalations. |
//! | `pimbot_outbox_depth` | gauge | — | Chat messages not yet delivered (database-wide). |
//! | `pimbot_outbox_oldest_age_seconds` | gauge | — | Age of the oldest undelivered chat message; 0 when the outbox is empty. |
//! | `pimbot_chat_api_calls_total` | counter | `platform`, `method`, `status` | Chat API calls; `method` is the Slack method (`chat.postMessage`) or the Discord route template. `status` is `ok`, `429`, `5xx`, another HTTP status, `timeout`, `error` (transport), or the platform's error code (`channel_not_found`, …). |
//! | `pimbot_directory_calls_total` | counter | `directory`, `op`, `outcome` | Directory calls (`op`: `grant`, `revoke`, `eligibility`, `list_assignments`, `remove_assignment`, `lookup_user`; `outcome`: `ok`, `error`). |
//! | `pimbot_break_glass_alarms_total` | counter | `event` | Break-glass alarms `raised` and `acknowledged` (counted from the `breakglass.signin` and `breakglass.acknowledged` audit events of committed changes). |
//! | `pimbot_alerts_total` | counter | `kind` | PIM alerts raised (`too_many_eligible`, `frequent_activation`, `outside_working_hours`, `stale_eligibility`, `refusal_burst`, `weak_role`, …), once per alert and period (counted from the `alert.raised` audit events). |
//! | `pimbot_reviews_total` | counter | `decision`, `by` | Access-review items decided (`keep`/`remove`, `by` = `reviewer` or `default`). |
//! | `pimbot_oncall_checks_total` | counter | `provider`, `result` | On-call questions (`pagerduty`, `opsgenie`) by `result`: `on_call`, `not_on_call`, `error` (outage, timeout, bad answer: normal approval). |
//! | `pimbot_http_request_duration_seconds` | histogram | `route`, `status` | HTTP requests by matched route template (`unmatched` for 404s) and status code. |
//! | `pimbot_chat_rejected_total` | counter | `platform`, `reason` | Chat messages a platform refused for good (`reason`: Slack's error code such as `channel_not_found`, Discord's message in snake case such as `unknown_channel`, `original_missing`, `platform_disabled`); common reasons start at zero. |
//! | `pimbot_chat_reposts_in_doubt_total` | counter | `platform` | Messages whose earlier attempt may have reached the platform (a timeout or a dropped connection after sending, a crash mid-post) posted again because the platform offers no way to find the first post (Teams); each may show twice. |
//! | `pimbot_commands_limited_total` | counter | `platform` | Chat commands, clicks and form submissions refused by the per-person rate limit (`[limits] commands_per_minute`); nothing was done for them. |
//! | `pimbot_chat_rejected_last_hour` | gauge | — | Messages refused for good in the last hour (database-wide). |
//! | `pimbot_build_info` | gauge | `version`, `commit` | Always 1; the labels say which build runs. |
//! | `pimbot_pending_requests` | gauge | `role`, `tier` | Requests waiting for a decision (database-wide). |
//! | `pimbot_open_alarms` | gauge | `account`, `severity` | Break-glass alarms not yet acknowledged (database-wide). |
//! | `pimbot_chat_api_call_duration_seconds` | histogram | `platform`, `method` | Latency of chat API calls, failures and timeouts included. |
//! | `pimbot_directory_call_duration_seconds` | histogram | `directory`, `op` | Latency of directory calls. |
//! | `pimbot_database_call_duration_seconds` | histogram | `op` | Latency of store calls (`commit`, `claim_outbox`, …). |
//!
//! `pimbot_active_grants` carries `role` and `tier` too. The gauges read the database; they are
//! refreshed on every scrape ([`refresh_gauges`]), so every replica reports the same
//! database-wide value: aggregate them with `max`, not `sum`. Every counter and its bounded
//! label sets (roles × outcomes, operations, chat methods with status `ok`) is registered at
//! zero when the app starts ([`catalog::register`]), so `increase()` sees the first event.

use std::sync::OnceLock;

use metrics::{counter, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub mod catalog;
mod commit;
mod gauges;

pub use commit::{CommitMetrics, PrometheusObserver};
pub use gauges::refresh_gauges;

/// Requests by role and outcome.
pub const REQUESTS_TOTAL: &str = "pimbot_requests_total";
/// On-call questions by provider and result.
pub const ONCALL_CHECKS_TOTAL: &str = "pimbot_oncall_checks_total";
/// Seconds from submission to decision.
pub const TIME_TO_DECISION: &str = "pimbot_time_to_decision_seconds";
/// Grants in force.
pub const ACTIVE_GRANTS: &str = "pimbot_active_grants";
/// Grants past their end and still open.
pub const GRANTS_OVERDUE: &str = "pimbot_grants_overdue";
/// SLA reminders.
pub const REMINDERS_TOTAL: &str = "pimbot_reminders_total";
/// SLA escalations.
pub const ESCALATIONS_TOTAL: &str = "pimbot_escalations_total";
/// Undelivered outbox rows.
pub const OUTBOX_DEPTH: &str = "pimbot_outbox_depth";
/// Age of the oldest undelivered outbox row.
pub const OUTBOX_OLDEST_AGE: &str = "pimbot_outbox_oldest_age_seconds";
/// Chat Web API calls.
pub const CHAT_API_CALLS_TOTAL: &str = "pimbot_chat_api_calls_total";
/// Directory calls.
pub const DIRECTORY_CALLS_TOTAL: &str = "pimbot_directory_calls_total";
/// Break-glass alarm events.
pub const BREAK_GLASS_ALARMS_TOTAL: &str = "pimbot_break_glass_alarms_total";
/// PIM alerts raised.
pub const ALERTS_TOTAL: &str = "pimbot_alerts_total";
/// Access-review decisions.
pub const REVIEWS_TOTAL: &str = "pimbot_reviews_total";
/// HTTP request latency.
pub const HTTP_REQUEST_DURATION: &str = "pimbot_http_request_duration_seconds";
/// Chat messages a platform refused for good.
pub const CHAT_REJECTED_TOTAL: &str = "pimbot_chat_rejected_total";
/// Chat commands refused by the per-person rate limit.
pub const COMMANDS_LIMITED_TOTAL: &str = "pimbot_commands_limited_total";
/// Chat messages refused in the last hour (database-wide).
pub const CHAT_REJECTED_LAST_HOUR: &str = "pimbot_chat_rejected_last_hour";
/// Refusal reasons every platform's `pimbot_chat_rejected_total` starts at zero with, so an
/// alert's `increase()` sees the first refusal; other reasons appear when they happen.
const KNOWN_REFUSALS: &[(&str, &[&str])] = &[
    (
        "slack",
        &[
            "channel_not_found",
            "not_in_channel",
            "is_archived",
            "invalid_auth",
            "account_inactive",
            "token_revoked",
            "missing_scope",
            "msg_too_long",
            "invalid_blocks",
            "original_missing",
        ],
    ),
    (
        "discord",
        &["unknown_channel", "missing_access", "missing_permissions", "http_401", "original_missing"],
    ),
];
/// Which build runs (always 1).
pub const BUILD_INFO: &str = "pimbot_build_info";
/// Requests waiting for a decision.
pub const PENDING_REQUESTS: &str = "pimbot_pending_requests";
/// Unacknowledged break-glass alarms.
pub const OPEN_ALARMS: &str = "pimbot_open_alarms";
/// Chat API call latency.
pub const CHAT_API_CALL_DURATION: &str = "pimbot_chat_api_call_duration_seconds";
/// Directory call latency.
pub const DIRECTORY_CALL_DURATION: &str = "pimbot_directory_call_duration_seconds";
/// Store call latency.
pub const DATABASE_CALL_DURATION: &str = "pimbot_database_call_duration_seconds";
/// Messages in doubt posted again where the platform offers no way to find the first post.
pub const CHAT_REPOSTS_IN_DOUBT_TOTAL: &str = "pimbot_chat_reposts_in_doubt_total";

/// Every metric pimbot exports (the alert rules may use only these).
pub const ALL: &[&str] = &[
    REQUESTS_TOTAL,
    TIME_TO_DECISION,
    ACTIVE_GRANTS,
    GRANTS_OVERDUE,
    REMINDERS_TOTAL,
    ESCALATIONS_TOTAL,
    OUTBOX_DEPTH,
    OUTBOX_OLDEST_AGE,
    CHAT_API_CALLS_TOTAL,
    DIRECTORY_CALLS_TOTAL,
    BREAK_GLASS_ALARMS_TOTAL,
    HTTP_REQUEST_DURATION,
    BUILD_INFO,
    PENDING_REQUESTS,
    OPEN_ALARMS,
    CHAT_API_CALL_DURATION,
    DIRECTORY_CALL_DURATION,
    DATABASE_CALL_DURATION,
    CHAT_REJECTED_TOTAL,
    CHAT_REJECTED_LAST_HOUR,
    ALERTS_TOTAL,
    REVIEWS_TOTAL,
    ONCALL_CHECKS_TOTAL,
    COMMANDS_LIMITED_TOTAL,
    CHAT_REPOSTS_IN_DOUBT_TOTAL,
];

/// How late a grant's end may be before it counts as overdue.
pub const OVERDUE_AFTER: chrono::Duration = chrono::Duration::seconds(60);

/// HTTP latency buckets (seconds): Slack gives up after 3 s.
const HTTP_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// Outbound API latency buckets (seconds): calls time out after 10–20 s.
const API_BUCKETS: &[f64] = &[0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0];
/// Database latency buckets (seconds).
const DATABASE_BUCKETS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
/// Decision-time buckets (seconds): a minute to a day.
const DECISION_BUCKETS: &[f64] = &[30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 86400.0];

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder as the global `metrics` recorder, once per process; later
/// calls (tests start several apps in one process) return the same handle. `None` when another
/// recorder was installed first: metrics are then not exported by pimbot.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(HTTP_REQUEST_DURATION.into()), HTTP_BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(TIME_TO_DECISION.into()), DECISION_BUCKETS)
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(CHAT_API_CALL_DURATION.into()), API_BUCKETS)
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(DIRECTORY_CALL_DURATION.into()), API_BUCKETS)
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(Matcher::Full(DATABASE_CALL_DURATION.into()), DATABASE_BUCKETS)
                })
                .and_then(PrometheusBuilder::install_recorder);
            match installed {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!(error = %e, "metrics recorder not installed; /metrics will be empty");
                    None
                }
            }
        })
        .as_ref()
}

/// The Prometheus text exposition of every metric recorded so far.
pub fn render() -> String {
    match install() {
        Some(handle) => {
            handle.run_upkeep();
            handle.render()
        }
        None => "# metrics recorder unavailable\n".to_owned(),
    }
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram};
    describe_counter!(REQUESTS_TOTAL, "Access requests by role and outcome.");
    describe_histogram!(TIME_TO_DECISION, metrics::Unit::Seconds, "Submission to final decision.");
    describe_gauge!(ACTIVE_GRANTS, "Grants in force now (database-wide).");
    describe_gauge!(GRANTS_OVERDUE, "Open grants more than a minute past their end.");
    describe_counter!(REMINDERS_TOTAL, "SLA reminders sent to approvers.");
    describe_counter!(ESCALATIONS_TOTAL, "SLA escalations.");
    describe_gauge!(OUTBOX_DEPTH, "Undelivered chat messages (database-wide).");
    describe_gauge!(OUTBOX_OLDEST_AGE, metrics::Unit::Seconds, "Age of the oldest undelivered chat message.");
    describe_counter!(CHAT_API_CALLS_TOTAL, "Chat Web API calls by platform, method and status.");
    describe_counter!(DIRECTORY_CALLS_TOTAL, "Directory calls by directory, operation and outcome.");
    describe_counter!(BREAK_GLASS_ALARMS_TOTAL, "Break-glass alarms raised and acknowledged.");
    describe_histogram!(HTTP_REQUEST_DURATION, metrics::Unit::Seconds, "HTTP request latency.");
    describe_gauge!(BUILD_INFO, "Always 1; version and commit of the running build.");
    describe_gauge!(PENDING_REQUESTS, "Requests waiting for a decision (database-wide).");
    describe_gauge!(OPEN_ALARMS, "Break-glass alarms not yet acknowledged (database-wide).");
    describe_histogram!(CHAT_API_CALL_DURATION, metrics::Unit::Seconds, "Chat API call latency.");
    describe_histogram!(DIRECTORY_CALL_DURATION, metrics::Unit::Seconds, "Directory call latency.");
    describe_histogram!(DATABASE_CALL_DURATION, metrics::Unit::Seconds, "Store call latency.");
    catalog::build_info();
    describe_counter!(ONCALL_CHECKS_TOTAL, "On-call provider questions by provider and result.");
    describe_counter!(
        COMMANDS_LIMITED_TOTAL,
        "Chat commands refused by the per-person rate limit, by platform."
    );
    describe_counter!(
        CHAT_REPOSTS_IN_DOUBT_TOTAL,
        "Chat messages whose earlier attempt may have landed, posted again (they may show twice), by platform."
    );
    // Series that alerts watch exist from the start, at zero, so `increase()` sees the first one.
    for event in [BreakGlassEvent::Raised, BreakGlassEvent::Acknowledged] {
        counter!(BREAK_GLASS_ALARMS_TOTAL, "event" => event.as_str()).absolute(0);
    }
    counter!(REMINDERS_TOTAL).absolute(0);
    counter!(ESCALATIONS_TOTAL).absolute(0);
    describe_counter!(
        CHAT_REJECTED_TOTAL,
        "Chat messages a platform refused for good, by platform and reason."
    );
    describe_gauge!(
        CHAT_REJECTED_LAST_HOUR,
        "Chat messages refused for good in the last hour (database-wide)."
    );
    for (platform, reasons) in KNOWN_REFUSALS {
        for reason in *reasons {
            counter!(CHAT_REJECTED_TOTAL, "platform" => *platform, "reason" => *reason).absolute(0);
        }
    }
}

/// Counts one message `platform` refused for good; `reason` is a short label (see
/// `delivery::refusal::reason_label`).
pub fn chat_rejected(platform: &'static str, reason: &str) {
    counter!(CHAT_REJECTED_TOTAL, "platform" => platform, "reason" => reason.to_owned()).increment(1);
}

/// Counts one message in doubt that `platform` got again because it offers no way to find an
/// earlier post (Teams): it may show twice.
pub fn chat_reposted_in_doubt(platform: &'static str) {
    counter!(CHAT_REPOSTS_IN_DOUBT_TOTAL, "platform" => platform).increment(1);
}

/// Counts one chat command `platform` delivered that the per-person rate limit refused.
pub fn command_limited(platform: &'static str) {
    counter!(COMMANDS_LIMITED_TOTAL, "platform" => platform).increment(1);
}

/// A break-glass alarm event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakGlassEvent {
    /// An alarm was raised (a break-glass account signed in).
    Raised,
    /// Someone acknowledged it.
    Acknowledged,
}

impl BreakGlassEvent {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            BreakGlassEvent::Raised => "raised",
            BreakGlassEvent::Acknowledged => "acknowledged",
        }
    }
}

/// Counts a break-glass alarm event. Alarms raised and acknowledged through
/// `AccessService` are already counted from their audit events (`breakglass.signin`,
/// `breakglass.acknowledged`); call this only for other paths, after the change is committed.
pub fn break_glass_alarm(event: BreakGlassEvent) {
    counter!(BREAK_GLASS_ALARMS_TOTAL, "event" => event.as_str()).increment(1);
}

/// Records the latency of one chat API call.
pub fn chat_api_latency(platform: &'static str, method: &str, seconds: f64) {
    histogram!(CHAT_API_CALL_DURATION, "platform" => platform, "method" => method.to_owned()).record(seconds);
}

/// Records the latency of one directory call.
pub fn directory_latency(directory: &'static str, op: &'static str, seconds: f64) {
    histogram!(DIRECTORY_CALL_DURATION, "directory" => directory, "op" => op).record(seconds);
}

/// Records the latency of one store call.
pub fn database_call(op: &'static str, seconds: f64) {
    histogram!(DATABASE_CALL_DURATION, "op" => op).record(seconds);
}

/// Counts one chat Web API call.
pub fn chat_api_call(platform: &'static str, method: &str, status: &str) {
    counter!(CHAT_API_CALLS_TOTAL, "platform" => platform, "method" => method.to_owned(), "status" => status.to_owned())
        .increment(1);
}

/// The `status` label for an HTTP answer: `ok` for 2xx, `429`, `5xx`, or the status code.
pub fn http_status_label(status: u16) -> String {
    match status {
        200..=299 => "ok".into(),
        500..=599 => "5xx".into(),
        other => other.to_string(),
    }
}

/// Counts one directory call.
pub fn directory_call(directory: &'static str, op: &'static str, ok: bool) {
    let outcome = if ok { "ok" } else { "error" };
    counter!(DIRECTORY_CALLS_TOTAL, "directory" => directory, "op" => op, "outcome" => outcome).increment(1);
}

/// Records one HTTP request.
pub fn http_request(route: &str, status: u16, seconds: f64) {
    histogram!(HTTP_REQUEST_DURATION, "route" => route.to_owned(), "status" => status.to_string())
        .record(seconds);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_is_idempotent_and_render_names_the_alarm_series() {
        let first = install().map(|h| h as *const _);
        let second = install().map(|h| h as *const _);
        assert_eq!(first, second);
        break_glass_alarm(BreakGlassEvent::Raised);
        let text = render();
        assert!(text.contains("pimbot_break_glass_alarms_total{event=\"raised\"}"), "{text}");
    }
}
