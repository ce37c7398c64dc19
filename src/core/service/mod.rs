//! Use cases: submit, decide, cancel, activate, deactivate, expire and the SLA ladder. Each reads
//! the clock once, decides with the pure rules in `core`, and writes one [`Commit`] holding the
//! state change, its audit events and its outgoing messages. Races are settled by the store's
//! compare-and-set: the loser gets `Error::Conflict` and changes nothing.

mod activate;
mod alarm;
mod alerts;
mod checkpoint;
mod decide;
mod end_alert;
mod expire;
mod grant;
mod grant_retry;
mod identity;
mod ladder;
mod lookup;
mod messages;
mod oncall;
mod policy_edit;
mod posture;
mod queries;
mod raise;
mod reconcile;
mod renew;
mod replay;
mod replies;
mod review_cards;
mod reviews;
mod revoke;
mod schedule;
mod step_up;
mod submit;
mod target;
mod withdraw;

use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use tokio::sync::Notify;

use super::error::{Error, Result};
use super::ids::{ChatUser, Platform, RequestId};
use super::policy::{Person, Policy, Role};
use super::ports::{Clock, Commit, CommitObserver, Directory, Store, Write};
use super::request::AccessRequest;

pub use activate::{ACTIVATION_LEASE, GRANT_RETRY_MAX, GRANT_RETRY_MIN, RETRYING};
pub use alarm::DEFAULT_REPAGE_EVERY;
pub use checkpoint::{CHECKPOINT_ORDER_KEY, CheckpointPolicy};
pub use identity::{SignInAsk, SignInSettings};
pub use lookup::LOOKUP_TTL;
pub use messages::Channels;
pub use policy_edit::{Orphan, PolicyImpact, orphans};
pub use queries::{RoleSummary, StatusLine, render_roles, render_status};
pub use raise::{DEFAULT_COALESCE_WINDOW, Raised};
pub use reconcile::{Drift, DriftKind, ReconcileReport};
pub use renew::renewal_card_view;
pub use replies::{Reply, revoked_text, submitted_text};
pub use review_cards::render_reviews;
pub use review_cards::review_card_view;
pub use revoke::{ELIGIBILITY_SWEEP_EVERY, NO_LONGER_ELIGIBLE, Revoked, Revoker, resolve_person};
pub use target::{detached_role, target_of};

/// How long a handled signed request is remembered: twice the signature window, since a
/// timestamp may lie up to the window ahead of the clock.
pub const SEEN_REQUEST_FOR: chrono::Duration = chrono::Duration::seconds(600);
pub use step_up::Approved;

/// What a submit produced, for the immediate reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submitted {
    /// The stored request.
    pub request: AccessRequest,
    /// Whether it needs approvals (false: it is being activated now).
    pub needs_approval: bool,
    /// Whether it extends an active grant.
    pub extends: bool,
    /// The one-time step-up link the requester must open first (roles with `require_mfa`);
    /// the request waits in `awaiting_mfa` until then.
    pub step_up: Option<String>,
}

/// An approver's choice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Yes.
    Approve,
    /// No, with an optional reason.
    Deny(Option<String>),
}

/// The access workflow, shared by every adapter.
pub struct AccessService {
    store: Arc<dyn Store>,
    directory: Arc<dyn Directory>,
    clock: Arc<dyn Clock>,
    policy: RwLock<Arc<Policy>>,
    channels: Vec<Channels>,
    outbox_kick: Arc<Notify>,
    work_kick: Arc<Notify>,
    end_failures: end_alert::EndFailures,
    drift_reported: reconcile::Reported,
    repage_every: chrono::Duration,
    coalesce_window: chrono::Duration,
    observer: Option<Arc<dyn CommitObserver>>,
    lookup: Option<lookup::Lookup>,
    eligibility_checked: revoke::EligibilityClock,
    activating: Arc<std::sync::atomic::AtomicUsize>,
    sign_in: Option<identity::SignInSettings>,
    oncall: Option<Arc<dyn crate::core::oncall::OnCallSource>>,
}

impl AccessService {
    /// Builds the service. `channels` lists the enabled platforms and their channels.
    pub fn new(
        store: Arc<dyn Store>,
        directory: Arc<dyn Directory>,
        clock: Arc<dyn Clock>,
        policy: Policy,
        channels: Vec<Channels>,
    ) -> Self {
        Self {
            store,
            directory,
            clock,
            policy: RwLock::new(Arc::new(policy)),
            channels,
            outbox_kick: Arc::new(Notify::new()),
            work_kick: Arc::new(Notify::new()),
            end_failures: Default::default(),
            drift_reported: Default::default(),
            repage_every: DEFAULT_REPAGE_EVERY,
            coalesce_window: raise::DEFAULT_COALESCE_WINDOW,
            observer: None,
            lookup: None,
            eligibility_checked: Default::default(),
            activating: Default::default(),
            sign_in: None,
            oncall: None,
        }
    }

    /// Asks `source` whether requesters are on call, for roles with an `oncall` rule.
    pub fn with_oncall(mut self, source: Arc<dyn crate::core::oncall::OnCallSource>) -> Self {
        self.oncall = Some(source);
        self
    }

