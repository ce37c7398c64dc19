//! The kill switch: a revoker (`[security] revokers`) or an operator at the command line ends
//! someone's grant now, and the eligibility sweep ends the grants of people who are no longer
//! eligible for their role (policy reload, PIM eligibility removed).
//!
//! Both go through the one ending path (`grant::prepare_end`): the directory first, then the
//! record, the `grant.revoked` audit event with who and why, the feed and the holder.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::Duration;
use serde_json::json;

use super::grant::Ending;
use super::{AccessService, whois};
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::error::{Error, Result};
use crate::core::ids::{ChatUser, PersonId, RoleKey};
use crate::core::policy::Policy;
use crate::core::ports::{Commit, Write};
use crate::core::request::{EndReason, Grant};
use crate::core::state::{Action, transition};

/// How often open grants are checked against their holder's eligibility.
pub const ELIGIBILITY_SWEEP_EVERY: Duration = Duration::seconds(30);
/// Open grants checked per eligibility sweep at most.
const MAX_CHECKED: i64 = 10_000;
/// The reason recorded when eligibility is gone.
pub const NO_LONGER_ELIGIBLE: &str = "no longer eligible";

/// Who asks for a revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoker {
    /// A chat user; must be in `[security] revokers`.
    Chat(ChatUser),
    /// `pimbot revoke` at the command line: whoever can run it holds the config and the
    /// database already. `os_user` is recorded.
    Operator {
        /// The operating-system account that ran the command.
        os_user: String,
    },
}

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    /// The holder.
    pub person: PersonId,
    /// The role.
    pub role: RoleKey,
    /// Whether the grant was still being made (its request is revoked and whatever the
    /// directory made is removed as soon as it answers).
    pub while_granting: bool,
}

/// When the eligibility sweep last ran (Unix milliseconds of pimbot's clock), per replica, and
/// a lock that lets one sweep run at a time: a caller arriving while a sweep runs waits for it
/// and then sees its result, instead of returning before that sweep has ended anything.
#[derive(Debug, Default)]
pub(super) struct EligibilityClock(AtomicI64, tokio::sync::Mutex<()>);

