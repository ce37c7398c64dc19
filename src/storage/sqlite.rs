//! SQLite specifics: connection options, the embedded migrations, and write transactions.
//!
//! SQLite has one writer at a time, so pimbot gives it one: a pool of a single connection that
//! every write transaction goes through, beside a small pool of readers (WAL lets them read while
//! the writer writes). Writers wait their turn in that pool, first come first served, instead of
//! contending for SQLite's lock, whose busy handler sleeps for growing intervals and made the
//! latency tail under load. Every write still starts with `BEGIN IMMEDIATE`, which takes the
//! write lock up front (waiting up to `busy_timeout` for another process, such as a CLI command)
//! instead of failing with `SQLITE_BUSY` when a deferred transaction tries to upgrade; that also
//! makes compare-and-set updates, audit appends and outbox claims serial without row locks.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqlitePool, Transaction};

use super::store_impl::db;
use super::{Dialect, queries};

/// The SQLite migrations, embedded at build time.
pub(super) static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// Reader connections: reads run in parallel under WAL; more than the cores buys nothing but
/// page caches.
const READERS: u32 = 4;
/// How long a writer waits for another process's write lock before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a caller waits for its turn on a connection before failing.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);
/// Outbox rows one multi-row insert of a group commit's tail takes (4 binds each).
const OUTBOX_ROWS_PER_INSERT: usize = 1000;
/// Audit records one multi-row insert takes (11 binds each).
const AUDIT_ROWS_PER_INSERT: usize = 500;
/// How often the WAL is copied back into the database, off the writer's path.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

/// The connections of one SQLite database: many readers, one writer.
#[derive(Debug, Clone)]
pub(super) struct Pools {
    /// Reads outside write transactions.
    pub(super) read: SqlitePool,
    /// Every write transaction; one connection.
    pub(super) write: SqlitePool,
}

/// Opens (creating if missing) the database and migrates it; with `migrate` false, opens an
/// existing database as it is (`pimbot check` reads it without changing it).
pub(super) async fn open(url: &str, migrate: bool) -> anyhow::Result<Pools> {
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("parsing the SQLite URL {url:?}"))?
        .create_if_missing(migrate)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(BUSY_TIMEOUT)
        .foreign_keys(true)
        // No checkpoint inside a commit: the writer would stall everyone queued behind it while
        // it copies the WAL into the database. `checkpoints` does it beside the writer instead.
        .pragma("wal_autocheckpoint", "0");
    // No ping before a connection is handed out (sqlx's default): a local file does not go
    // away like a server, and each ping was a round trip to the connection's thread before
    // every read and every write batch.
    let pool = |size: u32| {
        SqlitePoolOptions::new()
            .max_connections(size)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(false)
    };
    let write = pool(1)
        .connect_with(options.clone())
        .await
        .with_context(|| format!("opening the SQLite database {url:?}"))?;
    if migrate {
        migrate_beside_others(&write).await?;
    }
    // An in-memory database exists once per connection: readers must share the writer's.
    let read = if options.get_filename().as_os_str().is_empty() || url.contains(":memory:") {
        write.clone()
    } else {
        let read = pool(READERS)
            .connect_with(options)
            .await
            .with_context(|| format!("opening the SQLite database {url:?} for reading"))?;
        tokio::spawn(checkpoints(read.clone()));
        read
    };
    Ok(Pools { read, write })
}

