//! `Store` for [`SqlStore`]: every method is written once with shared SQL and compiled per
//! backend through `on_db!`. Writes run in one transaction each; `commit` is the only writer of
//! requests, approvals, grants and audit records.

use anyhow::Context;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use super::queries as q;
use super::rows::{
    ApprovalRow, AuditRow, GrantRow, HeadRow, OutboxRow, PostedRefRow, RequestRow, actor_columns,
};
use super::{Dialect, SqlStore, on_db};
use crate::core::alarm::Alarm;
use crate::core::audit::{AuditRecord, truncate_micros};
use crate::core::error::{Error, Result};
use crate::core::ids::{AlarmId, GrantId, PersonId, Platform, RequestId, RoleKey};
use crate::core::outbox::{OutboxItem, PostedRef};
use crate::core::ports::{Commit, Store, Write};
use crate::core::request::{AccessRequest, Grant};

/// Wraps a database error as an internal error saying what was being done.
pub(super) fn db(what: &'static str) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| Error::Internal(anyhow::Error::new(e).context(what))
}

/// A unique-constraint violation becomes the conflict `message`; anything else is internal.
pub(super) fn unique_is_conflict(
    what: &'static str,
    message: impl FnOnce() -> String,
) -> impl FnOnce(sqlx::Error) -> Error {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => Error::Conflict(message()),
        _ => db(what)(e),
    }
}

pub(super) fn micros(t: DateTime<Utc>) -> DateTime<Utc> {
    truncate_micros(t)
}

/// Binds a request's columns in `queries::request_columns` order, with `$version` as `$8`.
macro_rules! bind_request {
    ($query:expr, $r:expr, $version:expr) => {
        $query
            .bind($r.id.as_str())
            .bind($r.requester.as_str())
            .bind($r.role.as_str())
            .bind($r.duration.num_seconds())
            .bind($r.justification.as_str())
            .bind($r.ticket.as_deref())
            .bind($r.state.as_str())
            .bind($version)
            .bind($r.origin.as_str())
            .bind(micros($r.created_at))
            .bind($r.decided_at.map(micros))
            .bind($r.decided_by.as_ref().map(PersonId::as_str))
            .bind($r.reason.as_deref())
            .bind($r.nudge_stage.as_str())
            .bind($r.next_nudge_at.map(micros))
            .bind($r.grant_id.as_ref().map(GrantId::as_str))
    };
}

/// Binds a grant's columns in `queries::grant_columns` order, with `$version` as `$9`.
macro_rules! bind_grant {
    ($query:expr, $g:expr, $version:expr) => {
        $query
            .bind($g.id.as_str())
            .bind($g.request_id.as_str())
            .bind($g.person.as_str())
            .bind($g.role.as_str())
            .bind(micros($g.starts_at))
            .bind(micros($g.ends_at))
            .bind($g.ended_at.map(micros))
            .bind($g.end_reason.map(|r| r.as_str()))
            .bind($version)
    };
}

impl SqlStore {
    /// Attaches each request's approvals (oldest first) and converts the rows.
    async fn with_approvals(&self, rows: Vec<RequestRow>) -> Result<Vec<AccessRequest>> {
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let approvals: Vec<ApprovalRow> = on_db!(self, pool => {
                sqlx::query_as(q::APPROVALS_OF).bind(row.id.as_str()).fetch_all(pool).await
            })
            .map_err(db("loading approvals"))?;
            out.push(row.into_request(approvals.into_iter().map(Into::into).collect())?);
        }
        Ok(out)
    }

    fn grants(rows: Vec<GrantRow>) -> Result<Vec<Grant>> {
        Ok(rows.into_iter().map(Grant::try_from).collect::<anyhow::Result<_>>()?)
    }
}

