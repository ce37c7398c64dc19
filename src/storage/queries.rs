//! SQL shared by both backends. `$N` placeholders work on SQLite and PostgreSQL alike, and every
//! timestamp is bound from Rust, so one statement serves both. Only the outbox claim (row
//! locking) and the audit head lock differ; those are built here too and picked per dialect.

macro_rules! request_columns {
    () => {
        "id, requester, role, duration_secs, justification, ticket, state, version, origin, \
         created_at, decided_at, decided_by, reason, nudge_stage, next_nudge_at, grant_id, starts_at, \
         activation_lease_until"
    };
}

/// The request columns a read selects: [`request_columns`] and whether the request has any
/// approval (an index search), so reads of requests without approvals need no second query.
macro_rules! request_select {
    () => {
        concat!(
            request_columns!(),
            ", EXISTS (SELECT 1 FROM approvals a WHERE a.request_id = requests.id) AS has_approvals"
        )
    };
}

macro_rules! grant_columns {
    () => {
        "id, request_id, person, role, starts_at, ends_at, ended_at, end_reason, version, target_kind, \
         target_directory_id, target_scope, target_principal, granting"
    };
}

macro_rules! audit_columns {
    () => {
        "seq, at, actor_kind, actor, kind, request_id, role, detail, prev_hash, hash, key_id"
    };
}
pub(super) use audit_columns;

/// The open states of a request (pending, approved, active), as an SQL list.
macro_rules! open_states {
    () => {
        "('awaiting_mfa', 'pending', 'approved', 'active')"
    };
}

/// Claims due outbox rows: pending, due, not leased, and first undelivered of their platform and
/// order key. `$1` now, `$2` lease end, `$3` limit, `$4` the claiming dispatcher (NULL for an
/// anonymous claimer), `$5` the oldest heartbeat of a live dispatcher. A row leased by another
/// dispatcher whose heartbeat stopped is taken over before its lease ends. The suffix locks the
/// chosen rows on PostgreSQL. A row still carrying an earlier lease was claimed by a dispatcher
/// that never recorded an outcome (it died mid-delivery): it becomes in doubt (SET sees the old
/// `claimed_until`).
macro_rules! claim_outbox {
    ($lock:literal) => {
        concat!(
            "UPDATE outbox SET in_doubt = (in_doubt OR claimed_until IS NOT NULL), claimed_until = $2, ",
            "claimed_by = $4 WHERE id IN (",
            "SELECT o.id FROM outbox o WHERE o.state = 'pending' AND o.due_at <= $1 ",
            "AND (o.claimed_until IS NULL OR o.claimed_until < $1 OR (o.claimed_by <> $4 AND NOT EXISTS ",
            "(SELECT 1 FROM dispatchers d WHERE d.id = o.claimed_by AND d.seen_at >= $5))) ",
            "AND NOT EXISTS (SELECT 1 FROM outbox e WHERE e.state = 'pending' ",
            "AND e.platform = o.platform AND e.order_key = o.order_key AND e.id < o.id) ",
            "ORDER BY o.id LIMIT $3",
            $lock,
            ") RETURNING id, platform, message, attempts, created_at, in_doubt"
        )
    };
}

/// Inserts a request; `$1..$18` in [`request_columns`] order.
pub const INSERT_REQUEST: &str = concat!(
    "INSERT INTO requests (",
    request_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
);
/// Compare-and-set update of a request; same binds as [`INSERT_REQUEST`] with `$8` the expected
/// version. Returns the new version when it applied.
pub const UPDATE_REQUEST: &str = "UPDATE requests SET requester = $2, role = $3, duration_secs = $4, \
     justification = $5, ticket = $6, state = $7, origin = $9, created_at = $10, decided_at = $11, \
     decided_by = $12, reason = $13, nudge_stage = $14, next_nudge_at = $15, grant_id = $16, \
     starts_at = $17, activation_lease_until = $18, version = version + 1 WHERE id = $1 AND version = $8 RETURNING version";
