-- The live board (issue #13). See sql/migrations/0012_live.sql for how changes are numbered.

-- name: select-live-event(user_id, since, max_cards, search, filter, now, day_start, day_end, week_start, median_sample)
-- A live event in one round trip, all read from one snapshot: the user's current change
-- number; the change numbers after :since and the tasks they touched (NULL: none); the cards
-- among those tasks as the board renders them, unless more than :max_cards changed (one row
-- per card; one row with NULL card columns if none); and the stats strip, on every row.
-- `shown` says whether the board shows a card: live and matching its search and filter, the
-- same conditions as select-board. One not shown leaves the page; its version tells the page
-- whether what it shows is newer still.
WITH changed AS (
    SELECT array_agg(c.seq ORDER BY c.seq) AS seqs, array_agg(DISTINCT c.task_id) AS ids
      FROM live_changes c
     WHERE c.user_id = :user_id AND c.seq > :since)
SELECT u.change_seq, changed.seqs, changed.ids, s.*, t.*,
       t.deleted_at IS NULL
       AND (:search = '' OR t.title ILIKE '%' || :search || '%' ESCAPE '\'
                         OR t.notes ILIKE '%' || :search || '%' ESCAPE '\')
       AND (:filter = ''
            OR (:filter = 'overdue' AND t.status <> 'done' AND t.due_at < :now)
            OR (:filter = 'today' AND t.due_at >= :day_start AND t.due_at < :day_end))
       AS shown
  FROM users u
 CROSS JOIN changed
 CROSS JOIN LATERAL task_stats(u.id, :now, :week_start, :median_sample) s
  LEFT JOIN task_cards t ON t.user_id = u.id AND t.id = ANY(changed.ids)
                        AND cardinality(changed.ids) <= :max_cards
 WHERE u.id = :user_id
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
