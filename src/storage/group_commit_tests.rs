//! A batch behaves as its members would one by one: each member's refusal is its own and
//! undoes only its own writes, the others commit, and the audit chain runs on across them.

use std::sync::atomic::Ordering;

use chrono::{Duration, TimeZone, Utc};
use tokio::sync::oneshot;

use super::{Job, Work, Writer};
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::error::Error;
use crate::core::ids::RequestId;
use crate::core::ports::{Commit, ReplayKey, Store, Write};
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
    let writer = Writer { db: store.db.clone(), paths: Default::default() };

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
    assert_eq!(writer.paths.members.load(Ordering::Relaxed), 1, "SQLite writes member by member");
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

/// Outcomes as short words, for comparing a batch's answers.
fn shapes(outcomes: &[crate::core::error::Result<bool>]) -> Vec<String> {
    outcomes
        .iter()
        .map(|o| match o {
            Ok(v) => format!("ok {v}"),
            Err(Error::Conflict(_)) => "conflict".into(),
            Err(e) => format!("error {e}"),
        })
        .collect()
}

/// A store on a new PostgreSQL database, or `None` without `PIMBOT_TEST_POSTGRES_URL` (an
/// error under CI, where the PostgreSQL tests must run). The database is dropped by the caller.
async fn postgres_store() -> Option<(SqlStore, String, String)> {
    let admin = match std::env::var("PIMBOT_TEST_POSTGRES_URL") {
        Ok(url) => url,
        Err(_) if std::env::var_os("CI").is_some() => panic!("PIMBOT_TEST_POSTGRES_URL must be set under CI"),
        Err(_) => return None,
    };
    let name = format!("pimbot_unit_{:016x}", rand::random::<u64>());
    let pool = sqlx::PgPool::connect(&admin).await.expect("connect");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&pool).await.expect("create");
    let (base, _) = admin.rsplit_once('/').expect("a database in the URL");
    let store = SqlStore::open(&format!("{base}/{name}")).await.expect("open");
    Some((store, admin, name))
}

async fn drop_database(admin: &str, name: &str) {
    let pool = sqlx::PgPool::connect(admin).await.expect("connect");
    let drop = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    sqlx::query(sqlx::AssertSqlSafe(drop)).execute(&pool).await.expect("drop");
}

/// A request update of `key`'s seeded request, expecting `version`.
fn edit(store: &SqlStore, key: &str, person: &str, version: i64) -> Commit {
    let Write::Insert(mut row) = seeded(store, key, person).requests[0].clone() else { unreachable!() };
    row.reason = Some("edited".into());
    Commit { requests: vec![Write::Update { row, expected_version: version }], ..Commit::default() }
}

#[tokio::test]
async fn a_postgres_batch_of_plain_rows_is_written_set_based_with_each_answer_its_own() {
    let Some((store, admin, name)) = postgres_store().await else { return };
    store.commit(seeded(&store, "s", "sally")).await.expect("seed s");
    store.commit(seeded(&store, "t", "tom")).await.expect("seed t");
    let writer = Writer { db: store.db.clone(), paths: Default::default() };

    let batch = vec![
        job(&store, seeded(&store, "a", "alice")).0,
        job(&store, edit(&store, "s", "sally", 7)).0, // stale: refused alone
        job(&store, edit(&store, "t", "tom", 1)).0,   // current: applies
        remember("k1"),
        remember("k1"), // the same key again in the batch: a replay
        job(&store, seeded(&store, "b", "bob")).0,
        remember("k2"),
    ];
    let outcomes = writer.write_batch(&batch).await;
    assert_eq!(
        shapes(&outcomes),
        ["ok true", "conflict", "ok true", "ok true", "ok false", "ok true", "ok true"]
    );
    assert_eq!(writer.paths.set.load(Ordering::Relaxed), 1, "written set-based");
    assert_eq!(writer.paths.fell_back.load(Ordering::Relaxed), 0, "a stale member needs no fallback");

    let sally = store.open_requests_for(&"sally".into()).await.expect("read");
    assert_eq!((sally[0].reason.as_deref(), sally[0].version), (None, 1), "the stale update left no trace");
    let tom = store.open_requests_for(&"tom".into()).await.expect("read");
    assert_eq!((tom[0].reason.as_deref(), tom[0].version), (Some("edited"), 2));
    for person in ["alice", "bob"] {
        assert_eq!(store.open_requests_for(&person.into()).await.expect("read").len(), 1, "{person}");
        assert!(
            store.open_grant(&person.into(), &"reader".into()).await.expect("grant").is_some(),
            "{person}"
        );
    }
    // Seeds s and t, then a and b, chained in member order; the head moved to the last.
    let records = store.audit_records(None).await.expect("audit");
    let keys: Vec<String> =
        records.iter().map(|r| r.event.detail["key"].as_str().unwrap_or("").to_owned()).collect();
    assert_eq!(keys, ["s", "t", "a", "b"]);
    for pair in records.windows(2) {
        assert_eq!(pair[1].prev_hash, pair[0].hash, "chained");
    }
    assert_eq!(store.audit_head().await.expect("head"), Some((4, records[3].hash.clone())));
    // A key remembered by the batch is a replay afterwards.
    assert_eq!(shapes(&writer.write_batch(&[remember("k1"), remember("k3")]).await), ["ok false", "ok true"]);
    drop(store);
    drop_database(&admin, &name).await;
}

