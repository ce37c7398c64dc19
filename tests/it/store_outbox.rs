//! The outbox part of the `Store` conformance suite: claims in order per key, leases, several
//! claimers, and outcomes written back in batches. Runs on every backend.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use pimbot::core::ids::Platform;
use pimbot::core::outbox::{DeliveryOutcome, OutgoingMessage, PostedRef};
use pimbot::core::ports::{Commit, Store};

use crate::store::{message, t0, text_of};
use crate::support::db::backends;

async fn queue(store: &dyn Store, at: DateTime<Utc>, messages: Vec<OutgoingMessage>) {
    store.commit(Commit { at: Some(at), outbox: messages, ..Commit::default() }).await.expect("queue");
}

#[tokio::test]
async fn outbox_claims_in_order_per_key_with_leases() {
    for db in backends().await {
        let s = db.store.as_ref();
        let now = t0();
        let lease = Duration::seconds(30);
        queue(
            s,
            now,
            vec![
                message(Platform::Slack, "r-1", "a"),
                message(Platform::Slack, "r-2", "b"),
                message(Platform::Slack, "r-1", "c"),
                message(Platform::Discord, "r-1", "d"),
            ],
        )
        .await;
        queue(s, now + Duration::minutes(5), vec![message(Platform::Slack, "r-3", "future")]).await;
        assert_eq!(s.outbox_depth().await.expect("depth"), 5);

        let first = s.claim_outbox(now, lease, 10).await.expect("claim");
        let texts: Vec<_> = first.iter().map(|i| text_of(&i.message)).collect();
        assert_eq!(texts, ["a", "b", "d"], "{}: c waits for a; future is not due", db.name);
        assert!(first.windows(2).all(|w| w[0].id < w[1].id));
        assert!(s.claim_outbox(now, lease, 10).await.expect("claim").is_empty(), "leased rows stay claimed");

        let posted = PostedRef {
            platform: Platform::Slack,
            ref_key: "card:r-1".into(),
            channel: "C1".into(),
            message_id: "1700000000.000100".into(),
        };
        s.finish_outbox(&[(first[0].id, DeliveryOutcome::Sent(Some(posted.clone())))])
            .await
            .expect("complete a");
        assert_eq!(s.posted_ref(Platform::Slack, "card:r-1").await.expect("ref"), Some(posted.clone()));
        assert_eq!(s.posted_ref(Platform::Discord, "card:r-1").await.expect("ref"), None);
        let moved = PostedRef { message_id: "1700000000.000200".into(), ..posted };
        s.finish_outbox(&[(first[2].id, DeliveryOutcome::Sent(Some(moved.clone())))])
            .await
            .expect("complete d");
        assert_eq!(s.posted_ref(Platform::Slack, "card:r-1").await.expect("ref"), Some(moved), "upserted");

        let second = s.claim_outbox(now + Duration::seconds(1), lease, 10).await.expect("claim");
        assert_eq!(second.iter().map(|i| text_of(&i.message)).collect::<Vec<_>>(), ["c"], "{}", db.name);

        // b's lease runs out: it is handed out again.
        let after_lease = now + lease + Duration::seconds(2);
        let third = s.claim_outbox(after_lease, lease, 10).await.expect("claim");
        assert_eq!(third.iter().map(|i| text_of(&i.message)).collect::<Vec<_>>(), ["b", "c"], "{}", db.name);

        let b = third[0].id;
        s.finish_outbox(&[(
            b,
            DeliveryOutcome::RetryAt(after_lease + Duration::minutes(1), "rate limited".into()),
        )])
        .await
        .expect("retry");
        let c = third[1].id;
        s.finish_outbox(&[(c, DeliveryOutcome::Rejected("channel_not_found".into()))]).await.expect("reject");
        assert_eq!(s.outbox_depth().await.expect("depth"), 2, "b and future remain");
        assert!(s.claim_outbox(after_lease, lease, 10).await.expect("claim").is_empty());
        let retried = s.claim_outbox(now + Duration::minutes(10), lease, 10).await.expect("claim");
        assert_eq!(
            retried.iter().map(|i| (text_of(&i.message), i.attempts)).collect::<Vec<_>>(),
            [("b", 1), ("future", 0)]
        );
        assert_eq!(retried[0].message, message(Platform::Slack, "r-2", "b"), "message round-trips");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_claimers_never_share_a_row() {
    for db in backends().await {
        let messages =
            (0..60).map(|i| message(Platform::Slack, &format!("k-{i}"), &format!("m-{i}"))).collect();
        queue(db.store.as_ref(), t0(), messages).await;
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let store = db.store.clone();
                tokio::spawn(async move {
                    let mut mine = Vec::new();
                    loop {
                        let batch = store.claim_outbox(t0(), Duration::minutes(5), 7).await.expect("claim");
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(batch.into_iter().map(|i| i.id));
                    }
                })
            })
            .collect();
        let mut seen = HashSet::new();
        let mut total = 0;
        for task in tasks {
            for id in task.await.expect("task") {
                total += 1;
                assert!(seen.insert(id), "{}: row {id} claimed twice", db.name);
            }
        }
        assert_eq!(total, 60, "{}", db.name);
    }
}

