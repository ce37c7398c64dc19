//! The break-glass alarm as people see it: [`AlarmView`] and where it stands ([`AlarmStatus`]),
//! for the first page and every repeat.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::PersonRef;
use crate::core::alarm::Alarm;
use crate::core::ids::{AlarmId, Platform};
use crate::core::policy::Policy;

/// Where a break-glass alarm stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum AlarmStatus {
    /// Nobody acknowledged it yet: it keeps paging and shows the acknowledge button.
    Open,
    /// Acknowledged: no button, who/when/why shown.
    Acknowledged {
        /// Who.
        by: PersonRef,
        /// When.
        at: DateTime<Utc>,
        /// Why.
        reason: String,
    },
}

/// A break-glass alarm as posted to the alert channel (first page and every repeat).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlarmView {
    /// Alarm id (the acknowledge button's value).
    pub alarm_id: AlarmId,
    /// One line without mentions: what happened to which account.
    pub headline: String,
    /// The break-glass account.
    pub account: String,
    /// When the sign-in happened.
    pub at: DateTime<Utc>,
    /// Client IP.
    pub ip: Option<String>,
    /// Location.
    pub location: Option<String>,
    /// Application.
    pub app: Option<String>,
    /// Client.
    pub client: Option<String>,
    /// Conditional Access status.
    pub ca_status: Option<String>,
    /// Successful sign-in (true) or failed attempt (false, lower severity).
    pub succeeded: bool,
    /// `high` or `medium`.
    pub severity: String,
    /// Which page this message is: 1 for the alarm itself, 2… for repeats.
    pub page: i32,
    /// Open or acknowledged.
    pub status: AlarmStatus,
    /// How many sign-ins the alarm stands for (`at`, `ip`… are the latest's).
    #[serde(default = "one")]
    pub signins: i32,
    /// When the first of them happened (absent in messages queued before coalescing).
    #[serde(default)]
    pub first_at: Option<DateTime<Utc>>,
}

fn one() -> i32 {
    1
}

impl AlarmView {
    /// The view of `alarm` as page `page`, with people shown for `platform`.
    pub fn build(policy: &Policy, alarm: &Alarm, platform: Platform, page: i32) -> Self {
        let status = match (&alarm.acknowledged_by, alarm.acknowledged_at) {
            (Some(by), Some(at)) => AlarmStatus::Acknowledged {
                by: PersonRef::of(policy, by, platform),
                at,
                reason: alarm.reason.clone().unwrap_or_default(),
            },
            _ => AlarmStatus::Open,
        };
        Self {
            alarm_id: alarm.id.clone(),
            headline: alarm.headline(),
            account: alarm.account_upn.clone(),
            at: alarm.at,
            ip: alarm.ip.clone(),
            location: alarm.location.clone(),
            app: alarm.app.clone(),
            client: alarm.client.clone(),
            ca_status: alarm.ca_status.clone(),
            succeeded: alarm.succeeded,
            severity: alarm.severity.as_str().into(),
            page,
            status,
            signins: alarm.signins,
            first_at: Some(alarm.first_at),
        }
    }

    /// "1500 sign-ins since 14:04:49 UTC" when it stands for more than one, else `None`.
    pub fn count_line(&self) -> Option<String> {
        (self.signins > 1).then(|| {
            let since = self.first_at.map(|t| format!(" since {}", t.format("%Y-%m-%d %H:%M:%S UTC")));
            format!("{} sign-ins{}; the latest is shown", self.signins, since.unwrap_or_default())
        })
    }

    /// Whether it still pages (and shows the acknowledge button).
    pub fn is_open(&self) -> bool {
        self.status == AlarmStatus::Open
    }

    /// One-line fallback text (no mentions; adapters add the channel page while open).
    pub fn summary(&self) -> String {
        let repeat = if self.page > 1 { format!(" (page {})", self.page) } else { String::new() };
        match &self.status {
            AlarmStatus::Open => format!("{}{repeat} — alarm {}", self.headline, self.alarm_id),
            AlarmStatus::Acknowledged { by, reason, .. } => {
                format!("{} — acknowledged by {}: {reason}", self.headline, by.name)
            }
        }
    }
}
