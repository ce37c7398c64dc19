//! Turns the `[[person]]`, `[[group]]`, `[[role]]` and `[[break_glass]]` tables into the resolved
//! [`Policy`]: ids checked, `@group` references expanded (nested groups allowed, cycles refused),
//! tier defaults applied, approver pools checked against every eligible requester.
//! Problems go to the shared collector; the returned policy is only used when there are none.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};

use super::file::{Config, DirectoryKind, RoleConfig};
use super::resolve_refs::{Refs, dedupe, groups};
use super::validate::Problems;
use super::{governance, tier};
use crate::core::duration::format_duration;
use crate::core::ids::PersonId;
use crate::core::policy::{
    BreakGlass, DEFAULT_WARN_BEFORE, Eligibility, MAX_REQUEST_TTL, Person, Policy, Role, Tier,
};

/// Resolves the whole policy, reporting every problem to `p`.
pub(super) fn policy(config: &Config, now: DateTime<Utc>, p: &mut Problems) -> Policy {
    let people = people(config, p);
    let known: HashSet<&str> = config.people.iter().map(|person| person.id.as_str()).collect();
    let groups = groups(&config.groups, &known, p);
    let refs = Refs { people: known, groups };
    let roles: Vec<Role> = config.roles.iter().map(|rc| role(config, rc, &refs, now, p)).collect();
    check_role_keys(config, p);
    let break_glass = break_glass(config, &roles, p);
    governance::check_tiers(&config.tier, p);
    let expand =
        |reference: &str, key: &str, p: &mut Problems| refs.expand_all(&[reference.to_owned()], key, p);
    let reviews = governance::reviews(&config.reviews, &roles, &expand, p);
    let alert_settings = governance::alert_settings(&config.alerts);
    let acknowledgers = acknowledgers(config, &roles, &refs, p);
    let revokers = refs.expand_all(&config.security.revokers, "security.revokers", p);
    let viewers =
        config.ui.as_ref().map(|ui| refs.expand_all(&ui.viewers, "ui.viewers", p)).unwrap_or_default();
    Policy {
        people,
        roles,
        break_glass,
        revokers,
        max_justification: config.limits.max_justification,
        commands_per_minute: config.limits.commands_per_minute,
        acknowledgers,
        reviews,
        alert_settings,
        viewers,
    }
}

/// `[break_glass_monitor] acknowledgers`, or by default the approvers of the roles of the most
/// critical tier present. Nobody able to acknowledge is an error where alarms can be raised.
fn acknowledgers(config: &Config, roles: &[Role], refs: &Refs<'_>, p: &mut Problems) -> Vec<PersonId> {
    const KEY: &str = "break_glass_monitor.acknowledgers";
    let configured = config.break_glass_monitor.as_ref().and_then(|m| m.acknowledgers.as_ref());
    let mut out = match configured {
        Some(list) => refs.expand_all(list, KEY, p),
        None => {
            let top = [Tier::Critical, Tier::High, Tier::Standard]
                .into_iter()
                .find(|t| roles.iter().any(|r| r.tier == *t && !r.approvers.is_empty()));
            roles.iter().filter(|r| Some(r.tier) == top).flat_map(|r| r.approvers.clone()).collect()
        }
    };
    dedupe(&mut out);
    if out.is_empty() && config.break_glass_monitor.is_some() && !config.break_glass.is_empty() {
        p.push(
            KEY,
            "nobody could acknowledge a break-glass alarm; list person ids or @groups (the default, \
             the approvers of the most critical roles, is empty)",
        );
    }
    out
}

fn people(config: &Config, p: &mut Problems) -> Vec<Person> {
    let mut ids = HashSet::new();
    let mut chat: HashMap<(&str, &str), &str> = HashMap::new();
    let mut out = Vec::new();
    for pc in &config.people {
        let at = format!("person \"{}\"", pc.id);
        if let Some(why) = bad_name(&pc.id) {
            p.push(format!("{at}: id"), why);
        }
        if !ids.insert(pc.id.as_str()) {
            p.push(
                format!("{at}: id"),
                "defined twice; person ids must be unique (merge the two [[person]] tables)",
            );
            continue;
        }
        for (platform, id) in [("slack", &pc.slack), ("discord", &pc.discord)] {
            let Some(id) = id.as_deref() else { continue };
            if let Some(other) = chat.insert((platform, id), pc.id.as_str()) {
                p.push(
                    format!("{at}: {platform}"),
                    format!("`{id}` is already person \"{other}\"'s; one chat account maps to one person"),
                );
            }
        }
        out.push(Person {
            id: PersonId::from(pc.id.as_str()),
            upn: pc.upn.clone().unwrap_or_default(),
            object_id: pc.object_id.clone(),
            slack: pc.slack.clone(),
            discord: pc.discord.clone(),
            timezone: pc.timezone.as_deref().map(str::trim).map(str::to_owned),
        });
        if let Some(tz) = &pc.timezone
            && let Err(why) = crate::core::schedule::named_zone(tz)
        {
            p.push(format!("{at}: timezone"), why);
        }
    }
    out
}

