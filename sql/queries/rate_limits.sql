-- name: hit-rate-limit(key, interval_seconds, period_seconds)$
-- GCRA in one atomic statement: take one slot if the bucket has room, else change nothing.
-- Concurrent attempts on one key queue on the row lock, so none is judged on a stale count.
INSERT INTO rate_limits AS r (key, tat)
VALUES (:key, now() + make_interval(secs => :interval_seconds))
ON CONFLICT (key) DO UPDATE
   SET tat = greatest(r.tat, now()) + make_interval(secs => :interval_seconds)
 WHERE greatest(r.tat, now()) + make_interval(secs => :interval_seconds)
       <= now() + make_interval(secs => :period_seconds)
RETURNING true;

-- name: rate-limit-retry-after(key, interval_seconds, period_seconds)$
-- Seconds until the next slot frees up on a full bucket.
SELECT greatest(1, ceil(extract(epoch FROM
         tat + make_interval(secs => :interval_seconds)
         - make_interval(secs => :period_seconds) - now())))::int
  FROM rate_limits WHERE key = :key;

-- name: delete-stale-rate-limits()!
DELETE FROM rate_limits WHERE tat < now();
