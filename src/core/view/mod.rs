//! Platform-neutral views: what a card or notice says, never how Block Kit or an embed spells it.
//! Views are built per platform because mentions carry that platform's user ids. The approval
//! card and notices are here; `alarm` holds the break-glass alarm, `review` the access-review
//! and renewal cards.

mod alarm;
mod review;

use serde::{Deserialize, Serialize};

use super::duration::format_duration;
use super::ids::{Platform, RequestId};
use super::policy::{Policy, Role};
use super::request::AccessRequest;
use super::state::RequestState;

pub use alarm::{AlarmStatus, AlarmView};
pub use review::{RenewalCardView, ReviewCardView, ReviewStatus};

/// A person as shown on one platform: a display name and, when known, their user id there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonRef {
    /// Policy id or UPN, shown when no mention is possible.
    pub name: String,
    /// User id on the message's platform, rendered as a mention.
    pub chat_id: Option<String>,
}

impl PersonRef {
    /// The person with `id` on `platform`, falling back to the bare id.
    pub fn of(policy: &Policy, id: &super::ids::PersonId, platform: Platform) -> Self {
        let person = policy.person(id);
        Self { name: id.to_string(), chat_id: person.and_then(|p| p.chat_id(platform)).map(str::to_owned) }
    }
}

/// Where a decided card stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum CardStatus {
    /// Waiting for approvals: buttons shown.
    Open,
    /// Approved by these people.
    Approved {
        /// Approvers in order.
        by: Vec<PersonRef>,
    },
    /// Denied.
    Denied {
        /// Who denied.
        by: PersonRef,
        /// Why.
        reason: Option<String>,
    },
    /// Withdrawn by the requester.
    Cancelled,
    /// Cancelled by pimbot on the policy's behalf (its role was removed).
    Withdrawn {
        /// Why.
        reason: String,
    },
    /// Nobody decided in time.
    TimedOut,
    /// Approved; the directory failed for now and the grant is being retried.
    Retrying {
        /// Approvers in order.
        by: Vec<PersonRef>,
    },
    /// Approved, but the grant could not be made.
    GrantFailed {
        /// Approvers in order.
        by: Vec<PersonRef>,
        /// Why, in words.
        reason: Option<String>,
    },
}

/// The approval card posted to the approver channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardView {
    /// Request id (also the button value).
    pub request_id: RequestId,
    /// Who asked.
    pub requester: PersonRef,
    /// Role key.
    pub role_key: String,
    /// Role display name.
    pub role_name: String,
    /// Scope.
    pub scope: String,
    /// Tier name.
    pub tier: String,
    /// Requested duration, human form.
    pub duration: String,
    /// Justification.
    pub justification: String,
    /// Ticket.
    pub ticket: Option<String>,
    /// Approvals so far.
    pub approvals: Vec<PersonRef>,
    /// Approvals needed.
    pub approvals_required: u32,
    /// SLA, human form.
    pub sla: String,
    /// Approvers who may decide (mentioned on the card; never the requester).
    pub approvers: Vec<PersonRef>,
    /// Decision state.
    pub status: CardStatus,
}

impl CardView {
    /// Builds the card for `request` as it stands, for `platform`.
    pub fn build(
        policy: &Policy,
        role: &Role,
        request: &AccessRequest,
        platform: Platform,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Self {
        let who = |id| PersonRef::of(policy, id, platform);
        let approvals: Vec<PersonRef> = request.approvals.iter().map(|a| who(&a.approver)).collect();
        let status = match request.state {
            // A card is never posted before the requester's step-up; the arm is for completeness.
            RequestState::Pending | RequestState::AwaitingMfa => CardStatus::Open,
            RequestState::Denied => CardStatus::Denied {
                by: request
                    .decided_by
                    .as_ref()
                    .map(who)
                    .unwrap_or(PersonRef { name: "system".into(), chat_id: None }),
                reason: request.reason.clone(),
            },
            RequestState::Cancelled if request.decided_by.is_none() => {
                CardStatus::Withdrawn { reason: request.reason.clone().unwrap_or_default() }
            }
            RequestState::Cancelled => CardStatus::Cancelled,
            RequestState::TimedOut => CardStatus::TimedOut,
            // An approved request carries a reason only while its grant is being retried.
            RequestState::Approved if request.reason.is_some() => {
                CardStatus::Retrying { by: approvals.clone() }
            }
            RequestState::Failed => {
                CardStatus::GrantFailed { by: approvals.clone(), reason: request.reason.clone() }
            }
            RequestState::Approved
            | RequestState::Active
            | RequestState::Expired
            | RequestState::Deactivated
            | RequestState::Revoked
            | RequestState::Superseded => CardStatus::Approved { by: approvals.clone() },
        };
        Self {
            request_id: request.id.clone(),
            requester: who(&request.requester),
            role_key: role.key.to_string(),
            role_name: role.name.clone(),
            scope: role.scope.clone(),
            tier: role.tier.as_str().into(),
            duration: match request.starts_at {
                Some(s) => format!(
                    "{} starting {}",
                    format_duration(request.duration),
                    super::schedule::format_start(s)
                ),
                None => format_duration(request.duration),
            },
            justification: request.justification.clone(),
            ticket: request.ticket.clone(),
            approvals,
            approvals_required: role.approvals_required,
            sla: format_duration(role.sla),
            approvers: role.approver_pool(&request.requester, now).iter().map(who).collect(),
            status,
        }
    }

    /// One-line fallback text for notifications.
    pub fn summary(&self) -> String {
        format!(
            "PIM request {}: {} wants {} for {}",
            self.request_id, self.requester.name, self.role_name, self.duration
        )
    }
}

/// A plain notice: feed lines, requester messages, reminders, refusals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// The text, with `{mentions}` rendered before it by the adapter.
    pub text: String,
    /// People to mention (user ids on the message's platform).
    pub mentions: Vec<String>,
    /// Whether to page the whole channel (`<!channel>` / `@everyone`).
    pub page_channel: bool,
}

