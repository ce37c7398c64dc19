//! Set-based group commits on PostgreSQL: a batch's rows go in one statement a table and kind.
//!
//! Member by member, a batch of 64 commits is several hundred statements on the one writer
//! connection, each a round trip (savepoint, replay key, request, approval, grant); the writer
//! was bound by them (BENCHMARKS.md). When every member of a batch writes only replay keys,
//! requests, approvals and grants (the commands' and activations' commits), the batch is
//! written here instead: one `UNNEST` statement for the replay keys, one for the request
//! compare-and-set updates, one for the request inserts, one for the approvals, and likewise
//! for grants, whatever the batch's size.
//!
//! The outcome must be one the members would have had in order. So this path is only taken
//! when no row is written twice in the batch; every compare-and-set is decided first, under
//! row locks (a member expecting another version is refused alone and writes nothing); and
//! anything else that fails (a unique index, a lost connection) rolls the attempt back and the
//! batch is written member by member, where each member gets its own answer. Replay keys never
//! fail: a key seen twice in one batch is new for its first member only, as it would be in
//! order, and a commit carrying a key that was not new is refused alone (its key is decided
//! after the compare-and-sets, so a commit refused for one records none). The rows' columns and
//! their statements are in `set_columns`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use super::Dialect;
use super::commit::Prepared;
use super::group_commit::Work;
use super::queries as q;
use super::rows::HeadRow;
use super::set_columns::{GrantColumns, RequestColumns};
use super::store_impl::micros;
use crate::core::error::{Error, Result};
use crate::core::ports::{Commit, Write};

/// Replay keys: new, or expired before `$3` (the batch's earliest `now`). Returns the keys
/// that were new.
const REMEMBER_MANY: &str = "INSERT INTO seen_requests (key, expires_at) SELECT * FROM UNNEST($1::text[], \
     $2::timestamptz[]) ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at \
     WHERE seen_requests.expires_at < $3 RETURNING key";

const INSERT_APPROVALS: &str = "INSERT INTO approvals (request_id, approver, at) \
     SELECT * FROM UNNEST($1::text[], $2::text[], $3::timestamptz[])";

/// Why a batch goes member by member after all: a compare-and-set did not apply, or a
/// statement failed (a unique index, a lost connection). Nothing of the attempt was kept.
#[derive(Debug)]
pub(super) struct Fallback(pub(super) Error);

/// Writes `works` (which [`fits`]) in one transaction. `Ok`: one outcome per member: the
/// transaction committed (a member whose compare-and-set would not apply is refused alone, as
/// in order), or its `COMMIT` failed (which may or may not have applied) and every member
/// failed. `Err`: nothing was kept and the batch must go member by member.
pub(super) async fn write_batch(
    pool: &PgPool,
    works: &[&Work],
) -> std::result::Result<Vec<Result<bool>>, Fallback> {
    let mut tx = pool.begin().await.map_err(lost)?;
    // The head is locked first, as member by member (see `group_commit`).
    let head: Option<HeadRow> = if commits_of(works).any(|p| p.appends()) {
        Some(sqlx::query_as(q::AUDIT_HEAD_FOR_UPDATE).fetch_one(&mut *tx).await.map_err(lost)?)
    } else {
        None
    };
    let (mut seq, mut prev) = head.map(|h| (h.last_seq, h.last_hash)).unwrap_or_default();
    let mut outcomes: Vec<Result<bool>> = works.iter().map(|_| Ok(true)).collect();
    // Compare-and-sets first: a commit refused for one records no replay key.
    refuse_stale(&mut tx, works, &mut outcomes).await?;
    remember(&mut tx, works, &mut outcomes).await?;
    let kept = super::group_commit::kept(works.iter().copied(), &outcomes);
    write_rows(&mut tx, &kept).await?;
    // The tails and the moved audit head: one statement on PostgreSQL.
    pool.write_tails(&mut tx, &kept, &mut seq, &mut prev).await.map_err(Fallback)?;
    if let Err(e) = tx.commit().await {
        let why = format!("the write transaction failed: committing: {e}");
        return Ok(works.iter().map(|_| Err(Error::Internal(anyhow::anyhow!("{why}")))).collect());
    }
    Ok(outcomes)
}

