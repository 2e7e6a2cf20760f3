-- name: select-vapid-keys()^
SELECT private_key, created_at FROM vapid_keys;

-- name: insert-vapid-keys(private_key)!
-- The first process to need the key pair makes it; one that lost the race keeps nothing of its
-- own and reads the winner's (the insert waits for a concurrent one to commit).
INSERT INTO vapid_keys (private_key) VALUES (:private_key) ON CONFLICT DO NOTHING;

-- name: save-push-subscription(user_id, endpoint, p256dh, auth, user_agent)^
-- "Notify this device": a browser subscribing again (new keys, same endpoint) replaces its row.
INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth, user_agent)
VALUES (:user_id, :endpoint, :p256dh, :auth, :user_agent)
ON CONFLICT (user_id, endpoint) DO UPDATE
   SET p256dh = excluded.p256dh, auth = excluded.auth, user_agent = excluded.user_agent,
       last_error = NULL
RETURNING id;

-- name: count-push-subscriptions(user_id)$
SELECT count(*) FROM push_subscriptions WHERE user_id = :user_id;

-- name: select-push-subscriptions(user_id)
SELECT id, endpoint, p256dh, auth, user_agent, created_at, last_success_at, last_error
  FROM push_subscriptions
 WHERE user_id = :user_id
 ORDER BY created_at DESC, id DESC;

-- name: select-push-subscription(id, user_id)^
SELECT id, endpoint, p256dh, auth, user_agent, created_at, last_success_at, last_error
  FROM push_subscriptions
 WHERE id = :id AND user_id = :user_id;

-- name: delete-push-subscription(id, user_id)$
DELETE FROM push_subscriptions WHERE id = :id AND user_id = :user_id RETURNING id;

-- name: record-push-result(id, user_id, error)!
-- After a send: a success clears the last error; a failure keeps the last success.
UPDATE push_subscriptions
   SET last_success_at = CASE WHEN :error::text IS NULL THEN now() ELSE last_success_at END,
       last_error = :error
 WHERE id = :id AND user_id = :user_id;
