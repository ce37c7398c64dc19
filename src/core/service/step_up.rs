//! MFA step-up: a request of a `require_mfa` role waits in `awaiting_mfa` until its requester
//! signs in afresh with MFA; an approval of an `approver_mfa` role counts only once the
//! approver has. Each step-up link is bound to one request and one person, works once, and
//! the sign-in behind it must be that person's directory account (`oid`) and carry fresh MFA
//! evidence (`core::identity::check_mfa`). The evidence lands in the audit trail; the token
//! never does.
//!
//! A refused step-up (another account, no MFA, a stale authentication) changes nothing but
//! the used-up link: the request keeps waiting, and the person gets a fresh link in chat
//! while the step-up window is open.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::messages::{direct, direct_to};
use super::{AccessService, Decision};
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::error::{Error, Result};
use crate::core::identity::{AuthPurpose, AuthState, MfaRequirement, STEP_UP_TTL, SignIn, check_mfa};
use crate::core::ids::{ChatUser, RequestId};
use crate::core::ports::{Commit, Write};
use crate::core::request::AccessRequest;
use crate::core::state::{Action, RequestState, transition};

/// What an Approve click led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Approved {
    /// The approval was recorded (the request as it is now).
    Recorded(Box<AccessRequest>),
    /// The role needs the approver's fresh MFA first: this text (with the one-time link) is
    /// for the approver only.
    StepUp(String),
}

/// A verified step-up, carried into the commit that acts on it.
#[derive(Debug, Clone)]
pub(super) struct StepUpProof {
    /// The state it used up.
    pub state_id: String,
    /// What it proved, for the audit trail.
    pub evidence: serde_json::Value,
}

impl AccessService {
    /// An Approve click: records the approval, or, for an `approver_mfa` role, answers with the
    /// approver's one-time step-up link (after the same checks an approval gets).
    pub async fn approve(&self, user: &ChatUser, id: &RequestId) -> Result<Approved> {
        let policy = self.policy();
        let request = self.load(id).await?;
        let role = super::role_of(&policy, &request)?;
        if !role.approver_mfa {
            return self.decide(user, id, Decision::Approve).await.map(|r| Approved::Recorded(Box::new(r)));
        }
        self.precheck_decision(user, id).await?;
        let approver = self.approver(&policy, user).await?;
        if request.approved_by(&approver.id) {
            return Err(Error::Conflict(format!("you already approved `{id}`; it needs another approver")));
        }
        if self.sign_in.is_none() {
            return Err(Error::policy(
                crate::core::refusal::Rule::SignIn,
                format!("approving `{}` requires MFA, but signing in is not configured", role.key),
            ));
        }
        if self.object_id_of(&approver, Some(user)).await?.is_none() {
            return Err(Error::NotAuthorized(
                "approving this role requires a fresh MFA sign-in, and pimbot does not know your directory \
                 account yet: run `/pim link` first"
                    .into(),
            ));
        }
        let now = self.now();
        let issued = AuthState::issue(
            AuthPurpose::ApprovalStepUp,
            Some(user.clone()),
            Some(approver.id.clone()),
            Some(id.clone()),
            now,
            STEP_UP_TTL,
        );
        let url = self.sign_in_url(&issued.value)?;
        self.commit(Commit { at: Some(now), new_auth_states: vec![issued.state], ..Commit::default() })
            .await?;
        Ok(Approved::StepUp(format!(
            "🔐 Approving `{id}` ({}) needs a fresh MFA sign-in. Your approval counts once you finish it \
             (the link works once, for {}, and only for you):\n{url}",
            crate::core::text::strong(&role.key),
            crate::core::duration::format_duration(STEP_UP_TTL)
        )))
    }

