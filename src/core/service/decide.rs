//! Approver decisions: approve (towards quorum) and deny. Separation of duties is enforced here,
//! on the server, at click time, against the current policy.

use serde_json::json;

use super::messages::{card_key, direct, feed, update_card};
use super::step_up::StepUpProof;
use super::submit::already_changed;
use super::{AccessService, Decision, role_of};
use crate::core::audit::{Actor, AuditEvent, DETAIL_TIME_TO_DECISION_SECS, EventKind};
use crate::core::error::{Error, Result};
use crate::core::ids::{ChatUser, RequestId};
use crate::core::ports::{Commit, Write};
use crate::core::request::{AccessRequest, Approval};
use crate::core::state::{Action, RequestState, transition};
use crate::core::text::quote;

/// How often a decision is re-applied after losing a race to a background step.
const DECIDE_ATTEMPTS: u32 = 5;

impl AccessService {
    /// Whether `user` may decide request `id` right now (used before opening the deny form, so
    /// a refused person never sees it). The same checks run again inside [`Self::decide`].
    pub async fn precheck_decision(&self, user: &ChatUser, id: &RequestId) -> Result<()> {
        let policy = self.policy();
        let approver = self.approver(&policy, user).await?;
        let request = self.load(id).await?;
        if request.state != RequestState::Pending {
            return Err(Error::Conflict(already_decided(&request)));
        }
        let role = role_of(&policy, &request)?;
        role.check_approver(&approver.id, &request.requester, self.now())?;
        self.check_disjoint(role, &approver).await
    }

    /// With `disjoint_approvers`, an approver eligible for the role in PIM may not decide it
    /// either, whatever the eligibility source (the policy lists were checked already).
    async fn check_disjoint(
        &self,
        role: &crate::core::policy::Role,
        approver: &crate::core::policy::Person,
    ) -> Result<()> {
        if role.disjoint_approvers && self.eligible_anywhere(role, approver, self.now()).await? {
            return Err(Error::NotAuthorized(format!(
                "you are eligible for `{}` yourself, and this role requires approvers who are not",
                role.key
            )));
        }
        Ok(())
    }

    /// Records one approver's decision. Refusals (requester, non-approver, already decided)
    /// return a user-facing error and change nothing.
    pub async fn decide(&self, user: &ChatUser, id: &RequestId, decision: Decision) -> Result<AccessRequest> {
        self.decide_with(user, id, decision, None).await
    }