/// A store with a chain of `n` records written by `n` commits.

#[tokio::test]
async fn a_batch_of_outcomes_is_written_together_and_never_undoes_a_delivery() {
    for db in backends().await {
        let s = db.store.as_ref();
        let now = t0();
        let lease = Duration::seconds(30);
        queue(
            s,
            now,
            vec![
                message(Platform::Slack, "r-1", "sent"),
                message(Platform::Slack, "r-2", "retried"),
                message(Platform::Slack, "r-3", "rejected"),
                message(Platform::Slack, "r-1", "after sent"),
            ],
        )
        .await;
        let claimed = s.claim_outbox(now, lease, 10).await.expect("claim");
        assert_eq!(
            claimed.iter().map(|i| text_of(&i.message)).collect::<Vec<_>>(),
            ["sent", "retried", "rejected"]
        );
        let posted = PostedRef {
            platform: Platform::Slack,
            ref_key: "card:r-1".into(),
            channel: "C1".into(),
            message_id: "1700000000.000300".into(),
        };
        let retry_at = now + Duration::minutes(2);
        s.finish_outbox(&[
            (claimed[0].id, DeliveryOutcome::Sent(Some(posted.clone()))),
            (claimed[1].id, DeliveryOutcome::RetryAt(retry_at, "ratelimited".into())),
            (claimed[2].id, DeliveryOutcome::Rejected("channel_not_found".into())),
        ])
        .await
        .expect("finish");
        assert_eq!(
            s.posted_ref(Platform::Slack, "card:r-1").await.expect("ref"),
            Some(posted),
            "{}",
            db.name
        );
        assert_eq!(
            s.outbox_depth().await.expect("depth"),
            2,
            "{}: retried and the next of r-1 remain",
            db.name
        );

        // A late outcome of an attempt whose lease ran out must not bring a delivered row back.
        s.finish_outbox(&[(claimed[0].id, DeliveryOutcome::RetryAt(now, "late".into()))])
            .await
            .expect("late");
        s.finish_outbox(&[]).await.expect("an empty batch is nothing to do");
        let next = s.claim_outbox(now + Duration::seconds(1), lease, 10).await.expect("claim");
        assert_eq!(
            next.iter().map(|i| text_of(&i.message)).collect::<Vec<_>>(),
            ["after sent"],
            "{}",
            db.name
        );
        s.finish_outbox(&[(next[0].id, DeliveryOutcome::Sent(None))]).await.expect("finish the next");
        let later = s.claim_outbox(retry_at, lease, 10).await.expect("claim");
        assert_eq!(
            later.iter().map(|i| (text_of(&i.message), i.attempts)).collect::<Vec<_>>(),
            [("retried", 1)],
            "{}: the rejected row is gone, the retried one is due again with one attempt counted",
            db.name
        );
    }
}

#[tokio::test]
async fn pruning_removes_only_finished_rows_older_than_the_cut() {
    for db in backends().await {
        let s = db.store.as_ref();
        let now = t0();
        let keys = ["old-done", "old-rejected", "old-pending", "new-done"];
        queue(s, now, keys[..3].iter().map(|k| message(Platform::Slack, k, k)).collect()).await;
        queue(s, now + Duration::days(40), vec![message(Platform::Slack, keys[3], keys[3])]).await;
        let old = s.claim_outbox(now, Duration::seconds(30), 10).await.expect("claim");
        s.finish_outbox(&[
            (old[0].id, DeliveryOutcome::Sent(None)),
            (old[1].id, DeliveryOutcome::Rejected("channel_not_found".into())),
        ])
        .await
        .expect("finish");
        let new = s.claim_outbox(now + Duration::days(40), Duration::seconds(30), 10).await.expect("claim");
        let new_done = new.iter().find(|i| text_of(&i.message) == "new-done").expect("claimed").id;
        s.finish_outbox(&[(new_done, DeliveryOutcome::Sent(None))]).await.expect("finish");

        let pruned = s.prune_outbox(now + Duration::days(10)).await.expect("prune");
        assert_eq!(pruned, 2, "{}: the old delivered and rejected rows go", db.name);
        assert_eq!(s.prune_outbox(now + Duration::days(10)).await.expect("again"), 0, "{}", db.name);
        assert_eq!(s.outbox_depth().await.expect("depth"), 1, "{}: the old pending row stays", db.name);
        let still = s.claim_outbox(now + Duration::days(41), Duration::seconds(30), 10).await.expect("claim");
        assert_eq!(
            still.iter().map(|i| text_of(&i.message)).collect::<Vec<_>>(),
            ["old-pending"],
            "{}",
            db.name
        );
    }
}
