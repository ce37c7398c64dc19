-- pimbot schema, PostgreSQL dialect. Keep in step with migrations/sqlite/0001_init.sql.
-- Timestamps are TIMESTAMPTZ, always bound from Rust (never now()), so both stores agree on time.
-- Audit details are TEXT, not JSONB: the hash covers the exact serialized text.

CREATE TABLE requests (
    id            TEXT        PRIMARY KEY,
    requester     TEXT        NOT NULL,
    role          TEXT        NOT NULL,
    duration_secs BIGINT      NOT NULL,
    justification TEXT        NOT NULL,
    ticket        TEXT,
    state         TEXT        NOT NULL,
    version       BIGINT      NOT NULL DEFAULT 1,
    origin        TEXT        NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL,
    decided_at    TIMESTAMPTZ,
    decided_by    TEXT,
    reason        TEXT,
    nudge_stage   TEXT        NOT NULL DEFAULT 'none',
    next_nudge_at TIMESTAMPTZ,
    grant_id      TEXT
);
CREATE INDEX requests_due_nudges ON requests (state, next_nudge_at);
CREATE INDEX requests_requester ON requests (requester, created_at);
CREATE INDEX requests_grant ON requests (grant_id);

CREATE TABLE approvals (
    id         BIGSERIAL   PRIMARY KEY,
    request_id TEXT        NOT NULL REFERENCES requests (id),
    approver   TEXT        NOT NULL,
    at         TIMESTAMPTZ NOT NULL,
    UNIQUE (request_id, approver)
);

CREATE TABLE grants (
    id         TEXT        PRIMARY KEY,
    request_id TEXT        NOT NULL REFERENCES requests (id),
    person     TEXT        NOT NULL,
    role       TEXT        NOT NULL,
    starts_at  TIMESTAMPTZ NOT NULL,
    ends_at    TIMESTAMPTZ NOT NULL,
    ended_at   TIMESTAMPTZ,
    end_reason TEXT,
    version    BIGINT      NOT NULL DEFAULT 1
);
-- At most one open grant per person and role: a second insert is a conflict, not a duplicate.
CREATE UNIQUE INDEX grants_one_open ON grants (person, role) WHERE ended_at IS NULL;
CREATE INDEX grants_open_ends_at ON grants (ends_at) WHERE ended_at IS NULL;

CREATE TABLE audit_events (
    seq        BIGINT      PRIMARY KEY,
    at         TIMESTAMPTZ NOT NULL,
    actor_kind TEXT        NOT NULL,
    actor      TEXT        NOT NULL,
    kind       TEXT        NOT NULL,
    request_id TEXT,
    role       TEXT,
    detail     TEXT        NOT NULL,
    prev_hash  TEXT        NOT NULL,
    hash       TEXT        NOT NULL
);
CREATE INDEX audit_events_at ON audit_events (at);

-- The chain's head, one row. Appends lock it (FOR UPDATE) and move it, so they are serialized,
-- and a deleted tail record shows as a head that points past the last row.
CREATE TABLE audit_head (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    last_seq  BIGINT  NOT NULL DEFAULT 0,
    last_hash TEXT    NOT NULL
);
INSERT INTO audit_head (id, last_seq, last_hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE outbox (
    id            BIGSERIAL   PRIMARY KEY,
    platform      TEXT        NOT NULL,
    order_key     TEXT        NOT NULL,
    message       TEXT        NOT NULL,
    state         TEXT        NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'rejected')),
    due_at        TIMESTAMPTZ NOT NULL,
    claimed_until TIMESTAMPTZ,
    attempts      INTEGER     NOT NULL DEFAULT 0,
    last_error    TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    delivered_at  TIMESTAMPTZ
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
