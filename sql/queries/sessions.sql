-- name: insert-session(token_hash, user_id, user_agent)!
INSERT INTO sessions (token_hash, user_id, user_agent)
VALUES (:token_hash, :user_id, :user_agent);

-- name: select-session-user(token_hash, idle_seconds, absolute_seconds)^
-- The session and its user in one round trip, only while within both timeouts.
SELECT u.id, u.email, u.first_name, u.last_name, u.time_zone, s.last_seen_at
  FROM sessions s
  JOIN users u ON u.id = s.user_id
 WHERE s.token_hash = :token_hash
   AND s.last_seen_at > now() - make_interval(secs => :idle_seconds)
   AND s.created_at > now() - make_interval(secs => :absolute_seconds);

-- name: touch-session(token_hash)!
UPDATE sessions SET last_seen_at = now() WHERE token_hash = :token_hash;

-- name: delete-session(token_hash)!
DELETE FROM sessions WHERE token_hash = :token_hash;

-- name: delete-other-sessions(user_id, token_hash)!
DELETE FROM sessions WHERE user_id = :user_id AND token_hash <> :token_hash;

-- name: delete-expired-sessions(idle_seconds, absolute_seconds)!
DELETE FROM sessions
 WHERE last_seen_at <= now() - make_interval(secs => :idle_seconds)
    OR created_at <= now() - make_interval(secs => :absolute_seconds);

-- name: ping()$
SELECT 1;
