//! The activity history the alerts and review cards need, read from the audit trail: who
//! activated which role when (with the request's justification), which activations were
//! refused or failed, and which assignments reconciliation found outside pimbot. Pure.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::audit::{Actor, AuditRecord, EventKind};
use super::ids::{PersonId, RequestId, RoleKey};

/// The audit event kinds the history reads; stores may return only these.
pub const HISTORY_KINDS: &[&str] = &[
    EventKind::RequestSubmitted.as_str(),
    EventKind::GrantActivated.as_str(),
    EventKind::GrantExtended.as_str(),
    EventKind::RequestDenied.as_str(),
    EventKind::RequestTimedOut.as_str(),
    EventKind::GrantFailed.as_str(),
    EventKind::RequestRefused.as_str(),
    EventKind::DirectoryDrift.as_str(),
];

/// One recorded activation or refusal, read from the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Activity {
    /// Who.
    pub person: PersonId,
    /// Which role.
    pub role: RoleKey,
    /// When.
    pub at: DateTime<Utc>,
    /// The request, when there is one.
    pub request: Option<RequestId>,
    /// The request's justification, when known.
    pub justification: Option<String>,
}

/// The history the alerts (and review cards) need, read from audit records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Grants made or extended.
    pub activations: Vec<Activity>,
    /// Activations refused (by policy or an approver), timed out or failed.
    pub refusals: Vec<Activity>,
    /// Directory assignments reconciliation found outside pimbot: (role, principal, person, at).
    pub outside: Vec<(RoleKey, String, Option<PersonId>, DateTime<Utc>)>,
    /// When the audit trail begins (its first record): nothing before it is known.
    pub known_since: Option<DateTime<Utc>>,
    /// Where the read began: uses before it are not in `activations`.
    pub read_from: Option<DateTime<Utc>>,
}

impl History {
    /// Reads `records` (chain order; other kinds than [`HISTORY_KINDS`] are ignored).
    /// `known_since` is when the trail begins (`None`: an empty trail knows nothing);
    /// `read_from` where this read began.
    pub fn from_audit(
        records: &[AuditRecord],
        known_since: Option<DateTime<Utc>>,
        read_from: Option<DateTime<Utc>>,
    ) -> Self {
        let mut by_request: HashMap<&str, (&PersonId, Option<&str>)> = HashMap::new();
        let mut out = History { known_since, read_from, ..History::default() };
        for record in records {
            let e = &record.event;
            let request = e.request_id.as_ref();
            let Some(role) = e.role.clone() else { continue };
            let person = |by: &HashMap<&str, (&PersonId, Option<&str>)>| {
                request.and_then(|r| by.get(r.as_str())).map(|(p, j)| ((*p).clone(), j.map(str::to_owned)))
            };
            let Some(kind) = e.event_kind() else { continue };
            match (kind, &e.actor) {
                (EventKind::RequestSubmitted, Actor::Person(p)) => {
                    if let Some(r) = request {
                        let why = e.detail.get("justification").and_then(|j| j.as_str());
                        by_request.insert(r.as_str(), (p, why));
                    }
                }
                (EventKind::GrantActivated | EventKind::GrantExtended, _) => {
                    if let Some((person, justification)) = person(&by_request) {
                        out.activations.push(Activity {
                            person,
                            role,
                            at: e.at,
                            request: request.cloned(),
                            justification,
                        });
                    }
                }
                (EventKind::RequestDenied | EventKind::RequestTimedOut | EventKind::GrantFailed, _) => {
                    if let Some((person, justification)) = person(&by_request) {
                        out.refusals.push(Activity {
                            person,
                            role,
                            at: e.at,
                            request: request.cloned(),
                            justification,
                        });
                    }
                }
                (EventKind::RequestRefused, Actor::Person(p)) => out.refusals.push(Activity {
                    person: p.clone(),
                    role,
                    at: e.at,
                    request: None,
                    justification: None,
                }),
                (EventKind::DirectoryDrift, _) => {
                    let unmanaged = e.detail.get("drift").and_then(|d| d.as_str()) == Some("Unmanaged");
                    let principal = e.detail.get("principal_id").and_then(|p| p.as_str()).unwrap_or_default();
                    let person = e.detail.get("person").and_then(|p| p.as_str()).map(PersonId::from);
                    if unmanaged {
                        out.outside.push((role, principal.to_owned(), person, e.at));
                    }
                }
                _ => {}
            }
        }
        out
    }

    /// The last activation of `role` by `person`.
    pub fn last_use(&self, person: &PersonId, role: &RoleKey) -> Option<&Activity> {
        self.activations.iter().rev().find(|a| &a.person == person && &a.role == role)
    }
}
