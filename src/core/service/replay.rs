//! Replays: a signed request (a slash command) is acted on once, on any replica, and its replay
//! key is recorded in the same transaction as what it changed.
//!
//! [`AccessService::once`] runs the handling of a request keyed `key` in a scope: the first
//! commit the handling makes carries the key ([`Commit::replay`]): the key and the change are one transaction, and the
//! database's unique key decides between a request and its replay, so the acknowledgement waits
//! for one write instead of two in series. A handling that commits nothing (`/pim status`, a
//! refusal) records the key by itself at its end. If a commit finds the key recorded (a replay
//! racing its original, here or on another replica), it writes nothing, every later commit of
//! the scope is refused, and the handling is answered as a replay. Commands that call the
//! directory before they commit (deactivate, revoke) record their key first instead
//! ([`AccessService::run_command_once`]).

use std::cell::Cell;
use std::future::Future;

use chrono::{DateTime, Utc};

use super::replies::Reply;
use super::{AccessService, SEEN_REQUEST_FOR};
use crate::core::command::Command;
use crate::core::error::{Error, Result};
use crate::core::ids::ChatUser;
use crate::core::ports::{Commit, ReplayKey, Store};

tokio::task_local! {
    static SCOPE: Scope;
}

struct Scope {
    key: String,
    now: DateTime<Utc>,
    state: Cell<KeyState>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyState {
    /// No commit of the scope recorded the key yet.
    Pending,
    /// A commit of the scope recorded it.
    Taken,
    /// Someone else recorded it first: the request was a replay.
    Replayed,
}

impl AccessService {
    /// Runs `work`, the handling of a signed request with replay key `key`, once: `Ok(None)`
    /// when the request was already received (before, or by a racing copy of it), and nothing
    /// of `work` was kept.
    pub async fn once<F: Future>(&self, key: &str, work: F) -> Result<Option<F::Output>> {
        // No read of the key first: a replay is rare, and its commit (or its key's own record
        // at the end) refuses it anyway; a read per request cost more than it saved (BENCHMARKS.md).
        let now = self.clock.now();
        let scope = Scope { key: key.to_owned(), now, state: Cell::new(KeyState::Pending) };
        let (out, state) = SCOPE
            .scope(scope, async {
                let out = work.await;
                (out, SCOPE.with(|s| s.state.get()))
            })
            .await;
        match state {
            KeyState::Taken => Ok(Some(out)),
            KeyState::Replayed => Ok(None),
            KeyState::Pending => {
                Ok(self.store.remember_request(key, now, now + SEEN_REQUEST_FOR).await?.then_some(out))
            }
        }
    }
}

impl AccessService {
    /// Runs `command` for `user` once for replay key `key` (`Ok(None)`: a replay). A command
    /// whose first effect is a directory call (deactivate, revoke) records its key first, as
    /// clicks do, so a racing copy never reaches the directory; the others record it with their
    /// first commit ([`AccessService::once`]).
    pub async fn run_command_once(
        &self,
        key: &str,
        user: &ChatUser,
        command: Command,
    ) -> Result<Option<Result<Reply>>> {
        if matches!(command, Command::Deactivate(_) | Command::Revoke { .. }) {
            if !self.first_time(key).await? {
                return Ok(None);
            }
            return Ok(Some(self.run_command(user, command).await));
        }
        self.once(key, self.run_command(user, command)).await
    }
}

/// Puts the scope's key in `commit` when no commit of the scope recorded it yet; answers
/// whether it did. Refuses every commit of a scope found to be a replay.
pub(super) fn carry(commit: &mut Commit) -> Result<bool> {
    SCOPE
        .try_with(|s| match s.state.get() {
            KeyState::Pending => {
                commit.replay =
                    Some(ReplayKey { key: s.key.clone(), now: s.now, until: s.now + SEEN_REQUEST_FOR });
                Ok(true)
            }
            KeyState::Taken => Ok(false),
            KeyState::Replayed => Err(Error::Conflict("this request was already received".to_owned())),
        })
        .unwrap_or(Ok(false))
}

/// Settles the scope's key after a commit that carried it: taken when the commit was written;
/// after a conflict, a replay when the key is now recorded (the conflict was the key, or a
/// racing copy of the request won), and still pending otherwise (a lost race of its own).
pub(super) async fn settle(store: &dyn Store, written: &Result<()>) {
    let Ok((key, now)) = SCOPE.try_with(|s| (s.key.clone(), s.now)) else { return };
    let state = match written {
        Ok(()) => KeyState::Taken,
        Err(Error::Conflict(_)) if store.seen_request(&key, now).await.unwrap_or(false) => KeyState::Replayed,
        Err(_) => KeyState::Pending,
    };
    let _ = SCOPE.try_with(|s| s.state.set(state));
}
