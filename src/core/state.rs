//! The request state machine: one pure function decides every move, with the clock as a
//! parameter. Storage and chat never decide state; they only record what this returns.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::duration::format_duration;
use super::error::{Error, Result};

/// Where a request is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestState {
    /// Waiting for the requester's fresh MFA (roles with `require_mfa`); no card yet.
    AwaitingMfa,
    /// Waiting for approvals.
    Pending,
    /// Approved; the grant is being made.
    Approved,
    /// The grant exists.
    Active,
    /// The grant ended on time.
    Expired,
    /// The requester ended the grant early.
    Deactivated,
    /// An administrator or policy ended the grant.
    Revoked,
    /// An approver said no.
    Denied,
    /// The requester withdrew it.
    Cancelled,
    /// Nobody decided within `request_ttl`.
    TimedOut,
    /// The grant could not be made.
    Failed,
    /// An extension request replaced it while its grant continued; the grant now belongs to the
    /// newer request (one open request per person and role).
    Superseded,
}

impl RequestState {
    /// Every state, for tables and tests.
    pub const ALL: [RequestState; 12] = [
        RequestState::AwaitingMfa,
        RequestState::Pending,
        RequestState::Approved,
        RequestState::Active,
        RequestState::Expired,
        RequestState::Deactivated,
        RequestState::Revoked,
        RequestState::Denied,
        RequestState::Cancelled,
        RequestState::TimedOut,
        RequestState::Failed,
        RequestState::Superseded,
    ];

    /// snake_case name as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            RequestState::AwaitingMfa => "awaiting_mfa",
            RequestState::Pending => "pending",
            RequestState::Approved => "approved",
            RequestState::Active => "active",
            RequestState::Expired => "expired",
            RequestState::Deactivated => "deactivated",
            RequestState::Revoked => "revoked",
            RequestState::Denied => "denied",
            RequestState::Cancelled => "cancelled",
            RequestState::TimedOut => "timed_out",
            RequestState::Failed => "failed",
            RequestState::Superseded => "superseded",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// Whether the request can still change.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            RequestState::AwaitingMfa | RequestState::Pending | RequestState::Approved | RequestState::Active
        )
    }
}

impl fmt::Display for RequestState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RequestState::TimedOut => "timed out",
            RequestState::AwaitingMfa => "awaiting MFA",
            other => other.as_str(),
        })
    }
}

/// Something that happens to a request. Time-dependent actions carry the moment they depend on,
/// so `transition` can check it against `now` without reading a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// One more distinct approval; `approvals` is the count including this one.
    Approve {
        /// Approvals so far including this one.
        approvals: u32,
        /// Approvals the role needs.
        required: u32,
    },
    /// An approver said no.
    Deny,
    /// The requester withdrew it.
    Cancel,
    /// The approval window closed at `deadline`.
    TimeOut {
        /// When the request stops waiting.
        deadline: DateTime<Utc>,
    },
    /// The grant was made.
    Activate,
    /// The grant could not be made.
    Fail,
    /// The grant reached `ends_at`.
    Expire {
        /// Scheduled end of the grant.
        ends_at: DateTime<Utc>,
    },
    /// The requester ends it early; not before `hold_until`.
    Deactivate {
        /// Activation time plus `min_hold`.
        hold_until: DateTime<Utc>,
    },
    /// An administrator or a policy change ended it.
    Revoke,
    /// An extension request of the same person and role took over its grant.
    Supersede,
    /// The requester's fresh MFA arrived (step-up at activation); the request goes to the
    /// approvers.
    StepUp,
}

impl Action {
    /// How the action reads after "it cannot be …".
    pub fn past_tense(&self) -> &'static str {
        match self {
            Action::Approve { .. } => "approved",
            Action::Deny => "denied",
            Action::Cancel => "cancelled",
            Action::TimeOut { .. } => "timed out",
            Action::Activate => "activated",
            Action::Fail => "failed",
            Action::Expire { .. } => "expired",
            Action::Deactivate { .. } => "deactivated",
            Action::Revoke => "revoked",
            Action::Supersede => "superseded",
            Action::StepUp => "stepped up",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.past_tense())
    }
}

