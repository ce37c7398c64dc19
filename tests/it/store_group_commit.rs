//! Many commits at once, as a busy server makes them: the group-commit writer applies those
//! that arrive together in one transaction, and each is answered as if it had run alone (on
//! every backend).

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use pimbot::core::Error;
use pimbot::core::audit::{Actor, AuditEvent, EventKind};
use pimbot::core::ids::RequestId;
use pimbot::core::ports::{Commit, Store};
use pimbot::testing::seed::push_active_grant;

use crate::support::db::backends;

fn seeded(key: &str, person: &str) -> Commit {
    let t = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).single().expect("valid");
    let mut commit = Commit { at: Some(t), ..Commit::default() };
    push_active_grant(&mut commit, key, person, "reader", t, t + Duration::hours(1));
    commit.audit.push(AuditEvent::about(
        t,
        Actor::System,
        EventKind::RequestSubmitted,
        &RequestId(format!("r-{key}")),
        &"reader".into(),
        serde_json::json!({"key": key}),
    ));
    commit
}

#[tokio::test]
async fn concurrent_commits_each_win_or_lose_alone_and_the_chain_holds() {
    for db in backends().await {
        let name = db.name;
        let store: Arc<dyn Store> = db.store.clone();
        // 150 commits at once: 100 distinct requests, and 50 that each repeat one of them
        // (a unique-index conflict, which must not take its batch with it).
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..150 {
            let store = store.clone();
            let key = format!("k{}", i % 100);
            tasks.spawn(async move { (i, store.commit(seeded(&key, &format!("p{}", i % 100))).await) });
        }
        let (mut ok, mut conflicts) = (0, 0);
        while let Some(joined) = tasks.join_next().await {
            let (i, outcome) = joined.expect("task");
            match outcome {
                Ok(()) => ok += 1,
                Err(Error::Conflict(_)) => conflicts += 1,
                Err(e) => panic!("{name}: commit {i} failed: {e:#}"),
            }
        }
        assert_eq!((ok, conflicts), (100, 50), "{name}");
        for i in 0..100 {
            let open = store.open_requests_for(&format!("p{i}").as_str().into()).await.expect("read");
            assert_eq!(open.len(), 1, "{name}: p{i}");
        }
        // One record per kept commit, numbered without gaps, each linked to the one before.
        let records = store.audit_records(None).await.expect("audit");
        assert_eq!(records.len(), 100, "{name}");
        for (n, pair) in records.windows(2).enumerate() {
            assert_eq!(pair[0].seq, n as i64 + 1, "{name}");
            assert_eq!(pair[1].prev_hash, pair[0].hash, "{name}: link {}", pair[1].seq);
        }
        let verified =
            pimbot::storage::audit_export::verify(store.as_ref(), &pimbot::testing::audit::test_ring(), None)
                .await;
        assert!(verified.is_ok(), "{name}: {verified:?}");
    }
}
