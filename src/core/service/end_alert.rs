//! Loud alerts for grants the directory will not end. The expiry sweep retries a failed end on
//! every pass (the grant stays open); once a grant has failed [`END_ALERT_AFTER_ATTEMPTS`] times
//! or for [`END_ALERT_AFTER`], the alert channel hears about it, at most once per grant every
//! [`END_ALERT_EVERY`], with an audit event.
//!
//! The throttle lives in memory (per replica): a restart or a second replica may repeat an alert
//! early, never suppress one.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::AccessService;
use super::messages::alert;
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::error::Error;
use crate::core::ids::GrantId;
use crate::core::ports::Commit;
use crate::core::request::Grant;

/// Failed attempts before the first alert.
pub const END_ALERT_AFTER_ATTEMPTS: u32 = 3;
/// Time failing before the first alert, whatever the attempt count.
pub const END_ALERT_AFTER: Duration = Duration::minutes(5);
/// Least time between two alerts about the same grant.
pub const END_ALERT_EVERY: Duration = Duration::minutes(15);

/// One grant's run of failed ends.
#[derive(Debug, Clone)]
pub(super) struct EndFailure {
    first: DateTime<Utc>,
    attempts: u32,
    alerted: Option<DateTime<Utc>>,
}

/// Failed ends by grant.
pub(super) type EndFailures = std::sync::Mutex<HashMap<GrantId, EndFailure>>;

impl AccessService {
    /// Forgets a grant's failures once it ended.
    pub(super) fn end_succeeded(&self, grant: &GrantId) {
        self.end_failures.lock().unwrap_or_else(|e| e.into_inner()).remove(grant);
    }

    /// Counts a failed end and raises the alert when due.
    pub(super) async fn end_failed(&self, grant: &Grant, error: &Error, now: DateTime<Utc>) {
        let due = {
            let mut failures = self.end_failures.lock().unwrap_or_else(|e| e.into_inner());
            let entry = failures.entry(grant.id.clone()).or_insert(EndFailure {
                first: now,
                attempts: 0,
                alerted: None,
            });
            entry.attempts += 1;
            let bad_enough =
                entry.attempts >= END_ALERT_AFTER_ATTEMPTS || now - entry.first >= END_ALERT_AFTER;
            let quiet = entry.alerted.is_none_or(|at| now - at >= END_ALERT_EVERY);
            if bad_enough && quiet {
                entry.alerted = Some(now);
                Some(entry.clone())
            } else {
                None
            }
        };
        let Some(failure) = due else { return };
        let cause: String = format!("{error:#}").chars().take(300).collect();
        let text = format!(
            "🚨 Could not END {}'s {} (grant {}, due {}): {} failed attempts since {}. The assignment \
             may still be active in the directory; pimbot keeps retrying. Last error: {}",
            grant.person,
            crate::core::text::strong(&grant.role),
            grant.id,
            grant.ends_at.format("%Y-%m-%d %H:%M UTC"),
            failure.attempts,
            failure.first.format("%H:%M UTC"),
            crate::core::text::quote(&cause),
        );
        let detail = json!({"grant_id": grant.id, "attempts": failure.attempts, "since": failure.first, "error": cause});
        let commit = Commit {
            at: Some(now),
            audit: vec![AuditEvent::about(
                now,
                Actor::System,
                EventKind::GrantEndFailed,
                &grant.request_id,
                &grant.role,
                detail,
            )],
            outbox: alert(&self.channels, grant.id.as_str(), &text),
            ..Commit::default()
        };
        if let Err(e) = self.commit(commit).await {
            tracing::error!(grant = %grant.id, error = %format!("{e:#}"), "could not queue the end-failure alert");
        }
    }
}
