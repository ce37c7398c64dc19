//! What the database itself guarantees for the grant invariants, on every backend: one open
//! request per person and role (a unique index, not a read before the write), replay keys
//! accepted once across connections, grant targets round-tripping, and the withdrawn-grant
//! selection. Migration 0004 is checked over rows written by the schema before it.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use pimbot::core::Error;
use pimbot::core::ids::Platform;
use pimbot::core::policy::RoleKind;
use pimbot::core::ports::{Commit, Store, Write};
use pimbot::core::request::{AccessRequest, EndReason, Grant, GrantTarget, NudgeStage};
use pimbot::core::state::RequestState;
use sqlx::{AssertSqlSafe, Connection};

use crate::store::t0;
use crate::support::db::{POSTGRES_URL_VAR, TestDb, backends, pg_url_for_new_db};

fn request(id: &str, requester: &str, state: RequestState) -> AccessRequest {
    AccessRequest {
        id: id.into(),
        requester: requester.into(),
        role: "global-admin".into(),
        duration: Duration::hours(1),
        justification: "j".into(),
        ticket: None,
        state,
        version: 1,
        origin: Platform::Slack,
        created_at: t0(),
        decided_at: None,
        decided_by: None,
        reason: None,
        approvals: Vec::new(),
        nudge_stage: NudgeStage::None,
        next_nudge_at: None,
        grant_id: None,
        starts_at: None,
        activation_lease_until: None,
    }
}

fn grant(id: &str, request_id: &str, person: &str) -> Grant {
    Grant {
        id: id.into(),
        request_id: request_id.into(),
        person: person.into(),
        role: "global-admin".into(),
        starts_at: t0(),
        ends_at: t0() + Duration::hours(1),
        ended_at: None,
        end_reason: None,
        version: 1,
        target: Some(GrantTarget {
            kind: RoleKind::AzureRole,
            directory_id: "b24988ac-6180-42a0-ab88-20f7382dd24c".into(),
            scope: "/subscriptions/s1".into(),
            principal_id: Some("071cc716".into()),
        }),
        granting: false,
    }
}

async fn insert(store: &dyn Store, r: AccessRequest) -> Result<(), Error> {
    store.commit(Commit { requests: vec![Write::Insert(r)], ..Commit::default() }).await
}

