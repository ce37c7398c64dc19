//! The human summary `pimbot check` prints after a successful validation: settings without
//! secrets, then each role's rules as the bot will enforce them. Never prints a secret: the
//! database url is shown without credentials and no token or key is read here.

use chrono::{DateTime, NaiveTime, Utc};

use super::file::{Config, DirectoryKind, EligibilitySource};
use crate::core::duration::format_duration;
use crate::core::ids::PersonId;
use crate::core::policy::{Eligibility, Policy, Role};

/// A readable multi-line summary of `config` and its resolved `policy`.
pub fn summary(config: &Config, policy: &Policy) -> String {
    let mut out = String::new();
    let backend = config.database.backend().map_or("unknown", |b| b.as_str());
    let location = config.database.redacted_url().unwrap_or_else(|| "not set".into());
    line(&mut out, format!("database: {backend} ({location})"));
    line(&mut out, format!("listen: {}", config.server.listen));
    if let Some(internal) = &config.server.internal_listen {
        line(&mut out, format!("internal listen (metrics, admin): {internal}"));
    }
    match config.slack() {
        Some(s) => line(
            &mut out,
            format!(
                "slack: enabled ({}), api {}; {}",
                if s.socket_mode { "Socket Mode" } else { "HTTP requests" },
                s.api_url,
                channels(&s.approver_channel, &s.feed_channel, &s.alert_channel)
            ),
        ),
        None => line(&mut out, "slack: disabled".into()),
    }
    match config.discord() {
        Some(d) => line(
            &mut out,
            format!(
                "discord: enabled, application {}, api {}; {}",
                d.application_id.as_deref().unwrap_or("?"),
                d.api_url,
                channels(&d.approver_channel, &d.feed_channel, &d.alert_channel)
            ),
        ),
        None => line(&mut out, "discord: disabled".into()),
    }
    match config.teams() {
        Some(t) if t.webhook_only() => {
            line(&mut out, "teams: notification-only (feed and alarms to a Workflows webhook)".into())
        }
        Some(t) => line(
            &mut out,
            format!(
                "teams: enabled, bot {} in tenant {}, credential {}; {}",
                t.app_id.as_deref().unwrap_or("?"),
                t.tenant_id.as_deref().unwrap_or("?"),
                t.credential_source().map(|c| c.kind().as_str()).unwrap_or("?"),
                channels(&t.approver_channel, &t.feed_channel, &t.alert_channel)
            ),
        ),
        None => line(&mut out, "teams: disabled".into()),
    }
    let dir = &config.directory;
    let kind = match dir.kind {
        DirectoryKind::Static => "static (grants are recorded only)".to_owned(),
        DirectoryKind::Graph => format!(
            "graph (tenant {}, graph {}, arm {})",
            dir.tenant_id.as_deref().unwrap_or("?"),
            dir.graph_url,
            dir.arm_url
        ),
    };
    let eligibility = match dir.eligibility {
        EligibilitySource::Policy => "the [[role]] eligible lists",
        EligibilitySource::Graph => "Graph PIM eligibility schedules",
    };
    line(&mut out, format!("directory: {kind}; eligibility from {eligibility}"));
    line(
        &mut out,
        format!(
            "grants the directory cannot make for now are retried for {}",
            format_duration(dir.grant_retry_for)
        ),
    );
    line(&mut out, format!("revokers (may /pim revoke anyone's grant): {}", names(&policy.revokers)));
    if config.ui.is_some() {
        line(&mut out, format!("web view /ui: viewers {}", names(&policy.viewers)));
    }
    if dir.kind == DirectoryKind::Graph
        && let Ok(c) = config.directory_credential()
    {
        line(&mut out, format!("directory credential: {}", c.kind().as_str()));
    }
    match config.oidc() {
        Some(o) => line(
            &mut out,
            format!(
                "sign-in (oidc): issuer {}, client {}, credential {}, callback {}/auth/callback; link {}",
                o.issuer,
                o.client_id,
                config.oidc_credential().and_then(Result::ok).map_or("?", |c| c.kind().as_str()),
                o.public_url,
                if o.require_link { "required" } else { "optional" }
            ),
        ),
        None => line(&mut out, "sign-in (oidc): not configured (chat identity only)".into()),
    }
    match config.break_glass_monitor() {
        Some(m) => line(
            &mut out,
            format!(
                "break-glass monitor: enabled, poll every {}, re-page every {}",
                format_duration(m.poll_interval),
                format_duration(m.repage_every)
            ),
        ),
        None => line(&mut out, "break-glass monitor: disabled".into()),
    }
    line(&mut out, audit_summary(&config.audit));
    for provider in
        [crate::core::oncall::OnCallProvider::PagerDuty, crate::core::oncall::OnCallProvider::Opsgenie]
    {
        if config.oncall.provider(provider).is_some() {
            line(
                &mut out,
                format!("on-call: {} api {}", provider.display(), config.oncall.api_url(provider)),
            );
        }
    }
    line(&mut out, format!("people: {}, groups: {}", policy.people.len(), config.groups.len()));

    for role in &policy.roles {
        out.push('\n');
        role_summary(&mut out, role);
    }

    out.push('\n');
    governance_summary(&mut out, policy);
    if policy.break_glass.is_empty() {
        line(&mut out, "break-glass accounts: none".into());
    } else {
        line(&mut out, "break-glass accounts (never requestable; every sign-in is an alarm):".into());
        for bg in &policy.break_glass {
            match &bg.object_id {
                Some(oid) => line(&mut out, format!("  {} (object id {oid})", bg.upn)),
                None => line(&mut out, format!("  {}", bg.upn)),
            }
        }
    }
    out
}

