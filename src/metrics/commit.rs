//! What a committed change counts: [`CommitMetrics`] reads a commit's audit events (requests by
//! outcome, time to decision, reminders, escalations, alarms, alerts, review decisions) and
//! [`PrometheusObserver`] records them once the commit is durable.

use metrics::{counter, histogram};

use super::{
    ALERTS_TOTAL, BreakGlassEvent, ESCALATIONS_TOTAL, REMINDERS_TOTAL, REQUESTS_TOTAL, REVIEWS_TOTAL,
    TIME_TO_DECISION, break_glass_alarm,
};
use crate::core::audit::{AuditEvent, EventKind};

/// Records the request, decision and alarm metrics of every commit the service makes; the
/// service calls it only once a commit succeeded (a lost race counts nothing).
#[derive(Debug, Default, Clone, Copy)]
pub struct PrometheusObserver;

impl crate::core::ports::CommitObserver for PrometheusObserver {
    fn committed(&self, audit: &[AuditEvent]) {
        CommitMetrics::of(audit).record();
    }
}

/// What a commit's audit events mean for the counters.
#[derive(Debug, Default)]
pub struct CommitMetrics {
    counted: Vec<(&'static str, String, Option<f64>)>,
}

impl CommitMetrics {
    /// Reads the audit events of a commit.
    pub fn of(events: &[AuditEvent]) -> Self {
        let mut counted = Vec::new();
        for event in events {
            let Some(kind) = event.event_kind() else { continue };
            let kind = match kind {
                EventKind::RequestSubmitted => "submitted",
                EventKind::RequestApproved => "approved",
                EventKind::RequestDenied => "denied",
                EventKind::RequestCancelled => "cancelled",
                EventKind::RequestTimedOut => "timed_out",
                EventKind::GrantFailed => "failed",
                EventKind::RequestReminded => "reminded",
                EventKind::RequestEscalated => "escalated",
                EventKind::BreakglassSignin => "alarm_raised",
                EventKind::BreakglassAcknowledged => "alarm_acknowledged",
                EventKind::AlertRaised => {
                    let kind = event.detail.get("alert").and_then(|v| v.as_str()).unwrap_or("unknown");
                    counted.push(("alert", kind.to_owned(), None));
                    continue;
                }
                EventKind::ReviewDecided => {
                    let decision = event.detail.get("decision").and_then(|v| v.as_str()).unwrap_or("unknown");
                    let by = if event.detail.get("default").and_then(|v| v.as_bool()) == Some(true) {
                        "default"
                    } else {
                        "reviewer"
                    };
                    counted.push(("review", format!("{decision}|{by}"), None));
                    continue;
                }
                _ => continue,
            };
            let role = event.role.as_ref().map(|r| r.as_str().to_owned()).unwrap_or_default();
            let ttd = event.time_to_decision_secs().map(|s| s as f64).filter(|_| !event.automatic());
            counted.push((kind, role, ttd));
        }
        Self { counted }
    }

    /// Records the counters; call after the commit succeeded.
    pub fn record(self) {
        for (kind, role, ttd) in self.counted {
            match kind {
                "reminded" => counter!(REMINDERS_TOTAL).increment(1),
                "escalated" => counter!(ESCALATIONS_TOTAL).increment(1),
                "alarm_raised" => break_glass_alarm(BreakGlassEvent::Raised),
                "alarm_acknowledged" => break_glass_alarm(BreakGlassEvent::Acknowledged),
                "alert" => counter!(ALERTS_TOTAL, "kind" => role.clone()).increment(1),
                "review" => {
                    let (decision, by) = role.split_once('|').unwrap_or((role.as_str(), ""));
                    counter!(REVIEWS_TOTAL, "decision" => decision.to_owned(), "by" => by.to_owned())
                        .increment(1)
                }
                outcome => counter!(REQUESTS_TOTAL, "role" => role, "outcome" => outcome).increment(1),
            }
            if let Some(secs) = ttd {
                histogram!(TIME_TO_DECISION).record(secs.max(0.0));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::core::audit::Actor;
    use crate::core::ids::{RequestId, RoleKey};

    fn event(kind: EventKind, detail: serde_json::Value) -> AuditEvent {
        AuditEvent::about(
            Utc::now(),
            Actor::System,
            kind,
            &RequestId::from("r-1"),
            &RoleKey::from("reader"),
            detail,
        )
    }

    #[test]
    fn audit_kinds_map_to_outcomes_and_auto_approvals_skip_the_histogram() {
        let m = CommitMetrics::of(&[
            event(EventKind::RequestSubmitted, serde_json::json!({})),
            event(EventKind::RequestApproved, serde_json::json!({"auto": true, "time_to_decision_secs": 0})),
            event(EventKind::ApprovalRecorded, serde_json::json!({})),
            event(EventKind::RequestDenied, serde_json::json!({"time_to_decision_secs": 42})),
            event(EventKind::RequestReminded, serde_json::json!({})),
            event(EventKind::BreakglassSignin, serde_json::json!({})),
            event(EventKind::BreakglassRepaged, serde_json::json!({})),
        ]);
        let kinds: Vec<_> = m.counted.iter().map(|(k, r, t)| (*k, r.as_str(), *t)).collect();
        assert_eq!(
            kinds,
            vec![
                ("submitted", "reader", None),
                ("approved", "reader", None),
                ("denied", "reader", Some(42.0)),
                ("reminded", "reader", None),
                ("alarm_raised", "reader", None),
            ]
        );
    }
}
