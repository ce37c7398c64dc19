//! The request and grant rows of a set-based batch (`set_write`), one array a column, and the
//! `UNNEST` statements that insert them or compare-and-set them all at once.

use chrono::{DateTime, Utc};

use super::set_write::{Fallback, all_applied, lost};
use super::store_impl::micros;
use crate::core::ports::Write;
use crate::core::request::{AccessRequest, Grant};

/// The request columns as arrays, `$1..$18` in `request_columns` order.
macro_rules! request_arrays {
    () => {
        "UNNEST($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[], $6::text[], $7::text[], \
         $8::bigint[], $9::text[], $10::timestamptz[], $11::timestamptz[], $12::text[], $13::text[], \
         $14::text[], $15::timestamptz[], $16::text[], $17::timestamptz[], $18::timestamptz[])"
    };
}

/// The grant columns as arrays, `$1..$14` in `grant_columns` order.
macro_rules! grant_arrays {
    () => {
        "UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[], \
         $7::timestamptz[], $8::text[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::text[], \
         $14::boolean[])"
    };
}

const INSERT_REQUESTS: &str = concat!(
    "INSERT INTO requests (id, requester, role, duration_secs, justification, ticket, state, version, origin, \
     created_at, decided_at, decided_by, reason, nudge_stage, next_nudge_at, grant_id, starts_at, \
     activation_lease_until) SELECT * FROM ",
    request_arrays!()
);
/// Compare-and-set of many requests: the version column carries each one's expected version.
/// Returns the ids that applied.
const UPDATE_REQUESTS: &str = concat!(
    "UPDATE requests AS r SET requester = u.requester, role = u.role, duration_secs = u.duration_secs, \
     justification = u.justification, ticket = u.ticket, state = u.state, origin = u.origin, \
     created_at = u.created_at, decided_at = u.decided_at, decided_by = u.decided_by, reason = u.reason, \
     nudge_stage = u.nudge_stage, next_nudge_at = u.next_nudge_at, grant_id = u.grant_id, \
     starts_at = u.starts_at, activation_lease_until = u.activation_lease_until, version = r.version + 1 FROM ",
    request_arrays!(),
    " AS u(id, requester, role, duration_secs, justification, ticket, state, expected, origin, created_at, \
     decided_at, decided_by, reason, nudge_stage, next_nudge_at, grant_id, starts_at, activation_lease_until) \
     WHERE r.id = u.id AND r.version = u.expected RETURNING r.id"
);

const INSERT_GRANTS: &str = concat!(
    "INSERT INTO grants (id, request_id, person, role, starts_at, ends_at, ended_at, end_reason, version, \
     target_kind, target_directory_id, target_scope, target_principal, granting) SELECT * FROM ",
    grant_arrays!()
);
/// Compare-and-set of many grants, like [`UPDATE_REQUESTS`].
const UPDATE_GRANTS: &str = concat!(
    "UPDATE grants AS g SET request_id = u.request_id, person = u.person, role = u.role, \
     starts_at = u.starts_at, ends_at = u.ends_at, ended_at = u.ended_at, end_reason = u.end_reason, \
     target_kind = u.target_kind, target_directory_id = u.target_directory_id, target_scope = u.target_scope, \
     target_principal = u.target_principal, granting = u.granting, version = g.version + 1 FROM ",
    grant_arrays!(),
    " AS u(id, request_id, person, role, starts_at, ends_at, ended_at, end_reason, expected, target_kind, \
     target_directory_id, target_scope, target_principal, granting) \
     WHERE g.id = u.id AND g.version = u.expected RETURNING g.id"
);

/// Binds [`RequestColumns`] as `$1..$18`.
macro_rules! bind_requests {
    ($q:expr, $c:expr) => {
        $q.bind(&$c.id)
            .bind(&$c.requester)
            .bind(&$c.role)
            .bind(&$c.duration)
            .bind(&$c.justification)
            .bind(&$c.ticket)
            .bind(&$c.state)
            .bind(&$c.version)
            .bind(&$c.origin)
            .bind(&$c.created_at)
            .bind(&$c.decided_at)
            .bind(&$c.decided_by)
            .bind(&$c.reason)
            .bind(&$c.nudge_stage)
            .bind(&$c.next_nudge_at)
            .bind(&$c.grant_id)
            .bind(&$c.starts_at)
            .bind(&$c.lease)
    };
}

/// Binds [`GrantColumns`] as `$1..$14`.
macro_rules! bind_grants {
    ($q:expr, $c:expr) => {
        $q.bind(&$c.id)
            .bind(&$c.request_id)
            .bind(&$c.person)
            .bind(&$c.role)
            .bind(&$c.starts_at)
            .bind(&$c.ends_at)
            .bind(&$c.ended_at)
            .bind(&$c.end_reason)
            .bind(&$c.version)
            .bind(&$c.target_kind)
            .bind(&$c.target_directory_id)
            .bind(&$c.target_scope)
            .bind(&$c.target_principal)
            .bind(&$c.granting)
    };
}

/// Request rows, one array a column (`request_columns` order; `version` holds the expected
/// version of an update).
#[derive(Default)]
pub(super) struct RequestColumns<'a> {
    id: Vec<&'a str>,
    requester: Vec<&'a str>,
    role: Vec<&'a str>,
    duration: Vec<i64>,
    justification: Vec<&'a str>,
    ticket: Vec<Option<&'a str>>,
    state: Vec<&'static str>,
    version: Vec<i64>,
    origin: Vec<&'static str>,
    created_at: Vec<DateTime<Utc>>,
    decided_at: Vec<Option<DateTime<Utc>>>,
    decided_by: Vec<Option<&'a str>>,
    reason: Vec<Option<&'a str>>,
    nudge_stage: Vec<&'static str>,
    next_nudge_at: Vec<Option<DateTime<Utc>>>,
    grant_id: Vec<Option<&'a str>>,
    starts_at: Vec<Option<DateTime<Utc>>>,
    lease: Vec<Option<DateTime<Utc>>>,
}

