//! Break-glass alarms: raise one per sign-in (deduplicated in storage), page the alert channel
//! of every enabled platform until someone acknowledges it with a reason, and record each step
//! in the audit trail. Every change is one [`Commit`]; re-pages are compare-and-set updates, so
//! two replicas sweeping at once never page twice.
//!
//! Only `[break_glass_monitor] acknowledgers` (by default the approvers of the most critical
//! roles) may acknowledge an alarm: stopping the paging is a decision about an emergency
//! account. The mandatory reason, the audit event and the feed line keep it reviewable.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use super::messages::{Channels, feed};
use super::{AccessService, whois};
use crate::core::alarm::{Alarm, SignIn, ack_reason, alarm_key, next_page_at, page_key};
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::error::{Error, Result};
use crate::core::ids::{AlarmId, ChatUser};
use crate::core::outbox::{OutgoingMessage, Target};
use crate::core::policy::Policy;
use crate::core::ports::{Commit, Write};
use crate::core::view::{AlarmView, MessageBody};

/// Default cadence of repeat pages when none is configured.
pub const DEFAULT_REPAGE_EVERY: Duration = Duration::minutes(2);

/// An audit event about an alarm (alarms belong to no request or role).
pub(super) fn audit(
    at: DateTime<Utc>,
    actor: Actor,
    kind: EventKind,
    alarm: &Alarm,
    extra: serde_json::Value,
) -> AuditEvent {
    let mut detail = json!({
        "alarm_id": alarm.id,
        "account": alarm.account_upn,
        "signin_id": alarm.signin_id,
        "signed_in_at": alarm.at,
        "ip": alarm.ip,
        "succeeded": alarm.succeeded,
        "severity": alarm.severity.as_str(),
        "pages": alarm.pages,
        "signins": alarm.signins,
    });
    if let (Some(map), serde_json::Value::Object(more)) = (detail.as_object_mut(), extra) {
        map.extend(more);
    }
    AuditEvent::new(at, actor, kind, None, None, detail)
}

/// Page `page` of `alarm` on every platform, as a new message in the alert channel.
pub(super) fn post_page(
    channels: &[Channels],
    policy: &Policy,
    alarm: &Alarm,
    page: i32,
) -> Vec<OutgoingMessage> {
    let remember = if page <= 1 { alarm_key(&alarm.id) } else { page_key(&alarm.id, page) };
    channels
        .iter()
        .map(|c| OutgoingMessage {
            platform: c.platform,
            target: Target::Channel { channel: c.alert.clone() },
            body: MessageBody::Alarm(Box::new(AlarmView::build(policy, alarm, c.platform, page))),
            order_key: alarm_key(&alarm.id),
            remember_as: Some(remember.clone()),
        })
        .collect()
}

/// Every page of `alarm` updated in place on every platform (buttons gone once acknowledged).
pub(super) fn update_pages(channels: &[Channels], policy: &Policy, alarm: &Alarm) -> Vec<OutgoingMessage> {
    let mut out = Vec::new();
    for page in 1..=alarm.pages.max(1) {
        let ref_key = if page == 1 { alarm_key(&alarm.id) } else { page_key(&alarm.id, page) };
        out.extend(channels.iter().map(|c| OutgoingMessage {
            platform: c.platform,
            target: Target::Replace { ref_key: ref_key.clone() },
            body: MessageBody::Alarm(Box::new(AlarmView::build(policy, alarm, c.platform, page))),
            order_key: alarm_key(&alarm.id),
            remember_as: None,
        }));
    }
    out
}

impl AccessService {
    /// Sets how often an unacknowledged alarm pages again (`[break_glass_monitor] repage_every`).
    pub fn with_repage_every(mut self, every: Duration) -> Self {
        self.repage_every = every;
        self
    }

    /// How often an unacknowledged alarm pages again.
    pub fn repage_every(&self) -> Duration {
        self.repage_every
    }

    /// Raises an alarm for `signin` (see [`Self::raise_all`]). Returns the alarm when a new
    /// one was raised; `None` for other accounts, for a sign-in already known (an Azure Monitor
    /// retry, or the same sign-in seen by the webhook and the poller) and for one that joined
    /// the account's open alarm.
    pub async fn raise(&self, signin: &SignIn) -> Result<Option<Alarm>> {
        let raised = self.raise_all(std::slice::from_ref(signin)).await?;
        Ok(raised.into_iter().find(|r| r.new).map(|r| r.alarm))
    }

    /// Pages every due, unacknowledged alarm again (at most `limit`); returns how many paged.
    pub async fn repage_due(&self, limit: i64) -> Result<usize> {
        let mut paged = 0;
        for alarm in self.store.due_alarm_pages(self.now(), limit).await? {
            match self.repage(alarm).await {
                Ok(()) => paged += 1,
                // Another replica paged it first, or someone acknowledged it meanwhile.
                Err(Error::Conflict(_)) => {}
                Err(e) => tracing::error!(error = %format!("{e:#}"), "re-paging an alarm failed; will retry"),
            }
        }
        Ok(paged)
    }

