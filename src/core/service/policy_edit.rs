//! Policy edits: what a new policy does to grants and requests in flight, said before it is
//! applied (`pimbot check`, `POST /admin/reload`, SIGHUP) and done when it is.
//!
//! - A grant of a role the new policy no longer has keeps its recorded directory target and
//!   ends on time (expiry, deactivation and revocation all work without the role).
//! - A grant whose holder is no longer eligible is revoked at the next eligibility sweep
//!   ("no longer eligible").
//! - A pending or approved request of a removed role is cancelled, the requester told and its
//!   card updated; with several replicas, each one's SLA ladder and activation sweep do the
//!   same for whatever its own reload has not reached yet, instead of failing every tick.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::AccessService;
use super::messages::{direct, feed, update_card};
use super::target::detached_role;
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::error::{Error, Result};
use crate::core::policy::Policy;
use crate::core::ports::{Commit, Write};
use crate::core::request::{AccessRequest, Grant};
use crate::core::state::{Action, RequestState, transition};

/// Rows looked at when judging a new policy.
const MAX_ROWS: i64 = 10_000;

/// What a new policy does to one grant or request in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Orphan {
    /// The grant's role is gone: it ends on time through its recorded target (or, without
    /// one, only through the directory's own schedule).
    GrantOfRemovedRole {
        /// The grant.
        grant: Grant,
        /// Whether the grant carries its directory target.
        target_recorded: bool,
    },
    /// The holder is no longer eligible under the new policy's lists: revoked at the next
    /// sweep.
    GrantNoLongerEligible {
        /// The grant.
        grant: Grant,
    },
    /// A pending or approved request of a removed role: cancelled, requester told.
    RequestOfRemovedRole {
        /// The request.
        request: AccessRequest,
    },
}

impl Orphan {
    /// One line saying what it is and what will happen to it.
    pub fn describe(&self) -> String {
        match self {
            Orphan::GrantOfRemovedRole { grant, target_recorded: true } => format!(
                "grant {} ({} holds {} until {}): the role is not in the new policy; the grant keeps \
                 its directory target and ends on time",
                grant.id,
                grant.person,
                grant.role,
                grant.ends_at.format("%Y-%m-%d %H:%M UTC")
            ),
            Orphan::GrantOfRemovedRole { grant, target_recorded: false } => format!(
                "grant {} ({} holds {} until {}): the role is not in the new policy and the grant has no \
                 recorded directory target; a running pimbot records it before it applies the new \
                 policy, otherwise only the directory's own schedule ends the assignment",
                grant.id,
                grant.person,
                grant.role,
                grant.ends_at.format("%Y-%m-%d %H:%M UTC")
            ),
            Orphan::GrantNoLongerEligible { grant } => format!(
                "grant {} ({} holds {}): {} is not eligible under the new policy; it is revoked at the \
                 next sweep (\"no longer eligible\")",
                grant.id, grant.person, grant.role, grant.person
            ),
            Orphan::RequestOfRemovedRole { request } => format!(
                "request {} ({}, by {} for {}): the role is not in the new policy; it is cancelled and \
                 the requester told",
                request.id, request.state, request.requester, request.role
            ),
        }
    }
}

/// What `policy` would orphan among open `grants` and in-flight `requests`; `still_eligible`
/// says whether a grant's holder stays eligible for its (kept) role.
pub fn orphans(
    policy: &Policy,
    grants: &[Grant],
    requests: &[AccessRequest],
    still_eligible: impl Fn(&Grant) -> bool,
) -> Vec<Orphan> {
    let mut out = Vec::new();
    for grant in grants.iter().filter(|g| g.is_open()) {
        match policy.role(&grant.role) {
            Err(_) => out.push(Orphan::GrantOfRemovedRole {
                grant: grant.clone(),
                target_recorded: grant.target.is_some(),
            }),
            Ok(_) if !still_eligible(grant) => {
                out.push(Orphan::GrantNoLongerEligible { grant: grant.clone() })
            }
            Ok(_) => {}
        }
    }
    for request in
        requests.iter().filter(|r| matches!(r.state, RequestState::Pending | RequestState::Approved))
    {
        if policy.role(&request.role).is_err() {
            out.push(Orphan::RequestOfRemovedRole { request: request.clone() });
        }
    }
    out
}