    /// The requester's step-up arrived: check it, then send the request to the approvers (or
    /// straight on, for a role that needs no approval).
    pub(super) async fn complete_activation_step_up(
        &self,
        state: AuthState,
        sign_in: SignIn,
    ) -> Result<String> {
        let policy = self.policy();
        let now = self.now();
        let id = state
            .request
            .clone()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("step-up without a request")))?;
        let mut request = self.load(&id).await?;
        if request.state != RequestState::AwaitingMfa {
            return self
                .refuse_step_up(
                    &state,
                    &sign_in,
                    &format!("request `{id}` is {}; it no longer waits for MFA", request.state),
                    now,
                    false,
                )
                .await;
        }
        let role = policy.role(&request.role)?.clone();
        let Some((person, _)) = self.person_by_id(&policy, &request.requester).await? else {
            return self
                .refuse_step_up(&state, &sign_in, "the requester is no longer known to pimbot", now, false)
                .await;
        };
        let person = match &state.user {
            Some(u) => self.known_person(&policy, u).await?.filter(|p| p.id == person.id).unwrap_or(person),
            None => person,
        };
        let expected = self.object_id_of(&person, state.user.as_ref()).await?;
        if let Some(why) = wrong_account(expected.as_deref(), &sign_in) {
            return self.refuse_step_up(&state, &sign_in, why, now, true).await;
        }
        let mode = match check_mfa(&requirement(&role), &sign_in, now) {
            Ok(mode) => mode,
            Err(why) => return self.refuse_step_up(&state, &sign_in, &why, now, true).await,
        };
        let expected_version = request.version;
        request.state = transition(request.state, Action::StepUp, now)?;
        let extends = self.store.open_grant(&person.id, &role.key).await?.is_some();
        let mut audit = vec![AuditEvent::about(
            now,
            Actor::Person(person.id.clone()),
            EventKind::RequestMfaVerified,
            &id,
            &role.key,
            json!({"evidence": sign_in.evidence(Some(&mode))}),
        )];
        let mut outbox = Vec::new();
        let oncall = self.oncall_outcome(&role, &person, now).await;
        self.release(&mut request, &policy, &role, &person, extends, now, &oncall, &mut audit, &mut outbox)?;
        let approvals = super::oncall::approval_rows(&request);
        let next =
            if role.needs_approval() { "it is now with the approvers" } else { "it is being activated now" };
        outbox.extend(direct(
            &self.channels,
            &person,
            id.as_str(),
            &format!("🔐 MFA verified for request {id} ({}): {next}.", crate::core::text::strong(&role.key)),
        ));
        self.commit(Commit {
            at: Some(now),
            requests: vec![Write::Update { row: request, expected_version }],
            approvals,
            audit,
            outbox,
            use_auth_states: vec![state.id.clone()],
            ..Commit::default()
        })
        .await
        .map_err(|e| super::submit::already_changed(e, &id))?;
        Ok(format!("MFA verified for request {id} ({}): {next}. You can close this page.", role.key))
    }

    /// An approver's step-up arrived: check it, then record the approval with its evidence.
    pub(super) async fn complete_approval_step_up(
        &self,
        state: AuthState,
        sign_in: SignIn,
    ) -> Result<String> {
        let policy = self.policy();
        let now = self.now();
        let id = state
            .request
            .clone()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("step-up without a request")))?;
        let (Some(user), Some(approver_id)) = (state.user.clone(), state.person.clone()) else {
            return Err(Error::Internal(anyhow::anyhow!("approval step-up without an approver")));
        };
        let request = self.load(&id).await?;
        let role = policy.role(&request.role)?.clone();
        let approver = match self.approver(&policy, &user).await {
            Ok(p) if p.id == approver_id => p,
            _ => {
                return self
                    .refuse_step_up(&state, &sign_in, "you are no longer an approver here", now, false)
                    .await;
            }
        };
        // The requester can never complete an approval, whoever's link they hold.
        let requester_oid = match self.person_by_id(&policy, &request.requester).await? {
            Some((p, _)) => p.object_id,
            None => None,
        };
        let requester_links = self.store.identity_links_of(&sign_in.object_id).await?;
        let is_requester = approver_id == request.requester
            || requester_oid.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(&sign_in.object_id))
            || requester_links
                .iter()
                .any(|l| policy.person_by_chat(&l.user).is_some_and(|p| p.id == request.requester));
        if is_requester {
            return self
                .refuse_step_up(
                    &state,
                    &sign_in,
                    "the requester cannot approve their own request",
                    now,
                    false,
                )
                .await;
        }
        let expected = self.object_id_of(&approver, Some(&user)).await?;
        if let Some(why) = wrong_account(expected.as_deref(), &sign_in) {
            return self.refuse_step_up(&state, &sign_in, why, now, true).await;
        }
        let mode = match check_mfa(&requirement(&role), &sign_in, now) {
            Ok(mode) => mode,
            Err(why) => return self.refuse_step_up(&state, &sign_in, &why, now, true).await,
        };
        let proof = StepUpProof { state_id: state.id.clone(), evidence: sign_in.evidence(Some(&mode)) };
        match self.decide_with(&user, &id, Decision::Approve, Some(&proof)).await {
            Ok(r) if r.state == RequestState::Pending => Ok(format!(
                "MFA verified: your approval of {id} ({}) is recorded; it needs {} more.",
                role.key,
                role.approvals_required.saturating_sub(r.approvals.len() as u32)
            )),
            Ok(_) => Ok(format!("MFA verified: you approved {id} ({}). You can close this page.", role.key)),
            Err(e) if e.is_user_facing() => {
                self.refuse_step_up(&state, &sign_in, &e.to_string(), now, false).await
            }
            Err(e) => Err(e),
        }
    }

    /// Uses the state up, audits the refusal and, when `retry` and the step-up can still
    /// finish, sends the person a fresh link. Returns the refusal.
    async fn refuse_step_up(
        &self,
        state: &AuthState,
        sign_in: &SignIn,
        why: &str,
        now: DateTime<Utc>,
        retry: bool,
    ) -> Result<String> {
        let mut commit =
            Commit { at: Some(now), use_auth_states: vec![state.id.clone()], ..Commit::default() };
        let detail =
            json!({"purpose": state.purpose.as_str(), "why": why, "evidence": sign_in.evidence(None)});
        commit.audit.push(self.sign_in_event(state, EventKind::RequestStepUpRefused, detail, now));
        if retry {
            self.retry_step_up(state, why, now, &mut commit).await?;
        }
        self.commit(commit).await?;
        Err(Error::NotAuthorized(format!("step-up refused: {why}")))
    }

    /// Adds a fresh step-up link for the same person and request to `commit` (with a note to
    /// them why), while the request still waits for it.
    pub(super) async fn retry_step_up(
        &self,
        state: &AuthState,
        why: &str,
        now: DateTime<Utc>,
        commit: &mut Commit,
    ) -> Result<()> {
        let (Some(user), Some(id)) = (&state.user, &state.request) else { return Ok(()) };
        let request = self.load(id).await?;
        let (waiting, expires_at) = match state.purpose {
            AuthPurpose::ActivationStepUp => (
                request.state == RequestState::AwaitingMfa,
                request.next_nudge_at.unwrap_or(now + STEP_UP_TTL),
            ),
            _ => (request.state == RequestState::Pending, now + STEP_UP_TTL),
        };
        if !waiting || expires_at <= now {
            return Ok(());
        }
        let mut issued = AuthState::issue(
            state.purpose,
            Some(user.clone()),
            state.person.clone(),
            Some(id.clone()),
            now,
            STEP_UP_TTL,
        );
        issued.state.expires_at = expires_at;
        let url = self.sign_in_url(&issued.value)?;
        commit.new_auth_states.push(issued.state);
        commit.outbox.push(direct_to(
            user.platform,
            &user.id,
            &format!(
                "🔐 The step-up for request {id} was refused: {why}. Try again with this new link:\n{url}"
            ),
        ));
        Ok(())
    }
}

/// The refusal when the sign-in is not `expected`'s directory account.
fn wrong_account(expected: Option<&str>, sign_in: &SignIn) -> Option<&'static str> {
    match expected {
        Some(oid) if oid.eq_ignore_ascii_case(&sign_in.object_id) => None,
        Some(_) => Some("you signed in with another account than the one this link is for"),
        None => Some("pimbot does not know the directory account of the person this link is for"),
    }
}

/// What a step-up for `role` must prove.
fn requirement(role: &crate::core::policy::Role) -> MfaRequirement {
    MfaRequirement { auth_context: role.auth_context.clone(), max_age: role.mfa_max_age }
}
