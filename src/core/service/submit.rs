//! Submitting and withdrawing requests.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::messages::{feed, post_card, update_card};
use super::{AccessService, Submitted};
use crate::core::audit::{Actor, AuditEvent, DETAIL_AUTO, DETAIL_TIME_TO_DECISION_SECS, EventKind};
use crate::core::duration::format_duration;
use crate::core::error::{Error, Result};
use crate::core::identity::STEP_UP_TTL;
use crate::core::ids::{ChatUser, RequestId};
use crate::core::oncall::OnCallOutcome;
use crate::core::outbox::OutgoingMessage;
use crate::core::policy::{Draft, Person, Policy, Role};
use crate::core::ports::{Commit, Write};
use crate::core::refusal::{Field, Rule};
use crate::core::request::{AccessRequest, NudgeStage};
use crate::core::state::{Action, RequestState, transition};
use crate::core::text;

impl AccessService {
    /// Files an activation request (or an extension of an active grant) after checking policy.
    pub async fn submit(&self, user: &ChatUser, draft: Draft) -> Result<Submitted> {
        let policy = self.policy();
        let now = self.now();
        // Text is data: one line, no control or bidi characters, and not too long.
        let draft = Draft {
            justification: text::field(Field::Justification, &draft.justification, policy.max_justification)?,
            ticket: draft.ticket.map(|t| text::field(Field::Ticket, &t, text::MAX_TICKET)).transpose()?,
            ..draft
        };
        let person = self.requester(&policy, user).await?;
        let role = policy.role(&draft.role)?;
        super::lookup::check_transient_role(&policy, role, &person)?;
        crate::core::break_glass::refuse_requests(&policy, &person.upn, person.object_id.as_deref())?;
        if !self.eligible(role, &person, now).await? {
            return Err(role.not_eligible());
        }
        role.check_rules(&draft)?;
        let starts_at = self.resolve_start(role, &person, &draft, now)?;
        if let Some(start) = starts_at
            && !self.eligible(role, &person, start).await?
        {
            return Err(Error::policy(
                Rule::EligibleUntilStart,
                format!(
                    "your eligibility for `{}` ends before {}; pick an earlier start",
                    role.key,
                    crate::core::schedule::format_start(start)
                ),
            ));
        }
        let open = self.store.open_requests_for(&person.id).await?;
        if let Some(dup) = open.iter().find(|r| r.role == role.key && r.state != RequestState::Active) {
            return Err(duplicate(dup));
        }
        // An extension supersedes the request it extends: one open request per person and
        // role (the database's unique index refuses a second), the grant carries on.
        let extended = open.iter().find(|r| r.role == role.key && r.state == RequestState::Active).cloned();
        let extends = self.store.open_grant(&person.id, &role.key).await?.is_some();
        if extends && starts_at.is_some() {
            return Err(Error::policy(
                Rule::ScheduledExtension,
                format!(
                    "you already hold `{}`; a scheduled start cannot extend it (`/pim extend {} …` extends it now)",
                    role.key, role.key
                ),
            ));
        }
        let needs_approval = role.needs_approval();
        let mut request = AccessRequest {
            id: RequestId::generate(),
            requester: person.id.clone(),
            role: role.key.clone(),
            duration: draft.duration,
            justification: draft.justification.clone(),
            ticket: draft.ticket.clone(),
            state: RequestState::Pending,
            version: 1,
            origin: user.platform,
            created_at: now,
            decided_at: None,
            decided_by: None,
            reason: None,
            approvals: Vec::new(),
            nudge_stage: NudgeStage::None,
            next_nudge_at: None,
            grant_id: None,
            starts_at,
            activation_lease_until: None,
        };
        let detail = json!({
            "duration_secs": draft.duration.num_seconds(),
            "justification": draft.justification,
            "ticket": draft.ticket,
            "extends": extends,
            "platform": user.platform,
            "require_mfa": role.require_mfa,
            "starts_at": starts_at,
        });
        let mut audit = vec![AuditEvent::about(
            now,
            Actor::Person(person.id.clone()),
            EventKind::RequestSubmitted,
            &request.id,
            &role.key,
            detail,
        )];
        let mut outbox = Vec::new();
        let mut new_auth_states = Vec::new();
        let mut step_up = None;
        if role.require_mfa {
            // Nobody sees the request until its requester proves a fresh MFA: no card, no
            // feed line, no grant. The link is bound to this request and this person.
            let issued = self.issue_activation_step_up(user, &person, &request, now).await?;
            request.state = RequestState::AwaitingMfa;
            request.next_nudge_at = Some(now + STEP_UP_TTL);
            step_up = Some(self.sign_in_url(&issued.value)?);
            new_auth_states.push(issued.state);
        } else {
            let oncall = self.oncall_outcome(role, &person, now).await;
            self.release(
                &mut request,
                &policy,
                role,
                &person,
                extends,
                now,
                &oncall,
                &mut audit,
                &mut outbox,
            )?;
        }
        let approvals = super::oncall::approval_rows(&request);
        // The superseded request leaves the open states before the new one enters them.
        let mut requests = Vec::new();
        if let Some(mut old) = extended {
            let expected_version = old.version;
            old.state = transition(old.state, Action::Supersede, now)?;
            old.reason = Some(format!("superseded by {}", request.id));
            audit.push(AuditEvent::about(
                now,
                Actor::Person(person.id.clone()),
                EventKind::RequestSuperseded,
                &old.id,
                &role.key,
                json!({"by": request.id}),
            ));
            requests.push(Write::Update { row: old, expected_version });
        }
        requests.push(Write::Insert(request.clone()));
        let committed = self
            .commit(Commit {
                at: Some(now),
                requests,
                approvals,
                audit,
                outbox,
                new_auth_states,
                ..Commit::default()
            })
            .await;
        if let Err(Error::Conflict(_)) = committed {
            // A racing submission of the same person and role won: answer as if it came first.
            let open = self.store.open_requests_for(&person.id).await?;
            if let Some(dup) = open.iter().find(|r| r.role == role.key && r.state != RequestState::Active) {
                return Err(duplicate(dup));
            }
            return Err(Error::Conflict(format!(
                "your `{}` changed just now (it ended or was extended); look at `/pim status` and try again",
                role.key
            )));
        }
        committed?;
        Ok(Submitted { request, needs_approval, extends, step_up })
    }

