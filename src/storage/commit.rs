//! How one [`Commit`] is written: compare-and-set on every update, outbox rows queued alongside,
//! and audit events chained behind the head. Links are keyed HMACs (`core::audit_chain`),
//! prepared before the transaction ([`Prepared`]) and finished under it. The transaction itself,
//! shared by the commits that arrive together, is `group_commit`'s.

use anyhow::Context;
use chrono::{DateTime, Utc};

use super::SqlStore;
use super::store_impl::micros;
use crate::core::audit::AuditEvent;
use crate::core::audit_chain::PreparedLink;
use crate::core::error::Result;
use crate::core::ports::Commit;

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
            .bind($crate::storage::store_impl::micros($r.created_at))
            .bind($r.decided_at.map($crate::storage::store_impl::micros))
            .bind($r.decided_by.as_ref().map($crate::core::ids::PersonId::as_str))
            .bind($r.reason.as_deref())
            .bind($r.nudge_stage.as_str())
            .bind($r.next_nudge_at.map($crate::storage::store_impl::micros))
            .bind($r.grant_id.as_ref().map($crate::core::ids::GrantId::as_str))
            .bind($r.starts_at.map($crate::storage::store_impl::micros))
            .bind($r.activation_lease_until.map($crate::storage::store_impl::micros))
    };
}

pub(super) use bind_request;

/// Binds a grant's columns in `queries::grant_columns` order, with `$version` as `$9`.
macro_rules! bind_grant {
    ($query:expr, $g:expr, $version:expr) => {
        $query
            .bind($g.id.as_str())
            .bind($g.request_id.as_str())
            .bind($g.person.as_str())
            .bind($g.role.as_str())
            .bind($crate::storage::store_impl::micros($g.starts_at))
            .bind($crate::storage::store_impl::micros($g.ends_at))
            .bind($g.ended_at.map($crate::storage::store_impl::micros))
            .bind($g.end_reason.map(|r| r.as_str()))
            .bind($version)
            .bind($g.target.as_ref().map(|t| t.kind.as_str()))
            .bind($g.target.as_ref().map(|t| t.directory_id.as_str()))
            .bind($g.target.as_ref().map(|t| t.scope.as_str()))
            .bind($g.target.as_ref().and_then(|t| t.principal_id.as_deref()))
            .bind($g.granting)
    };
}

/// A commit made ready for the writer: its outbox rows serialised and its audit events hashed
/// (all but their position), so little work happens inside the write transaction.
pub(crate) struct Prepared {
    pub(super) commit: Commit,
    pub(super) at: DateTime<Utc>,
    pub(super) outbox: Vec<(&'static str, String, String)>,
    pub(super) appends: Vec<(AuditEvent, String, PreparedLink)>,
}

impl Prepared {
    /// Whether the commit appends audit records (and so needs the chain head).
    pub(super) fn appends(&self) -> bool {
        !self.appends.is_empty()
    }

    /// Whether the commit writes no row of its own: only its replay key (written first; a key
    /// already recorded writes nothing and refuses the commit) and the tails the batch writes
    /// for the commits it keeps. Such a member cannot fail half-way, so it needs no savepoint
    /// (a refusal's record is one: most of the commands under load).
    pub(super) fn writes_no_rows(&self) -> bool {
        let c = &self.commit;
        c.requests.is_empty()
            && c.approvals.is_empty()
            && c.grants.is_empty()
            && super::set_write::only_rows(c)
    }
}

pub(super) use bind_grant;

/// The conflict a commit whose replay key was already recorded answers with.
pub(crate) fn replayed(replay: &crate::core::ports::ReplayKey) -> String {
    format!("request {} was already received", replay.key)
}

impl SqlStore {
    /// Applies a commit (see `Store::commit`): prepared here, written by the group-commit
    /// writer in a transaction it may share with other commits.
    pub(super) async fn apply(&self, commit: Commit) -> Result<()> {
        let prepared = self.prepare(commit)?;
        self.writer().write(super::group_commit::Work::Commit(Box::new(prepared))).await.map(|_| ())
    }

