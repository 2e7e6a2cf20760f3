-- name: insert-user(email, email_key, first_name, last_name, password_hash, time_zone, locale)^
-- Nothing is returned when the address is taken: the caller answers both cases the same way.
INSERT INTO users (email, email_key, first_name, last_name, password_hash, time_zone, locale)
VALUES (:email, :email_key, :first_name, :last_name, :password_hash, :time_zone, :locale)
ON CONFLICT (email_key) DO NOTHING
RETURNING id, email, first_name, last_name, time_zone, locale, email_verified_at;

-- name: select-user-by-email-key(email_key)^
SELECT id, email, first_name, last_name, time_zone, locale, password_hash, email_verified_at
  FROM users
 WHERE email_key = :email_key;

-- name: select-user(user_id)^
SELECT id, email, first_name, last_name, time_zone, locale, email_verified_at
  FROM users WHERE id = :user_id;

-- name: select-password-hash(user_id)$
SELECT password_hash FROM users WHERE id = :user_id;

-- name: update-password-hash(password_hash, user_id)!
UPDATE users SET password_hash = :password_hash WHERE id = :user_id;

-- name: update-password(password_hash, user_id)!
-- A new password also ends every mailed account link issued before it.
UPDATE users
   SET password_hash = :password_hash, password_changed_at = clock_timestamp()
 WHERE id = :user_id;

-- name: mark-email-verified(user_id, email)$
-- Only while the address is still the one the link was sent to.
UPDATE users SET email_verified_at = coalesce(email_verified_at, now())
 WHERE id = :user_id AND email = :email
RETURNING first_name;

-- name: release-held-mail(user_id)!
-- Verified: what was held for the address goes out now (each reminder once, marked late).
WITH reminders_held AS (
    UPDATE deliveries SET retry_at = now(), last_error = NULL
     WHERE user_id = :user_id AND state = 'pending' AND last_error LIKE 'held:%'
)
UPDATE outbox SET retry_at = now(), last_error = NULL
 WHERE user_id = :user_id AND state = 'pending' AND last_error LIKE 'held:%';

-- name: select-reminders-enabled(user_id)$
SELECT reminders_enabled FROM users WHERE id = :user_id;

-- name: update-reminders-enabled(user_id, enabled)!
UPDATE users SET reminders_enabled = :enabled WHERE id = :user_id;