impl AccessService {
    /// Ends `who`'s grant of `role` now. `who` is a policy id, a UPN or a chat mention.
    pub async fn revoke(&self, by: &Revoker, who: &str, role: &RoleKey, reason: &str) -> Result<Revoked> {
        let policy = self.policy();
        let now = self.now();
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(Error::BadInput("say why: `/pim revoke <person> <role> <reason>`".into()));
        }
        let actor = match by {
            Revoker::Chat(user) => {
                let person = whois(&policy, user)?;
                if !policy.revokers.contains(&person.id) {
                    return Err(Error::NotAuthorized(
                        "you may not revoke grants; `[security] revokers` lists who may".into(),
                    ));
                }
                Actor::Person(person.id.clone())
            }
            Revoker::Operator { .. } => Actor::System,
        };
        let via = match by {
            Revoker::Chat(user) => json!({"via": user.platform.as_str()}),
            Revoker::Operator { os_user } => json!({"via": "cli", "os_user": os_user}),
        };
        let holder = resolve_person(&policy, who);
        let Some(grant) = self.store.open_grant(&holder, role).await? else {
            return Err(Error::NotFound(format!("{holder} holds no active `{role}`")));
        };
        if grant.granting {
            self.revoke_in_flight(&grant, actor, reason, via).await?;
            return Ok(Revoked { person: holder, role: role.clone(), while_granting: true });
        }
        let (role_now, person) = self.end_parts(&policy, &grant).await;
        let mut ending = Ending::plain(EndReason::Revoked, actor);
        ending.note = Some(reason.to_owned());
        ending.detail = via;
        self.end(&role_now, &person, grant, ending, now).await?;
        Ok(Revoked { person: holder, role: role.clone(), while_granting: false })
    }

    /// Revokes the approved request behind a grant still being made: its worker's record then
    /// loses the race and removes the assignment at once (or the withdrawn-grant sweep does).
    async fn revoke_in_flight(
        &self,
        grant: &Grant,
        actor: Actor,
        reason: &str,
        via: serde_json::Value,
    ) -> Result<()> {
        let now = self.now();
        let mut request = self.load(&grant.request_id).await?;
        let expected_version = request.version;
        request.state = transition(request.state, Action::Revoke, now)?;
        request.reason = Some(reason.to_owned());
        let mut detail = json!({"grant_id": grant.id, "reason": reason, "while_granting": true});
        if let (Some(map), Some(extra)) = (detail.as_object_mut(), via.as_object()) {
            map.extend(extra.clone());
        }
        let text = format!(
            "🔒 {}'s {} was revoked by {} while it was being granted: {reason}",
            grant.person,
            crate::core::text::strong(&grant.role),
            actor.label()
        );
        self.commit(Commit {
            at: Some(now),
            requests: vec![Write::Update { row: request, expected_version }],
            audit: vec![AuditEvent::about(
                now,
                actor,
                EventKind::GrantRevoked,
                &grant.request_id,
                &grant.role,
                detail,
            )],
            outbox: super::messages::feed(&self.channels, grant.request_id.as_str(), &text),
            ..Commit::default()
        })
        .await?;
        self.work_kick.notify_one();
        Ok(())
    }

    /// Makes the next eligibility sweep run at once (after a policy reload).
    pub fn recheck_eligibility_now(&self) {
        self.eligibility_checked.0.store(i64::MIN, Ordering::SeqCst);
    }

    /// Ends open grants whose holder is no longer eligible for the role ("no longer eligible"),
    /// at most every [`ELIGIBILITY_SWEEP_EVERY`] (PIM eligibility costs a directory call per
    /// holder; answers are cached). A role no longer in the policy is left to end on time; a
    /// holder whose eligibility cannot be read now is checked again next time.
    pub async fn revoke_ineligible(&self) -> Result<usize> {
        let _one_at_a_time = self.eligibility_checked.1.lock().await;
        let now = self.now();
        let last = self.eligibility_checked.0.load(Ordering::SeqCst);
        if last != i64::MIN && now.timestamp_millis() - last < ELIGIBILITY_SWEEP_EVERY.num_milliseconds() {
            return Ok(0);
        }
        self.eligibility_checked.0.store(now.timestamp_millis(), Ordering::SeqCst);
        let policy = self.policy();
        let mut ended = 0;
        for grant in self.store.open_grants(MAX_CHECKED).await? {
            if !grant.is_active() {
                continue;
            }
            let Ok(role) = policy.role(&grant.role).cloned() else { continue };
            if self.still_eligible(&policy, &role, &grant).await {
                continue;
            }
            let (role, person) = self.end_parts(&policy, &grant).await;
            let mut ending = Ending::plain(EndReason::Revoked, Actor::System);
            ending.note = Some(NO_LONGER_ELIGIBLE.to_owned());
            match self.end(&role, &person, grant.clone(), ending, self.now()).await {
                Ok(_) => ended += 1,
                Err(Error::Conflict(_)) => {}
                Err(e) => {
                    tracing::error!(grant = %grant.id, error = %format!("{e:#}"), "revoking an ineligible grant failed; will retry");
                    self.end_failed(&grant, &e, self.now()).await;
                }
            }
        }
        Ok(ended)
    }

    async fn still_eligible(&self, policy: &Policy, role: &crate::core::policy::Role, grant: &Grant) -> bool {
        let now = self.now();
        match self.person_by_id(policy, &grant.person).await {
            Ok(Some((person, true))) => match self.eligible(role, &person, now).await {
                Ok(eligible) => eligible,
                Err(e) => {
                    tracing::warn!(grant = %grant.id, error = %format!("{e:#}"), "eligibility unreadable; checked again next sweep");
                    true
                }
            },
            // Gone from the policy, or (found by email) disabled or no longer found.
            Ok(_) => false,
            Err(e) => {
                tracing::warn!(grant = %grant.id, error = %format!("{e:#}"), "holder unreadable; checked again next sweep");
                true
            }
        }
    }
}

/// The person id `who` names: a policy id, a UPN, or a Slack/Discord mention of someone in the
/// policy; otherwise `who` itself, lower-cased (people found by email are stored by UPN).
pub fn resolve_person(policy: &Policy, who: &str) -> PersonId {
    let who = who.trim();
    let mention = who
        .strip_prefix("<@")
        .and_then(|s| s.strip_suffix('>'))
        .map(|s| s.trim_start_matches('!'))
        .map(|s| s.split('|').next().unwrap_or(s));
    let found = policy.people.iter().find(|p| {
        p.id.as_str() == who
            || (!p.upn.is_empty() && p.upn.eq_ignore_ascii_case(who))
            || mention.is_some_and(|m| p.slack.as_deref() == Some(m) || p.discord.as_deref() == Some(m))
    });
    match found {
        Some(p) => p.id.clone(),
        None => PersonId(who.to_lowercase()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::Person;

    #[test]
    fn people_are_named_by_id_upn_or_mention() {
        let policy = Policy {
            people: vec![Person {
                id: "alice".into(),
                upn: "Alice@Contoso.com".into(),
                object_id: None,
                slack: Some("U0ALICE".into()),
                discord: Some("111".into()),
                timezone: None,
            }],
            ..Policy::default()
        };
        for who in ["alice", " alice@contoso.com", "<@U0ALICE>", "<@U0ALICE|alice>", "<@!111>", "<@111>"] {
            assert_eq!(resolve_person(&policy, who), PersonId::from("alice"), "{who}");
        }
        assert_eq!(resolve_person(&policy, "Dave@Contoso.com"), PersonId::from("dave@contoso.com"));
    }
}
