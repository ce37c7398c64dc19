//! Every migration keeps the rows of the version before it, on SQLite and PostgreSQL.
//!
//! The migrations are read from `migrations/<dialect>/` at run time, so a new one is covered
//! without touching this file. For each migration N after the first: a fresh database is grown
//! to N-1 with the rows of each earlier version inserted with that version's SQL (the parts in
//! `support::migration_rows`, from the first schema on), then N runs and every table that still
//! exists keeps its row count. Last, a database grown to the previous-to-last version is
//! migrated and opened by pimbot's store, which reads the rows back: requests in each state,
//! the open ones listed (the first release's duplicate closed by 0004), the grants, the audit
//! chain verified, the outbox row claimed, the links, alarms and conversations.
//!
//! A migration that adds a table or column worth carrying adds a part at its own version.

use std::path::Path;

use pimbot::core::ids::{AlarmId, ChatUser, Platform, RequestId};
use pimbot::core::state::RequestState;
use pimbot::testing::audit::{test_linker, test_ring};
use sqlx::migrate::Migrator;

use crate::support::db::{DropDatabase, pg_url_for_new_db};
use crate::support::migration_rows::{self as rows, Conn};

/// The migrations of one dialect, as `pimbot migrate` would find them in the tree.
async fn migrator(dialect: &str) -> Migrator {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations").join(dialect);
    Migrator::new(dir).await.unwrap_or_else(|e| panic!("migrations/{dialect}: {e}"))
}

/// A fresh database of `dialect` (its URL and what drops it), or `None` without PostgreSQL.
async fn fresh(dialect: &str) -> Option<(String, Fresh)> {
    if dialect == "postgres" {
        let url = pg_url_for_new_db().await?;
        return Some((url.clone(), Fresh::Postgres(DropDatabase(url))));
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("pimbot.db").display());
    Some((url, Fresh::Sqlite(dir)))
}

