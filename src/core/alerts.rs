//! PIM alerts: the patterns that signal misuse or a policy drifting back to standing access,
//! found by pure functions over the policy and the recorded history, with `now` a parameter.
//!
//! Every [`Alert`] carries a dedupe `key` that names the alert and its period (the ISO week for
//! policy findings, the day for active counts, the first activation counted for activation
//! frequency, each `stale_after` since the audit trail began for stale eligibility, the request for an off-hours
//! activation, the burst window for refusals). The service stores the key in the same commit as the message (unique in the database), so an
//! alert fires once per period however many replicas sweep. This module decides nothing about
//! delivery.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Datelike, Duration, Utc};
use serde::Serialize;

use super::duration::format_duration;
use super::hours::WorkingHours;
use super::ids::{PersonId, RoleKey};

pub use super::history::{Activity, History};
use super::policy::{Policy, Role, Tier};

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

/// Alerts from what happened: active counts, activation frequency, off-hours activations,
/// stale eligibility, refusal bursts and assignments made outside pimbot.
pub fn activity_alerts(
    policy: &Policy,
    settings: &AlertSettings,
    history: &History,
    active: &BTreeMap<RoleKey, usize>,
    now: DateTime<Utc>,
) -> Vec<Alert> {
    let mut out = Vec::new();
    let day = now.format("%Y-%m-%d").to_string();
    for role in &policy.roles {
        let r = &role.key;
        let a = &role.alerts;
        let count = active.get(r).copied().unwrap_or(0);
        if let Some(max) = a.max_active
            && count > max as usize
        {
            out.push(alert(
                AlertKind::TooManyActive,
                format!("too_many_active|{r}|{day}"),
                role,
                None,
                format!("{count} grants of `{r}` are active at once; the limit is {max}"),
                "check the active grants in the feed and ask holders who are done to `/pim deactivate`; revoke any you cannot explain",
            ));
        }
        if let Some(max) = a.max_activations {
            // Keyed by the first activation counted: the same excess in a sliding window is one
            // alert, and a new one needs the window to have moved past it.
            let mut per: BTreeMap<&PersonId, (usize, DateTime<Utc>)> = BTreeMap::new();
            for act in history.activations.iter().filter(|x| &x.role == r && now - x.at < ACTIVATION_WINDOW) {
                let entry = per.entry(&act.person).or_insert((0, act.at));
                entry.0 += 1;
                entry.1 = entry.1.min(act.at);
            }
            for (person, (n, first)) in per.into_iter().filter(|(_, (n, _))| *n > max as usize) {
                out.push(alert(
                    AlertKind::FrequentActivation,
                    format!("frequent_activation|{r}|{person}|{}", first.timestamp()),
                    role,
                    Some(person),
                    format!("{person} activated `{r}` {n} times in 30 days; the limit is {max}"),
                    "ask whether the work needs a narrower role or a change in process; frequent activation of a privileged role is how standing access creeps back",
                ));
            }
        }
        if let Some(hours) = &a.working_hours {
            for act in history.activations.iter().filter(|x| &x.role == r && now - x.at <= OFF_HOURS_LOOKBACK)
            {
                if hours.contains(act.at) {
                    continue;
                }
                let id =
                    act.request.as_ref().map_or_else(|| act.at.timestamp().to_string(), |q| q.to_string());
                out.push(alert(
                    AlertKind::OutsideWorkingHours,
                    format!("outside_working_hours|{r}|{}|{id}", act.person),
                    role,
                    Some(&act.person),
                    format!(
                        "{} activated `{r}` at {}, outside working hours ({hours}) — request {id}",
                        act.person,
                        hours.local(act.at)
                    ),
                    "confirm with the person (or the incident channel) that this was expected; if not, revoke the grant and treat the account as compromised",
                ));
            }
        }
        let horizon = now - a.stale_after;
        let known_long_enough = history.known_since.is_some_and(|since| since <= horizon);
        for e in role.eligible.iter().filter(|e| e.holds_at(now)) {
            let last = history.last_use(&e.person, r);
            let stale = match last {
                Some(act) => act.at < horizon,
                None => known_long_enough,
            };
            if !stale {
                continue;
            }
            let used = last.map_or_else(
                || {
                    let from = match (history.known_since, history.read_from) {
                        (Some(k), Some(r)) => Some(k.max(r)),
                        (k, r) => k.or(r),
                    };
                    format!(
                        "none in the records since {}",
                        from.map_or("?".into(), |s| s.format("%Y-%m-%d").to_string())
                    )
                },
                |act| act.at.format("%Y-%m-%d").to_string(),
            );
            out.push(alert(
                AlertKind::StaleEligibility,
                // Once per `stale_after`, on a grid that starts with the audit trail: a reminder
                // each period the eligibility stays unused, whatever the read window holds.
                {
                    let base = history.known_since.unwrap_or(now);
                    let period = (now - base).num_seconds() / a.stale_after.num_seconds().max(1);
                    format!("stale_eligibility|{r}|{}|{period}", e.person)
                },
                role,
                Some(&e.person),
                format!(
                    "{} has not used `{r}` for over {} (last use: {used})",
                    e.person,
                    format_duration(a.stale_after)
                ),
                "remove the eligibility if it is no longer needed (or let an access review decide)",
            ));
        }
    }
    out.extend(bursts(settings, history, now));
    out.extend(outside(policy, history, now));
    out
}

