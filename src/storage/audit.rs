//! The audit trail beyond appends (which `commit` owns): pages of records for export,
//! verification and the sinks; signed checkpoints; and the sinks' cursors and leases.

use chrono::{DateTime, Duration, Utc};

use super::queries as q;
use super::rows::{AuditRow, CheckpointRow, SinkRow};
use super::store_impl::{db, micros};
use super::{Dialect, SqlStore, on_db};
use crate::core::audit::AuditRecord;
use crate::core::checkpoint::Checkpoint;
use crate::core::error::Result;
use crate::core::outbox::OutgoingMessage;
use crate::core::ports::SinkCursor;

impl SqlStore {
    /// See `Store::audit_page`.
    pub(super) async fn load_audit_page(
        &self,
        after_seq: i64,
        since: Option<DateTime<Utc>>,
        limit: i64,
    ) -> Result<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = on_db!(self, pool => match since {
            None => sqlx::query_as(q::AUDIT_PAGE).bind(after_seq).bind(limit).fetch_all(pool).await,
            Some(t) => {
                sqlx::query_as(q::AUDIT_PAGE_SINCE).bind(after_seq).bind(limit).bind(t).fetch_all(pool).await
            }
        })
        .map_err(db("loading a page of audit records"))?;
        Ok(rows.into_iter().map(AuditRecord::try_from).collect::<anyhow::Result<_>>()?)
    }

    /// See `Store::latest_checkpoint`.
    pub(super) async fn load_latest_checkpoint(&self) -> Result<Option<Checkpoint>> {
        let row: Option<CheckpointRow> =
            on_db!(self, pool => sqlx::query_as(q::LATEST_CHECKPOINT).fetch_optional(pool).await)
                .map_err(db("loading the latest checkpoint"))?;
        Ok(row.map(Into::into))
    }

    /// See `Store::checkpoints_between`.
    pub(super) async fn load_checkpoints_between(
        &self,
        after_seq: i64,
        up_to_seq: i64,
        limit: i64,
    ) -> Result<Vec<Checkpoint>> {
        let rows: Vec<CheckpointRow> = on_db!(self, pool => {
            sqlx::query_as(q::CHECKPOINTS_BETWEEN).bind(after_seq).bind(up_to_seq).bind(limit).fetch_all(pool).await
        })
        .map_err(db("loading checkpoints"))?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    /// See `Store::record_checkpoint`.
    pub(super) async fn insert_checkpoint(
        &self,
        cp: &Checkpoint,
        outbox: &[OutgoingMessage],
    ) -> Result<bool> {
        let messages = outbox
            .iter()
            .map(|m| Ok((m.platform.as_str(), m.order_key.as_str(), serde_json::to_string(m)?)))
            .collect::<serde_json::Result<Vec<_>>>()
            .map_err(|e| anyhow::Error::new(e).context("serializing an outbox message"))?;
        on_db!(write self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("starting a checkpoint"))?;
            let inserted = sqlx::query(q::INSERT_CHECKPOINT)
                .bind(cp.seq)
                .bind(cp.link.as_str())
                .bind(micros(cp.at))
                .bind(cp.public_key.as_str())
                .bind(cp.signature.as_str())
                .execute(&mut *tx)
                .await
                .map_err(db("recording a checkpoint"))?
                .rows_affected()
                == 1;
            if inserted {
                for (platform, order_key, message) in &messages {
                    sqlx::query(q::INSERT_OUTBOX)
                        .bind(*platform)
                        .bind(*order_key)
                        .bind(message.as_str())
                        .bind(micros(cp.at))
                        .execute(&mut *tx)
                        .await
                        .map_err(db("queueing a checkpoint line"))?;
                }
            }
            tx.commit().await.map_err(db("committing a checkpoint"))?;
            Ok(inserted)
        })
    }

    /// See `Store::claim_sink`.
    pub(super) async fn lease_sink(
        &self,
        name: &str,
        now: DateTime<Utc>,
        lease: Duration,
    ) -> Result<Option<SinkCursor>> {
        let row: Option<SinkRow> = on_db!(write self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("starting a sink claim"))?;
            sqlx::query(q::ENSURE_SINK).bind(name).execute(&mut *tx).await.map_err(db("creating a sink cursor"))?;
            let row = sqlx::query_as(q::CLAIM_SINK)
                .bind(name)
                .bind(micros(now))
                .bind(micros(now + lease))
                .fetch_optional(&mut *tx)
                .await
                .map_err(db("claiming a sink"))?;
            tx.commit().await.map_err(db("committing a sink claim"))?;
            row
        });
        Ok(row.map(Into::into))
    }

    /// See `Store::advance_sink`.
    pub(super) async fn move_sink(&self, name: &str, event_seq: i64, checkpoint_seq: i64) -> Result<()> {
        on_db!(write self, pool => {
            sqlx::query(q::ADVANCE_SINK).bind(name).bind(event_seq).bind(checkpoint_seq).execute(pool).await.map(drop)
        })
        .map_err(db("moving a sink cursor"))?;
        Ok(())
    }

    /// See `Store::postpone_sink`.
    pub(super) async fn put_off_sink(&self, name: &str, due_at: DateTime<Utc>, error: &str) -> Result<()> {
        on_db!(write self, pool => {
            sqlx::query(q::POSTPONE_SINK).bind(name).bind(micros(due_at)).bind(error).execute(pool).await.map(drop)
        })
        .map_err(db("postponing a sink"))?;
        Ok(())
    }
}
