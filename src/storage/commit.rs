//! The one writer of requests, approvals, grants, alarms and audit records: a [`Commit`] applied
//! in one write transaction, compare-and-set on every update, outbox rows queued alongside, and
//! audit events chained behind the head row, which is locked last so it is held briefly. Links
//! are keyed HMACs (`core::audit_chain`), prepared before the transaction and finished under it.

use anyhow::Context;
use chrono::Utc;

use super::queries as q;
use super::rows::{HeadRow, actor_columns};
use super::store_impl::{db, micros, unique_is_conflict};
use super::{Dialect, SqlStore, on_db};
use crate::core::error::{Error, Result};
use crate::core::ids::{GrantId, PersonId, RequestId, RoleKey};
use crate::core::ports::{Commit, Write};

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
            .bind($r.starts_at.map(micros))
            .bind($r.activation_lease_until.map(micros))
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
            .bind($g.target.as_ref().map(|t| t.kind.as_str()))
            .bind($g.target.as_ref().map(|t| t.directory_id.as_str()))
            .bind($g.target.as_ref().map(|t| t.scope.as_str()))
            .bind($g.target.as_ref().and_then(|t| t.principal_id.as_deref()))
            .bind($g.granting)
    };
}

impl SqlStore {
    /// Applies a commit in one write transaction (see `Store::commit`).
    pub(super) async fn apply(&self, commit: Commit) -> Result<()> {
        let at = micros(commit.at.unwrap_or_else(Utc::now));
        let outbox = commit
            .outbox
            .iter()
            .map(|m| Ok((m.platform.as_str(), m.order_key.as_str(), serde_json::to_string(m)?)))
            .collect::<serde_json::Result<Vec<_>>>()
            .context("serializing an outbox message")?;
        // Everything about the events but their position is encoded and hashed now, before
        // the transaction: under the head lock only the sequence number and the previous link
        // are added.
        let mut appends = Vec::with_capacity(commit.audit.len());
        for event in &commit.audit {
            let mut event = event.clone();
            event.at = micros(event.at);
            let detail = serde_json::to_string(&event.detail).context("serializing an audit detail")?;
            let link = self.linker.prepare(&event);
            appends.push((event, detail, link));
        }
        on_db!(write self, pool => {
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
            super::alarms::write_alarm_signins!(tx, &commit.signins);
            super::governance::write_governance!(tx, &commit.governance, at);
            super::identity::write_identity!(tx, commit, at);
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
            if !appends.is_empty() {
                // The head lock serializes appends, so sequence numbers never collide. It is
                // taken last, so it is held only for the appends and the commit itself.
                let head: HeadRow = sqlx::query_as(pool.lock_audit_head_sql())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(db("locking the audit head"))?;
                let (mut seq, mut prev) = (head.last_seq, head.last_hash);
                let last = appends.len() - 1;
                let mut head_moved = false;
                for (i, (event, detail, link)) in appends.into_iter().enumerate() {
                    seq += 1;
                    let key_id = link.key_id().to_owned();
                    let hash = link.finish(seq, &prev);
                    let (actor_kind, actor) = actor_columns(&event.actor);
                    // Where the dialect can, the last append moves the head in the same
                    // statement: one round trip less while the head is locked.
                    let sql = match (i == last, pool.append_audit_moving_head_sql()) {
                        (true, Some(sql)) => {
                            head_moved = true;
                            sql
                        }
                        _ => q::INSERT_AUDIT,
                    };
                    sqlx::query(sql)
                        .bind(seq)
                        .bind(event.at)
                        .bind(actor_kind)
                        .bind(actor)
                        .bind(event.kind.as_str())
                        .bind(event.request_id.as_ref().map(RequestId::as_str))
                        .bind(event.role.as_ref().map(RoleKey::as_str))
                        .bind(detail.as_str())
                        .bind(prev.as_str())
                        .bind(hash.as_str())
                        .bind(key_id.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(db("appending an audit record"))?;
                    prev = hash;
                }
                if !head_moved {
                    sqlx::query(q::UPDATE_AUDIT_HEAD)
                        .bind(seq)
                        .bind(prev.as_str())
                        .execute(&mut *tx)
                        .await
                        .map_err(db("moving the audit head"))?;
                }
            }
            tx.commit().await.map_err(db("committing"))
        })
    }
}
