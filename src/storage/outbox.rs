//! Outbox claims and outcomes. A claim leases due rows to one dispatcher (`SKIP LOCKED` on
//! PostgreSQL, the single writer on SQLite); outcomes of a round are written back together;
//! the posted-message lookups, depth and pruning read and trim the same table.

use chrono::{DateTime, Duration, Utc};

use super::queries as q;
use super::rows::{OutboxRow, PostedRefRow, RejectedRow};
use super::store_impl::{db, micros};
use super::{Dialect, SqlStore, on_db};
use crate::core::error::Result;
use crate::core::ids::Platform;
use crate::core::outbox::{DeliveryOutcome, OutboxItem, PostedRef, RejectedMessage};

impl SqlStore {
    /// Claims due rows for `lease` (see `Store::claim_outbox` and `Store::claim_outbox_for`):
    /// `by` is the claiming dispatcher (`None`: anonymous, lease only) and `alive_since` the
    /// oldest heartbeat of a dispatcher still considered alive.
    pub(super) async fn claim(
        &self,
        by: Option<&str>,
        alive_since: DateTime<Utc>,
        now: DateTime<Utc>,
        lease: Duration,
        limit: i64,
    ) -> Result<Vec<OutboxItem>> {
        let until = now + lease;
        let mut rows: Vec<OutboxRow> = on_db!(write self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("starting a claim"))?;
            for setting in pool.claim_outbox_settings() {
                sqlx::query(*setting).execute(&mut *tx).await.map_err(db("preparing a claim"))?;
            }
            let rows = sqlx::query_as(pool.claim_outbox_sql())
                .bind(now)
                .bind(until)
                .bind(limit)
                .bind(by)
                .bind(alive_since)
                .fetch_all(&mut *tx)
                .await
                .map_err(db("claiming outbox rows"))?;
            tx.commit().await.map_err(db("committing a claim"))?;
            rows
        });
        // RETURNING does not promise an order.
        rows.sort_by_key(|r| r.id);
        Ok(rows.into_iter().map(OutboxItem::try_from).collect::<anyhow::Result<_>>()?)
    }

    /// Records how attempts ended, in one transaction (see `Store::finish_outbox`).
    pub(super) async fn finish(&self, finished: &[(i64, DeliveryOutcome)]) -> Result<()> {
        if finished.is_empty() {
            return Ok(());
        }
        let delivered_at = micros(Utc::now());
        // Delivered rows, the usual outcome, are marked in one statement.
        let sent: Vec<i64> = finished
            .iter()
            .filter(|(_, o)| matches!(o, DeliveryOutcome::Sent(_)))
            .map(|(id, _)| *id)
            .collect();
        on_db!(write self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("starting an outbox update"))?;
            if !sent.is_empty() {
                pool.complete_outbox(&mut tx, &sent, delivered_at).await?;
            }
            for (_, outcome) in finished {
                let DeliveryOutcome::Sent(Some(p)) = outcome else { continue };
                sqlx::query(q::UPSERT_POSTED_REF)
                    .bind(p.platform.as_str())
                    .bind(p.ref_key.as_str())
                    .bind(p.channel.as_str())
                    .bind(p.message_id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db("remembering a posted message"))?;
            }
            for (id, outcome) in finished {
                match outcome {
                    DeliveryOutcome::Sent(_) => {}
                    DeliveryOutcome::RetryAt(due_at, error) => {
                        sqlx::query(q::RETRY_OUTBOX)
                            .bind(id)
                            .bind(micros(*due_at))
                            .bind(error.as_str())
                            .execute(&mut *tx)
                            .await
                            .map_err(db("rescheduling an outbox row"))?;
                    }
                    DeliveryOutcome::Unconfirmed(due_at, error) => {
                        sqlx::query(q::RETRY_OUTBOX_IN_DOUBT)
                            .bind(id)
                            .bind(micros(*due_at))
                            .bind(error.as_str())
                            .execute(&mut *tx)
                            .await
                            .map_err(db("rescheduling an outbox row in doubt"))?;
                    }
                    DeliveryOutcome::Rejected(error) => {
                        sqlx::query(q::REJECT_OUTBOX)
                            .bind(id)
                            .bind(error.as_str())
                            .bind(delivered_at)
                            .execute(&mut *tx)
                            .await
                            .map_err(db("rejecting an outbox row"))?;
                    }
                }
            }
            tx.commit().await.map_err(db("committing an outbox update"))
        })
    }

    /// Records dispatcher `id`'s heartbeat at `at`, and forgets dispatchers silent for a day.
    pub(super) async fn heartbeat(&self, id: &str, at: DateTime<Utc>) -> Result<()> {
        on_db!(write self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("starting a heartbeat"))?;
            sqlx::query(q::DISPATCHER_HEARTBEAT)
                .bind(id)
                .bind(micros(at))
                .execute(&mut *tx)
                .await
                .map_err(db("recording a dispatcher heartbeat"))?;
            sqlx::query(q::PRUNE_DISPATCHERS)
                .bind(micros(at - Duration::days(1)))
                .execute(&mut *tx)
                .await
                .map_err(db("forgetting silent dispatchers"))?;
            tx.commit().await.map_err(db("committing a heartbeat"))
        })
    }

    /// Forgets dispatcher `id` (it stopped cleanly).
    pub(super) async fn retire(&self, id: &str) -> Result<()> {
        on_db!(write self, pool => {
            sqlx::query(q::RETIRE_DISPATCHER)
                .bind(id)
                .execute(pool)
                .await
                .map(drop)
                .map_err(db("retiring a dispatcher"))
        })
    }

    /// Rows refused since `since` (see `Store::recent_rejections`).
    pub(super) async fn rejections(&self, since: DateTime<Utc>, limit: i64) -> Result<Vec<RejectedMessage>> {
        let rows: Vec<RejectedRow> = on_db!(self, pool => {
            sqlx::query_as(q::RECENT_REJECTIONS)
                .bind(micros(since))
                .bind(limit)
                .fetch_all(pool)
                .await
                .map_err(db("reading refused outbox rows"))?
        });
        Ok(rows.into_iter().map(RejectedMessage::try_from).collect::<anyhow::Result<_>>()?)
    }

    /// Where the message `ref_key` landed on `platform` (see `Store::posted_ref`).
    pub(super) async fn load_posted_ref(
        &self,
        platform: Platform,
        ref_key: &str,
    ) -> Result<Option<PostedRef>> {
        let row: Option<PostedRefRow> = on_db!(self, pool => {
            sqlx::query_as(q::POSTED_REF).bind(platform.as_str()).bind(ref_key).fetch_optional(pool).await
        })
        .map_err(db("loading a posted message"))?;
        Ok(row.map(PostedRef::try_from).transpose()?)
    }

    /// Deletes finished rows older than `before` (see `Store::prune_outbox`).
    pub(super) async fn delete_outbox_before(&self, before: DateTime<Utc>) -> Result<u64> {
        on_db!(write self, pool => {
            sqlx::query(q::PRUNE_OUTBOX).bind(micros(before)).execute(pool).await.map(|r| r.rows_affected())
        })
        .map_err(db("pruning the outbox"))
    }

    /// Rows not yet delivered (see `Store::outbox_depth`).
    pub(super) async fn count_outbox(&self) -> Result<i64> {
        on_db!(self, pool => sqlx::query_scalar(q::OUTBOX_DEPTH).fetch_one(pool).await)
            .map_err(db("counting outbox rows"))
    }

    /// When the oldest undelivered row was queued (see `Store::outbox_oldest_pending`).
    pub(super) async fn oldest_pending(&self) -> Result<Option<DateTime<Utc>>> {
        on_db!(self, pool => sqlx::query_scalar(q::OUTBOX_OLDEST_PENDING).fetch_one(pool).await)
            .map_err(db("reading the oldest outbox row"))
    }
}
