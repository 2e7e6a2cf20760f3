-- name: insert-user(email, first_name, last_name, password_hash, time_zone)<!
INSERT INTO users (email, first_name, last_name, password_hash, time_zone)
VALUES (:email, :first_name, :last_name, :password_hash, :time_zone)
RETURNING id, email, first_name, last_name, time_zone, created_at;

-- name: select-user-by-email(email)^
SELECT id, email, first_name, last_name, time_zone, password_hash
  FROM users
 WHERE lower(email) = lower(:email);

-- name: select-password-hash(user_id)$
SELECT password_hash FROM users WHERE id = :user_id;

-- name: update-password-hash(password_hash, user_id)!
UPDATE users SET password_hash = :password_hash WHERE id = :user_id;

-- name: update-password(password_hash, user_id)!
UPDATE users
   SET password_hash = :password_hash, password_changed_at = now()
 WHERE id = :user_id;

-- name: select-reminders-enabled(user_id)$
SELECT reminders_enabled FROM users WHERE id = :user_id;

-- name: update-user-preferences(user_id, time_zone, reminders_enabled)!
UPDATE users SET time_zone = :time_zone, reminders_enabled = :reminders_enabled
 WHERE id = :user_id;
