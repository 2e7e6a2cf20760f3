-- name: select-task-reminders(task_id, user_id)
SELECT * FROM reminders
 WHERE task_id = :task_id AND user_id = :user_id AND state <> 'finished'
 ORDER BY id;

-- name: delete-task-reminders(task_id, user_id)!
DELETE FROM reminders WHERE task_id = :task_id AND user_id = :user_id;

-- name: insert-reminder(user_id, task_id, kind, fire_at, lead_minutes, repeat, repeat_time, repeat_day, next_fire_at, by_email, all_devices)$
INSERT INTO reminders (user_id, task_id, kind, fire_at, lead_minutes, repeat, repeat_time,
                       repeat_day, next_fire_at, by_email, all_devices, state)
VALUES (:user_id, :task_id, :kind, :fire_at, :lead_minutes, :repeat, :repeat_time,
        :repeat_day, :next_fire_at, :by_email, :all_devices,
        CASE WHEN :next_fire_at::timestamptz IS NULL THEN 'finished' ELSE 'active' END)
RETURNING id;

-- name: claim-due-reminders(worker, now, lease_seconds, batch)
-- Take up to :batch due reminders nobody holds (or whose holder's lease ran out). SKIP LOCKED
-- lets concurrent schedulers take disjoint sets; the lease keeps them disjoint after COMMIT.
WITH due AS (
    SELECT id FROM reminders
     WHERE state = 'active' AND next_fire_at <= :now
       AND (retry_at IS NULL OR retry_at <= :now)
       AND (claimed_until IS NULL OR claimed_until < now())
     ORDER BY next_fire_at
     LIMIT :batch
       FOR UPDATE SKIP LOCKED
)
-- Leases run on the database's clock, shared by every instance (:now, the engine's clock,
-- only decides what is due).
UPDATE reminders r
   SET claimed_by = :worker, claimed_until = now() + make_interval(secs => :lease_seconds)
  FROM due
 WHERE r.id = due.id
RETURNING r.*;

-- name: select-reminder-targets(ids)
-- Everything a message needs, for a batch of claimed reminders, in one query.
SELECT r.id AS reminder_id, t.id AS task_id, t.title, t.notes, t.status, t.due_at,
       t.due_all_day, t.deleted_at, u.id AS user_id, u.email, u.first_name, u.time_zone, u.locale,
       u.reminders_enabled, u.email_verified_at IS NOT NULL AS verified
  FROM reminders r
  JOIN tasks t ON t.id = r.task_id
  JOIN users u ON u.id = r.user_id
 WHERE r.id = ANY(:ids);

-- name: skip-occurrence(id, worker, next_fire_at, state)!
-- Nothing to send (task done or deleted, reminders switched off): advance or stop quietly.
UPDATE reminders
   SET next_fire_at = :next_fire_at, state = :state, claimed_by = NULL, claimed_until = NULL
 WHERE id = :id AND claimed_by = :worker;

-- name: fail-reminder(id, worker, error)!
UPDATE reminders
   SET state = 'failed', attempts = attempts + 1, last_error = :error,
       claimed_by = NULL, claimed_until = NULL
 WHERE id = :id AND claimed_by = :worker;

-- name: release-claims(worker)!
-- Graceful shutdown: hand back what this instance claimed but did not finish.
UPDATE reminders SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = :worker;

-- name: link-was-used(token_hash)$
SELECT EXISTS (SELECT 1 FROM used_links WHERE token_hash = :token_hash);

-- name: insert-used-link(token_hash)$
INSERT INTO used_links (token_hash) VALUES (:token_hash)
ON CONFLICT DO NOTHING
RETURNING true;

-- name: reschedule-due-reminders(task_id, user_id, due_at, now)!
-- The due date changed: lead-time reminders follow it.
UPDATE reminders
   SET next_fire_at = CASE WHEN :due_at::timestamptz - make_interval(mins => lead_minutes) > :now
                           THEN :due_at::timestamptz - make_interval(mins => lead_minutes) END,
       state = CASE WHEN :due_at::timestamptz - make_interval(mins => lead_minutes) > :now
                    THEN 'active' ELSE 'finished' END,
       attempts = 0, retry_at = NULL, last_error = NULL
 WHERE task_id = :task_id AND user_id = :user_id AND kind = 'before_due';

-- name: select-user-repeat-reminders(user_id)
SELECT r.*, t.due_at FROM reminders r JOIN tasks t ON t.id = r.task_id
 WHERE r.user_id = :user_id AND r.state = 'active' AND r.kind = 'repeat';

-- name: update-next-fire(id, next_fire_at)!
UPDATE reminders SET next_fire_at = :next_fire_at WHERE id = :id;

-- name: insert-dev-mail(mail_from, rcpt_to, message)!
INSERT INTO dev_mail (mail_from, rcpt_to, message) VALUES (:mail_from, :rcpt_to, :message);

-- name: select-dev-mail(email)
SELECT * FROM dev_mail WHERE lower(rcpt_to) = lower(:email) ORDER BY id DESC LIMIT 50;

-- name: delete-old-used-links(max_age)!
DELETE FROM used_links WHERE used_at < now() - make_interval(secs => :max_age);

-- name: release-reminders(ids, worker)!
-- Hand back the part of a batch this instance will not send (stopping, or lease running low).
UPDATE reminders SET claimed_by = NULL, claimed_until = NULL
 WHERE id = ANY(:ids) AND claimed_by = :worker;

-- name: select-link-task(task_id, user_id)^
-- The live task a signed mail link names, with its owner's zone and locale (links work without
-- a session).
SELECT t.id, t.title, t.status, u.time_zone, u.locale
  FROM tasks t JOIN users u ON u.id = t.user_id
 WHERE t.id = :task_id AND t.user_id = :user_id AND t.deleted_at IS NULL;

-- name: reminder-exists(id, user_id)$
SELECT EXISTS (SELECT 1 FROM reminders WHERE id = :id AND user_id = :user_id);

-- name: lock-task-reminders(task_id, user_id)!
-- Changing a task's reminders starts here: a second "Save reminders" (a double click, another
-- tab) waits for the first and then sees its rules, instead of both adding theirs.
SELECT 1 FROM tasks WHERE id = :task_id AND user_id = :user_id FOR NO KEY UPDATE;

-- name: delete-old-mail-budget()!
DELETE FROM mail_budget WHERE day < current_date - 2;
