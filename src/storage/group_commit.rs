//! Group commit: the writes that arrive while a write transaction runs are applied together in
//! the next one.
//!
//! Every [`Commit`](crate::core::ports::Commit) and every replay key goes to one writer task per
//! store. It takes what is waiting (up to [`MAX_BATCH`]) and applies it in one transaction: each
//! commit inside its own savepoint, so a commit that loses a compare-and-set or hits a unique
//! index is rolled back alone and answered with its own error, exactly as if it had run by
//! itself; the others carry on. Callers are answered only once the transaction has committed
//! (or failed, which fails every member). Nothing waits to fill a batch: an idle writer starts
//! on the first commit at once, so a lone commit costs what it did before.
//!
//! Why: on PostgreSQL the audit chain head is locked until the end of the transaction, through
//! the commit's WAL flush, so one commit per transaction capped every replica together at one
//! flush per commit; on SQLite each transaction rewrites the pages it touched into the WAL.
//! A batch pays both once. The head is locked first, before any member writes, so a batch that
//! holds it never waits for a row another batch holds while waiting for the head.
//!
//! Commands go first. A write that answers a signed request (a commit carrying its replay key,
//! or the key alone) waits in one queue, everything else (the sweeps' activations, expiries,
//! nudges) in another; a batch takes the commands' writes first and at most
//! [`BACKGROUND_PER_BATCH`] of the others, and always leaves them that much room. A sweep that
//! hands over a hundred writes at once therefore no longer makes the next acknowledgement wait
//! for a hundred-member batch (on SQLite a batch's time grows with its members), and a steady
//! stream of commands cannot starve the sweeps.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{mpsc, oneshot};

use super::commit::{Prepared, write_commit};
use super::queries as q;
use super::rows::HeadRow;
use super::store_impl::{db, micros};
use super::{Db, Dialect, on_db};
use crate::core::error::{Error, Result};

/// Most writes one transaction takes.
pub(super) const MAX_BATCH: usize = 64;
/// Most writes of the background queue (sweeps) one batch takes; the commands' writes take
/// the rest ([`MAX_BATCH`] less this).
pub(super) const BACKGROUND_PER_BATCH: usize = 16;
/// Writes waiting for the writer, per queue, before callers wait to hand theirs over.
const QUEUE: usize = 4096;

/// One write waiting for the writer.
pub(super) enum Work {
    /// A commit (answers `true`).
    Commit(Box<Prepared>),
    /// A replay key (answers whether it was new; see `Store::remember_request`).
    Remember { key: String, now: chrono::DateTime<chrono::Utc>, until: chrono::DateTime<chrono::Utc> },
}

impl Work {
    /// Whether someone's acknowledgement waits for this write: a signed request's replay key,
    /// alone or carried by the commit of what the request changes (see `core::service::replay`).
    fn answers_a_command(&self) -> bool {
        match self {
            Work::Remember { .. } => true,
            Work::Commit(prepared) => prepared.commit.replay.is_some(),
        }
    }
}

struct Job {
    work: Work,
    done: oneshot::Sender<Result<bool>>,
}

/// The handle writers use; the task behind it ends when the last handle is dropped.
#[derive(Debug, Clone)]
pub(super) struct GroupCommit {
    /// Writes that answer a command.
    commands: mpsc::Sender<Job>,
    /// Everything else.
    background: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer of `db` on a thread of its own (see [`own_thread`]).
    pub(super) fn start(db: Db) -> Self {
        let (handle, queues) = queues();
        own_thread(Writer { db, paths: BatchPaths::default() }, queues);
        handle
    }

    /// Hands `work` to the writer and waits for its outcome.
    pub(super) async fn write(&self, work: Work) -> Result<bool> {
        let (done, outcome) = oneshot::channel();
        let gone = || Error::Internal(anyhow::anyhow!("the database writer has stopped"));
        let queue = if work.answers_a_command() { &self.commands } else { &self.background };
        queue.send(Job { work, done }).await.map_err(|_| gone())?;
        outcome.await.map_err(|_| gone())?
    }
}

/// The writer's end of the two queues.
struct Queues {
    commands: mpsc::Receiver<Job>,
    background: mpsc::Receiver<Job>,
}

fn queues() -> (GroupCommit, Queues) {
    let (commands, commands_rx) = mpsc::channel(QUEUE);
    let (background, background_rx) = mpsc::channel(QUEUE);
    (GroupCommit { commands, background }, Queues { commands: commands_rx, background: background_rx })
}

