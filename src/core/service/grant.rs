//! Grants: activation after approval (new grant or extension of the open one), early
//! deactivation by the holder, and expiry. Directory calls happen before the commit and must be
//! safe to repeat; a crash between the two is healed by the next sweep repeating the call.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::AccessService;
use super::messages::{alert, direct, feed};
use crate::core::audit::{Actor, AuditEvent};
use crate::core::duration::format_duration;
use crate::core::error::{Error, Result};
use crate::core::ids::{ChatUser, GrantId, RequestId, RoleKey};
use crate::core::policy::{Person, Policy, Role};
use crate::core::ports::{Commit, GrantSpec, Write};
use crate::core::request::{AccessRequest, EndReason, Grant};
use crate::core::state::{Action, RequestState, transition};

/// How long one worker holds an approved request while it makes the grant.
pub const ACTIVATION_LEASE: chrono::Duration = chrono::Duration::seconds(60);

impl AccessService {
    /// Makes the grant for an approved request (or extends the open grant of the same role).
    /// Eligibility is checked once more; failures put the request in `failed`, loudly.
    pub async fn activate(&self, id: &RequestId) -> Result<AccessRequest> {
        let policy = self.policy();
        let now = self.now();
        let mut request = self.load(id).await?;
        if request.state != RequestState::Approved {
            return Ok(request);
        }
        if request.next_nudge_at.is_some_and(|lease| lease > now) {
            return Ok(request); // another worker is making this grant right now
        }
        let role = policy.role(&request.role)?.clone();
        // Claim the activation first (compare-and-set on the version), so two workers or
        // replicas never both call the directory for the same request. If this worker dies,
        // the lease runs out and a sweep picks the request up again.
        let claimed = request.version;
        request.next_nudge_at = Some(now + ACTIVATION_LEASE);
        self.commit(Commit {
            at: Some(now),
            requests: vec![Write::Update { row: request.clone(), expected_version: claimed }],
            ..Commit::default()
        })
        .await?;
        request.version = claimed + 1;
        request.next_nudge_at = None;
        let expected_version = request.version;
        let person = match self.person_by_id(&policy, &request.requester).await {
            Ok(Some((p, true))) => p,
            Ok(_) => {
                return self.fail(request, &policy, &role, "the requester is no longer eligible", now).await;
            }
            Err(e) => {
                tracing::error!(request = %id, error = %format!("{e:#}"), "looking up the requester failed");
                return self.fail(request, &policy, &role, "eligibility could not be checked", now).await;
            }
        };
        match self.eligible(&role, &person, now).await {
            Ok(true) => {}
            Ok(false) => {
                return self.fail(request, &policy, &role, "the requester is no longer eligible", now).await;
            }
            Err(e) => {
                tracing::error!(request = %id, error = %format!("{e:#}"), "eligibility check failed");
                return self.fail(request, &policy, &role, "eligibility could not be checked", now).await;
            }
        }
        let existing = self.store.open_grant(&person.id, &role.key).await?;
        // An activation never runs past the eligibility's end (policy `until`, moved by an
        // approved renewal); the directory enforces its own schedules.
        let mut ends_at = now + request.duration;
        if let Some(end) = self.eligibility_cap(&role, &person.id, now).await? {
            ends_at = ends_at.min(end);
        }
        let (grant, write, kind) = match existing {
            Some(open) => {
                let expected_version = open.version;
                let mut extended = open;
                extended.ends_at = extended.ends_at.max(ends_at);
                (extended.clone(), Write::Update { row: extended, expected_version }, "grant.extended")
            }
            None => {
                // Derived from the request id so a repeated activation after a crash asks the
                // directory for the same assignment again instead of a second one.
                let fresh = Grant {
                    id: GrantId(format!("g-{}", request.id.as_str().trim_start_matches("r-"))),
                    request_id: request.id.clone(),
                    person: person.id.clone(),
                    role: role.key.clone(),
                    starts_at: now,
                    ends_at,
                    ended_at: None,
                    end_reason: None,
                    version: 1,
                };
                (fresh.clone(), Write::Insert(fresh), "grant.activated")
            }
        };
        let spec = spec(&person, &role, &request, &grant);
        if let Err(e) = self.directory.grant(&spec).await {
            tracing::error!(request = %id, error = %format!("{e:#}"), "directory grant failed");
            return self.fail(request, &policy, &role, "the directory refused the grant", now).await;
        }
        request.state = transition(request.state, Action::Activate, now)?;
        request.grant_id = Some(grant.id.clone());
        let until = grant.ends_at.format("%H:%M UTC");
        let detail =
            json!({"grant_id": grant.id, "ends_at": grant.ends_at, "directory": self.directory.name()});
        let mut outbox = feed(
            &self.channels,
            id.as_str(),
            &format!("🔓 {} is now *{}* until {until} ({})", person.id, role.key, id),
        );
        outbox.extend(direct(
            &self.channels,
            &person,
            id.as_str(),
            &format!(
                "🔓 You are now *{}* until {until}. `/pim deactivate {}` when you are done.",
                role.key, role.key
            ),
        ));
        self.commit(Commit {
            at: Some(now),
            requests: vec![Write::Update { row: request.clone(), expected_version }],
            grants: vec![write],
            audit: vec![AuditEvent::about(now, Actor::System, kind, id, &role.key, detail)],
            outbox,
            ..Commit::default()
        })
        .await?;
        Ok(request)
    }