    /// Sends a request whose requester is who they claim to be on its way: the card to the
    /// approvers, or straight to `approved` when the role needs no approval. Used at submit,
    /// and after the requester's step-up for roles with `require_mfa`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn release(
        &self,
        request: &mut AccessRequest,
        policy: &Policy,
        role: &Role,
        person: &Person,
        extends: bool,
        now: DateTime<Utc>,
        oncall: &OnCallOutcome,
        audit: &mut Vec<AuditEvent>,
        outbox: &mut Vec<OutgoingMessage>,
    ) -> Result<()> {
        // User text is quoted: each platform escapes it and cuts it to fit.
        let ticket = request.ticket.as_deref().map(|t| format!(" #{}", text::quote(t))).unwrap_or_default();
        let asked = format!(
            "{} for {}{}{ticket}: {} ({})",
            text::strong(&role.key),
            format_duration(request.duration),
            super::schedule::starting(request),
            text::quote(&request.justification),
            request.id
        );
        if !matches!(oncall, OnCallOutcome::NotApplicable) {
            audit.push(AuditEvent::about(
                now,
                Actor::System,
                EventKind::RequestOncallChecked,
                &request.id,
                &role.key,
                oncall.detail(),
            ));
        }
        let auto_approved = if role.needs_approval() {
            super::oncall::apply_oncall(request, role, oncall, now, audit)?
        } else {
            false
        };
        if auto_approved {
            request.decided_at = Some(now);
            request.decided_by = request.approvals.last().map(|a| a.approver.clone());
            super::schedule::hold_until_start(request, now);
            audit.push(AuditEvent::about(
                now,
                Actor::System,
                EventKind::RequestApproved,
                &request.id,
                &role.key,
                json!({
                    // `auto` keeps it out of the human time-to-decision figures.
                    DETAIL_AUTO: true,
                    "via": "on_call",
                    "oncall": oncall.detail(),
                    DETAIL_TIME_TO_DECISION_SECS: (now - request.created_at).num_seconds(),
                }),
            ));
            outbox.extend(post_card(&self.channels, policy, role, request, now));
            outbox.extend(feed(
                &self.channels,
                request.id.as_str(),
                &format!("📝 {} requested {asked}", person.id),
            ));
            outbox.extend(super::oncall::announce(&self.channels, request, role, oncall, true));
        } else if role.needs_approval() {
            request.next_nudge_at = Some(super::ladder::next_step_at(role, request, now));
            outbox.extend(post_card(&self.channels, policy, role, request, now));
            outbox.extend(super::oncall::announce(&self.channels, request, role, oncall, false));
            outbox.extend(feed(
                &self.channels,
                request.id.as_str(),
                &format!(
                    "📝 {} requested {}{asked}",
                    person.id,
                    if extends { "an extension of " } else { "" }
                ),
            ));
        } else {
            request.state = transition(request.state, Action::Approve { approvals: 0, required: 0 }, now)?;
            request.decided_at = Some(now);
            super::schedule::hold_until_start(request, now);
            audit.push(AuditEvent::about(
                now,
                Actor::System,
                EventKind::RequestApproved,
                &request.id,
                &role.key,
                json!({DETAIL_AUTO: true, DETAIL_TIME_TO_DECISION_SECS: (now - request.created_at).num_seconds()}),
            ));
            outbox.extend(feed(
                &self.channels,
                request.id.as_str(),
                &format!(
                    "⚡ {} {} {asked} (no approval needed)",
                    person.id,
                    match (extends, request.starts_at.is_some()) {
                        (true, _) => "extended",
                        (false, true) => "scheduled",
                        (false, false) => "activated",
                    }
                ),
            ));
        }
        Ok(())
    }

    /// Extends the caller's active grant of a role; the extension follows the role's approval
    /// rules like any activation and never runs past `max_duration` from its approval.
    pub async fn extend(&self, user: &ChatUser, draft: Draft) -> Result<Submitted> {
        let policy = self.policy();
        let person = self.requester(&policy, user).await?;
        if self.store.open_grant(&person.id, &draft.role).await?.is_none() {
            return Err(Error::NotFound(format!(
                "you have no active `{}` to extend; `/pim activate {} …` requests it",
                draft.role, draft.role
            )));
        }
        self.submit(user, draft).await
    }

    /// Withdraws a pending (or approved but not yet active) request; only its requester may.
    pub async fn cancel(&self, user: &ChatUser, id: &RequestId) -> Result<AccessRequest> {
        let policy = self.policy();
        let now = self.now();
        let person = self.requester(&policy, user).await?;
        let mut request = self.load(id).await?;
        if request.requester != person.id {
            return Err(Error::NotAuthorized(format!("request `{id}` is not yours to cancel")));
        }
        let role = match policy.role(&request.role) {
            Ok(r) => r.clone(),
            Err(_) => super::target::detached_role(&request.role, None),
        };
        let role = &role;
        let expected_version = request.version;
        let was = request.state;
        // A request still waiting for its step-up has no card to update.
        let had_card = was != RequestState::AwaitingMfa;
        request.state = transition(request.state, Action::Cancel, now)?;
        request.decided_at = Some(now);
        request.decided_by = Some(person.id.clone());
        // Before its start, an approved request has no grant row and no directory call in
        // flight (the activation sweep leaves it alone until then): nothing to withdraw.
        let before_start = was == RequestState::Approved && super::schedule::before_start(&request, now);
        if was == RequestState::Approved && !before_start {
            // An approved request keeps its activation lease: the withdrawn-grant sweep waits
            // for a worker still talking to the directory before it removes the assignment.
            request.reason = Some(CANCELLED_WHILE_GRANTING.to_owned());
        } else {
            request.next_nudge_at = None;
        }
        let mut outbox =
            if had_card { update_card(&self.channels, &policy, role, &request, now) } else { Vec::new() };
        let note = if before_start {
            " before its start; nothing was granted".to_owned()
        } else if was == RequestState::Approved {
            format!(" ({CANCELLED_WHILE_GRANTING})")
        } else {
            String::new()
        };
        outbox.extend(feed(
            &self.channels,
            id.as_str(),
            &format!("↩️ {} cancelled request {} for {}{note}", person.id, id, text::strong(&role.key)),
        ));
        let audit = vec![AuditEvent::about(
            now,
            Actor::Person(person.id.clone()),
            EventKind::RequestCancelled,
            id,
            &role.key,
            json!({"was": was.as_str(), "before_start": before_start}),
        )];
        self.commit(Commit {
            at: Some(now),
            requests: vec![Write::Update { row: request.clone(), expected_version }],
            audit,
            outbox,
            ..Commit::default()
        })
        .await
        .map_err(|e| already_changed(e, id))?;
        if was == RequestState::Approved && !before_start {
            self.work_kick.notify_one(); // a grant row written ahead may need withdrawing
        }
        Ok(request)
    }
}

/// The reason a request cancelled after its approval carries: its grant may have been made.
pub const CANCELLED_WHILE_GRANTING: &str =
    "cancelled after approval; if its grant was already made, pimbot removes it at once";

/// The refusal of a second open request for the same person and role.
fn duplicate(dup: &AccessRequest) -> Error {
    Error::policy(
        Rule::OpenRequest,
        format!(
            "you already have request `{}` for `{}` ({}); `/pim cancel {}` withdraws it",
            dup.id, dup.role, dup.state, dup.id
        ),
    )
}

/// Turns a lost compare-and-set into a message the user can act on.
pub(super) fn already_changed(err: Error, id: &RequestId) -> Error {
    match err {
        Error::Conflict(_) => {
            Error::Conflict(format!("request `{id}` was changed by someone else just now; look at it again"))
        }
        other => other,
    }
}
