-- name: insert-account-token(token_hash, user_id, purpose, email, ttl_seconds)!
INSERT INTO account_tokens (token_hash, user_id, purpose, email, created_at, expires_at)
VALUES (:token_hash, :user_id, :purpose, :email, clock_timestamp(),
        clock_timestamp() + make_interval(secs => :ttl_seconds));

-- name: use-account-token(token_hash, purpose)^
-- Spend a token: its own purpose only, once, before it expires, and only if the password has
-- not changed since it was issued. One statement, so two clicks cannot both spend it.
UPDATE account_tokens t
   SET used_at = now()
  FROM users u
 WHERE t.token_hash = :token_hash AND t.purpose = :purpose
   AND t.used_at IS NULL AND t.expires_at > now()
   AND u.id = t.user_id AND t.created_at >= u.password_changed_at
RETURNING t.user_id, t.email;

-- name: peek-account-token(token_hash, purpose)^
-- What a link would do, without spending it (the page a GET shows).
SELECT t.user_id, t.email, t.used_at IS NOT NULL AS used, t.expires_at <= now() AS expired,
       t.created_at < u.password_changed_at AS superseded
  FROM account_tokens t JOIN users u ON u.id = t.user_id
 WHERE t.token_hash = :token_hash AND t.purpose = :purpose;

-- name: delete-old-account-tokens()!
DELETE FROM account_tokens WHERE expires_at < now() - interval '1 day';