    /// Activations of this process currently between their claim and their record (talking to
    /// the directory); `Running::settle` waits for them.
    pub fn activations_in_flight(&self) -> usize {
        self.activating.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Tells `observer` about every successful commit (metrics).
    pub fn with_observer(mut self, observer: Arc<dyn CommitObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// The current policy snapshot.
    pub fn policy(&self) -> Arc<Policy> {
        self.policy.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the policy; requests in flight are checked against it from now on.
    pub fn reload_policy(&self, policy: Policy) {
        *self.policy.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(policy);
    }

    /// Whether this is the first time a signed request with `key` arrives (within
    /// [`SEEN_REQUEST_FOR`]); false for a replay. The database decides, so a replay reaching
    /// another replica is caught too.
    pub async fn first_time(&self, key: &str) -> Result<bool> {
        let now = self.clock.now();
        self.store.remember_request(key, now, now + SEEN_REQUEST_FOR).await
    }

    /// The store (for adapters that only read, and for sweeps).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The clock.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Woken whenever outbox rows were committed.
    pub fn outbox_kick(&self) -> Arc<Notify> {
        self.outbox_kick.clone()
    }

    /// Woken whenever requests changed (an approval may need its grant).
    pub fn work_kick(&self) -> Arc<Notify> {
        self.work_kick.clone()
    }

    /// Queues an ephemeral reply to one user (refusals of clicks and the like).
    pub async fn tell_ephemeral(
        &self,
        platform: Platform,
        channel: &str,
        user: &str,
        text: &str,
    ) -> Result<()> {
        let now = self.clock.now();
        let outbox = vec![messages::ephemeral(platform, channel, user, text)];
        self.commit(Commit { at: Some(now), outbox, ..Commit::default() }).await
    }

    /// Queues a direct message to a chat user (results of form submissions and the like).
    pub async fn tell_user(&self, platform: Platform, user: &str, text: &str) -> Result<()> {
        let now = self.clock.now();
        let outbox = vec![messages::direct_to(platform, user, text)];
        self.commit(Commit { at: Some(now), outbox, ..Commit::default() }).await
    }

    async fn commit(&self, mut commit: Commit) -> Result<()> {
        // Inside `once`, the first commit records the request's replay key with it.
        let carried = replay::carry(&mut commit)?;
        // Only an approval needs the sweeper at once (to make the grant); everything else it
        // finds on its next tick, so ordinary traffic does not keep it spinning.
        let approved = commit.requests.iter().any(|w| match w {
            Write::Insert(r) | Write::Update { row: r, .. } => {
                r.state == crate::core::state::RequestState::Approved
            }
        });
        let messages = !commit.outbox.is_empty();
        let audit = self.observer.as_ref().map(|_| commit.audit.clone());
        let written = self.store.commit(commit).await;
        if carried {
            replay::settle(self.store.as_ref(), &written).await;
        }
        written?;
        if let (Some(observer), Some(audit)) = (&self.observer, audit) {
            observer.committed(&audit);
        }
        if messages {
            self.outbox_kick.notify_one();
        }
        if approved {
            self.work_kick.notify_one();
        }
        Ok(())
    }

    async fn load(&self, id: &RequestId) -> Result<AccessRequest> {
        self.store
            .request(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("there is no request `{id}`; `/pim status` lists yours")))
    }

    /// Whether `person` may request `role` at `now`: PIM eligibility when the directory reads
    /// it (`eligibility = "graph"`), else the policy's `eligible` lists. Approver pools and
    /// `disjoint_approvers` always use the policy lists. A person found by email is never
    /// eligible for a critical role.
    async fn eligible(&self, role: &Role, person: &Person, now: DateTime<Utc>) -> Result<bool> {
        if lookup::check_transient_role(&self.policy(), role, person).is_err() {
            return Ok(false);
        }
        match self.directory.eligible_roles(person, std::slice::from_ref(role), now).await? {
            Some(keys) => Ok(keys.contains(&role.key)),
            None => {
                // A review's removal is honoured at once; an approved renewal moves `until`.
                let (removed, extended) = self.store.eligibility_marks(&person.id, &role.key).await?;
                if removed {
                    return Ok(false);
                }
                Ok(super::renewal::eligibility_end(role, &person.id, extended, now).is_some())
            }
        }
    }

    /// Separation of duties: whether `person` is eligible for `role` by the policy's lists or,
    /// where the directory keeps eligibility, in PIM, whatever `[directory] eligibility` says.
    async fn eligible_anywhere(&self, role: &Role, person: &Person, now: DateTime<Utc>) -> Result<bool> {
        if role.is_eligible(&person.id, now) {
            return Ok(true);
        }
        let pim = self.directory.pim_eligible_roles(person, std::slice::from_ref(role), now).await?;
        Ok(pim.is_some_and(|keys| keys.contains(&role.key)))
    }

    fn now(&self) -> DateTime<Utc> {
        super::audit::truncate_micros(self.clock.now())
    }
}

/// The person behind a chat user, from the policy only (approvers, alarm acknowledgers); a
/// requester goes through [`AccessService::requester`], which may also look them up by email.
fn whois(policy: &Policy, user: &ChatUser) -> Result<Person> {
    policy.identify(user).cloned()
}

/// The role of a stored request; a role removed from the policy is reported, not panicked on.
fn role_of<'p>(policy: &'p Policy, request: &AccessRequest) -> Result<&'p Role> {
    policy.role(&request.role)
}
