//! Approvals attached to the requests a read returns: one query for the whole set of rows
//! (in chunks of [`CHUNK`] ids), never one per request, so a sweep reading a hundred due
//! requests costs two statements, not a hundred and one; and none for rows that have no
//! approval (each row says whether it has any), so most reads are one statement.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::rows::RequestRow;
use super::store_impl::db;
use super::{SqlStore, on_db};
use crate::core::error::Result;
use crate::core::request::{AccessRequest, Approval};

/// Most request ids one approvals query binds (well under either backend's bind limit).
const CHUNK: usize = 500;

/// An approval with the request it belongs to.
#[derive(Debug, sqlx::FromRow)]
struct ApprovalOfRow {
    request_id: String,
    approver: String,
    at: DateTime<Utc>,
}

impl SqlStore {
    /// Attaches each request's approvals (oldest first) and converts the rows, in their order.
    pub(super) async fn with_approvals(&self, rows: Vec<RequestRow>) -> Result<Vec<AccessRequest>> {
        let mut approvals: HashMap<String, Vec<Approval>> = HashMap::new();
        // Only requests that have approvals need the second query; a read of requests that
        // have none (roles without approval, requests still pending) is one statement.
        let approved: Vec<&RequestRow> = rows.iter().filter(|r| r.has_approvals).collect();
        for chunk in approved.chunks(CHUNK) {
            let sql = super::queries::approvals_of(chunk.len());
            let found: Vec<ApprovalOfRow> = on_db!(self, pool => {
                let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql));
                for row in chunk {
                    query = query.bind(row.id.as_str());
                }
                query.fetch_all(pool).await
            })
            .map_err(db("loading approvals"))?;
            for a in found {
                approvals
                    .entry(a.request_id)
                    .or_default()
                    .push(Approval { approver: a.approver.into(), at: a.at });
            }
        }
        rows.into_iter()
            .map(|row| {
                let of_row = approvals.remove(&row.id).unwrap_or_default();
                Ok(row.into_request(of_row)?)
            })
            .collect()
    }
}
