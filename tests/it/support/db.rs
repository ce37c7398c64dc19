//! Fresh databases for tests: SQLite in a temporary directory always, and PostgreSQL when
//! `PIMBOT_TEST_POSTGRES_URL` names an admin connection (each test gets its own new database).
//! With `CI` set, a missing PostgreSQL URL is a failure: CI must never skip PostgreSQL.

use std::sync::Arc;

use pimbot::core::ports::Store;
use pimbot::storage::SqlStore;
use pimbot::testing::audit::test_linker;
use sqlx::{AssertSqlSafe, Connection, PgConnection, SqliteConnection};
use tempfile::TempDir;

/// Environment variable with an admin URL of a PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "PIMBOT_TEST_POSTGRES_URL";

/// One fresh, migrated database and its store.
pub struct TestDb {
    /// `"sqlite"` or `"postgres"`.
    pub name: &'static str,
    /// URL that opens this database.
    pub url: String,
    /// The store on it.
    pub store: Arc<dyn Store>,
    /// Keeps the SQLite directory alive as long as the database is used.
    _dir: Option<TempDir>,
}

impl TestDb {
    /// Runs raw SQL on the database behind the store's back (tampering, seed data); returns
    /// the number of rows affected.
    pub async fn exec(&self, sql: &str) -> u64 {
        if self.url.starts_with("postgres") {
            let mut conn = PgConnection::connect(&self.url).await.expect("connect to postgres");
            sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await.expect("raw SQL").rows_affected()
        } else {
            let mut conn = SqliteConnection::connect(&self.url).await.expect("open sqlite");
            sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await.expect("raw SQL").rows_affected()
        }
    }

    /// Another handle on the same database, as a second replica would open it (the original
    /// keeps ownership: this one drops nothing).
    pub async fn replica(db: &TestDb) -> TestDb {
        let store = db.reconnect().await;
        let name = if db.name == "postgres" { "postgres-replica" } else { "sqlite-replica" };
        Self { name, url: db.url.clone(), store, _dir: None }
    }

    /// A PostgreSQL test database made outside [`postgres`] (dropped with the returned value).
    pub fn adopt_postgres(url: String, store: Arc<dyn Store>) -> Self {
        Self { name: "postgres", url, store, _dir: None }
    }

    /// Opens the same database again through `pimbot::storage::connect_with` with the test key
    /// (migrations run again).
    pub async fn reconnect(&self) -> Arc<dyn Store> {
        pimbot::storage::connect_with(&self.url, test_linker()).await.expect("reconnect")
    }
}

impl Drop for TestDb {
    /// Drops a PostgreSQL test database.
    fn drop(&mut self) {
        if self.name == "postgres" {
            drop_database(&self.url);
        }
    }
}

/// Drops the PostgreSQL test database at its URL when dropped (for tests that make one with
/// [`pg_url_for_new_db`] without a [`TestDb`]).
pub struct DropDatabase(pub String);

impl Drop for DropDatabase {
    fn drop(&mut self) {
        drop_database(&self.0);
    }
}

/// The prefix of every test database's name: `PIMBOT_TEST_DB_PREFIX` (CI sets one per run, so
/// it can prove afterwards that none is left), `pimbot_test_` by default. It always starts
/// with `pimbot_test_`, and only such databases are ever dropped.
pub fn db_prefix() -> String {
    std::env::var("PIMBOT_TEST_DB_PREFIX")
        .ok()
        .filter(|p| {
            p.starts_with("pimbot_test_")
                && p.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        })
        .unwrap_or_else(|| "pimbot_test_".to_owned())
}

/// Drops the test database named in `url` (best effort, `WITH (FORCE)` so lingering pool
/// connections do not keep it alive). Never touches a database not named `pimbot_test_…`.
fn drop_database(url: &str) {
    let Ok(admin) = std::env::var(POSTGRES_URL_VAR) else { return };
    let Some(name) = url.rsplit('/').next().and_then(|t| t.split('?').next()) else { return };
    if !name.starts_with("pimbot_test_") {
        return;
    }
    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    // Drop runs inside the test's runtime, which cannot be blocked on; use a private one.
    let _ = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().ok()?;
        rt.block_on(async {
            let mut conn = PgConnection::connect(&admin).await.ok()?;
            sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await.ok()
        })
    })
    .join();
}

/// A fresh SQLite database in its own temporary directory.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("pimbot.db").display());
    let store = pimbot::storage::connect_with(&url, test_linker()).await.expect("open sqlite store");
    TestDb { name: "sqlite", url, store, _dir: Some(dir) }
}

/// The admin URL of the test PostgreSQL server, if configured. Panics under CI without one.
pub fn postgres_admin_url() -> Option<String> {
    match std::env::var(POSTGRES_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var_os("CI").is_some() => {
            panic!("{POSTGRES_URL_VAR} must be set in CI: the PostgreSQL store tests may not be skipped")
        }
        _ => None,
    }
}

/// Creates an empty database `pimbot_test_<random>` on the test server and returns its URL;
/// `None` when no server is configured. Reusable by end-to-end tests.
pub async fn pg_url_for_new_db() -> Option<String> {
    let admin = postgres_admin_url()?;
    let name = format!("{}{:016x}", db_prefix(), rand::random::<u64>());
    let mut conn = PgConnection::connect(&admin).await.expect("connect to the PostgreSQL admin URL");
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    conn.close().await.expect("close admin connection");
    Some(with_database(&admin, &name))
}

/// `url` with its database name replaced by `db` (query parameters kept).
fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    format!("{scheme}://{authority}/{db}{query}")
}

/// A fresh PostgreSQL database and store, when a server is configured.
pub async fn postgres() -> Option<TestDb> {
    let url = pg_url_for_new_db().await?;
    let store = SqlStore::open(&url).await.expect("open postgres store").with_linker(test_linker());
    Some(TestDb { name: "postgres", url, store: Arc::new(store), _dir: None })
}

/// Fresh stores on every available backend: SQLite always, PostgreSQL when configured.
pub async fn backends() -> Vec<TestDb> {
    let mut all = vec![sqlite().await];
    all.extend(postgres().await);
    all
}

#[test]
fn database_name_is_replaced() {
    assert_eq!(with_database("postgres://u@h:5432/postgres", "x"), "postgres://u@h:5432/x");
    assert_eq!(
        with_database("postgres://u@h/postgres?sslmode=disable", "x"),
        "postgres://u@h/x?sslmode=disable"
    );
    assert_eq!(with_database("postgresql://h", "x"), "postgresql://h/x");
}
