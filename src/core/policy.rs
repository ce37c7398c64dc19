//! The policy model (people, roles, approver pools, break-glass accounts) and the rules that
//! decide who may request and who may approve. Loading from TOML lives in `policy_file`; this
//! module holds only resolved data and pure checks.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::duration::format_duration;
use super::error::{Error, Result};
use super::ids::{ChatUser, PersonId, Platform, RoleKey};
use super::refusal::Rule;

/// A role's blast radius; policy defaults come from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Tenant-wide control (Global Administrator and the like).
    Critical,
    /// Broad but bounded power.
    High,
    /// Everyday elevated access.
    Standard,
}

impl Tier {
    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Critical => "critical",
            Tier::High => "high",
            Tier::Standard => "standard",
        }
    }
}

/// What kind of thing a role grants in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RoleKind {
    /// An Entra directory role.
    EntraRole,
    /// An Azure resource role at a scope.
    AzureRole,
    /// Membership of a group (PIM for Groups).
    Group,
}

impl RoleKind {
    /// The kebab-case name used in config.
    pub fn as_str(self) -> &'static str {
        match self {
            RoleKind::EntraRole => "entra-role",
            RoleKind::AzureRole => "azure-role",
            RoleKind::Group => "group",
        }
    }

    /// Parses the name written by [`RoleKind::as_str`].
    pub fn parse(s: &str) -> Option<Self> {
        [RoleKind::EntraRole, RoleKind::AzureRole, RoleKind::Group].into_iter().find(|k| k.as_str() == s)
    }
}

/// A human known to pimbot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    /// Policy id (`alice`).
    pub id: PersonId,
    /// User principal name.
    pub upn: String,
    /// Directory object id, when known.
    pub object_id: Option<String>,
    /// Slack user id.
    pub slack: Option<String>,
    /// Discord user id.
    pub discord: Option<String>,
    /// IANA time zone (`Europe/Berlin`) that `at 22:00` starts are read in; `None` = the
    /// server's.
    pub timezone: Option<String>,
}

impl Person {
    /// This person's id on a platform, if they have one there.
    pub fn chat_id(&self, platform: Platform) -> Option<&str> {
        match platform {
            Platform::Slack => self.slack.as_deref(),
            Platform::Discord => self.discord.as_deref(),
            // Teams names people by their Entra object id (`from.aadObjectId`): no chat id to keep.
            Platform::Teams => self.object_id.as_deref(),
        }
    }
}

/// A person's standing right to request a role, permanent or until a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Eligibility {
    /// Who.
    pub person: PersonId,
    /// Exclusive end of the right; `None` is permanent.
    pub until: Option<DateTime<Utc>>,
}

impl Eligibility {
    /// Whether the right holds at `now`.
    pub fn holds_at(&self, now: DateTime<Utc>) -> bool {
        self.until.is_none_or(|until| now < until)
    }
}

/// A role one can be elevated to, with its rules resolved (groups expanded, tier defaults applied).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    /// Key used in commands.
    pub key: RoleKey,
    /// Display name.
    pub name: String,
    /// Directory kind.
    pub kind: RoleKind,
    /// Role definition / group id in the directory.
    pub directory_id: String,
    /// Scope (`/` for tenant-wide).
    pub scope: String,
    /// Blast radius.
    pub tier: Tier,
    /// Shortest activation allowed.
    pub min_duration: Duration,
    /// Longest activation allowed (ceiling for extensions too).
    pub max_duration: Duration,
    /// Whether a justification is required.
    pub require_justification: bool,
    /// Whether a ticket reference is required.
    pub require_ticket: bool,
    /// Distinct approvals needed; 0 = no approval.
    pub approvals_required: u32,
    /// The approver pool as configured (groups expanded).
    pub approvers: Vec<PersonId>,
    /// Whether people eligible for the role are barred from approving it.
    pub disjoint_approvers: bool,
    /// Remind approvers this long after the card is posted, escalate after another.
    pub sla: Duration,
    /// Who is told when approvers miss the SLA twice.
    pub escalate_to: Vec<PersonId>,
    /// A pending request times out after this long (at most 24 h).
    pub request_ttl: Duration,
    /// Early deactivation is refused this soon after activation.
    pub min_hold: Duration,
    /// Who may request it.
    pub eligible: Vec<Eligibility>,
    /// The role's owners (`reviewer = "owner"` in access reviews).
    pub owners: Vec<PersonId>,
    /// Alert thresholds (the role's keys over its tier's defaults).
    pub alerts: super::alerts::RoleAlerts,
    /// How long before a time-bound eligibility ends the person and the approvers are warned.
    pub warn_before: Duration,
    /// Whether a new request waits (`awaiting_mfa`) for the requester's fresh MFA sign-in
    /// before approvers see it or the grant is made.
    pub require_mfa: bool,
    /// Whether each approval counts only once the approver's fresh MFA arrives.
    pub approver_mfa: bool,
    /// How old the MFA behind a step-up may be (`now - auth_time`).
    pub mfa_max_age: Duration,
    /// The Conditional Access authentication context (`c1`) a step-up token must carry in
    /// `acrs`; without one, `amr` must contain `mfa`.
    pub auth_context: Option<String>,
    /// How far ahead a scheduled start may be (`max_start_ahead`, default 7 days).
    pub max_start_ahead: Duration,
    /// On-call auto-approval, when configured.
    pub oncall: Option<super::oncall::OnCallRule>,
}