fn bursts(settings: &AlertSettings, history: &History, now: DateTime<Utc>) -> Vec<Alert> {
    let recent: Vec<&Activity> =
        history.refusals.iter().filter(|x| now - x.at < settings.burst_window).collect();
    let slot = bucket(now, settings.burst_window);
    let need = settings.burst_count.max(1) as usize;
    let todo = "look at the refusals in the feed and the audit trail: a burst is someone probing for access, a stolen chat account, or a broken integration";
    let mut out = Vec::new();
    let mut per_person: BTreeMap<&PersonId, usize> = BTreeMap::new();
    let mut per_role: BTreeMap<&RoleKey, usize> = BTreeMap::new();
    for x in &recent {
        *per_person.entry(&x.person).or_default() += 1;
        *per_role.entry(&x.role).or_default() += 1;
    }
    let window = format_duration(settings.burst_window);
    for (person, n) in per_person.into_iter().filter(|(_, n)| *n >= need) {
        out.push(Alert {
            kind: AlertKind::RefusalBurst,
            key: format!("refusal_burst|person|{person}|{slot}"),
            role: None,
            person: Some(person.clone()),
            text: format!("{n} refused or failed activations by {person} within {window}"),
            todo: todo.into(),
        });
    }
    for (role, n) in per_role.into_iter().filter(|(_, n)| *n >= need) {
        let people: HashSet<&PersonId> =
            recent.iter().filter(|x| &x.role == role).map(|x| &x.person).collect();
        out.push(Alert {
            kind: AlertKind::RefusalBurst,
            key: format!("refusal_burst|role|{role}|{slot}"),
            role: Some(role.clone()),
            person: None,
            text: format!(
                "{n} refused or failed activations of `{role}` within {window} ({} people)",
                people.len()
            ),
            todo: todo.into(),
        });
    }
    out
}

fn outside(policy: &Policy, history: &History, now: DateTime<Utc>) -> Vec<Alert> {
    let day = now.format("%Y-%m-%d").to_string();
    history
        .outside
        .iter()
        .filter(|(_, _, _, at)| now - *at < Duration::days(1))
        .filter(|(role, ..)| policy.roles.iter().any(|r| &r.key == role))
        .map(|(role, principal, person, _)| {
            let who = person.as_ref().map_or_else(|| format!("principal {principal}"), |p| p.to_string());
            Alert {
                kind: AlertKind::OutsidePimbot,
                key: format!("outside_pimbot|{role}|{principal}|{day}"),
                role: Some(role.clone()),
                person: person.clone(),
                text: format!("{who} holds `{role}` through an assignment made outside pimbot"),
                todo: "remove the assignment in the directory (or set [directory] remove_unmanaged = true) and find out who made it; standing access is what PIM removes".into(),
            }
        })
        .collect()
}

#[cfg(test)]
#[path = "alerts_tests.rs"]
mod tests;
