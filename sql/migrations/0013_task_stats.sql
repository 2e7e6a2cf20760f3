-- The stats strip as one inlinable SQL function, so that a statement that also reads other
-- things (the live board's event, sql/queries/live.sql) gets the stats in the same round trip
-- and the same snapshot, from the same definition as select-stats (sql/queries/tasks.sql).
-- Totals come from task_counts (kept by triggers); the rest reads only the rows it counts,
-- through partial indexes. The median covers the latest `median_sample` completions: recent
-- pace, read from the index at a fixed cost however many tasks a user finishes.
CREATE FUNCTION task_stats(uid bigint, as_of timestamptz, week_start timestamptz,
                           median_sample integer)
RETURNS TABLE (todo integer, doing integer, done integer, overdue bigint,
               done_this_week bigint, median_seconds_to_done double precision)
LANGUAGE sql STABLE AS $$
SELECT coalesce(c.todo, 0),
       coalesce(c.doing, 0),
       coalesce(c.done, 0),
       (SELECT count(*) FROM tasks
         WHERE user_id = uid AND deleted_at IS NULL AND status <> 'done'
           AND due_at IS NOT NULL AND due_at < as_of),
       (SELECT count(*) FROM tasks
         WHERE user_id = uid AND deleted_at IS NULL AND completed_at IS NOT NULL
           AND completed_at >= week_start),
       (SELECT percentile_cont(0.5) WITHIN GROUP (
                   ORDER BY extract(epoch FROM completed_at - created_at))
          FROM (SELECT completed_at, created_at FROM tasks
                 WHERE user_id = uid AND deleted_at IS NULL AND completed_at IS NOT NULL
                 ORDER BY completed_at DESC
                 LIMIT median_sample) recent)::double precision
  FROM (SELECT uid AS user_id) me
  LEFT JOIN task_counts c ON c.user_id = me.user_id
$$;