#[tokio::test]
async fn a_postgres_batch_that_hits_a_unique_index_falls_back_to_member_by_member() {
    let Some((store, admin, name)) = postgres_store().await else { return };
    let writer = Writer { db: store.db.clone(), paths: Default::default() };
    let batch = vec![
        job(&store, seeded(&store, "c", "carol")).0,
        job(&store, seeded(&store, "c2", "carol")).0, // a second open request and grant of carol's
        remember("k1"),
        job(&store, seeded(&store, "d", "dave")).0,
    ];
    let outcomes = writer.write_batch(&batch).await;
    assert_eq!(shapes(&outcomes), ["ok true", "conflict", "ok true", "ok true"]);
    assert_eq!(writer.paths.fell_back.load(Ordering::Relaxed), 1);
    assert_eq!(writer.paths.members.load(Ordering::Relaxed), 1);
    assert_eq!(writer.paths.set.load(Ordering::Relaxed), 0);
    let carol = store.open_requests_for(&"carol".into()).await.expect("read");
    assert_eq!(carol.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["r-c"]);
    // Nothing of the rolled-back attempt stayed: two records, one key.
    assert_eq!(store.audit_records(None).await.expect("audit").len(), 2);
    assert_eq!(shapes(&writer.write_batch(&[remember("k1"), remember("k9")]).await), ["ok false", "ok true"]);
    drop(store);
    drop_database(&admin, &name).await;
}

/// `commit` carrying replay key `key` (see `Commit::replay`).
fn keyed(mut commit: Commit, key: &str) -> Commit {
    let now = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).single().expect("valid");
    commit.replay = Some(ReplayKey { key: key.into(), now, until: now + Duration::minutes(5) });
    commit
}

/// A commit that writes no row, only an audit record (a refusal's record, say).
fn noted(key: &str) -> Commit {
    let t = Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).single().expect("valid");
    let event = AuditEvent::about(
        t,
        Actor::System,
        EventKind::RequestRefused,
        &RequestId(format!("r-{key}")),
        &"reader".into(),
        serde_json::json!({"key": key}),
    );
    Commit { at: Some(t), audit: vec![event], ..Commit::default() }
}

