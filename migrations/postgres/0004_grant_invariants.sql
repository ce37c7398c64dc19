-- Grant invariants, PostgreSQL dialect. Keep in step with migrations/sqlite/0004_grant_invariants.sql.

-- What a grant needs to end itself without the policy: the directory target its assignment was
-- made with. NULL on grants written before this migration; pimbot fills those in from the policy
-- at start and before every policy reload, and falls back to the policy's role.
ALTER TABLE grants ADD COLUMN target_kind TEXT;
ALTER TABLE grants ADD COLUMN target_directory_id TEXT;
ALTER TABLE grants ADD COLUMN target_scope TEXT;
ALTER TABLE grants ADD COLUMN target_principal TEXT;
-- A grant row is written before its directory call and stays `granting` until the directory
-- confirmed the assignment: the directory never holds an assignment pimbot has no row for.
ALTER TABLE grants ADD COLUMN granting BOOLEAN NOT NULL DEFAULT FALSE;
CREATE INDEX grants_granting ON grants (request_id) WHERE ended_at IS NULL AND granting;

-- One open request per person and role. Until now an extension left the request it extended
-- active beside it; the newer request supersedes it (its grant continues). An older pending or
-- approved duplicate (left by racing submissions) is cancelled.
UPDATE requests
SET state = CASE state WHEN 'active' THEN 'superseded' ELSE 'cancelled' END,
    reason = COALESCE(reason, 'superseded by a newer request of the same person and role'),
    next_nudge_at = NULL,
    version = version + 1
WHERE state IN ('awaiting_mfa', 'pending', 'approved', 'active')
  AND EXISTS (
      SELECT 1 FROM requests newer
      WHERE newer.requester = requests.requester
        AND newer.role = requests.role
        AND newer.state IN ('awaiting_mfa', 'pending', 'approved', 'active')
        AND (newer.created_at > requests.created_at
             OR (newer.created_at = requests.created_at AND newer.id > requests.id))
  );
CREATE UNIQUE INDEX requests_one_open ON requests (requester, role)
WHERE state IN ('awaiting_mfa', 'pending', 'approved', 'active');
CREATE INDEX requests_in_flight ON requests (created_at, id) WHERE state IN ('pending', 'approved');

-- Signed requests already handled (Slack signature + timestamp, Slack trigger ids, Discord
-- interaction ids), kept for the signature window: a replay is answered without acting again,
-- whichever replica it reaches.
CREATE TABLE seen_requests (
    key        TEXT PRIMARY KEY,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX seen_requests_expiry ON seen_requests (expires_at);
