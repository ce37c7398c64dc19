//! The "Findings" page: things someone should act on, each with what to do. Each kind of
//! finding comes from one [`FindingSource`]: directory drift found by reconciliation
//! (`directory.drift` audit events), PIM alerts (`alert.raised`, with the alert's own "what to
//! do"), and access-review campaigns still open or with decisions not yet applied (the store's
//! campaigns, linked to their `review.started` record). A new kind implements the trait and is
//! added to [`sources`].

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
    /// That record's kind (the History link filters on it).
    pub kind: String,
}

/// What every source sees.
pub struct Context<'a> {
    /// The whole audit trail, in chain order.
    pub records: &'a [AuditRecord],
    /// The store (for state the trail does not summarise, such as open campaigns).
    pub store: &'a dyn crate::core::ports::Store,
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
                    kind: r.event.kind.clone(),
                }
            })
            .collect())
    }
}

/// PIM alerts: policy weaknesses, unusual activity, stale eligibility (`alert.raised`).
pub struct Alerts;

#[async_trait]
impl FindingSource for Alerts {
    fn title(&self) -> &'static str {
        "Alerts"
    }

    fn about(&self) -> &'static str {
        "PIM alerts raised from the policy and the activity history, each once per period."
    }

    async fn findings(&self, ctx: &Context<'_>) -> Result<Vec<Finding>> {
        let text = |r: &AuditRecord, key: &str| {
            r.event.detail.get(key).and_then(|v| v.as_str()).unwrap_or_default().to_owned()
        };
        Ok(ctx
            .records
            .iter()
            .rev()
            .filter(|r| r.event.kind == "alert.raised")
            .map(|r| {
                let role = r.event.role.as_ref().map(|x| x.to_string()).unwrap_or_default();
                let person = text(r, "person");
                Finding {
                    at: r.event.at,
                    subject: if person.is_empty() { "policy".into() } else { person },
                    role,
                    what: text(r, "text"),
                    action: text(r, "todo"),
                    seq: r.seq,
                    kind: r.event.kind.clone(),
                }
            })
            .collect())
    }
}

/// Access-review campaigns that still need someone: undecided items, or decisions not applied.
pub struct Reviews;

#[async_trait]
impl FindingSource for Reviews {
    fn title(&self) -> &'static str {
        "Access reviews"
    }

    fn about(&self) -> &'static str {
        "Review campaigns with items still undecided or decisions not yet applied."
    }

    async fn findings(&self, ctx: &Context<'_>) -> Result<Vec<Finding>> {
        let mut out = Vec::new();
        for (campaign, undecided, unapplied) in ctx.store.campaign_statuses().await?.into_iter().rev() {
            if undecided == 0 && unapplied == 0 {
                continue;
            }
            let started = ctx.records.iter().find(|r| {
                r.event.kind == "review.started"
                    && r.event.detail.get("campaign").and_then(|v| v.as_str()) == Some(campaign.id.as_str())
            });
            let (what, action) = if undecided > 0 {
                (
                    format!(
                        "{undecided} item(s) undecided, deadline {}",
                        campaign.deadline.format("%Y-%m-%d %H:%M UTC")
                    ),
                    if campaign.deadline <= ctx.now {
                        "The deadline passed: pimbot applies the review's default on its next sweep."
                    } else {
                        "Reviewers answer their Keep / Remove cards (`/pim reviews` lists them); at the deadline the default applies."
                    },
                )
            } else {
                (
                    format!("{unapplied} decision(s) not yet applied"),
                    "pimbot retries each sweep; if this stays, check the directory errors in the logs and History.",
                )
            };
            out.push(Finding {
                at: campaign.started_at,
                subject: format!("campaign {} ({})", campaign.id, campaign.review),
                role: String::new(),
                what,
                action: action.into(),
                seq: started.map_or(0, |r| r.seq),
                kind: "review.started".into(),
            });
        }
        Ok(out)
    }
}

/// Every source this build has, in page order.
pub fn sources() -> Vec<Box<dyn FindingSource>> {
    vec![Box::new(Alerts), Box::new(Reviews), Box::new(Drift)]
}