/// Why `name` cannot be a person id or group name, if it cannot.
pub(super) fn bad_name(name: &str) -> Option<&'static str> {
    if name.trim().is_empty() {
        Some("must not be empty")
    } else if name.starts_with('@') {
        Some("must not start with `@` (that prefix marks a group reference)")
    } else if name.chars().any(char::is_whitespace) {
        Some("must not contain spaces")
    } else {
        None
    }
}

fn check_role_keys(config: &Config, p: &mut Problems) {
    let mut seen = HashSet::new();
    for rc in &config.roles {
        let key = format!("role \"{}\": key", rc.key);
        let well_formed = !rc.key.is_empty()
            && rc.key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !well_formed {
            p.push(key.clone(), "must be lowercase letters, digits and `-` only (like \"global-admin\")");
        }
        if !seen.insert(rc.key.as_str()) {
            p.push(key, "defined twice; role keys must be unique (rename or merge the two [[role]] tables)");
        }
    }
}

fn role(config: &Config, rc: &RoleConfig, refs: &Refs<'_>, now: DateTime<Utc>, p: &mut Problems) -> Role {
    let at = format!("role \"{}\"", rc.key);
    let d = tier::defaults(rc.tier);
    let max_duration = rc.max_duration.unwrap_or(d.max_duration);
    // A defaulted minimum never exceeds the maximum (tests and demos use second-level roles).
    let min_duration = rc.min_duration.unwrap_or(d.min_duration.min(max_duration));
    if min_duration > max_duration {
        p.push(
            format!("{at}: min_duration"),
            format!(
                "{} is longer than max_duration {}; lower min_duration or raise max_duration",
                format_duration(min_duration),
                format_duration(max_duration)
            ),
        );
    }
    let request_ttl = rc.request_ttl.unwrap_or(d.request_ttl);
    if request_ttl <= Duration::zero() || request_ttl > MAX_REQUEST_TTL {
        p.push(
            format!("{at}: request_ttl"),
            format!(
                "{} is out of range; a pending request must time out after more than 0s and at most {}",
                format_duration(request_ttl),
                format_duration(MAX_REQUEST_TTL)
            ),
        );
    }
    let directory_id = rc.directory_id.clone().unwrap_or_default();
    if config.directory.kind == DirectoryKind::Graph && directory_id.trim().is_empty() {
        p.push(
            format!("{at}: directory_id"),
            "missing; with directory kind = \"graph\" every role needs the directory id of what it grants",
        );
    }
    let role = Role {
        key: rc.key.as_str().into(),
        name: rc.name.clone().unwrap_or_else(|| rc.key.clone()),
        kind: rc.kind,
        directory_id,
        scope: rc.scope.clone(),
        tier: rc.tier,
        min_duration,
        max_duration,
        require_justification: rc.require_justification.unwrap_or(d.require_justification),
        require_ticket: rc.require_ticket.unwrap_or(d.require_ticket),
        approvals_required: rc.approvals_required.unwrap_or(d.approvals_required),
        approvers: refs.expand_all(&rc.approvers, &format!("{at}: approvers"), p),
        disjoint_approvers: rc.disjoint_approvers.unwrap_or(d.disjoint_approvers),
        sla: rc.sla.unwrap_or(d.sla),
        escalate_to: refs.expand_all(&rc.escalate_to, &format!("{at}: escalate_to"), p),
        request_ttl,
        min_hold: rc.min_hold.unwrap_or(d.min_hold),
        eligible: eligibility(rc, refs, &format!("{at}: eligible"), p),
        require_mfa: rc.require_mfa.unwrap_or(d.require_mfa),
        approver_mfa: rc.approver_mfa.unwrap_or(d.approver_mfa),
        mfa_max_age: rc.mfa_max_age.unwrap_or(d.mfa_max_age),
        auth_context: None,
        owners: refs.expand_all(&rc.owners, &format!("{at}: owners"), p),
        alerts: governance::role_alerts(rc, &config.tier, &at, p),
        warn_before: rc.warn_before.unwrap_or(DEFAULT_WARN_BEFORE),
        max_start_ahead: super::oncall::max_start_ahead(rc, &at, p),
        oncall: None,
    };
    let mut role = role;
    role.auth_context = super::resolve_mfa::auth_context(config, rc, &role, &at, p);
    role.oncall = super::oncall::rule(config, rc, &role, &at, p);
    check_pool(&role, now, &format!("{at}: approvers"), p);
    role
}