/// Commits carrying replay keys, in one batch: a key already recorded, or taken by an earlier
/// member, refuses its commit alone; a commit refused for a stale compare-and-set records no key.
async fn replay_keys_ride_with_their_commits(store: &SqlStore) -> Writer {
    store.commit(seeded(store, "s", "sally")).await.expect("seed s");
    let writer = Writer { db: store.db.clone(), paths: Default::default() };
    assert_eq!(shapes(&writer.write_batch(&[remember("k0")]).await), ["ok true"]);
    let batch = vec![
        job(store, keyed(seeded(store, "a", "alice"), "k1")).0,
        job(store, keyed(seeded(store, "b", "bob"), "k1")).0, // the same request again
        job(store, keyed(edit(store, "s", "sally", 7), "k2")).0, // stale: its key stays free
        remember("k2"),
        job(store, keyed(seeded(store, "c", "carol"), "k0")).0, // received before the batch
        job(store, keyed(seeded(store, "d", "dave"), "k3")).0,
        // Commits writing no row (written without a savepoint of their own on SQLite).
        job(store, keyed(noted("n1"), "k0")).0, // received before the batch: nothing
        job(store, keyed(noted("n2"), "k5")).0,
        job(store, keyed(noted("n3"), "k5")).0, // its copy in the same batch: nothing
        job(store, keyed(seeded(store, "e", "erin"), "k6")).0, // the batch carries on
    ];
    let outcomes = writer.write_batch(&batch).await;
    assert_eq!(
        shapes(&outcomes),
        [
            "ok true", "conflict", "conflict", "ok true", "conflict", "ok true", "conflict", "ok true",
            "conflict", "ok true"
        ]
    );
    for (person, open) in [("alice", 1), ("bob", 0), ("carol", 0), ("dave", 1), ("erin", 1)] {
        assert_eq!(store.open_requests_for(&person.into()).await.expect("read").len(), open, "{person}");
    }
    let records = store.audit_records(None).await.expect("audit");
    let keys: Vec<&str> = records.iter().map(|r| r.event.detail["key"].as_str().unwrap_or("")).collect();
    assert_eq!(keys, ["s", "a", "d", "n2", "e"], "the refused commits left no audit record");
    // Every key that went in is a replay afterwards; none other was recorded.
    let again = [remember("k1"), remember("k2"), remember("k3"), remember("k5"), remember("k4")];
    assert_eq!(
        shapes(&writer.write_batch(&again).await),
        ["ok false", "ok false", "ok false", "ok false", "ok true"]
    );
    writer
}

#[tokio::test]
async fn a_commit_carrying_a_replay_key_already_recorded_writes_nothing_on_sqlite() {
    let dir = tempfile::tempdir().expect("dir");
    let url = format!("sqlite://{}", dir.path().join("g.db").display());
    let store = SqlStore::open(&url).await.expect("open");
    let writer = replay_keys_ride_with_their_commits(&store).await;
    assert_eq!(writer.paths.set.load(Ordering::Relaxed), 0, "SQLite writes member by member");
}

#[tokio::test]
async fn a_commit_carrying_a_replay_key_already_recorded_writes_nothing_on_postgres() {
    let Some((store, admin, name)) = postgres_store().await else { return };
    let writer = replay_keys_ride_with_their_commits(&store).await;
    assert_eq!(writer.paths.fell_back.load(Ordering::Relaxed), 0, "no fallback for a replay");
    assert!(writer.paths.set.load(Ordering::Relaxed) >= 1, "the keyed batch went set-based");
    drop(store);
    drop_database(&admin, &name).await;
}

#[tokio::test]
async fn a_postgres_connection_that_died_while_idle_is_replaced_before_it_is_used() {
    let Some((store, admin, name)) = postgres_store().await else { return };
    store.commit(seeded(&store, "a", "alice")).await.expect("first commit");
    assert_eq!(store.open_requests_for(&"alice".into()).await.expect("read").len(), 1);
    // The server ends every connection of the database (a restart, an idle timeout).
    let pool = sqlx::PgPool::connect(&admin).await.expect("connect");
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind(&name)
    .fetch_all(&pool)
    .await
    .expect("terminate");
    assert!(ended.len() >= 2, "the readers' and the writer's connections: {ended:?}");
    // Connections idle that long are pinged first; the dead ones are replaced, not handed out.
    tokio::time::sleep(std::time::Duration::from_millis(1_200)).await;
    assert_eq!(store.open_requests_for(&"alice".into()).await.expect("read after").len(), 1);
    store.commit(seeded(&store, "b", "bob")).await.expect("commit after");
    drop(store);
    drop_database(&admin, &name).await;
}