impl Notice {
    /// A notice with no mentions.
    pub fn text(text: impl Into<String>) -> Self {
        Self { text: text.into(), mentions: Vec::new(), page_channel: false }
    }

    /// A notice mentioning people.
    pub fn mentioning(text: impl Into<String>, mentions: Vec<String>) -> Self {
        Self { text: text.into(), mentions, page_channel: false }
    }
}

/// What a message says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MessageBody {
    /// An approval card.
    Card(Box<CardView>),
    /// A notice.
    Notice(Notice),
    /// A break-glass alarm (pages the channel while open).
    Alarm(Box<AlarmView>),
    /// An access-review card with Keep / Remove.
    Review(Box<ReviewCardView>),
    /// A renewal request (`/pim renew`) with Approve / Deny.
    Renewal(Box<RenewalCardView>),
}

impl MessageBody {
    /// Fallback text.
    pub fn summary(&self) -> String {
        match self {
            MessageBody::Card(c) => c.summary(),
            MessageBody::Notice(n) => super::text::plain(&n.text),
            MessageBody::Alarm(a) => a.summary(),
            MessageBody::Review(r) => r.summary(),
            MessageBody::Renewal(r) => r.summary(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::ids::PersonId;
    use crate::core::policy::{Eligibility, Person, RoleKind, Tier};
    use crate::core::request::{Approval, NudgeStage};
    use chrono::{Duration, TimeZone, Utc};

    #[test]
    fn card_leaves_the_requester_out_of_the_approver_mentions() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).single().expect("valid");
        let person = |id: &str, slack: &str| Person {
            id: id.into(),
            upn: format!("{id}@contoso.com"),
            object_id: None,
            slack: Some(slack.into()),
            discord: None,
            timezone: None,
        };
        let policy =
            Policy { people: vec![person("alice", "UA"), person("carol", "UC")], ..Policy::default() };
        let role = Role {
            key: "ga".into(),
            name: "Global Administrator".into(),
            kind: RoleKind::EntraRole,
            directory_id: "x".into(),
            scope: "/".into(),
            tier: Tier::Critical,
            min_duration: Duration::minutes(5),
            max_duration: Duration::hours(2),
            require_justification: true,
            require_ticket: false,
            approvals_required: 2,
            approvers: vec![PersonId::from("alice"), PersonId::from("carol")],
            disjoint_approvers: false,
            sla: Duration::minutes(5),
            escalate_to: vec![],
            request_ttl: Duration::hours(1),
            min_hold: Duration::minutes(5),
            require_mfa: false,
            approver_mfa: false,
            mfa_max_age: Duration::minutes(5),
            auth_context: None,
            max_start_ahead: crate::core::schedule::DEFAULT_MAX_START_AHEAD,
            oncall: None,
            eligible: vec![Eligibility { person: "alice".into(), until: None }],
            owners: vec![],
            alerts: crate::core::alerts::RoleAlerts::tier_default(Tier::Critical),
            warn_before: crate::core::policy::DEFAULT_WARN_BEFORE,
        };
        let request = AccessRequest {
            id: "r-1".into(),
            requester: "alice".into(),
            role: "ga".into(),
            duration: Duration::hours(1),
            justification: "fix".into(),
            ticket: Some("INC-1".into()),
            state: RequestState::Pending,
            version: 1,
            origin: Platform::Slack,
            created_at: now,
            decided_at: None,
            decided_by: None,
            reason: None,
            approvals: vec![Approval { approver: "carol".into(), at: now }],
            nudge_stage: NudgeStage::None,
            next_nudge_at: None,
            grant_id: None,
            starts_at: None,
            activation_lease_until: None,
        };
        let card = CardView::build(&policy, &role, &request, Platform::Slack, now);
        assert_eq!(card.approvers.iter().map(|p| p.name.as_str()).collect::<Vec<_>>(), ["carol"]);
        assert_eq!(card.requester.chat_id.as_deref(), Some("UA"));
        assert_eq!(card.approvals.len(), 1);
        assert_eq!(card.status, CardStatus::Open);
        assert_eq!(card.duration, "1h");
    }
}
