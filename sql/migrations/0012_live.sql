-- The live board (issue #13): every committed change to a user's tasks (or to the reminders a
-- card shows) gets the next number of that user's change sequence, is logged for catch-up, and
-- is announced with NOTIFY. Each Taskly process LISTENs on one connection and tells the
-- browsers it streams to; a browser that reconnects asks for what changed since the last
-- number it saw (Last-Event-ID).
--
-- The numbers are given at COMMIT (deferred constraint triggers), under the lock of the user's
-- row, so one user's numbers follow commit order: a browser that has seen number n has seen
-- every change numbered below n. Taking that lock only at commit, when the transaction has
-- nothing else left to wait for, adds no lock-order deadlock with the row locks actions take.
-- NOTIFY payloads carry ids, never content: "<user id> <seq> <task id>".

ALTER TABLE users ADD COLUMN change_seq bigint NOT NULL DEFAULT 0;

-- What each numbered change touched: the task ids, or task id 0 when one transaction changed
-- more than 100 of the user's tasks (an import, a bucket renumbered): then browsers reload the
-- board instead of fetching cards one by one. Pruned after a day by the housekeeping sweep; a
-- browser asking for numbers no longer here reloads the board.
CREATE TABLE live_changes (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    seq        bigint NOT NULL,
    task_id    bigint NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, seq, task_id)
);

CREATE FUNCTION live_note(row_user bigint, row_task bigint) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    setting text;
    number  bigint;
    touched integer;
BEGIN
    -- One number per user per transaction, kept in a transaction-local setting with the count
    -- of tasks announced under it.
    setting := current_setting('taskly.live_' || row_user, true);
    IF setting IS NULL OR setting = '' THEN
        UPDATE users SET change_seq = change_seq + 1 WHERE id = row_user
        RETURNING change_seq INTO number;
        IF NOT FOUND THEN
            RETURN;  -- the account itself is being deleted
        END IF;
        touched := 0;
    ELSE
        number := split_part(setting, ' ', 1)::bigint;
        touched := split_part(setting, ' ', 2)::integer;
    END IF;
    touched := touched + 1;
    PERFORM set_config('taskly.live_' || row_user, number || ' ' || touched, true);
    IF touched <= 100 THEN
        INSERT INTO live_changes (user_id, seq, task_id) VALUES (row_user, number, row_task)
        ON CONFLICT DO NOTHING;
        PERFORM pg_notify('taskly_live', row_user || ' ' || number || ' ' || row_task);
    ELSIF touched = 101 THEN
        INSERT INTO live_changes (user_id, seq, task_id) VALUES (row_user, number, 0)
        ON CONFLICT DO NOTHING;
        PERFORM pg_notify('taskly_live', row_user || ' ' || number || ' 0');
    END IF;
END
$$;

CREATE FUNCTION live_task_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM live_note(OLD.user_id, OLD.id);
    ELSE
        PERFORM live_note(NEW.user_id, NEW.id);
    END IF;
    RETURN NULL;
END
$$;

CREATE FUNCTION live_reminder_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        PERFORM live_note(OLD.user_id, OLD.task_id);
    ELSE
        PERFORM live_note(NEW.user_id, NEW.task_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER live_tasks_insert AFTER INSERT OR DELETE ON tasks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION live_task_changed();
CREATE CONSTRAINT TRIGGER live_tasks_update AFTER UPDATE ON tasks
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.* IS DISTINCT FROM NEW.*) EXECUTE FUNCTION live_task_changed();
-- A card shows its next reminder and a failed one; the engine's claims and leases do not count.
CREATE CONSTRAINT TRIGGER live_reminders_insert AFTER INSERT OR DELETE ON reminders
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION live_reminder_changed();
CREATE CONSTRAINT TRIGGER live_reminders_update AFTER UPDATE ON reminders
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (OLD.next_fire_at IS DISTINCT FROM NEW.next_fire_at
          OR OLD.state IS DISTINCT FROM NEW.state
          OR OLD.last_error IS DISTINCT FROM NEW.last_error)
    EXECUTE FUNCTION live_reminder_changed();

-- A delivery that fails shows on its card ("email failed: ..."), so it is a change too.
CREATE FUNCTION live_delivery_failed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM live_note(NEW.user_id, NEW.task_id);
    RETURN NULL;
END
$$;
CREATE CONSTRAINT TRIGGER live_delivery_failed AFTER UPDATE ON deliveries
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
    WHEN (NEW.state = 'failed' AND OLD.state <> 'failed' AND NEW.task_id IS NOT NULL)
    EXECUTE FUNCTION live_delivery_failed();

-- A session that ends (logout, "sign out other devices", a password change, expiry, account
-- deletion) is announced, so its live streams close at once on every instance, and every
-- process's session cache (taskly/auth/cache.py) drops it.
CREATE FUNCTION live_sessions_ended() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('taskly_sessions', encode(token_hash, 'hex')) FROM old_rows;
    RETURN NULL;
END
$$;

CREATE TRIGGER live_sessions_ended AFTER DELETE ON sessions
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION live_sessions_ended();
-- A session moved back in time (only ever by an operator, or a test) may have expired.
CREATE FUNCTION live_session_aged() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('taskly_sessions', encode(NEW.token_hash, 'hex'));
    RETURN NULL;
END
$$;
CREATE TRIGGER live_session_aged AFTER UPDATE ON sessions FOR EACH ROW
    WHEN (NEW.last_seen_at < OLD.last_seen_at OR NEW.created_at <> OLD.created_at)
    EXECUTE FUNCTION live_session_aged();

-- What the session query returns about a user changed (a profile, the address or its
-- verification, the mail sent today): per-process session caches drop that user's entries.
CREATE FUNCTION live_mail_budget_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('taskly_users', NEW.user_id::text);
    RETURN NULL;
END
$$;
CREATE FUNCTION live_user_row_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('taskly_users', NEW.id::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER live_user_changed AFTER UPDATE ON users FOR EACH ROW
    WHEN ((OLD.email, OLD.first_name, OLD.last_name, OLD.time_zone, OLD.locale,
           OLD.email_verified_at, OLD.avatar_digest)
          IS DISTINCT FROM
          (NEW.email, NEW.first_name, NEW.last_name, NEW.time_zone, NEW.locale,
           NEW.email_verified_at, NEW.avatar_digest))
    EXECUTE FUNCTION live_user_row_changed();
CREATE TRIGGER live_mail_budget_changed AFTER INSERT OR UPDATE ON mail_budget FOR EACH ROW
    EXECUTE FUNCTION live_mail_budget_changed();

-- A card as the board shows it: the task with its next reminder, the channels the bell names
-- and the latest failures. select-task and the live board's select-live-cards read it (the
-- board's page query keeps its own copy of the joins inside its per-bucket LIMIT).
CREATE VIEW task_cards AS
SELECT t.*, rem.next_reminder_at, rem.reminder_channels,
       coalesce(rem.reminder_error, sent.reminder_error) AS reminder_error
  FROM tasks t
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
  ) sent ON true;
