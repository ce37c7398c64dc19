-- The keyed audit chain, its signed checkpoints and the sinks' cursors, SQLite dialect.
-- Keep in step with migrations/postgres/0007_keyed_audit.sql.

-- Id of the key whose HMAC made the record's link. Records written before this migration keep
-- '' (the first format: plain SHA-256); the first keyed record links to the last of them, so
-- the keyed segment commits to the old head.
ALTER TABLE audit_events ADD COLUMN key_id TEXT NOT NULL DEFAULT '';

-- Checkpoints pimbot signed and published: (seq, link, time) of the chain, Ed25519-signed.
-- The copies that matter are the ones the sinks carried out of the database; these rows only
-- say which were made, so replicas do not sign the same position twice.
CREATE TABLE audit_checkpoints (
    seq        BIGINT PRIMARY KEY NOT NULL,
    link       TEXT   NOT NULL,
    at         TEXT   NOT NULL,
    public_key TEXT   NOT NULL,
    signature  TEXT   NOT NULL
);

-- Per configured sink: the last event and checkpoint delivered, and the retry schedule. The
-- audit table itself is the queue; a lease keeps two replicas from feeding one sink at once.
CREATE TABLE audit_sinks (
    name           TEXT    PRIMARY KEY NOT NULL,
    event_seq      BIGINT  NOT NULL DEFAULT 0,
    checkpoint_seq BIGINT  NOT NULL DEFAULT 0,
    due_at         TEXT,
    attempts       INTEGER NOT NULL DEFAULT 0,
    last_error     TEXT,
    leased_until   TEXT
);
