//! Tier defaults: what a `[[role]]` gets for each key it leaves out. The numbers are the PIM
//! model's (DESIGN.md §2) and are repeated in `examples/pimbot.toml`; change both together.
//!
//! | key                     | critical | high  | standard |
//! |-------------------------|----------|-------|----------|
//! | `min_duration`          | 5m       | 5m    | 5m       |
//! | `max_duration`          | 2h       | 4h    | 8h       |
//! | `require_justification` | true     | true  | true     |
//! | `require_ticket`        | true     | false | false    |
//! | `approvals_required`    | 1        | 1     | 0        |
//! | `disjoint_approvers`    | true     | false | false    |
//! | `sla`                   | 5m       | 15m   | 30m      |
//! | `request_ttl`           | 1h       | 4h    | 8h       |
//! | `min_hold`              | 5m       | 5m    | 5m       |
//! | `require_mfa`           | true     | true  | false    |
//! | `approver_mfa`          | true     | false | false    |
//! | `mfa_max_age`           | 5m       | 5m    | 5m       |
//!
//! A default `min_duration` never exceeds the role's `max_duration`: a role with
//! `max_duration = "60s"` and no `min_duration` gets a minimum of 60s, not an impossible 5m.

use chrono::Duration;

use crate::core::identity::DEFAULT_MFA_MAX_AGE;
use crate::core::policy::Tier;

/// Default shortest activation, for every tier.
pub const DEFAULT_MIN_DURATION: Duration = Duration::minutes(5);
/// Default early-deactivation hold, for every tier.
pub const DEFAULT_MIN_HOLD: Duration = Duration::minutes(5);

/// The values a role of a tier gets for the keys it omits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TierDefaults {
    /// Shortest activation.
    pub min_duration: Duration,
    /// Longest activation.
    pub max_duration: Duration,
    /// Whether a justification is required.
    pub require_justification: bool,
    /// Whether a ticket is required.
    pub require_ticket: bool,
    /// Distinct approvals needed.
    pub approvals_required: u32,
    /// Whether eligible people are barred from approving.
    pub disjoint_approvers: bool,
    /// Approval SLA.
    pub sla: Duration,
    /// Pending request time-out.
    pub request_ttl: Duration,
    /// Early-deactivation hold.
    pub min_hold: Duration,
    /// Whether requests wait for the requester's fresh MFA.
    pub require_mfa: bool,
    /// Whether approvals need the approver's fresh MFA.
    pub approver_mfa: bool,
    /// How old the MFA behind a step-up may be.
    pub mfa_max_age: Duration,
}

/// The defaults for `tier`.
pub fn defaults(tier: Tier) -> TierDefaults {
    match tier {
        Tier::Critical => TierDefaults {
            min_duration: DEFAULT_MIN_DURATION,
            max_duration: Duration::hours(2),
            require_justification: true,
            require_ticket: true,
            approvals_required: 1,
            disjoint_approvers: true,
            sla: Duration::minutes(5),
            request_ttl: Duration::hours(1),
            min_hold: DEFAULT_MIN_HOLD,
            require_mfa: true,
            approver_mfa: true,
            mfa_max_age: DEFAULT_MFA_MAX_AGE,
        },
        Tier::High => TierDefaults {
            min_duration: DEFAULT_MIN_DURATION,
            max_duration: Duration::hours(4),
            require_justification: true,
            require_ticket: false,
            approvals_required: 1,
            disjoint_approvers: false,
            sla: Duration::minutes(15),
            request_ttl: Duration::hours(4),
            min_hold: DEFAULT_MIN_HOLD,
            require_mfa: true,
            approver_mfa: false,
            mfa_max_age: DEFAULT_MFA_MAX_AGE,
        },
        Tier::Standard => TierDefaults {
            min_duration: DEFAULT_MIN_DURATION,
            max_duration: Duration::hours(8),
            require_justification: true,
            require_ticket: false,
            approvals_required: 0,
            disjoint_approvers: false,
            sla: Duration::minutes(30),
            request_ttl: Duration::hours(8),
            min_hold: DEFAULT_MIN_HOLD,
            require_mfa: false,
            approver_mfa: false,
            mfa_max_age: DEFAULT_MFA_MAX_AGE,
        },
    }
}
