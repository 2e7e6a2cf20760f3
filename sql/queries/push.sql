-- name: select-vapid-keys()^
SELECT private_key, created_at FROM vapid_keys;

-- name: insert-vapid-keys(private_key)!
-- The first process to need the key pair makes it; one that lost the race keeps nothing of its
-- own and reads the winner's (the insert waits for a concurrent one to commit).
INSERT INTO vapid_keys (private_key) VALUES (:private_key) ON CONFLICT DO NOTHING;
