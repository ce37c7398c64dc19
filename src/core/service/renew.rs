//! `/pim renew`: a person asks the role's approvers to extend their time-bound eligibility; an
//! approver's click records the new end, which the eligibility check honours at once (the
//! policy file's `until` is then behind: `pimbot review changes` lists the edit). Deciding is a
//! compare-and-set from `pending`, so two approvers clicking at once decide once.

use serde_json::json;

use super::AccessService;
use super::alerts::event;
use super::messages::{Channels, direct, feed};
use crate::core::audit::{Actor, EventKind};
use crate::core::duration::format_duration;
use crate::core::error::{Error, Result};
use crate::core::ids::{ChatUser, Platform};
use crate::core::outbox::{OutgoingMessage, Target};
use crate::core::policy::{Draft, Policy};
use crate::core::ports::{Commit, GovernanceWrites, Write};
use crate::core::renewal::{EligibilityExtension, ExtensionState, check_renewal, eligibility_end};
use crate::core::view::{MessageBody, PersonRef, RenewalCardView};

fn card_key(e: &EligibilityExtension) -> String {
    format!("renewal:{}", e.id)
}

/// The renewal card of `e` for `platform` (also the card a platform answers an approver's
/// click with).
pub fn renewal_card_view(policy: &Policy, e: &EligibilityExtension, platform: Platform) -> RenewalCardView {
    let role = policy.role(&e.role).ok();
    let who = |p: &crate::core::ids::PersonId| PersonRef::of(policy, p, platform);
    RenewalCardView {
        extension_id: e.id.clone(),
        person: who(&e.person),
        role_key: e.role.to_string(),
        current_until: e.current_until,
        requested_until: e.requested_until,
        justification: e.justification.clone(),
        approvers: role
            .map(|r| r.approver_pool(&e.person, e.created_at).iter().map(&who).collect())
            .unwrap_or_default(),
        decided: e.decided_by.as_ref().map(|by| (e.state == ExtensionState::Approved, who(by))),
    }
}

fn cards(
    channels: &[Channels],
    policy: &Policy,
    e: &EligibilityExtension,
    replace: bool,
) -> Vec<OutgoingMessage> {
    channels
        .iter()
        .map(|c| {
            let view = renewal_card_view(policy, e, c.platform);
            OutgoingMessage {
                platform: c.platform,
                target: if replace {
                    Target::Replace { ref_key: card_key(e) }
                } else {
                    Target::Channel { channel: c.approver.clone() }
                },
                body: MessageBody::Renewal(Box::new(view)),
                order_key: card_key(e),
                remember_as: (!replace).then(|| card_key(e)),
            }
        })
        .collect()
}

impl AccessService {
    /// The end of `person`'s policy-held eligibility for `role`, renewals included; `None` when
    /// permanent or not held in the policy.
    pub(super) async fn eligibility_cap(
        &self,
        role: &crate::core::policy::Role,
        person: &crate::core::ids::PersonId,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
        // Only a time-bound eligibility can be moved by a renewal: a permanent one, or none,
        // needs no read (one statement less for every activation of a permanently eligible
        // person).
        if !role.eligible.iter().any(|e| &e.person == person && e.until.is_some()) {
            return Ok(eligibility_end(role, person, None, now).flatten());
        }
        let extended = self.store.extended_until(person, &role.key).await?;
        Ok(eligibility_end(role, person, extended, now).flatten())
    }

