-- Outbox claims walk pending rows in id order and stop at the batch size. With only the
-- (due_at, id) index, a planner that believed few rows were pending fetched every due row and
-- sorted it: 270 ms per claim with 50,000 rows waiting, so the dispatcher fell behind. Rows in
-- retry backoff are few and are skipped on the walk; nothing else used the due_at index.
CREATE INDEX outbox_pending_id ON outbox (id) WHERE state = 'pending';
DROP INDEX outbox_pending_due;
