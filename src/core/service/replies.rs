//! Runs a parsed `/pim` command and words the answer, once for every platform: adapters only
//! parse their payload into a [`Command`] and deliver the [`Reply`] their way.

use super::queries::{render_roles, render_status};
use super::{AccessService, Submitted};
use crate::core::command::Command;
use crate::core::duration::format_duration;
use crate::core::error::Result;
use crate::core::help::{self, Dialect};
use crate::core::ids::ChatUser;

/// What a command answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// A private text reply.
    Text(String),
    /// Open the activate form listing these `(key, name)` roles (platforms without forms
    /// answer with the help text instead).
    ActivateForm(Vec<(String, String)>),
}

impl AccessService {
    /// Runs `command` for `user`.
    pub async fn run_command(&self, user: &ChatUser, command: Command) -> Result<Reply> {
        let text = match command {
            Command::Help => help::text(Dialect::of(user.platform)),
            Command::ActivateForm => {
                let roles = self.roles(user).await?;
                return Ok(Reply::ActivateForm(roles.into_iter().map(|r| (r.key, r.name)).collect()));
            }
            Command::Activate(draft) => {
                let role = draft.role.clone();
                submitted_text(&self.refusal_recorded(user, &role, self.submit(user, draft).await).await?)
            }
            Command::Extend(draft) => {
                let role = draft.role.clone();
                submitted_text(&self.refusal_recorded(user, &role, self.extend(user, draft).await).await?)
            }
            Command::Roles => render_roles(&self.roles(user).await?),
            Command::Status => render_status(&self.status(user).await?),
            Command::Deactivate(role) => {
                format!("🔒 Your `{}` is deactivated.", self.deactivate(user, &role).await?.role)
            }
            Command::Reviews => super::render_reviews(&self.my_reviews(user).await?),
            Command::Posture => crate::core::posture::render_text(&self.posture_for(user).await?),
            Command::Renew(draft) => self.renew(user, draft).await?,
            Command::Cancel(id) => {
                let cancelled = self.cancel(user, &id).await?;
                match cancelled.reason {
                    Some(note) => format!("↩️ Request `{}` is {note}.", cancelled.id),
                    None => format!("↩️ Request `{}` is cancelled.", cancelled.id),
                }
            }
            Command::Revoke { person, role, reason } => {
                let by = super::Revoker::Chat(user.clone());
                revoked_text(&self.revoke(&by, &person, &role, &reason).await?)
            }
            Command::Link => self.link(user).await?,
            Command::Whoami => self.whoami(user).await?,
        };
        Ok(Reply::Text(text))
    }

    /// Passes `result` through, recording a policy refusal (not eligible, rules broken) for
    /// the refusal-burst alert.
    async fn refusal_recorded<T>(
        &self,
        user: &ChatUser,
        role: &crate::core::ids::RoleKey,
        result: Result<T>,
    ) -> Result<T> {
        if let Err(e @ (crate::core::Error::NotAuthorized(_) | crate::core::Error::PolicyViolation(_))) =
            &result
        {
            self.record_refusal(user, role, e).await;
        }
        result
    }
}

/// The reply to a successful revocation.
pub fn revoked_text(r: &super::Revoked) -> String {
    if r.while_granting {
        format!(
            "🔒 {}'s `{}` was still being granted: its request is revoked, and whatever the directory made is removed as soon as it answers.",
            r.person, r.role
        )
    } else {
        format!("🔒 {}'s `{}` is revoked and removed from the directory.", r.person, r.role)
    }
}

/// The reply to a successful activate or extend.
pub fn submitted_text(s: &Submitted) -> String {
    let r = &s.request;
    let what = if s.extends { "Extension" } else { "Request" };
    if let Some(link) = &s.step_up {
        return format!(
            "🔐 {what} `{}` for `{}` ({}) needs a fresh MFA sign-in before {}. Open this link and sign in; it \
             works once, for {}, and only for you:\n{link}",
            r.id,
            r.role,
            format_duration(r.duration),
            if s.needs_approval { "approvers see it" } else { "it is activated" },
            format_duration(crate::core::identity::STEP_UP_TTL)
        );
    }
    let starting = super::schedule::starting(r);
    let next = match r.starts_at {
        Some(_) => format!("it{starting}; `/pim cancel {}` until then withdraws it", r.id),
        None => "activating now".to_owned(),
    };
    if s.needs_approval && r.state == crate::core::state::RequestState::Approved {
        let by = r.approvals.last().map_or_else(|| "on call".to_owned(), |a| a.approver.to_string());
        format!(
            "📟 {what} `{}` for `{}` ({}) was approved automatically ({by}); the feed says so. {next}.",
            r.id,
            r.role,
            format_duration(r.duration)
        )
    } else if s.needs_approval {
        format!(
            "📝 {what} `{}` for `{}` ({}{starting}) is waiting for approval. `/pim status` shows progress; `/pim cancel {}` withdraws it.",
            r.id,
            r.role,
            format_duration(r.duration),
            r.id
        )
    } else {
        format!("⚡ {what} `{}` for `{}` needs no approval; {next}.", r.id, r.role)
    }
}
