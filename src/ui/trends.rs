//! The "Trends" page's figures, computed from the audit trail over a period of whole UTC days:
//! activations per role per day (`grant.activated`), the time-to-decision distribution per role
//! (the `time_to_decision_secs` of human approvals and denials, as `pimbot report` counts them),
//! activations out of hours, and the top requesters per role (`request.submitted`).
//!
//! Everything here is a pure function of the records, so each figure can be traced back to the
//! events it counts (the History page filters the same events).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, NaiveDate, Timelike, Utc, Weekday};

use crate::core::audit::{AuditRecord, EventKind};

/// Periods the page offers, in days.
pub const PERIODS: [i64; 4] = [7, 30, 90, 365];
/// The default period.
pub const DEFAULT_DAYS: i64 = 30;
/// Working hours (UTC), start included, end excluded; activations outside them, or on a
/// weekend, are out of hours.
pub const WORKING_HOURS: (u32, u32) = (8, 18);
/// How many requesters per role the page lists.
pub const TOP_REQUESTERS: usize = 5;
/// Upper bounds (seconds) of the time-to-decision buckets; the last bucket is open.
pub const DECISION_BUCKETS: [(i64, &str); 5] =
    [(300, "under 5m"), (900, "5–15m"), (3600, "15m–1h"), (14_400, "1–4h"), (i64::MAX, "over 4h")];

/// The figures of one period.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trends {
    /// The days of the period, oldest first.
    pub days: Vec<NaiveDate>,
    /// Activations per role, one count per day of `days`.
    pub activations: BTreeMap<String, Vec<u32>>,
    /// Decisions per role per bucket of [`DECISION_BUCKETS`].
    pub decisions: BTreeMap<String, [u32; 5]>,
    /// Median decision time per role, seconds.
    pub decision_p50: BTreeMap<String, i64>,
    /// Out-of-hours activations per role.
    pub out_of_hours: BTreeMap<String, u32>,
    /// The out-of-hours activations themselves: when, who, role.
    pub out_of_hours_list: Vec<(DateTime<Utc>, String, String)>,
    /// Requests per requester per role, most first (ties by name), at most [`TOP_REQUESTERS`].
    pub top_requesters: BTreeMap<String, Vec<(String, u32)>>,
}

impl Trends {
    /// Activations in the period, all roles.
    pub fn total_activations(&self) -> u32 {
        self.activations.values().flatten().sum()
    }
}

/// Whether `at` is outside [`WORKING_HOURS`] or on a weekend.
pub fn out_of_hours(at: DateTime<Utc>) -> bool {
    matches!(at.weekday(), Weekday::Sat | Weekday::Sun)
        || at.hour() < WORKING_HOURS.0
        || at.hour() >= WORKING_HOURS.1
}

/// Who asked for each request (`request.submitted`'s actor), by request id: grants are
/// recorded by the system, so their holder is found through their request.
pub fn requesters(records: &[AuditRecord]) -> std::collections::HashMap<String, String> {
    let mut out = std::collections::HashMap::new();
    for rec in records {
        if rec.event.kind == EventKind::RequestSubmitted
            && let Some(id) = &rec.event.request_id
        {
            out.entry(id.to_string()).or_insert_with(|| rec.event.actor.label());
        }
    }
    out
}

/// The person an event is about: the requester of its request, else whoever acted.
pub fn subject(rec: &AuditRecord, requesters: &std::collections::HashMap<String, String>) -> String {
    rec.event
        .request_id
        .as_ref()
        .and_then(|id| requesters.get(id.as_str()))
        .cloned()
        .unwrap_or_else(|| rec.event.actor.label())
}

