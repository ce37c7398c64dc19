//! Ports: the small traits the use cases need from the outside world (storage, the directory,
//! the clock). Adapters implement them; the core never names a database or an HTTP client.
//! `store` holds [`Store`], `commit` what one decision writes through it, `directory` the
//! identity-system ports; the clock, chat delivery and commit observers are here.

mod commit;
mod directory;
mod store;

use std::sync::Mutex;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

pub use commit::{AlertLogEntry, Commit, EligibilityRemoval, GovernanceWrites, ReplayKey, Write};
pub use directory::{
    ChatIdentity, DEFAULT_GRANT_RETRY_FOR, Directory, DirectoryAssignment, DirectoryUser, GrantSpec,
};
pub use store::{ConversationRef, GaugeCounts, SinkCursor, Store};

use super::audit::AuditEvent;
use super::ids::Platform;
use super::outbox::{OutboxItem, PostedRef};

/// The time source. Only services and the scheduler read it; pure code takes `now` as a value.
pub trait Clock: Send + Sync {
    /// The current instant.
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told; for tests and the demo.
#[derive(Debug)]
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    /// Starts at `at`.
    pub fn new(at: DateTime<Utc>) -> Self {
        Self(Mutex::new(at))
    }

    /// Moves forward by `by`.
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *t += by;
    }

    /// Jumps to `at`.
    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Delivers outbox messages to one chat platform. Implementations render the neutral view,
/// call the platform, and classify the result; they never retry on their own.
#[async_trait]
pub trait ChatSender: Send + Sync {
    /// The platform this sender delivers to.
    fn platform(&self) -> Platform;
    /// Delivers one claimed row. `existing` is the remembered message a `Replace` or `Thread`
    /// target refers to (the dispatcher looks it up; `None` means it was never posted). A
    /// row `in_doubt` may already have been posted by an earlier attempt: the sender must
    /// find and adopt that post rather than post a second time.
    async fn deliver(
        &self,
        item: &OutboxItem,
        existing: Option<&PostedRef>,
        now: DateTime<Utc>,
    ) -> crate::core::outbox::DeliveryOutcome;
}

/// Told about every committed change, after it is durable (metrics and the like). It must be
/// cheap and must not fail: the change is already made.
pub trait CommitObserver: Send + Sync {
    /// The audit events of one successful commit.
    fn committed(&self, audit: &[AuditEvent]);
}