#[async_trait]
impl Store for SqlStore {
    async fn commit(&self, commit: Commit) -> Result<()> {
        let at = micros(commit.at.unwrap_or_else(Utc::now));
        let outbox = commit
            .outbox
            .iter()
            .map(|m| Ok((m.platform.as_str(), m.order_key.as_str(), serde_json::to_string(m)?)))
            .collect::<serde_json::Result<Vec<_>>>()
            .context("serializing an outbox message")?;
        let details = commit
            .audit
            .iter()
            .map(|e| serde_json::to_string(&e.detail))
            .collect::<serde_json::Result<Vec<_>>>()
            .context("serializing an audit detail")?;
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("starting a write transaction"))?;
            for write in &commit.requests {
                match write {
                    Write::Insert(r) => {
                        bind_request!(sqlx::query(q::INSERT_REQUEST), r, r.version)
                            .execute(&mut *tx)
                            .await
                            .map_err(unique_is_conflict("inserting a request", || {
                                format!("request {} already exists", r.id)
                            }))?;
                    }
                    Write::Update { row, expected_version } => {
                        let applied: Option<i64> =
                            bind_request!(sqlx::query_scalar(q::UPDATE_REQUEST), row, *expected_version)
                                .fetch_optional(&mut *tx)
                                .await
                                .map_err(db("updating a request"))?;
                        if applied.is_none() {
                            return Err(Error::Conflict(format!(
                                "request {} was already changed by someone else",
                                row.id
                            )));
                        }
                    }
                }
            }
            for (request, approval) in &commit.approvals {
                sqlx::query(q::INSERT_APPROVAL)
                    .bind(request.as_str())
                    .bind(approval.approver.as_str())
                    .bind(micros(approval.at))
                    .execute(&mut *tx)
                    .await
                    .map_err(unique_is_conflict("inserting an approval", || {
                        format!("{} already approved request {request}", approval.approver)
                    }))?;
            }
            for write in &commit.grants {
                match write {
                    Write::Insert(g) => {
                        bind_grant!(sqlx::query(q::INSERT_GRANT), g, g.version)
                            .execute(&mut *tx)
                            .await
                            .map_err(unique_is_conflict("inserting a grant", || {
                                format!("{} already holds an open grant of {}", g.person, g.role)
                            }))?;
                    }
                    Write::Update { row, expected_version } => {
                        let applied: Option<i64> =
                            bind_grant!(sqlx::query_scalar(q::UPDATE_GRANT), row, *expected_version)
                                .fetch_optional(&mut *tx)
                                .await
                                .map_err(unique_is_conflict("updating a grant", || {
                                    format!("{} already holds an open grant of {}", row.person, row.role)
                                }))?;
                        if applied.is_none() {
                            return Err(Error::Conflict(format!(
                                "grant {} was already changed by someone else",
                                row.id
                            )));
                        }
                    }
                }
            }
            super::alarms::write_alarms!(tx, &commit.alarms);
            if !commit.audit.is_empty() {
                // The head lock serializes appends, so sequence numbers never collide.
                let head: HeadRow = sqlx::query_as(pool.lock_audit_head_sql())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db("locking the audit head"))?;
                let (mut seq, mut prev) = (head.last_seq, head.last_hash);
                for (event, detail) in commit.audit.iter().zip(&details) {
                    seq += 1;
                    let mut event = event.clone();
                    event.at = micros(event.at);
                    let record = AuditRecord::chain(seq, event, &prev);
                    let (actor_kind, actor) = actor_columns(&record.event.actor);
                    sqlx::query(q::INSERT_AUDIT)
                        .bind(record.seq)
                        .bind(record.event.at)
                        .bind(actor_kind)
                        .bind(actor)
                        .bind(record.event.kind.as_str())
                        .bind(record.event.request_id.as_ref().map(RequestId::as_str))
                        .bind(record.event.role.as_ref().map(RoleKey::as_str))
                        .bind(detail.as_str())
                        .bind(record.prev_hash.as_str())
                        .bind(record.hash.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(db("appending an audit record"))?;
                    prev = record.hash;
                }
                sqlx::query(q::UPDATE_AUDIT_HEAD)
                    .bind(seq)
                    .bind(prev.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db("moving the audit head"))?;
            }
            for (platform, order_key, message) in &outbox {
                sqlx::query(q::INSERT_OUTBOX)
                    .bind(*platform)
                    .bind(*order_key)
                    .bind(message.as_str())
                    .bind(at)
                    .execute(&mut *tx)
                    .await
                    .map_err(db("queueing an outbox message"))?;
            }
            tx.commit().await.map_err(db("committing"))
        })
    }

    async fn request(&self, id: &RequestId) -> Result<Option<AccessRequest>> {
        let row: Option<RequestRow> = on_db!(self, pool => {
            sqlx::query_as(q::REQUEST_BY_ID).bind(id.as_str()).fetch_optional(pool).await
        })
        .map_err(db("loading a request"))?;
        Ok(self.with_approvals(row.into_iter().collect()).await?.pop())
    }

    async fn open_requests_for(&self, person: &PersonId) -> Result<Vec<AccessRequest>> {
        let rows: Vec<RequestRow> = on_db!(self, pool => {
            sqlx::query_as(q::OPEN_REQUESTS_FOR).bind(person.as_str()).fetch_all(pool).await
        })
        .map_err(db("loading open requests"))?;
        self.with_approvals(rows).await
    }

    async fn active_requests_of_grant(&self, grant: &GrantId) -> Result<Vec<AccessRequest>> {
        let rows: Vec<RequestRow> = on_db!(self, pool => {
            sqlx::query_as(q::ACTIVE_REQUESTS_OF_GRANT).bind(grant.as_str()).fetch_all(pool).await
        })
        .map_err(db("loading the requests of a grant"))?;
        self.with_approvals(rows).await
    }

    async fn grant(&self, id: &GrantId) -> Result<Option<Grant>> {
        let row: Option<GrantRow> = on_db!(self, pool => {
            sqlx::query_as(q::GRANT_BY_ID).bind(id.as_str()).fetch_optional(pool).await
        })
        .map_err(db("loading a grant"))?;
        Ok(row.map(Grant::try_from).transpose()?)
    }

    async fn open_grant(&self, person: &PersonId, role: &RoleKey) -> Result<Option<Grant>> {
        let row: Option<GrantRow> = on_db!(self, pool => {
            sqlx::query_as(q::OPEN_GRANT).bind(person.as_str()).bind(role.as_str()).fetch_optional(pool).await
        })
        .map_err(db("loading an open grant"))?;
        Ok(row.map(Grant::try_from).transpose()?)
    }

    async fn open_grants_for(&self, person: &PersonId) -> Result<Vec<Grant>> {
        let rows: Vec<GrantRow> = on_db!(self, pool => {
            sqlx::query_as(q::OPEN_GRANTS_FOR).bind(person.as_str()).fetch_all(pool).await
        })
        .map_err(db("loading open grants"))?;
        Self::grants(rows)
    }

    async fn open_grants(&self, limit: i64) -> Result<Vec<Grant>> {
        let rows: Vec<GrantRow> = on_db!(self, pool => {
            sqlx::query_as(q::OPEN_GRANTS).bind(limit).fetch_all(pool).await
        })
        .map_err(db("loading open grants"))?;
        Self::grants(rows)
    }

    async fn due_grants(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Grant>> {
        let rows: Vec<GrantRow> = on_db!(self, pool => {
            sqlx::query_as(q::DUE_GRANTS).bind(now).bind(limit).fetch_all(pool).await
        })
        .map_err(db("loading due grants"))?;
        Self::grants(rows)
    }

    async fn due_nudges(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<AccessRequest>> {
        let rows: Vec<RequestRow> = on_db!(self, pool => {
            sqlx::query_as(q::DUE_NUDGES).bind(now).bind(limit).fetch_all(pool).await
        })
        .map_err(db("loading due nudges"))?;
        self.with_approvals(rows).await
    }

    async fn approved_requests(&self, limit: i64) -> Result<Vec<AccessRequest>> {
        let rows: Vec<RequestRow> = on_db!(self, pool => {
            sqlx::query_as(q::APPROVED_REQUESTS).bind(limit).fetch_all(pool).await
        })
        .map_err(db("loading approved requests"))?;
        self.with_approvals(rows).await
    }

    async fn claim_outbox(&self, now: DateTime<Utc>, lease: Duration, limit: i64) -> Result<Vec<OutboxItem>> {
        let until = now + lease;
        let mut rows: Vec<OutboxRow> = on_db!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("starting a claim"))?;
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

    async fn complete_outbox(&self, id: i64, posted: Option<PostedRef>) -> Result<()> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("starting a completion"))?;
            sqlx::query(q::COMPLETE_OUTBOX)
                .bind(id)
                .bind(micros(Utc::now()))
                .execute(&mut *tx)
                .await
                .map_err(db("completing an outbox row"))?;
            if let Some(p) = &posted {
                sqlx::query(q::UPSERT_POSTED_REF)
                    .bind(p.platform.as_str())
                    .bind(p.ref_key.as_str())
                    .bind(p.channel.as_str())
                    .bind(p.message_id.as_str())
                    .execute(&mut *tx)
                    .await
                    .map_err(db("remembering a posted message"))?;
            }
            tx.commit().await.map_err(db("committing a completion"))
        })
    }

    async fn retry_outbox(&self, id: i64, due_at: DateTime<Utc>, error: &str) -> Result<()> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("starting a retry"))?;
            sqlx::query(q::RETRY_OUTBOX)
                .bind(id)
                .bind(micros(due_at))
                .bind(error)
                .execute(&mut *tx)
                .await
                .map_err(db("rescheduling an outbox row"))?;
            tx.commit().await.map_err(db("committing a retry"))
        })
    }

    async fn reject_outbox(&self, id: i64, error: &str) -> Result<()> {
        on_db!(self, pool => {
            let mut tx = pool.begin_write().await.map_err(db("starting a rejection"))?;
            sqlx::query(q::REJECT_OUTBOX)
                .bind(id)
                .bind(error)
                .execute(&mut *tx)
                .await
                .map_err(db("rejecting an outbox row"))?;
            tx.commit().await.map_err(db("committing a rejection"))
        })
    }

    async fn posted_ref(&self, platform: Platform, ref_key: &str) -> Result<Option<PostedRef>> {
        let row: Option<PostedRefRow> = on_db!(self, pool => {
            sqlx::query_as(q::POSTED_REF).bind(platform.as_str()).bind(ref_key).fetch_optional(pool).await
        })
        .map_err(db("loading a posted message"))?;
        Ok(row.map(PostedRef::try_from).transpose()?)
    }

    async fn outbox_depth(&self) -> Result<i64> {
        on_db!(self, pool => sqlx::query_scalar(q::OUTBOX_DEPTH).fetch_one(pool).await)
            .map_err(db("counting outbox rows"))
    }

    async fn outbox_oldest_pending(&self) -> Result<Option<DateTime<Utc>>> {
        on_db!(self, pool => sqlx::query_scalar(q::OUTBOX_OLDEST_PENDING).fetch_one(pool).await)
            .map_err(db("reading the oldest outbox row"))
    }

    async fn open_grant_count(&self) -> Result<i64> {
        on_db!(self, pool => sqlx::query_scalar(q::OPEN_GRANT_COUNT).fetch_one(pool).await)
            .map_err(db("counting open grants"))
    }

    async fn audit_records(&self, since: Option<DateTime<Utc>>) -> Result<Vec<AuditRecord>> {
        let rows: Vec<AuditRow> = on_db!(self, pool => match since {
            None => sqlx::query_as(q::AUDIT_ALL).fetch_all(pool).await,
            Some(t) => sqlx::query_as(q::AUDIT_SINCE).bind(t).fetch_all(pool).await,
        })
        .map_err(db("loading audit records"))?;
        Ok(rows.into_iter().map(AuditRecord::try_from).collect::<anyhow::Result<_>>()?)
    }

    async fn ping(&self) -> Result<()> {
        on_db!(self, pool => sqlx::query("SELECT 1").execute(pool).await.map(drop))
            .map_err(db("pinging the database"))
    }

    async fn alarm(&self, id: &AlarmId) -> Result<Option<Alarm>> {
        self.load_alarm(id).await
    }

    async fn due_alarm_pages(&self, now: DateTime<Utc>, limit: i64) -> Result<Vec<Alarm>> {
        self.load_due_alarm_pages(now, limit).await
    }

    async fn signin_cursor(&self, account: &str) -> Result<Option<DateTime<Utc>>> {
        self.load_signin_cursor(account).await
    }

    async fn set_signin_cursor(&self, account: &str, at: DateTime<Utc>) -> Result<()> {
        self.store_signin_cursor(account, at).await
    }

    async fn audit_head(&self) -> Result<Option<(i64, String)>> {
        let head: HeadRow = on_db!(self, pool => sqlx::query_as(q::AUDIT_HEAD).fetch_one(pool).await)
            .map_err(db("loading the audit head"))?;
        Ok(Some((head.last_seq, head.last_hash)))
    }
}
