-- name: insert-session(token_hash, user_id, user_agent)!
INSERT INTO sessions (token_hash, user_id, user_agent)
VALUES (:token_hash, :user_id, :user_agent);

-- name: select-session-user(token_hash, idle_seconds, absolute_seconds)^
-- The session and its user in one round trip, only while within both timeouts; with the mail
-- sent to the account today (its local day), for the banner at the daily ceiling.
SELECT u.id, u.email, u.first_name, u.last_name, u.time_zone, u.locale, u.email_verified_at,
       u.avatar_digest, u.change_seq, coalesce(b.used, 0) AS mail_used_today, s.last_seen_at,
       s.created_at
  FROM sessions s
  JOIN users u ON u.id = s.user_id
  LEFT JOIN mail_budget b ON b.user_id = u.id AND b.day = (now() AT TIME ZONE u.time_zone)::date
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

-- name: select-user-sessions(user_id, idle_seconds, absolute_seconds)
-- The devices list: the account's live sessions, most recently used first.
SELECT id, token_hash, user_agent, created_at, last_seen_at
  FROM sessions
 WHERE user_id = :user_id
   AND last_seen_at > now() - make_interval(secs => :idle_seconds)
   AND created_at > now() - make_interval(secs => :absolute_seconds)
 ORDER BY last_seen_at DESC, id DESC;

-- name: delete-user-session(id, user_id)$
DELETE FROM sessions WHERE id = :id AND user_id = :user_id RETURNING token_hash;
