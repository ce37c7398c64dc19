//! Identity use cases: `/pim link` (bind a chat account to a directory account through a
//! sign-in), `/pim whoami`, the one-time sign-in states behind every link, who a chat user is
//! once links exist, and `require_link`.
//!
//! Who is who: a `[[person]]`'s chat id names the person (an administrator's override, as
//! before); a chat account the policy does not list is the person whose `object_id` its link
//! names. With `require_link`, a person may request or approve only from a chat account with a
//! link, and where the policy names their `object_id`, the link must point to it.

use serde_json::json;

use super::AccessService;
use super::messages::direct_to;
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::error::{Error, Result};
use crate::core::identity::{
    AuthPurpose, AuthState, IdentityLink, IssuedState, LINK_TTL, MfaRequirement, SignIn, state_id,
};
use crate::core::ids::ChatUser;
use crate::core::policy::{Person, Policy};
use crate::core::ports::Commit;
use crate::core::refusal::Rule;

/// Sign-in settings (`[oidc]`), when people sign in with an OpenID provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInSettings {
    /// pimbot's public base URL (no trailing `/`); links are `<public_url>/auth/link?state=…`.
    pub public_url: String,
    /// Whether people must have linked their chat account before they request or approve.
    pub require_link: bool,
}

/// What the provider must be asked for one state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInAsk {
    /// The state.
    pub state: AuthState,
    /// For step-ups: what the sign-in must prove.
    pub mfa: Option<MfaRequirement>,
    /// The account to sign in with, when known (the person's user principal name).
    pub login_hint: Option<String>,
}

const NOT_CONFIGURED: &str = "signing in is not configured on this pimbot ([oidc]); ask your administrator";

impl AccessService {
    /// Turns on sign-ins: `/pim link`, step-ups, `require_link`.
    pub fn with_sign_in(mut self, settings: SignInSettings) -> Self {
        self.sign_in = Some(settings);
        self
    }

    /// The one-time link for a state value.
    pub(super) fn sign_in_url(&self, value: &str) -> Result<String> {
        let settings = self.sign_in.as_ref().ok_or_else(|| Error::policy(Rule::SignIn, NOT_CONFIGURED))?;
        let encoded = serde_urlencoded::to_string([("state", value)])
            .map_err(|e| Error::Internal(anyhow::anyhow!("encoding a state: {e}")))?;
        Ok(format!("{}/auth/link?{encoded}", settings.public_url))
    }

    /// `/pim link`: a private one-time link that binds `user` to the directory account that
    /// signs in with it.
    pub async fn link(&self, user: &ChatUser) -> Result<String> {
        let now = self.now();
        let issued = AuthState::issue(AuthPurpose::Link, Some(user.clone()), None, None, now, LINK_TTL);
        let url = self.sign_in_url(&issued.value)?;
        self.commit(Commit { at: Some(now), new_auth_states: vec![issued.state], ..Commit::default() })
            .await?;
        Ok(format!(
            "🔗 Open this link and sign in with your Microsoft account to link it to this {} account. \
             It works once, for {}, and only for you:\n{url}",
            user.platform,
            crate::core::duration::format_duration(LINK_TTL)
        ))
    }

    /// `/pim whoami`: who pimbot takes `user` to be, and their link.
    pub async fn whoami(&self, user: &ChatUser) -> Result<String> {
        let policy = self.policy();
        let link = self.store.identity_link(user).await?;
        let person = self.known_person(&policy, user).await?;
        let mut out =
            format!("{} {} user `{}`", crate::core::text::strong("You are"), user.platform, user.id);
        match &person {
            Some(p) => out.push_str(&format!("\n• pimbot person: `{}` ({})", p.id, p.upn)),
            None => {
                out.push_str("\n• pimbot person: none (not in the policy, and no link to a person in it)")
            }
        }
        match &link {
            Some(l) => out.push_str(&format!(
                "\n• linked to directory account `{}`{} (tenant `{}`) since {}",
                l.object_id,
                l.username.as_deref().map(|u| format!(" ({u})")).unwrap_or_default(),
                l.tenant_id,
                l.linked_at.format("%Y-%m-%d %H:%M UTC")
            )),
            None if self.sign_in.is_some() => out.push_str("\n• not linked; `/pim link` links it"),
            None => out.push_str("\n• not linked (signing in is not configured)"),
        }
        if let (Some(p), Some(l)) = (&person, &link)
            && p.object_id.as_deref().is_some_and(|o| !o.eq_ignore_ascii_case(&l.object_id))
        {
            out.push_str("\n• ⚠️ the link points to another directory account than the policy names; `/pim link` again");
        }
        Ok(out)
    }