fn commits_of<'a>(works: &'a [&'a Work]) -> impl Iterator<Item = &'a Prepared> {
    works.iter().filter_map(|w| match w {
        Work::Commit(p) => Some(p.as_ref()),
        Work::Remember { .. } => None,
    })
}

/// Versions of the rows the batch updates, locked (in id order) until the transaction ends.
const REQUEST_VERSIONS: &str = "SELECT id, version FROM requests WHERE id = ANY($1) ORDER BY id FOR UPDATE";
const GRANT_VERSIONS: &str = "SELECT id, version FROM grants WHERE id = ANY($1) ORDER BY id FOR UPDATE";

/// Decides every compare-and-set of the batch up front: the rows it updates are locked and
/// their versions read, and a commit expecting another version is refused (its outcome set to
/// the conflict the member-by-member path gives) and written not at all.
async fn refuse_stale(
    tx: &mut sqlx::PgConnection,
    works: &[&Work],
    outcomes: &mut [Result<bool>],
) -> std::result::Result<(), Fallback> {
    let request_ids: Vec<&str> = commits_of(works)
        .flat_map(|p| p.commit.requests.iter().filter(|w| is_update(w)).map(|w| row_of(w).id.as_str()))
        .collect();
    let grant_ids: Vec<&str> = commits_of(works)
        .flat_map(|p| p.commit.grants.iter().filter(|w| is_update(w)).map(|w| row_of(w).id.as_str()))
        .collect();
    let requests = versions(tx, REQUEST_VERSIONS, &request_ids).await?;
    let grants = versions(tx, GRANT_VERSIONS, &grant_ids).await?;
    for (work, outcome) in works.iter().zip(outcomes.iter_mut()) {
        let Work::Commit(p) = work else { continue };
        let stale_request = p.commit.requests.iter().find_map(|w| match w {
            Write::Update { row, expected_version }
                if requests.get(row.id.as_str()) != Some(expected_version) =>
            {
                Some(format!("request {} was already changed by someone else", row.id))
            }
            _ => None,
        });
        let stale_grant = || {
            p.commit.grants.iter().find_map(|w| match w {
                Write::Update { row, expected_version }
                    if grants.get(row.id.as_str()) != Some(expected_version) =>
                {
                    Some(format!("grant {} was already changed by someone else", row.id))
                }
                _ => None,
            })
        };
        if let Some(why) = stale_request.or_else(stale_grant) {
            *outcome = Err(Error::Conflict(why));
        }
    }
    Ok(())
}

async fn versions(
    tx: &mut sqlx::PgConnection,
    sql: &'static str,
    ids: &[&str],
) -> std::result::Result<HashMap<String, i64>, Fallback> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let rows: Vec<(String, i64)> = sqlx::query_as(sql).bind(ids).fetch_all(&mut *tx).await.map_err(lost)?;
    Ok(rows.into_iter().collect())
}

/// Whether every member of the batch is of the kinds written here, and no row is written
/// twice (one statement cannot write the same row twice the way members in order would).
pub(super) fn fits(works: &[&Work]) -> bool {
    let (mut requests, mut grants, mut approvals) = (HashSet::new(), HashSet::new(), HashSet::new());
    works.iter().all(|work| match work {
        Work::Remember { .. } => true,
        Work::Commit(prepared) => {
            let c = &prepared.commit;
            only_rows(c)
                && c.requests.iter().all(|w| requests.insert(row_of(w).id.as_str()))
                && c.grants.iter().all(|w| grants.insert(row_of(w).id.as_str()))
                && c.approvals.iter().all(|(r, a)| approvals.insert((r.as_str(), a.approver.as_str())))
        }
    })
}

/// Whether a commit writes nothing but requests, approvals, grants, outbox and audit rows.
pub(super) fn only_rows(c: &Commit) -> bool {
    let g = &c.governance;
    c.alarms.is_empty()
        && c.signins.is_empty()
        && c.links.is_empty()
        && c.new_auth_states.is_empty()
        && c.use_auth_states.is_empty()
        && g.alerts.is_empty()
        && g.campaigns.is_empty()
        && g.completed.is_empty()
        && g.items.is_empty()
        && g.removals.is_empty()
        && g.forget_removals.is_empty()
        && g.extensions.is_empty()
}

fn is_update<T>(write: &Write<T>) -> bool {
    matches!(write, Write::Update { .. })
}

fn row_of<T>(write: &Write<T>) -> &T {
    match write {
        Write::Insert(row) | Write::Update { row, .. } => row,
    }
}

