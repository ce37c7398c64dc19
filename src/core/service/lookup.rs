//! Lookup by email (opt-in, `[directory] lookup_by_email`): a chat user not listed in the policy
//! may be matched by their chat profile email to a directory account. Such a person is
//! *transient*: remembered in memory for [`LOOKUP_TTL`], identified by their user principal
//! name, eligible only where eligibility comes from the directory (a policy `eligible` list
//! never names them), never for `critical` roles, and never an approver (approver pools are
//! policy lists, and approvers are identified through the policy only). Disabled accounts are
//! refused.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};

use super::AccessService;
use crate::core::error::{Error, Result};
use crate::core::ids::{ChatUser, PersonId, Platform};
use crate::core::policy::{Person, Policy, Role, Tier};
use crate::core::ports::{ChatIdentity, DirectoryUser};

/// How long a person found by email is reused before the chat platform and the directory are
/// asked again.
pub const LOOKUP_TTL: Duration = Duration::seconds(600);

/// Most chat users remembered at once; stale entries are dropped first, then everything.
const MAX_REMEMBERED: usize = 10_000;

/// The chat side of the lookup and what it found recently.
pub(super) struct Lookup {
    identity: Arc<dyn ChatIdentity>,
    found: Mutex<HashMap<ChatUser, (DateTime<Utc>, Person)>>,
}

impl Lookup {
    pub(super) fn new(identity: Arc<dyn ChatIdentity>) -> Self {
        Self { identity, found: Mutex::new(HashMap::new()) }
    }

    fn fresh(&self, user: &ChatUser, now: DateTime<Utc>) -> Option<Person> {
        let found = self.found.lock().unwrap_or_else(|e| e.into_inner());
        found.get(user).filter(|(at, _)| now - *at < LOOKUP_TTL).map(|(_, p)| p.clone())
    }

    fn remember(&self, user: &ChatUser, now: DateTime<Utc>, person: Person) {
        let mut found = self.found.lock().unwrap_or_else(|e| e.into_inner());
        if found.len() >= MAX_REMEMBERED {
            found.retain(|_, (at, _)| now - *at < LOOKUP_TTL);
            if found.len() >= MAX_REMEMBERED {
                found.clear();
            }
        }
        found.insert(user.clone(), (now, person));
    }

    /// The chat ids last seen for a transient person (for direct messages), at any age.
    fn chat_ids(&self, id: &PersonId) -> (Option<String>, Option<String>) {
        let found = self.found.lock().unwrap_or_else(|e| e.into_inner());
        let mut ids = (None, None);
        for (_, p) in found.values().filter(|(_, p)| &p.id == id) {
            ids.0 = ids.0.take().or_else(|| p.slack.clone());
            ids.1 = ids.1.take().or_else(|| p.discord.clone());
        }
        ids
    }
}

/// The transient person for a directory account, as seen from `user`.
pub fn transient_person(found: &DirectoryUser, user: Option<&ChatUser>) -> Person {
    let on = |platform: Platform| user.filter(|u| u.platform == platform).map(|u| u.id.clone());
    Person {
        id: PersonId(found.upn.to_lowercase()),
        upn: found.upn.clone(),
        object_id: Some(found.object_id.clone()),
        slack: on(Platform::Slack),
        discord: on(Platform::Discord),
        timezone: None,
    }
}

/// Refuses a directory account pimbot must not act for through a lookup: disabled, a
/// break-glass account, or one the policy already lists (under another chat id).
pub fn check_found(policy: &Policy, found: &DirectoryUser) -> Result<()> {
    if !found.account_enabled {
        return Err(Error::NotAuthorized(format!(
            "the directory account {} is disabled; pimbot does not act for disabled accounts",
            found.upn
        )));
    }
    let same = |upn: &str, oid: Option<&str>| {
        upn.eq_ignore_ascii_case(&found.upn) || oid.is_some_and(|o| o.eq_ignore_ascii_case(&found.object_id))
    };
    crate::core::break_glass::refuse_requests(policy, &found.upn, Some(&found.object_id))?;
    if let Some(p) = policy.people.iter().find(|p| same(&p.upn, p.object_id.as_deref())) {
        return Err(Error::NotAuthorized(format!(
            "the directory account {} is listed in the policy as `{}` with another chat account; \
             use that one or ask an administrator",
            found.upn, p.id
        )));
    }
    Ok(())
}