/// The figures of the `days` days ending with `now`'s day.
pub fn compute(records: &[AuditRecord], now: DateTime<Utc>, days: i64) -> Trends {
    let days = days.clamp(1, 366);
    let last = now.date_naive();
    let first = last - Duration::days(days - 1);
    let day_list: Vec<NaiveDate> = first.iter_days().take(days as usize).collect();
    let mut t = Trends { days: day_list, ..Trends::default() };
    let by_request = requesters(records);
    let mut requesters: BTreeMap<String, BTreeMap<String, u32>> = BTreeMap::new();
    let mut times: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for rec in records {
        let e = &rec.event;
        let date = e.at.date_naive();
        if date < first || date > last {
            continue;
        }
        let Some(role) = e.role.as_ref().map(|r| r.to_string()) else { continue };
        let Some(kind) = e.event_kind() else { continue };
        match kind {
            EventKind::GrantActivated => {
                let counts = t.activations.entry(role.clone()).or_insert_with(|| vec![0; days as usize]);
                if let Some(c) = counts.get_mut((date - first).num_days() as usize) {
                    *c += 1;
                }
                if out_of_hours(e.at) {
                    *t.out_of_hours.entry(role.clone()).or_default() += 1;
                    t.out_of_hours_list.push((e.at, subject(rec, &by_request), role));
                }
            }
            EventKind::RequestSubmitted => {
                *requesters.entry(role).or_default().entry(e.actor.label()).or_default() += 1;
            }
            EventKind::RequestApproved | EventKind::RequestDenied => {
                let automatic = e.automatic();
                let Some(secs) = e.time_to_decision_secs() else {
                    continue;
                };
                if automatic {
                    continue;
                }
                let bucket = DECISION_BUCKETS.iter().position(|(max, _)| secs < *max).unwrap_or(4);
                t.decisions.entry(role.clone()).or_default()[bucket] += 1;
                times.entry(role).or_default().push(secs);
            }
            _ => {}
        }
    }
    for (role, mut secs) in times {
        secs.sort_unstable();
        if let Some(m) = secs.get((secs.len() - 1) / 2) {
            t.decision_p50.insert(role, *m);
        }
    }
    for (role, people) in requesters {
        let mut list: Vec<(String, u32)> = people.into_iter().collect();
        list.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        list.truncate(TOP_REQUESTERS);
        t.top_requesters.insert(role, list);
    }
    t.out_of_hours_list.sort_by_key(|x| std::cmp::Reverse(x.0));
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::audit::{Actor, AuditEvent, GENESIS_HASH};
    use chrono::TimeZone;
    use serde_json::json;

    fn rec(
        at: DateTime<Utc>,
        who: &str,
        kind: EventKind,
        role: &str,
        detail: serde_json::Value,
    ) -> AuditRecord {
        let event = AuditEvent {
            at,
            actor: Actor::Person(who.into()),
            kind: kind.into(),
            request_id: Some("r-1".into()),
            role: Some(role.into()),
            detail,
        };
        crate::testing::audit::test_linker().chain(1, event, GENESIS_HASH)
    }

    #[test]
    fn counts_activations_per_day_decisions_out_of_hours_and_requesters() {
        // Wednesday 2026-03-04, 12:00 UTC.
        let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).single().expect("time");
        let d = |days: i64, hour: u32| {
            Utc.with_ymd_and_hms(2026, 3, 4, hour, 0, 0).single().expect("time") - Duration::days(days)
        };
        let records = vec![
            rec(d(0, 9), "alice", EventKind::GrantActivated, "reader", json!({})),
            rec(d(0, 10), "bob", EventKind::GrantActivated, "reader", json!({})),
            rec(d(1, 22), "alice", EventKind::GrantActivated, "global-admin", json!({})),
            rec(d(4, 10), "alice", EventKind::GrantActivated, "reader", json!({})), // Saturday
            rec(d(7, 10), "alice", EventKind::GrantActivated, "reader", json!({})), // outside 7 days
            rec(d(0, 8), "alice", EventKind::RequestSubmitted, "reader", json!({})),
            rec(d(0, 8), "bob", EventKind::RequestSubmitted, "reader", json!({})),
            rec(d(1, 8), "bob", EventKind::RequestSubmitted, "reader", json!({})),
            rec(
                d(0, 9),
                "carol",
                EventKind::RequestApproved,
                "reader",
                json!({"time_to_decision_secs": 120}),
            ),
            rec(
                d(0, 9),
                "carol",
                EventKind::RequestApproved,
                "reader",
                json!({"time_to_decision_secs": 4000}),
            ),
            rec(d(0, 9), "carol", EventKind::RequestDenied, "reader", json!({"time_to_decision_secs": 600})),
            rec(
                d(0, 9),
                "system",
                EventKind::RequestApproved,
                "reader",
                json!({"time_to_decision_secs": 0, "auto": true}),
            ),
        ];
        let t = compute(&records, now, 7);
        assert_eq!(t.days.len(), 7);
        assert_eq!(t.days[6].to_string(), "2026-03-04");
        assert_eq!(t.activations["reader"], vec![0, 0, 1, 0, 0, 0, 2]);
        assert_eq!(t.activations["global-admin"], vec![0, 0, 0, 0, 0, 1, 0]);
        assert_eq!(t.total_activations(), 4);
        assert_eq!(t.out_of_hours.get("global-admin"), Some(&1));
        assert_eq!(t.out_of_hours.get("reader"), Some(&1), "the Saturday one");
        assert_eq!(t.out_of_hours_list.len(), 2);
        assert_eq!(t.out_of_hours_list[0].1, "alice", "the holder is the requester of r-1");
        assert_eq!(t.decisions["reader"], [1, 1, 0, 1, 0]);
        assert_eq!(t.decision_p50["reader"], 600);
        assert_eq!(t.top_requesters["reader"], vec![("bob".to_owned(), 2), ("alice".to_owned(), 1)]);
    }
}
