-- name: select-rate-limit(key)$
SELECT tat FROM rate_limits WHERE key = :key;

-- name: upsert-rate-limit(key, tat)!
INSERT INTO rate_limits (key, tat) VALUES (:key, :tat)
ON CONFLICT (key) DO UPDATE SET tat = excluded.tat;

-- name: delete-stale-rate-limits()!
DELETE FROM rate_limits WHERE tat < now();
