//! The `Store` port on SQLite (the default) and PostgreSQL.
//!
//! [`connect`] picks the backend from the URL scheme and runs that dialect's embedded
//! migrations (`migrations/sqlite`, `migrations/postgres`, same version numbers). One
//! [`SqlStore`] serves both: most SQL is shared (see `queries`), and the few dialect-specific
//! pieces (how a write transaction starts, row locks for claims) sit behind the small
//! [`Dialect`] trait in `sqlite` and `postgres`. This module owns persistence only; it never
//! decides state (that is `core::state`) and never talks to chat platforms.

mod alarms;
mod approvals;
mod audit;
pub mod audit_export;
mod commit;
mod governance;
mod group_commit;
mod identity;
mod instrumented;
mod outbox;
mod postgres;
mod queries;
mod rows;
mod set_columns;
mod set_write;
mod sqlite;
pub mod status;
mod store_impl;
mod teams;

use std::sync::Arc;

use anyhow::Context;
use sqlx::{Database, PgPool, Transaction};

use crate::core::audit_chain::Linker;
pub use instrumented::InstrumentedStore;

use crate::core::ports::Store;

/// A `Store` on one SQL database.
#[derive(Debug, Clone)]
pub struct SqlStore {
    db: Db,
    /// How appended audit records are linked (keyed with `PIMBOT_AUDIT_KEY` in production).
    linker: Linker,
    /// The writer of commits and replay keys, started on first use (see `group_commit`).
    writer: Arc<std::sync::OnceLock<group_commit::GroupCommit>>,
}

/// The pool of the backend in use; every query method matches on it once.
#[derive(Debug, Clone)]
enum Db {
    Sqlite(sqlite::Pools),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to the concrete pool. The body is written once and compiled
/// per backend, so shared SQL needs no generic trait bounds. `on_db!(write self, …)` binds the
/// pool that writes: on SQLite that is the one writer connection, so writers queue in the pool
/// (first come, first served) instead of polling SQLite's lock with growing sleeps.
macro_rules! on_db {
    ($self:expr, $pool:ident => $body:expr) => {
        match &$self.db {
            $crate::storage::Db::Sqlite(pools) => {
                let $pool = &pools.read;
                $body
            }
            $crate::storage::Db::Postgres($pool) => $body,
        }
    };
    (write $self:expr, $pool:ident => $body:expr) => {
        match &$self.db {
            $crate::storage::Db::Sqlite(pools) => {
                let $pool = &pools.write;
                $body
            }
            $crate::storage::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_db;

/// What differs between the two backends beyond the shared SQL.
pub(crate) trait Dialect {
    /// The sqlx database.
    type Db: Database;
    /// Statement that reads and locks the audit head for the rest of the transaction.
    fn lock_audit_head_sql(&self) -> &'static str;
    /// Statement that claims due outbox rows (see `queries::CLAIM_OUTBOX_*`).
    fn claim_outbox_sql(&self) -> &'static str;
    /// Statements run in the claim's transaction just before it.
    fn claim_outbox_settings(&self) -> &'static [&'static str] {
        &[]
    }
    /// Whether a group commit's savepoints nest instead of being released one by one. Measured
    /// (BENCHMARKS.md): nesting saves PostgreSQL a round trip per commit and raised its
    /// throughput; on SQLite, where a statement costs no round trip, it was slower.
    fn nest_savepoints(&self) -> bool {
        false
    }
    /// Writes the outbox messages and audit records of the commits a group commit kept, in
    /// member order, chaining the records after `seq`/`prev` (the head the batch holds), and
    /// moves the audit head to the last record if the chain grew. Measured (BENCHMARKS.md):
    /// SQLite takes them as multi-row inserts; PostgreSQL as one statement of `UNNEST` inserts,
    /// whose text stays the same whatever the row count, so it stays prepared (a multi-row
    /// statement there is parsed anew each time and was slower), and the head update: one
    /// round trip on the writer's connection instead of three.
    async fn write_tails(
        &self,
        tx: &mut Transaction<'static, Self::Db>,
        kept: &[&commit::Prepared],
        seq: &mut i64,
        prev: &mut String,
    ) -> crate::core::error::Result<()>;
    /// Marks the outbox rows `ids` delivered at `at`, in one statement.
    async fn complete_outbox(
        &self,
        tx: &mut Transaction<'static, Self::Db>,
        ids: &[i64],
        at: chrono::DateTime<chrono::Utc>,
    ) -> crate::core::error::Result<()>;
    /// Starts a transaction that will write.
    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Self::Db>>;
}

/// Whether `url` names a PostgreSQL database.
pub fn is_postgres_url(url: &str) -> bool {
    url.starts_with("postgres:") || url.starts_with("postgresql:")
}

impl SqlStore {
    /// Opens the database at `url` (`postgres://…`, `sqlite://path`, or a file path) and brings its
    /// schema up to date. Audit records it appends are unkeyed until [`SqlStore::with_linker`].
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        Self::open_with(url, true).await
    }

    /// Opens an existing database without creating or migrating it (`pimbot check` reads what
    /// a new policy would orphan, and must change nothing).
    pub async fn open_existing(url: &str) -> anyhow::Result<Self> {
        Self::open_with(url, false).await
    }

    async fn open_with(url: &str, migrate: bool) -> anyhow::Result<Self> {
        let db = if is_postgres_url(url) {
            Db::Postgres(postgres::open(url, migrate).await?)
        } else {
            Db::Sqlite(sqlite::open(url, migrate).await?)
        };
        Ok(Self { db, linker: Linker::Unkeyed, writer: Arc::default() })
    }

    /// The same store, linking the audit records it appends with `linker`.
    pub fn with_linker(self, linker: Linker) -> Self {
        Self { linker, ..self }
    }

    /// The group-commit writer, started on the runtime of the first write.
    fn writer(&self) -> &group_commit::GroupCommit {
        self.writer.get_or_init(|| group_commit::GroupCommit::start(self.db.clone()))
    }

    /// `"sqlite"` or `"postgres"`, for logs.
    pub fn backend(&self) -> &'static str {
        match self.db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    }

    /// Closes the pool, waiting for connections to be returned.
    pub async fn close(&self) {
        match &self.db {
            Db::Sqlite(pools) => {
                pools.read.close().await;
                pools.write.close().await;
            }
            Db::Postgres(pool) => pool.close().await,
        }
    }
}

/// Opens the store at `url` (backend chosen by scheme) and runs pending migrations. Audit records
/// it appends are unkeyed: `serve` uses [`connect_with`].
pub async fn connect(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    Ok(Arc::new(SqlStore::open(url).await?))
}

/// [`connect`], linking appended audit records with `linker`.
pub async fn connect_with(url: &str, linker: Linker) -> anyhow::Result<Arc<dyn Store>> {
    Ok(Arc::new(SqlStore::open(url).await?.with_linker(linker)))
}

/// Runs pending migrations on the database at `url` and closes it (`pimbot migrate`).
pub async fn migrate(url: &str) -> anyhow::Result<()> {
    let store = SqlStore::open(url).await.context("migrating the database")?;
    store.close().await;
    Ok(())
}
