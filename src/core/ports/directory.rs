//! The [`Directory`] port: the identity system that holds assignments (grant, revoke,
//! reconciliation, lookup by email), and [`ChatIdentity`], what a chat platform knows of a user.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::core::error::Result;
use crate::core::ids::{ChatUser, GrantId, RoleKey};
use crate::core::policy::{Person, Role};

/// What the directory needs to make or end an assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GrantSpec {
    /// pimbot's grant id (idempotency key).
    pub grant_id: GrantId,
    /// Holder.
    pub person: Person,
    /// Role.
    pub role: Role,
    /// Start.
    pub starts_at: DateTime<Utc>,
    /// End.
    pub ends_at: DateTime<Utc>,
    /// Justification.
    pub justification: String,
    /// Ticket.
    pub ticket: Option<String>,
}

/// The identity system that actually holds assignments. Both calls must be safe to repeat.
#[async_trait]
pub trait Directory: Send + Sync {
    /// Short name for logs and the feed (`static`, `graph`).
    fn name(&self) -> &'static str;
    /// Makes (or extends to `ends_at`) the assignment.
    async fn grant(&self, spec: &GrantSpec) -> Result<()>;
    /// Ends the assignment; succeeds if it is already gone.
    async fn revoke(&self, spec: &GrantSpec) -> Result<()>;
    /// The keys of those `roles` the directory says `person` is eligible for at `now`, or
    /// `None` when eligibility comes from the policy file (the default).
    async fn eligible_roles(
        &self,
        _person: &Person,
        _roles: &[Role],
        _now: DateTime<Utc>,
    ) -> Result<Option<Vec<RoleKey>>> {
        Ok(None)
    }
    /// Every active assignment of the managed `roles` the directory holds, or `None` when the
    /// directory cannot list them (nothing to reconcile).
    async fn active_assignments(&self, _roles: &[Role]) -> Result<Option<Vec<DirectoryAssignment>>> {
        Ok(None)
    }
    /// Whether reconciliation should remove assignments not made through pimbot
    /// (`[directory] remove_unmanaged`).
    fn remove_unmanaged(&self) -> bool {
        false
    }
    /// Removes an assignment found by [`Directory::active_assignments`]; succeeds if it is
    /// already gone.
    async fn remove_assignment(&self, _role: &Role, _assignment: &DirectoryAssignment) -> Result<()> {
        Ok(())
    }
    /// Removes `person`'s PIM eligibility schedule for `role` (`adminRemove`; an access review's
    /// "remove"). `Ok(false)` when eligibility is not held in the directory (the default):
    /// the caller then records the removal itself. Succeeds if it is already gone.
    async fn remove_eligibility(&self, _person: &Person, _role: &Role) -> Result<bool> {
        Ok(false)
    }
    /// Permanent active assignments of the managed `roles` (posture question 1), or `None`
    /// when the directory cannot list them. By default, the listed assignments without an end.
    async fn standing_assignments(&self, roles: &[Role]) -> Result<Option<Vec<DirectoryAssignment>>> {
        Ok(self
            .active_assignments(roles)
            .await?
            .map(|all| all.into_iter().filter(|a| a.ends_at.is_none()).collect()))
    }
    /// The directory account whose user principal name is `upn` (lookup by email), or `None`
    /// when there is none or the directory cannot look people up (the default).
    async fn lookup_user(&self, _upn: &str) -> Result<Option<DirectoryUser>> {
        Ok(None)
    }
    /// The keys of those `roles` PIM says `person` is eligible for at `now`, whatever
    /// `[directory] eligibility` is set to (separation of duties asks it), or `None` when the
    /// directory keeps no eligibility (the default).
    async fn pim_eligible_roles(
        &self,
        _person: &Person,
        _roles: &[Role],
        _now: DateTime<Utc>,
    ) -> Result<Option<Vec<RoleKey>>> {
        Ok(None)
    }
    /// How long an approved grant that fails for a transient reason ([`crate::core::Error::is_transient`])
    /// is retried before the request fails (`[directory] grant_retry_for`).
    fn grant_retry_for(&self) -> Duration {
        DEFAULT_GRANT_RETRY_FOR
    }
}

/// Default of `[directory] grant_retry_for`.
pub const DEFAULT_GRANT_RETRY_FOR: Duration = Duration::minutes(15);

/// A directory account found by [`Directory::lookup_user`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryUser {
    /// Directory object id.
    pub object_id: String,
    /// User principal name, as the directory spells it.
    pub upn: String,
    /// Whether the account may sign in; pimbot refuses to act for disabled accounts.
    pub account_enabled: bool,
}

/// Who a chat user is outside the policy file, as the chat platform knows them. Used only for
/// the opt-in lookup by email (`[directory] lookup_by_email`).
#[async_trait]
pub trait ChatIdentity: Send + Sync {
    /// The profile email of `user`, or `None` when the platform has none to offer (unknown
    /// user, bot, deleted account, guest or external user).
    async fn email(&self, user: &ChatUser) -> Result<Option<String>>;
}

/// An active assignment of a managed role as the directory reports it (reconciliation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryAssignment {
    /// The managed role it assigns.
    pub role: RoleKey,
    /// Directory object id of the holder.
    pub principal_id: String,
    /// Start, when time-bound.
    pub starts_at: Option<DateTime<Utc>>,
    /// End; `None` is a permanent (standing) assignment.
    pub ends_at: Option<DateTime<Utc>>,
    /// `Assigned` (made by an administrator or pimbot) or `Activated` (self-activated
    /// eligibility), as the directory spells it.
    pub assignment_type: String,
}
