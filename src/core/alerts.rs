//! PIM alerts: the patterns that signal misuse or a policy drifting back to standing access,
//! found by pure functions over the policy and the recorded history, with `now` a parameter.
//!
//! Every [`Alert`] carries a dedupe `key` that names the alert and its period (the ISO week for
//! policy findings, the day for active counts, the first activation counted for activation
//! frequency, each `stale_after` since the audit trail began for stale eligibility, the request for an off-hours
//! activation, the burst window for refusals). The service stores the key in the same commit as the message (unique in the database), so an
//! alert fires once per period however many replicas sweep. This module decides nothing about
//! delivery. The policy findings are here; `activity` (`alerts_activity.rs`) finds the alerts
//! of what happened.

#[path = "alerts_activity.rs"]
mod activity;

use chrono::{DateTime, Datelike, Duration, Utc};
use serde::Serialize;

use super::hours::WorkingHours;
use super::ids::{PersonId, RoleKey};

pub use super::history::{Activity, History};
use super::policy::{Policy, Role, Tier};
pub use activity::activity_alerts;

/// Default `stale_after`: eligibility unused this long is reported (PIM's own default).
pub const DEFAULT_STALE_AFTER: Duration = Duration::days(90);
/// The window `max_activations` counts in.
pub const ACTIVATION_WINDOW: Duration = Duration::days(30);
/// Default number of refused or failed activations that make a burst.
pub const DEFAULT_BURST_COUNT: u32 = 5;
/// Default window a burst is counted in.
pub const DEFAULT_BURST_WINDOW: Duration = Duration::hours(1);
/// Off-hours activations older than this are not reported (a first sweep after deployment does
/// not dig up last month).
pub const OFF_HOURS_LOOKBACK: Duration = Duration::days(1);

/// Alert thresholds of one role, resolved from the role's keys and its tier's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAlerts {
    /// More people eligible than this is an alert.
    pub max_eligible: Option<u32>,
    /// More grants active at once than this is an alert.
    pub max_active: Option<u32>,
    /// More activations by one person within [`ACTIVATION_WINDOW`] than this is an alert.
    pub max_activations: Option<u32>,
    /// Activations outside these hours are an alert.
    pub working_hours: Option<WorkingHours>,
    /// Eligibility unused this long is an alert.
    pub stale_after: Duration,
}

impl RoleAlerts {
    /// The built-in defaults of a tier (`critical`: at most 5 eligible, as PIM's own alert).
    pub fn tier_default(tier: Tier) -> Self {
        let (eligible, active, activations) = match tier {
            Tier::Critical => (Some(5), Some(2), Some(10)),
            Tier::High => (Some(10), Some(5), Some(20)),
            Tier::Standard => (None, None, None),
        };
        Self {
            max_eligible: eligible,
            max_active: active,
            max_activations: activations,
            working_hours: None,
            stale_after: DEFAULT_STALE_AFTER,
        }
    }
}

/// Policy-wide alert settings (`[alerts]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertSettings {
    /// Refused or failed activations within `burst_window` that make a burst.
    pub burst_count: u32,
    /// The window of a burst.
    pub burst_window: Duration,
}

impl Default for AlertSettings {
    fn default() -> Self {
        Self { burst_count: DEFAULT_BURST_COUNT, burst_window: DEFAULT_BURST_WINDOW }
    }
}

/// What an alert is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    /// More people eligible than `max_eligible`.
    TooManyEligible,
    /// More grants active than `max_active`.
    TooManyActive,
    /// One person activated more than `max_activations` times in 30 days.
    FrequentActivation,
    /// An activation outside `working_hours`.
    OutsideWorkingHours,
    /// Eligibility unused for `stale_after`.
    StaleEligibility,
    /// A burst of refused or failed activations.
    RefusalBurst,
    /// The role's rules are weaker than the PIM model asks (no justification, no MFA, no
    /// approval on a critical role).
    WeakRole,
    /// Fewer than two people can approve.
    SmallApproverPool,
    /// Approvers who are also eligible, without `disjoint_approvers`.
    OverlappingApprovers,
    /// An assignment made outside pimbot (from reconciliation).
    OutsidePimbot,
}