/// One request by id.
pub const REQUEST_BY_ID: &str = concat!("SELECT ", request_select!(), " FROM requests WHERE id = $1");
/// A person's open requests, newest first.
pub const OPEN_REQUESTS_FOR: &str = concat!(
    "SELECT ",
    request_select!(),
    " FROM requests WHERE requester = $1 AND state IN ",
    open_states!(),
    " ORDER BY created_at DESC, id DESC"
);
/// Active requests linked to a grant.
pub const ACTIVE_REQUESTS_OF_GRANT: &str = concat!(
    "SELECT ",
    request_select!(),
    " FROM requests WHERE grant_id = $1 AND state = 'active' ORDER BY created_at, id"
);
/// Pending requests whose next SLA step is due at `$1`, and requests whose step-up window closed
/// then, at most `$2`.
pub const DUE_NUDGES: &str = concat!(
    "SELECT ",
    request_select!(),
    " FROM requests WHERE state IN ('pending', 'awaiting_mfa') AND next_nudge_at <= $1 ",
    "ORDER BY next_nudge_at, id LIMIT $2"
);
/// Approved requests, those due first (no next try set, then the soonest next try or scheduled
/// start), at most `$1`: requests waiting for a start days ahead never crowd out due ones.
pub const APPROVED_REQUESTS: &str = concat!(
    "SELECT ",
    request_select!(),
    " FROM requests WHERE state = 'approved' ",
    "ORDER BY next_nudge_at IS NOT NULL, next_nudge_at, created_at, id LIMIT $1"
);

/// The approvals of `n` requests (`$1`…`$n` their ids), oldest first within each request.
pub fn approvals_of(n: usize) -> String {
    let marks: Vec<String> = (1..=n).map(|i| format!("${i}")).collect();
    format!(
        "SELECT request_id, approver, at FROM approvals WHERE request_id IN ({}) ORDER BY request_id, at, id",
        marks.join(", ")
    )
}

/// Inserts an approval (`$1` request, `$2` approver, `$3` at).
pub const INSERT_APPROVAL: &str = "INSERT INTO approvals (request_id, approver, at) VALUES ($1, $2, $3)";

/// Inserts a grant; `$1..$14` in [`grant_columns`] order.
pub const INSERT_GRANT: &str = concat!(
    "INSERT INTO grants (",
    grant_columns!(),
    ") VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
);
/// Compare-and-set update of a grant; same binds as [`INSERT_GRANT`] with `$9` the expected version.
pub const UPDATE_GRANT: &str = "UPDATE grants SET request_id = $2, person = $3, role = $4, starts_at = $5, \
     ends_at = $6, ended_at = $7, end_reason = $8, target_kind = $10, target_directory_id = $11, \
     target_scope = $12, target_principal = $13, granting = $14, version = version + 1 \
     WHERE id = $1 AND version = $9 RETURNING version";
/// One grant by id.
pub const GRANT_BY_ID: &str = concat!("SELECT ", grant_columns!(), " FROM grants WHERE id = $1");
/// The open grant of `$1` for role `$2`.
pub const OPEN_GRANT: &str =
    concat!("SELECT ", grant_columns!(), " FROM grants WHERE person = $1 AND role = $2 AND ended_at IS NULL");
/// A person's open grants, ending soonest first.
pub const OPEN_GRANTS_FOR: &str = concat!(
    "SELECT ",
    grant_columns!(),
    " FROM grants WHERE person = $1 AND ended_at IS NULL ORDER BY ends_at, id"
);
/// Every open grant, ending soonest first, at most `$1`.
pub const OPEN_GRANTS: &str =
    concat!("SELECT ", grant_columns!(), " FROM grants WHERE ended_at IS NULL ORDER BY ends_at, id LIMIT $1");
/// Open, confirmed grants ending at or before `$1`, soonest first, at most `$2`. A grant still
/// being made is its activation's to finish (or to withdraw), not expiry's.
pub const DUE_GRANTS: &str = concat!(
    "SELECT ",
    grant_columns!(),
    " FROM grants WHERE ended_at IS NULL AND NOT granting AND ends_at <= $1 ORDER BY ends_at, id LIMIT $2"
);
/// Open grants being made whose request is no longer approved and whose activation lease ran
/// out at `$1`, at most `$2`.
pub const WITHDRAWN_GRANTS: &str = "SELECT g.id, g.request_id, g.person, g.role, g.starts_at, g.ends_at, \
     g.ended_at, g.end_reason, g.version, g.target_kind, g.target_directory_id, g.target_scope, \
     g.target_principal, g.granting FROM grants g LEFT JOIN requests r ON r.id = g.request_id \
     WHERE g.ended_at IS NULL AND g.granting \
     AND (r.id IS NULL OR (r.state <> 'approved' AND (r.activation_lease_until IS NULL OR r.activation_lease_until <= $1))) \
     ORDER BY g.starts_at, g.id LIMIT $2";
