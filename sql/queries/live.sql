-- The live board (issue #13). See sql/migrations/0012_live.sql for how changes are numbered.

-- name: select-live-changes(user_id, since)
-- The user's current change number, and what changed after :since (none: a NULL seq). One
-- statement, so the number and the changes are read from the same snapshot.
SELECT u.change_seq, c.seq, c.task_id
  FROM users u
  LEFT JOIN live_changes c ON c.user_id = u.id AND c.seq > :since
 WHERE u.id = :user_id
 ORDER BY c.seq, c.task_id;

-- name: select-live-cards(user_id, ids, search, filter, now, day_start, day_end)
-- The cards among :ids as the board renders them, and whether the board shows each (`shown`:
-- live and matching its search and filter, the same conditions as select-board). One not
-- shown leaves the page; its version tells the page whether what it shows is newer still.
SELECT t.*,
       t.deleted_at IS NULL
       AND (:search = '' OR t.title ILIKE '%' || :search || '%' ESCAPE '\'
                         OR t.notes ILIKE '%' || :search || '%' ESCAPE '\')
       AND (:filter = ''
            OR (:filter = 'overdue' AND t.status <> 'done' AND t.due_at < :now)
            OR (:filter = 'today' AND t.due_at >= :day_start AND t.due_at < :day_end))
       AS shown
  FROM task_cards t
 WHERE t.user_id = :user_id AND t.id = ANY(:ids)
 ORDER BY t.position, t.id;

-- name: select-session-expiry(token_hash, idle_seconds, absolute_seconds)$
-- When this session ends if nothing else happens (idle or absolute timeout); NULL if it has.
SELECT least(s.last_seen_at + make_interval(secs => :idle_seconds),
             s.created_at + make_interval(secs => :absolute_seconds))
  FROM sessions s
 WHERE s.token_hash = :token_hash
   AND s.last_seen_at > now() - make_interval(secs => :idle_seconds)
   AND s.created_at > now() - make_interval(secs => :absolute_seconds);

-- name: delete-old-live-changes()!
DELETE FROM live_changes WHERE changed_at < now() - interval '1 day';
