//! What the "Now" page shows: grants in force (and being made), requests waiting for a
//! decision with their age against the role's SLA, and break-glass alarms nobody has
//! acknowledged. Live rows come from the store; alarms are found through their
//! `breakglass.signin` audit events and read back from the store for their current state.

use chrono::{DateTime, Duration, Utc};

use crate::core::audit::EventKind;
use crate::core::error::Result;
use crate::core::ids::{AlarmId, Platform, RequestId};
use crate::core::policy::Policy;
use crate::core::ports::Store;
use crate::core::state::RequestState;

/// How many rows of each kind the page reads at most.
pub const NOW_LIMIT: i64 = 1000;

/// A person holding (or being given) a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Elevated {
    /// Holder.
    pub person: String,
    /// Role key.
    pub role: String,
    /// Role display name (the key when the role left the policy).
    pub role_name: String,
    /// Scope (directory scope of the role).
    pub scope: String,
    /// Since when.
    pub since: DateTime<Utc>,
    /// When it ends.
    pub ends_at: DateTime<Utc>,
    /// Time left at the page's `now`.
    pub left: Duration,
    /// Still being made in the directory.
    pub granting: bool,
    /// The request that made it.
    pub request: RequestId,
    /// A link to its card in chat, where pimbot knows one.
    pub card: Option<String>,
}

/// A request waiting for approvers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    /// Request id.
    pub request: RequestId,
    /// Requester.
    pub person: String,
    /// Role key.
    pub role: String,
    /// How long it has waited.
    pub age: Duration,
    /// The role's SLA.
    pub sla: Duration,
    /// Waited longer than the SLA.
    pub breached: bool,
    /// Approvals so far / needed.
    pub approvals: (usize, u32),
    /// A link to its card in chat.
    pub card: Option<String>,
}

/// An unacknowledged break-glass alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAlarm {
    /// Alarm id.
    pub id: AlarmId,
    /// The emergency account.
    pub account: String,
    /// When it signed in.
    pub at: DateTime<Utc>,
    /// `high` or `medium`.
    pub severity: String,
    /// Pages sent so far.
    pub pages: i32,
    /// A link to its first page in the alert channel.
    pub page_link: Option<String>,
}

/// The whole "Now" page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Now {
    /// When it was read.
    pub at: DateTime<Utc>,
    /// Grants in force, ending soonest first.
    pub elevated: Vec<Elevated>,
    /// Waiting requests, oldest first.
    pub waiting: Vec<Waiting>,
    /// Open alarms, newest first.
    pub alarms: Vec<OpenAlarm>,
}

impl Now {
    /// Waiting requests past their SLA.
    pub fn breached(&self) -> usize {
        self.waiting.iter().filter(|w| w.breached).count()
    }
}

/// A Slack permalink for a message (`archives/<channel>/p<ts without the dot>`); Discord links
/// need the server id, which pimbot does not keep.
pub fn card_link(platform: Platform, channel: &str, message_id: &str) -> Option<String> {
    match platform {
        Platform::Slack => {
            Some(format!("https://slack.com/archives/{channel}/p{}", message_id.replace('.', "")))
        }
        Platform::Discord | Platform::Teams => None,
    }
}

async fn card(store: &dyn Store, request: &RequestId) -> Result<Option<String>> {
    posted(store, &format!("card:{request}")).await
}

async fn posted(store: &dyn Store, key: &str) -> Result<Option<String>> {
    Ok(store
        .posted_ref(Platform::Slack, key)
        .await?
        .and_then(|r| card_link(r.platform, &r.channel, &r.message_id)))
}

/// Reads the page at `now`.
pub async fn read(store: &dyn Store, policy: &Policy, now: DateTime<Utc>) -> Result<Now> {
    let mut elevated = Vec::new();
    for g in store.open_grants(NOW_LIMIT).await? {
        let role = policy.roles.iter().find(|r| r.key == g.role);
        let scope = g
            .target
            .as_ref()
            .map(|t| t.scope.clone())
            .or_else(|| role.map(|r| r.scope.clone()))
            .unwrap_or_default();
        elevated.push(Elevated {
            person: g.person.to_string(),
            role: g.role.to_string(),
            role_name: role.map_or_else(|| g.role.to_string(), |r| r.name.clone()),
            scope,
            since: g.starts_at,
            ends_at: g.ends_at,
            left: (g.ends_at - now).max(Duration::zero()),
            granting: g.granting,
            card: card(store, &g.request_id).await?,
            request: g.request_id,
        });
    }
    elevated.sort_by_key(|e| e.ends_at);
    let mut waiting = Vec::new();
    for r in store.requests_in_flight(NOW_LIMIT).await? {
        if r.state != RequestState::Pending {
            continue;
        }
        let role = policy.roles.iter().find(|x| x.key == r.role);
        let sla = role.map_or_else(Duration::zero, |x| x.sla);
        let age = (now - r.created_at).max(Duration::zero());
        waiting.push(Waiting {
            person: r.requester.to_string(),
            role: r.role.to_string(),
            age,
            sla,
            breached: sla > Duration::zero() && age > sla,
            approvals: (r.approvals.len(), role.map_or(1, |x| x.approvals_required)),
            card: card(store, &r.id).await?,
            request: r.id,
        });
    }
    waiting.sort_by_key(|w| std::cmp::Reverse(w.age));
    let mut alarms = Vec::new();
    for rec in store.audit_records(None).await?.iter().rev() {
        if rec.event.kind != EventKind::BreakglassSignin {
            continue;
        }
        let Some(id) = rec.event.detail.get("alarm_id").and_then(|v| v.as_str()) else { continue };
        let Some(alarm) = store.alarm(&AlarmId(id.to_owned())).await? else { continue };
        if alarm.is_acknowledged() {
            continue;
        }
        let page_link = posted(store, &crate::core::alarm::alarm_key(&alarm.id)).await?;
        alarms.push(OpenAlarm {
            page_link,
            id: alarm.id,
            account: alarm.account_upn,
            at: alarm.at,
            severity: alarm.severity.as_str().to_owned(),
            pages: alarm.pages,
        });
    }
    Ok(Now { at: now, elevated, waiting, alarms })
}