/// Pending and approved requests, oldest first, at most `$1`.
pub const REQUESTS_IN_FLIGHT: &str = concat!(
    "SELECT ",
    request_select!(),
    " FROM requests WHERE state IN ('pending', 'approved') ORDER BY created_at, id LIMIT $1"
);
/// Records a handled request key (`$1` key, `$2` now, `$3` until). A key still unexpired is
/// left alone (no row affected: a replay); an expired one is taken over.
pub const REMEMBER_REQUEST: &str = "INSERT INTO seen_requests (key, expires_at) VALUES ($1, $3) \
     ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE seen_requests.expires_at < $2";
/// Whether request key `$1` is recorded and unexpired at `$2`.
pub const SEEN_REQUEST: &str = "SELECT 1 FROM seen_requests WHERE key = $1 AND expires_at >= $2";
/// Forgets request keys expired before `$1`.
pub const PRUNE_SEEN_REQUESTS: &str = "DELETE FROM seen_requests WHERE expires_at < $1";

/// The audit chain head, unlocked.
pub const AUDIT_HEAD: &str = "SELECT last_seq, last_hash FROM audit_head WHERE id = 1";
/// The audit chain head, locked until the transaction ends (PostgreSQL).
pub const AUDIT_HEAD_FOR_UPDATE: &str = "SELECT last_seq, last_hash FROM audit_head WHERE id = 1 FOR UPDATE";
/// Moves the head (`$1` seq, `$2` hash).
pub const UPDATE_AUDIT_HEAD: &str = "UPDATE audit_head SET last_seq = $1, last_hash = $2 WHERE id = 1";
/// Every audit record in chain order.
pub const AUDIT_ALL: &str = concat!("SELECT ", audit_columns!(), " FROM audit_events ORDER BY seq");
/// Audit records at or after `$1`, in chain order.
pub const AUDIT_SINCE: &str =
    concat!("SELECT ", audit_columns!(), " FROM audit_events WHERE at >= $1 ORDER BY seq");
/// One page of audit records after seq `$1`, at most `$2`, in chain order.
pub const AUDIT_PAGE: &str =
    concat!("SELECT ", audit_columns!(), " FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2");
/// One page of audit records after seq `$1` and at or after `$3`, at most `$2`, in chain order.
pub const AUDIT_PAGE_SINCE: &str = concat!(
    "SELECT ",
    audit_columns!(),
    " FROM audit_events WHERE seq > $1 AND at >= $3 ORDER BY seq LIMIT $2"
);

/// Queues a message (`$1` platform, `$2` order key, `$3` JSON, `$4` due and created time).
pub const INSERT_OUTBOX: &str = "INSERT INTO outbox (platform, order_key, message, state, due_at, attempts, \
     created_at) VALUES ($1, $2, $3, 'pending', $4, 0, $4)";
/// Outbox claim on SQLite: the single statement runs inside `BEGIN IMMEDIATE`, so it is atomic.
pub const CLAIM_OUTBOX_SQLITE: &str = claim_outbox!("");
/// Outbox claim on PostgreSQL: rows another replica is claiming are skipped, not waited for.
pub const CLAIM_OUTBOX_POSTGRES: &str = claim_outbox!(" FOR UPDATE OF o SKIP LOCKED");
/// Marks rows delivered on SQLite (`$1` the ids as a JSON array, `$2` delivered at).
pub const COMPLETE_OUTBOX_SQLITE: &str = "UPDATE outbox SET state = 'done', delivered_at = $2, claimed_until = NULL \
     WHERE id IN (SELECT value FROM json_each($1)) AND state = 'pending'";
/// Marks rows delivered on PostgreSQL (`$1` the ids, `$2` delivered at).
pub const COMPLETE_OUTBOX_POSTGRES: &str = "UPDATE outbox SET state = 'done', delivered_at = $2, \
     claimed_until = NULL WHERE id = ANY($1) AND state = 'pending'";
/// Puts a row back (`$1` id, `$2` due at, `$3` error).
pub const RETRY_OUTBOX: &str = "UPDATE outbox SET due_at = $2, attempts = attempts + 1, last_error = $3, \
     claimed_until = NULL WHERE id = $1 AND state = 'pending'";
/// Puts a row back in doubt: the platform may have taken it (`$1` id, `$2` due at, `$3` error).
pub const RETRY_OUTBOX_IN_DOUBT: &str = "UPDATE outbox SET due_at = $2, attempts = attempts + 1, \
     last_error = $3, claimed_until = NULL, in_doubt = TRUE WHERE id = $1 AND state = 'pending'";
/// Gives up on a row (`$1` id, `$2` reason, `$3` refused at).
pub const REJECT_OUTBOX: &str = "UPDATE outbox SET state = 'rejected', attempts = attempts + 1, \
     last_error = $2, rejected_at = $3, claimed_until = NULL WHERE id = $1 AND state = 'pending'";
