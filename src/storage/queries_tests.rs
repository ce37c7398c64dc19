//! The queries a chat command waits for are index searches, never scans that grow with
//! history: SQLite's `EXPLAIN QUERY PLAN` of each, on a migrated empty database (the planner
//! decides from the schema alone). A dropped or mismatched index fails here.

use sqlx::Row;
use sqlx::sqlite::SqlitePoolOptions;

use crate::storage::queries as q;

/// `(query, name)` of every read on the acknowledgement path of a command, a click or a form
/// (the replay record is an insert keyed by its primary key).
const ACK_PATH: &[(&str, &str)] = &[
    (q::OPEN_REQUESTS_FOR, "OPEN_REQUESTS_FOR"),
    (q::REQUEST_BY_ID, "REQUEST_BY_ID"),
    (q::ACTIVE_REQUESTS_OF_GRANT, "ACTIVE_REQUESTS_OF_GRANT"),
    (q::GRANT_BY_ID, "GRANT_BY_ID"),
    (q::OPEN_GRANT, "OPEN_GRANT"),
    (q::OPEN_GRANTS_FOR, "OPEN_GRANTS_FOR"),
    (q::AUDIT_HEAD, "AUDIT_HEAD"),
];

#[tokio::test]
async fn every_acknowledgement_path_query_searches_an_index() {
    let pool = SqlitePoolOptions::new().max_connections(1).connect("sqlite::memory:").await.expect("open");
    crate::storage::sqlite::MIGRATOR.run(&pool).await.expect("migrate");
    let approvals = q::approvals_of(3);
    let checked = ACK_PATH.iter().copied().chain([
        (approvals.as_str(), "approvals_of(3)"),
        (crate::storage::governance::ELIGIBILITY_MARKS, "ELIGIBILITY_MARKS"),
    ]);
    for (sql, name) in checked {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .fetch_all(&pool)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>("detail")).collect();
        assert!(!plan.is_empty(), "{name}: no plan");
        for step in &plan {
            // `SCAN t` reads the whole table (or index); `SEARCH t USING …` reads the matching
            // rows only. Sorting the few matching rows (`USE TEMP B-TREE`) is fine, and so are
            // the one-row frame and scalar subqueries of a query that reads two tables at once
            // (whether a request has approvals is one, searched by the approvals index).
            let frame =
                ["USE TEMP B-TREE", "SCAN CONSTANT ROW", "SCALAR SUBQUERY", "CORRELATED SCALAR SUBQUERY"];
            assert!(
                step.starts_with("SEARCH") || frame.iter().any(|f| step.starts_with(f)),
                "{name} scans: {plan:?}"
            );
        }
    }
    // The person's and the grant's open rows only, not their history (migration 0013).
    for (sql, index) in [
        (q::OPEN_REQUESTS_FOR, "requests_open_by_requester"),
        (q::ACTIVE_REQUESTS_OF_GRANT, "requests_active_of_grant"),
    ] {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!("EXPLAIN QUERY PLAN {sql}")))
            .fetch_all(&pool)
            .await
            .expect("plan");
        let plan: Vec<String> = rows.iter().map(|r| r.get::<String, _>("detail")).collect();
        assert!(plan.iter().any(|s| s.contains(index)), "{sql}\n{plan:?}");
    }
}
