-- PIM governance: alerts raised (deduplicated per alert and period), access review campaigns
-- and their items, eligibility removed by reviews, and eligibility extensions (/pim renew).
-- PostgreSQL dialect; keep in step with migrations/sqlite/0008_governance.sql.

-- One row per alert and period: the key is unique, so two replicas never raise it twice.
CREATE TABLE alert_log (
    key       TEXT PRIMARY KEY,
    kind      TEXT NOT NULL,
    role      TEXT,
    person    TEXT,
    raised_at TIMESTAMPTZ NOT NULL
);

-- One campaign per review and period.
CREATE TABLE review_campaigns (
    id           TEXT PRIMARY KEY,
    review       TEXT NOT NULL,
    period_start TIMESTAMPTZ NOT NULL,
    deadline     TIMESTAMPTZ NOT NULL,
    started_at   TIMESTAMPTZ NOT NULL,
    completed_at TIMESTAMPTZ,
    UNIQUE (review, period_start)
);

-- One item per eligibility under review; decided once (compare-and-set on version).
CREATE TABLE review_items (
    id               TEXT    PRIMARY KEY,
    campaign_id      TEXT    NOT NULL REFERENCES review_campaigns (id),
    person           TEXT    NOT NULL,
    role             TEXT    NOT NULL,
    reviewers        TEXT    NOT NULL DEFAULT '[]',
    origin           TEXT    NOT NULL DEFAULT 'policy' CHECK (origin IN ('policy', 'directory')),
    default_decision TEXT    NOT NULL DEFAULT 'remove' CHECK (default_decision IN ('keep', 'remove')),
    deadline         TIMESTAMPTZ    NOT NULL,
    nudge_at         TIMESTAMPTZ,
    decision         TEXT    CHECK (decision IN ('keep', 'remove')),
    decided_by       TEXT,
    decided_at       TIMESTAMPTZ,
    applied_at       TIMESTAMPTZ,
    history          TEXT    NOT NULL DEFAULT '',
    version          BIGINT  NOT NULL DEFAULT 1,
    UNIQUE (campaign_id, person, role)
);
CREATE INDEX review_items_unapplied ON review_items (deadline) WHERE applied_at IS NULL;

-- Policy-held eligibility a review removed: not honoured from the moment it is recorded, until
-- the policy file no longer lists it (then the row is forgotten).
CREATE TABLE eligibility_removals (
    person     TEXT NOT NULL,
    role       TEXT NOT NULL,
    removed_at TIMESTAMPTZ NOT NULL,
    item_id    TEXT,
    PRIMARY KEY (person, role)
);

-- /pim renew: a request to extend a time-bound eligibility, decided by the role's approvers.
CREATE TABLE eligibility_extensions (
    id              TEXT   PRIMARY KEY,
    person          TEXT   NOT NULL,
    role            TEXT   NOT NULL,
    current_until   TIMESTAMPTZ,
    requested_until TIMESTAMPTZ   NOT NULL,
    justification   TEXT   NOT NULL DEFAULT '',
    state           TEXT   NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'denied')),
    decided_by      TEXT,
    decided_at      TIMESTAMPTZ,
    created_at      TIMESTAMPTZ   NOT NULL,
    version         BIGINT NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX eligibility_extensions_one_pending ON eligibility_extensions (person, role) WHERE state = 'pending';