/// Rows refused at or after `$1`, newest first, at most `$2`.
pub const RECENT_REJECTIONS: &str = "SELECT id, platform, message, last_error, rejected_at FROM outbox \
     WHERE state = 'rejected' AND rejected_at >= $1 ORDER BY rejected_at DESC, id DESC LIMIT $2";
/// Deletes finished rows created before `$1`.
pub const PRUNE_OUTBOX: &str = "DELETE FROM outbox WHERE state <> 'pending' AND created_at < $1";
/// Undelivered rows.
pub const OUTBOX_DEPTH: &str = "SELECT COUNT(*) FROM outbox WHERE state = 'pending'";
/// Creation time of the oldest undelivered outbox row (NULL when none).
pub const OUTBOX_OLDEST_PENDING: &str = "SELECT MIN(created_at) FROM outbox WHERE state = 'pending'";
/// Grants in force: not ended, and confirmed by the directory (rows written ahead of their
/// directory call are not counted yet).
pub const OPEN_GRANT_COUNT: &str = "SELECT COUNT(*) FROM grants WHERE ended_at IS NULL AND NOT granting";
/// Pending requests by role (metrics).
pub const PENDING_BY_ROLE: &str =
    "SELECT role, COUNT(*) FROM requests WHERE state = 'pending' GROUP BY role ORDER BY role";
/// Grants in force by role (metrics): not ended and confirmed by the directory, as
/// [`OPEN_GRANT_COUNT`].
pub const OPEN_GRANTS_BY_ROLE: &str =
    "SELECT role, COUNT(*) FROM grants WHERE ended_at IS NULL AND NOT granting GROUP BY role ORDER BY role";
/// Unacknowledged alarms by account and severity (metrics).
pub const OPEN_ALARMS: &str = "SELECT account_upn, severity, COUNT(*) FROM alarms \
     WHERE acknowledged_at IS NULL GROUP BY account_upn, severity ORDER BY account_upn, severity";

/// Records a dispatcher's heartbeat (`$1` id, `$2` now).
pub const DISPATCHER_HEARTBEAT: &str = "INSERT INTO dispatchers (id, seen_at) VALUES ($1, $2) \
     ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at";
/// Forgets a dispatcher that stopped (`$1` id); its claims can be taken over at once.
pub const RETIRE_DISPATCHER: &str = "DELETE FROM dispatchers WHERE id = $1";
/// Forgets dispatchers silent since `$1` (crashed processes leave their row behind).
pub const PRUNE_DISPATCHERS: &str = "DELETE FROM dispatchers WHERE seen_at < $1";

/// Remembers (or re-points) a posted message.
pub const UPSERT_POSTED_REF: &str = "INSERT INTO posted_refs (platform, ref_key, channel, message_id) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (platform, ref_key) \
     DO UPDATE SET channel = excluded.channel, message_id = excluded.message_id";
/// A remembered message.
pub const POSTED_REF: &str =
    "SELECT platform, ref_key, channel, message_id FROM posted_refs WHERE platform = $1 AND ref_key = $2";

macro_rules! alarm_columns {
    () => {
        "id, signin_id, account_upn, signed_in_at, raised_at, ip, location, app, client, ca_status, \
         succeeded, severity, acknowledged_by, acknowledged_at, reason, next_page_at, pages, version, \
         signins, first_signed_in_at"
    };
}

/// Inserts an alarm; `$1..$20` in [`alarm_columns`] order. A second alarm for the same sign-in
/// violates the unique `signin_id`; a second open alarm for the same account violates the
/// unique `open_account`.
pub const INSERT_ALARM: &str = concat!(
    "INSERT INTO alarms (",
    alarm_columns!(),
    ", open_account) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, ",
    "$18, $19, $20, CASE WHEN $14 IS NULL THEN $3 ELSE NULL END)"
);
/// Compare-and-set update of an alarm; same binds as [`INSERT_ALARM`] with `$18` the expected
/// version. The sign-in it was raised for never changes; once acknowledged it is no longer its
/// account's open alarm. Returns the new version when it applied.
pub const UPDATE_ALARM: &str = "UPDATE alarms SET account_upn = $3, signed_in_at = $4, raised_at = $5, \
     ip = $6, location = $7, app = $8, client = $9, ca_status = $10, succeeded = $11, severity = $12, \
     acknowledged_by = $13, acknowledged_at = $14, reason = $15, next_page_at = $16, pages = $17, \
     signins = $19, first_signed_in_at = $20, \
     open_account = CASE WHEN $14 IS NULL THEN open_account ELSE NULL END, \
     version = version + 1 WHERE id = $1 AND signin_id = $2 AND version = $18 RETURNING version";
