-- Break-glass alarms and the sign-in poller's cursor, PostgreSQL dialect.
-- Keep in step with migrations/sqlite/0002_break_glass.sql.

CREATE TABLE alarms (
    id              TEXT        PRIMARY KEY,
    -- Dedupe key of the sign-in (`signin:<id>` or `hash:<sha256>`): a retried webhook delivery,
    -- a Resolved notification or the poller seeing the same sign-in never raises a second alarm.
    signin_id       TEXT        NOT NULL UNIQUE,
    account_upn     TEXT        NOT NULL,
    signed_in_at    TIMESTAMPTZ NOT NULL,
    raised_at       TIMESTAMPTZ NOT NULL,
    ip              TEXT,
    location        TEXT,
    app             TEXT,
    client          TEXT,
    ca_status       TEXT,
    succeeded       BOOLEAN     NOT NULL DEFAULT TRUE,
    severity        TEXT        NOT NULL DEFAULT 'high' CHECK (severity IN ('high', 'medium')),
    acknowledged_by TEXT,
    acknowledged_at TIMESTAMPTZ,
    reason          TEXT,
    next_page_at    TIMESTAMPTZ,
    pages           INTEGER     NOT NULL DEFAULT 1,
    version         BIGINT      NOT NULL DEFAULT 1
);
CREATE INDEX alarms_due_pages ON alarms (next_page_at) WHERE acknowledged_at IS NULL;

-- Per break-glass account: the newest sign-in time the Graph poller has seen.
CREATE TABLE signin_cursor (
    account      TEXT        PRIMARY KEY,
    last_seen_at TIMESTAMPTZ NOT NULL
);