    async fn repage(&self, mut alarm: Alarm) -> Result<()> {
        let policy = self.policy();
        let now = self.now();
        let expected_version = alarm.version;
        alarm.pages += 1;
        alarm.next_page_at = Some(next_page_at(now, self.repage_every));
        let outbox = post_page(&self.channels, &policy, &alarm, alarm.pages);
        let event = audit(now, Actor::System, EventKind::BreakglassRepaged, &alarm, json!({}));
        self.commit(Commit {
            at: Some(now),
            alarms: vec![Write::Update { row: alarm, expected_version }],
            audit: vec![event],
            outbox,
            ..Commit::default()
        })
        .await
    }

    /// Whether `user` may acknowledge alarm `id` now (checked before the reason form opens; the
    /// same checks run again in [`Self::acknowledge`]).
    pub async fn precheck_ack(&self, user: &ChatUser, id: &AlarmId) -> Result<Alarm> {
        let policy = self.policy();
        may_acknowledge(&policy, &whois(&policy, user)?)?;
        let alarm = self.load_alarm(id).await?;
        if alarm.is_acknowledged() {
            return Err(Error::Conflict(already_acknowledged(&alarm)));
        }
        Ok(alarm)
    }

    /// Acknowledges alarm `id` with a reason (required): paging stops, every page is updated in
    /// place (no button; who, when and why shown), the feed is told, and it is audited.
    pub async fn acknowledge(&self, user: &ChatUser, id: &AlarmId, reason: Option<&str>) -> Result<Alarm> {
        let policy = self.policy();
        let now = self.now();
        let person = whois(&policy, user)?;
        may_acknowledge(&policy, &person)?;
        let reason = crate::core::text::field(
            crate::core::refusal::Field::Reason,
            reason.unwrap_or_default(),
            policy.max_justification,
        )?;
        let reason = ack_reason(Some(&reason)).ok_or_else(|| {
            Error::BadInput("a reason is required to acknowledge a break-glass alarm".into())
        })?;
        let mut alarm = self.load_alarm(id).await?;
        if alarm.is_acknowledged() {
            return Err(Error::Conflict(already_acknowledged(&alarm)));
        }
        let expected_version = alarm.version;
        alarm.acknowledged_by = Some(person.id.clone());
        alarm.acknowledged_at = Some(now);
        alarm.reason = Some(reason.clone());
        alarm.next_page_at = None;
        let mut outbox = update_pages(&self.channels, &policy, &alarm);
        outbox.extend(feed(
            &self.channels,
            &alarm_key(&alarm.id),
            &format!(
                "✅ {} acknowledged break-glass alarm {} ({}): {}",
                person.id,
                alarm.id,
                alarm.account_upn,
                crate::core::text::quote(&reason)
            ),
        ));
        let secs = (now - alarm.raised_at).num_seconds();
        let event = audit(
            now,
            Actor::Person(person.id.clone()),
            EventKind::BreakglassAcknowledged,
            &alarm,
            json!({"reason": reason, "time_to_ack_secs": secs}),
        );
        let committed = self
            .commit(Commit {
                at: Some(now),
                alarms: vec![Write::Update { row: alarm.clone(), expected_version }],
                audit: vec![event],
                outbox,
                ..Commit::default()
            })
            .await;
        match committed {
            Ok(()) => Ok(alarm),
            // A re-page raced us (the version moved): try once more on the fresh row; a lost
            // race against another acknowledgement reports who won.
            Err(Error::Conflict(msg)) => match self.store.alarm(id).await? {
                Some(fresh) if fresh.is_acknowledged() => Err(Error::Conflict(already_acknowledged(&fresh))),
                Some(fresh) if fresh.version != expected_version => {
                    Box::pin(self.acknowledge(user, id, Some(&reason))).await
                }
                _ => Err(Error::Conflict(msg)),
            },
            Err(e) => Err(e),
        }
    }

    async fn load_alarm(&self, id: &AlarmId) -> Result<Alarm> {
        self.store.alarm(id).await?.ok_or_else(|| Error::NotFound(format!("there is no alarm `{id}`")))
    }
}

/// Whether `person` may acknowledge alarms: one of `policy.acknowledgers` (by default the
/// approvers of the most critical roles). An empty list (no monitor configured) leaves it to
/// anyone known to the policy.
fn may_acknowledge(policy: &Policy, person: &crate::core::policy::Person) -> Result<()> {
    if policy.acknowledgers.is_empty() || policy.acknowledgers.contains(&person.id) {
        return Ok(());
    }
    Err(Error::NotAuthorized(
        "only the people listed in [break_glass_monitor] acknowledgers may acknowledge a break-glass \
         alarm; it keeps paging until one of them does"
            .into(),
    ))
}

/// "Already acknowledged" wording.
fn already_acknowledged(alarm: &Alarm) -> String {
    match (&alarm.acknowledged_by, &alarm.reason) {
        (Some(by), Some(reason)) => {
            format!("alarm `{}` was already acknowledged by {by}: {reason}", alarm.id)
        }
        _ => format!("alarm `{}` was already acknowledged", alarm.id),
    }
}
