//! The policy tables of the config file: `[[person]]`, `[[group]]`, `[[role]]` and
//! `[[break_glass]]`. Parsing only, like `config::file`, which re-exports every type here; tier
//! defaults and cross-field rules are `config::tier` and `config::validate`.

use chrono::Duration;
use serde::Deserialize;

use super::eligible::EligibleEntry;
use super::file::opt_human_duration;
use crate::core::policy::{RoleKind, Tier};

/// `[[person]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    /// Policy id used in `approvers`, `eligible`, `members` (`alice`).
    pub id: String,
    /// User principal name (`alice@contoso.com`).
    #[serde(default)]
    pub upn: Option<String>,
    /// Directory object id.
    #[serde(default)]
    pub object_id: Option<String>,
    /// Slack user id (`U0ALICE`).
    #[serde(default)]
    pub slack: Option<String>,
    /// Discord user id (snowflake).
    #[serde(default)]
    pub discord: Option<String>,
    /// IANA time zone (`Europe/Berlin`) that this person's `at 22:00` starts are read in;
    /// default: the server's.
    #[serde(default)]
    pub timezone: Option<String>,
}

/// `[[group]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Name, referenced elsewhere as `@name`.
    pub name: String,
    /// Person ids (or `@other-group`).
    #[serde(default)]
    pub members: Vec<String>,
}

/// `[[role]]`. Keys left out take the tier's default (see `config::tier`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// Key used in commands: lowercase letters, digits and `-` (`global-admin`).
    pub key: String,
    /// Display name; defaults to the key.
    #[serde(default)]
    pub name: Option<String>,
    /// `entra-role`, `azure-role` or `group`.
    pub kind: RoleKind,
    /// Role definition id / group id / Azure role definition in the directory (required with
    /// directory kind `graph`).
    #[serde(default)]
    pub directory_id: Option<String>,
    /// Scope of the assignment; default `/` (tenant-wide).
    #[serde(default = "default_scope")]
    pub scope: String,
    /// `critical`, `high` or `standard`: decides the defaults below.
    pub tier: Tier,
    /// Shortest activation.
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub min_duration: Option<Duration>,
    /// Longest activation (also the ceiling for extensions).
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub max_duration: Option<Duration>,
    /// Whether a justification is required.
    #[serde(default)]
    pub require_justification: Option<bool>,
    /// Whether a ticket reference is required.
    #[serde(default)]
    pub require_ticket: Option<bool>,
    /// Distinct approvals needed; 0 = no approval.
    #[serde(default)]
    pub approvals_required: Option<u32>,
    /// Approver pool: person ids or `@group`.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// Whether people eligible for the role are barred from approving it.
    #[serde(default)]
    pub disjoint_approvers: Option<bool>,
    /// Remind approvers after this long, escalate after another.
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub sla: Option<Duration>,
    /// Told when approvers miss the SLA twice: person ids or `@group`.
    #[serde(default)]
    pub escalate_to: Vec<String>,
    /// A pending request times out after this long (at most 24h).
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub request_ttl: Option<Duration>,
    /// Early deactivation is refused this soon after activation.
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub min_hold: Option<Duration>,
    /// Who may request: person ids, `@group`, or `{ who = "erin", until = "2027-01-31" }`.
    #[serde(default)]
    pub eligible: Vec<EligibleEntry>,
    /// Whether a request waits for the requester's fresh MFA (a sign-in through `[oidc]`)
    /// before approvers see it (default: true for `critical` and `high`).
    #[serde(default)]
    pub require_mfa: Option<bool>,
    /// Whether each approval needs the approver's fresh MFA (default: true for `critical`).
    #[serde(default)]
    pub approver_mfa: Option<bool>,
    /// How old the MFA behind a step-up may be (default 5m).
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub mfa_max_age: Option<Duration>,
    /// Conditional Access authentication context (`c1`) a step-up must satisfy; default
    /// `[oidc] default_auth_context`.
    #[serde(default)]
    pub auth_context: Option<String>,
    /// The role's owners (person ids or `@group`): reviewers with `reviewer = "owner"`.
    #[serde(default)]
    pub owners: Vec<String>,
    /// Alert when more people than this are eligible (tier default: critical 5, high 10).
    #[serde(default)]
    pub max_eligible: Option<u32>,
    /// Alert when more grants than this are active at once (tier default: critical 2, high 5).
    #[serde(default)]
    pub max_active: Option<u32>,
    /// Alert when one person activates more often than this in 30 days (tier default:
    /// critical 10, high 20).
    #[serde(default)]
    pub max_activations: Option<u32>,
    /// Alert on activations outside these hours, like "Mon-Fri 08:00-19:00 Europe/Berlin".
    #[serde(default)]
    pub working_hours: Option<String>,
    /// Alert when an eligibility is unused this long (default 90d).
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub stale_after: Option<Duration>,
    /// Warn this long before a time-bound eligibility ends (default 7d).
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub warn_before: Option<Duration>,
    /// How far ahead `/pim activate … at <time>` may start (default 7d).
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub max_start_ahead: Option<Duration>,
    /// On-call auto-approval: `{ provider = "pagerduty", schedules = ["P1ABCD"], approves = 1 }`.
    #[serde(default)]
    pub oncall: Option<super::oncall::RoleOnCallConfig>,
}

/// `[[break_glass]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassConfig {
    /// User principal name of the emergency account.
    pub upn: String,
    /// Directory object id of the emergency account.
    #[serde(default)]
    pub object_id: Option<String>,
}

fn default_scope() -> String {
    "/".to_owned()
}
