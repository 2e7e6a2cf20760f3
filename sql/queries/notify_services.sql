-- Other notification services through Apprise (issue #12). url_sealed is the user's Apprise URL
-- sealed by taskly/notify/sealed.py; only the masked form is ever shown. Every query is the owner's.

-- name: insert-notify-service(user_id, label, scheme, url_sealed, masked)$
-- A label the user already uses returns no row (the form says so; nothing is written).
INSERT INTO notify_services (user_id, label, scheme, url_sealed, masked)
VALUES (:user_id, :label, :scheme, :url_sealed, :masked)
ON CONFLICT (user_id, label) DO NOTHING
RETURNING id;

-- name: count-notify-services(user_id)$
SELECT count(*) FROM notify_services WHERE user_id = :user_id;

-- name: select-notify-services(user_id)
-- The list on Settings → Notifications: never the sealed URL.
SELECT id, label, scheme, masked, created_at, last_success_at, last_error
  FROM notify_services
 WHERE user_id = :user_id
 ORDER BY lower(label), id;

-- name: select-notify-service(id, user_id)^
-- One service with its sealed URL, for a send (taskly.notify.sealed.unseal with user_id).
SELECT id, user_id, label, scheme, url_sealed, masked, created_at, last_success_at, last_error
  FROM notify_services
 WHERE id = :id AND user_id = :user_id;

-- name: delete-notify-service(id, user_id)$
DELETE FROM notify_services WHERE id = :id AND user_id = :user_id RETURNING id;

-- name: record-notify-service-result(id, user_id, error)!
-- After a send: a success clears the last error; a failure keeps the last success.
UPDATE notify_services
   SET last_success_at = CASE WHEN :error::text IS NULL THEN now() ELSE last_success_at END,
       last_error = :error
 WHERE id = :id AND user_id = :user_id;
