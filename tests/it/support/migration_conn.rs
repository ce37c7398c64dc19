//! One connection to a test database of either backend for `tests/it/migrations.rs`: migrate
//! to a version, run a statement with typed values bound to `$N` placeholders, count the rows
//! of every table.

use chrono::{DateTime, Utc};
use sqlx::migrate::Migrator;
use sqlx::{AssertSqlSafe, Connection, PgConnection, Row, SqliteConnection};

/// A value bound to a placeholder, typed so PostgreSQL sees the column's type.
#[derive(Debug, Clone)]
pub enum Val {
    /// Text.
    Text(String),
    /// Nullable text.
    OptText(Option<String>),
    /// Integer.
    Int(i64),
    /// Boolean.
    Bool(bool),
    /// Timestamp.
    Time(DateTime<Utc>),
    /// Nullable timestamp.
    OptTime(Option<DateTime<Utc>>),
}

/// A text value.
pub fn t(s: impl Into<String>) -> Val {
    Val::Text(s.into())
}

/// One connection to a test database of either backend.
pub enum Conn {
    /// SQLite.
    Sqlite(SqliteConnection),
    /// PostgreSQL.
    Postgres(PgConnection),
}

impl Conn {
    /// Connects to `url` (`sqlite://…?mode=rwc` creates the file).
    pub async fn open(url: &str) -> Self {
        if url.starts_with("postgres") {
            Conn::Postgres(PgConnection::connect(url).await.expect("connect to postgres"))
        } else {
            Conn::Sqlite(SqliteConnection::connect(url).await.expect("open sqlite"))
        }
    }

    /// Applies the migrations up to and including `version`.
    pub async fn migrate_to(&mut self, migrator: &Migrator, version: i64) {
        let done = match self {
            Conn::Sqlite(c) => migrator.run_to(version, c).await,
            Conn::Postgres(c) => migrator.run_to(version, c).await,
        };
        done.unwrap_or_else(|e| panic!("migrating to {version}: {e}"));
    }

    /// Runs one statement with its values bound in order.
    pub async fn exec(&mut self, sql: &str, vals: &[Val]) {
        let done = match self {
            Conn::Sqlite(c) => {
                let mut q = sqlx::query(AssertSqlSafe(sql.to_owned()));
                for v in vals {
                    q = match v.clone() {
                        Val::Text(s) => q.bind(s),
                        Val::OptText(s) => q.bind(s),
                        Val::Int(i) => q.bind(i),
                        Val::Bool(b) => q.bind(b),
                        Val::Time(at) => q.bind(at),
                        Val::OptTime(at) => q.bind(at),
                    };
                }
                q.execute(c).await.map(|_| ())
            }
            Conn::Postgres(c) => {
                let mut q = sqlx::query(AssertSqlSafe(sql.to_owned()));
                for v in vals {
                    q = match v.clone() {
                        Val::Text(s) => q.bind(s),
                        Val::OptText(s) => q.bind(s),
                        Val::Int(i) => q.bind(i),
                        Val::Bool(b) => q.bind(b),
                        Val::Time(at) => q.bind(at),
                        Val::OptTime(at) => q.bind(at),
                    };
                }
                q.execute(c).await.map(|_| ())
            }
        };
        done.unwrap_or_else(|e| panic!("{e}: {sql}"));
    }

    /// Every table of pimbot's (not sqlx's bookkeeping) with its row count, by name.
    pub async fn table_counts(&mut self) -> Vec<(String, i64)> {
        let names: Vec<String> = match self {
            Conn::Sqlite(c) => sqlx::query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
                 AND name <> '_sqlx_migrations' ORDER BY name",
            )
            .fetch_all(c)
            .await
            .expect("list tables")
            .iter()
            .map(|r| r.get(0))
            .collect(),
            Conn::Postgres(c) => sqlx::query(
                "SELECT tablename::TEXT FROM pg_tables WHERE schemaname = current_schema() \
                 AND tablename <> '_sqlx_migrations' ORDER BY tablename",
            )
            .fetch_all(c)
            .await
            .expect("list tables")
            .iter()
            .map(|r| r.get(0))
            .collect(),
        };
        let mut counts = Vec::new();
        for name in names {
            let sql = AssertSqlSafe(format!("SELECT COUNT(*) FROM {name}"));
            let n: i64 = match self {
                Conn::Sqlite(c) => sqlx::query(sql).fetch_one(c).await.map(|r| r.get(0)),
                Conn::Postgres(c) => sqlx::query(sql).fetch_one(c).await.map(|r| r.get(0)),
            }
            .unwrap_or_else(|e| panic!("count {name}: {e}"));
            counts.push((name, n));
        }
        counts
    }

    /// Closes the connection.
    pub async fn close(self) {
        let _ = match self {
            Conn::Sqlite(c) => c.close().await,
            Conn::Postgres(c) => c.close().await,
        };
    }
}
