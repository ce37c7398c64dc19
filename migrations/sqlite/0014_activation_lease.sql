-- The activation lease in its own column, SQLite dialect. Keep in step with
-- migrations/postgres/0014_activation_lease.sql.

-- Until when one worker holds an approved request while it makes the grant (set with the
-- compare-and-set claim, cleared when the activation ends). `next_nudge_at` keeps only its own
-- meanings: the next SLA step of a pending request, the scheduled start or the next try of an
-- approved one. The withdrawn-grant sweep waits for this lease, not for `next_nudge_at`.
ALTER TABLE requests ADD COLUMN activation_lease_until TEXT;
-- Activations in flight during the upgrade held their lease in `next_nudge_at`: a request with
-- a grant row still being made keeps it, so neither the sweep nor a second worker steps in.
UPDATE requests SET activation_lease_until = next_nudge_at
WHERE next_nudge_at IS NOT NULL
  AND EXISTS (SELECT 1 FROM grants g WHERE g.request_id = requests.id AND g.granting AND g.ended_at IS NULL);
