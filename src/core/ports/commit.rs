//! What one decision writes: the [`Commit`] a use case hands to [`super::Store::commit`], with
//! its compare-and-set [`Write`]s and the governance rows (alerts, review removals) it carries.

use chrono::{DateTime, Utc};

use crate::core::alarm::{Alarm, AlarmSignIn};
use crate::core::audit::AuditEvent;
use crate::core::identity::{AuthState, IdentityLink};
use crate::core::ids::{PersonId, RequestId, RoleKey};
use crate::core::outbox::OutgoingMessage;
use crate::core::renewal::EligibilityExtension;
use crate::core::request::{AccessRequest, Approval, Grant};
use crate::core::reviews::{Campaign, ReviewItem};

/// An insert, or a compare-and-set update that only applies if the stored version matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write<T> {
    /// A new row.
    Insert(T),
    /// Replace the row if its stored version is still `expected_version`; the store bumps it.
    Update {
        /// The new content.
        row: T,
        /// The version read before deciding.
        expected_version: i64,
    },
}

/// Everything one decision changes, written in one database transaction: state, audit trail
/// and the chat messages it causes. If any compare-and-set fails, nothing is written and the
/// store answers `Error::Conflict`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Commit {
    /// When the decision was taken (outbox rows become due then).
    pub at: Option<DateTime<Utc>>,
    /// Request rows.
    pub requests: Vec<Write<AccessRequest>>,
    /// New approvals (one per approver and request; a duplicate is a conflict).
    pub approvals: Vec<(RequestId, Approval)>,
    /// Grant rows (at most one open grant per person and role; a second is a conflict).
    pub grants: Vec<Write<Grant>>,
    /// Break-glass alarm rows. Inserting a second alarm for the same sign-in (same
    /// `signin_id`) is a conflict: the caller treats it as "already raised".
    pub alarms: Vec<Write<Alarm>>,
    /// Sign-ins recorded for alarms (written after the alarms). One already recorded is a
    /// conflict: the caller reads again and counts only new ones.
    pub signins: Vec<AlarmSignIn>,
    /// Audit events, chained in order.
    pub audit: Vec<AuditEvent>,
    /// Messages to deliver.
    pub outbox: Vec<OutgoingMessage>,
    /// Identity links to create or replace (one per chat account; one chat account per
    /// platform and directory account, a second is a conflict).
    pub links: Vec<IdentityLink>,
    /// One-time sign-in states to store.
    pub new_auth_states: Vec<AuthState>,
    /// Ids of sign-in states this commit uses up. Each must be unused and unexpired at `at`,
    /// or the whole commit is a conflict: a state works once.
    pub use_auth_states: Vec<String>,
    /// Alerts, review campaigns, eligibility removals and extensions.
    pub governance: GovernanceWrites,
    /// The replay key of the signed request this commit acts on, recorded with it: if the key
    /// is already recorded and unexpired (the request was acted on before), nothing is written
    /// and the store answers `Error::Conflict`. Set by the service, never by a use case.
    pub replay: Option<ReplayKey>,
}

/// A signed request's replay key, recorded until `until` (see [`Commit::replay`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayKey {
    /// The key (platform and the request's signature, trigger or id).
    pub key: String,
    /// When the request arrived: a recorded key that expired before then is taken over.
    pub now: DateTime<Utc>,
    /// When the key may be forgotten.
    pub until: DateTime<Utc>,
}

/// An alert raised, by its dedupe key (kind, subject and period).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertLogEntry {
    /// Dedupe key; a second insert of the same key is a conflict ("already raised").
    pub key: String,
    /// Alert kind.
    pub kind: String,
    /// Role concerned.
    pub role: Option<RoleKey>,
    /// Person concerned.
    pub person: Option<PersonId>,
}

/// A policy-held eligibility a review removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EligibilityRemoval {
    /// Whose.
    pub person: PersonId,
    /// Which role.
    pub role: RoleKey,
    /// When.
    pub removed_at: DateTime<Utc>,
    /// The review item that removed it.
    pub item_id: Option<String>,
}

/// The governance rows of a commit (see `core::alerts`, `core::reviews`, `core::renewal`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GovernanceWrites {
    /// Alerts raised (insert; a duplicate key is a conflict).
    pub alerts: Vec<AlertLogEntry>,
    /// New campaigns (a second for the same review and period is a conflict).
    pub campaigns: Vec<Campaign>,
    /// Campaigns completed at the given time (a campaign already completed is a conflict).
    pub completed: Vec<(String, DateTime<Utc>)>,
    /// Review items (inserts, or compare-and-set updates).
    pub items: Vec<Write<ReviewItem>>,
    /// Eligibility removals (idempotent).
    pub removals: Vec<EligibilityRemoval>,
    /// Removals to forget (the policy file no longer lists them).
    pub forget_removals: Vec<(PersonId, RoleKey)>,
    /// Eligibility extensions (inserts, or compare-and-set updates).
    pub extensions: Vec<Write<EligibilityExtension>>,
}