impl<'a> RequestColumns<'a> {
    /// The columns of `writes`, in order.
    pub(super) fn of(writes: &[&'a Write<AccessRequest>]) -> Self {
        let mut columns = Self::default();
        writes.iter().for_each(|w| columns.push(w));
        columns
    }

    fn push(&mut self, write: &'a Write<AccessRequest>) {
        let (r, version): (&AccessRequest, i64) = match write {
            Write::Insert(r) => (r, r.version),
            Write::Update { row, expected_version } => (row, *expected_version),
        };
        self.id.push(r.id.as_str());
        self.requester.push(r.requester.as_str());
        self.role.push(r.role.as_str());
        self.duration.push(r.duration.num_seconds());
        self.justification.push(r.justification.as_str());
        self.ticket.push(r.ticket.as_deref());
        self.state.push(r.state.as_str());
        self.version.push(version);
        self.origin.push(r.origin.as_str());
        self.created_at.push(micros(r.created_at));
        self.decided_at.push(r.decided_at.map(micros));
        self.decided_by.push(r.decided_by.as_ref().map(|p| p.as_str()));
        self.reason.push(r.reason.as_deref());
        self.nudge_stage.push(r.nudge_stage.as_str());
        self.next_nudge_at.push(r.next_nudge_at.map(micros));
        self.grant_id.push(r.grant_id.as_ref().map(|g| g.as_str()));
        self.starts_at.push(r.starts_at.map(micros));
        self.lease.push(r.activation_lease_until.map(micros));
    }

    pub(super) async fn insert(&self, tx: &mut sqlx::PgConnection) -> std::result::Result<(), Fallback> {
        if self.id.is_empty() {
            return Ok(());
        }
        bind_requests!(sqlx::query(INSERT_REQUESTS), self).execute(&mut *tx).await.map(drop).map_err(lost)
    }

    pub(super) async fn update(&self, tx: &mut sqlx::PgConnection) -> std::result::Result<(), Fallback> {
        if self.id.is_empty() {
            return Ok(());
        }
        let applied: Vec<String> = bind_requests!(sqlx::query_scalar(UPDATE_REQUESTS), self)
            .fetch_all(&mut *tx)
            .await
            .map_err(lost)?;
        all_applied(applied.len(), self.id.len(), "requests")
    }
}

/// Grant rows, one array a column (`grant_columns` order; `version` holds the expected version
/// of an update).
#[derive(Default)]
pub(super) struct GrantColumns<'a> {
    id: Vec<&'a str>,
    request_id: Vec<&'a str>,
    person: Vec<&'a str>,
    role: Vec<&'a str>,
    starts_at: Vec<DateTime<Utc>>,
    ends_at: Vec<DateTime<Utc>>,
    ended_at: Vec<Option<DateTime<Utc>>>,
    end_reason: Vec<Option<&'static str>>,
    version: Vec<i64>,
    target_kind: Vec<Option<&'static str>>,
    target_directory_id: Vec<Option<&'a str>>,
    target_scope: Vec<Option<&'a str>>,
    target_principal: Vec<Option<&'a str>>,
    granting: Vec<bool>,
}

impl<'a> GrantColumns<'a> {
    /// The columns of `writes`, in order.
    pub(super) fn of(writes: &[&'a Write<Grant>]) -> Self {
        let mut columns = Self::default();
        writes.iter().for_each(|w| columns.push(w));
        columns
    }

    fn push(&mut self, write: &'a Write<Grant>) {
        let (g, version): (&Grant, i64) = match write {
            Write::Insert(g) => (g, g.version),
            Write::Update { row, expected_version } => (row, *expected_version),
        };
        self.id.push(g.id.as_str());
        self.request_id.push(g.request_id.as_str());
        self.person.push(g.person.as_str());
        self.role.push(g.role.as_str());
        self.starts_at.push(micros(g.starts_at));
        self.ends_at.push(micros(g.ends_at));
        self.ended_at.push(g.ended_at.map(micros));
        self.end_reason.push(g.end_reason.map(|r| r.as_str()));
        self.version.push(version);
        self.target_kind.push(g.target.as_ref().map(|t| t.kind.as_str()));
        self.target_directory_id.push(g.target.as_ref().map(|t| t.directory_id.as_str()));
        self.target_scope.push(g.target.as_ref().map(|t| t.scope.as_str()));
        self.target_principal.push(g.target.as_ref().and_then(|t| t.principal_id.as_deref()));
        self.granting.push(g.granting);
    }

    pub(super) async fn insert(&self, tx: &mut sqlx::PgConnection) -> std::result::Result<(), Fallback> {
        if self.id.is_empty() {
            return Ok(());
        }
        bind_grants!(sqlx::query(INSERT_GRANTS), self).execute(&mut *tx).await.map(drop).map_err(lost)
    }

    pub(super) async fn update(&self, tx: &mut sqlx::PgConnection) -> std::result::Result<(), Fallback> {
        if self.id.is_empty() {
            return Ok(());
        }
        let applied: Vec<String> =
            bind_grants!(sqlx::query_scalar(UPDATE_GRANTS), self).fetch_all(&mut *tx).await.map_err(lost)?;
        all_applied(applied.len(), self.id.len(), "grants")
    }
}
