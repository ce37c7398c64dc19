//! `pimbot report`: per-role request counts and time-to-decision percentiles, computed from
//! the audit trail (the only record that is complete and tamper-evident).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::audit::{AuditRecord, EventKind};
use super::duration::format_duration;

/// Counts and decision times of one role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleStats {
    /// Requests submitted.
    pub submitted: u64,
    /// Approved (manually or automatically).
    pub approved: u64,
    /// Denied.
    pub denied: u64,
    /// Cancelled by the requester.
    pub cancelled: u64,
    /// Timed out without a decision.
    pub timed_out: u64,
    /// Grants that could not be made.
    pub failed: u64,
    /// Seconds from submission to a human decision (approve or deny).
    pub decision_secs: Vec<i64>,
}

impl RoleStats {
    /// The `p`-th percentile (0–100, nearest rank) of decision times, if any.
    pub fn percentile(&self, p: u32) -> Option<i64> {
        let mut sorted = self.decision_secs.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return None;
        }
        let rank = (u64::from(p.min(100)) * sorted.len() as u64).div_ceil(100).max(1) as usize;
        sorted.get(rank - 1).copied()
    }
}

/// Aggregates audit records by role.
pub fn by_role(records: &[AuditRecord]) -> BTreeMap<String, RoleStats> {
    let mut stats: BTreeMap<String, RoleStats> = BTreeMap::new();
    for rec in records {
        let Some(role) = &rec.event.role else { continue };
        let s = stats.entry(role.to_string()).or_default();
        let ttd = rec.event.time_to_decision_secs();
        let automatic = rec.event.automatic();
        let Some(kind) = rec.event.event_kind() else { continue };
        match kind {
            EventKind::RequestSubmitted => s.submitted += 1,
            EventKind::RequestApproved => {
                s.approved += 1;
                if let (Some(t), false) = (ttd, automatic) {
                    s.decision_secs.push(t);
                }
            }
            EventKind::RequestDenied => {
                s.denied += 1;
                s.decision_secs.extend(ttd);
            }
            EventKind::RequestCancelled => s.cancelled += 1,
            EventKind::RequestTimedOut => s.timed_out += 1,
            EventKind::GrantFailed => s.failed += 1,
            _ => {}
        }
    }
    stats
}

/// The report as a text table.
pub fn render(stats: &BTreeMap<String, RoleStats>) -> String {
    let mut out = String::from(
        "role                 submitted approved denied cancelled timed_out failed  ttd_p50  ttd_p90\n",
    );
    let fmt = |v: Option<i64>| {
        v.map(|s| format_duration(chrono::Duration::seconds(s))).unwrap_or_else(|| "-".into())
    };
    for (role, s) in stats {
        let _ = writeln!(
            out,
            "{role:<20} {:>9} {:>8} {:>6} {:>9} {:>9} {:>6} {:>8} {:>8}",
            s.submitted,
            s.approved,
            s.denied,
            s.cancelled,
            s.timed_out,
            s.failed,
            fmt(s.percentile(50)),
            fmt(s.percentile(90))
        );
    }
    if stats.is_empty() {
        out.push_str("(no requests in this period)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::audit::{Actor, AuditEvent, GENESIS_HASH};
    use chrono::Utc;
    use serde_json::json;

    fn rec(kind: EventKind, role: &str, detail: serde_json::Value) -> AuditRecord {
        let ev = AuditEvent::about(Utc::now(), Actor::System, kind, &"r-1".into(), &role.into(), detail);
        crate::core::audit_chain::Linker::Unkeyed.chain(1, ev, GENESIS_HASH)
    }

    #[test]
    fn counts_and_percentiles_per_role() {
        let mut records = vec![];
        for t in [10, 20, 30, 40, 50, 60, 70, 80, 90, 100] {
            records.push(rec(EventKind::RequestSubmitted, "ga", json!({})));
            records.push(rec(EventKind::RequestApproved, "ga", json!({"time_to_decision_secs": t})));
        }
        records.push(rec(EventKind::RequestSubmitted, "reader", json!({})));
        records.push(rec(
            EventKind::RequestApproved,
            "reader",
            json!({"auto": true, "time_to_decision_secs": 0}),
        ));
        records.push(rec(EventKind::RequestDenied, "ga", json!({"time_to_decision_secs": 1000})));
        records.push(rec(EventKind::RequestTimedOut, "ga", json!({})));
        let stats = by_role(&records);
        let ga = &stats["ga"];
        assert_eq!((ga.submitted, ga.approved, ga.denied, ga.timed_out), (10, 10, 1, 1));
        assert_eq!(ga.percentile(50), Some(60));
        assert_eq!(ga.percentile(90), Some(100));
        assert_eq!(stats["reader"].percentile(50), None, "automatic approvals are not decisions");
        let text = render(&stats);
        assert!(text.contains("ga") && text.contains("1m") && text.contains("reader"), "{text}");
    }
}
