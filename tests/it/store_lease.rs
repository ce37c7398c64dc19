//! Migration 0014 (`requests.activation_lease_until`) on every backend: an activation in flight
//! during the upgrade keeps its lease (until then held in `next_nudge_at`), so the
//! withdrawn-grant sweep still waits for it; a scheduled start or next try is not taken for a
//! lease.

use chrono::{DateTime, TimeZone, Utc};
use sqlx::{AssertSqlSafe, Connection};

use crate::support::db::{POSTGRES_URL_VAR, TestDb, pg_url_for_new_db};

const SEED: [&str; 3] = [
    "INSERT INTO requests (id, requester, role, duration_secs, justification, state, origin, created_at, \
     decided_at, next_nudge_at) VALUES ('r-busy', 'alice', 'ga', 3600, 'j', 'cancelled', 'slack', \
     '2026-01-01T10:00:00Z', '2026-01-01T10:01:00Z', '2026-01-01T10:05:00Z')",
    "INSERT INTO grants (id, request_id, person, role, starts_at, ends_at, granting) VALUES \
     ('g-busy', 'r-busy', 'alice', 'ga', '2026-01-01T10:04:00Z', '2026-01-01T11:04:00Z', TRUE)",
    "INSERT INTO requests (id, requester, role, duration_secs, justification, state, origin, created_at, \
     decided_at, next_nudge_at) VALUES ('r-later', 'bob', 'ga', 3600, 'j', 'approved', 'slack', \
     '2026-01-01T10:00:00Z', '2026-01-01T10:01:00Z', '2026-01-01T12:00:00Z')",
];

async fn before_0014(db_url: &str, dialect: &str) {
    let migrator = sqlx::migrate::Migrator::new(std::path::Path::new(&format!("./migrations/{dialect}")))
        .await
        .expect("migrations");
    if dialect == "postgres" {
        let pool = sqlx::PgPool::connect(db_url).await.expect("connect");
        migrator.run_to(13, &pool).await.expect("before 0014");
        for seed in SEED {
            sqlx::query(AssertSqlSafe(seed)).execute(&pool).await.expect("seed");
        }
        pool.close().await;
    } else {
        let opts = db_url.parse::<sqlx::sqlite::SqliteConnectOptions>().expect("url").create_if_missing(true);
        let mut conn = sqlx::SqliteConnection::connect_with(&opts).await.expect("open");
        migrator.run_to(13, &mut conn).await.expect("before 0014");
        for seed in SEED {
            sqlx::query(AssertSqlSafe(seed)).execute(&mut conn).await.expect("seed");
        }
        conn.close().await.expect("close");
    }
}

fn at(h: u32, m: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, h, m, 0).single().expect("valid")
}

#[tokio::test]
async fn migration_0014_keeps_the_lease_of_an_activation_in_flight() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut urls = vec![("sqlite", format!("sqlite://{}", dir.path().join("before-0014.db").display()))];
    if std::env::var(POSTGRES_URL_VAR).is_ok()
        && let Some(url) = pg_url_for_new_db().await
    {
        urls.push(("postgres", url));
    }
    for (dialect, url) in urls {
        before_0014(&url, dialect).await;
        let store = pimbot::storage::connect(&url).await.expect("0014 applies over earlier rows");
        let busy = store.request(&"r-busy".into()).await.expect("read").expect("present");
        assert_eq!(busy.activation_lease_until, Some(at(10, 5)), "{dialect}: the lease moved to its column");
        let later = store.request(&"r-later".into()).await.expect("read").expect("present");
        assert_eq!(
            (later.next_nudge_at, later.activation_lease_until),
            (Some(at(12, 0)), None),
            "{dialect}: a scheduled start is no lease"
        );
        let withdrawn = |now| {
            let store = store.clone();
            async move {
                let found = store.withdrawn_grants(now, 10).await.expect("withdrawn");
                found.into_iter().map(|g| g.id.to_string()).collect::<Vec<_>>()
            }
        };
        assert!(withdrawn(at(10, 4)).await.is_empty(), "{dialect}: the sweep waits for the lease");
        assert_eq!(withdrawn(at(10, 6)).await, ["g-busy"], "{dialect}: and takes over once it ran out");
        if dialect == "postgres" {
            drop(TestDb::adopt_postgres(url, store));
        }
    }
}
