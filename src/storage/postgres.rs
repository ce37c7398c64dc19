//! PostgreSQL specifics: pool options, the embedded migrations, and write transactions.
//!
//! Several replicas may share one database. Compare-and-set updates decide races on requests
//! and grants; the audit head is locked with `FOR UPDATE` so appends are serial; outbox claims
//! use `FOR UPDATE SKIP LOCKED` so two replicas never claim the same row.

use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction};

use super::{Dialect, queries};

/// The PostgreSQL migrations, embedded at build time.
pub(super) static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Pool size per replica.
const MAX_CONNECTIONS: u32 = 10;
/// How long a caller waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects and, with `migrate`, migrates (sqlx takes an advisory lock, so replicas may start
/// together).
pub(super) async fn open(url: &str, migrate: bool) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect(url)
        .await
        .context("connecting to PostgreSQL")?;
    if migrate {
        MIGRATOR.run(&pool).await.context("running the PostgreSQL migrations")?;
    }
    Ok(pool)
}

impl Dialect for PgPool {
    type Db = Postgres;
    fn nest_savepoints(&self) -> bool {
        true
    }
    fn lock_audit_head_sql(&self) -> &'static str {
        queries::AUDIT_HEAD_FOR_UPDATE
    }

    fn claim_outbox_sql(&self) -> &'static str {
        queries::CLAIM_OUTBOX_POSTGRES
    }

    /// The claim's only good plan walks `outbox_pending_id` in id order and stops at the batch
    /// size. Before autovacuum has analysed a busy outbox, the planner believes a handful of rows
    /// are pending and fetches and sorts all of them instead (48 ms per claim with 12,000
    /// waiting, so the dispatcher fell further behind). These settings last for this
    /// transaction only.
    fn claim_outbox_settings(&self) -> &'static [&'static str] {
        &["SET LOCAL enable_bitmapscan = off", "SET LOCAL enable_sort = off"]
    }

    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        self.begin().await
    }
}
