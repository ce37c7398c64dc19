//! Ending grants: early deactivation by the holder, and the one path every end goes through
//! (expiry, deactivation, revocation, withdrawal): the directory is asked first, and only once
//! it answered is the end recorded, so pimbot never shows a grant ended whose assignment is
//! still there. Directory calls must be safe to repeat; a crash between the call and the commit
//! is healed by the next sweep repeating the call. Making grants lives in `activate`.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::AccessService;
use super::messages::{direct, feed};
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::duration::format_duration;
use crate::core::error::{Error, Result};
use crate::core::ids::{ChatUser, RoleKey};
use crate::core::policy::{Person, Role};
use crate::core::ports::{Commit, GrantSpec, Write};
use crate::core::request::{AccessRequest, EndReason, Grant};
use crate::core::state::{Action, RequestState, transition};

/// Why and by whom a grant ends.
#[derive(Debug, Clone)]
pub(super) struct Ending {
    /// The kind of end.
    pub reason: EndReason,
    /// Who ended it.
    pub actor: Actor,
    /// Words for the feed, the holder and the audit trail (a revoker's reason, "no longer
    /// eligible").
    pub note: Option<String>,
    /// Extra audit detail.
    pub detail: serde_json::Value,
    /// Whether the directory is asked to end the assignment. Only false for a grant whose
    /// target pimbot never learnt and whose role left the policy: there is nothing to address.
    pub call_directory: bool,
}

impl Ending {
    /// An end with no note.
    pub(super) fn plain(reason: EndReason, actor: Actor) -> Self {
        Self { reason, actor, note: None, detail: serde_json::Value::Null, call_directory: true }
    }
}

impl AccessService {
    /// Ends the caller's grant of `role` early, unless it is still inside `min_hold`. Works for
    /// a role no longer in the policy too: the grant carries what it needs to end itself.
    pub async fn deactivate(&self, user: &ChatUser, role: &RoleKey) -> Result<Grant> {
        let policy = self.policy();
        let now = self.now();
        let person = self.requester(&policy, user).await?;
        let grant = self
            .store
            .open_grant(&person.id, role)
            .await?
            .ok_or_else(|| Error::NotFound(format!("you have no active `{role}`")))?;
        if grant.granting {
            return Err(Error::Conflict(format!(
                "your `{role}` is still being granted (request `{}`); `/pim cancel {}` withdraws it",
                grant.request_id, grant.request_id
            )));
        }
        let (role, holder) = self.end_parts(&policy, &grant).await;
        let hold_until = grant.starts_at + role.min_hold;
        transition(RequestState::Active, Action::Deactivate { hold_until }, now)?;
        let ending = Ending::plain(EndReason::Deactivated, Actor::Person(person.id.clone()));
        self.end(&role, &holder, grant, ending, now).await
    }

    /// Ends `grant` in the directory and records it, dated `now`.
    pub(super) async fn end(
        &self,
        role: &Role,
        person: &Person,
        grant: Grant,
        ending: Ending,
        now: DateTime<Utc>,
    ) -> Result<Grant> {
        let (grant, commit) = self.prepare_end(role, person, grant, ending, Some(now)).await?;
        self.commit(commit).await?;
        self.end_succeeded(&grant.id);
        Ok(grant)
    }

    /// Ends the assignment in the directory and returns the ended grant with the commit that
    /// records it (not yet written). The end is dated `now`, or when the directory answered.
    /// `role` and `person` come from [`AccessService::end_parts`]: the grant's recorded target
    /// wins over the policy, so what was assigned is what is removed.
    pub(super) async fn prepare_end(
        &self,
        role: &Role,
        person: &Person,
        mut grant: Grant,
        ending: Ending,
        now: Option<DateTime<Utc>>,
    ) -> Result<(Grant, Commit)> {
        let requests = self.store.active_requests_of_grant(&grant.id).await?;
        let primary = requests.first().cloned();
        if ending.call_directory {
            self.directory.revoke(&spec(person, role, primary.as_ref(), &grant)).await?;
        }
        let now = now.unwrap_or_else(|| self.now());
        let expected_version = grant.version;
        grant.ended_at = Some(now);
        grant.end_reason = Some(ending.reason);
        let (action, kind, verb) = match ending.reason {
            EndReason::Expired => {
                (Action::Expire { ends_at: grant.ends_at }, EventKind::GrantExpired, "expired")
            }
            EndReason::Deactivated => {
                (Action::Deactivate { hold_until: now }, EventKind::GrantDeactivated, "was deactivated")
            }
            EndReason::Revoked => (Action::Revoke, EventKind::GrantRevoked, "was revoked"),
            EndReason::Withdrawn => (Action::Revoke, EventKind::GrantWithdrawn, "was withdrawn"),
        };
        let mut writes = Vec::new();
        for mut r in requests {
            let v = r.version;
            r.state = transition(r.state, action, now)?;
            if ending.reason == EndReason::Revoked {
                r.reason = ending.note.clone();
            }
            writes.push(Write::Update { row: r, expected_version: v });
        }
        let order_key = primary.as_ref().map(|r| r.id.to_string()).unwrap_or_else(|| grant.id.to_string());
        let held = format_duration(now - grant.starts_at);
        let late = (now - grant.ends_at).num_milliseconds().max(0);
        let by = match &ending.actor {
            Actor::Person(p) if ending.reason == EndReason::Revoked => format!(" by {p}"),
            _ => String::new(),
        };
        let why = ending.note.as_deref().map(|n| format!(": {n}")).unwrap_or_default();
        let mut outbox = feed(
            &self.channels,
            &order_key,
            &format!(
                "🔒 {}'s {} {verb}{by} after {held}{why}",
                person.id,
                crate::core::text::strong(&grant.role)
            ),
        );
        outbox.extend(direct(
            &self.channels,
            person,
            &order_key,
            &format!("🔒 Your {} {verb}{by}{why}.", crate::core::text::strong(&grant.role)),
        ));
        let request_id = primary.as_ref().map(|r| r.id.clone()).unwrap_or_else(|| grant.request_id.clone());
        let mut detail = json!({"grant_id": grant.id, "held_secs": (now - grant.starts_at).num_seconds(), "late_ms": late});
        if let Some(note) = &ending.note {
            detail["reason"] = json!(note);
        }
        if let (Some(extra), Some(map)) = (ending.detail.as_object(), detail.as_object_mut()) {
            map.extend(extra.clone());
        }
        let commit = Commit {
            at: Some(now),
            requests: writes,
            grants: vec![Write::Update { row: grant.clone(), expected_version }],
            audit: vec![AuditEvent::about(now, ending.actor, kind, &request_id, &grant.role, detail)],
            outbox,
            ..Commit::default()
        };
        Ok((grant, commit))
    }
}

/// What the directory needs to make or end `grant`. The justification and ticket come from the
/// request when there is one (a revocation needs neither).
pub(super) fn spec(
    person: &Person,
    role: &Role,
    request: Option<&AccessRequest>,
    grant: &Grant,
) -> GrantSpec {
    GrantSpec {
        grant_id: grant.id.clone(),
        person: person.clone(),
        role: role.clone(),
        starts_at: grant.starts_at,
        ends_at: grant.ends_at,
        justification: request.map(|r| r.justification.clone()).unwrap_or_default(),
        ticket: request.and_then(|r| r.ticket.clone()),
    }
}