/// What a reload did, for the operator.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyImpact {
    /// Everything the new policy orphaned, and what happens to it.
    pub orphans: Vec<Orphan>,
    /// Open grants whose directory target was recorded from the old policy just before.
    pub targets_recorded: usize,
}

impl PolicyImpact {
    /// The report lines (empty when nothing in flight is affected).
    pub fn lines(&self) -> Vec<String> {
        self.orphans.iter().map(Orphan::describe).collect()
    }
}

impl AccessService {
    /// What `policy` would orphan if applied now (`pimbot check` against a live database, and
    /// every reload). Eligibility is judged as the sweep will judge it (PIM when eligibility
    /// comes from the directory); a holder whose eligibility cannot be read now is left out.
    pub async fn policy_orphans(&self, policy: &Policy) -> Result<Vec<Orphan>> {
        let now = self.now();
        let grants = self.store.open_grants(MAX_ROWS).await?;
        let requests = self.store.requests_in_flight(MAX_ROWS).await?;
        let mut ineligible = std::collections::HashSet::new();
        for grant in grants.iter().filter(|g| g.is_active()) {
            let Ok(role) = policy.role(&grant.role) else { continue };
            let eligible = match self.person_by_id(policy, &grant.person).await {
                Ok(Some((person, true))) => self.eligible(role, &person, now).await.unwrap_or(true),
                Ok(_) => false,
                Err(_) => true,
            };
            if !eligible {
                ineligible.insert(grant.id.clone());
            }
        }
        Ok(orphans(policy, &grants, &requests, |g| !ineligible.contains(&g.id)))
    }

    /// Applies a new policy: records the old policy's targets on open grants still lacking
    /// one, swaps the policy, cancels the requests of removed roles and asks the next sweep to
    /// re-check everyone's eligibility. Returns what changed for things in flight.
    pub async fn apply_policy(&self, policy: Policy) -> Result<PolicyImpact> {
        let old = self.policy();
        let targets_recorded = self.backfill_targets(&old).await?;
        let orphans = self.policy_orphans(&policy).await?;
        self.reload_policy(policy);
        self.recheck_eligibility_now();
        self.cancel_removed_role_requests().await?;
        Ok(PolicyImpact { orphans, targets_recorded })
    }

