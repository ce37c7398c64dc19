-- Scheduled starts, SQLite dialect. Keep in step with migrations/postgres/0010_scheduled_start.sql.

-- When the grant of an approved request may be made (`/pim activate <role> <duration> at <time>`);
-- NULL = as soon as it is approved. Until then the request waits `approved` with
-- `next_nudge_at` = `starts_at`, so the activation sweep and its compare-and-set claim never make
-- the grant early, and the grant ends at `starts_at` + duration.
ALTER TABLE requests ADD COLUMN starts_at TEXT;
