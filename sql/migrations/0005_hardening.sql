-- Hardening: one canonical email key, verified addresses, single-use account tokens,
-- idempotent task creation, coalesced confirmation mail and a per-account daily mail budget.

-- The canonical form of an address (taskly.auth.emails.email_key: ASCII only, lower-cased in
-- Python) decides uniqueness, lookup and every rate-limit key. `email` keeps what was typed.
-- Existing addresses are ASCII (sign-up's rule); "C" lower-cases A-Z only, whatever the locale.
ALTER TABLE users ADD COLUMN email_key text;
UPDATE users SET email_key = lower(email COLLATE "C");
ALTER TABLE users ALTER COLUMN email_key SET NOT NULL;
DROP INDEX users_email_lower_key;
CREATE UNIQUE INDEX users_email_key ON users (email_key);

-- NULL until the owner follows the verification link. Accounts made before this migration were
-- never verified either: they are asked to, and their reminder mail is held until then.
ALTER TABLE users ADD COLUMN email_verified_at timestamptz;

-- Single-use links mailed for account actions. Only the SHA-256 of the token is kept; a token
-- works for its own purpose only, until it expires, once, and not after a password change.
CREATE TABLE account_tokens (
    token_hash bytea PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose    text NOT NULL CHECK (purpose IN ('verify_email', 'reset_password', 'change_email')),
    email      text NOT NULL,       -- the address the link was sent to
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz
);
CREATE INDEX account_tokens_user_idx ON account_tokens (user_id, purpose);

-- A create form carries a random id: the same submission sent twice (a retry after a 503 whose
-- row was written, a double click, Back and resubmit) makes one task.
ALTER TABLE tasks ADD COLUMN submission uuid;
CREATE UNIQUE INDEX tasks_submission_key ON tasks (user_id, submission);

-- Confirmation mail about the same thing (e.g. reminders on/off for one task) replaces a pending
-- one with the same key, so toggling sends at most one message per quiet period.
ALTER TABLE outbox ADD COLUMN coalesce_key text;
-- Account mail may go to an address other than the account's (a new address being confirmed).
ALTER TABLE outbox ADD COLUMN recipient text;
CREATE INDEX outbox_coalesce_idx ON outbox (user_id, coalesce_key) WHERE state = 'pending';

-- Messages sent (or being sent) to each account per local day: the ceiling MAIL_DAILY_LIMIT.
CREATE TABLE mail_budget (
    user_id bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    day     date NOT NULL,
    used    integer NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, day)
);
