//! The schema level of a database, read without changing it (`pimbot check --online`): which
//! of the migrations embedded in this binary are applied, and whether the database holds
//! migrations this binary does not know (it was migrated by a newer pimbot).

use std::str::FromStr;

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, PgConnection, SqliteConnection};

use super::is_postgres_url;

/// What a database holds against what this binary ships.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// `"sqlite"` or `"postgres"`.
    pub backend: &'static str,
    /// Versions recorded as applied successfully.
    pub applied: Vec<i64>,
    /// Versions embedded in this binary.
    pub known: Vec<i64>,
    /// Versions recorded as failed part-way (`success = false`).
    pub failed: Vec<i64>,
}

impl MigrationStatus {
    /// Known versions not applied yet (`pimbot migrate` applies them).
    pub fn pending(&self) -> Vec<i64> {
        self.known.iter().copied().filter(|v| !self.applied.contains(v)).collect()
    }

    /// Applied versions this binary does not ship (a newer pimbot migrated the database).
    pub fn unknown(&self) -> Vec<i64> {
        self.applied.iter().copied().filter(|v| !self.known.contains(v)).collect()
    }
}

/// Why the status could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// The SQLite file does not exist (nothing created it yet).
    #[error("the SQLite file {0} does not exist")]
    Missing(String),
    /// The database answers but has no migrations table.
    #[error("the database has no pimbot schema")]
    NoSchema,
    /// Connecting or reading failed.
    #[error(transparent)]
    Other(#[from] anyhow::Error),
}

/// Reads the applied migrations of the database at `url` without creating or migrating it.
pub async fn migration_status(url: &str) -> Result<MigrationStatus, StatusError> {
    let query = "SELECT version, success FROM _sqlx_migrations ORDER BY version";
    let (backend, rows, migrator): (_, Vec<(i64, bool)>, &Migrator) = if is_postgres_url(url) {
        let mut conn = PgConnection::connect(url).await.context("connecting to PostgreSQL")?;
        let exists: Option<String> = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations')::text")
            .fetch_one(&mut conn)
            .await
            .context("reading the schema")?;
        if exists.is_none() {
            return Err(StatusError::NoSchema);
        }
        let rows = sqlx::query_as(query).fetch_all(&mut conn).await.context("reading _sqlx_migrations")?;
        let _ = conn.close().await;
        ("postgres", rows, &super::postgres::MIGRATOR)
    } else {
        let options = SqliteConnectOptions::from_str(url)
            .with_context(|| format!("parsing the SQLite URL {url:?}"))?
            .create_if_missing(false)
            .read_only(true);
        let path = options.get_filename().display().to_string();
        if !options.get_filename().exists() {
            return Err(StatusError::Missing(path));
        }
        let mut conn = SqliteConnection::connect_with(&options).await.context("opening the SQLite file")?;
        let exists: Option<String> = sqlx::query_scalar(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_optional(&mut conn)
        .await
        .context("reading the schema")?;
        if exists.is_none() {
            return Err(StatusError::NoSchema);
        }
        let rows = sqlx::query_as(query).fetch_all(&mut conn).await.context("reading _sqlx_migrations")?;
        let _ = conn.close().await;
        ("sqlite", rows, &super::sqlite::MIGRATOR)
    };
    Ok(MigrationStatus {
        backend,
        applied: rows.iter().filter(|(_, ok)| *ok).map(|(v, _)| *v).collect(),
        failed: rows.iter().filter(|(_, ok)| !*ok).map(|(v, _)| *v).collect(),
        known: migrator.iter().filter(|m| m.migration_type.is_up_migration()).map(|m| m.version).collect(),
    })
}
