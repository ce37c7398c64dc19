//! Batched expiry: many grants falling due at once are ended in a few commits, each exactly once,
//! even when two replicas sweep the same grants at the same moment (the batch that loses the
//! race is written again grant by grant and every grant is already ended).

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use pimbot::core::audit::{Actor, AuditEvent, truncate_micros};
use pimbot::core::ids::{GrantId, Platform, RequestId};
use pimbot::core::ports::{Clock, Commit, ManualClock, Store};
use pimbot::core::request::EndReason;
use pimbot::core::service::AccessService;
use pimbot::core::state::RequestState;
use pimbot::directory::StaticDirectory;
use pimbot::testing::seed::push_active_grant;

use crate::support::app::{APPROVERS, FEED, POLICY};
use crate::support::db::backends;

/// More than two batches' worth, so a sweep writes several commits.
const DUE: usize = 150;

/// Stores `n` active `reader` grants of people outside the policy, all due before `now`.
async fn seed(store: &dyn Store, n: usize, now: chrono::DateTime<Utc>) {
    let mut commit = Commit { at: Some(now), ..Commit::default() };
    for i in 0..n {
        let ends = now - Duration::seconds(1 + i as i64);
        push_active_grant(
            &mut commit,
            &format!("e{i:04}"),
            &format!("leaver-{i}"),
            "reader",
            now - Duration::hours(1),
            ends,
        );
    }
    // An event of a kind no service writes, so nothing reads it as an activation.
    commit.audit.push(AuditEvent {
        kind: "test.seeded".into(),
        ..AuditEvent::about(
            now,
            Actor::System,
            pimbot::core::audit::EventKind::GrantActivated,
            &RequestId("r-seed".into()),
            &"reader".into(),
            serde_json::json!({"n": n}),
        )
    });
    store.commit(commit).await.expect("seed");
}

fn replica(store: Arc<dyn Store>, clock: Arc<ManualClock>) -> AccessService {
    let config = pimbot::config::from_toml_str(POLICY).expect("policy parses");
    let policy = config.validate(clock.now()).expect("policy valid");
    let channels =
        vec![pimbot::app::channels(Platform::Slack, &Some(APPROVERS.into()), &Some(FEED.into()), &None)];
    AccessService::new(store, Arc::new(StaticDirectory::new()), clock, policy, channels)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_replicas_sweeping_the_same_due_grants_end_each_exactly_once() {
    for db in backends().await {
        let now = truncate_micros(Utc::now());
        seed(db.store.as_ref(), DUE, now).await;
        let clock = Arc::new(ManualClock::new(now));
        let a = replica(db.store.clone(), clock.clone());
        let b = replica(db.reconnect().await, clock.clone());

        let (ended_a, ended_b) = tokio::join!(a.expire_due(500), b.expire_due(500));
        let (ended_a, ended_b) = (ended_a.expect("sweep a"), ended_b.expect("sweep b"));
        assert_eq!(ended_a + ended_b, DUE, "{}: each grant ended by exactly one replica", db.name);
        assert!(db.store.due_grants(now, 10).await.expect("due").is_empty(), "{}", db.name);

        let records = db.store.audit_records(None).await.expect("audit");
        let expired: Vec<_> = records.iter().filter(|r| r.event.kind == "grant.expired").collect();
        let distinct: HashSet<_> = expired.iter().map(|r| r.event.request_id.clone()).collect();
        assert_eq!((expired.len(), distinct.len()), (DUE, DUE), "{}: one expiry record per grant", db.name);
        assert!(expired.iter().all(|r| r.event.detail["late_ms"].as_i64().is_some_and(|ms| ms >= 1000)));
        assert_eq!(
            db.store.outbox_depth().await.expect("depth"),
            DUE as i64,
            "{}: one feed line each",
            db.name
        );
        let verified = pimbot::storage::audit_export::verify(
            db.store.as_ref(),
            &pimbot::testing::audit::test_ring(),
            None,
        )
        .await;
        assert!(verified.is_ok(), "{}: the chain stays intact: {verified:?}", db.name);

        let g = db.store.grant(&GrantId("g-e0042".into())).await.expect("load").expect("exists");
        assert_eq!((g.end_reason, g.version), (Some(EndReason::Expired), 2), "{}", db.name);
        let r = db.store.request(&RequestId("r-e0042".into())).await.expect("load").expect("exists");
        assert_eq!(r.state, RequestState::Expired, "{}", db.name);
    }
}
