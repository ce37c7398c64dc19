//! The alerts of what happened (see `core::alerts`): active grant counts, activation
//! frequency, off-hours activations, stale eligibility, refusal bursts and assignments made
//! outside pimbot, each found over the recorded [`History`] with `now` a parameter.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use super::{ACTIVATION_WINDOW, Alert, AlertKind, AlertSettings, OFF_HOURS_LOOKBACK, alert, bucket};
use crate::core::duration::format_duration;
use crate::core::history::{Activity, History};
use crate::core::ids::{PersonId, RoleKey};
use crate::core::policy::Policy;

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
