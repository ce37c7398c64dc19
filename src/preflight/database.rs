//! The database check: reachable, and migrated to exactly this binary's level.

use secrecy::ExposeSecret;

use super::Check;
use crate::config::Config;
use crate::storage::status::{StatusError, migration_status};

const SUBJECT: &str = "database";

/// Connects without creating or migrating anything and compares the applied migrations with
/// the ones this binary ships.
pub async fn check(config: &Config) -> Check {
    let Some(url) = config.database_url() else {
        return Check::fail(SUBJECT, "no database url: set [database] url or PIMBOT_DATABASE_URL");
    };
    let shown = config.database.redacted_url().unwrap_or_default();
    let status = match tokio::time::timeout(super::TIMEOUT, migration_status(url.expose_secret())).await {
        Err(_) => {
            return Check::fail(
                SUBJECT,
                format!(
                    "{shown} did not answer within {}s: check the host, port and that this machine may reach it",
                    super::TIMEOUT.as_secs()
                ),
            );
        }
        Ok(Err(StatusError::Missing(path))) => {
            return Check::fail(
                SUBJECT,
                format!(
                    "the SQLite file {path} does not exist: run `pimbot migrate` to create it, or fix [database] url"
                ),
            );
        }
        Ok(Err(StatusError::NoSchema)) => {
            return Check::fail(
                SUBJECT,
                format!(
                    "{shown} has no pimbot tables yet: run `pimbot migrate` (the Kubernetes init container does) before `pimbot serve`"
                ),
            );
        }
        Ok(Err(StatusError::Other(e))) => {
            return Check::fail(
                SUBJECT,
                format!(
                    "cannot open {shown} ({}): check PIMBOT_DATABASE_URL, the credentials and that the server admits this host",
                    root_cause(&e)
                ),
            );
        }
        Ok(Ok(status)) => status,
    };
    let (pending, unknown) = (status.pending(), status.unknown());
    if !status.failed.is_empty() {
        Check::fail(
            SUBJECT,
            format!(
                "migration {:?} failed part-way on {shown}: restore the backup taken before the upgrade, then run `pimbot migrate` again",
                status.failed
            ),
        )
    } else if !unknown.is_empty() {
        Check::fail(
            SUBJECT,
            format!(
                "{shown} has migrations {unknown:?} that this pimbot does not know (a newer version migrated it): run that newer version"
            ),
        )
    } else if !pending.is_empty() {
        Check::fail(
            SUBJECT,
            format!(
                "{shown} lacks migrations {pending:?}: run `pimbot migrate` (or start `pimbot serve`, which migrates) before traffic arrives"
            ),
        )
    } else {
        Check::ok(
            SUBJECT,
            format!("{} {shown}, all {} migrations applied", status.backend, status.known.len()),
        )
    }
}

/// The innermost cause, short enough for one sentence.
pub(super) fn root_cause(e: &anyhow::Error) -> String {
    let text = e.root_cause().to_string();
    text.lines().next().unwrap_or_default().chars().take(200).collect()
}
