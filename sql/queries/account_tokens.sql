-- name: insert-account-token(token_hash, user_id, purpose, email, ttl_seconds)!
INSERT INTO account_tokens (token_hash, user_id, purpose, email, created_at, expires_at)
SELECT :token_hash, :user_id, :purpose, :email, t, t + make_interval(secs => :ttl_seconds)
  FROM clock_timestamp() AS t;

-- name: use-account-token(token_hash, purpose)^
-- Spend a token: its own purpose only, once, before it expires, and only while the password
-- has not changed since it was issued and the account still has the address the link was
-- mailed to (a reset link sent to an old inbox must die with the address). One statement, so
-- two clicks cannot both spend it.
UPDATE account_tokens t
   SET used_at = now()
  FROM users u
 WHERE t.token_hash = :token_hash AND t.purpose = :purpose
   AND t.used_at IS NULL AND t.expires_at > now()
   AND u.id = t.user_id AND t.created_at >= u.password_changed_at AND t.email = u.email
RETURNING t.user_id, t.email;

-- name: peek-account-token(token_hash, purpose)^
-- What a link would do, without spending it (the page a GET shows).
SELECT t.user_id, t.email, t.used_at IS NOT NULL AS used, t.expires_at <= now() AS expired,
       (t.created_at < u.password_changed_at OR t.email <> u.email) AS superseded
  FROM account_tokens t JOIN users u ON u.id = t.user_id
 WHERE t.token_hash = :token_hash AND t.purpose = :purpose;

-- name: delete-old-account-tokens()!
DELETE FROM account_tokens WHERE expires_at < now() - interval '1 day';

-- name: request-password-reset(email_key, token_hash, ttl_seconds, message_id, context)!
-- Forgot password, in one statement whatever the address: for an account it replaces any
-- pending reset mail, issues a token and queues the mail; for no account it does nothing, along
-- the very same path (no enumeration by timing: the caller runs exactly this either way).
WITH target AS (
    SELECT id, email FROM users WHERE email_key = :email_key
), replaced AS (
    DELETE FROM outbox o USING target
     WHERE o.user_id = target.id AND o.coalesce_key = 'reset_password' AND o.state = 'pending'
       AND (o.claimed_until IS NULL OR o.claimed_until < now())
), issued AS (
    INSERT INTO account_tokens (token_hash, user_id, purpose, email, created_at, expires_at)
    SELECT :token_hash, id, 'reset_password', email, t, t + make_interval(secs => :ttl_seconds)
      FROM target, clock_timestamp() AS t
)
INSERT INTO outbox (user_id, template, context, message_id, coalesce_key, recipient)
SELECT id, 'reset_password', :context, :message_id, 'reset_password', email FROM target;

-- name: end-all-sessions(user_id)!
DELETE FROM sessions WHERE user_id = :user_id;

-- name: verify-email-by-link(user_id, email)!
-- A reset link that arrived proves the inbox too.
UPDATE users SET email_verified_at = coalesce(email_verified_at, now())
 WHERE id = :user_id AND email = :email;

-- name: insert-change-email-token(token_hash, user_id, email, new_email, ttl_seconds)!
INSERT INTO account_tokens (token_hash, user_id, purpose, email, new_email, created_at,
                            expires_at)
SELECT :token_hash, :user_id, 'change_email', :email, :new_email, t,
       t + make_interval(secs => :ttl_seconds)
  FROM clock_timestamp() AS t;

-- name: select-change-email-token(token_hash)^
SELECT t.user_id, t.email, t.new_email, u.first_name
  FROM account_tokens t JOIN users u ON u.id = t.user_id
 WHERE t.token_hash = :token_hash AND t.purpose = 'change_email';

-- name: email-key-taken(email_key)$
SELECT EXISTS (SELECT 1 FROM users WHERE email_key = :email_key);

-- name: change-email(user_id, old_email, new_email, new_email_key)$
-- Only while the account still has the address the change was asked from; the new address is
-- confirmed by the very link that makes the change.
UPDATE users SET email = :new_email, email_key = :new_email_key, email_verified_at = now()
 WHERE id = :user_id AND email = :old_email
RETURNING id;