/// Alert thresholds and access reviews.
fn governance_summary(out: &mut String, policy: &Policy) {
    for role in &policy.roles {
        let a = &role.alerts;
        let limit = |v: Option<u32>| v.map_or("-".to_owned(), |n| n.to_string());
        let hours = a.working_hours.map(|h| format!(", working hours {h}")).unwrap_or_default();
        line(
            out,
            format!(
                "alerts {}: max eligible {}, max active {}, max activations {} / 30d, stale after {}{hours}",
                role.key,
                limit(a.max_eligible),
                limit(a.max_active),
                limit(a.max_activations),
                format_duration(a.stale_after)
            ),
        );
    }
    if policy.reviews.is_empty() {
        line(out, "access reviews: none".into());
    }
    for r in &policy.reviews {
        let roles: Vec<String> = r.roles.iter().map(|k| k.to_string()).collect();
        line(
            out,
            format!(
                "access review {}: {} ({}), {} to answer, unanswered: {}",
                r.key,
                roles.join(", "),
                r.cadence.describe(),
                format_duration(r.duration),
                r.default.as_str()
            ),
        );
    }
    out.push('\n');
}

fn role_summary(out: &mut String, role: &Role) {
    line(out, format!("role {}: {}", role.key, role.name));
    let directory_id = if role.directory_id.is_empty() { "-" } else { role.directory_id.as_str() };
    line(
        out,
        format!(
            "  tier {}, kind {}, directory id {directory_id}, scope {}",
            role.tier.as_str(),
            role.kind.as_str(),
            role.scope
        ),
    );
    line(
        out,
        format!(
            "  duration {} to {}",
            format_duration(role.min_duration),
            format_duration(role.max_duration)
        ),
    );
    if role.needs_approval() {
        let disjoint = if role.disjoint_approvers { "; eligible people cannot approve" } else { "" };
        line(
            out,
            format!(
                "  approvals required: {} from {}{disjoint}",
                role.approvals_required,
                names(&role.approvers)
            ),
        );
    } else {
        line(out, "  approvals required: none (activates at once)".into());
    }
    let mfa = |on: bool| if on { "fresh MFA" } else { "chat identity only" };
    let evidence = match &role.auth_context {
        Some(c) => format!("authentication context {c}"),
        None => "amr contains mfa".into(),
    };
    line(
        out,
        if role.require_mfa || role.approver_mfa {
            format!(
                "  requester: {}, approvers: {} (within {}, {evidence})",
                mfa(role.require_mfa),
                mfa(role.approver_mfa),
                format_duration(role.mfa_max_age)
            )
        } else {
            "  requester and approvers: chat identity only (require_mfa = false)".into()
        },
    );
    let eligible: Vec<String> = role.eligible.iter().map(eligible_entry).collect();
    let eligible = if eligible.is_empty() { "nobody".to_owned() } else { eligible.join(", ") };
    line(out, format!("  may request: {eligible}"));
    line(
        out,
        format!(
            "  justification {}, ticket {}",
            if role.require_justification { "required" } else { "optional" },
            if role.require_ticket { "required" } else { "optional" }
        ),
    );
    let escalate = if role.escalate_to.is_empty() {
        String::new()
    } else {
        format!(", escalate to {}", names(&role.escalate_to))
    };
    line(
        out,
        format!(
            "  sla {}{escalate}; request ttl {}; min hold {}",
            format_duration(role.sla),
            format_duration(role.request_ttl),
            format_duration(role.min_hold)
        ),
    );
    if role.max_start_ahead != crate::core::schedule::DEFAULT_MAX_START_AHEAD {
        line(out, format!("  scheduled starts up to {} ahead", format_duration(role.max_start_ahead)));
    }
    if let Some(rule) = &role.oncall {
        line(
            out,
            format!(
                "  on call in {} {}: {} approval(s) recorded automatically{}",
                rule.provider.display(),
                rule.schedules.join(", "),
                rule.approvals_for(role),
                if rule.allow_critical { " (critical allowed)" } else { "" }
            ),
        );
    }
}

