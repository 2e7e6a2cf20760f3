-- Email reminders. A reminder row is a rule plus its next occurrence (UTC); the scheduler claims
-- due rows with FOR UPDATE SKIP LOCKED and a lease, sends, then records a delivery and advances
-- the rule, so any number of instances deliver each occurrence once.

ALTER TABLE users ADD COLUMN reminders_enabled boolean NOT NULL DEFAULT true;

CREATE TABLE reminders (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    task_id       bigint NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    kind          text NOT NULL CHECK (kind IN ('at', 'before_due', 'repeat')),
    fire_at       timestamptz,          -- kind 'at': the instant
    lead_minutes  integer CHECK (lead_minutes > 0),   -- kind 'before_due'
    repeat        text CHECK (repeat IN ('daily', 'weekdays', 'weekly')),
    repeat_time   time,                 -- kind 'repeat': wall-clock time in the user's zone
    repeat_day    smallint CHECK (repeat_day BETWEEN 0 AND 6),  -- weekly: Monday = 0
    next_fire_at  timestamptz,          -- the pending occurrence; NULL when none
    retry_at      timestamptz,          -- after a temporary SMTP failure: not before this
    state         text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'finished', 'failed')),
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    claimed_by    text,
    claimed_until timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    CHECK (kind <> 'at' OR fire_at IS NOT NULL),
    CHECK (kind <> 'before_due' OR lead_minutes IS NOT NULL),
    CHECK (kind <> 'repeat' OR (repeat IS NOT NULL AND repeat_time IS NOT NULL))
);

-- Claiming: the earliest due active reminders. Partial, so finished rows cost nothing.
CREATE INDEX reminders_due_idx ON reminders (next_fire_at) WHERE state = 'active';
CREATE INDEX reminders_task_idx ON reminders (task_id);

-- One row per message sent. The unique (reminder, occurrence) pair is what makes a repeat
-- of the same occurrence impossible to record twice.
CREATE TABLE deliveries (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    reminder_id   bigint REFERENCES reminders (id) ON DELETE SET NULL,
    task_id       bigint REFERENCES tasks (id) ON DELETE SET NULL,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    occurrence_at timestamptz NOT NULL,
    message_id    text NOT NULL UNIQUE,
    late          boolean NOT NULL DEFAULT false,
    sent_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (reminder_id, occurrence_at)
);

-- Other mail (subscribe/unsubscribe confirmations): written in the same transaction as the
-- change that causes it, sent by the scheduler, retried like reminders. Never lost.
CREATE TABLE outbox (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    task_id       bigint REFERENCES tasks (id) ON DELETE SET NULL,
    template      text NOT NULL,
    context       jsonb NOT NULL DEFAULT '{}',
    message_id    text NOT NULL UNIQUE,
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'failed')),
    retry_at      timestamptz NOT NULL DEFAULT now(),
    attempts      integer NOT NULL DEFAULT 0,
    last_error    text,
    claimed_by    text,
    claimed_until timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    sent_at       timestamptz
);
CREATE INDEX outbox_pending_idx ON outbox (retry_at) WHERE state = 'pending';

-- Signed email action links work once: the hash of each used token is kept.
CREATE TABLE used_links (
    token_hash bytea PRIMARY KEY,
    used_at    timestamptz NOT NULL DEFAULT now()
);

-- Development only: what the local mail sink caught (shown at /dev/mail).
CREATE TABLE dev_mail (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    mail_from   text NOT NULL,
    rcpt_to     text NOT NULL,
    message     text NOT NULL
);
