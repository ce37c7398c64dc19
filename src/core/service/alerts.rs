//! Raising PIM alerts: read the history the rules need from the audit trail, ask the pure rules
//! in `core::alerts`, and raise each alert in its own commit (alert-log row with its unique
//! dedupe key, an `alert.raised` audit event, and a line on every platform's alert channel).
//! A key already in the log is a conflict and skipped, so an alert fires once per period even
//! with several replicas sweeping.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde_json::json;

use super::AccessService;
use super::messages::Channels;
use crate::core::alerts::{ACTIVATION_WINDOW, Alert, History, activity_alerts, policy_alerts};
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::error::{Error, Result};
use crate::core::history::HISTORY_KINDS;
use crate::core::ids::{ChatUser, RoleKey};
use crate::core::outbox::{OutgoingMessage, Target};
use crate::core::ports::{AlertLogEntry, Commit, GovernanceWrites};
use crate::core::view::{MessageBody, Notice};

/// Open grants counted for `max_active` at most.
const MAX_GRANTS: i64 = 10_000;

/// A line in the alert channel on every platform, without paging the channel (the break-glass
/// alarm is the only thing that pages).
pub(super) fn to_alert_channel(channels: &[Channels], order_key: &str, text: &str) -> Vec<OutgoingMessage> {
    channels
        .iter()
        .map(|c| OutgoingMessage {
            platform: c.platform,
            target: Target::Channel { channel: c.alert.clone() },
            body: MessageBody::Notice(Notice::text(text)),
            order_key: order_key.to_owned(),
            remember_as: None,
        })
        .collect()
}

/// An audit event about no request.
pub(super) fn event(
    at: DateTime<Utc>,
    actor: Actor,
    kind: EventKind,
    role: Option<&RoleKey>,
    detail: serde_json::Value,
) -> AuditEvent {
    AuditEvent::new(at, actor, kind, None, role.cloned(), detail)
}

impl AccessService {
    /// The history of the last `days` the alert rules and review cards need.
    pub(super) async fn history(&self, since: DateTime<Utc>) -> Result<History> {
        let records = self.store.audit_records_of(since, HISTORY_KINDS).await?;
        let known_since = self.store.audit_first_at().await?;
        Ok(History::from_audit(&records, known_since, Some(since)))
    }

    /// Every alert the policy and the recorded history show now (raised or not).
    pub async fn current_alerts(&self) -> Result<Vec<Alert>> {
        let policy = self.policy();
        let now = self.now();
        let longest = policy.roles.iter().map(|r| r.alerts.stale_after).max().unwrap_or(ACTIVATION_WINDOW);
        let since = now - longest.max(ACTIVATION_WINDOW) - chrono::Duration::days(1);
        let history = self.history(since).await?;
        let mut active: BTreeMap<RoleKey, usize> = BTreeMap::new();
        for g in self.store.open_grants(MAX_GRANTS).await? {
            *active.entry(g.role).or_default() += 1;
        }
        let mut alerts = policy_alerts(&policy, now);
        alerts.extend(activity_alerts(&policy, &policy.alert_settings, &history, &active, now));
        Ok(alerts)
    }