/// The open alarm of account `$1` (raised since migration 0005).
pub const OPEN_ALARM_OF: &str = concat!("SELECT ", alarm_columns!(), " FROM alarms WHERE open_account = $1");
/// Records a sign-in an alarm stands for (`$1` key, `$2` alarm, `$3` at, `$4` ip, `$5` app,
/// `$6` succeeded); the key is unique.
pub const INSERT_ALARM_SIGNIN: &str = "INSERT INTO alarm_signins (signin_id, alarm_id, signed_in_at, ip, app, \
     succeeded) VALUES ($1, $2, $3, $4, $5, $6)";
/// Whether sign-in `$1` is already known (recorded for an alarm, or an alarm's first).
pub const SIGNIN_KNOWN: &str = "SELECT CASE WHEN EXISTS (SELECT 1 FROM alarm_signins WHERE signin_id = $1) \
     OR EXISTS (SELECT 1 FROM alarms WHERE signin_id = $1) THEN 1 ELSE 0 END";
/// One alarm by id.
pub const ALARM_BY_ID: &str = concat!("SELECT ", alarm_columns!(), " FROM alarms WHERE id = $1");
/// Unacknowledged alarms whose next page is due at `$1`, soonest first, at most `$2`.
pub const DUE_ALARM_PAGES: &str = concat!(
    "SELECT ",
    alarm_columns!(),
    " FROM alarms WHERE acknowledged_at IS NULL AND next_page_at <= $1 ORDER BY next_page_at, id LIMIT $2"
);
/// The poller's cursor for account `$1`.
pub const SIGNIN_CURSOR: &str = "SELECT last_seen_at FROM signin_cursor WHERE account = $1";
/// Moves the cursor of `$1` to `$2`, only forwards.
pub const UPSERT_SIGNIN_CURSOR: &str = "INSERT INTO signin_cursor (account, last_seen_at) VALUES ($1, $2) \
     ON CONFLICT (account) DO UPDATE SET last_seen_at = excluded.last_seen_at \
     WHERE signin_cursor.last_seen_at < excluded.last_seen_at";

/// The checkpoint of the highest position.
pub const LATEST_CHECKPOINT: &str =
    "SELECT seq, link, at, public_key, signature FROM audit_checkpoints ORDER BY seq DESC LIMIT 1";
/// Records a checkpoint (`$1` seq, `$2` link, `$3` at, `$4` public key, `$5` signature); a
/// position already checkpointed is left alone.
pub const INSERT_CHECKPOINT: &str = "INSERT INTO audit_checkpoints (seq, link, at, public_key, signature) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (seq) DO NOTHING";
/// Checkpoints after `$1` up to `$2`, at most `$3`, in order.
pub const CHECKPOINTS_BETWEEN: &str = "SELECT seq, link, at, public_key, signature FROM audit_checkpoints \
     WHERE seq > $1 AND seq <= $2 ORDER BY seq LIMIT $3";
/// Creates a sink's cursor at the start of the trail (`$1` name) unless it exists.
pub const ENSURE_SINK: &str = "INSERT INTO audit_sinks (name) VALUES ($1) ON CONFLICT (name) DO NOTHING";
/// Leases sink `$1` until `$3` when it is due at `$2` and free; returns the cursor.
pub const CLAIM_SINK: &str = "UPDATE audit_sinks SET leased_until = $3 WHERE name = $1 \
     AND (due_at IS NULL OR due_at <= $2) AND (leased_until IS NULL OR leased_until < $2) \
     RETURNING name, event_seq, checkpoint_seq, attempts, last_error";
/// Moves sink `$1` to event `$2` and checkpoint `$3`, clearing retries and the lease.
pub const ADVANCE_SINK: &str = "UPDATE audit_sinks SET event_seq = $2, checkpoint_seq = $3, due_at = NULL, \
     attempts = 0, last_error = NULL, leased_until = NULL WHERE name = $1";
/// Puts sink `$1` off until `$2` with error `$3`, releasing the lease.
pub const POSTPONE_SINK: &str = "UPDATE audit_sinks SET due_at = $2, attempts = attempts + 1, \
     last_error = $3, leased_until = NULL WHERE name = $1";

#[cfg(test)]
#[path = "queries_tests.rs"]
mod tests;
