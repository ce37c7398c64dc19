//! PostgreSQL specifics: pool options, the embedded migrations, and write transactions.
//!
//! Several replicas may share one database. Compare-and-set updates decide races on requests
//! and grants; the audit head is locked with `FOR UPDATE` so appends are serial; outbox claims
//! use `FOR UPDATE SKIP LOCKED` so two replicas never claim the same row. A group commit's
//! outbox messages and audit records go in as one `UNNEST` insert a table.

use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::postgres::PgPoolOptions;
use sqlx::{PgPool, Postgres, Transaction};

use super::store_impl::db;
use super::{Dialect, queries};

/// The PostgreSQL migrations, embedded at build time.
pub(super) static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A batch's tails in one statement (one round trip on the writer's connection): its outbox
/// messages (one array a column, rows in array order, the order of their ids), its audit
/// records (each row carries its `seq`), and the audit head moved to the last of them when
/// `$18` (the chain grew). Data-modifying `WITH` parts run once and to completion whether or
/// not the main statement reads them; an empty array inserts nothing.
const WRITE_TAILS: &str = concat!(
    "WITH outbox_rows AS (INSERT INTO outbox (platform, order_key, message, state, due_at, attempts, created_at) \
     SELECT p, k, m, 'pending', t, 0, t FROM UNNEST($1::text[], $2::text[], $3::text[], $4::timestamptz[]) \
     WITH ORDINALITY AS u(p, k, m, t, n) ORDER BY n), \
     audit_rows AS (INSERT INTO audit_events (",
    queries::audit_columns!(),
    ") SELECT * FROM UNNEST($5::bigint[], $6::timestamptz[], $7::text[], $8::text[], $9::text[], \
     $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[])) \
     UPDATE audit_head SET last_seq = $16, last_hash = $17 WHERE id = 1 AND $18"
);

/// Pool size per replica.
const MAX_CONNECTIONS: u32 = 10;
/// How long a caller waits for a free connection.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// A connection idle longer than this is pinged before it is handed out.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(1);

/// Pool options shared by the readers' pool and the writer's connection. sqlx pings every
/// connection it hands out by default: a round trip before every read and every write batch,
/// which under load doubled the reads' round trips for nothing (a connection in steady use is
/// known to be alive). Only a connection that sat idle is pinged, where a restarted server or
/// a dropped idle TCP connection would show; one that fails the ping is closed and another
/// taken. A connection that dies while in use fails its statement either way.
pub(super) fn pool_options(max_connections: u32) -> PgPoolOptions {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= IDLE_BEFORE_PING {
                    sqlx::Connection::ping(conn).await?;
                }
                Ok(true)
            })
        })
}

/// Connects and, with `migrate`, migrates (sqlx takes an advisory lock, so replicas may start
/// together).
pub(super) async fn open(url: &str, migrate: bool) -> anyhow::Result<PgPool> {
    let pool = pool_options(MAX_CONNECTIONS).connect(url).await.context("connecting to PostgreSQL")?;
    if migrate {
        MIGRATOR.run(&pool).await.context("running the PostgreSQL migrations")?;
    }
    Ok(pool)
}

impl Dialect for PgPool {
    type Db = Postgres;
    async fn write_tails(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        kept: &[&super::commit::Prepared],
        seq: &mut i64,
        prev: &mut String,
    ) -> crate::core::error::Result<()> {
        let conn: &mut sqlx::PgConnection = tx;
        let (mut platforms, mut keys, mut messages, mut ats) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (platform, key, message, at) in super::commit::tail_messages(kept) {
            platforms.push(platform);
            keys.push(key);
            messages.push(message);
            ats.push(at);
        }
        let start_seq = *seq;
        let mut rows = AuditColumns::default();
        for r in super::commit::chain_tail(kept, seq, prev) {
            let (actor_kind, actor) = super::rows::actor_columns(&r.event.actor);
            rows.seq.push(r.seq);
            rows.at.push(r.event.at);
            rows.actor_kind.push(actor_kind);
            rows.actor.push(actor);
            rows.kind.push(r.event.kind.as_str());
            rows.request_id.push(r.event.request_id.as_ref().map(|id| id.as_str()));
            rows.role.push(r.event.role.as_ref().map(|role| role.as_str()));
            rows.detail.push(r.detail);
            rows.prev.push(r.prev);
            rows.hash.push(r.hash);
            rows.key_id.push(r.key_id);
        }
        if platforms.is_empty() && rows.seq.is_empty() {
            return Ok(());
        }
        sqlx::query(WRITE_TAILS)
            .bind(&platforms)
            .bind(&keys)
            .bind(&messages)
            .bind(&ats)
            .bind(&rows.seq)
            .bind(&rows.at)
            .bind(&rows.actor_kind)
            .bind(&rows.actor)
            .bind(&rows.kind)
            .bind(&rows.request_id)
            .bind(&rows.role)
            .bind(&rows.detail)
            .bind(&rows.prev)
            .bind(&rows.hash)
            .bind(&rows.key_id)
            .bind(*seq)
            .bind(prev.as_str())
            .bind(*seq != start_seq)
            .execute(&mut *conn)
            .await
            .map_err(db("writing outbox messages, audit records and the audit head"))?;
        Ok(())
    }

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

    async fn complete_outbox(
        &self,
        tx: &mut Transaction<'static, Postgres>,
        ids: &[i64],
        at: chrono::DateTime<chrono::Utc>,
    ) -> crate::core::error::Result<()> {
        sqlx::query(queries::COMPLETE_OUTBOX_POSTGRES)
            .bind(ids)
            .bind(at)
            .execute(&mut **tx)
            .await
            .map(drop)
            .map_err(db("completing outbox rows"))
    }

    async fn begin_write(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        self.begin().await
    }
}

/// The columns of a batch's audit records, one array each (see [`WRITE_TAILS`]).
#[derive(Default)]
struct AuditColumns<'a> {
    seq: Vec<i64>,
    at: Vec<chrono::DateTime<chrono::Utc>>,
    actor_kind: Vec<&'static str>,
    actor: Vec<String>,
    kind: Vec<&'a str>,
    request_id: Vec<Option<&'a str>>,
    role: Vec<Option<&'a str>>,
    detail: Vec<&'a str>,
    prev: Vec<String>,
    hash: Vec<String>,
    key_id: Vec<&'a str>,
}
