-- Bucket totals kept per statement, not per row. A 50,000-row import updated one user's counts
-- row 50,000 times in one transaction; each update had to walk the row's growing chain of
-- versions (none can be pruned while the transaction is open): 41 s. With transition tables a
-- statement adds its rows' counts in one upsert per user, whatever the number of rows.

DROP TRIGGER task_counts_insert ON tasks;
DROP TRIGGER task_counts_delete ON tasks;
DROP TRIGGER task_counts_update ON tasks;
DROP FUNCTION task_counts_trigger();
DROP FUNCTION task_counts_add(bigint, text, integer);

-- Adds per-user deltas (live tasks by status) to task_counts. A user being deleted (its tasks
-- go by cascade) has no counts to keep: its row is gone, and inserting one would break the key.
CREATE FUNCTION task_counts_apply(deltas jsonb) RETURNS void LANGUAGE sql AS $$
    INSERT INTO task_counts AS c (user_id, todo, doing, done)
    SELECT (d ->> 'user_id')::bigint, (d ->> 'todo')::int, (d ->> 'doing')::int,
           (d ->> 'done')::int
      FROM jsonb_array_elements(deltas) AS d
     WHERE EXISTS (SELECT 1 FROM users u WHERE u.id = (d ->> 'user_id')::bigint)
    ON CONFLICT (user_id) DO UPDATE
       SET todo = c.todo + excluded.todo,
           doing = c.doing + excluded.doing,
           done = c.done + excluded.done;
$$;

CREATE FUNCTION task_counts_after_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM task_counts_apply(coalesce(jsonb_agg(d), '[]'))
       FROM (SELECT user_id,
                    count(*) FILTER (WHERE status = 'todo') AS todo,
                    count(*) FILTER (WHERE status = 'doing') AS doing,
                    count(*) FILTER (WHERE status = 'done') AS done
               FROM new_rows WHERE deleted_at IS NULL GROUP BY user_id) AS d;
    RETURN NULL;
END
$$;

CREATE FUNCTION task_counts_after_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM task_counts_apply(coalesce(jsonb_agg(d), '[]'))
       FROM (SELECT user_id,
                    -count(*) FILTER (WHERE status = 'todo') AS todo,
                    -count(*) FILTER (WHERE status = 'doing') AS doing,
                    -count(*) FILTER (WHERE status = 'done') AS done
               FROM old_rows WHERE deleted_at IS NULL GROUP BY user_id) AS d;
    RETURN NULL;
END
$$;

CREATE FUNCTION task_counts_after_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM task_counts_apply(coalesce(jsonb_agg(d), '[]'))
       FROM (SELECT n.user_id,
                    sum((n.deleted_at IS NULL AND n.status = 'todo')::int
                        - (o.deleted_at IS NULL AND o.status = 'todo')::int) AS todo,
                    sum((n.deleted_at IS NULL AND n.status = 'doing')::int
                        - (o.deleted_at IS NULL AND o.status = 'doing')::int) AS doing,
                    sum((n.deleted_at IS NULL AND n.status = 'done')::int
                        - (o.deleted_at IS NULL AND o.status = 'done')::int) AS done
               FROM old_rows o JOIN new_rows n ON n.id = o.id
              WHERE o.status IS DISTINCT FROM n.status
                 OR (o.deleted_at IS NULL) <> (n.deleted_at IS NULL)
              GROUP BY n.user_id) AS d;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_after_insert();
CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_after_delete();
CREATE TRIGGER task_counts_update AFTER UPDATE ON tasks
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION task_counts_after_update();