    /// Cancels every pending or approved request whose role is not in the current policy.
    pub async fn cancel_removed_role_requests(&self) -> Result<usize> {
        let policy = self.policy();
        let mut cancelled = 0;
        for request in self.store.requests_in_flight(MAX_ROWS).await? {
            if policy.role(&request.role).is_ok() {
                continue;
            }
            let now = self.now();
            match self.cancel_for_policy(request, &policy, "its role was removed from the policy", now).await
            {
                Ok(_) => cancelled += 1,
                Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(cancelled)
    }

    /// Cancels a pending or approved request on the policy's behalf: card updated, requester
    /// told, feed and audit. An approved request keeps its lease, so a grant row written ahead
    /// is withdrawn only once no worker can still be making it.
    pub(super) async fn cancel_for_policy(
        &self,
        mut request: AccessRequest,
        policy: &Policy,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessRequest> {
        let expected_version = request.version;
        let was = request.state;
        request.state = transition(request.state, Action::Cancel, now)?;
        request.decided_at = Some(now);
        request.decided_by = None;
        request.reason = Some(why.to_owned());
        if was != RequestState::Approved {
            request.next_nudge_at = None;
        }
        let role = policy.role(&request.role).cloned().unwrap_or_else(|_| detached_role(&request.role, None));
        let id = request.id.clone();
        let mut outbox = update_card(&self.channels, policy, &role, &request, now);
        outbox.extend(feed(
            &self.channels,
            id.as_str(),
            &format!(
                "↩️ Request {id} by {} for {} was cancelled: {why}",
                request.requester,
                crate::core::text::strong(&request.role)
            ),
        ));
        if let Some(p) = self.requester_to_tell(policy, &request.requester) {
            outbox.extend(direct(
                &self.channels,
                &p,
                id.as_str(),
                &format!(
                    "↩️ Your request {id} for {} was cancelled: {why}.",
                    crate::core::text::strong(&request.role)
                ),
            ));
        }
        let audit = vec![AuditEvent::about(
            now,
            Actor::System,
            EventKind::RequestCancelled,
            &id,
            &request.role,
            json!({"reason": why, "was": was.as_str()}),
        )];
        self.commit(Commit {
            at: Some(now),
            requests: vec![Write::Update { row: request.clone(), expected_version }],
            audit,
            outbox,
            ..Commit::default()
        })
        .await?;
        request.version = expected_version + 1;
        if was == RequestState::Approved {
            self.work_kick.notify_one();
        }
        Ok(request)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    use crate::core::ids::Platform;
    use crate::core::request::{GrantTarget, NudgeStage};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 0, 0).single().expect("valid")
    }

    fn policy() -> Policy {
        let toml = r#"
[server]
listen = "127.0.0.1:0"
[database]
url = "sqlite://unused.db"
[[person]]
id = "alice"
[[person]]
id = "bob"
[[role]]
key = "reader"
kind = "entra-role"
tier = "standard"
eligible = ["alice"]
"#;
        let config = crate::config::from_toml_str_with_env(toml, &|_| None).expect("parses");
        config.validate(now()).expect("valid")
    }

    fn grant(id: &str, person: &str, role: &str, target: bool) -> Grant {
        Grant {
            id: id.into(),
            request_id: format!("r-{id}").into(),
            person: person.into(),
            role: role.into(),
            starts_at: now(),
            ends_at: now() + Duration::hours(1),
            ended_at: None,
            end_reason: None,
            version: 1,
            target: target.then(|| GrantTarget {
                kind: crate::core::policy::RoleKind::EntraRole,
                directory_id: "d".into(),
                scope: "/".into(),
                principal_id: None,
            }),
            granting: false,
        }
    }

    fn request(id: &str, role: &str, state: RequestState) -> AccessRequest {
        AccessRequest {
            id: id.into(),
            requester: "alice".into(),
            role: role.into(),
            duration: Duration::hours(1),
            justification: "j".into(),
            ticket: None,
            state,
            version: 1,
            origin: Platform::Slack,
            created_at: now(),
            decided_at: None,
            decided_by: None,
            reason: None,
            approvals: vec![],
            nudge_stage: NudgeStage::None,
            next_nudge_at: None,
            grant_id: None,
            starts_at: None,
            activation_lease_until: None,
        }
    }

    #[test]
    fn removed_roles_and_lost_eligibility_are_reported_with_their_fate() {
        let grants = [
            grant("g-1", "alice", "reader", true),
            grant("g-2", "alice", "gone", true),
            grant("g-3", "bob", "gone", false),
            grant("g-4", "bob", "reader", true),
        ];
        let requests = [
            request("r-a", "gone", RequestState::Pending),
            request("r-b", "reader", RequestState::Pending),
            request("r-c", "gone", RequestState::Approved),
        ];
        let policy = policy();
        let reader = policy.role(&"reader".into()).expect("reader").clone();
        let found = orphans(&policy, &grants, &requests, |g| reader.is_eligible(&g.person, now()));
        let lines: Vec<String> = found.iter().map(Orphan::describe).collect();
        assert_eq!(lines.len(), 5, "{lines:#?}");
        assert!(lines[0].starts_with("grant g-2") && lines[0].contains("ends on time"), "{}", lines[0]);
        assert!(lines[1].starts_with("grant g-3") && lines[1].contains("own schedule"), "{}", lines[1]);
        assert!(lines[2].starts_with("grant g-4") && lines[2].contains("revoked at the next sweep"));
        assert!(lines[3].starts_with("request r-a") && lines[3].contains("cancelled"));
        assert!(lines[4].starts_with("request r-c"));
        let everyone = orphans(&policy, &grants, &requests, |_| true);
        assert_eq!(everyone.len(), 4);
    }
}