/// Expands the `eligible` list. A person listed twice (directly and through a group, say) keeps
/// the most generous end: permanent beats time-bound, later beats earlier.
fn eligibility(rc: &RoleConfig, refs: &Refs<'_>, key: &str, p: &mut Problems) -> Vec<Eligibility> {
    let mut out: Vec<Eligibility> = Vec::new();
    for entry in &rc.eligible {
        let until = entry.until.map(|u| u.exclusive_end());
        for person in refs.expand(&entry.who, key, p) {
            match out.iter_mut().find(|e| e.person == person) {
                Some(existing) => {
                    existing.until = match (existing.until, until) {
                        (Some(a), Some(b)) => Some(a.max(b)),
                        _ => None,
                    }
                }
                None => out.push(Eligibility { person, until }),
            }
        }
    }
    out
}

/// The approver pool must reach `approvals_required` whoever of the currently eligible people
/// requests: the requester never approves, and with `disjoint_approvers` nobody eligible does.
fn check_pool(role: &Role, now: DateTime<Utc>, key: &str, p: &mut Problems) {
    let need = role.approvals_required as usize;
    if need == 0 {
        return;
    }
    let fix = "add approvers or lower approvals_required";
    if role.approvers.len() < need {
        p.push(
            key,
            format!(
                "the pool has {} approver(s) but approvals_required = {need}; {fix}",
                role.approvers.len()
            ),
        );
        return;
    }
    if role.disjoint_approvers {
        let pool: Vec<&PersonId> = role.approvers.iter().filter(|a| !role.is_eligible(a, now)).collect();
        if pool.len() < need {
            p.push(
                key,
                format!(
                    "with disjoint_approvers, people eligible for the role cannot approve it, which leaves {} \
                     approver(s) ({}) for approvals_required = {need}; add approvers who are not eligible, \
                     set disjoint_approvers = false, or lower approvals_required",
                    pool.len(),
                    quoted(pool.into_iter())
                ),
            );
            return;
        }
    }
    let short: Vec<&PersonId> = role
        .eligible
        .iter()
        .filter(|e| e.holds_at(now))
        .map(|e| &e.person)
        .filter(|requester| role.approver_pool(requester, now).len() < need)
        .collect();
    if !short.is_empty() {
        p.push(
            key,
            format!(
                "when {} requests, fewer than approvals_required = {need} approver(s) remain \
                 (nobody approves their own request); {fix}",
                quoted(short.into_iter())
            ),
        );
    }
}

fn quoted<'a>(ids: impl Iterator<Item = &'a PersonId>) -> String {
    let list: Vec<String> = ids.map(|id| format!("\"{id}\"")).collect();
    if list.is_empty() { "nobody".into() } else { list.join(", ") }
}

/// Break-glass accounts stay outside the workflow: none may be eligible for a role as a person.
fn break_glass(config: &Config, roles: &[Role], p: &mut Problems) -> Vec<BreakGlass> {
    let mut out = Vec::new();
    for bg in &config.break_glass {
        if bg.upn.trim().is_empty() {
            p.push("break_glass.upn", "must not be empty; write the emergency account's UPN");
        }
        let same_account = |person: &&super::file::PersonConfig| {
            let upn = person.upn.as_deref().is_some_and(|u| !u.is_empty() && u.eq_ignore_ascii_case(&bg.upn));
            let oid =
                matches!((&person.object_id, &bg.object_id), (Some(a), Some(b)) if !a.is_empty() && a == b);
            upn || oid
        };
        for person in config.people.iter().filter(same_account) {
            for role in roles.iter().filter(|r| r.eligible.iter().any(|e| e.person.as_str() == person.id)) {
                p.push(
                    format!("role \"{}\": eligible", role.key),
                    format!(
                        "person \"{}\" is the break-glass account {}; break-glass accounts can never be \
                         requested, remove \"{}\" from eligible",
                        person.id, bg.upn, person.id
                    ),
                );
            }
        }
        out.push(BreakGlass { upn: bg.upn.clone(), object_id: bg.object_id.clone() });
    }
    out
}
