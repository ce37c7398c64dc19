//! The database-backed gauges, set from the store on every scrape: outbox depth and age,
//! pending requests, active and overdue grants, open break-glass alarms.
//!
//! Gauges by role carry the role's tier from the running policy (`unknown` for a role no longer
//! in it). A label set that disappears from the database (the last pending request of a role
//! was decided) is set back to 0 rather than left at its last value.

use std::collections::BTreeSet;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use metrics::gauge;

use super::{
    ACTIVE_GRANTS, GRANTS_OVERDUE, OPEN_ALARMS, OUTBOX_DEPTH, OUTBOX_OLDEST_AGE, OVERDUE_AFTER,
    PENDING_REQUESTS,
};
use crate::core::ids::RoleKey;
use crate::core::policy::Policy;
use crate::core::ports::Store;

/// One gauge series: the metric and its label pairs.
type Series = (&'static str, Vec<(&'static str, String)>);

/// Series set on an earlier scrape.
static SEEN: Mutex<BTreeSet<Series>> = Mutex::new(BTreeSet::new());

/// Sets the database-backed gauges from the store. Errors are logged and leave the previous
/// values in place (a scrape never fails because of them).
pub async fn refresh_gauges(store: &dyn Store, policy: &Policy, now: DateTime<Utc>) {
    match store.outbox_depth().await {
        Ok(depth) => gauge!(OUTBOX_DEPTH).set(depth as f64),
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "reading outbox depth for metrics failed"),
    }
    match store.outbox_oldest_pending().await {
        Ok(oldest) => {
            let age = oldest.map(|t| (now - t).num_milliseconds().max(0) as f64 / 1000.0).unwrap_or(0.0);
            gauge!(OUTBOX_OLDEST_AGE).set(age);
        }
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "reading outbox age for metrics failed"),
    }
    match store.due_grants(now - OVERDUE_AFTER, 10_000).await {
        Ok(due) => gauge!(GRANTS_OVERDUE).set(due.len() as f64),
        Err(e) => tracing::warn!(error = %format!("{e:#}"), "counting overdue grants for metrics failed"),
    }
    match store.recent_rejections(now - chrono::Duration::hours(1), 10_000).await {
        Ok(refused) => gauge!(super::CHAT_REJECTED_LAST_HOUR).set(refused.len() as f64),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "counting refused chat messages for metrics failed")
        }
    }
    let counts = match store.gauge_counts().await {
        Ok(counts) => counts,
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "counting requests, grants and alarms for metrics failed");
            return;
        }
    };
    let mut values = Vec::new();
    for (metric, rows) in
        [(PENDING_REQUESTS, &counts.pending_by_role), (ACTIVE_GRANTS, &counts.open_grants_by_role)]
    {
        // Every role of the policy reports, at 0 when it has nothing.
        for role in &policy.roles {
            values.push((metric, role_labels(policy, &role.key), 0.0));
        }
        for (role, n) in rows {
            values.push((metric, role_labels(policy, role), *n as f64));
        }
    }
    // Every break-glass account reports, at 0 while it has no open alarm.
    for account in &policy.break_glass {
        for severity in ["high", "medium"] {
            values.push((
                OPEN_ALARMS,
                vec![("account", account.upn.clone()), ("severity", severity.to_owned())],
                0.0,
            ));
        }
    }
    for (account, severity, n) in counts.open_alarms {
        values.push((OPEN_ALARMS, vec![("account", account), ("severity", severity)], n as f64));
    }
    let mut seen = SEEN.lock().unwrap_or_else(|e| e.into_inner());
    let now_set: BTreeSet<_> = values.iter().map(|(m, l, _)| (*m, l.clone())).collect();
    for (metric, labels) in seen.difference(&now_set) {
        gauge!(*metric, to_labels(labels)).set(0.0);
    }
    for (metric, labels, value) in values {
        gauge!(metric, to_labels(&labels)).set(value);
    }
    seen.extend(now_set);
}

fn role_labels(policy: &Policy, role: &RoleKey) -> Vec<(&'static str, String)> {
    let tier = policy.role(role).map_or_else(|_| "unknown".to_owned(), |r| r.tier.as_str().to_owned());
    vec![("role", role.as_str().to_owned()), ("tier", tier)]
}

fn to_labels(labels: &[(&'static str, String)]) -> Vec<metrics::Label> {
    labels.iter().map(|(k, v)| metrics::Label::new(*k, v.clone())).collect()
}