/// Default `warn_before`: time-bound eligibility is announced a week before it ends.
pub const DEFAULT_WARN_BEFORE: Duration = Duration::days(7);

/// Default commands one chat user may send per minute (`[limits] commands_per_minute`).
pub const DEFAULT_COMMANDS_PER_MINUTE: u32 = 10;

/// Ceiling for `request_ttl`, whatever the policy says.
pub const MAX_REQUEST_TTL: Duration = Duration::hours(24);

/// A validated draft of an activation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Draft {
    /// Role key as typed.
    pub role: RoleKey,
    /// Requested duration.
    pub duration: Duration,
    /// Ticket reference without the leading `#`.
    pub ticket: Option<String>,
    /// Free-text justification.
    pub justification: String,
    /// When the grant should start (`at 22:00`, `in 2h`); `None` = as soon as approved.
    pub start: Option<super::schedule::StartSpec>,
}

impl Role {
    /// Whether `person` may request this role at `now`.
    pub fn is_eligible(&self, person: &PersonId, now: DateTime<Utc>) -> bool {
        self.eligible.iter().any(|e| &e.person == person && e.holds_at(now))
    }

    /// Checks a draft against the role's rules for `requester` at `now`.
    pub fn check_draft(&self, requester: &PersonId, draft: &Draft, now: DateTime<Utc>) -> Result<()> {
        if !self.is_eligible(requester, now) {
            return Err(self.not_eligible());
        }
        self.check_rules(draft)
    }

    /// The refusal for a requester who is not eligible.
    pub fn not_eligible(&self) -> Error {
        Error::NotAuthorized(format!(
            "you are not eligible for `{}`; `/pim roles` lists what you can request",
            self.key
        ))
    }

    /// Checks a draft against the role's rules (duration, justification, ticket), eligibility
    /// aside.
    pub fn check_rules(&self, draft: &Draft) -> Result<()> {
        self.check_duration(draft.duration)?;
        if self.require_justification && draft.justification.trim().is_empty() {
            return Err(Error::policy(
                Rule::JustificationRequired,
                format!("`{}` needs a justification", self.key),
            ));
        }
        if self.require_ticket && draft.ticket.as_deref().is_none_or(|t| t.trim().is_empty()) {
            return Err(Error::policy(
                Rule::TicketRequired,
                format!("`{}` needs a ticket: add `#INC-1234` before the justification", self.key),
            ));
        }
        Ok(())
    }

    /// Checks a duration against `min_duration..=max_duration`.
    pub fn check_duration(&self, duration: Duration) -> Result<()> {
        if duration < self.min_duration || duration > self.max_duration {
            return Err(Error::policy(
                Rule::DurationBounds,
                format!(
                    "`{}` can be activated for {} to {}; you asked for {}",
                    self.key,
                    format_duration(self.min_duration),
                    format_duration(self.max_duration),
                    format_duration(duration)
                ),
            ));
        }
        Ok(())
    }

    /// Whether the role needs approval at all.
    pub fn needs_approval(&self) -> bool {
        self.approvals_required > 0
    }

