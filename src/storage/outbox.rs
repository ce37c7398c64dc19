//! Outbox claims and outcomes. A claim leases due rows to one dispatcher (`SKIP LOCKED` on
//! PostgreSQL, the single writer on SQLite); outcomes of a round are written back together.

use chrono::{DateTime, Duration, Utc};

use super::queries as q;
use super::rows::OutboxRow;
use super::store_impl::{db, micros};
use super::{Dialect, SqlStore, on_db};
use crate::core::error::Result;
use crate::core::outbox::{DeliveryOutcome, OutboxItem};

impl SqlStore {
    /// Claims due rows for `lease` (see `Store::claim_outbox`).
    pub(super) async fn claim(
        &self,
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
        on_db!(write self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("starting an outbox update"))?;
            for (id, outcome) in finished {
                match outcome {
                    DeliveryOutcome::Sent(posted) => {
                        sqlx::query(q::COMPLETE_OUTBOX)
                            .bind(id)
                            .bind(delivered_at)
                            .execute(&mut *tx)
                            .await
                            .map_err(db("completing an outbox row"))?;
                        if let Some(p) = posted {
                            sqlx::query(q::UPSERT_POSTED_REF)
                                .bind(p.platform.as_str())
                                .bind(p.ref_key.as_str())
                                .bind(p.channel.as_str())
                                .bind(p.message_id.as_str())
                                .execute(&mut *tx)
                                .await
                                .map_err(db("remembering a posted message"))?;
                        }
                    }
                    DeliveryOutcome::RetryAt(due_at, error) => {
                        sqlx::query(q::RETRY_OUTBOX)
                            .bind(id)
                            .bind(micros(*due_at))
                            .bind(error.as_str())
                            .execute(&mut *tx)
                            .await
                            .map_err(db("rescheduling an outbox row"))?;
                    }
                    DeliveryOutcome::Rejected(error) => {
                        sqlx::query(q::REJECT_OUTBOX)
                            .bind(id)
                            .bind(error.as_str())
                            .execute(&mut *tx)
                            .await
                            .map_err(db("rejecting an outbox row"))?;
                    }
                }
            }
            tx.commit().await.map_err(db("committing an outbox update"))
        })
    }
}
