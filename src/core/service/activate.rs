//! Activation: making the grant of an approved request (a new grant, or an extension of the
//! open one), patiently.
//!
//! The invariant it keeps: **the directory never holds an assignment pimbot has no grant row
//! for**. A new grant's row is written (`granting`) in the same commit that claims the
//! request, *before* the directory is called; only once the directory answered is it recorded
//! active. If the request changed meanwhile (cancelled, revoked), the final commit loses its
//! compare-and-set and the assignment just made is removed at once, with an alert
//! ([`AccessService::withdraw`]); if the worker dies, the row is there for the withdrawn-grant
//! sweep or the next activation attempt to finish.
//!
//! A transient directory failure ([`Error::is_transient`]) keeps the request approved, its
//! approvals and its row, and tries again with backoff for `grant_retry_for`; the card says
//! "granting… (retrying)". Only a permanent refusal, or the end of that window, fails it.

use chrono::{DateTime, Duration, Utc};
use futures_util::StreamExt;
use serde_json::json;

use super::AccessService;
use super::grant::spec;
use super::messages::{alert, direct, feed, update_card};
use super::target::target_of;
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::error::{Error, Result};
use crate::core::ids::{GrantId, RequestId};
use crate::core::policy::{Person, Policy, Role};
use crate::core::ports::{Commit, Write};
use crate::core::request::{AccessRequest, Grant};
use crate::core::state::{Action, RequestState, transition};

/// How long one worker holds an approved request while it makes the grant. The directory call
/// (with its own retries) must fit in it; a worker that dies leaves it to run out.
pub const ACTIVATION_LEASE: Duration = Duration::seconds(60);
/// Least wait before a grant that failed transiently is tried again.
pub const GRANT_RETRY_MIN: Duration = Duration::seconds(5);
/// Longest wait between two tries of a grant that keeps failing transiently.
pub const GRANT_RETRY_MAX: Duration = Duration::seconds(60);

/// Activations (and so directory calls) in flight at once in one sweep.
pub const ACTIVATION_CONCURRENCY: usize = 16;

/// The reason an approved request carries while its grant is retried (shown on the card).
pub const RETRYING: &str = "the directory is unavailable; retrying";

/// Counts an activation in flight for as long as it lives.
struct InFlight(std::sync::Arc<std::sync::atomic::AtomicUsize>);

