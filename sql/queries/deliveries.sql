-- Reminder deliveries on every channel (issue #12). An occurrence fans out into one row per
-- channel target; each row is claimed, sent and recorded on its own (see
-- taskly/reminders/engine.py for the lease design).

-- name: fan-out-occurrence(id, worker, occurrence_at, next_fire_at, email, message_id, now)!
-- One statement, only while this instance holds the reminder: a delivery row per channel target
-- (email unless reminder mail is off; each push subscription the reminder names, or all of the
-- owner's; each Apprise service it names, the owner's only), an older occurrence's rows that are
-- still waiting (held or backing off, not being sent) are dropped for this newer one, and the
-- rule moves on. A repeat of the same occurrence (another instance after a lease ran out) adds
-- nothing: the unique (reminder, occurrence, channel, target) index.
WITH owned AS (
    SELECT * FROM reminders WHERE id = :id AND claimed_by = :worker
), targets (channel, push_subscription_id, notify_service_id) AS (
    SELECT 'email', NULL::bigint, NULL::bigint FROM owned o WHERE o.by_email AND :email
    UNION
    SELECT 'push', ps.id, NULL FROM owned o
      JOIN push_subscriptions ps ON ps.user_id = o.user_id
     WHERE o.all_devices
        OR EXISTS (SELECT 1 FROM reminder_targets rt
                    WHERE rt.reminder_id = o.id AND rt.push_subscription_id = ps.id)
    UNION
    SELECT 'apprise', NULL, ns.id FROM owned o
      JOIN reminder_targets rt ON rt.reminder_id = o.id
      JOIN notify_services ns ON ns.id = rt.notify_service_id AND ns.user_id = o.user_id
), fanned AS (
    INSERT INTO deliveries (reminder_id, task_id, user_id, occurrence_at, channel,
                            push_subscription_id, notify_service_id, message_id, retry_at)
    SELECT o.id, o.task_id, o.user_id, :occurrence_at, t.channel, t.push_subscription_id,
           t.notify_service_id, CASE WHEN t.channel = 'email' THEN :message_id END, :now
      FROM owned o CROSS JOIN targets t
    ON CONFLICT DO NOTHING
), superseded AS (
    UPDATE deliveries
       SET state = 'skipped', last_error = 'superseded by a later occurrence'
     WHERE reminder_id = :id AND state = 'pending' AND occurrence_at < :occurrence_at
       AND (claimed_until IS NULL OR claimed_until < now())
       AND EXISTS (SELECT 1 FROM owned)
)
UPDATE reminders
   SET next_fire_at = :next_fire_at,
       state = CASE WHEN :next_fire_at::timestamptz IS NULL THEN 'finished' ELSE 'active' END,
       attempts = 0, last_error = NULL, retry_at = NULL,
       claimed_by = NULL, claimed_until = NULL
 WHERE id = :id AND claimed_by = :worker;

-- name: claim-deliveries(channel, worker, now, lease_seconds, batch)
-- Up to :batch pending rows of one channel that nobody holds, leased to :worker (like the
-- outbox). Each channel has its own lanes, so a slow push service never delays mail.
WITH due AS (
    SELECT id FROM deliveries
     WHERE state = 'pending' AND channel = :channel AND retry_at <= :now
       AND (claimed_until IS NULL OR claimed_until < now())
     ORDER BY retry_at
     LIMIT :batch
       FOR UPDATE SKIP LOCKED
)
UPDATE deliveries d
   SET claimed_by = :worker, claimed_until = now() + make_interval(secs => :lease_seconds)
  FROM due
 WHERE d.id = due.id
RETURNING d.id;

-- name: select-delivery-jobs(ids)
-- Everything a send needs, for a claimed batch, oldest first. The task, the reminder, the
-- subscription or the service may be gone by now: the engine then skips the row.
SELECT d.id, d.channel, d.reminder_id, d.occurrence_at, d.message_id, d.attempts,
       d.push_subscription_id, d.notify_service_id, d.user_id,
       t.id AS task_id, t.title, t.notes, t.status, t.due_at, t.due_all_day, t.deleted_at,
       u.email, u.first_name, u.time_zone, u.locale,
       u.email_verified_at IS NOT NULL AS verified,
       ps.endpoint, ps.p256dh, ps.auth,
       ns.label AS service_label, ns.scheme AS service_scheme, ns.url_sealed
  FROM deliveries d
  JOIN users u ON u.id = d.user_id
  LEFT JOIN tasks t ON t.id = d.task_id AND t.user_id = d.user_id
  LEFT JOIN push_subscriptions ps ON ps.id = d.push_subscription_id AND ps.user_id = d.user_id
  LEFT JOIN notify_services ns ON ns.id = d.notify_service_id AND ns.user_id = d.user_id
 WHERE d.id = ANY(:ids)
 ORDER BY d.retry_at, d.id;

-- name: finish-delivery(id, worker, late)!
UPDATE deliveries
   SET state = 'sent', sent_at = now(), late = :late, last_error = NULL,
       claimed_by = NULL, claimed_until = NULL
 WHERE id = :id AND claimed_by = :worker;

-- name: retry-delivery(id, worker, retry_at, error)!
UPDATE deliveries
   SET attempts = attempts + 1, retry_at = :retry_at, last_error = :error,
       claimed_by = NULL, claimed_until = NULL
 WHERE id = :id AND claimed_by = :worker;

-- name: hold-delivery(id, worker, retry_at, error)!
-- Not sent and not an attempt (mail to an unverified address, or today's ceiling reached).
UPDATE deliveries
   SET retry_at = :retry_at, last_error = :error, claimed_by = NULL, claimed_until = NULL
 WHERE id = :id AND claimed_by = :worker;

-- name: fail-delivery(id, worker, error)!
UPDATE deliveries
   SET state = 'failed', attempts = attempts + 1, last_error = :error,
       claimed_by = NULL, claimed_until = NULL
 WHERE id = :id AND claimed_by = :worker;

-- name: skip-delivery(id, worker, error)!
-- Nothing to send any more: the task was done or deleted, the reminder removed, or it is too late.
UPDATE deliveries
   SET state = 'skipped', last_error = :error, claimed_by = NULL, claimed_until = NULL
 WHERE id = :id AND claimed_by = :worker;

-- name: release-deliveries(ids, worker)!
UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL
 WHERE id = ANY(:ids) AND claimed_by = :worker;

-- name: release-delivery-claims(worker)!
UPDATE deliveries SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = :worker;

-- ---- channel choice (the Remind me form, Settings → Notifications) --------------------------

-- name: select-channel-defaults(user_id)^
SELECT remind_by_email, remind_this_device, remind_all_devices FROM users WHERE id = :user_id;

-- name: update-channel-defaults(user_id, by_email, this_device, all_devices, service_ids)!
WITH services AS (
    UPDATE notify_services SET remind_by_default = (id = ANY(:service_ids::bigint[]))
     WHERE user_id = :user_id
)
UPDATE users
   SET remind_by_email = :by_email, remind_this_device = :this_device,
       remind_all_devices = :all_devices
 WHERE id = :user_id;

-- name: select-user-services(user_id)
-- The user's Apprise services, for the channel checkboxes (never the sealed URL).
SELECT id, label, scheme, masked, remind_by_default
  FROM notify_services WHERE user_id = :user_id ORDER BY label, id;

-- name: select-push-subscription-id(user_id, endpoint)$
-- "This device": the browser submitting a form names its own subscription by its endpoint.
SELECT id FROM push_subscriptions WHERE user_id = :user_id AND endpoint = :endpoint;

-- name: select-owned-subscription-ids(user_id, ids)
SELECT id FROM push_subscriptions WHERE user_id = :user_id AND id = ANY(:ids::bigint[]);

-- name: select-owned-service-ids(user_id, ids)
SELECT id FROM notify_services WHERE user_id = :user_id AND id = ANY(:ids::bigint[]);

-- name: select-task-channels(task_id, user_id)^
-- What the task's current reminders are sent by (the form shows it checked).
SELECT bool_or(r.by_email) AS by_email, bool_or(r.all_devices) AS all_devices,
       coalesce(array_agg(DISTINCT rt.push_subscription_id)
                FILTER (WHERE rt.push_subscription_id IS NOT NULL), '{}') AS devices,
       coalesce(array_agg(DISTINCT rt.notify_service_id)
                FILTER (WHERE rt.notify_service_id IS NOT NULL), '{}') AS services
  FROM reminders r
  LEFT JOIN reminder_targets rt ON rt.reminder_id = r.id
 WHERE r.task_id = :task_id AND r.user_id = :user_id AND r.state <> 'finished'
HAVING count(r.id) > 0;

-- name: insert-reminder-target(reminder_id, user_id, push_subscription_id, notify_service_id)!
-- Both the reminder and the target must be the user's.
INSERT INTO reminder_targets (reminder_id, push_subscription_id, notify_service_id)
SELECT :reminder_id, :push_subscription_id, :notify_service_id
 WHERE EXISTS (SELECT 1 FROM reminders WHERE id = :reminder_id AND user_id = :user_id)
   AND (:push_subscription_id::bigint IS NULL
        OR EXISTS (SELECT 1 FROM push_subscriptions
                    WHERE id = :push_subscription_id AND user_id = :user_id))
   AND (:notify_service_id::bigint IS NULL
        OR EXISTS (SELECT 1 FROM notify_services
                    WHERE id = :notify_service_id AND user_id = :user_id))
ON CONFLICT DO NOTHING;

-- name: snooze-task(user_id, task_id, reminder_id, fire_at)$
-- Snooze: a one-off reminder for the same task on the channels of the reminder it came from
-- (the owner's defaults if that one is gone); the task's other rules are left as they are.
WITH source AS (
    SELECT by_email, all_devices FROM reminders WHERE id = :reminder_id AND user_id = :user_id
), snoozed AS (
    INSERT INTO reminders (user_id, task_id, kind, fire_at, next_fire_at, by_email, all_devices)
    SELECT :user_id, :task_id, 'at', :fire_at, :fire_at,
           coalesce((SELECT by_email FROM source), u.remind_by_email),
           coalesce((SELECT all_devices FROM source), u.remind_all_devices)
      FROM users u
     WHERE u.id = :user_id
       AND EXISTS (SELECT 1 FROM tasks WHERE id = :task_id AND user_id = :user_id
                                         AND deleted_at IS NULL AND status <> 'done')
    RETURNING id
), copied AS (
    INSERT INTO reminder_targets (reminder_id, push_subscription_id, notify_service_id)
    SELECT s.id, rt.push_subscription_id, rt.notify_service_id
      FROM snoozed s
      JOIN reminder_targets rt ON rt.reminder_id = :reminder_id
      JOIN reminders r ON r.id = rt.reminder_id AND r.user_id = :user_id
)
SELECT id FROM snoozed;

-- name: delete-old-deliveries(max_age, batch)$
-- Finished deliveries (sent, failed, skipped) older than max_age seconds, up to a batch, oldest
-- first; how many went. Kept whatever their age: a task's latest occurrence (its card's
-- "email failed: ..." line reads it), and any occurrence its reminder has not moved past (so
-- the unique (reminder, occurrence, channel, target) index still stops a second fan-out).
WITH gone AS (
    DELETE FROM deliveries
     WHERE id IN (
        SELECT d.id
          FROM deliveries d
         WHERE d.state <> 'pending'
           AND d.created_at < now() - make_interval(secs => :max_age)
           AND (d.task_id IS NULL
                OR d.occurrence_at < (SELECT max(x.occurrence_at) FROM deliveries x
                                       WHERE x.task_id = d.task_id))
           AND NOT EXISTS (SELECT 1 FROM reminders r
                            WHERE r.id = d.reminder_id
                              AND (r.next_fire_at IS NULL AND r.state = 'active'
                                   OR r.next_fire_at <= d.occurrence_at))
         ORDER BY d.created_at
         LIMIT :batch)
    RETURNING 1
)
SELECT count(*) FROM gone;