    /// [`Self::decide`], with the approver's verified step-up when the role needs one; the
    /// step-up's state is used up in the same commit as the approval.
    pub(super) async fn decide_with(
        &self,
        user: &ChatUser,
        id: &RequestId,
        decision: Decision,
        proof: Option<&StepUpProof>,
    ) -> Result<AccessRequest> {
        let decision = match decision {
            Decision::Deny(Some(reason)) => {
                let max = self.policy().max_justification;
                Decision::Deny(Some(crate::core::text::field(
                    crate::core::refusal::Field::Reason,
                    &reason,
                    max,
                )?))
            }
            other => other,
        };
        // A lost compare-and-set against a background step (a reminder bumping the version)
        // must not eat the click: while the request is still pending, decide again.
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.decide_once(user, id, decision.clone(), proof).await {
                Err(Error::Conflict(_)) if attempt < DECIDE_ATTEMPTS && self.still_pending(id).await => {
                    continue;
                }
                other => return other,
            }
        }
    }

    async fn still_pending(&self, id: &RequestId) -> bool {
        matches!(self.store.request(id).await, Ok(Some(r)) if r.state == RequestState::Pending)
    }

    async fn decide_once(
        &self,
        user: &ChatUser,
        id: &RequestId,
        decision: Decision,
        proof: Option<&StepUpProof>,
    ) -> Result<AccessRequest> {
        let policy = self.policy();
        let now = self.now();
        let approver = self.approver(&policy, user).await?;
        let mut request = self.load(id).await?;
        if request.state != RequestState::Pending {
            return Err(Error::Conflict(already_decided(&request)));
        }
        let role = role_of(&policy, &request)?;
        role.check_approver(&approver.id, &request.requester, now)?;
        self.check_disjoint(role, &approver).await?;
        if request.approved_by(&approver.id) {
            return Err(Error::Conflict(format!("you already approved `{id}`; it needs another approver")));
        }
        let expected_version = request.version;
        let actor = Actor::Person(approver.id.clone());
        let mut approvals = Vec::new();
        let mut audit = Vec::new();
        let mut outbox = Vec::new();
        let requester =
            self.person_by_id(&policy, &request.requester).await?.filter(|(_, on)| *on).map(|(p, _)| p);
        let mut use_auth_states = Vec::new();
        match decision {
            Decision::Approve => {
                if role.approver_mfa && proof.is_none() {
                    return Err(Error::NotAuthorized(format!(
                        "approving `{}` needs a fresh MFA sign-in; click Approve on the card to get your link",
                        role.key
                    )));
                }
                if let Some(p) = proof {
                    use_auth_states.push(p.state_id.clone());
                }
                let evidence = proof.map_or_else(|| json!({"mode": "chat_session"}), |p| p.evidence.clone());
                let still_eligible = match &requester {
                    Some(person) => self.eligible(role, person, now).await?,
                    None => false,
                };
                if !still_eligible {
                    return Err(Error::NotAuthorized(format!(
                        "{} is no longer eligible for `{}`; this request cannot be approved",
                        request.requester, role.key
                    )));
                }
                let approval = Approval { approver: approver.id.clone(), at: now };
                request.approvals.push(approval.clone());
                approvals.push((request.id.clone(), approval));
                let count = request.approvals.len() as u32;
                request.state = transition(
                    request.state,
                    Action::Approve { approvals: count, required: role.approvals_required },
                    now,
                )?;
                audit.push(AuditEvent::about(
                    now,
                    actor.clone(),
                    EventKind::ApprovalRecorded,
                    id,
                    &role.key,
                    json!({"approvals": count, "required": role.approvals_required, "evidence": evidence}),
                ));
                if request.state == RequestState::Approved {
                    request.decided_at = Some(now);
                    request.decided_by = Some(approver.id.clone());
                    super::schedule::hold_until_start(&mut request, now);
                    let ttd = (now - request.created_at).num_seconds();
                    audit.push(AuditEvent::about(
                        now,
                        actor,
                        EventKind::RequestApproved,
                        id,
                        &role.key,
                        json!({DETAIL_TIME_TO_DECISION_SECS: ttd}),
                    ));
                    outbox.extend(feed(
                        &self.channels,
                        id.as_str(),
                        &format!(
                            "✅ {} approved {}'s request {} for {}{}",
                            approver.id,
                            request.requester,
                            id,
                            crate::core::text::strong(&role.key),
                            super::schedule::starting(&request)
                        ),
                    ));
                    if let Some(p) = &requester {
                        outbox.extend(direct(
                            &self.channels,
                            p,
                            id.as_str(),
                            &format!(
                                "✅ Your request {id} for {} was approved by {}. {}",
                                crate::core::text::strong(&role.key),
                                approver.id,
                                match request.starts_at.filter(|s| *s > now) {
                                    Some(s) => format!(
                                        "It starts {}; `/pim cancel {id}` until then withdraws it.",
                                        crate::core::schedule::format_start(s)
                                    ),
                                    None => "Activating now.".to_owned(),
                                }
                            ),
                        ));
                    }
                } else {
                    outbox.extend(feed(
                        &self.channels,
                        id.as_str(),
                        &format!(
                            "👍 {} approved request {} for {} ({}/{})",
                            approver.id,
                            id,
                            crate::core::text::strong(&role.key),
                            count,
                            role.approvals_required
                        ),
                    ));
                }
            }
            Decision::Deny(reason) => {
                request.state = transition(request.state, Action::Deny, now)?;
                request.decided_at = Some(now);
                request.decided_by = Some(approver.id.clone());
                request.reason = reason.clone().filter(|r| !r.trim().is_empty());
                request.next_nudge_at = None;
                let ttd = (now - request.created_at).num_seconds();
                audit.push(AuditEvent::about(
                    now,
                    actor,
                    EventKind::RequestDenied,
                    id,
                    &role.key,
                    json!({"reason": request.reason, DETAIL_TIME_TO_DECISION_SECS: ttd}),
                ));
                let why = request.reason.as_deref().map(|r| format!(": {}", quote(r))).unwrap_or_default();
                outbox.extend(feed(
                    &self.channels,
                    id.as_str(),
                    &format!(
                        "❌ {} denied {}'s request {} for {}{why}",
                        approver.id,
                        request.requester,
                        id,
                        crate::core::text::strong(&role.key)
                    ),
                ));
                if let Some(p) = &requester {
                    outbox.extend(direct(
                        &self.channels,
                        p,
                        id.as_str(),
                        &format!(
                            "❌ Your request {id} for {} was denied by {}{why}",
                            crate::core::text::strong(&role.key),
                            approver.id
                        ),
                    ));
                }
            }
        }
        // Evidence: the chat messages the decision was taken on, so an auditor can go from the
        // audit line to the card (Slack `ts`, Discord message id, as the outbox recorded them
        // when it posted the card), and the platform of the click.
        let cards = self.card_messages(&request).await?;
        for event in &mut audit {
            if let Some(detail) = event.detail.as_object_mut() {
                detail.insert("messages".into(), cards.clone());
                detail.insert("decided_on".into(), json!(user.platform));
            }
        }
        // The card update goes first so the card never lags behind the feed.
        let mut messages = update_card(&self.channels, &policy, role, &request, now);
        messages.extend(outbox);
        let committed = self
            .commit(Commit {
                at: Some(now),
                requests: vec![Write::Update { row: request.clone(), expected_version }],
                approvals,
                audit,
                outbox: messages,
                use_auth_states,
                ..Commit::default()
            })
            .await
            .map_err(|e| already_changed(e, id));
        match committed {
            Ok(()) => Ok(request),
            // Lost the race: say who won rather than "try again".
            Err(Error::Conflict(msg)) => match self.store.request(id).await? {
                Some(now_stored) if now_stored.state != RequestState::Pending => {
                    Err(Error::Conflict(already_decided(&now_stored)))
                }
                _ => Err(Error::Conflict(msg)),
            },
            Err(other) => Err(other),
        }
    }
}

impl AccessService {
    /// The request's card as posted on each platform: `[{platform, channel, message_id}]`.
    async fn card_messages(&self, request: &AccessRequest) -> Result<serde_json::Value> {
        let mut cards = Vec::new();
        for channels in &self.channels {
            if let Some(posted) = self.store.posted_ref(channels.platform, &card_key(request)).await? {
                cards.push(json!({
                    "platform": posted.platform,
                    "channel": posted.channel,
                    "message_id": posted.message_id,
                }));
            }
        }
        Ok(serde_json::Value::Array(cards))
    }
}

/// "Already decided" wording for a request that is no longer pending.
fn already_decided(request: &AccessRequest) -> String {
    match &request.decided_by {
        Some(by) => format!("request `{}` is already {} (by {by})", request.id, request.state),
        None => format!("request `{}` is already {}", request.id, request.state),
    }
}