    /// Records a replay key through the same writer (see `Store::remember_request`). An
    /// autocommit insert beside the writer on PostgreSQL was measured and was not faster (each
    /// key then pays its own WAL flush; BENCHMARKS.md), so both backends batch them.
    pub(super) async fn remember(&self, key: &str, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool> {
        let work = super::group_commit::Work::Remember { key: key.to_owned(), now, until };
        self.writer().write(work).await
    }

    /// Serialises and hashes what can be before the transaction (see [`Prepared`]).
    pub(super) fn prepare(&self, commit: Commit) -> Result<Prepared> {
        let at = micros(commit.at.unwrap_or_else(Utc::now));
        let outbox = commit
            .outbox
            .iter()
            .map(|m| Ok((m.platform.as_str(), m.order_key.clone(), serde_json::to_string(m)?)))
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
        Ok(Prepared { commit, at, outbox, appends })
    }
}

/// Writes one prepared commit's rows (all but its outbox messages and audit records, which
/// `Dialect::write_tails` writes for the whole batch) inside the open transaction `$tx` of `$pool`.
/// Evaluates to `Result<()>`; on an error the caller rolls the commit's writes back.
macro_rules! write_commit {
    ($tx:ident, $pool:ident, $prepared:expr) => {
        async {
            let prepared: &$crate::storage::commit::Prepared = $prepared;
            let commit = &prepared.commit;
            let at = prepared.at;
            if let Some(replay) = &commit.replay {
                let new = sqlx::query($crate::storage::queries::REMEMBER_REQUEST)
                    .bind(replay.key.as_str())
                    .bind($crate::storage::store_impl::micros(replay.now))
                    .bind($crate::storage::store_impl::micros(replay.until))
                    .execute(&mut *$tx)
                    .await
                    .map_err($crate::storage::store_impl::db("remembering a request"))?
                    .rows_affected()
                    == 1;
                if !new {
                    return Err($crate::core::error::Error::Conflict($crate::storage::commit::replayed(
                        replay,
                    )));
                }
            }
            for write in &commit.requests {
                match write {
                    $crate::core::ports::Write::Insert(r) => {
                        $crate::storage::commit::bind_request!(
                            sqlx::query($crate::storage::queries::INSERT_REQUEST),
                            r,
                            r.version
                        )
                        .execute(&mut *$tx)
                        .await
                        .map_err($crate::storage::store_impl::unique_is_conflict(
                            "inserting a request",
                            || format!("request {} already exists", r.id),
                        ))?;
                    }
                    $crate::core::ports::Write::Update { row, expected_version } => {
                        let applied: Option<i64> = $crate::storage::commit::bind_request!(
                            sqlx::query_scalar($crate::storage::queries::UPDATE_REQUEST),
                            row,
                            *expected_version
                        )
                        .fetch_optional(&mut *$tx)
                        .await
                        .map_err($crate::storage::store_impl::db("updating a request"))?;
                        if applied.is_none() {
                            return Err($crate::core::error::Error::Conflict(format!(
                                "request {} was already changed by someone else",
                                row.id
                            )));
                        }
                    }
                }
            }
            for (request, approval) in &commit.approvals {
                sqlx::query($crate::storage::queries::INSERT_APPROVAL)
                    .bind(request.as_str())
                    .bind(approval.approver.as_str())
                    .bind($crate::storage::store_impl::micros(approval.at))
                    .execute(&mut *$tx)
                    .await
                    .map_err($crate::storage::store_impl::unique_is_conflict(
                        "inserting an approval",
                        || format!("{} already approved request {request}", approval.approver),
                    ))?;
            }
            for write in &commit.grants {
                match write {
                    $crate::core::ports::Write::Insert(g) => {
                        $crate::storage::commit::bind_grant!(
                            sqlx::query($crate::storage::queries::INSERT_GRANT),
                            g,
                            g.version
                        )
                        .execute(&mut *$tx)
                        .await
                        .map_err($crate::storage::store_impl::unique_is_conflict(
                            "inserting a grant",
                            || format!("{} already holds an open grant of {}", g.person, g.role),
                        ))?;
                    }
                    $crate::core::ports::Write::Update { row, expected_version } => {
                        let applied: Option<i64> = $crate::storage::commit::bind_grant!(
                            sqlx::query_scalar($crate::storage::queries::UPDATE_GRANT),
                            row,
                            *expected_version
                        )
                        .fetch_optional(&mut *$tx)
                        .await
                        .map_err($crate::storage::store_impl::unique_is_conflict(
                            "updating a grant",
                            || format!("{} already holds an open grant of {}", row.person, row.role),
                        ))?;
                        if applied.is_none() {
                            return Err($crate::core::error::Error::Conflict(format!(
                                "grant {} was already changed by someone else",
                                row.id
                            )));
                        }
                    }
                }
            }
            $crate::storage::alarms::write_alarms!($tx, &commit.alarms);
            $crate::storage::alarms::write_alarm_signins!($tx, &commit.signins);
            $crate::storage::governance::write_governance!($tx, &commit.governance, at);
            $crate::storage::identity::write_identity!($tx, commit, at);
            let _ = &$pool;
            Ok::<(), $crate::core::error::Error>(())
        }
    };
}
pub(super) use write_commit;

/// An outbox message of a batch's tail: platform, order key, message, queued at.
pub(super) type TailMessage<'a> = (&'static str, &'a str, &'a str, DateTime<Utc>);

/// An audit record of a batch's tail, chained to its predecessor.
pub(super) struct TailRecord<'a> {
    pub(super) seq: i64,
    pub(super) event: &'a AuditEvent,
    pub(super) detail: &'a str,
    pub(super) prev: String,
    pub(super) hash: String,
    pub(super) key_id: &'a str,
}

/// The outbox messages of the commits a batch kept, in member order (the order of their ids).
pub(super) fn tail_messages<'a>(kept: &[&'a Prepared]) -> Vec<TailMessage<'a>> {
    kept.iter()
        .flat_map(|p| p.outbox.iter().map(move |(pl, k, m)| (*pl, k.as_str(), m.as_str(), p.at)))
        .collect()
}

/// The audit records of the commits a batch kept, chained after `seq`/`prev` (the head the
/// batch holds) in member order; `seq`/`prev` end at the last record. The one place a
/// batch's records get their positions and links, whatever the dialect writes them with.
pub(super) fn chain_tail<'a>(kept: &[&'a Prepared], seq: &mut i64, prev: &mut String) -> Vec<TailRecord<'a>> {
    let mut records = Vec::new();
    for prepared in kept {
        for (event, detail, link) in &prepared.appends {
            *seq += 1;
            let hash = link.clone().finish(*seq, prev);
            let before = std::mem::replace(prev, hash.clone());
            records.push(TailRecord { seq: *seq, event, detail, prev: before, hash, key_id: link.key_id() });
        }
    }
    records
}