#[tokio::test]
async fn one_open_request_per_person_and_role_is_the_databases_rule() {
    for db in backends().await {
        let s = db.store.as_ref();
        insert(s, request("r-1", "alice", RequestState::Pending)).await.expect("first");
        for (id, state) in
            [("r-2", RequestState::Pending), ("r-3", RequestState::Approved), ("r-4", RequestState::Active)]
        {
            let second = insert(s, request(id, "alice", state)).await;
            assert!(
                matches!(second, Err(Error::Conflict(_))),
                "{}: {state:?} beside a pending: {second:?}",
                db.name
            );
        }
        insert(s, request("r-5", "bob", RequestState::Pending)).await.expect("another person");
        insert(s, AccessRequest { role: "reader".into(), ..request("r-6", "alice", RequestState::Pending) })
            .await
            .expect("another role");
        insert(s, request("r-7", "alice", RequestState::Denied)).await.expect("closed states are many");

        // An extension supersedes the active request in the same commit: update first, then
        // insert, so the index never sees two open rows.
        let active =
            AccessRequest { state: RequestState::Active, ..request("r-8", "carol", RequestState::Active) };
        insert(s, active.clone()).await.expect("active");
        let superseded = AccessRequest { state: RequestState::Superseded, ..active };
        s.commit(Commit {
            requests: vec![
                Write::Update { row: superseded, expected_version: 1 },
                Write::Insert(request("r-9", "carol", RequestState::Pending)),
            ],
            ..Commit::default()
        })
        .await
        .expect("supersede and extend");
        let open = s.open_requests_for(&"carol".into()).await.expect("open");
        assert_eq!(open.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["r-9"], "{}", db.name);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_racing_inserts_leave_one_open_request() {
    for db in backends().await {
        let tasks: Vec<_> = (0..50)
            .map(|i| {
                let store: Arc<dyn Store> = db.store.clone();
                tokio::spawn(async move {
                    insert(store.as_ref(), request(&format!("r-{i}"), "alice", RequestState::Pending)).await
                })
            })
            .collect();
        let mut wins = 0;
        for task in tasks {
            match task.await.expect("task") {
                Ok(()) => wins += 1,
                Err(Error::Conflict(_)) => {}
                Err(e) => panic!("{}: {e:?}", db.name),
            }
        }
        assert_eq!(wins, 1, "{}", db.name);
        assert_eq!(db.store.open_requests_for(&"alice".into()).await.expect("open").len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_key_is_accepted_once_until_it_expires() {
    for db in backends().await {
        let now = t0();
        let until = now + Duration::minutes(10);
        let tasks: Vec<_> = (0..20)
            .map(|_| {
                let store: Arc<dyn Store> = db.store.clone();
                tokio::spawn(async move { store.remember_request("slack:sig:1:v0=ab", now, until).await })
            })
            .collect();
        let mut firsts = 0;
        for task in tasks {
            if task.await.expect("task").expect("remember") {
                firsts += 1;
            }
        }
        assert_eq!(firsts, 1, "{}: exactly one racer is first", db.name);
        // A second connection (another replica) sees the key too.
        let other = db.reconnect().await;
        assert!(!other.remember_request("slack:sig:1:v0=ab", now, until).await.expect("remember"));
        assert!(other.remember_request("slack:sig:2:v0=ab", now, until).await.expect("another key"));
        let later = until + Duration::seconds(1);
        assert!(
            other
                .remember_request("slack:sig:1:v0=ab", later, later + Duration::minutes(10))
                .await
                .expect("expired key")
        );
        assert_eq!(
            other.prune_seen_requests(later).await.expect("prune"),
            1,
            "{}: the other key expired",
            db.name
        );
        assert!(
            !other.remember_request("slack:sig:1:v0=ab", later, later).await.expect("kept"),
            "{}",
            db.name
        );
    }
}

#[tokio::test]
async fn targets_round_trip_and_withdrawn_grants_are_found() {
    for db in backends().await {
        let s = db.store.as_ref();
        let now = t0() + Duration::minutes(2);
        let lease = |at: DateTime<Utc>| Some(at);
        let rows = [
            AccessRequest {
                activation_lease_until: lease(now + Duration::minutes(1)),
                ..request("r-busy", "a", RequestState::Cancelled)
            },
            AccessRequest {
                activation_lease_until: lease(now - Duration::seconds(1)),
                ..request("r-done", "b", RequestState::Cancelled)
            },
            // A next try ahead is no lease: nobody is talking to the directory for it.
            AccessRequest {
                next_nudge_at: Some(now + Duration::minutes(1)),
                ..request("r-retrying", "f", RequestState::Cancelled)
            },
            request("r-failed", "c", RequestState::Failed),
            request("r-approved", "d", RequestState::Approved),
            request("r-made", "e", RequestState::Active),
        ];
        let grants = [
            Grant { granting: true, ..grant("g-busy", "r-busy", "a") },
            Grant { granting: true, ..grant("g-done", "r-done", "b") },
            Grant { granting: true, ..grant("g-failed", "r-failed", "c") },
            Grant { granting: true, ..grant("g-approved", "r-approved", "d") },
            Grant { granting: true, ..grant("g-retrying", "r-retrying", "f") },
            grant("g-made", "r-made", "e"),
        ];
        s.commit(Commit {
            requests: rows.into_iter().map(Write::Insert).collect(),
            grants: grants.into_iter().map(Write::Insert).collect(),
            ..Commit::default()
        })
        .await
        .expect("seed");
        let found: Vec<String> = s
            .withdrawn_grants(now, 10)
            .await
            .expect("withdrawn")
            .into_iter()
            .map(|g| g.id.to_string())
            .collect();
        assert_eq!(found, ["g-done", "g-failed", "g-retrying"], "{}: a live lease is waited for", db.name);

        let made = s.grant(&"g-made".into()).await.expect("read").expect("present");
        let want = grant("g-made", "r-made", "e");
        assert_eq!((&made.target, made.granting), (&want.target, false), "{}", db.name);
        let ended = Grant { ended_at: Some(now), end_reason: Some(EndReason::Withdrawn), ..made.clone() };
        s.commit(Commit {
            grants: vec![Write::Update { row: ended, expected_version: 1 }],
            ..Commit::default()
        })
        .await
        .expect("withdrawn");
        let read = s.grant(&"g-made".into()).await.expect("read").expect("present");
        assert_eq!((read.end_reason, read.target), (Some(EndReason::Withdrawn), made.target), "{}", db.name);
    }
}

/// Runs the migrations before 0004, writes rows the way that schema held them (an extension's
/// two active requests, a racing duplicate, an old open grant), then opens the store, which
/// runs 0004.
async fn legacy(db_url: &str, dialect: &str) {
    let migrator = sqlx::migrate::Migrator::new(std::path::Path::new(&format!("./migrations/{dialect}")))
        .await
        .expect("migrations");
    let seed = [
        "INSERT INTO requests (id, requester, role, duration_secs, justification, state, origin, created_at, grant_id) \
         VALUES ('r-old', 'alice', 'ga', 3600, 'j', 'active', 'slack', '2026-01-01T10:00:00Z', 'g-old')",
        "INSERT INTO requests (id, requester, role, duration_secs, justification, state, origin, created_at, grant_id) \
         VALUES ('r-ext', 'alice', 'ga', 3600, 'j', 'active', 'slack', '2026-01-01T10:30:00Z', 'g-old')",
        "INSERT INTO requests (id, requester, role, duration_secs, justification, state, origin, created_at) \
         VALUES ('r-dup1', 'bob', 'ga', 3600, 'j', 'pending', 'slack', '2026-01-01T11:00:00Z')",
        "INSERT INTO requests (id, requester, role, duration_secs, justification, state, origin, created_at) \
         VALUES ('r-dup2', 'bob', 'ga', 3600, 'j', 'pending', 'slack', '2026-01-01T11:00:01Z')",
        "INSERT INTO grants (id, request_id, person, role, starts_at, ends_at) \
         VALUES ('g-old', 'r-old', 'alice', 'ga', '2026-01-01T10:00:00Z', '2026-01-01T12:00:00Z')",
    ];
    if dialect == "postgres" {
        let pool = sqlx::PgPool::connect(db_url).await.expect("connect");
        migrator.run_to(3, &pool).await.expect("0001-0003");
        for sql in seed {
            sqlx::query(AssertSqlSafe(sql)).execute(&pool).await.expect("seed");
        }
        pool.close().await;
    } else {
        let opts = db_url.parse::<sqlx::sqlite::SqliteConnectOptions>().expect("url").create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.expect("open");
        migrator.run_to(3, &mut conn).await.expect("0001-0003");
        for sql in seed {
            sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await.expect("seed");
        }
        conn.close().await.expect("close");
    }
}

#[tokio::test]
async fn migration_0004_supersedes_duplicates_and_keeps_old_grants_readable() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut urls = vec![("sqlite", format!("sqlite://{}", dir.path().join("legacy.db").display()))];
    if std::env::var(POSTGRES_URL_VAR).is_ok()
        && let Some(url) = pg_url_for_new_db().await
    {
        urls.push(("postgres", url));
    }
    for (dialect, url) in urls {
        legacy(&url, dialect).await;
        let store = pimbot::storage::connect(&url).await.expect("0004 applies over legacy rows");
        let state = |id: &'static str| {
            let store = store.clone();
            async move { store.request(&id.into()).await.expect("read").expect("present").state }
        };
        assert_eq!(state("r-old").await, RequestState::Superseded, "{dialect}");
        assert_eq!(state("r-ext").await, RequestState::Active, "{dialect}");
        assert_eq!(state("r-dup1").await, RequestState::Cancelled, "{dialect}");
        assert_eq!(state("r-dup2").await, RequestState::Pending, "{dialect}");
        let old = store.grant(&"g-old".into()).await.expect("read").expect("present");
        assert_eq!((old.target, old.granting), (None, false), "{dialect}: no target recorded yet, and made");
        let dup = store
            .commit(Commit {
                requests: vec![Write::Insert(AccessRequest {
                    requester: "bob".into(),
                    role: "ga".into(),
                    ..request("r-new", "bob", RequestState::Pending)
                })],
                ..Commit::default()
            })
            .await;
        assert!(matches!(dup, Err(Error::Conflict(_))), "{dialect}: the index holds after the migration");
        if dialect == "postgres" {
            drop(TestDb::adopt_postgres(url, store));
        }
    }
}
