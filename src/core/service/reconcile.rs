//! Reconciliation: compare the directory's active assignments of the managed roles with
//! pimbot's open grants, and report drift to the alert channel (one commit: the alert and a
//! `directory.drift` audit event per finding).
//!
//! - **unmanaged**: an assignment with no open pimbot grant for that person and role (standing
//!   access, a portal activation, or the leftover of a grant whose end did not reach the
//!   directory). Removed when the directory says so (`[directory] remove_unmanaged = true`).
//! - **outlives its grant**: an open grant exists but the directory's assignment ends more than
//!   [`END_SLACK`] after it (or never). Reported only: the expiry sweep ends it on time.
//!
//! Break-glass accounts are skipped (their standing access is deliberate). The periodic pass
//! repeats a finding at most every [`REPORT_EVERY`] (in memory, per replica); `pimbot
//! reconcile` always reports.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::AccessService;
use super::messages::alert;
use crate::core::audit::{Actor, AuditEvent};
use crate::core::error::Result;
use crate::core::ids::{PersonId, RequestId};
use crate::core::ports::{Commit, DirectoryAssignment};

/// Tolerance between a grant's end and the directory's (rounding to minutes, clock skew).
pub const END_SLACK: Duration = Duration::minutes(5);
/// The periodic pass repeats a finding at most this often.
pub const REPORT_EVERY: Duration = Duration::hours(6);
/// Open grants compared at most.
const MAX_GRANTS: i64 = 10_000;

/// What is wrong with an assignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriftKind {
    /// No open pimbot grant stands behind it.
    Unmanaged,
    /// It ends after its grant (or never).
    OutlivesGrant,
}

/// One finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drift {
    /// What is wrong.
    pub kind: DriftKind,
    /// The assignment as the directory reports it.
    pub assignment: DirectoryAssignment,
    /// The person behind the principal, when the policy knows them.
    pub person: Option<PersonId>,
    /// Whether it was removed in this pass.
    pub removed: bool,
}

/// The result of one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileReport {
    /// Assignments the directory listed.
    pub checked: usize,
    /// Everything that did not match.
    pub drift: Vec<Drift>,
}

/// Findings already reported, by key, for the periodic pass.
pub(super) type Reported = std::sync::Mutex<HashMap<String, DateTime<Utc>>>;

impl AccessService {
    /// One reconciliation pass; `None` when the directory cannot list assignments (static).
    /// `always_report` ignores the repeat throttle (the CLI command).
    pub async fn reconcile(&self, always_report: bool) -> Result<Option<ReconcileReport>> {
        let policy = self.policy();
        let now = self.now();
        let Some(assignments) = self.directory.active_assignments(&policy.roles).await? else {
            return Ok(None);
        };
        let grants = self.store.open_grants(MAX_GRANTS).await?;
        let oid = |s: &str| s.trim().to_ascii_lowercase();
        let people: HashMap<String, PersonId> = policy
            .people
            .iter()
            .filter_map(|p| p.object_id.as_deref().map(|o| (oid(o), p.id.clone())))
            .collect();
        let glass: Vec<String> =
            policy.break_glass.iter().filter_map(|b| b.object_id.as_deref().map(oid)).collect();
        let mut report = ReconcileReport { checked: assignments.len(), drift: Vec::new() };
        for a in assignments {
            if glass.contains(&oid(&a.principal_id)) {
                continue;
            }
            let person = people.get(&oid(&a.principal_id)).cloned();
            let grant =
                person.as_ref().and_then(|p| grants.iter().find(|g| &g.person == p && g.role == a.role));
            let kind = match grant {
                None => DriftKind::Unmanaged,
                Some(g) if a.ends_at.is_none_or(|end| end > g.ends_at + END_SLACK) => {
                    DriftKind::OutlivesGrant
                }
                Some(_) => continue,
            };
            let mut removed = false;
            if kind == DriftKind::Unmanaged && self.directory.remove_unmanaged() {
                let role = policy.role(&a.role)?;
                match self.directory.remove_assignment(role, &a).await {
                    Ok(()) => removed = true,
                    Err(e) => {
                        tracing::error!(role = %a.role, principal = %a.principal_id, error = %format!("{e:#}"), "removing an unmanaged assignment failed")
                    }
                }
            }
            report.drift.push(Drift { kind, assignment: a, person, removed });
        }
        self.report_drift(&report, always_report, now).await?;
        Ok(Some(report))
    }

    async fn report_drift(&self, report: &ReconcileReport, always: bool, now: DateTime<Utc>) -> Result<()> {
        let fresh: Vec<&Drift> = {
            let mut seen = self.drift_reported.lock().unwrap_or_else(|e| e.into_inner());
            seen.retain(|_, at| now - *at < REPORT_EVERY);
            report
                .drift
                .iter()
                .filter(|d| {
                    let key = format!("{:?}|{}|{}", d.kind, d.assignment.role, d.assignment.principal_id);
                    let new = !seen.contains_key(&key);
                    if new || always {
                        seen.insert(key, now);
                    }
                    new || always || d.removed
                })
                .collect()
        };
        if fresh.is_empty() {
            return Ok(());
        }
        let mut lines = Vec::new();
        let mut audit = Vec::new();
        let marker = RequestId(format!("reconcile-{}", now.format("%Y%m%dT%H%M%S")));
        for d in &fresh {
            let a = &d.assignment;
            let who = d.person.as_ref().map_or_else(
                || format!("principal {}", crate::core::text::quote(&a.principal_id)),
                |p| p.to_string(),
            );
            let until = a.ends_at.map_or_else(
                || "permanent".to_owned(),
                |e| format!("until {}", e.format("%Y-%m-%d %H:%M UTC")),
            );
            let what = match (d.kind, d.removed) {
                (DriftKind::Unmanaged, true) => "not granted through pimbot: REMOVED",
                (DriftKind::Unmanaged, false) => "not granted through pimbot (standing access)",
                (DriftKind::OutlivesGrant, _) => "outlives its pimbot grant",
            };
            lines.push(format!("• {who} holds *{}* ({until}, {}): {what}", a.role, a.assignment_type));
            let detail = json!({"drift": format!("{:?}", d.kind), "principal_id": a.principal_id, "person": d.person,
                "ends_at": a.ends_at, "assignment_type": a.assignment_type, "removed": d.removed});
            let mut event =
                AuditEvent::about(now, Actor::System, "directory.drift", &marker, &a.role, detail);
            event.request_id = None; // about no request
            audit.push(event);
        }
        let shown: Vec<String> = lines.iter().take(20).cloned().collect();
        let more = lines.len().saturating_sub(shown.len());
        let tail = if more > 0 { format!("\n…and {more} more") } else { String::new() };
        let text = format!(
            "⚠️ Directory drift: {} privileged assignment(s) do not match pimbot's grants\n{}{tail}",
            lines.len(),
            shown.join("\n")
        );
        let outbox = alert(&self.channels, marker.as_str(), &text);
        self.commit(Commit { at: Some(now), audit, outbox, ..Commit::default() }).await
    }
}
