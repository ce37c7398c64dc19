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
static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// Pool size per replica.
const MAX_CONNECTIONS: u32 = 10;
/// How long a caller waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// Connects and migrates (sqlx takes an advisory lock, so replicas may start together).
pub(super) async fn open(url: &str) -> anyhow::Result<PgPool> {
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect(url)
        .await
        .context("connecting to PostgreSQL")?;
    MIGRATOR.run(&pool).await.context("running the PostgreSQL migrations")?;
    Ok(pool)
}

impl Dialect for PgPool {
    type Db = Postgres;
    fn lock_audit_head_sql(&self) -> &'static str {
        queries::AUDIT_HEAD_FOR_UPDATE
    }

    fn claim_outbox_sql(&self) -> &'static str {
        queries::CLAIM_OUTBOX_POSTGRES
    }

    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        self.begin().await
    }
}
