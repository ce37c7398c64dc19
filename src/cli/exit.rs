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

/// A config file that cannot be read or parsed, or a config or policy that fails validation:
/// exit [`INVALID_CONFIG`]. The message is complete (path, line, key).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InvalidConfig(pub String);

/// A command line that parsed but cannot run as given (a missing `--config`): exit [`USAGE`].
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// The exit code for a failed command: [`INVALID_CONFIG`] or [`USAGE`] when the error chain
/// says so, [`OK`] for a closed output pipe (`pimbot audit export | head -1` is not a failure),
/// otherwise [`RUNTIME`].
pub fn for_error(err: &anyhow::Error) -> u8 {
    if is_broken_pipe(err) {
        OK
    } else if err.chain().any(|e| e.is::<InvalidConfig>()) {
        INVALID_CONFIG
    } else if err.chain().any(|e| e.is::<Usage>()) {
        USAGE
    } else {
        RUNTIME
    }
}

/// Whether the error comes from writing to a pipe whose reader has gone.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_distinct_codes() {
        let pipe = anyhow::Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(for_error(&pipe.context("writing the export")), OK);
        assert_eq!(for_error(&anyhow::Error::from(InvalidConfig("bad".into())).context("x")), INVALID_CONFIG);
        assert_eq!(for_error(&anyhow::Error::from(Usage("no --config".into()))), USAGE);
        assert_eq!(for_error(&anyhow::anyhow!("database down")), RUNTIME);
        let distinct: std::collections::BTreeSet<u8> =
            [OK, RUNTIME, USAGE, INVALID_CONFIG, CHECK_FAILED, DRIFT].into_iter().collect();
        assert_eq!(distinct.len(), 6, "no code means two things");
    }
}