/// Whether `person` was found by email rather than listed in the policy.
pub fn is_transient(policy: &Policy, person: &Person) -> bool {
    policy.person(&person.id).is_none()
}

/// Refuses a person found by email for a critical role, whatever the directory says.
pub fn check_transient_role(policy: &Policy, role: &Role, person: &Person) -> Result<()> {
    if role.tier == Tier::Critical && is_transient(policy, person) {
        return Err(Error::NotAuthorized(format!(
            "`{}` is a critical role: only people listed in the policy may request it; \
             ask an administrator to add you",
            role.key
        )));
    }
    Ok(())
}

impl AccessService {
    /// Turns on lookup by email: chat users not in the policy are matched through `identity`
    /// and [`crate::core::ports::Directory::lookup_user`].
    pub fn with_identity(mut self, identity: Arc<dyn ChatIdentity>) -> Self {
        self.lookup = Some(Lookup::new(identity));
        self
    }

    /// The person behind a requesting chat user: the policy's, or with lookup by email on, a
    /// transient person for the enabled directory account matching the profile email.
    pub(super) async fn requester(&self, policy: &Policy, user: &ChatUser) -> Result<Person> {
        if let Some(person) = self.known_person(policy, user).await? {
            self.check_linked(&person, user).await?;
            return Ok(person);
        }
        let unknown = self.unknown_user(policy, user);
        let Some(lookup) = &self.lookup else { return Err(unknown) };
        let now = self.clock.now();
        if let Some(person) = lookup.fresh(user, now) {
            self.check_linked(&person, user).await?;
            return Ok(person);
        }
        let Some(email) = lookup.identity.email(user).await? else { return Err(unknown) };
        let Some(found) = self.directory.lookup_user(&email).await? else { return Err(unknown) };
        check_found(policy, &found)?;
        let person = transient_person(&found, Some(user));
        self.check_linked(&person, user).await?;
        tracing::info!(user = %user.id, person = %person.id, "chat user matched to a directory account by email");
        lookup.remember(user, now, person.clone());
        Ok(person)
    }

    /// Whom to tell about their own request: the policy's person, or a person found by email
    /// whose chat ids are still remembered. No directory call: telling someone their grant
    /// failed or their request timed out must not depend on the directory answering.
    pub(super) fn requester_to_tell(&self, policy: &Policy, id: &PersonId) -> Option<Person> {
        if let Some(person) = policy.person(id) {
            return Some(person.clone());
        }
        let (slack, discord) = self.lookup.as_ref()?.chat_ids(id);
        (slack.is_some() || discord.is_some()).then(|| Person {
            id: id.clone(),
            upn: id.to_string(),
            object_id: None,
            slack,
            discord,
            timezone: None,
        })
    }

    /// A requester by id with whether their account is enabled: the policy's person (always
    /// enabled here), else with lookup on the directory account of that user principal name.
    pub(super) async fn person_by_id(
        &self,
        policy: &Policy,
        id: &PersonId,
    ) -> Result<Option<(Person, bool)>> {
        if let Some(person) = policy.person(id) {
            return Ok(Some((person.clone(), true)));
        }
        let Some(lookup) = &self.lookup else { return Ok(None) };
        let Some(found) = self.directory.lookup_user(id.as_str()).await? else { return Ok(None) };
        let mut person = transient_person(&found, None);
        if &person.id != id {
            return Ok(None);
        }
        (person.slack, person.discord) = lookup.chat_ids(id);
        Ok(Some((person, found.account_enabled && check_found(policy, &found).is_ok())))
    }
}

#[cfg(test)]
#[path = "lookup_tests.rs"]
mod tests;
