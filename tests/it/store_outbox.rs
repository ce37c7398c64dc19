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

#[tokio::test]
async fn a_lapsed_claim_or_an_unconfirmed_attempt_leaves_the_row_in_doubt() {
    for db in backends().await {
        let s = db.store.as_ref();
        let now = t0();
        let lease = Duration::seconds(20);
        queue(s, now, vec![message(Platform::Slack, "a", "a"), message(Platform::Slack, "b", "b")]).await;
        queue(s, now, vec![message(Platform::Slack, "c", "c")]).await;
        let first = s.claim_outbox(now, lease, 10).await.expect("claim");
        let queued = pimbot::core::audit::truncate_micros(now);
        assert!(
            first.iter().all(|i| !i.in_doubt && i.created_at == queued),
            "{}: fresh rows {first:?}",
            db.name
        );
        let (a, b, c) = (first[0].id, first[1].id, first[2].id);
        // a's dispatcher dies (no outcome); b may have landed; c certainly did not.
        s.finish_outbox(&[
            (b, DeliveryOutcome::Unconfirmed(now, "timed out".into())),
            (c, DeliveryOutcome::RetryAt(now, "ratelimited".into())),
        ])
        .await
        .expect("outcomes");
        let again = s.claim_outbox(now + lease + Duration::seconds(1), lease, 10).await.expect("claim");
        let doubt: Vec<_> = again.iter().map(|i| (i.id, i.in_doubt)).collect();
        assert_eq!(doubt, [(a, true), (b, true), (c, false)], "{}", db.name);
        // In doubt stays until the row is done, whatever the next attempts say.
        s.finish_outbox(&[(a, DeliveryOutcome::RetryAt(now, "5xx".into()))]).await.expect("retry");
        let third = s.claim_outbox(now + Duration::minutes(5), lease, 10).await.expect("claim");
        assert!(third.iter().find(|i| i.id == a).is_some_and(|i| i.in_doubt), "{}", db.name);
    }
}

#[tokio::test]
async fn refused_rows_are_listed_newest_first_for_the_status_command() {
    for db in backends().await {
        let s = db.store.as_ref();
        let now = Utc::now();
        queue(s, now, vec![message(Platform::Slack, "a", "card"), message(Platform::Discord, "b", "feed")])
            .await;
        let claimed = s.claim_outbox(now, Duration::seconds(20), 10).await.expect("claim");
        let before = Utc::now() - Duration::seconds(1);
        s.finish_outbox(&[(claimed[0].id, DeliveryOutcome::Rejected("channel_not_found".into()))])
            .await
            .expect("reject");
        s.finish_outbox(&[(claimed[1].id, DeliveryOutcome::Rejected("unknown_channel".into()))])
            .await
            .expect("reject");
        let refused = s.recent_rejections(before, 10).await.expect("read");
        let seen: Vec<_> =
            refused.iter().map(|r| (r.message.platform, r.reason.as_str(), text_of(&r.message))).collect();
        assert_eq!(
            seen,
            [(Platform::Discord, "unknown_channel", "feed"), (Platform::Slack, "channel_not_found", "card")],
            "{}",
            db.name
        );
        assert!(refused.iter().all(|r| r.at >= before));
        assert!(s.recent_rejections(Utc::now() + Duration::minutes(1), 10).await.expect("read").is_empty());
    }
}

#[tokio::test]
async fn a_dead_dispatchers_claims_are_taken_over_before_their_lease_ends() {
    for db in backends().await {
        let s = db.store.as_ref();
        let now = t0();
        let (lease, timeout) = (Duration::seconds(60), Duration::seconds(10));
        queue(s, now, vec![message(Platform::Slack, "a", "a"), message(Platform::Slack, "b", "b")]).await;
        s.dispatcher_heartbeat("d-a", now).await.expect("beat");
        s.dispatcher_heartbeat("d-b", now).await.expect("beat");
        let taken = s.claim_outbox_for("d-a", now - timeout, now, lease, 1).await.expect("claim");
        assert_eq!(taken.len(), 1);
        // d-a keeps beating: d-b leaves its row alone and takes only the free one.
        let later = now + Duration::seconds(8);
        s.dispatcher_heartbeat("d-a", later).await.expect("beat");
        let other = s.claim_outbox_for("d-b", later - timeout, later, lease, 10).await.expect("claim");
        assert_eq!(other.iter().map(|i| i.id).collect::<Vec<_>>(), [taken[0].id + 1], "{}", db.name);
        // d-a dies: 10 s after its last beat d-b takes its row over, well inside the lease.
        let dead = later + Duration::seconds(11);
        s.dispatcher_heartbeat("d-b", dead).await.expect("beat");
        let over = s.claim_outbox_for("d-b", dead - timeout, dead, lease, 10).await.expect("claim");
        assert_eq!(
            over.iter().map(|i| (i.id, i.in_doubt)).collect::<Vec<_>>(),
            [(taken[0].id, true)],
            "{}",
            db.name
        );
        // A dispatcher never takes over its own rows early, and a clean stop frees them at once.
        assert!(s.claim_outbox_for("d-b", dead, dead, lease, 10).await.expect("claim").is_empty());
        s.retire_dispatcher("d-b").await.expect("retire");
        let freed = s.claim_outbox_for("d-c", dead - timeout, dead, lease, 10).await.expect("claim");
        assert_eq!(freed.len(), 2, "{}: both of d-b's rows are free", db.name);
    }
}

#[tokio::test]
async fn rows_written_before_migration_0005_read_with_its_defaults() {
    for db in backends().await {
        // An outbox row as the code before 0005 wrote it: no claimer, no doubt, no refusal time,
        // and a lease left behind by a process that died.
        let message = serde_json::to_string(&message(Platform::Slack, "old", "queued before")).expect("json");
        let at = if db.name == "postgres" { "'2026-11-21T12:00:00Z'" } else { "'2026-11-21T12:00:00+00:00'" };
        db.exec(&format!(
            "INSERT INTO outbox (platform, order_key, message, state, due_at, claimed_until, attempts, created_at) \
             VALUES ('slack', 'old', '{message}', 'pending', {at}, {at}, 0, {at})"
        ))
        .await;
        let now = t0();
        let claimed =
            db.store.claim_outbox_for("d-new", now, now, Duration::seconds(60), 10).await.expect("claim");
        assert_eq!(claimed.len(), 1, "{}", db.name);
        assert!(claimed[0].in_doubt, "{}: its old lease ran out without an outcome", db.name);
        assert_eq!(text_of(&claimed[0].message), "queued before");
    }
}
