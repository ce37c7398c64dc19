//! What a grant needs to end itself: the directory target recorded with it (kind, directory
//! id, scope, the holder's object id), so a grant still ends after its role was removed or
//! renamed in the policy, or its holder left it. Grants recorded before targets were kept are
//! filled in from the policy at start and before every policy reload.

use chrono::Duration;

use super::AccessService;
use crate::core::error::Result;
use crate::core::ids::RoleKey;
use crate::core::policy::{Person, Policy, Role, RoleKind, Tier};
use crate::core::ports::Write;
use crate::core::request::{Grant, GrantTarget};

/// Open grants looked at when filling in missing targets.
const MAX_BACKFILL: i64 = 10_000;

/// The target a grant of `role` to `person` is made with.
pub fn target_of(role: &Role, person: &Person) -> GrantTarget {
    GrantTarget {
        kind: role.kind,
        directory_id: role.directory_id.clone(),
        scope: role.scope.clone(),
        principal_id: person.object_id.clone(),
    }
}

/// A stand-in for a role no longer in the policy: enough to end (or show) what was granted.
/// It grants nothing new: no one is eligible, and it needs no approval.
pub fn detached_role(key: &RoleKey, target: Option<&GrantTarget>) -> Role {
    Role {
        key: key.clone(),
        name: format!("{key} (no longer in the policy)"),
        kind: target.map_or(RoleKind::EntraRole, |t| t.kind),
        directory_id: target.map(|t| t.directory_id.clone()).unwrap_or_default(),
        scope: target.map_or_else(|| "/".to_owned(), |t| t.scope.clone()),
        tier: Tier::Standard,
        min_duration: Duration::zero(),
        max_duration: Duration::zero(),
        require_justification: false,
        require_ticket: false,
        approvals_required: 0,
        approvers: Vec::new(),
        disjoint_approvers: false,
        sla: Duration::zero(),
        escalate_to: Vec::new(),
        request_ttl: Duration::zero(),
        min_hold: Duration::zero(),
        eligible: Vec::new(),
        // A detached role grants nothing new, so there is nothing to step up for.
        require_mfa: false,
        approver_mfa: false,
        mfa_max_age: Duration::zero(),
        auth_context: None,
        owners: Vec::new(),
        alerts: crate::core::alerts::RoleAlerts::tier_default(Tier::Standard),
        warn_before: crate::core::policy::DEFAULT_WARN_BEFORE,
        max_start_ahead: crate::core::schedule::DEFAULT_MAX_START_AHEAD,
        oncall: None,
    }
}

impl AccessService {
    /// The role and holder to end `grant` with. The recorded target wins over the policy (an
    /// edited `directory_id` must not leave the old assignment behind); a role gone from the
    /// policy is replaced by [`detached_role`], a holder gone from it by their recorded object
    /// id.
    pub(super) async fn end_parts(&self, policy: &Policy, grant: &Grant) -> (Role, Person) {
        let mut role = match policy.role(&grant.role) {
            Ok(r) => r.clone(),
            Err(_) => detached_role(&grant.role, grant.target.as_ref()),
        };
        if let Some(t) = &grant.target {
            role.kind = t.kind;
            role.directory_id = t.directory_id.clone();
            role.scope = t.scope.clone();
        }
        let found = self.person_by_id(policy, &grant.person).await.ok().flatten();
        let mut person = found.map(|(p, _)| p).unwrap_or_else(|| Person {
            id: grant.person.clone(),
            upn: grant.person.to_string(),
            object_id: None,
            slack: None,
            discord: None,
            timezone: None,
        });
        if let Some(principal) = grant.target.as_ref().and_then(|t| t.principal_id.clone()) {
            person.object_id = Some(principal);
        }
        (role, person)
    }

    /// Whether pimbot knows where `grant`'s assignment lives: a recorded target, or its role
    /// still in the policy.
    pub(super) fn target_known(policy: &Policy, grant: &Grant) -> bool {
        grant.target.is_some() || policy.role(&grant.role).is_ok()
    }

    /// Records a target on every open grant that has none, from `policy` (the policy the grant
    /// was made under, as far as pimbot can tell). Run at start and before a reload replaces
    /// the policy, so a grant recorded before targets were kept can still end itself after its
    /// role is removed. Returns how many were filled in.
    pub async fn backfill_targets(&self, policy: &Policy) -> Result<usize> {
        let mut filled = 0;
        for grant in self.store.open_grants(MAX_BACKFILL).await? {
            if grant.target.is_some() {
                continue;
            }
            let Ok(role) = policy.role(&grant.role) else { continue };
            let target = GrantTarget {
                principal_id: policy.person(&grant.person).and_then(|p| p.object_id.clone()),
                ..target_of(role, &Person::default())
            };
            let expected_version = grant.version;
            let row = Grant { target: Some(target), ..grant };
            let commit = crate::core::ports::Commit {
                at: Some(self.now()),
                grants: vec![Write::Update { row, expected_version }],
                ..Default::default()
            };
            match self.commit(commit).await {
                Ok(()) => filled += 1,
                Err(crate::core::Error::Conflict(_)) => {} // it changed (ended, extended): next time
                Err(e) => return Err(e),
            }
        }
        Ok(filled)
    }
}
