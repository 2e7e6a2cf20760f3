-- Reminders on several channels (issue #12): email, Web Push to one or all of a user's devices,
-- and Apprise services, all through the one exactly-once engine.
--
-- A reminder says where it goes: by_email, all_devices, and reminder_targets (particular push
-- subscriptions and Apprise services). When an occurrence is due the engine claims the reminder
-- and, in one statement, writes one delivery row per channel target and advances the rule. Each
-- delivery row is then a small job of its own, claimed like the outbox (FOR UPDATE SKIP LOCKED
-- and a lease) and sent once, with its own attempts, backoff and last error: a failing push
-- service never holds up the email of the same occurrence.

ALTER TABLE reminders
    ADD COLUMN by_email    boolean NOT NULL DEFAULT true,
    ADD COLUMN all_devices boolean NOT NULL DEFAULT false;

-- Particular targets of a reminder: one push subscription ("this device") or one Apprise service
-- per row. Removing the device or the service removes it from every reminder.
CREATE TABLE reminder_targets (
    reminder_id          bigint NOT NULL REFERENCES reminders (id) ON DELETE CASCADE,
    push_subscription_id bigint REFERENCES push_subscriptions (id) ON DELETE CASCADE,
    notify_service_id    bigint REFERENCES notify_services (id) ON DELETE CASCADE,
    CHECK (num_nonnulls(push_subscription_id, notify_service_id) = 1)
);
CREATE UNIQUE INDEX reminder_targets_push_idx
    ON reminder_targets (reminder_id, push_subscription_id) WHERE push_subscription_id IS NOT NULL;
CREATE UNIQUE INDEX reminder_targets_service_idx
    ON reminder_targets (reminder_id, notify_service_id) WHERE notify_service_id IS NOT NULL;
CREATE INDEX reminder_targets_subscription_idx ON reminder_targets (push_subscription_id);
CREATE INDEX reminder_targets_notify_service_idx ON reminder_targets (notify_service_id);

-- What a new reminder is sent by unless the Remind me form says otherwise (Settings →
-- Notifications). "This device" is the browser that sets the reminder.
ALTER TABLE users
    ADD COLUMN remind_by_email    boolean NOT NULL DEFAULT true,
    ADD COLUMN remind_this_device boolean NOT NULL DEFAULT false,
    ADD COLUMN remind_all_devices boolean NOT NULL DEFAULT false;
ALTER TABLE notify_services ADD COLUMN remind_by_default boolean NOT NULL DEFAULT false;

-- Deliveries become per (occurrence, channel target) jobs. The rows already there are email that
-- was sent: they keep their Message-ID, become channel 'email', state 'sent'.
ALTER TABLE deliveries
    ADD COLUMN channel              text NOT NULL DEFAULT 'email'
                                    CHECK (channel IN ('email', 'push', 'apprise')),
    ADD COLUMN push_subscription_id bigint REFERENCES push_subscriptions (id) ON DELETE CASCADE,
    ADD COLUMN notify_service_id    bigint REFERENCES notify_services (id) ON DELETE CASCADE,
    ADD COLUMN state                text NOT NULL DEFAULT 'sent'
                                    CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
    ADD COLUMN retry_at             timestamptz,
    ADD COLUMN attempts             integer NOT NULL DEFAULT 0,
    ADD COLUMN last_error           text,
    ADD COLUMN claimed_by           text,
    ADD COLUMN claimed_until        timestamptz,
    ADD COLUMN created_at           timestamptz;
UPDATE deliveries SET created_at = sent_at;
ALTER TABLE deliveries
    ALTER COLUMN channel DROP DEFAULT,
    ALTER COLUMN state SET DEFAULT 'pending',
    ALTER COLUMN created_at SET NOT NULL,
    ALTER COLUMN created_at SET DEFAULT now(),
    ALTER COLUMN message_id DROP NOT NULL,       -- email only (the Message-ID of its mail)
    ALTER COLUMN sent_at DROP NOT NULL,
    ALTER COLUMN sent_at DROP DEFAULT,
    ADD CHECK (channel <> 'email' OR message_id IS NOT NULL),
    ADD CHECK (channel <> 'push' OR push_subscription_id IS NOT NULL),
    ADD CHECK (channel <> 'apprise' OR notify_service_id IS NOT NULL),
    ADD CHECK ((state = 'sent') = (sent_at IS NOT NULL)),
    ADD CHECK (state <> 'pending' OR retry_at IS NOT NULL);

-- Once per (reminder, occurrence, channel target): what makes a repeat impossible to record, or
-- to fan out, twice. (A deleted reminder's rows keep a NULL reminder_id and never collide.)
ALTER TABLE deliveries DROP CONSTRAINT deliveries_reminder_id_occurrence_at_key;
CREATE UNIQUE INDEX deliveries_target_idx ON deliveries
    (reminder_id, occurrence_at, channel, coalesce(push_subscription_id, notify_service_id, 0));

-- Claiming: the pending rows, earliest first, per channel. Partial: sent rows cost nothing.
CREATE INDEX deliveries_pending_idx ON deliveries (channel, retry_at) WHERE state = 'pending';
-- The card's "reminder failed" line looks at a task's latest occurrence.
CREATE INDEX deliveries_task_idx ON deliveries (task_id, occurrence_at);
