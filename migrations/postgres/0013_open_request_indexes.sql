-- The acknowledgement path reads only open rows, whatever a person's history: a person's open
-- requests (at most one per role) and a grant's active request (superseded ones stay behind).
-- Before these, both searches read every request the person or the grant ever had.
CREATE INDEX requests_open_by_requester ON requests (requester, created_at DESC, id DESC)
WHERE state IN ('awaiting_mfa', 'pending', 'approved', 'active');
CREATE INDEX requests_active_of_grant ON requests (grant_id, created_at, id) WHERE state = 'active';