fn eligible_entry(e: &Eligibility) -> String {
    match e.until {
        None => e.person.to_string(),
        Some(until) => format!("{} ({})", e.person, until_text(until)),
    }
}

/// `through 2027-01-31` for a whole-day end (stored as the next midnight), else the instant.
fn until_text(until: DateTime<Utc>) -> String {
    if until.time() == NaiveTime::MIN {
        let last_day = until.date_naive().pred_opt().unwrap_or(until.date_naive());
        format!("through {last_day}")
    } else {
        format!("until {}", until.to_rfc3339())
    }
}

fn names(ids: &[PersonId]) -> String {
    if ids.is_empty() {
        return "nobody".into();
    }
    ids.iter().map(PersonId::as_str).collect::<Vec<_>>().join(", ")
}

fn channels(approver: &Option<String>, feed: &Option<String>, alert: &Option<String>) -> String {
    let show = |c: &Option<String>| c.clone().unwrap_or_else(|| "-".into());
    format!("approver channel {}, feed channel {}, alert channel {}", show(approver), show(feed), show(alert))
}

fn line(out: &mut String, text: String) {
    out.push_str(&text);
    out.push('\n');
}

/// One line about the audit chain: keyed or not, checkpoints, sinks (never a secret).
fn audit_summary(audit: &super::audit::AuditConfig) -> String {
    let keyed = match (audit.keys(), audit.serve_allowed()) {
        (Ok(keys), Ok(())) if audit.key.is_some() => {
            format!("keyed (key id {}, {} key(s) accepted)", keys.linker.key_id(), keys.ring.ids().len())
        }
        (Ok(_), Ok(())) => "UNKEYED by choice ([audit] unkeyed = true)".to_owned(),
        (_, Err(_)) => format!(
            "NOT KEYED: serve will refuse to start (set {} or [audit] unkeyed = true)",
            super::audit::ENV_AUDIT_KEY
        ),
        (Err(e), _) => e,
    };
    let sinks: Vec<String> =
        audit.sinks.iter().map(|s| format!("{} ({})", s.name(), s.kind.as_str())).collect();
    format!(
        "audit: {keyed}; checkpoint every {} events or {}; sinks: {}",
        audit.checkpoint_events,
        format_duration(audit.checkpoint_every),
        if sinks.is_empty() { "none".to_owned() } else { sinks.join(", ") }
    )
}
