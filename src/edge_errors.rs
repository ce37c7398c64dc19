//! The words of the edge for a failed use case, in one place: every adapter (Slack, Discord,
//! Teams, the sign-in pages, the web view, the webhooks) shows a user-facing error as it is and
//! an internal one only as an incident id, whose log line carries the cause chain.

use crate::core::Error;
use crate::core::ids::IncidentId;

/// Logs an internal error with its cause chain and returns the incident id shown to the user.
pub fn incident(err: &Error) -> IncidentId {
    let id = IncidentId::generate();
    tracing::error!(incident = %id, error = %format!("{err:#}"), "internal error");
    id
}

/// "Something went wrong on our side (incident …)." for an internal error (logged here).
pub fn internal(err: &Error) -> String {
    format!("Something went wrong on our side (incident {}).", incident(err))
}

/// "A service pimbot needs is unavailable; …" for a dependency that failed for now (logged
/// here).
pub fn unavailable(err: &Error) -> String {
    format!("A service pimbot needs is unavailable; try again shortly (incident {}).", incident(err))
}

/// The chat text for a failed use case: user-facing errors verbatim, internal ones as an
/// incident id (the cause is logged, never shown).
pub fn user_message(err: &Error) -> String {
    if err.is_user_facing() {
        format!("⚠️ {err}")
    } else {
        format!("⚠️ {} Please try again or tell your administrator.", internal(err))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_facing_errors_are_shown_and_internal_ones_only_as_an_incident() {
        let refused = Error::NotAuthorized("you cannot approve your own request".into());
        assert_eq!(user_message(&refused), "⚠️ you cannot approve your own request");
        let broken = Error::Internal(anyhow::anyhow!("database password is hunter2"));
        let text = user_message(&broken);
        assert!(text.starts_with("⚠️ Something went wrong on our side (incident inc-"), "{text}");
        assert!(text.ends_with("). Please try again or tell your administrator."), "{text}");
        assert!(!text.contains("hunter2"), "the cause is never shown: {text}");
        let down = Error::Unavailable(anyhow::anyhow!("Graph 503"));
        assert!(unavailable(&down).contains("(incident inc-"));
        assert!(!user_message(&down).contains("503"));
    }
}