    /// Asks the approvers to extend the caller's eligibility for `draft.role` by `draft.duration`
    /// past its current end.
    pub async fn renew(&self, user: &ChatUser, draft: Draft) -> Result<String> {
        let policy = self.policy();
        let person = self.requester(&policy, user).await?;
        let role = policy.role(&draft.role)?;
        let now = self.now();
        let extended = self.store.extended_until(&person.id, &role.key).await?;
        let current = eligibility_end(role, &person.id, extended, now);
        check_renewal(current, draft.duration, &role.key)?;
        if draft.justification.trim().is_empty() {
            return Err(Error::policy(
                crate::core::refusal::Rule::JustificationRequired,
                "a renewal needs a justification",
            ));
        }
        let current_until = current.flatten();
        let from = current_until.unwrap_or(now).max(now);
        let e = EligibilityExtension {
            id: format!("e-{}", crate::core::ids::RequestId::generate().as_str().trim_start_matches("r-")),
            person: person.id.clone(),
            role: role.key.clone(),
            current_until,
            requested_until: from + draft.duration,
            justification: draft.justification.clone(),
            state: ExtensionState::Pending,
            decided_by: None,
            decided_at: None,
            created_at: now,
            version: 1,
        };
        let detail = json!({"extension": e.id, "current_until": e.current_until, "requested_until": e.requested_until, "justification": e.justification});
        let audit = vec![event(
            now,
            Actor::Person(person.id.clone()),
            EventKind::EligibilityRenewalRequested,
            Some(&role.key),
            detail,
        )];
        let outbox = cards(&self.channels, &policy, &e, false);
        let governance =
            GovernanceWrites { extensions: vec![Write::Insert(e.clone())], ..GovernanceWrites::default() };
        self.commit(Commit { at: Some(now), audit, outbox, governance, ..Commit::default() }).await.map_err(
            |err| match err {
                Error::Conflict(_) => Error::Conflict(format!(
                    "you already asked to renew `{}`; wait for the approvers",
                    role.key
                )),
                other => other,
            },
        )?;
        Ok(format!(
            "📝 Renewal `{}`: asked the approvers to keep you eligible for `{}` until {} (+{}).",
            e.id,
            role.key,
            e.requested_until.format("%Y-%m-%d %H:%M UTC"),
            format_duration(draft.duration)
        ))
    }

    /// An approver approves or denies a renewal.
    pub async fn decide_renewal(
        &self,
        user: &ChatUser,
        id: &str,
        approve: bool,
    ) -> Result<EligibilityExtension> {
        let policy = self.policy();
        let approver = super::whois(&policy, user)?;
        let now = self.now();
        let mut e = self
            .store
            .extension(id)
            .await?
            .ok_or_else(|| Error::NotFound(format!("there is no renewal `{id}`")))?;
        let role = policy.role(&e.role)?;
        role.check_approver(&approver.id, &e.person, now)?;
        if e.state != ExtensionState::Pending {
            let by = e.decided_by.as_ref().map_or("someone".to_owned(), |p| p.to_string());
            return Err(Error::Conflict(format!("renewal `{id}` was already {} by {by}", e.state.as_str())));
        }
        let expected_version = e.version;
        e.state = if approve { ExtensionState::Approved } else { ExtensionState::Denied };
        e.decided_by = Some(approver.id.clone());
        e.decided_at = Some(now);
        let kind = if approve { EventKind::EligibilityRenewed } else { EventKind::EligibilityRenewalDenied };
        let detail = json!({"extension": e.id, "person": e.person, "until": e.requested_until});
        let audit = vec![event(now, Actor::Person(approver.id.clone()), kind, Some(&e.role), detail)];
        let text = if approve {
            format!(
                "🔁 {} renewed {}'s eligibility for `{}` until {}",
                approver.id,
                e.person,
                e.role,
                e.requested_until.format("%Y-%m-%d %H:%M UTC")
            )
        } else {
            format!("🚫 {} denied {}'s renewal of `{}`", approver.id, e.person, e.role)
        };
        let mut outbox = cards(&self.channels, &policy, &e, true);
        outbox.extend(feed(&self.channels, &card_key(&e), &text));
        if let Some(person) = policy.person(&e.person) {
            outbox.extend(direct(&self.channels, person, &card_key(&e), &text));
        }
        let governance = GovernanceWrites {
            extensions: vec![Write::Update { row: e.clone(), expected_version }],
            ..GovernanceWrites::default()
        };
        self.commit(Commit { at: Some(now), audit, outbox, governance, ..Commit::default() }).await?;
        Ok(e)
    }
}
