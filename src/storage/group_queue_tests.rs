//! The writer's two queues: a batch takes the commands' writes first and a bounded share of
//! the sweeps', always leaves the sweeps their share, and finishes what is queued when the
//! last handle goes.

use chrono::{Duration, TimeZone, Utc};
use tokio::sync::oneshot;

use super::{BACKGROUND_PER_BATCH, GroupCommit, Job, MAX_BATCH, Queues, Work, queues};
use crate::core::ports::{Commit, ReplayKey};
use crate::storage::commit::Prepared;

/// A job as `GroupCommit::write` queues it (the outcome is not awaited here).
fn queue(handle: &GroupCommit, work: Work) {
    let (done, _outcome) = oneshot::channel();
    let queue = if work.answers_a_command() { &handle.commands } else { &handle.background };
    queue.try_send(Job { work, done }).expect("room in the queue");
}

fn commit(replay: Option<&str>) -> Work {
    let at = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).single().expect("valid");
    let replay = replay.map(|key| ReplayKey { key: key.into(), now: at, until: at + Duration::minutes(10) });
    let commit = Commit { at: Some(at), replay, ..Commit::default() };
    Work::Commit(Box::new(Prepared { commit, at, outbox: Vec::new(), appends: Vec::new() }))
}

fn key(key: &str) -> Work {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).single().expect("valid");
    Work::Remember { key: key.into(), now, until: now + Duration::minutes(10) }
}

/// Takes one batch: how many of its writes answer a command, how many are the sweeps'.
async fn take(queues: &mut Queues) -> Option<(usize, usize, Vec<bool>)> {
    let mut batch = Vec::new();
    if !queues.take(&mut batch).await {
        return None;
    }
    let order: Vec<bool> = batch.iter().map(|j| j.work.answers_a_command()).collect();
    let commands = order.iter().filter(|c| **c).count();
    Some((commands, batch.len() - commands, order))
}

#[test]
fn a_command_is_a_write_that_carries_a_replay_key() {
    assert!(key("slack:sig:1").answers_a_command());
    assert!(commit(Some("slack:sig:1")).answers_a_command());
    assert!(!commit(None).answers_a_command(), "a sweep's commit carries no key");
}

#[tokio::test]
async fn a_sweeps_burst_queued_first_does_not_hold_back_the_commands_behind_it() {
    let (handle, mut queues) = queues();
    for _ in 0..40 {
        queue(&handle, commit(None));
    }
    queue(&handle, key("k1"));
    queue(&handle, commit(Some("k2")));
    queue(&handle, key("k3"));

    let (commands, background, order) = take(&mut queues).await.expect("a batch");
    assert_eq!((commands, background), (3, BACKGROUND_PER_BATCH), "all commands, the sweeps' share");
    assert!(order[..3].iter().all(|c| *c), "the commands lead the batch: {order:?}");
    // The rest of the burst follows, a share a batch.
    assert_eq!(take(&mut queues).await.map(|t| (t.0, t.1)), Some((0, BACKGROUND_PER_BATCH)));
    assert_eq!(take(&mut queues).await.map(|t| (t.0, t.1)), Some((0, 40 - 2 * BACKGROUND_PER_BATCH)));
}

#[tokio::test]
async fn a_stream_of_commands_leaves_the_sweeps_their_share() {
    let (handle, mut queues) = queues();
    for i in 0..100 {
        queue(&handle, key(&format!("k{i}")));
    }
    for _ in 0..5 {
        queue(&handle, commit(None));
    }
    let room = MAX_BATCH - BACKGROUND_PER_BATCH;
    assert_eq!(take(&mut queues).await.map(|t| (t.0, t.1)), Some((room, 5)));
    assert_eq!(take(&mut queues).await.map(|t| (t.0, t.1)), Some((room, 0)));
    assert_eq!(take(&mut queues).await.map(|t| (t.0, t.1)), Some((100 - 2 * room, 0)));
}

#[tokio::test]
async fn what_is_queued_when_the_last_handle_goes_is_still_written() {
    let (handle, mut queues) = queues();
    queue(&handle, commit(None));
    queue(&handle, commit(None));
    drop(handle);
    assert_eq!(take(&mut queues).await.map(|t| (t.0, t.1)), Some((0, 2)));
    assert_eq!(take(&mut queues).await, None, "then the writer stops");
}