impl Queues {
    /// Waits for a write, then takes into `batch` what waits: the commands' writes first (up to
    /// [`MAX_BATCH`] less [`BACKGROUND_PER_BATCH`]), then background writes up to
    /// [`BACKGROUND_PER_BATCH`]. `false` once every handle is gone and nothing is left.
    async fn take(&mut self, batch: &mut Vec<Job>) -> bool {
        const COMMANDS: usize = MAX_BATCH - BACKGROUND_PER_BATCH;
        let first = tokio::select! {
            biased;
            job = self.commands.recv() => job,
            job = self.background.recv() => job,
        };
        // `None`: both queues are closed (one handle holds both senders); what is left in them
        // is still taken below, and an empty batch ends the writer.
        batch.extend(first);
        let mut background = batch.iter().filter(|j| !j.work.answers_a_command()).count();
        let mut commands = batch.len() - background;
        while commands < COMMANDS
            && let Ok(job) = self.commands.try_recv()
        {
            batch.push(job);
            commands += 1;
        }
        while background < BACKGROUND_PER_BATCH
            && let Ok(job) = self.background.try_recv()
        {
            batch.push(job);
            background += 1;
        }
        !batch.is_empty()
    }
}

struct Writer {
    db: Db,
    paths: BatchPaths,
}

/// How a writer's batches were written (the tests read which path a batch took).
#[derive(Debug, Default)]
pub(super) struct BatchPaths {
    /// Batches written set-based, one statement a table (PostgreSQL).
    pub(super) set: AtomicU64,
    /// Set-based attempts rolled back (a lost race, a unique index) and written member by member.
    pub(super) fell_back: AtomicU64,
    /// Batches written member by member (including those that fell back).
    pub(super) members: AtomicU64,
}

/// Runs the writer on a thread and runtime of its own, with (on PostgreSQL) a connection of its
/// own, until the last handle is dropped. On the shared runtime, under load, every statement's
/// answer woke the writer behind whatever request tasks were queued there, and the writer was
/// a statement per wake-up: a batch took milliseconds of waiting for its turn (BENCHMARKS.md).
fn own_thread(writer: Writer, queues: Queues) {
    let started = std::thread::Builder::new().name("pimbot-db-writer".into()).spawn(move || {
        let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
            Ok(runtime) => runtime,
            Err(e) => return tracing::error!(error = %e, "the database writer could not start"),
        };
        runtime.block_on(async move {
            // A connection belongs to the runtime that opened it: the writer opens its own.
            let db = match writer.db {
                Db::Postgres(pool) => {
                    let options = (*pool.connect_options()).clone();
                    Db::Postgres(super::postgres::pool_options(1).connect_lazy_with(options))
                }
                sqlite => sqlite,
            };
            run(Writer { db, paths: writer.paths }, queues).await;
        });
    });
    if let Err(e) = started {
        tracing::error!(error = %e, "the database writer thread could not start");
    }
}

async fn run(writer: Writer, mut queues: Queues) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while queues.take(&mut batch).await {
        let outcomes = writer.write_batch(&batch).await;
        for (job, outcome) in batch.drain(..).zip(outcomes) {
            let _ = job.done.send(outcome); // a caller that gave up no longer listens
        }
    }
}

impl Writer {
    /// Applies `batch` in one transaction; one outcome per job, in order. On PostgreSQL a
    /// batch of plain rows goes in set-based first (`set_write`).
    async fn write_batch(&self, batch: &[Job]) -> Vec<Result<bool>> {
        if let Db::Postgres(pool) = &self.db
            && batch.len() > 1
        {
            let works: Vec<&Work> = batch.iter().map(|j| &j.work).collect();
            if super::set_write::fits(&works) {
                match super::set_write::write_batch(pool, &works).await {
                    Ok(outcomes) => {
                        self.paths.set.fetch_add(1, Ordering::Relaxed);
                        return outcomes;
                    }
                    Err(super::set_write::Fallback(why)) => {
                        self.paths.fell_back.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(error = %why, "a set-based batch went member by member");
                    }
                }
            }
        }
        self.paths.members.fetch_add(1, Ordering::Relaxed);
        self.write_members(batch).await
    }

