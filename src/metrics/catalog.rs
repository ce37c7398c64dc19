//! What exists before the first event: `pimbot_build_info`, and every counter with its bounded
//! label sets at zero, so a rule using `increase()` or `rate()` sees the first event (a series
//! that appears at 1 has no earlier sample to increase from).

use metrics::{counter, gauge};

use super::{BUILD_INFO, CHAT_API_CALLS_TOTAL, DIRECTORY_CALLS_TOTAL, REQUESTS_TOTAL};
use crate::core::policy::Policy;

/// Request outcomes counted in `pimbot_requests_total`.
pub const OUTCOMES: &[&str] = &["submitted", "approved", "denied", "cancelled", "timed_out", "failed"];
/// Directory operations counted in `pimbot_directory_calls_total`.
pub const DIRECTORY_OPS: &[&str] =
    &["grant", "revoke", "eligibility", "list_assignments", "remove_assignment", "lookup_user"];
/// Slack Web API methods pimbot calls.
pub const SLACK_METHODS: &[&str] =
    &["chat.postMessage", "chat.update", "chat.postEphemeral", "views.open", "response_url"];
/// Discord routes pimbot calls (the `method` label).
pub const DISCORD_METHODS: &[&str] =
    &["POST /channels/{id}/messages", "PATCH /channels/{id}/messages/{id}", "POST /users/@me/channels"];

/// The commit pimbot was built from: `PIMBOT_GIT_COMMIT` at build time (the Dockerfile passes
/// it as a build argument), else `unknown`.
pub const COMMIT: &str = match option_env!("PIMBOT_GIT_COMMIT") {
    Some(commit) => commit,
    None => "unknown",
};

/// Sets `pimbot_build_info{version,commit} 1`.
pub fn build_info() {
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "commit" => COMMIT).set(1.0);
}

/// Registers every counter series the running app can produce with bounded labels, at zero:
/// requests by role and outcome for the policy's roles, directory calls of `directory` by
/// operation and outcome, and successful chat calls of the enabled `platforms`. Counters that
/// already exist keep their value. Called at start and after a policy reload.
pub fn register(policy: &Policy, directory: &'static str, platforms: &[&'static str]) {
    for role in &policy.roles {
        for outcome in OUTCOMES {
            counter!(REQUESTS_TOTAL, "role" => role.key.as_str().to_owned(), "outcome" => *outcome)
                .increment(0);
        }
    }
    for op in DIRECTORY_OPS {
        for outcome in ["ok", "error"] {
            counter!(DIRECTORY_CALLS_TOTAL, "directory" => directory, "op" => *op, "outcome" => outcome)
                .increment(0);
        }
    }
    for platform in platforms {
        counter!(super::COMMANDS_LIMITED_TOTAL, "platform" => *platform).increment(0);
        if *platform == "teams" {
            counter!(super::CHAT_REPOSTS_IN_DOUBT_TOTAL, "platform" => *platform).increment(0);
        }
        let methods = if *platform == "slack" { SLACK_METHODS } else { DISCORD_METHODS };
        for method in methods {
            counter!(CHAT_API_CALLS_TOTAL, "platform" => *platform, "method" => *method, "status" => "ok")
                .increment(0);
        }
    }
}
