-- Accounts a person can live with: a profile picture, sessions one can name and end, account
-- links for a forgotten password and a new address, imports waiting for confirmation, and mail
-- that outlives its account (the goodbye message).

-- The picture lives in PostgreSQL, never on local disk (fly.io and Heroku machines lose files
-- written to the container). Only its digest sits on users, for the header's URL.
CREATE TABLE avatars (
    user_id    bigint PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    digest     text NOT NULL,
    large      bytea NOT NULL,          -- 256 × 256 WebP
    small      bytea NOT NULL,          -- 64 × 64 WebP
    updated_at timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE users ADD COLUMN avatar_digest text;

-- A session gets a public id, so the devices list can end one without naming its token.
ALTER TABLE sessions ADD COLUMN id bigint GENERATED ALWAYS AS IDENTITY;
ALTER TABLE sessions ADD CONSTRAINT sessions_id_key UNIQUE (id);

-- Reset and change-email links; the new address travels with its token.
ALTER TABLE account_tokens ADD COLUMN new_email text;

-- An uploaded CSV waits here (not on disk) between its preview and "Import", at most a day.
CREATE TABLE pending_imports (
    id         uuid PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    filename   text NOT NULL,
    content    bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX pending_imports_user_idx ON pending_imports (user_id);

-- The goodbye mail is sent after its account is gone: outbox rows may have no user, and then
-- carry the recipient and the name to greet.
ALTER TABLE outbox ALTER COLUMN user_id DROP NOT NULL;
ALTER TABLE outbox ADD COLUMN first_name text;
ALTER TABLE outbox ADD CONSTRAINT outbox_addressed
    CHECK (user_id IS NOT NULL OR (recipient IS NOT NULL AND first_name IS NOT NULL));

-- Account mail anyone can cause (a reset asked for, a sign-up tried with a taken address) has a
-- small ceiling of its own, apart from the reminders' one it must not use up.
ALTER TABLE mail_budget ADD COLUMN account_used integer NOT NULL DEFAULT 0;
