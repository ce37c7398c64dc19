//! A batch behaves as its members would one by one: each member's refusal is its own and
//! undoes only its own writes, the others commit, and the audit chain runs on across them.

use chrono::{Duration, TimeZone, Utc};
use tokio::sync::oneshot;

use super::{Job, Work, Writer};
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::error::Error;
use crate::core::ids::RequestId;
use crate::core::ports::{Commit, Store, Write};
use crate::storage::SqlStore;
use crate::testing::seed::push_active_grant;

fn seeded(store: &SqlStore, key: &str, person: &str) -> Commit {
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
    let _ = store;
    commit
}

fn job(store: &SqlStore, work: Commit) -> (Job, oneshot::Receiver<crate::core::error::Result<bool>>) {
    let (done, rx) = oneshot::channel();
    let prepared = store.prepare(work).expect("prepare");
    (Job { work: Work::Commit(Box::new(prepared)), done }, rx)
}

fn remember(key: &str) -> Job {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).single().expect("valid");
    let (done, _rx) = oneshot::channel();
    Job { work: Work::Remember { key: key.into(), now, until: now + Duration::minutes(5) }, done }
}

#[tokio::test]
async fn each_member_of_a_batch_succeeds_or_fails_alone() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("g.db").display());
    let store = SqlStore::open(&url).await.expect("open");
    let writer = Writer { db: store.db.clone() };

    // A stale compare-and-set of a request that exists once the first member commits.
    let first = seeded(&store, "a", "alice");
    let Write::Insert(mut stale) = first.requests[0].clone() else { unreachable!() };
    stale.reason = Some("edited".into());
    let stale =
        Commit { requests: vec![Write::Update { row: stale, expected_version: 7 }], ..Commit::default() };

    let batch = vec![
        job(&store, first).0,
        job(&store, seeded(&store, "a", "alice")).0, // the same request again
        job(&store, stale).0,
        job(&store, seeded(&store, "b", "bob")).0,
        remember("k1"),
        remember("k1"),
        job(&store, seeded(&store, "c", "carol")).0,
    ];
    let outcomes = writer.write_batch(&batch).await;
    let shape: Vec<String> = outcomes
        .iter()
        .map(|o| match o {
            Ok(v) => format!("ok {v}"),
            Err(Error::Conflict(_)) => "conflict".into(),
            Err(e) => format!("error {e}"),
        })
        .collect();
    assert_eq!(shape, ["ok true", "conflict", "conflict", "ok true", "ok true", "ok false", "ok true"]);

    for (key, person) in [("a", "alice"), ("b", "bob"), ("c", "carol")] {
        let open = store.open_requests_for(&person.into()).await.expect("read");
        assert_eq!(open.len(), 1, "{key}");
        assert_eq!(open[0].reason, None, "{key}: the stale update left no trace");
    }
    // Three chained records, not five: the refused members' events were rolled back with
    // them, and the head moved once to the last kept one.
    let records = store.audit_records(None).await.expect("audit");
    assert_eq!(records.iter().map(|r| r.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(records[1].prev_hash, records[0].hash);
    assert_eq!(records[2].prev_hash, records[1].hash);
    assert_eq!(store.audit_head().await.expect("head"), Some((3, records[2].hash.clone())));
}

#[tokio::test]
async fn a_lone_refused_commit_leaves_nothing_behind() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("g.db").display());
    let store = SqlStore::open(&url).await.expect("open");
    store.commit(seeded(&store, "a", "alice")).await.expect("first");
    let again = store.commit(seeded(&store, "a", "alice")).await;
    assert!(matches!(again, Err(Error::Conflict(_))), "{again:?}");
    assert_eq!(store.audit_records(None).await.expect("audit").len(), 1);
}
