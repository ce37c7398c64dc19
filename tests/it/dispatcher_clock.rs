//! A dispatcher never holds a claim newer than its last recorded heartbeat, whatever its clock
//! does between the two: it beats and claims on one reading of the clock. Otherwise a clock
//! that moves on between the beat check and the claim leaves a live dispatcher's claim looking
//! like a dead one's, another replica takes the row over, and the message goes out twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use pimbot::core::ids::Platform;
use pimbot::core::outbox::{DeliveryOutcome, OutboxItem, PostedRef};
use pimbot::core::ports::{ChatSender, Clock, Commit, ManualClock};
use pimbot::delivery::Dispatcher;
use tokio::sync::Notify;

use crate::store::{message, t0};
use crate::support::db::backends;

/// A clock that moves 30 s on every reading while `stepping`.
struct SteppingClock {
    at: ManualClock,
    stepping: AtomicBool,
}

impl Clock for SteppingClock {
    fn now(&self) -> DateTime<Utc> {
        if self.stepping.load(Ordering::SeqCst) {
            self.at.advance(Duration::seconds(30));
        }
        self.at.now()
    }
}

/// A Slack sender that counts deliveries and, when `hold` is set, waits for `release`.
struct Sender {
    delivered: AtomicUsize,
    started: Notify,
    release: Notify,
    hold: bool,
}

#[async_trait]
impl ChatSender for Sender {
    fn platform(&self) -> Platform {
        Platform::Slack
    }

    async fn deliver(
        &self,
        _item: &OutboxItem,
        _existing: Option<&PostedRef>,
        _now: DateTime<Utc>,
    ) -> DeliveryOutcome {
        if self.hold {
            self.started.notify_one();
            self.release.notified().await;
        }
        self.delivered.fetch_add(1, Ordering::SeqCst);
        DeliveryOutcome::Sent(None)
    }
}

fn sender(hold: bool) -> Arc<Sender> {
    Arc::new(Sender { delivered: AtomicUsize::new(0), started: Notify::new(), release: Notify::new(), hold })
}

#[tokio::test]
async fn a_clock_moving_between_beat_and_claim_never_lets_another_replica_take_a_live_row() {
    for db in backends().await {
        let store = db.store.clone();
        let queued = Commit {
            at: Some(t0()),
            outbox: vec![message(Platform::Slack, "k", "hello")],
            ..Commit::default()
        };
        store.commit(queued).await.expect("queue");
        let clock = Arc::new(SteppingClock { at: ManualClock::new(t0()), stepping: AtomicBool::new(true) });
        let (slow, quick) = (sender(true), sender(false));
        let a = Arc::new(Dispatcher::new(store.clone(), clock.clone(), vec![slow.clone()]));
        let running = tokio::spawn({
            let a = a.clone();
            async move { a.deliver_due().await }
        });
        slow.started.notified().await; // A holds the row, mid-delivery
        clock.stepping.store(false, Ordering::SeqCst);

        // Another replica whose clock agrees with A's clock now finds A alive: nothing to take.
        let b = Dispatcher::new(store.clone(), Arc::new(ManualClock::new(clock.now())), vec![quick.clone()]);
        let taken = b.deliver_due().await.expect("b delivers");
        assert_eq!(taken, 0, "{}: a live dispatcher's row was taken over", db.name);
        assert_eq!(quick.delivered.load(Ordering::SeqCst), 0, "{}", db.name);

        slow.release.notify_one();
        running.await.expect("a joins").expect("a delivers");
        assert_eq!(slow.delivered.load(Ordering::SeqCst), 1, "{}: delivered once", db.name);
        assert_eq!(store.outbox_depth().await.expect("depth"), 0, "{}", db.name);
    }
}
