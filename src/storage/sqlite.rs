//! SQLite specifics: connection options, the embedded migrations, and write transactions.
//!
//! SQLite has one writer at a time. Every write goes through `BEGIN IMMEDIATE`, which takes the
//! write lock up front (waiting up to `busy_timeout`) instead of failing with `SQLITE_BUSY` when
//! a deferred read transaction tries to upgrade; that also makes compare-and-set updates, audit
//! appends and outbox claims serial without row locks.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Sqlite, SqlitePool, Transaction};

use super::{Dialect, queries};

/// The SQLite migrations, embedded at build time.
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Pool size: readers run in parallel under WAL; writers queue on the write lock anyway.
const MAX_CONNECTIONS: u32 = 16;
/// How long a writer waits for the write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Opens (creating if missing) the database and migrates it.
pub(super) async fn open(url: &str) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("parsing the SQLite URL {url:?}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .connect_with(options)
        .await
        .with_context(|| format!("opening the SQLite database {url:?}"))?;
    MIGRATOR.run(&pool).await.context("running the SQLite migrations")?;
    Ok(pool)
}

impl Dialect for SqlitePool {
    type Db = Sqlite;
    fn lock_audit_head_sql(&self) -> &'static str {
        // BEGIN IMMEDIATE already excludes every other writer.
        queries::AUDIT_HEAD
    }

    fn claim_outbox_sql(&self) -> &'static str {
        queries::CLAIM_OUTBOX_SQLITE
    }

    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Sqlite>> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}