impl InFlight {
    fn enter(counter: &std::sync::Arc<std::sync::atomic::AtomicUsize>) -> Self {
        counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Self(counter.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// What an activation does in the directory.
enum Plan {
    /// A new assignment; its row is written ahead (or was, by an earlier try of this request).
    Fresh(Option<Grant>),
    /// Moves the end of the open grant's assignment.
    Extend(Grant),
}

impl AccessService {
    /// Makes the grant for an approved request (or extends the open grant of the same role).
    /// Eligibility is checked once more; a permanent failure puts the request in `failed`,
    /// loudly; a transient one is retried later.
    pub async fn activate(&self, id: &RequestId) -> Result<AccessRequest> {
        let request = self.load(id).await?;
        self.activate_row(request).await
    }

    /// [`AccessService::activate`] for a request row just read: the claim's compare-and-set
    /// refuses a row that changed since (a conflict; the next sweep reads it again).
    async fn activate_row(&self, mut request: AccessRequest) -> Result<AccessRequest> {
        let policy = self.policy();
        let now = self.now();
        let owned_id = request.id.clone();
        let id = &owned_id;
        if request.state != RequestState::Approved {
            return Ok(request);
        }
        if !request.activation_due(now) {
            return Ok(request); // another worker is making this grant, or a retry is not due
        }
        if super::schedule::before_start(&request, now) {
            return Ok(request); // a scheduled start: never before it, whatever the lease says
        }
        let Ok(role) = policy.role(&request.role).cloned() else {
            return self
                .cancel_for_policy(request, &policy, "its role was removed from the policy", now)
                .await;
        };
        let person = match self.person_by_id(&policy, &request.requester).await {
            Ok(Some((p, true))) => p,
            Ok(_) => {
                return self.fail(request, &policy, &role, "the requester is no longer eligible", now).await;
            }
            Err(e) if e.is_transient() => return self.not_now(request, &policy, &role, &e, now).await,
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
            Err(e) if e.is_transient() => return self.not_now(request, &policy, &role, &e, now).await,
            Err(e) => {
                tracing::error!(request = %id, error = %format!("{e:#}"), "eligibility check failed");
                return self.fail(request, &policy, &role, "eligibility could not be checked", now).await;
            }
        }
        let _busy = InFlight::enter(&self.activating);
        let plan = match self.store.open_grant(&person.id, &role.key).await? {
            Some(open) if !open.granting => Plan::Extend(open),
            Some(ours) if ours.request_id == request.id => Plan::Fresh(Some(ours)),
            Some(other) => {
                // The row of a withdrawn request waits for the sweep to remove its assignment.
                return Err(Error::Conflict(format!("grant {} is still being withdrawn", other.id)));
            }
            None => Plan::Fresh(None),
        };
        // Claim the activation (compare-and-set on the version), so two workers or replicas
        // never both call the directory for the same request; a new grant's row goes in with
        // the claim, before the call.
        let claimed = request.version;
        request.activation_lease_until = Some(now + ACTIVATION_LEASE);
        let mut ends_at = super::schedule::planned_end(&request, now);
        if ends_at <= now {
            return self
                .fail(
                    request,
                    &policy,
                    &role,
                    "its scheduled window passed before the grant could be made",
                    now,
                )
                .await;
        }
        // An activation never runs past the eligibility's end (policy `until`, moved by an
        // approved renewal); the directory enforces its own schedules.
        if let Some(end) = self.eligibility_cap(&role, &person.id, now).await? {
            ends_at = ends_at.min(end);
        }
        let (grant, ahead) = match &plan {
            Plan::Fresh(earlier) => {
                let fresh = Grant {
                    // Every try asks the directory for the same assignment.
                    id: GrantId::for_request(&request.id),
                    request_id: request.id.clone(),
                    person: person.id.clone(),
                    role: role.key.clone(),
                    starts_at: request.starts_at.map_or(now, |s| s.min(now)),
                    ends_at,
                    ended_at: None,
                    end_reason: None,
                    version: earlier.as_ref().map_or(1, |g| g.version + 1),
                    target: Some(target_of(&role, &person)),
                    granting: true,
                };
                let write = match earlier {
                    Some(g) => Write::Update { row: fresh.clone(), expected_version: g.version },
                    None => Write::Insert(fresh.clone()),
                };
                (fresh, Some(write))
            }
            Plan::Extend(open) => {
                let mut extended = open.clone();
                extended.ends_at = extended.ends_at.max(ends_at);
                if extended.target.is_none() {
                    extended.target = Some(target_of(&role, &person));
                }
                (extended, None)
            }
        };
        self.commit(Commit {
            at: Some(now),
            requests: vec![Write::Update { row: request.clone(), expected_version: claimed }],
            grants: ahead.into_iter().collect(),
            ..Commit::default()
        })
        .await?;
        request.version = claimed + 1;
        if let Err(e) = self.directory.grant(&spec(&person, &role, Some(&request), &grant)).await {
            if e.is_transient() {
                return self.not_now(request, &policy, &role, &e, now).await;
            }
            tracing::error!(request = %id, error = %format!("{e:#}"), "directory grant failed");
            return self.fail(request, &policy, &role, "the directory refused the grant", now).await;
        }
        self.record_activation(request, &policy, &role, &person, grant, plan, now).await
    }

    /// Records a grant the directory confirmed; if the request changed meanwhile, undoes what
    /// the directory just did.
    #[allow(clippy::too_many_arguments)]
    async fn record_activation(
        &self,
        mut request: AccessRequest,
        policy: &Policy,
        role: &Role,
        person: &Person,
        grant: Grant,
        plan: Plan,
        now: DateTime<Utc>,
    ) -> Result<AccessRequest> {
        let id = request.id.clone();
        let expected_version = request.version;
        let was_retrying = request.reason.take().is_some();
        request.state = transition(request.state, Action::Activate, now)?;
        request.grant_id = Some(grant.id.clone());
        request.next_nudge_at = None;
        request.activation_lease_until = None;
        let (write, kind) = match &plan {
            Plan::Fresh(_) => {
                let row = Grant { granting: false, ..grant.clone() };
                (Write::Update { row, expected_version: grant.version }, EventKind::GrantActivated)
            }
            Plan::Extend(open) => (
                Write::Update { row: grant.clone(), expected_version: open.version },
                EventKind::GrantExtended,
            ),
        };
        let until = grant.ends_at.format("%H:%M UTC");
        let detail =
            json!({"grant_id": grant.id, "ends_at": grant.ends_at, "directory": self.directory.name()});
        let mut outbox = Vec::new();
        if was_retrying && !request.approvals.is_empty() {
            outbox.extend(update_card(&self.channels, policy, role, &request, now));
        }
        outbox.extend(feed(
            &self.channels,
            id.as_str(),
            &format!(
                "🔓 {} is now {} until {until} ({})",
                person.id,
                crate::core::text::strong(&role.key),
                id
            ),
        ));
        outbox.extend(direct(
            &self.channels,
            person,
            id.as_str(),
            &format!(
                "🔓 You are now {} until {until}. `/pim deactivate {}` when you are done.",
                crate::core::text::strong(&role.key),
                role.key
            ),
        ));
        let recorded = self
            .commit(Commit {
                at: Some(now),
                requests: vec![Write::Update { row: request.clone(), expected_version }],
                grants: vec![write],
                audit: vec![AuditEvent::about(now, Actor::System, kind, &id, &role.key, detail)],
                outbox,
                ..Commit::default()
            })
            .await;
        match recorded {
            Ok(()) => Ok(request),
            Err(Error::Conflict(_)) => self.lost_race(policy, role, person, &id, grant, plan).await,
            Err(e) => Err(e),
        }
    }

    /// The directory made (or extended) an assignment, but its record lost a race. Another
    /// worker may have recorded it (nothing to do); otherwise the request was cancelled,
    /// revoked or failed while the directory worked, and what the directory did is undone now
    /// and alerted, never dropped.
    async fn lost_race(
        &self,
        policy: &Policy,
        role: &Role,
        person: &Person,
        id: &RequestId,
        grant: Grant,
        plan: Plan,
    ) -> Result<AccessRequest> {
        let stored = self.load(id).await?;
        if stored.state == RequestState::Approved
            || (stored.state == RequestState::Active && stored.grant_id.as_ref() == Some(&grant.id))
        {
            return Ok(stored); // another worker holds or recorded it
        }
        let why = format!("request {id} was {} while the directory made the grant", stored.state);
        match plan {
            Plan::Fresh(_) => {
                let Some(row) = self.store.grant(&grant.id).await?.filter(|g| g.is_open()) else {
                    return Ok(stored);
                };
                self.withdraw(policy, row, &why, true).await?;
            }
            Plan::Extend(open) => {
                // Move the assignment's end back to what the grant says.
                let current = self.store.grant(&open.id).await?.unwrap_or(open);
                if current.is_open() {
                    self.directory.grant(&spec(person, role, Some(&stored), &current)).await?;
                }
                let now = self.now();
                let text = format!(
                    "⚠️ The extension of {}'s {} was made in the directory after {why}; pimbot moved \
                     the assignment's end back to {}.",
                    person.id,
                    crate::core::text::strong(&role.key),
                    current.ends_at.format("%H:%M UTC")
                );
                let mut outbox = alert(&self.channels, id.as_str(), &text);
                outbox.extend(feed(&self.channels, id.as_str(), &text));
                let detail = json!({"grant_id": current.id, "ends_at": current.ends_at, "reason": why});
                self.commit(Commit {
                    at: Some(now),
                    audit: vec![AuditEvent::about(
                        now,
                        Actor::System,
                        EventKind::GrantExtensionUndone,
                        id,
                        &role.key,
                        detail,
                    )],
                    outbox,
                    ..Commit::default()
                })
                .await?;
            }
        }
        Ok(stored)
    }

    /// Activates approved requests still waiting for their grant (after a crash, a race, or a
    /// transient failure whose retry is due), [`ACTIVATION_CONCURRENCY`] at once: one at a time,
    /// the sweep fell behind a busy minute and people's next commands found their previous
    /// request still approved (BENCHMARKS.md). Each is its own person and role (one open
    /// request each), and each claims its request by compare-and-set before the directory call.
    pub async fn activate_approved(&self, limit: i64) -> Result<usize> {
        let approved = self.store.approved_requests(limit).await?;
        let done = futures_util::stream::iter(approved)
            .map(|request| async move {
                let id = request.id.clone();
                match self.activate_row(request).await {
                    Ok(_) => 1,
                    Err(Error::Conflict(_)) => 0,
                    Err(e) => {
                        tracing::error!(request = %id, error = %format!("{e:#}"), "activation failed; will retry");
                        0
                    }
                }
            })
            .buffer_unordered(ACTIVATION_CONCURRENCY)
            .fold(0, |done, one| async move { done + one })
            .await;
        Ok(done)
    }
}
