//! The core error type. User-facing variants are safe to show in chat; `Internal` is logged with
//! its cause chain and shown only as an incident id.

use super::refusal::{Field, Rule, Violation};
use super::state::{Action, RequestState};

/// Everything a use case can refuse or fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The caller may not do this (not eligible, not an approver, the requester themself).
    #[error("{0}")]
    NotAuthorized(String),
    /// The request breaks a policy rule (duration bounds, missing justification or ticket);
    /// the value names the rule and the input it concerns.
    #[error("{0}")]
    PolicyViolation(Violation),
    /// The request is not in a state that allows the action.
    #[error("request is {from}; it cannot be {}", action.past_tense())]
    InvalidTransition {
        /// The state the request was in.
        from: RequestState,
        /// What was attempted.
        action: Action,
    },
    /// Someone else changed the same row first (compare-and-set lost).
    #[error("{0}")]
    Conflict(String),
    /// No such role, request, person or grant.
    #[error("{0}")]
    NotFound(String),
    /// The command text could not be understood.
    #[error("{0}")]
    BadInput(String),
    /// One named input cannot be taken as typed (too long); like [`Error::BadInput`], but a
    /// form can show it beside that input.
    #[error("{0}")]
    BadField(Violation),
    /// A dependency (the directory) is unavailable for now: throttled, failing with 5xx or
    /// unreachable. Repeating the same call later may succeed. Never shown to users verbatim.
    #[error("temporarily unavailable: {0:#}")]
    Unavailable(anyhow::Error),
    /// Anything else: storage, directory or network failures. Never shown to users verbatim.
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Error {
    /// Whether the message may be shown to a chat user as is.
    pub fn is_user_facing(&self) -> bool {
        !matches!(self, Error::Internal(_) | Error::Unavailable(_))
    }

    /// A policy refusal by `rule`, worded `words`.
    pub fn policy(rule: Rule, words: impl Into<String>) -> Self {
        Error::PolicyViolation(Violation::new(rule, words))
    }

    /// The input a refusal concerns, when it concerns one (policy rules and named inputs; any
    /// other refusal concerns none).
    pub fn field(&self) -> Option<Field> {
        match self {
            Error::PolicyViolation(v) | Error::BadField(v) => v.field(),
            _ => None,
        }
    }

    /// Whether repeating the same call later may succeed (see [`Error::Unavailable`]).
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable(_))
    }
}

/// Result with the core error.
pub type Result<T, E = Error> = std::result::Result<T, E>;