impl AlertKind {
    /// Stable snake-case name (metrics label, audit detail).
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::TooManyEligible => "too_many_eligible",
            AlertKind::TooManyActive => "too_many_active",
            AlertKind::FrequentActivation => "frequent_activation",
            AlertKind::OutsideWorkingHours => "outside_working_hours",
            AlertKind::StaleEligibility => "stale_eligibility",
            AlertKind::RefusalBurst => "refusal_burst",
            AlertKind::WeakRole => "weak_role",
            AlertKind::SmallApproverPool => "small_approver_pool",
            AlertKind::OverlappingApprovers => "overlapping_approvers",
            AlertKind::OutsidePimbot => "outside_pimbot",
        }
    }
}

/// One alert to raise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alert {
    /// What kind.
    pub kind: AlertKind,
    /// Dedupe key: kind, subject and period.
    pub key: String,
    /// The role concerned.
    pub role: Option<RoleKey>,
    /// The person concerned.
    pub person: Option<PersonId>,
    /// What was found.
    pub text: String,
    /// What to do about it, in one line.
    pub todo: String,
}

impl Alert {
    /// The message posted to the alert channel.
    pub fn message(&self) -> String {
        format!(
            "🚨 {}: {}\n{} {}",
            super::text::strong("PIM alert"),
            self.text,
            super::text::strong("What to do:"),
            self.todo
        )
    }
}

fn week(now: DateTime<Utc>) -> String {
    let w = now.iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

fn bucket(now: DateTime<Utc>, len: Duration) -> i64 {
    now.timestamp().div_euclid(len.num_seconds().max(1))
}

fn alert(
    kind: AlertKind,
    key: String,
    role: &Role,
    person: Option<&PersonId>,
    text: String,
    todo: &str,
) -> Alert {
    Alert { kind, key, role: Some(role.key.clone()), person: person.cloned(), text, todo: todo.to_owned() }
}

/// Alerts the policy alone shows: weak rules, small or overlapping approver pools, too many
/// eligible people. Each repeats once per ISO week while it holds.
pub fn policy_alerts(policy: &Policy, now: DateTime<Utc>) -> Vec<Alert> {
    let period = week(now);
    let mut out = Vec::new();
    for role in &policy.roles {
        let r = &role.key;
        let eligible: Vec<&PersonId> =
            role.eligible.iter().filter(|e| e.holds_at(now)).map(|e| &e.person).collect();
        if let Some(max) = role.alerts.max_eligible
            && eligible.len() > max as usize
        {
            out.push(alert(
                AlertKind::TooManyEligible,
                format!("too_many_eligible|{r}|{period}"),
                role,
                None,
                format!("{} people are eligible for `{r}` ({}); the limit is {max}", eligible.len(), role.name),
                "remove eligibility people no longer need (a [[review]] with default = \"remove\" prunes it on a schedule), or raise max_eligible if the number is deliberate",
            ));
        }
        let mut weak = Vec::new();
        if !role.require_justification {
            weak.push("no justification");
        }
        if role.tier != Tier::Standard && !role.require_mfa {
            weak.push("no MFA");
        }
        if role.tier == Tier::Critical && !role.needs_approval() {
            weak.push("no approval on a critical role");
        }
        if !weak.is_empty() {
            out.push(alert(
                AlertKind::WeakRole,
                format!("weak_role|{r}|{period}"),
                role,
                None,
                format!("`{r}` ({}, {}) is activated with {}", role.name, role.tier.as_str(), weak.join(", ")),
                "set require_justification = true, require_mfa = true and, for critical roles, approvals_required >= 1 in the role's policy",
            ));
        }
        if role.needs_approval() {
            let pool: Vec<&PersonId> = role
                .approvers
                .iter()
                .filter(|a| !(role.disjoint_approvers && role.is_eligible(a, now)))
                .collect();
            if pool.len() < 2 {
                out.push(alert(
                    AlertKind::SmallApproverPool,
                    format!("small_approver_pool|{r}|{period}"),
                    role,
                    None,
                    format!("`{r}` can be approved by {} person(s) only", pool.len()),
                    "add a second approver (or an @group) to the role so one absence or one collusion cannot decide it",
                ));
            }
            let both: Vec<String> =
                role.approvers.iter().filter(|a| eligible.contains(a)).map(|a| a.to_string()).collect();
            if !role.disjoint_approvers && !both.is_empty() {
                out.push(alert(
                    AlertKind::OverlappingApprovers,
                    format!("overlapping_approvers|{r}|{period}"),
                    role,
                    None,
                    format!("{} may both request and approve `{r}` (disjoint_approvers is off)", both.join(", ")),
                    "set disjoint_approvers = true, or take these people out of either the approvers or the eligible list",
                ));
            }
        }
    }
    out
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
