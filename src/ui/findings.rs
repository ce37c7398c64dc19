//! The "Findings" page: things someone should act on, each with what to do. Each kind of
//! finding comes from one [`FindingSource`]; today that is directory drift found by
//! reconciliation (`directory.drift` audit events). Alerts and access reviews plug in as further
//! sources when they are part of this build: implement the trait and add it to [`sources`].

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::core::audit::{AuditRecord, EventKind};
use crate::core::error::Result;

/// One thing to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// When it was found.
    pub at: DateTime<Utc>,
    /// Who or what it concerns.
    pub subject: String,
    /// Role key.
    pub role: String,
    /// What was found.
    pub what: String,
    /// What to do about it.
    pub action: String,
    /// The audit record it comes from.
    pub seq: i64,
}

/// What every source sees.
pub struct Context<'a> {
    /// The whole audit trail, in chain order.
    pub records: &'a [AuditRecord],
    /// The page's time.
    pub now: DateTime<Utc>,
}

/// A kind of finding.
#[async_trait]
pub trait FindingSource: Send + Sync {
    /// The section heading.
    fn title(&self) -> &'static str;
    /// What the section covers, in one sentence.
    fn about(&self) -> &'static str;
    /// The findings, newest first.
    async fn findings(&self, ctx: &Context<'_>) -> Result<Vec<Finding>>;
}

/// Reconciliation drift: directory assignments that do not match pimbot's grants.
pub struct Drift;

/// What to do about one kind of drift (`DriftKind` as recorded).
pub fn drift_action(kind: &str, removed: bool) -> (&'static str, &'static str) {
    match (kind, removed) {
        ("Unmanaged", true) => (
            "standing assignment not made by pimbot; removed",
            "Check who made it and why (directory audit log); nothing is left to remove.",
        ),
        ("Unmanaged", false) => (
            "standing assignment not made by pimbot",
            "Remove it in the directory, or turn on remove_unmanaged; if it must stay, make the person eligible and let them activate.",
        ),
        ("OutlivesGrant", _) => (
            "assignment outlives its pimbot grant",
            "Remove it in the directory; check the grant's end in History for a failed end.",
        ),
        ("ActivatedOutside", _) => (
            "activated in PIM outside pimbot",
            "Ask the person why pimbot was bypassed; PIM ends it on its own schedule.",
        ),
        _ => ("directory assignment does not match pimbot", "Run `pimbot reconcile` and read its report."),
    }
}

#[async_trait]
impl FindingSource for Drift {
    fn title(&self) -> &'static str {
        "Directory drift"
    }

    fn about(&self) -> &'static str {
        "Privileged assignments in the directory that do not match pimbot's grants, as found by reconciliation."
    }

    async fn findings(&self, ctx: &Context<'_>) -> Result<Vec<Finding>> {
        Ok(ctx
            .records
            .iter()
            .rev()
            .filter(|r| r.event.kind == EventKind::DirectoryDrift)
            .map(|r| {
                let d = &r.event.detail;
                let kind = d.get("drift").and_then(|v| v.as_str()).unwrap_or_default();
                let removed = d.get("removed").and_then(|v| v.as_bool()).unwrap_or(false);
                let (what, action) = drift_action(kind, removed);
                let subject = d
                    .get("person")
                    .and_then(|v| v.as_str())
                    .map(str::to_owned)
                    .or_else(|| {
                        d.get("principal_id").and_then(|v| v.as_str()).map(|p| format!("principal {p}"))
                    })
                    .unwrap_or_else(|| "unknown principal".into());
                Finding {
                    at: r.event.at,
                    subject,
                    role: r.event.role.as_ref().map(|x| x.to_string()).unwrap_or_default(),
                    what: what.into(),
                    action: action.into(),
                    seq: r.seq,
                }
            })
            .collect())
    }
}

/// Every source this build has, in page order.
pub fn sources() -> Vec<Box<dyn FindingSource>> {
    vec![Box::new(Drift)]
}