/// Keeps a test database alive; dropping it removes it.
enum Fresh {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres(#[allow(dead_code)] DropDatabase),
}

async fn each_migration_keeps_the_rows_before_it(dialect: &str) {
    let migrator = migrator(dialect).await;
    let versions: Vec<i64> = migrator.iter().map(|m| m.version).collect();
    assert!(versions.len() >= 2, "{dialect}: at least two migrations: {versions:?}");
    let mut steps = 0;
    for pair in versions.windows(2) {
        let (before, version) = (pair[0], pair[1]);
        if rows::parts_at(before).is_empty() {
            continue; // older than the oldest fixture part
        }
        let Some((url, _keep)) = fresh(dialect).await else { return };
        let mut conn = Conn::open(&url).await;
        rows::build(&mut conn, &migrator, before).await;
        let counted = conn.table_counts().await;
        conn.migrate_to(&migrator, version).await;
        let after = conn.table_counts().await;
        for (table, rows_before) in &counted {
            if let Some((_, rows_after)) = after.iter().find(|(t, _)| t == table) {
                assert_eq!(
                    rows_after, rows_before,
                    "{dialect}: migration {version} changed the row count of {table} (rows of {before})"
                );
            }
        }
        conn.close().await;
        steps += 1;
    }
    assert!(steps >= 1, "{dialect}: no migration after the oldest fixture part ({versions:?})");
}

#[tokio::test]
async fn every_sqlite_migration_keeps_the_rows_of_the_version_before() {
    each_migration_keeps_the_rows_before_it("sqlite").await;
}

#[tokio::test]
async fn every_postgres_migration_keeps_the_rows_of_the_version_before() {
    each_migration_keeps_the_rows_before_it("postgres").await;
}

/// Rows of the previous-to-last version, migrated to the last, read through the store.
async fn the_store_reads_rows_of_the_previous_version(dialect: &str) {
    let migrator = migrator(dialect).await;
    let versions: Vec<i64> = migrator.iter().map(|m| m.version).collect();
    let before = versions[versions.len() - 2];
    let Some((url, _keep)) = fresh(dialect).await else { return };
    let mut conn = Conn::open(&url).await;
    rows::build(&mut conn, &migrator, before).await;
    conn.close().await;

    let store = pimbot::storage::connect_with(&url, test_linker()).await.expect("store opens and migrates");
    for (i, state) in RequestState::ALL.into_iter().enumerate() {
        let id = RequestId::from(rows::request_id(i));
        let request = store.request(&id).await.expect("request reads").expect("request kept");
        assert_eq!(request.state, state, "{dialect}: {id}");
    }
    let mut open: Vec<RequestState> = store
        .open_requests_for(&"alice".into())
        .await
        .expect("open requests")
        .iter()
        .map(|r| r.state)
        .collect();
    open.sort_by_key(|s| s.as_str());
    let mut expected: Vec<RequestState> = RequestState::ALL.into_iter().filter(|s| s.is_open()).collect();
    expected.sort_by_key(|s| s.as_str());
    assert_eq!(open, expected, "{dialect}: every open request listed");
    let active = rows::role_of(RequestState::Active);
    let grant = store.open_grant(&"alice".into(), &active.as_str().into()).await.expect("grant reads");
    assert_eq!(grant.map(|g| g.id.to_string()), Some(rows::OPEN_GRANT.to_owned()), "{dialect}");
    assert!(
        store
            .grant(&rows::ENDED_GRANT.into())
            .await
            .expect("grant reads")
            .is_some_and(|g| g.ended_at.is_some())
    );

    let records = store.audit_records(None).await.expect("audit reads");
    assert_eq!(records.len(), rows::AUDIT_EVENTS, "{dialect}");
    pimbot::storage::audit_export::verify(store.as_ref(), &test_ring(), None)
        .await
        .unwrap_or_else(|e| panic!("{dialect}: the audit chain verifies after migrating: {e:?}"));

    assert_eq!(store.outbox_depth().await.expect("depth"), 1, "{dialect}: one pending outbox row");
    let claimed =
        store.claim_outbox(rows::now(), chrono::Duration::minutes(1), 10).await.expect("pending row decodes");
    assert_eq!(claimed.len(), 1, "{dialect}");
    assert!(store.posted_ref(Platform::Slack, &rows::card_ref()).await.expect("ref reads").is_some());
    let link = store.identity_link(&ChatUser::slack("U0ALICE")).await.expect("link reads");
    assert_eq!(link.map(|l| l.object_id), Some(rows::ALICE_OBJECT_ID.to_owned()), "{dialect}");
    let alarm = store.alarm(&AlarmId::from(rows::ALARM_ID)).await.expect("alarm reads").expect("alarm kept");
    assert_eq!(alarm.account_upn, rows::BREAK_GLASS_UPN);
    assert!(store.open_alarm_for(rows::BREAK_GLASS_UPN).await.expect("open alarm reads").is_some());
    let bob = store.open_requests_for(&"bob".into()).await.expect("open requests");
    let mut open: Vec<&str> = bob.iter().map(|r| r.id.as_str()).collect();
    open.sort_unstable();
    assert_eq!(open, rows::FIRST_REQUESTS[1..], "{dialect}: the older duplicate was closed by 0004");
    let older = store.request(&rows::FIRST_REQUESTS[0].into()).await.expect("reads").expect("kept");
    assert_eq!(older.state, RequestState::Cancelled, "{dialect}");
    let legacy = store.open_grant(&"bob".into(), &"legacy-admin".into()).await.expect("grant reads");
    assert_eq!(legacy.map(|g| (g.id.to_string(), g.target)), Some((rows::FIRST_GRANT.to_owned(), None)));
    if before >= rows::TEAMS_VERSION {
        let conversation = store.conversation_ref(rows::CONVERSATION_KEY).await.expect("conversation reads");
        assert!(conversation.is_some(), "{dialect}: Teams conversation kept");
    }
    drop(store);
}

#[tokio::test]
async fn sqlite_store_reads_rows_of_the_previous_version() {
    the_store_reads_rows_of_the_previous_version("sqlite").await;
}

#[tokio::test]
async fn postgres_store_reads_rows_of_the_previous_version() {
    the_store_reads_rows_of_the_previous_version("postgres").await;
}
