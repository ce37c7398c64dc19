-- Delivery that survives crashes and is loud when refused; break-glass alarms that page once
-- per incident. PostgreSQL dialect; keep in step with migrations/sqlite/0005_delivery.sql.

-- Which dispatcher holds a row's claim. Every dispatcher writes a heartbeat; a claim whose
-- dispatcher stopped beating (the process died) may be taken over at once, without waiting for
-- the lease to run out.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
CREATE TABLE dispatchers (
    id      TEXT        PRIMARY KEY,
    seen_at TIMESTAMPTZ NOT NULL
);

-- A row whose claim lapsed without an outcome, or whose last attempt may have reached the
-- platform (a timeout, a dropped connection), is in doubt: before posting it again the sender
-- looks for the message it may already have posted (Slack metadata, Discord nonce).
ALTER TABLE outbox ADD COLUMN in_doubt BOOLEAN NOT NULL DEFAULT FALSE;
-- When the platform refused the row for good (`pimbot outbox status` lists recent ones).
ALTER TABLE outbox ADD COLUMN rejected_at TIMESTAMPTZ;
CREATE INDEX outbox_rejected_at ON outbox (rejected_at) WHERE state = 'rejected';

-- How many sign-ins joined the alarm, and when the first was (NULL: only `signed_in_at`).
ALTER TABLE alarms ADD COLUMN signins INTEGER NOT NULL DEFAULT 1;
ALTER TABLE alarms ADD COLUMN first_signed_in_at TIMESTAMPTZ;
-- The account while the alarm is open (NULL once acknowledged): at most one open alarm per
-- break-glass account, so concurrent webhooks join one alarm instead of raising two.
ALTER TABLE alarms ADD COLUMN open_account TEXT;
CREATE UNIQUE INDEX alarms_one_open_per_account ON alarms (open_account);

-- Every sign-in an alarm stands for, by its dedupe key: a retried webhook or the same sign-in
-- reported by two alert rules counts once.
CREATE TABLE alarm_signins (
    signin_id    TEXT        PRIMARY KEY,
    alarm_id     TEXT        NOT NULL REFERENCES alarms (id),
    signed_in_at TIMESTAMPTZ NOT NULL,
    ip           TEXT,
    app          TEXT,
    succeeded    BOOLEAN     NOT NULL DEFAULT TRUE
);
CREATE INDEX alarm_signins_alarm ON alarm_signins (alarm_id);