    /// Raises every current alert not yet raised in its period; returns how many were raised.
    pub async fn raise_alerts(&self) -> Result<usize> {
        let now = self.now();
        let mut raised = 0;
        for alert in self.current_alerts().await? {
            match self.raise_alert(&alert, now).await {
                Ok(()) => raised += 1,
                Err(Error::Conflict(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(raised)
    }

    async fn raise_alert(&self, alert: &Alert, now: DateTime<Utc>) -> Result<()> {
        let detail = json!({"alert": alert.kind.as_str(), "key": alert.key, "person": alert.person,
            "text": alert.text, "todo": alert.todo});
        let audit = vec![event(now, Actor::System, EventKind::AlertRaised, alert.role.as_ref(), detail)];
        let outbox = to_alert_channel(&self.channels, &format!("alert:{}", alert.key), &alert.message());
        let entry = AlertLogEntry {
            key: alert.key.clone(),
            kind: alert.kind.as_str().to_owned(),
            role: alert.role.clone(),
            person: alert.person.clone(),
        };
        let governance = GovernanceWrites { alerts: vec![entry], ..GovernanceWrites::default() };
        self.commit(Commit { at: Some(now), audit, outbox, governance, ..Commit::default() }).await
    }

    /// Warns the holder and the approvers of every time-bound eligibility that ends within the
    /// role's `warn_before`, once per eligibility end (deduplicated like alerts); returns how
    /// many warnings went out.
    pub async fn warn_expiring(&self) -> Result<usize> {
        let policy = self.policy();
        let now = self.now();
        let mut sent = 0;
        for role in &policy.roles {
            for e in role.eligible.iter().filter(|e| e.until.is_some()) {
                let extended = self.store.extended_until(&e.person, &role.key).await?;
                let Some(Some(end)) = crate::core::renewal::eligibility_end(role, &e.person, extended, now)
                else {
                    continue;
                };
                if end - now > role.warn_before {
                    continue;
                }
                let key = format!("eligibility_ending|{}|{}|{}", role.key, e.person, end.timestamp());
                let when = end.format("%Y-%m-%d %H:%M UTC");
                let mine = format!(
                    "⏳ Your eligibility for `{}` ends {when}. `/pim renew {} <duration> <justification>` asks the approvers to extend it.",
                    role.key, role.key
                );
                let theirs = format!(
                    "⏳ {}'s eligibility for `{}` ends {when}; they can ask to renew it with `/pim renew`.",
                    e.person, role.key
                );
                let mut outbox = Vec::new();
                if let Some(person) = policy.person(&e.person) {
                    outbox.extend(super::messages::direct(&self.channels, person, &key, &mine));
                }
                for c in &self.channels {
                    let mentions = role
                        .approver_pool(&e.person, now)
                        .iter()
                        .filter_map(|p| {
                            policy.person(p).and_then(|p| p.chat_id(c.platform)).map(str::to_owned)
                        })
                        .collect();
                    outbox.push(OutgoingMessage {
                        platform: c.platform,
                        target: Target::Channel { channel: c.approver.clone() },
                        body: MessageBody::Notice(Notice::mentioning(theirs.clone(), mentions)),
                        order_key: key.clone(),
                        remember_as: None,
                    });
                }
                let detail = json!({"person": e.person, "until": end});
                let audit =
                    vec![event(now, Actor::System, EventKind::EligibilityEnding, Some(&role.key), detail)];
                let entry = AlertLogEntry {
                    key,
                    kind: "eligibility_ending".into(),
                    role: Some(role.key.clone()),
                    person: Some(e.person.clone()),
                };
                let governance = GovernanceWrites { alerts: vec![entry], ..GovernanceWrites::default() };
                match self
                    .commit(Commit { at: Some(now), audit, outbox, governance, ..Commit::default() })
                    .await
                {
                    Ok(()) => sent += 1,
                    Err(Error::Conflict(_)) => {}
                    Err(err) => return Err(err),
                }
            }
        }
        Ok(sent)
    }

    /// Records an activation that the policy refused (`request.refused`), for the refusal-burst
    /// alert. Strangers are not recorded (they are not people of the policy).
    pub(super) async fn record_refusal(&self, user: &ChatUser, role: &RoleKey, why: &Error) {
        let policy = self.policy();
        let Some(person) = policy.person_by_chat(user) else { return };
        let now = self.now();
        let role = policy.role(role).map(|r| r.key.clone()).unwrap_or_else(|_| role.clone());
        let detail = json!({"reason": why.to_string()});
        let audit = vec![event(
            now,
            Actor::Person(person.id.clone()),
            EventKind::RequestRefused,
            Some(&role),
            detail,
        )];
        match self.commit(Commit { at: Some(now), audit, ..Commit::default() }).await {
            Ok(()) => {}
            // The command was a copy of one already received (see `replay`): nothing to record.
            Err(Error::Conflict(e)) => {
                tracing::debug!(error = %e, "refusal of a replayed command not recorded")
            }
            Err(e) => tracing::error!(error = %format!("{e:#}"), "recording a refused activation failed"),
        }
    }
}
