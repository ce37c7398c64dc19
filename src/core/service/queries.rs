//! Read-only use cases behind `/pim roles` and `/pim status`, returned as neutral data; the
//! adapters (or [`render_roles`] / [`render_status`]) turn them into text.

use chrono::{DateTime, Utc};

use super::AccessService;
use crate::core::duration::format_duration;
use crate::core::error::Result;
use crate::core::ids::ChatUser;
use crate::core::policy::Role;

/// One role the caller may request, with its rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleSummary {
    /// Key.
    pub key: String,
    /// Display name.
    pub name: String,
    /// Tier.
    pub tier: String,
    /// Rules in words.
    pub rules: String,
    /// Eligibility end, if time-bound.
    pub until: Option<DateTime<Utc>>,
}

/// One line of `/pim status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusLine {
    /// Role key.
    pub role: String,
    /// What it is doing.
    pub text: String,
}

fn rules(role: &Role) -> String {
    let approval = match role.approvals_required {
        0 => "no approval".to_owned(),
        1 => "1 approval".to_owned(),
        n => format!("{n} approvals"),
    };
    let mut parts = vec![
        format!("{}–{}", format_duration(role.min_duration), format_duration(role.max_duration)),
        approval,
    ];
    if role.require_ticket {
        parts.push("ticket required".into());
    }
    if role.require_justification {
        parts.push("justification required".into());
    }
    parts.join(", ")
}

impl AccessService {
    /// The roles the caller may request now.
    pub async fn roles(&self, user: &ChatUser) -> Result<Vec<RoleSummary>> {
        let policy = self.policy();
        let now = self.now();
        let person = self.requester(&policy, user).await?;
        let mut eligible = Vec::new();
        for role in &policy.roles {
            if self.eligible(role, &person, now).await? {
                eligible.push(role);
            }
        }
        Ok(eligible
            .into_iter()
            .map(|r| RoleSummary {
                key: r.key.to_string(),
                name: r.name.clone(),
                tier: r.tier.as_str().into(),
                rules: rules(r),
                until: r
                    .eligible
                    .iter()
                    .find(|e| e.person == person.id && e.holds_at(now))
                    .and_then(|e| e.until),
            })
            .collect())
    }

    /// The caller's pending requests and active grants.
    pub async fn status(&self, user: &ChatUser) -> Result<Vec<StatusLine>> {
        let policy = self.policy();
        let now = self.now();
        let person = self.requester(&policy, user).await?;
        let mut lines = Vec::new();
        for g in self.store.open_grants_for(&person.id).await? {
            if g.granting {
                lines.push(StatusLine {
                    role: g.role.to_string(),
                    text: format!("being granted (request {})", g.request_id),
                });
                continue;
            }
            lines.push(StatusLine {
                role: g.role.to_string(),
                text: format!(
                    "active until {} ({} left)",
                    g.ends_at.format("%Y-%m-%d %H:%M UTC"),
                    format_duration((g.ends_at - now).max(chrono::Duration::zero()))
                ),
            });
        }
        for r in self.store.open_requests_for(&person.id).await? {
            if r.state == crate::core::state::RequestState::Active {
                continue;
            }
            if let Some(start) = r.starts_at.filter(|_| {
                r.state == crate::core::state::RequestState::Approved
                    && super::schedule::before_start(&r, now)
            }) {
                lines.push(StatusLine {
                    role: r.role.to_string(),
                    text: format!(
                        "scheduled: approved, starts {} and ends {} (request {}; `/pim cancel {}` withdraws it)",
                        crate::core::schedule::format_start(start),
                        crate::core::schedule::format_start(start + r.duration),
                        r.id,
                        r.id
                    ),
                });
                continue;
            }
            let needed = policy.role(&r.role).map(|role| role.approvals_required).unwrap_or(0);
            lines.push(StatusLine {
                role: r.role.to_string(),
                text: format!(
                    "request {} is {} ({}/{} approvals, {} asked{})",
                    r.id,
                    r.state,
                    r.approvals.len(),
                    needed,
                    format_duration(r.duration),
                    super::schedule::starting(&r)
                ),
            });
        }
        Ok(lines)
    }
}

/// `/pim roles` as text.
pub fn render_roles(roles: &[RoleSummary]) -> String {
    if roles.is_empty() {
        return "You are not eligible for any role. Ask your administrator.".into();
    }
    let mut out = format!("{}\n", crate::core::text::strong("Roles you can request"));
    for r in roles {
        let until = r.until.map(|u| format!(", eligible until {}", u.format("%Y-%m-%d"))).unwrap_or_default();
        out.push_str(&format!("• `{}`: {} ({}): {}{until}\n", r.key, r.name, r.tier, r.rules));
    }
    out
}

/// `/pim status` as text.
pub fn render_status(lines: &[StatusLine]) -> String {
    if lines.is_empty() {
        return "You have no pending requests and no active roles.".into();
    }
    let mut out = format!("{}\n", crate::core::text::strong("Your requests and roles"));
    for l in lines {
        out.push_str(&format!("• `{}`: {}\n", l.role, l.text));
    }
    out
}
