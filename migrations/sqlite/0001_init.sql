-- pimbot schema, SQLite dialect. Keep in step with migrations/postgres/0001_init.sql.
-- Timestamps are TEXT written by sqlx's chrono encoding (RFC 3339, UTC); they are always bound
-- from Rust, never produced by SQLite's own clock, so string order is time order.

CREATE TABLE requests (
    id            TEXT    PRIMARY KEY NOT NULL,
    requester     TEXT    NOT NULL,
    role          TEXT    NOT NULL,
    duration_secs BIGINT  NOT NULL,
    justification TEXT    NOT NULL,
    ticket        TEXT,
    state         TEXT    NOT NULL,
    version       BIGINT  NOT NULL DEFAULT 1,
    origin        TEXT    NOT NULL,
    created_at    TEXT    NOT NULL,
    decided_at    TEXT,
    decided_by    TEXT,
    reason        TEXT,
    nudge_stage   TEXT    NOT NULL DEFAULT 'none',
    next_nudge_at TEXT,
    grant_id      TEXT
);
CREATE INDEX requests_due_nudges ON requests (state, next_nudge_at);
CREATE INDEX requests_requester ON requests (requester, created_at);
CREATE INDEX requests_grant ON requests (grant_id);

CREATE TABLE approvals (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT    NOT NULL REFERENCES requests (id),
    approver   TEXT    NOT NULL,
    at         TEXT    NOT NULL,
    UNIQUE (request_id, approver)
);

CREATE TABLE grants (
    id         TEXT   PRIMARY KEY NOT NULL,
    request_id TEXT   NOT NULL REFERENCES requests (id),
    person     TEXT   NOT NULL,
    role       TEXT   NOT NULL,
    starts_at  TEXT   NOT NULL,
    ends_at    TEXT   NOT NULL,
    ended_at   TEXT,
    end_reason TEXT,
    version    BIGINT NOT NULL DEFAULT 1
);
-- At most one open grant per person and role: a second insert is a conflict, not a duplicate.
CREATE UNIQUE INDEX grants_one_open ON grants (person, role) WHERE ended_at IS NULL;
CREATE INDEX grants_open_ends_at ON grants (ends_at) WHERE ended_at IS NULL;

CREATE TABLE audit_events (
    seq        BIGINT PRIMARY KEY NOT NULL,
    at         TEXT   NOT NULL,
    actor_kind TEXT   NOT NULL,
    actor      TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    request_id TEXT,
    role       TEXT,
    detail     TEXT   NOT NULL,
    prev_hash  TEXT   NOT NULL,
    hash       TEXT   NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at);

-- The chain's head, one row. Appends lock and move it, so they are serialized, and a deleted
-- tail record shows as a head that points past the last row.
CREATE TABLE audit_head (
    id        INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    last_seq  BIGINT  NOT NULL DEFAULT 0,
    last_hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, last_seq, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE outbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    platform      TEXT    NOT NULL,
    order_key     TEXT    NOT NULL,
    message       TEXT    NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'rejected')),
    due_at        TEXT    NOT NULL,
    claimed_until TEXT,
    attempts      INTEGER NOT NULL DEFAULT 0,
    last_error    TEXT,
    created_at    TEXT    NOT NULL,
    delivered_at  TEXT
);
CREATE INDEX outbox_pending_due ON outbox (due_at, id) WHERE state = 'pending';
CREATE INDEX outbox_pending_order ON outbox (platform, order_key, id) WHERE state = 'pending';

CREATE TABLE posted_refs (
    platform   TEXT NOT NULL,
    ref_key    TEXT NOT NULL,
    channel    TEXT NOT NULL,
    message_id TEXT NOT NULL,
    PRIMARY KEY (platform, ref_key)
);
