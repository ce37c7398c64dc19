//! The governance cards: an access-review item ([`ReviewCardView`], [`ReviewStatus`]) and a
//! request to extend a time-bound eligibility ([`RenewalCardView`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PersonRef;

/// A request to extend a time-bound eligibility, as posted to the approver channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenewalCardView {
    /// Extension id (the buttons' value).
    pub extension_id: String,
    /// Who asks.
    pub person: PersonRef,
    /// Role key.
    pub role_key: String,
    /// The current end.
    pub current_until: Option<DateTime<Utc>>,
    /// The end asked for.
    pub requested_until: DateTime<Utc>,
    /// Why.
    pub justification: String,
    /// Approvers who may decide (mentioned).
    pub approvers: Vec<PersonRef>,
    /// `None` while open; `Some((approved, by))` once decided.
    pub decided: Option<(bool, PersonRef)>,
}

impl RenewalCardView {
    /// One-line fallback text.
    pub fn summary(&self) -> String {
        let state = match &self.decided {
            None => "waiting for an approver".to_owned(),
            Some((true, by)) => format!("approved by {}", by.name),
            Some((false, by)) => format!("denied by {}", by.name),
        };
        format!(
            "Renewal {}: {} asks to stay eligible for {} until {} — {state}",
            self.extension_id,
            self.person.name,
            self.role_key,
            self.requested_until.format("%Y-%m-%d %H:%M UTC")
        )
    }
}

/// Where a review card stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ReviewStatus {
    /// Waiting: Keep / Remove buttons shown.
    Open,
    /// Decided by a reviewer or, with `by = None`, by the review's default at the deadline.
    Decided {
        /// The decision.
        decision: crate::core::reviews::ReviewDecision,
        /// Who decided; `None` for the default.
        by: Option<PersonRef>,
    },
}

/// An access-review card: one eligibility, the person's history and the reviewer's choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewCardView {
    /// Review item id (the buttons' value).
    pub item_id: String,
    /// Whose eligibility.
    pub person: PersonRef,
    /// Role key.
    pub role_key: String,
    /// Role display name.
    pub role_name: String,
    /// Tier name.
    pub tier: String,
    /// The person's history: activations in the period, last use, recent justifications.
    pub history: String,
    /// When the default applies.
    pub deadline: DateTime<Utc>,
    /// The default (`keep` or `remove`).
    pub default: crate::core::reviews::ReviewDecision,
    /// Open or decided.
    pub status: ReviewStatus,
}

impl ReviewCardView {
    /// One-line fallback text.
    pub fn summary(&self) -> String {
        let state = match &self.status {
            ReviewStatus::Open => format!("keep or remove by {}", self.deadline.format("%Y-%m-%d %H:%M UTC")),
            ReviewStatus::Decided { decision, by: Some(by) } => {
                format!("{} by {}", decision.as_str(), by.name)
            }
            ReviewStatus::Decided { decision, by: None } => {
                format!("{} (the review's default)", decision.as_str())
            }
        };
        format!("Access review: {}'s eligibility for {} — {state}", self.person.name, self.role_name)
    }
}