/// Copies the WAL back into the database every [`CHECKPOINT_EVERY`] until the pool closes.
/// `PASSIVE` never waits for the writer or readers, so it never delays a request; the writer
/// starts the WAL over once a checkpoint has caught up with it.
async fn checkpoints(pool: SqlitePool) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&pool).await {
            if pool.is_closed() {
                return;
            }
            tracing::warn!(error = %e, "checkpointing the SQLite WAL failed; will retry");
        }
    }
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

    async fn complete_outbox(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        ids: &[i64],
        at: chrono::DateTime<chrono::Utc>,
    ) -> crate::core::error::Result<()> {
        // SQLite has no arrays: the ids go in as one JSON array.
        let ids = serde_json::to_string(ids).map_err(|e| crate::core::error::Error::Internal(e.into()))?;
        sqlx::query(queries::COMPLETE_OUTBOX_SQLITE)
            .bind(ids)
            .bind(at)
            .execute(&mut **tx)
            .await
            .map(drop)
            .map_err(db("completing outbox rows"))
    }

    async fn write_tails(
        &self,
        tx: &mut Transaction<'static, Sqlite>,
        kept: &[&super::commit::Prepared],
        seq: &mut i64,
        prev: &mut String,
    ) -> crate::core::error::Result<()> {
        // Multi-row inserts; each statement's text depends on its row count, so it is not
        // kept prepared.
        let conn: &mut sqlx::SqliteConnection = tx;
        let start_seq = *seq;
        for chunk in super::commit::tail_messages(kept).chunks(OUTBOX_ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<Sqlite>::new(
                "INSERT INTO outbox (platform, order_key, message, state, due_at, attempts, created_at) ",
            );
            insert.push_values(chunk, |mut row, (platform, key, message, at)| {
                row.push_bind(*platform)
                    .push_bind(*key)
                    .push_bind(*message)
                    .push("'pending'")
                    .push_bind(*at)
                    .push("0")
                    .push_bind(*at);
            });
            insert
                .build()
                .persistent(false)
                .execute(&mut *conn)
                .await
                .map_err(db("queueing outbox messages"))?;
        }
        for chunk in super::commit::chain_tail(kept, seq, prev).chunks(AUDIT_ROWS_PER_INSERT) {
            let mut insert = QueryBuilder::<Sqlite>::new(concat!(
                "INSERT INTO audit_events (",
                queries::audit_columns!(),
                ") "
            ));
            insert.push_values(chunk, |mut row, r| {
                let (actor_kind, actor) = super::rows::actor_columns(&r.event.actor);
                row.push_bind(r.seq)
                    .push_bind(r.event.at)
                    .push_bind(actor_kind)
                    .push_bind(actor)
                    .push_bind(r.event.kind.as_str())
                    .push_bind(r.event.request_id.as_ref().map(|id| id.as_str()))
                    .push_bind(r.event.role.as_ref().map(|role| role.as_str()))
                    .push_bind(r.detail)
                    .push_bind(r.prev.as_str())
                    .push_bind(r.hash.as_str())
                    .push_bind(r.key_id);
            });
            insert
                .build()
                .persistent(false)
                .execute(&mut *conn)
                .await
                .map_err(db("appending audit records"))?;
        }
        if *seq != start_seq {
            sqlx::query(queries::UPDATE_AUDIT_HEAD)
                .bind(*seq)
                .bind(prev.as_str())
                .execute(&mut *conn)
                .await
                .map_err(db("moving the audit head"))?;
        }
        Ok(())
    }
}

/// Runs the migrations. SQLite has no migration lock, so two processes starting on one file
/// (a `pimbot migrate` beside a starting `serve`, two replicas) may both pick the same pending
/// migration; the loser fails once the winner commits it ("duplicate column"). Read again
/// then: the migration is recorded as applied and is skipped.
async fn migrate_beside_others(write: &sqlx::SqlitePool) -> anyhow::Result<()> {
    const ATTEMPTS: u32 = 4;
    let mut attempt = 1;
    loop {
        match MIGRATOR.run(write).await {
            Ok(()) => return Ok(()),
            Err(e) if attempt < ATTEMPTS => {
                tracing::info!(error = %e, attempt, "SQLite migration raced another process; reading again");
                tokio::time::sleep(std::time::Duration::from_millis(100 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) => return Err(anyhow::Error::new(e).context("running the SQLite migrations")),
        }
    }
}
