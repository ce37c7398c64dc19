//! Rows for seeding a store directly: an active grant with the request it came from, as the
//! expiry benchmark and the expiry tests store them by the thousand.

use chrono::{DateTime, Utc};

use crate::core::ids::{GrantId, Platform, RequestId};
use crate::core::ports::{Commit, Write};
use crate::core::request::{AccessRequest, Grant, NudgeStage};
use crate::core::state::RequestState;

/// Adds to `commit` an active request `r-{key}` and its open grant `g-{key}` of `role` for
/// `person`, granted at `started` and ending at `ends`.
pub fn push_active_grant(
    commit: &mut Commit,
    key: &str,
    person: &str,
    role: &str,
    started: DateTime<Utc>,
    ends: DateTime<Utc>,
) {
    let (id, grant_id) = (RequestId(format!("r-{key}")), GrantId(format!("g-{key}")));
    commit.requests.push(Write::Insert(AccessRequest {
        id: id.clone(),
        requester: person.into(),
        role: role.into(),
        duration: ends - started,
        justification: "seeded".into(),
        ticket: None,
        state: RequestState::Active,
        version: 1,
        origin: Platform::Slack,
        created_at: started,
        decided_at: Some(started),
        decided_by: None,
        reason: None,
        approvals: vec![],
        nudge_stage: NudgeStage::None,
        next_nudge_at: None,
        grant_id: Some(grant_id.clone()),
        starts_at: None,
        activation_lease_until: None,
    }));
    commit.grants.push(Write::Insert(Grant {
        id: grant_id,
        request_id: id,
        person: person.into(),
        role: role.into(),
        starts_at: started,
        ends_at: ends,
        ended_at: None,
        end_reason: None,
        version: 1,
        target: None,
        granting: false,
    }));
}