/// Decides the next state. Exhaustive on purpose: a new state or action must be placed here.
pub fn transition(state: RequestState, action: Action, now: DateTime<Utc>) -> Result<RequestState> {
    use Action as A;
    use RequestState as S;
    let refuse = || Err(Error::InvalidTransition { from: state, action });
    match (state, action) {
        (S::AwaitingMfa, A::StepUp) => Ok(S::Pending),
        (S::AwaitingMfa, A::Cancel) => Ok(S::Cancelled),
        // An unfinished step-up expires like an undecided request.
        (S::AwaitingMfa, A::TimeOut { deadline }) => {
            if now >= deadline {
                Ok(S::TimedOut)
            } else {
                refuse()
            }
        }
        (
            S::AwaitingMfa,
            A::Approve { .. }
            | A::Deny
            | A::Activate
            | A::Fail
            | A::Expire { .. }
            | A::Deactivate { .. }
            | A::Revoke
            | A::Supersede,
        ) => refuse(),
        (S::Pending, A::Approve { approvals, required }) => {
            Ok(if approvals >= required { S::Approved } else { S::Pending })
        }
        (S::Pending, A::Deny) => Ok(S::Denied),
        (S::Pending, A::Cancel) => Ok(S::Cancelled),
        (S::Pending, A::TimeOut { deadline }) => {
            if now >= deadline {
                Ok(S::TimedOut)
            } else {
                refuse()
            }
        }
        (S::Approved, A::Activate) => Ok(S::Active),
        (S::Approved, A::Fail) => Ok(S::Failed),
        (S::Approved, A::Cancel) => Ok(S::Cancelled),
        (S::Active, A::Expire { ends_at }) => {
            if now >= ends_at {
                Ok(S::Expired)
            } else {
                refuse()
            }
        }
        (S::Active, A::Deactivate { hold_until }) => {
            if now >= hold_until {
                Ok(S::Deactivated)
            } else {
                Err(Error::policy(
                    super::refusal::Rule::MinimumHold,
                    format!(
                        "too soon to deactivate: the role must be held for its minimum; try again in {}",
                        format_duration(hold_until - now)
                    ),
                ))
            }
        }
        (S::Active, A::Revoke) | (S::Approved, A::Revoke) => Ok(S::Revoked),
        (S::Active, A::Supersede) => Ok(S::Superseded),
        (
            S::Pending,
            A::Activate
            | A::Fail
            | A::Expire { .. }
            | A::Deactivate { .. }
            | A::Revoke
            | A::Supersede
            | A::StepUp,
        )
        | (
            S::Approved,
            A::Approve { .. }
            | A::Deny
            | A::TimeOut { .. }
            | A::Expire { .. }
            | A::Deactivate { .. }
            | A::Supersede
            | A::StepUp,
        )
        | (
            S::Active,
            A::Approve { .. } | A::Deny | A::Cancel | A::TimeOut { .. } | A::Activate | A::Fail | A::StepUp,
        )
        | (
            S::Expired
            | S::Deactivated
            | S::Revoked
            | S::Denied
            | S::Cancelled
            | S::TimedOut
            | S::Failed
            | S::Superseded,
            A::Approve { .. }
            | A::Deny
            | A::Cancel
            | A::TimeOut { .. }
            | A::Activate
            | A::Fail
            | A::Expire { .. }
            | A::Deactivate { .. }
            | A::Revoke
            | A::Supersede
            | A::StepUp,
        ) => refuse(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RequestState as S;
    use chrono::{Duration, TimeZone};

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 21, 12, 0, 0).single().expect("valid time")
    }

    fn actions(now: DateTime<Utc>) -> Vec<Action> {
        vec![
            Action::Approve { approvals: 1, required: 1 },
            Action::Deny,
            Action::Cancel,
            Action::TimeOut { deadline: now },
            Action::Activate,
            Action::Fail,
            Action::Expire { ends_at: now },
            Action::Deactivate { hold_until: now },
            Action::Revoke,
            Action::Supersede,
            Action::StepUp,
        ]
    }

    /// The full table: (from, action index in `actions`) -> expected next state.
    #[test]
    fn every_state_and_action() {
        let now = t0();
        let allowed: &[(S, usize, S)] = &[
            (S::Pending, 0, S::Approved),
            (S::Pending, 1, S::Denied),
            (S::Pending, 2, S::Cancelled),
            (S::Pending, 3, S::TimedOut),
            (S::Approved, 2, S::Cancelled),
            (S::Approved, 4, S::Active),
            (S::Approved, 5, S::Failed),
            (S::Approved, 8, S::Revoked),
            (S::Active, 6, S::Expired),
            (S::Active, 7, S::Deactivated),
            (S::Active, 8, S::Revoked),
            (S::Active, 9, S::Superseded),
            (S::AwaitingMfa, 2, S::Cancelled),
            (S::AwaitingMfa, 3, S::TimedOut),
            (S::AwaitingMfa, 10, S::Pending),
        ];
        for from in S::ALL {
            for (i, action) in actions(now).into_iter().enumerate() {
                let expected = allowed.iter().find(|(f, a, _)| *f == from && *a == i).map(|(_, _, to)| *to);
                let got = transition(from, action, now).ok();
                assert_eq!(got, expected, "{from:?} + {action:?}");
            }
        }
    }

    #[test]
    fn quorum_keeps_pending_until_reached() {
        let now = t0();
        assert_eq!(
            transition(S::Pending, Action::Approve { approvals: 1, required: 2 }, now).ok(),
            Some(S::Pending)
        );
        assert_eq!(
            transition(S::Pending, Action::Approve { approvals: 2, required: 2 }, now).ok(),
            Some(S::Approved)
        );
    }

    #[test]
    fn time_dependent_moves_wait_for_their_moment() {
        let now = t0();
        let later = now + Duration::minutes(5);
        assert!(transition(S::Pending, Action::TimeOut { deadline: later }, now).is_err());
        assert!(transition(S::Active, Action::Expire { ends_at: later }, now).is_err());
        let early = transition(S::Active, Action::Deactivate { hold_until: later }, now);
        match early {
            Err(Error::PolicyViolation(v)) => assert!(v.words.contains("5m"), "{v}"),
            other => panic!("expected a policy refusal, got {other:?}"),
        }
        assert_eq!(transition(S::Active, Action::Expire { ends_at: later }, later).ok(), Some(S::Expired));
    }

    #[test]
    fn an_unfinished_step_up_expires_only_at_its_deadline() {
        let now = t0();
        let later = now + Duration::minutes(10);
        assert!(transition(S::AwaitingMfa, Action::TimeOut { deadline: later }, now).is_err());
        assert_eq!(
            transition(S::AwaitingMfa, Action::TimeOut { deadline: later }, later).ok(),
            Some(S::TimedOut)
        );
        // Nobody approves a request before its requester's MFA, and only once.
        assert!(transition(S::AwaitingMfa, Action::Approve { approvals: 1, required: 1 }, now).is_err());
        assert!(transition(S::Pending, Action::StepUp, now).is_err());
        assert!(S::AwaitingMfa.is_open());
        assert_eq!(S::AwaitingMfa.as_str(), "awaiting_mfa");
    }

    #[test]
    fn states_round_trip_through_storage_names() {
        for s in S::ALL {
            assert_eq!(S::parse(s.as_str()), Some(s));
        }
        assert_eq!(S::parse("granted"), None);
    }
}