    /// The person behind `user`: the policy's (by chat id), else the policy person whose
    /// `object_id` the chat account's link names, seen from `user`.
    pub(super) async fn known_person(&self, policy: &Policy, user: &ChatUser) -> Result<Option<Person>> {
        if let Some(person) = policy.person_by_chat(user) {
            return Ok(Some(person.clone()));
        }
        let Some(link) = self.store.identity_link(user).await? else { return Ok(None) };
        let found = policy
            .people
            .iter()
            .find(|p| p.object_id.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(&link.object_id)));
        Ok(found.map(|p| {
            let mut person = p.clone();
            match user.platform {
                crate::core::ids::Platform::Slack => person.slack = Some(user.id.clone()),
                crate::core::ids::Platform::Discord => person.discord = Some(user.id.clone()),
                // A Teams account is its directory account: the object id is already the person's.
                crate::core::ids::Platform::Teams => {}
            }
            person
        }))
    }

    /// With `require_link`, refuses a person acting from a chat account without a link (or
    /// with a link to another directory account than the policy names).
    pub(super) async fn check_linked(&self, person: &Person, user: &ChatUser) -> Result<()> {
        let Some(settings) = &self.sign_in else { return Ok(()) };
        if !settings.require_link {
            return Ok(());
        }
        let link = self.store.identity_link(user).await?;
        let ok = match (&link, person.object_id.as_deref()) {
            (None, _) => false,
            (Some(l), Some(oid)) => l.object_id.eq_ignore_ascii_case(oid),
            (Some(_), None) => true,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::NotAuthorized(format!(
                "pimbot requires a linked account: run `/pim link` and sign in with your Microsoft account{} first",
                if link.is_some() { " (your current link points to another account)" } else { "" }
            )))
        }
    }

    /// An approver behind a chat user: a person of the policy (by chat id or link), linked
    /// where `require_link` says so.
    pub(super) async fn approver(&self, policy: &Policy, user: &ChatUser) -> Result<Person> {
        let person = match self.known_person(policy, user).await? {
            Some(p) => p,
            None => return Err(self.unknown_user(policy, user)),
        };
        self.check_linked(&person, user).await?;
        Ok(person)
    }

    /// The refusal for a chat user pimbot cannot place.
    pub(super) fn unknown_user(&self, policy: &Policy, user: &ChatUser) -> Error {
        match policy.identify(user) {
            Err(Error::NotAuthorized(msg)) if self.sign_in.is_some() => Error::NotAuthorized(format!(
                "{msg}, or if you are in it, link your account with `/pim link`"
            )),
            Err(e) => e,
            Ok(_) => Error::NotAuthorized("your account is not known to pimbot".into()),
        }
    }

    /// The directory object id a sign-in by `person` must carry: the policy's, else the link
    /// of the chat account they act from.
    pub(super) async fn object_id_of(
        &self,
        person: &Person,
        user: Option<&ChatUser>,
    ) -> Result<Option<String>> {
        if let Some(oid) = person.object_id.as_deref().filter(|o| !o.trim().is_empty()) {
            return Ok(Some(oid.to_owned()));
        }
        match user {
            Some(u) => Ok(self.store.identity_link(u).await?.map(|l| l.object_id)),
            None => Ok(None),
        }
    }

    /// A state by the value in a link, if it still works.
    pub async fn sign_in_state(&self, value: &str) -> Result<AuthState> {
        let state = self.store.auth_state(&state_id(value)).await?;
        match state {
            Some(s) if s.usable_at(self.now()) => Ok(s),
            Some(_) => Err(Error::Conflict(
                "this link was already used or has expired; ask pimbot for a new one".into(),
            )),
            None => Err(Error::NotFound("this link is not one pimbot issued".into())),
        }
    }

    /// What to ask the provider for the state behind `value`.
    pub async fn sign_in_ask(&self, value: &str) -> Result<SignInAsk> {
        let state = self.sign_in_state(value).await?;
        let policy = self.policy();
        let hint = |person: &Option<Person>| person.as_ref().map(|p| p.upn.clone()).filter(|u| !u.is_empty());
        let (mfa, login_hint) = match (state.purpose, &state.request) {
            (AuthPurpose::ActivationStepUp | AuthPurpose::ApprovalStepUp, Some(id)) => {
                let request = self.load(id).await?;
                let role = policy.role(&request.role)?;
                let person = state.person.as_ref().and_then(|p| policy.person(p)).cloned();
                (
                    Some(MfaRequirement {
                        auth_context: role.auth_context.clone(),
                        max_age: role.mfa_max_age,
                    }),
                    hint(&person),
                )
            }
            _ => {
                let person = match &state.user {
                    Some(u) => self.known_person(&policy, u).await?,
                    None => None,
                };
                (None, hint(&person))
            }
        };
        Ok(SignInAsk { state, mfa, login_hint })
    }

    /// Finishes the sign-in of the state behind `value` with what the provider proved, and
    /// returns the text for the browser. The state is used up whatever the outcome.
    pub async fn complete_sign_in(&self, value: &str, sign_in: SignIn) -> Result<String> {
        let state = self.sign_in_state(value).await?;
        match state.purpose {
            AuthPurpose::Link => self.complete_link(state, sign_in).await,
            AuthPurpose::ActivationStepUp => self.complete_activation_step_up(state, sign_in).await,
            AuthPurpose::ApprovalStepUp => self.complete_approval_step_up(state, sign_in).await,
            // The web view finishes its own sign-ins (`ui::signin`), before this is reached.
            AuthPurpose::SignIn => {
                Err(Error::policy(Rule::SignIn, "this sign-in belongs to the web view; open /ui again"))
            }
        }
    }

    /// Records a sign-in that failed before it proved anything (the provider refused, the
    /// token did not verify): the state is used up and the failure audited. A requester or
    /// approver in the middle of a step-up gets a fresh link in chat.
    pub async fn fail_sign_in(&self, value: &str, why: &str) -> Result<()> {
        let state = self.sign_in_state(value).await?;
        let now = self.now();
        let mut commit =
            Commit { at: Some(now), use_auth_states: vec![state.id.clone()], ..Commit::default() };
        let detail = json!({"purpose": state.purpose.as_str(), "why": why});
        commit.audit.push(self.sign_in_event(&state, EventKind::IdentitySignInFailed, detail, now));
        if state.purpose.is_step_up() {
            self.retry_step_up(&state, why, now, &mut commit).await?;
        }
        self.commit(commit).await
    }

    /// An audit event about a state (about its request, when it has one).
    pub(super) fn sign_in_event(
        &self,
        state: &AuthState,
        kind: EventKind,
        detail: serde_json::Value,
        now: chrono::DateTime<chrono::Utc>,
    ) -> AuditEvent {
        let actor = state.person.clone().map(Actor::Person).unwrap_or(Actor::System);
        let mut detail = detail;
        if let (Some(u), Some(obj)) = (&state.user, detail.as_object_mut()) {
            obj.insert("platform".into(), json!(u.platform));
            obj.insert("chat_id".into(), json!(u.id));
        }
        AuditEvent::new(now, actor, kind, state.request.clone(), None, detail)
    }

    async fn complete_link(&self, state: AuthState, sign_in: SignIn) -> Result<String> {
        let now = self.now();
        let policy = self.policy();
        let user = state
            .user
            .clone()
            .ok_or_else(|| Error::Internal(anyhow::anyhow!("link state without a user")))?;
        let by_chat = policy.person_by_chat(&user);
        let by_oid = policy
            .people
            .iter()
            .find(|p| p.object_id.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(&sign_in.object_id)));
        let refusal = match (by_chat, by_oid) {
            (Some(p), _)
                if p.object_id.as_deref().is_some_and(|o| !o.eq_ignore_ascii_case(&sign_in.object_id)) =>
            {
                Some(format!(
                    "this {} account belongs to `{}` in the policy, whose directory account is another one; \
                     sign in as {}",
                    user.platform, p.id, p.upn
                ))
            }
            (_, Some(p)) if p.chat_id(user.platform).is_some_and(|id| id != user.id) => Some(format!(
                "that directory account is `{}` in the policy, with another {} account",
                p.id, user.platform
            )),
            _ => None,
        };
        let mut commit =
            Commit { at: Some(now), use_auth_states: vec![state.id.clone()], ..Commit::default() };
        let evidence = sign_in.evidence(None);
        if let Some(why) = refusal {
            let detail = json!({"purpose": "link", "why": why, "evidence": evidence});
            commit.audit.push(self.sign_in_event(&state, EventKind::IdentityLinkRefused, detail, now));
            self.commit(commit).await?;
            return Err(Error::NotAuthorized(why));
        }
        let link = IdentityLink {
            user: user.clone(),
            object_id: sign_in.object_id.clone(),
            tenant_id: sign_in.tenant_id.clone(),
            username: sign_in.username.clone(),
            linked_at: now,
        };
        let mut event =
            self.sign_in_event(&state, EventKind::IdentityLinked, json!({"evidence": evidence}), now);
        if let Some(p) = by_chat.or(by_oid) {
            event.actor = Actor::Person(p.id.clone());
        }
        commit.audit.push(event);
        commit.links.push(link);
        let who = sign_in.username.clone().unwrap_or_else(|| sign_in.object_id.clone());
        commit.outbox.push(direct_to(
            user.platform,
            &user.id,
            &format!("🔗 Your {} account is now linked to {who}.", user.platform),
        ));
        self.commit(commit).await?;
        Ok(format!("Your {} account is now linked to {who}. You can close this page.", user.platform))
    }

    /// Issues a step-up state for the requester of `request`.
    pub(super) async fn issue_activation_step_up(
        &self,
        user: &ChatUser,
        person: &Person,
        request: &crate::core::request::AccessRequest,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<IssuedState> {
        if self.sign_in.is_none() {
            return Err(Error::policy(
                Rule::SignIn,
                format!("`{}` requires MFA, but {NOT_CONFIGURED}", request.role),
            ));
        }
        if self.object_id_of(person, Some(user)).await?.is_none() {
            return Err(Error::NotAuthorized(format!(
                "`{}` requires a fresh MFA sign-in, and pimbot does not know your directory account yet: \
                 run `/pim link` first",
                request.role
            )));
        }
        Ok(AuthState::issue(
            AuthPurpose::ActivationStepUp,
            Some(user.clone()),
            Some(person.id.clone()),
            Some(request.id.clone()),
            now,
            crate::core::identity::STEP_UP_TTL,
        ))
    }
}
