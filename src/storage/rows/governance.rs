//! Governance rows: `review_campaigns` (with their undecided and unapplied counts),
//! `review_items`, `eligibility_removals` and `eligibility_extensions`. An item decided without a
//! decision, or an unknown origin, default or state, is an error.

use chrono::{DateTime, Utc};

use crate::core::ids::PersonId;
use crate::core::renewal::{EligibilityExtension, ExtensionState};
use crate::core::reviews::{EligibilityOrigin, ReviewDecision, ReviewItem};

/// A `review_campaigns` row with the counts of its undecided and unapplied items.
#[derive(Debug, sqlx::FromRow)]
pub struct CampaignRow {
    pub id: String,
    pub review: String,
    pub period_start: DateTime<Utc>,
    pub deadline: DateTime<Utc>,
    pub started_at: DateTime<Utc>,
    pub completed_at: Option<DateTime<Utc>>,
    pub undecided: i64,
    pub unapplied: i64,
}

/// A `review_items` row.
#[derive(Debug, sqlx::FromRow)]
pub struct ItemRow {
    pub id: String,
    pub campaign_id: String,
    pub person: String,
    pub role: String,
    pub reviewers: String,
    pub origin: String,
    pub default_decision: String,
    pub deadline: DateTime<Utc>,
    pub nudge_at: Option<DateTime<Utc>>,
    pub decision: Option<String>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub applied_at: Option<DateTime<Utc>>,
    pub history: String,
    pub version: i64,
}

impl TryFrom<ItemRow> for ReviewItem {
    type Error = anyhow::Error;
    fn try_from(r: ItemRow) -> anyhow::Result<Self> {
        let bad = |what: &str, v: &str| anyhow::anyhow!("review item {}: bad {what} `{v}`", r.id);
        let decision = match r.decision.as_deref() {
            Some(d) => Some(ReviewDecision::parse(d).ok_or_else(|| bad("decision", d))?),
            None => None,
        };
        if decision.is_none() && (r.decided_at.is_some() || r.applied_at.is_some()) {
            anyhow::bail!("review item {}: decided or applied without a decision", r.id);
        }
        Ok(ReviewItem {
            origin: EligibilityOrigin::parse(&r.origin).ok_or_else(|| bad("origin", &r.origin))?,
            default: ReviewDecision::parse(&r.default_decision)
                .ok_or_else(|| bad("default", &r.default_decision))?,
            reviewers: serde_json::from_str::<Vec<String>>(&r.reviewers)?
                .into_iter()
                .map(PersonId::from)
                .collect(),
            id: r.id,
            campaign: r.campaign_id,
            person: r.person.into(),
            role: r.role.into(),
            deadline: r.deadline,
            nudge_at: r.nudge_at,
            decision,
            decided_by: r.decided_by.map(PersonId::from),
            decided_at: r.decided_at,
            applied_at: r.applied_at,
            history: r.history,
            version: r.version,
        })
    }
}

/// An `eligibility_removals` row.
#[derive(Debug, sqlx::FromRow)]
pub struct RemovalRow {
    pub person: String,
    pub role: String,
    pub removed_at: DateTime<Utc>,
    pub item_id: Option<String>,
}

/// An `eligibility_extensions` row.
#[derive(Debug, sqlx::FromRow)]
pub struct ExtensionRow {
    pub id: String,
    pub person: String,
    pub role: String,
    pub current_until: Option<DateTime<Utc>>,
    pub requested_until: DateTime<Utc>,
    pub justification: String,
    pub state: String,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

impl TryFrom<ExtensionRow> for EligibilityExtension {
    type Error = anyhow::Error;
    fn try_from(r: ExtensionRow) -> anyhow::Result<Self> {
        let state = ExtensionState::parse(&r.state)
            .ok_or_else(|| anyhow::anyhow!("extension {}: bad state", r.id))?;
        Ok(EligibilityExtension {
            id: r.id,
            person: r.person.into(),
            role: r.role.into(),
            current_until: r.current_until,
            requested_until: r.requested_until,
            justification: r.justification,
            state,
            decided_by: r.decided_by.map(PersonId::from),
            decided_at: r.decided_at,
            created_at: r.created_at,
            version: r.version,
        })
    }
}