/// Writes the rows of `commits` in the open transaction, one statement a table and kind.
/// Their compare-and-sets were decided by [`refuse_stale`] under lock, so each must apply.
async fn write_rows(tx: &mut sqlx::PgConnection, commits: &[&Prepared]) -> std::result::Result<(), Fallback> {
    let requests = commits.iter().flat_map(|p| &p.commit.requests);
    let (updates, inserts): (Vec<_>, Vec<_>) = requests.partition(|w| is_update(w));
    // Updates first: a superseded request leaves the open states before its successor enters.
    RequestColumns::of(&updates).update(tx).await?;
    RequestColumns::of(&inserts).insert(tx).await?;
    let (mut ids, mut approvers, mut ats) = (Vec::new(), Vec::new(), Vec::new());
    for (request, approval) in commits.iter().flat_map(|p| &p.commit.approvals) {
        ids.push(request.as_str());
        approvers.push(approval.approver.as_str());
        ats.push(micros(approval.at));
    }
    if !ids.is_empty() {
        sqlx::query(INSERT_APPROVALS)
            .bind(&ids)
            .bind(&approvers)
            .bind(&ats)
            .execute(&mut *tx)
            .await
            .map_err(lost)?;
    }
    let grants = commits.iter().flat_map(|p| &p.commit.grants);
    let (updates, inserts): (Vec<_>, Vec<_>) = grants.partition(|w| is_update(w));
    GrantColumns::of(&updates).update(tx).await?;
    GrantColumns::of(&inserts).insert(tx).await
}

/// The batch's replay keys in one statement: the replay keys' own members and the commits
/// that carry one (and were not refused already). A key member's outcome says whether its key
/// was new; a commit whose key was not is refused with the conflict member by member gives.
async fn remember(
    tx: &mut sqlx::PgConnection,
    works: &[&Work],
    outcomes: &mut [Result<bool>],
) -> std::result::Result<(), Fallback> {
    let (mut keys, mut untils) = (Vec::new(), Vec::new());
    let mut first_seen = HashSet::new();
    let mut earliest: Option<DateTime<Utc>> = None;
    for (work, outcome) in works.iter().zip(outcomes.iter()) {
        if let (Some((key, now, until)), Ok(_)) = (key_of(work), outcome)
            && first_seen.insert(key)
        {
            keys.push(key);
            untils.push(micros(until));
            earliest = Some(earliest.map_or(now, |e| e.min(now)));
        }
    }
    let Some(now) = earliest else { return Ok(()) };
    let new: HashSet<String> = sqlx::query_scalar(REMEMBER_MANY)
        .bind(&keys)
        .bind(&untils)
        .bind(micros(now))
        .fetch_all(&mut *tx)
        .await
        .map_err(lost)?
        .into_iter()
        .collect();
    // A key twice in the batch is new for its first member only, as in order.
    let mut answered = HashSet::new();
    for (work, outcome) in works.iter().zip(outcomes.iter_mut()) {
        let Some((key, ..)) = key_of(work) else { continue };
        if outcome.is_err() {
            continue;
        }
        let fresh = new.contains(key) && answered.insert(key);
        *outcome = match work {
            Work::Remember { .. } => Ok(fresh),
            Work::Commit(p) if !fresh => Err(Error::Conflict(
                p.commit.replay.as_ref().map(super::commit::replayed).unwrap_or_default(),
            )),
            Work::Commit(_) => Ok(true),
        };
    }
    Ok(())
}

/// A member's replay key, with when it arrived and until when it is kept.
fn key_of(work: &Work) -> Option<(&str, DateTime<Utc>, DateTime<Utc>)> {
    match work {
        Work::Remember { key, now, until } => Some((key.as_str(), *now, *until)),
        Work::Commit(p) => p.commit.replay.as_ref().map(|r| (r.key.as_str(), r.now, r.until)),
    }
}

pub(super) fn lost(e: sqlx::Error) -> Fallback {
    Fallback(Error::Internal(anyhow::anyhow!("set-based write: {e}")))
}

/// A compare-and-set statement that applied to fewer rows than it was given lost a race.
pub(super) fn all_applied(applied: usize, given: usize, what: &str) -> std::result::Result<(), Fallback> {
    if applied == given {
        Ok(())
    } else {
        Err(Fallback(Error::Conflict(format!("{} of {given} {what} had changed", given - applied))))
    }
}
