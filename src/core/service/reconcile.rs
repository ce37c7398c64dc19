//! Reconciliation: compare the directory's active assignments of the managed roles with
//! pimbot's open grants, and report drift to the alert channel (one commit: the alert and a
//! `directory.drift` audit event per finding).
//!
//! - **unmanaged**: an assignment with no open pimbot grant for that person and role (standing
//!   access, or the leftover of a grant whose end did not reach the directory). Removed when
//!   the directory says so (`[directory] remove_unmanaged = true`).
//! - **activated outside pimbot**: a PIM activation made elsewhere (the portal): schedule-based
//!   and time-bound (`assignmentType = Activated`). Reported, never removed: PIM ends it.
//! - **outlives its grant**: an open grant exists but the directory's assignment ends more than
//!   [`END_SLACK`] after it (or never). Reported only: the expiry sweep ends it on time.
//!
//! Break-glass accounts are never touched: matched by object id, or by UPN resolved through the
//! directory. If a break-glass UPN cannot be resolved, the pass removes nothing at all (it
//! cannot tell that account apart) and says so. A grant is matched by the object id recorded
//! with it as well as by the policy's, so grants of people since removed from the policy still
//! count. The periodic pass repeats a finding at most every [`REPORT_EVERY`] (in memory, per
//! replica); `pimbot reconcile` always reports.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::AccessService;
use super::messages::alert;
use crate::core::audit::{Actor, AuditEvent, EventKind};
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
    /// A time-bound PIM activation made outside pimbot (never removed).
    ActivatedOutside,
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
    /// Break-glass UPNs that could not be resolved to an object id; while any is left, the
    /// pass removes nothing.
    pub unresolved_break_glass: Vec<String>,
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
        let (glass, unresolved) = self.break_glass_ids(&policy).await;
        let may_remove = self.directory.remove_unmanaged() && unresolved.is_empty();
        let mut report = ReconcileReport {
            checked: assignments.len(),
            drift: Vec::new(),
            unresolved_break_glass: unresolved,
        };
        for a in assignments {
            let principal = oid(&a.principal_id);
            if glass.contains(&principal) {
                continue;
            }
            let person = people.get(&principal).cloned().or_else(|| {
                grants
                    .iter()
                    .find(|g| {
                        g.target.as_ref().and_then(|t| t.principal_id.as_deref()).map(oid).as_ref()
                            == Some(&principal)
                    })
                    .map(|g| g.person.clone())
            });
            let grant = grants.iter().find(|g| {
                g.role == a.role
                    && (person.as_ref() == Some(&g.person)
                        || g.target.as_ref().and_then(|t| t.principal_id.as_deref()).map(oid).as_ref()
                            == Some(&principal))
            });
            let kind = match grant {
                None if a.assignment_type.eq_ignore_ascii_case("Activated") => DriftKind::ActivatedOutside,
                None => DriftKind::Unmanaged,
                Some(g) if a.ends_at.is_none_or(|end| end > g.ends_at + END_SLACK) => {
                    DriftKind::OutlivesGrant
                }
                Some(_) => continue,
            };
            let mut removed = false;
            if kind == DriftKind::Unmanaged && may_remove {
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

    /// The object ids of the break-glass accounts: given in the policy, or resolved from their
    /// UPN through the directory; and the UPNs that could not be resolved.
    async fn break_glass_ids(&self, policy: &crate::core::policy::Policy) -> (Vec<String>, Vec<String>) {
        let mut ids = Vec::new();
        let mut unresolved = Vec::new();
        for bg in &policy.break_glass {
            if let Some(o) = bg.object_id.as_deref().filter(|o| !o.trim().is_empty()) {
                ids.push(o.trim().to_ascii_lowercase());
                continue;
            }
            match self.directory.lookup_user(&bg.upn).await {
                Ok(Some(user)) if user.upn.eq_ignore_ascii_case(&bg.upn) => {
                    ids.push(user.object_id.trim().to_ascii_lowercase())
                }
                Ok(_) => unresolved.push(bg.upn.clone()),
                Err(e) => {
                    tracing::warn!(upn = %bg.upn, error = %format!("{e:#}"), "could not resolve a break-glass account");
                    unresolved.push(bg.upn.clone());
                }
            }
        }
        (ids, unresolved)
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
        if fresh.is_empty() && report.unresolved_break_glass.is_empty() {
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
                (DriftKind::ActivatedOutside, _) => {
                    "activated outside pimbot (a PIM activation; PIM ends it)"
                }
            };
            lines.push(format!(
                "• {who} holds {} ({until}, {}): {what}",
                crate::core::text::strong(&a.role),
                a.assignment_type
            ));
            let detail = json!({"drift": format!("{:?}", d.kind), "principal_id": a.principal_id, "person": d.person,
                "ends_at": a.ends_at, "assignment_type": a.assignment_type, "removed": d.removed});
            let mut event =
                AuditEvent::about(now, Actor::System, EventKind::DirectoryDrift, &marker, &a.role, detail);
            event.request_id = None; // about no request
            audit.push(event);
        }
        let shown: Vec<String> = lines.iter().take(20).cloned().collect();
        let more = lines.len().saturating_sub(shown.len());
        let tail = if more > 0 { format!("\n…and {more} more") } else { String::new() };
        let mut text = format!(
            "⚠️ Directory drift: {} privileged assignment(s) do not match pimbot's grants\n{}{tail}",
            lines.len(),
            shown.join("\n")
        );
        if !report.unresolved_break_glass.is_empty() {
            text.push_str(&format!(
                "\n⚠️ Break-glass account(s) {} could not be resolved in the directory: nothing was removed \
                 in this pass. Add their object_id to [[break_glass]].",
                report.unresolved_break_glass.join(", ")
            ));
        }
        let outbox = alert(&self.channels, marker.as_str(), &text);
        self.commit(Commit { at: Some(now), audit, outbox, ..Commit::default() }).await
    }
}
