//! The exit codes of every `pimbot` command, in one place (DESIGN.md §4b). Scripts and CI jobs
//! branch on them, so each outcome has its own code and no code means two things.

use std::process::ExitCode;

/// Success.
pub const OK: u8 = 0;
/// A runtime failure: the database, the network or the directory failed.
pub const RUNTIME: u8 = 1;
/// The command line itself is wrong (clap's own code for usage errors).
pub const USAGE: u8 = 2;
/// The config file or the policy in it is invalid.
pub const INVALID_CONFIG: u8 = 3;
/// A check ran and failed: `posture`, `audit verify`.
pub const CHECK_FAILED: u8 = 4;
/// Reconciliation found drift between the directory and pimbot's grants.
pub const DRIFT: u8 = 5;

/// A command line that parsed but cannot be acted on (a `--since` that is no duration, or
/// reaches before the calendar): reported as it is, exit [`USAGE`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// `code` as a process exit code.
pub fn code(code: u8) -> ExitCode {
    ExitCode::from(code)
}