    async fn fail(
        &self,
        mut request: AccessRequest,
        policy: &Policy,
        role: &Role,
        why: &str,
        now: DateTime<Utc>,
    ) -> Result<AccessRequest> {
        let expected_version = request.version;
        request.state = transition(request.state, Action::Fail, now)?;
        request.reason = Some(why.to_owned());
        let id = request.id.clone();
        let text =
            format!("🚨 Grant FAILED for request {} ({} → *{}*): {why}", id, request.requester, role.key);
        let mut outbox = alert(&self.channels, id.as_str(), &text);
        outbox.extend(feed(&self.channels, id.as_str(), &text));
        if let Some(p) = self.requester_to_tell(policy, &request.requester) {
            outbox.extend(direct(
                &self.channels,
                &p,
                id.as_str(),
                &format!("🚨 Your request {id} for *{}* could not be granted: {why}", role.key),
            ));
        }
        self.commit(Commit {
            at: Some(now),
            requests: vec![Write::Update { row: request.clone(), expected_version }],
            audit: vec![AuditEvent::about(
                now,
                Actor::System,
                "grant.failed",
                &id,
                &role.key,
                json!({"reason": why}),
            )],
            outbox,
            ..Commit::default()
        })
        .await?;
        Ok(request)
    }

    /// Ends the caller's grant of `role` early, unless it is still inside `min_hold`.
    pub async fn deactivate(&self, user: &ChatUser, role: &RoleKey) -> Result<Grant> {
        let policy = self.policy();
        let now = self.now();
        let person = self.requester(&policy, user).await?;
        let role = policy.role(role)?.clone();
        let grant = self
            .store
            .open_grant(&person.id, &role.key)
            .await?
            .ok_or_else(|| Error::NotFound(format!("you have no active `{}`", role.key)))?;
        let hold_until = grant.starts_at + role.min_hold;
        transition(RequestState::Active, Action::Deactivate { hold_until }, now)?;
        self.end(&role, &person, grant, EndReason::Deactivated, Actor::Person(person.id.clone()), now).await
    }

    async fn end(
        &self,
        role: &Role,
        person: &Person,
        grant: Grant,
        reason: EndReason,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> Result<Grant> {
        let (grant, commit) = self.prepare_end(role, person, grant, reason, actor, Some(now)).await?;
        self.commit(commit).await?;
        Ok(grant)
    }

    /// Ends the assignment in the directory and returns the ended grant with the commit that
    /// records it (not yet written). The end is dated `now`, or when the directory answered.
    pub(super) async fn prepare_end(
        &self,
        role: &Role,
        person: &Person,
        mut grant: Grant,
        reason: EndReason,
        actor: Actor,
        now: Option<DateTime<Utc>>,
    ) -> Result<(Grant, Commit)> {
        let requests = self.store.active_requests_of_grant(&grant.id).await?;
        let primary = requests.first().cloned();
        if let Some(req) = &primary {
            self.directory.revoke(&spec(person, role, req, &grant)).await?;
        }
        let now = now.unwrap_or_else(|| self.now());
        let expected_version = grant.version;
        grant.ended_at = Some(now);
        grant.end_reason = Some(reason);
        let (action, state, kind, verb) = match reason {
            EndReason::Expired => {
                (Action::Expire { ends_at: grant.ends_at }, RequestState::Expired, "grant.expired", "expired")
            }
            EndReason::Deactivated => (
                Action::Deactivate { hold_until: now },
                RequestState::Deactivated,
                "grant.deactivated",
                "was deactivated",
            ),
            EndReason::Revoked => (Action::Revoke, RequestState::Revoked, "grant.revoked", "was revoked"),
        };
        let mut writes = Vec::new();
        for mut r in requests {
            let v = r.version;
            r.state = transition(r.state, action, now)?;
            debug_assert_eq!(r.state, state);
            writes.push(Write::Update { row: r, expected_version: v });
        }
        let order_key = primary.as_ref().map(|r| r.id.to_string()).unwrap_or_else(|| grant.id.to_string());
        let held = format_duration(now - grant.starts_at);
        let late = (now - grant.ends_at).num_milliseconds().max(0);
        let mut outbox = feed(
            &self.channels,
            &order_key,
            &format!("🔒 {}'s *{}* {verb} after {held}", person.id, role.key),
        );
        outbox.extend(direct(&self.channels, person, &order_key, &format!("🔒 Your *{}* {verb}.", role.key)));
        let request_id = primary.as_ref().map(|r| r.id.clone()).unwrap_or_else(|| grant.request_id.clone());
        let detail = json!({"grant_id": grant.id, "held_secs": (now - grant.starts_at).num_seconds(), "late_ms": late});
        let commit = Commit {
            at: Some(now),
            requests: writes,
            grants: vec![Write::Update { row: grant.clone(), expected_version }],
            audit: vec![AuditEvent::about(now, actor, kind, &request_id, &role.key, detail)],
            outbox,
            ..Commit::default()
        };
        Ok((grant, commit))
    }

    /// Activates approved requests still waiting for their grant (after a crash, or a race).
    pub async fn activate_approved(&self, limit: i64) -> Result<usize> {
        let mut done = 0;
        for request in self.store.approved_requests(limit).await? {
            match self.activate(&request.id).await {
                Ok(_) => done += 1,
                Err(Error::Conflict(_)) => {}
                Err(e) => {
                    tracing::error!(request = %request.id, error = %format!("{e:#}"), "activation failed; will retry")
                }
            }
        }
        Ok(done)
    }
}

fn spec(person: &Person, role: &Role, request: &AccessRequest, grant: &Grant) -> GrantSpec {
    GrantSpec {
        grant_id: grant.id.clone(),
        person: person.clone(),
        role: role.clone(),
        starts_at: grant.starts_at,
        ends_at: grant.ends_at,
        justification: request.justification.clone(),
        ticket: request.ticket.clone(),
    }
}
