-- name: cancel-pending-outbox(user_id, coalesce_key)
-- A newer message about the same thing replaces one not yet sent (and not being sent).
DELETE FROM outbox
 WHERE user_id = :user_id AND coalesce_key = :coalesce_key AND state = 'pending'
   AND (claimed_until IS NULL OR claimed_until < now())
RETURNING template;

-- name: insert-outbox(user_id, task_id, template, context, message_id, coalesce_key, recipient, first_name, delay_seconds)!
INSERT INTO outbox (user_id, task_id, template, context, message_id, coalesce_key, recipient,
                    first_name, retry_at)
VALUES (:user_id, :task_id, :template, :context, :message_id, :coalesce_key, :recipient,
        :first_name, now() + make_interval(secs => :delay_seconds));

-- name: claim-outbox(worker, now, lease_seconds, batch)
-- A row without a user is mail that outlived its account (the goodbye): it carries its own
-- recipient and name.
WITH due AS (
    SELECT id FROM outbox
     WHERE state = 'pending' AND retry_at <= :now
       AND (claimed_until IS NULL OR claimed_until < now())
     ORDER BY retry_at
     LIMIT :batch
       FOR UPDATE SKIP LOCKED
), claimed AS (
    UPDATE outbox o
       SET claimed_by = :worker, claimed_until = now() + make_interval(secs => :lease_seconds)
      FROM due
     WHERE o.id = due.id
    RETURNING o.*
)
SELECT c.id, c.user_id, c.template, c.context, c.message_id, c.attempts,
       coalesce(c.recipient, u.email) AS email, coalesce(c.first_name, u.first_name) AS first_name,
       coalesce(u.time_zone, 'UTC') AS time_zone, coalesce(u.locale, 'en-GB') AS locale,
       (u.id IS NULL OR u.email_verified_at IS NOT NULL) AS verified,
       (c.recipient IS NULL OR c.recipient = u.email OR c.user_id IS NULL) AS to_account
  FROM claimed c LEFT JOIN users u ON u.id = c.user_id;

-- name: finish-outbox(id, worker)!
-- Sent: the context (which may hold a single-use link) is not kept, and mail that outlived
-- its account (the goodbye) is not kept at all: no row may name a deleted account.
WITH gone AS (
    DELETE FROM outbox WHERE id = :id AND claimed_by = :worker AND user_id IS NULL
)
UPDATE outbox SET state = 'sent', sent_at = now(), context = '{}', claimed_by = NULL,
       claimed_until = NULL
 WHERE id = :id AND claimed_by = :worker AND user_id IS NOT NULL;

-- name: retry-outbox(id, worker, retry_at, error)!
UPDATE outbox
   SET attempts = attempts + 1, retry_at = :retry_at, last_error = :error,
       claimed_by = NULL, claimed_until = NULL
 WHERE id = :id AND claimed_by = :worker;

-- name: hold-outbox(id, worker, retry_at, error)!
-- Not sent, not an attempt: the address is unverified or today's ceiling is reached.
UPDATE outbox
   SET retry_at = :retry_at, last_error = :error, claimed_by = NULL, claimed_until = NULL
 WHERE id = :id AND claimed_by = :worker;

-- name: fail-outbox(id, worker, error)!
-- Given up: mail that outlived its account (a bounced goodbye) keeps no row at all.
WITH gone AS (
    DELETE FROM outbox WHERE id = :id AND claimed_by = :worker AND user_id IS NULL
)
UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = :error,
       context = '{}', claimed_by = NULL, claimed_until = NULL
 WHERE id = :id AND claimed_by = :worker AND user_id IS NOT NULL;

-- name: release-outbox-claims(worker)!
UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE claimed_by = :worker;

-- name: release-outbox(ids, worker)!
UPDATE outbox SET claimed_by = NULL, claimed_until = NULL
 WHERE id = ANY(:ids) AND claimed_by = :worker;

-- name: reserve-mail(user_id, daily_limit, now)$
-- Take one message from the account's ceiling for its local day; NULL when it is used up.
-- Atomic (row lock on conflict), so instances sending side by side never overshoot.
INSERT INTO mail_budget AS b (user_id, day, used)
SELECT :user_id, (:now::timestamptz AT TIME ZONE u.time_zone)::date, 1
  FROM users u WHERE u.id = :user_id
ON CONFLICT (user_id, day) DO UPDATE SET used = b.used + 1
 WHERE :daily_limit <= 0 OR b.used < :daily_limit
RETURNING used;

-- name: reserve-account-mail(user_id, daily_limit, now)$
-- Like reserve-mail, for account mail a stranger can cause; NULL past its own ceiling.
INSERT INTO mail_budget AS b (user_id, day, account_used)
SELECT :user_id, (:now::timestamptz AT TIME ZONE u.time_zone)::date, 1
  FROM users u WHERE u.id = :user_id
ON CONFLICT (user_id, day) DO UPDATE SET account_used = b.account_used + 1
 WHERE b.account_used < :daily_limit
RETURNING account_used;

-- name: refund-mail(user_id, now)!
-- A temporary failure sent nothing: give the slot back.
UPDATE mail_budget b SET used = greatest(0, used - 1)
  FROM users u
 WHERE b.user_id = :user_id AND u.id = b.user_id
   AND b.day = (:now::timestamptz AT TIME ZONE u.time_zone)::date;

-- name: next-local-midnight(user_id, now)$
-- When an account's day (and its mail ceiling) starts again.
SELECT ((date_trunc('day', :now::timestamptz AT TIME ZONE u.time_zone) + interval '1 day')
        AT TIME ZONE u.time_zone)
  FROM users u WHERE u.id = :user_id;
