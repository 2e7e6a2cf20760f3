-- name: select-board(user_id, search, filter, statuses, now, day_start, day_end, after_position, after_id, page_size)
-- One page of each bucket in :statuses, in board order (position, then id), searched and
-- filtered: at most :page_size + 1 cards per bucket (the extra one says "there is more"),
-- starting after the card (:after_position, :after_id). Each bucket is one range read of
-- tasks_board_idx, so the cost follows the page, not how many tasks the user has.
-- The reminder columns repeat the task_cards view's (sql/migrations/0012_live.sql) on purpose:
-- selecting the page from the view instead made the board read every card of the bucket
-- before the LIMIT (10,000 tasks: p50 5.5x the 200-task board's, against 1.1x this way).
-- The search and the filter are CASEs, not `:search = '' OR ...`, for the plan PostgreSQL
-- caches: asyncpg prepares the statement once per connection and, from the sixth run, the
-- server may keep a generic plan, one made without the values. An OR of unknown equalities
-- looks as if it kept one card in a hundred, so that plan read the whole bucket and sorted it
-- (8 ms at 10,000 tasks against 3 ms); a CASE counts as keeping half, and the plan walks the
-- bucket in board order and stops after the page.
SELECT t.*, rem.next_reminder_at, rem.reminder_channels,
       coalesce(rem.reminder_error, sent.reminder_error) AS reminder_error
  FROM unnest(:statuses::text[]) AS b(status)
  CROSS JOIN LATERAL (
      SELECT * FROM tasks t
       WHERE t.user_id = :user_id AND t.deleted_at IS NULL AND t.status = b.status
         AND (t.position, t.id) > (:after_position, :after_id)
         AND CASE WHEN :search = '' THEN true
                  ELSE t.title ILIKE '%' || :search || '%' ESCAPE '\'
                       OR t.notes ILIKE '%' || :search || '%' ESCAPE '\' END
         AND CASE :filter WHEN '' THEN true
                  WHEN 'overdue' THEN t.status <> 'done' AND t.due_at < :now
                  WHEN 'today' THEN t.due_at >= :day_start AND t.due_at < :day_end
                  ELSE false END
       ORDER BY t.position, t.id
       LIMIT :page_size + 1
  ) t
  LEFT JOIN LATERAL (
      SELECT min(r.next_fire_at) FILTER (WHERE r.state = 'active') AS next_reminder_at,
             'failed: ' || max(r.last_error) FILTER (WHERE r.state = 'failed') AS reminder_error,
             -- What the bell says: 'email', 'device' (a particular one), 'devices' (all),
             -- 'service:<label>' for each Apprise service; for the active reminders.
             (SELECT array_agg(DISTINCT c ORDER BY c)
                FROM reminders a
                CROSS JOIN LATERAL (
                    SELECT 'email' WHERE a.by_email
                    UNION ALL SELECT 'devices' WHERE a.all_devices
                    UNION ALL
                    SELECT CASE WHEN rt.push_subscription_id IS NOT NULL THEN 'device'
                                ELSE 'service:' || ns.label END
                      FROM reminder_targets rt
                      LEFT JOIN notify_services ns ON ns.id = rt.notify_service_id
                     WHERE rt.reminder_id = a.id
                ) ch (c)
               WHERE a.task_id = t.id AND a.state = 'active') AS reminder_channels
        FROM reminders r WHERE r.task_id = t.id
  ) rem ON true
  -- The latest occurrence's failures, per channel ("email failed: 550 ...").
  LEFT JOIN LATERAL (
      SELECT string_agg(d.channel || ' failed: ' || d.last_error, '; ' ORDER BY d.channel)
             AS reminder_error
        FROM deliveries d
       WHERE d.task_id = t.id AND d.state = 'failed'
         AND d.occurrence_at = (SELECT max(x.occurrence_at) FROM deliveries x
                                 WHERE x.task_id = t.id)
  ) sent ON true
 ORDER BY t.position, t.id;

-- name: count-matches(user_id, search, filter, now, day_start, day_end)
-- While searching: how many cards of each bucket match ("3 of 12").
SELECT status, count(*) AS matches
  FROM tasks t
 WHERE t.user_id = :user_id AND t.deleted_at IS NULL
   AND (:search = '' OR t.title ILIKE '%' || :search || '%' ESCAPE '\'
                     OR t.notes ILIKE '%' || :search || '%' ESCAPE '\')
   AND (:filter = ''
        OR (:filter = 'overdue' AND t.status <> 'done' AND t.due_at < :now)
        OR (:filter = 'today' AND t.due_at >= :day_start AND t.due_at < :day_end))
 GROUP BY status;

-- name: lock-task(id, user_id)^
SELECT id, status, position, completed_at, version FROM tasks
 WHERE id = :id AND user_id = :user_id AND deleted_at IS NULL
   FOR UPDATE;

-- name: card-position(id, user_id, status)$
SELECT position FROM tasks
 WHERE id = :id AND user_id = :user_id AND status = :status AND deleted_at IS NULL;

-- name: position-after(user_id, status, after_position, after_id, moving_id)$
-- The position of the first card after (:after_position, :after_id), the moving card aside.
SELECT position FROM tasks
 WHERE user_id = :user_id AND status = :status AND deleted_at IS NULL AND id <> :moving_id
   AND (position, id) > (:after_position, :after_id)
 ORDER BY position, id
 LIMIT 1;

-- name: position-before(user_id, status, position, id)$
-- The id of the card right before (:position, :id) in its bucket (NULL at the top).
SELECT id FROM tasks
 WHERE user_id = :user_id AND status = :status AND deleted_at IS NULL
   AND (position, id) < (:position, :id)
 ORDER BY position DESC, id DESC
 LIMIT 1;

-- name: place-task(id, user_id, status, position)^
-- A dropped card: into :status at :position; completed is set entering Done, cleared leaving.
UPDATE tasks
   SET status = :status, position = :position,
       completed_at = CASE WHEN :status <> 'done' THEN NULL
                           WHEN status = 'done' THEN completed_at ELSE now() END,
       version = version + 1, updated_at = now()
 WHERE id = :id AND user_id = :user_id AND deleted_at IS NULL
RETURNING *;

-- name: select-stats(user_id, now, week_start, median_sample)^
-- The stats strip and the bucket totals (sql/migrations/0013_task_stats.sql).
SELECT * FROM task_stats(:user_id, :now, :week_start, :median_sample);

-- name: select-task(id, user_id)^
SELECT * FROM task_cards t WHERE t.id = :id AND t.user_id = :user_id AND t.deleted_at IS NULL;

-- name: insert-task(user_id, title, notes, priority, due_at, due_all_day, submission)^
-- New tasks go on top of To do. A submission id seen before inserts nothing (no row back).
INSERT INTO tasks (user_id, title, notes, priority, due_at, due_all_day, position, submission)
VALUES (:user_id, :title, :notes, :priority, :due_at, :due_all_day,
        coalesce((SELECT min(position) FROM tasks
                   WHERE user_id = :user_id AND status = 'todo' AND deleted_at IS NULL), 0) - 1,
        :submission)
ON CONFLICT (user_id, submission) DO NOTHING
RETURNING *;

-- name: select-task-by-submission(user_id, submission)^
-- The task an earlier copy of the same create form made (a separate statement, so it sees a
-- copy that committed while this one waited on it).
SELECT * FROM tasks WHERE user_id = :user_id AND submission = :submission;

-- name: update-task(id, user_id, version, title, notes, priority, due_at, due_all_day)^
-- Only if nobody changed it since the form was shown (version); else no row.
UPDATE tasks
   SET title = :title, notes = :notes, priority = :priority, due_at = :due_at,
       due_all_day = :due_all_day, version = version + 1, updated_at = now()
 WHERE id = :id AND user_id = :user_id AND version = :version AND deleted_at IS NULL
RETURNING *;

-- name: update-task-status(id, user_id, status)^
-- Moves the task on top of its new bucket; completed is set entering Done, cleared leaving it.
-- Returns the state before the move too (old_*), for Undo. No row if already in that status.
WITH old AS (
    SELECT id, status, position, completed_at FROM tasks
     WHERE id = :id AND user_id = :user_id AND deleted_at IS NULL
       FOR UPDATE
)
UPDATE tasks t
   SET status = :status,
       position = coalesce((SELECT min(o.position) FROM tasks o
                             WHERE o.user_id = :user_id AND o.status = :status
                               AND o.deleted_at IS NULL), 0) - 1,
       completed_at = CASE WHEN :status = 'done' THEN now() END,
       version = t.version + 1, updated_at = now()
  FROM old
 WHERE t.id = old.id AND old.status <> :status
RETURNING t.*, old.status AS old_status, old.position AS old_position,
          old.completed_at AS old_completed_at;

-- name: delete-task(id, user_id)^
UPDATE tasks SET deleted_at = now(), version = version + 1
 WHERE id = :id AND user_id = :user_id AND deleted_at IS NULL
RETURNING *;

-- name: restore-task(id, user_id, status, position, completed_at, version)^
-- Undo: back to exactly the state recorded before the action, if the task is still as the
-- action left it (:version); else no row.
UPDATE tasks
   SET deleted_at = NULL, status = :status, position = :position,
       completed_at = :completed_at, version = version + 1, updated_at = now()
 WHERE id = :id AND user_id = :user_id AND version = :version
RETURNING *;

-- name: task-exists(id, user_id)$
SELECT exists(SELECT 1 FROM tasks WHERE id = :id AND user_id = :user_id);

-- name: swap-task-positions(id, other_id, user_id)$
-- Two cards of one bucket trade places (Shift+J/K); returns how many moved (2, or 0 if either
-- is gone, not the user's, or no longer in the same bucket). The join reads both old
-- positions before either changes.
WITH swapped AS (
    UPDATE tasks t
       SET position = o.position, version = t.version + 1, updated_at = now()
      FROM tasks o
     WHERE ((t.id = :id AND o.id = :other_id) OR (t.id = :other_id AND o.id = :id))
       AND t.user_id = :user_id AND o.user_id = :user_id
       AND t.deleted_at IS NULL AND o.deleted_at IS NULL
       AND t.status = o.status
    RETURNING 1
)
SELECT count(*) FROM swapped;

-- name: swap-with-neighbour(id, other_id, user_id, up)
-- Shift+K / Shift+J naming the card the page shows beside it (board.js sends it): the two
-- trade places if both are the user's, in one bucket, on distinct positions, with the other
-- card on the side the page shows it (above the card for up). Both come back as cards, in
-- their new board order; no rows if any of that is not so (the caller redraws the bucket).
-- FOR UPDATE locks both rows first, so two tabs swapping the same cards take turns and the
-- second reads the positions the first left (READ COMMITTED rechecks the conditions).
WITH pair AS (
    SELECT t.id, t.position AS own, o.id AS other, o.position AS theirs
      FROM tasks t
      JOIN tasks o ON o.id = :other_id AND o.user_id = t.user_id AND o.status = t.status
                  AND o.deleted_at IS NULL AND o.position <> t.position
                  AND ((o.position, o.id) < (t.position, t.id)) = :up
     WHERE t.id = :id AND t.user_id = :user_id AND t.deleted_at IS NULL
       FOR UPDATE
), swapped AS (
    UPDATE tasks t
       SET position = CASE WHEN t.id = pair.id THEN pair.theirs ELSE pair.own END,
           version = t.version + 1, updated_at = now()
      FROM pair
     WHERE t.id IN (pair.id, pair.other)
    RETURNING t.*
)
SELECT s.*, c.next_reminder_at, c.reminder_channels, c.reminder_error
  FROM swapped s
  JOIN task_cards c ON c.id = s.id
 ORDER BY s.position, s.id;

-- name: renumber-bucket(user_id, status)!
-- Positions 1, 2, 3… in the order shown. Cards can share a position (two tabs adding a task
-- at the same instant both take "top - 1"), and swapping equal positions would move nothing.
UPDATE tasks t
   SET position = ranked.rank
  FROM (SELECT id, row_number() OVER (ORDER BY position, id) AS rank
          FROM tasks
         WHERE user_id = :user_id AND status = :status AND deleted_at IS NULL) ranked
 WHERE t.id = ranked.id AND t.position <> ranked.rank;

-- name: purge-deleted-tasks(user_id)!
-- Deleted tasks stay restorable for a day, then go for good.
DELETE FROM tasks
 WHERE user_id = :user_id AND deleted_at < now() - interval '1 day';

-- name: purge-all-deleted-tasks()!
DELETE FROM tasks WHERE deleted_at < now() - interval '1 day';