    /// Applies `batch` member by member in one transaction, each commit in its savepoint.
    async fn write_members(&self, batch: &[Job]) -> Vec<Result<bool>> {
        let mut outcomes: Vec<Result<bool>> = Vec::with_capacity(batch.len());
        // A lone write needs no savepoint: its failure rolls back the whole transaction.
        let savepoints = batch.len() > 1;
        let written: Result<()> = on_db!(write self, pool => {
            async {
                let mut tx = pool.begin_write().await.map_err(db("starting a write transaction"))?;
                let nest = pool.nest_savepoints();
                let chained = batch.iter().any(|j| matches!(&j.work, Work::Commit(p) if p.appends()));
                let head = if chained {
                    let head: HeadRow = sqlx::query_as(pool.lock_audit_head_sql())
                        .fetch_one(&mut *tx)
                        .await
                        .map_err(db("locking the audit head"))?;
                    Some(head)
                } else {
                    None
                };
                let (mut seq, mut prev) = head.map(|h| (h.last_seq, h.last_hash)).unwrap_or_default();
                for job in batch {
                    // A replay key cannot lose a race (the insert decides, without an error), so
                    // only commits that write rows need a savepoint. On PostgreSQL savepoints nest
                    // rather than being released (one statement per commit; a rollback goes to
                    // the newest).
                    let guarded = savepoints && matches!(&job.work, Work::Commit(p) if !p.writes_no_rows());
                    if guarded {
                        sqlx::query("SAVEPOINT member").execute(&mut *tx).await.map_err(db("starting a savepoint"))?;
                    }
                    let outcome: Result<bool> = match &job.work {
                        Work::Commit(prepared) => write_commit!(tx, pool, prepared).await.map(|()| true),
                        Work::Remember { key, now, until } => sqlx::query(q::REMEMBER_REQUEST)
                            .bind(key.as_str())
                            .bind(micros(*now))
                            .bind(micros(*until))
                            .execute(&mut *tx)
                            .await
                            .map(|r| r.rows_affected() == 1)
                            .map_err(db("remembering a request")),
                    };
                    match &outcome {
                        Ok(_) if guarded && !nest => {
                            sqlx::query("RELEASE SAVEPOINT member")
                                .execute(&mut *tx)
                                .await
                                .map_err(db("releasing a savepoint"))?;
                        }
                        Ok(_) => {}
                        Err(_) if guarded => {
                            sqlx::query("ROLLBACK TO SAVEPOINT member")
                                .execute(&mut *tx)
                                .await
                                .map_err(db("rolling back a savepoint"))?;
                            if !nest {
                                sqlx::query("RELEASE SAVEPOINT member")
                                    .execute(&mut *tx)
                                    .await
                                    .map_err(db("releasing a savepoint"))?;
                            }
                        }
                        // Alone: nothing of the batch is worth keeping.
                        Err(_) if !savepoints => {
                            outcomes.push(outcome);
                            return Ok(());
                        }
                        // A commit without rows whose key was recorded before: it wrote nothing.
                        Err(Error::Conflict(_)) => {}
                        // A replay key that failed is a database failure: the transaction
                        // cannot go on, and every member fails.
                        Err(e) => return Err(Error::Internal(anyhow::anyhow!("{e}"))),
                    }
                    outcomes.push(outcome);
                }
                // The kept commits' outbox messages and audit records, one insert each.
                let kept = kept(batch.iter().map(|j| &j.work), &outcomes);
                // ...and the audit head moved to the last record, if the chain grew.
                pool.write_tails(&mut tx, &kept, &mut seq, &mut prev).await?;
                tx.commit().await.map_err(db("committing"))
            }
            .await
        });
        match written {
            Ok(()) => outcomes,
            Err(e) => {
                // Nothing of this transaction was kept: every member fails, with the members'
                // own refusals (a lost compare-and-set stays a conflict) where they had one.
                let why = format!("{e:#}");
                let mut all: Vec<Result<bool>> = outcomes
                    .into_iter()
                    .map(|o| match o {
                        Err(own) if !matches!(own, Error::Internal(_)) => Err(own),
                        _ => Err(Error::Internal(anyhow::anyhow!("the write transaction failed: {why}"))),
                    })
                    .collect();
                all.resize_with(batch.len(), || {
                    Err(Error::Internal(anyhow::anyhow!("the write transaction failed: {why}")))
                });
                all
            }
        }
    }
}

/// The commits among `works` whose outcome is a success, in member order: the ones a batch
/// keeps, whose outbox messages and audit records its tail writes.
pub(super) fn kept<'a>(
    works: impl Iterator<Item = &'a Work>,
    outcomes: &[Result<bool>],
) -> Vec<&'a Prepared> {
    works
        .zip(outcomes)
        .filter_map(|(work, outcome)| match (work, outcome) {
            (Work::Commit(prepared), Ok(_)) => Some(prepared.as_ref()),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
#[path = "group_commit_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "group_queue_tests.rs"]
mod queue_tests;
