//! Migration 0010 (`requests.starts_at`) on every backend: rows written before it read back
//! unscheduled, a scheduled start round-trips, and the bounded activation sweep lists due
//! approved requests before ones waiting days for their start.

use chrono::{DateTime, Duration, Utc};
use pimbot::core::ids::Platform;
use pimbot::core::ports::{Commit, Write};
use pimbot::core::request::{AccessRequest, NudgeStage};
use pimbot::core::state::RequestState;
use sqlx::{AssertSqlSafe, Connection};

use crate::store::t0;
use crate::support::db::{POSTGRES_URL_VAR, TestDb, backends, pg_url_for_new_db};

pub(crate) fn approved(id: &str, requester: &str, starts_at: Option<DateTime<Utc>>) -> AccessRequest {
    AccessRequest {
        id: id.into(),
        requester: requester.into(),
        role: "global-admin".into(),
        duration: Duration::hours(1),
        justification: "j".into(),
        ticket: None,
        state: RequestState::Approved,
        version: 1,
        origin: Platform::Slack,
        created_at: t0(),
        decided_at: Some(t0()),
        decided_by: Some("carol".into()),
        reason: None,
        approvals: Vec::new(),
        nudge_stage: NudgeStage::None,
        next_nudge_at: starts_at,
        grant_id: None,
        starts_at,
        activation_lease_until: None,
    }
}

#[tokio::test]
async fn a_start_round_trips_and_due_requests_come_before_waiting_ones() {
    for db in backends().await {
        let s = &db.store;
        let start = pimbot::core::audit::truncate_micros(t0() + Duration::days(3));
        // Inserted first and oldest: the scheduled one would lead an oldest-first list.
        let rows = vec![
            Write::Insert(approved("r-later", "alice", Some(start))),
            Write::Insert(approved("r-now", "bob", None)),
        ];
        s.commit(Commit { requests: rows, ..Commit::default() }).await.expect("insert");
        let read = s.request(&"r-later".into()).await.expect("read").expect("present");
        assert_eq!(read.starts_at, Some(start), "{}", db.name);
        let first: Vec<String> =
            s.approved_requests(1).await.expect("approved").into_iter().map(|r| r.id.to_string()).collect();
        assert_eq!(first, ["r-now"], "{}: the due request first", db.name);

        let mut moved = read.clone();
        moved.starts_at = None;
        s.commit(Commit {
            requests: vec![Write::Update { row: moved, expected_version: 1 }],
            ..Commit::default()
        })
        .await
        .expect("update");
        assert_eq!(
            s.request(&"r-later".into()).await.expect("read").expect("present").starts_at,
            None,
            "{}",
            db.name
        );
    }
}

/// Runs the migrations before 0010, writes an approved request the way that schema held it, then
/// opens the store, which runs 0010.
async fn before_0010(db_url: &str, dialect: &str) {
    let migrator = sqlx::migrate::Migrator::new(std::path::Path::new(&format!("./migrations/{dialect}")))
        .await
        .expect("migrations");
    let seed = "INSERT INTO requests (id, requester, role, duration_secs, justification, state, origin, created_at, decided_at) \
         VALUES ('r-old', 'alice', 'ga', 3600, 'j', 'approved', 'slack', '2026-01-01T10:00:00Z', '2026-01-01T10:01:00Z')";
    if dialect == "postgres" {
        let pool = sqlx::PgPool::connect(db_url).await.expect("connect");
        migrator.run_to(9, &pool).await.expect("before 0010");
        sqlx::query(AssertSqlSafe(seed)).execute(&pool).await.expect("seed");
        pool.close().await;
    } else {
        let opts = db_url.parse::<sqlx::sqlite::SqliteConnectOptions>().expect("url").create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.expect("open");
        migrator.run_to(9, &mut conn).await.expect("before 0010");
        sqlx::query(AssertSqlSafe(seed)).execute(&mut conn).await.expect("seed");
        conn.close().await.expect("close");
    }
}

#[tokio::test]
async fn migration_0010_reads_earlier_requests_as_starting_when_approved() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut urls = vec![("sqlite", format!("sqlite://{}", dir.path().join("before-0010.db").display()))];
    if std::env::var(POSTGRES_URL_VAR).is_ok()
        && let Some(url) = pg_url_for_new_db().await
    {
        urls.push(("postgres", url));
    }
    for (dialect, url) in urls {
        before_0010(&url, dialect).await;
        let store = pimbot::storage::connect(&url).await.expect("0010 applies over earlier rows");
        let old = store.request(&"r-old".into()).await.expect("read").expect("present");
        assert_eq!((old.state, old.starts_at), (RequestState::Approved, None), "{dialect}");
        if dialect == "postgres" {
            drop(TestDb::adopt_postgres(url, store));
        }
    }
}
