-- The stats strip and bucket counts are sent with every fragment. Counting a user's tasks on
-- each request costs O(tasks); these make it O(1) for the bucket totals (kept by triggers, in
-- the same transaction as the change) and O(matching rows) for the rest (partial indexes).

CREATE TABLE task_counts (
    user_id bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    todo    integer NOT NULL DEFAULT 0,
    doing   integer NOT NULL DEFAULT 0,
    done    integer NOT NULL DEFAULT 0
);

INSERT INTO task_counts (user_id, todo, doing, done)
SELECT user_id,
       count(*) FILTER (WHERE status = 'todo'),
       count(*) FILTER (WHERE status = 'doing'),
       count(*) FILTER (WHERE status = 'done')
  FROM tasks
 WHERE deleted_at IS NULL
 GROUP BY user_id;

-- Adds (sign = 1) or removes (sign = -1) one live task of a status from its owner's counts.
CREATE FUNCTION task_counts_add(owner bigint, task_status text, sign integer) RETURNS void
LANGUAGE sql AS $$
    INSERT INTO task_counts (user_id, todo, doing, done)
    VALUES (owner, sign * (task_status = 'todo')::int, sign * (task_status = 'doing')::int,
            sign * (task_status = 'done')::int)
    ON CONFLICT (user_id) DO UPDATE
       SET todo = task_counts.todo + excluded.todo,
           doing = task_counts.doing + excluded.doing,
           done = task_counts.done + excluded.done;
$$;

CREATE FUNCTION task_counts_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.deleted_at IS NULL THEN
        PERFORM task_counts_add(OLD.user_id, OLD.status, -1);
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.deleted_at IS NULL THEN
        PERFORM task_counts_add(NEW.user_id, NEW.status, 1);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks
    FOR EACH ROW EXECUTE FUNCTION task_counts_trigger();
CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks
    FOR EACH ROW EXECUTE FUNCTION task_counts_trigger();
CREATE TRIGGER task_counts_update AFTER UPDATE OF status, deleted_at ON tasks
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
    EXECUTE FUNCTION task_counts_trigger();

-- Overdue: only open tasks with a due date are indexed, so the count reads just those.
CREATE INDEX tasks_open_due_idx ON tasks (user_id, due_at)
    WHERE deleted_at IS NULL AND status <> 'done' AND due_at IS NOT NULL;
-- Done this week / median time to done: recent completions only.
CREATE INDEX tasks_completed_idx ON tasks (user_id, completed_at)
    WHERE deleted_at IS NULL AND completed_at IS NOT NULL;
