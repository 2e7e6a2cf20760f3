-- name: select-export-profile(user_id)^
SELECT first_name, last_name, email, time_zone, locale, email_verified_at, created_at,
       reminders_enabled, remind_by_email, remind_all_devices
  FROM users WHERE id = :user_id;

-- name: select-export-tasks(user_id, after_id, page)
-- One page of the export, by id: a 100,000-task export never sits in memory at once, and no
-- connection is held while the client reads.
SELECT id, title, notes, status, priority, due_at, due_all_day, created_at, updated_at,
       completed_at
  FROM tasks
 WHERE user_id = :user_id AND deleted_at IS NULL AND id > :after_id
 ORDER BY id
 LIMIT :page;

-- name: select-export-reminders(user_id, task_ids)
-- With where each goes: by email, to all devices, to particular devices (their browsers'
-- user agents) and Apprise services (their labels; the URLs are secrets and stay out).
SELECT r.task_id, r.kind, r.fire_at, r.lead_minutes, r.repeat, r.repeat_time, r.repeat_day,
       r.next_fire_at, r.state, r.by_email, r.all_devices,
       array(SELECT ps.user_agent
               FROM reminder_targets rt JOIN push_subscriptions ps ON ps.id = rt.push_subscription_id
              WHERE rt.reminder_id = r.id ORDER BY ps.id) AS devices,
       array(SELECT ns.label
               FROM reminder_targets rt JOIN notify_services ns ON ns.id = rt.notify_service_id
              WHERE rt.reminder_id = r.id ORDER BY ns.label) AS services
  FROM reminders r
 WHERE r.user_id = :user_id AND r.task_id = ANY(:task_ids)
 ORDER BY r.id;

-- name: insert-pending-import(id, user_id, filename, content)!
-- One pending import per account: a new upload replaces the one not confirmed.
WITH replaced AS (DELETE FROM pending_imports WHERE user_id = :user_id)
INSERT INTO pending_imports (id, user_id, filename, content)
VALUES (:id, :user_id, :filename, :content);

-- name: select-pending-import(id, user_id)^
SELECT filename, content FROM pending_imports
 WHERE id = :id AND user_id = :user_id AND created_at > now() - interval '1 day';

-- name: delete-pending-import(id, user_id)$
DELETE FROM pending_imports WHERE id = :id AND user_id = :user_id RETURNING true;

-- name: delete-old-pending-imports()!
DELETE FROM pending_imports WHERE created_at < now() - interval '1 day';

-- name: import-tasks(user_id, titles, notes, statuses, priorities, due_ats, due_all_days, completed_ats)$
-- Every valid row of a file in one statement (one transaction): all or nothing. They go below
-- the tasks already there, in the file's order.
WITH base AS (
    SELECT coalesce(max(position), 0) AS position FROM tasks WHERE user_id = :user_id
), added AS (
    INSERT INTO tasks (user_id, title, notes, status, priority, due_at, due_all_day,
                       completed_at, position)
    SELECT :user_id, r.title, r.notes, r.status, r.priority, r.due_at, r.due_all_day,
           r.completed_at, base.position + r.n
      FROM base,
           unnest(:titles::text[], :notes::text[], :statuses::text[], :priorities::smallint[],
                  :due_ats::timestamptz[], :due_all_days::boolean[], :completed_ats::timestamptz[])
           WITH ORDINALITY AS r(title, notes, status, priority, due_at, due_all_day,
                                completed_at, n)
    RETURNING 1
)
SELECT count(*) FROM added;
