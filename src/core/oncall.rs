//! On-call auto-approval, the pure part: a role's `oncall` rule, the port that asks an on-call
//! provider (PagerDuty, Opsgenie) whether a person is on call, and the decision of what an
//! answer is worth. The HTTP clients live in `crate::oncall`; this module names none of them.
//!
//! The rule it keeps: **only a positive answer approves**. An outage, a timeout, an unknown
//! e-mail or a role the rule does not cover all fall back to normal approval, never the other
//! way round; a `critical` role is never auto-approved unless `allow_critical` says so.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::error::Result;
use super::policy::{Role, Tier};

/// Which on-call service a rule asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OnCallProvider {
    /// PagerDuty (`GET /oncalls`).
    PagerDuty,
    /// Opsgenie (`GET /v2/schedules/{id}/on-calls`).
    Opsgenie,
}

impl OnCallProvider {
    /// Config spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            OnCallProvider::PagerDuty => "pagerduty",
            OnCallProvider::Opsgenie => "opsgenie",
        }
    }

    /// How people spell it.
    pub fn display(self) -> &'static str {
        match self {
            OnCallProvider::PagerDuty => "PagerDuty",
            OnCallProvider::Opsgenie => "Opsgenie",
        }
    }
}

/// A role's `oncall = { provider, schedules, approves, allow_critical }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnCallRule {
    /// Whom to ask.
    pub provider: OnCallProvider,
    /// Schedule ids; being on call in any one of them counts.
    pub schedules: Vec<String>,
    /// How many approvals being on call records (at most `approvals_required`).
    pub approves: u32,
    /// Whether a `critical` role may be auto-approved at all.
    pub allow_critical: bool,
}

impl OnCallRule {
    /// Whether the rule may approve anything for `role` (a critical role needs
    /// `allow_critical`; a role without approvals needs nothing).
    pub fn applies_to(&self, role: &Role) -> bool {
        role.approvals_required > 0
            && self.approves > 0
            && (role.tier != Tier::Critical || self.allow_critical)
    }

    /// The approvals being on call is worth for `role`: never more than it needs.
    pub fn approvals_for(&self, role: &Role) -> u32 {
        self.approves.min(role.approvals_required)
    }
}

/// Asks an on-call provider who is on call. Implementations query the provider's REST API.
#[async_trait]
pub trait OnCallSource: Send + Sync {
    /// The first of `schedules` in which the person with `email` is on call at `at`, or `None`
    /// when they are on call in none of them (or the provider does not know the e-mail). An
    /// error means "could not tell"; the caller falls back to normal approval.
    async fn on_call_in(
        &self,
        provider: OnCallProvider,
        schedules: &[String],
        email: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<String>>;
}

/// What the on-call check concluded, recorded in the audit trail either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OnCallOutcome {
    /// The role has no on-call rule, or the rule does not cover it (critical, no approvals).
    NotApplicable,
    /// On call in `schedule`: record `approvals` automatic approvals.
    OnCall {
        /// The schedule that matched.
        schedule: String,
        /// How many approvals it records.
        approvals: u32,
    },
    /// Asked, and not on call (or unknown to the provider).
    NotOnCall,
    /// The provider could not answer; normal approval.
    Unavailable(String),
}

impl OnCallOutcome {
    /// The audit detail's `oncall` value.
    pub fn detail(&self) -> serde_json::Value {
        match self {
            OnCallOutcome::NotApplicable => serde_json::Value::Null,
            OnCallOutcome::OnCall { schedule, approvals } => {
                serde_json::json!({"result": "on_call", "schedule": schedule, "approvals": approvals})
            }
            OnCallOutcome::NotOnCall => serde_json::json!({"result": "not_on_call"}),
            OnCallOutcome::Unavailable(why) => serde_json::json!({"result": "unavailable", "error": why}),
        }
    }
}

/// The approver name an automatic approval is recorded under: `on call per <schedule>`.
pub fn approver_name(provider: OnCallProvider, schedule: &str, n: u32) -> String {
    if n <= 1 {
        format!("on call per {} {schedule}", provider.display())
    } else {
        format!("on call per {} {schedule} #{n}", provider.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::policy::Role;
    use crate::core::service::detached_role;

    fn role(tier: Tier, approvals_required: u32) -> Role {
        Role { tier, approvals_required, ..detached_role(&"r".into(), None) }
    }

    fn rule(approves: u32, allow_critical: bool) -> OnCallRule {
        OnCallRule {
            provider: OnCallProvider::PagerDuty,
            schedules: vec!["P1ABCD".into()],
            approves,
            allow_critical,
        }
    }

    #[test]
    fn critical_roles_need_allow_critical() {
        assert!(!rule(1, false).applies_to(&role(Tier::Critical, 1)));
        assert!(rule(1, true).applies_to(&role(Tier::Critical, 1)));
        assert!(rule(1, false).applies_to(&role(Tier::High, 1)));
        assert!(rule(1, false).applies_to(&role(Tier::Standard, 2)));
    }

    #[test]
    fn roles_without_approvals_have_nothing_to_approve() {
        assert!(!rule(1, true).applies_to(&role(Tier::Standard, 0)));
        assert!(!rule(0, true).applies_to(&role(Tier::Standard, 1)));
    }

    #[test]
    fn never_more_approvals_than_the_role_needs() {
        assert_eq!(rule(3, false).approvals_for(&role(Tier::High, 2)), 2);
        assert_eq!(rule(1, false).approvals_for(&role(Tier::High, 2)), 1);
    }

    #[test]
    fn records_name_the_schedule() {
        assert_eq!(approver_name(OnCallProvider::PagerDuty, "P1ABCD", 1), "on call per PagerDuty P1ABCD");
        assert_eq!(approver_name(OnCallProvider::Opsgenie, "ops", 2), "on call per Opsgenie ops #2");
    }
}
