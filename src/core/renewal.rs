//! Time-bound eligibility: when it ends (the policy's `until`, moved by approved extensions),
//! when the holder and the approvers are warned (`warn_before`), and the extension requests of
//! `/pim renew`. Pure: the clock is a parameter; storage and messages live in the service.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::error::{Error, Result};
use super::ids::{PersonId, RoleKey};
use super::policy::Role;

/// Where an extension request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExtensionState {
    /// Waiting for an approver.
    Pending,
    /// Approved: the eligibility ends at `requested_until`.
    Approved,
    /// Denied.
    Denied,
}

impl ExtensionState {
    /// Stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            ExtensionState::Pending => "pending",
            ExtensionState::Approved => "approved",
            ExtensionState::Denied => "denied",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        [ExtensionState::Pending, ExtensionState::Approved, ExtensionState::Denied]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// A request to extend a time-bound eligibility.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibilityExtension {
    /// Id (`e-…`), the value of the card's buttons.
    pub id: String,
    /// Whose eligibility.
    pub person: PersonId,
    /// Which role.
    pub role: RoleKey,
    /// The end it had when asked.
    pub current_until: Option<DateTime<Utc>>,
    /// The end asked for.
    pub requested_until: DateTime<Utc>,
    /// Why.
    pub justification: String,
    /// Where it stands.
    pub state: ExtensionState,
    /// Who decided.
    pub decided_by: Option<PersonId>,
    /// When.
    pub decided_at: Option<DateTime<Utc>>,
    /// When it was asked.
    pub created_at: DateTime<Utc>,
    /// Compare-and-set version.
    pub version: i64,
}

/// Longest extension `/pim renew` may ask for.
pub const MAX_RENEWAL: Duration = Duration::days(365);

/// The end of `person`'s eligibility for `role` at `now`: `Some(None)` permanent,
/// `Some(Some(end))` time-bound, `None` not eligible. `extended` is the latest approved
/// extension's end, which wins over an earlier policy `until`.
pub fn eligibility_end(
    role: &Role,
    person: &PersonId,
    extended: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Option<Option<DateTime<Utc>>> {
    let listed = role.eligible.iter().find(|e| &e.person == person)?;
    let end = match (listed.until, extended) {
        (None, _) => None,
        (Some(until), Some(ext)) => Some(until.max(ext)),
        (Some(until), None) => Some(until),
    };
    end.is_none_or(|e| now < e).then_some(end)
}

/// Checks a renewal ask: the person holds a time-bound eligibility and asks for a later end
/// within [`MAX_RENEWAL`].
pub fn check_renewal(current: Option<Option<DateTime<Utc>>>, asked: Duration, role: &RoleKey) -> Result<()> {
    match current {
        None => Err(Error::NotAuthorized(format!(
            "you are not eligible for `{role}`; ask an administrator to add you instead"
        ))),
        Some(None) => Err(Error::policy(
            super::refusal::Rule::Renewal,
            format!("your eligibility for `{role}` is permanent; nothing to renew"),
        )),
        Some(Some(_)) if asked > MAX_RENEWAL => Err(Error::policy(
            super::refusal::Rule::Renewal,
            "a renewal can extend eligibility by at most 365 days",
        )),
        Some(Some(_)) => Ok(()),
    }
}
