-- name: select-account-summary(user_id)^
-- What deleting the account removes, counted for the confirmation page.
SELECT (SELECT count(*) FROM tasks WHERE user_id = :user_id AND deleted_at IS NULL) AS tasks,
       (SELECT count(*) FROM reminders WHERE user_id = :user_id AND state = 'active')
           AS reminders,
       (SELECT count(*) FROM sessions WHERE user_id = :user_id) AS sessions,
       (SELECT count(*) FROM outbox WHERE user_id = :user_id AND state = 'pending')
           AS pending_mail,
       EXISTS (SELECT 1 FROM avatars WHERE user_id = :user_id) AS picture;

-- name: delete-account(user_id, email, email_digest)^
-- Every row of the account in one statement: the user (its tasks, reminders, deliveries,
-- sessions, picture, tokens, pending mail and imports, counts go with it by cascade), and what
-- is keyed by its id or address rather than referencing it.
WITH limits AS (
    DELETE FROM rate_limits
     WHERE key LIKE '%:user:' || (:user_id::bigint)::text OR key LIKE '%:email:' || :email_digest
), caught AS (
    DELETE FROM dev_mail WHERE lower(rcpt_to) = lower(:email)
)
DELETE FROM users WHERE id = :user_id::bigint RETURNING email, first_name;