    /// The people who may approve a request by `requester` at `now`: the pool without the
    /// requester and, with `disjoint_approvers`, without anyone eligible for the role.
    pub fn approver_pool(&self, requester: &PersonId, now: DateTime<Utc>) -> Vec<PersonId> {
        self.approvers
            .iter()
            .filter(|p| *p != requester)
            .filter(|p| !(self.disjoint_approvers && self.is_eligible(p, now)))
            .cloned()
            .collect()
    }

    /// Separation of duties: may `approver` decide a request by `requester` at `now`?
    pub fn check_approver(
        &self,
        approver: &PersonId,
        requester: &PersonId,
        now: DateTime<Utc>,
    ) -> Result<()> {
        if approver == requester {
            return Err(Error::NotAuthorized("you cannot approve or deny your own request".into()));
        }
        if !self.approvers.contains(approver) {
            return Err(Error::NotAuthorized(format!("you are not an approver for `{}`", self.key)));
        }
        if self.disjoint_approvers && self.is_eligible(approver, now) {
            return Err(Error::NotAuthorized(format!(
                "you are eligible for `{}` yourself, and this role requires approvers who are not",
                self.key
            )));
        }
        Ok(())
    }
}

/// An emergency account kept outside the workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BreakGlass {
    /// User principal name.
    pub upn: String,
    /// Directory object id.
    pub object_id: Option<String>,
}

/// The whole resolved policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Known people.
    pub people: Vec<Person>,
    /// Requestable roles.
    pub roles: Vec<Role>,
    /// Emergency accounts.
    pub break_glass: Vec<BreakGlass>,
    /// Access reviews (`[[review]]`).
    pub reviews: Vec<super::reviews::Review>,
    /// Policy-wide alert settings (`[alerts]`).
    pub alert_settings: super::alerts::AlertSettings,
    /// Who may end anyone's grant (`[security] revokers`, groups expanded).
    pub revokers: Vec<PersonId>,
    /// Longest justification or reason a person may type, in characters
    /// (`[limits] max_justification`); longer ones are refused when submitted.
    pub max_justification: usize,
    /// Commands one chat user may send per minute (`[limits] commands_per_minute`); read
    /// when the server starts.
    pub commands_per_minute: u32,
    /// Who may acknowledge a break-glass alarm (`[break_glass_monitor] acknowledgers`; by
    /// default the approvers of the most critical roles).
    pub acknowledgers: Vec<PersonId>,
    /// Who may sign in to the web view (`[ui] viewers`, groups expanded).
    pub viewers: Vec<PersonId>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            people: Vec::new(),
            roles: Vec::new(),
            break_glass: Vec::new(),
            revokers: Vec::new(),
            max_justification: super::text::DEFAULT_MAX_JUSTIFICATION,
            commands_per_minute: DEFAULT_COMMANDS_PER_MINUTE,
            acknowledgers: Vec::new(),
            reviews: Vec::new(),
            alert_settings: super::alerts::AlertSettings::default(),
            viewers: Vec::new(),
        }
    }
}

impl Policy {
    /// A person by policy id.
    pub fn person(&self, id: &PersonId) -> Option<&Person> {
        self.people.iter().find(|p| &p.id == id)
    }

    /// The person behind a chat identity.
    pub fn person_by_chat(&self, user: &ChatUser) -> Option<&Person> {
        self.people.iter().find(|p| match (user.platform, p.chat_id(user.platform)) {
            // Object ids are GUIDs; the policy may spell them in either case.
            (Platform::Teams, Some(id)) => id.eq_ignore_ascii_case(&user.id),
            (_, id) => id == Some(user.id.as_str()),
        })
    }

    /// Resolves a chat identity, refusing strangers with a clear message.
    pub fn identify(&self, user: &ChatUser) -> Result<&Person> {
        self.person_by_chat(user).ok_or_else(|| {
            Error::NotAuthorized(format!(
                "your {} account is not known to pimbot; ask an administrator to add it to the policy",
                user.platform
            ))
        })
    }

    /// A role by key, refusing unknown keys with the list of known ones.
    pub fn role(&self, key: &RoleKey) -> Result<&Role> {
        self.roles.iter().find(|r| &r.key == key).ok_or_else(|| {
            Error::NotFound(format!("there is no role `{key}`; `/pim roles` lists the roles you can request"))
        })
    }

    /// The roles `person` may request at `now`.
    pub fn eligible_roles(&self, person: &PersonId, now: DateTime<Utc>) -> Vec<&Role> {
        self.roles.iter().filter(|r| r.is_eligible(person, now)).collect()
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
