-- Other notification services through Apprise (issue #12): ntfy, Telegram, Gotify, Pushover ...
-- A user's Apprise URL usually carries a credential (a bot token, a topic that is its own
-- password), so it is a secret: kept sealed (authenticated encryption with a key derived from
-- SECRET_KEY or NOTIFY_KEY), shown only in its masked form, never logged. The scheme is kept in
-- clear so the operator's allow-list (NOTIFY_SCHEMES) can be applied without unsealing.
CREATE TABLE notify_services (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    label           text NOT NULL CHECK (length(label) BETWEEN 1 AND 60),
    scheme          text NOT NULL CHECK (scheme ~ '^[a-z][a-z0-9+.-]{0,31}$'),
    url_sealed      bytea NOT NULL,
    masked          text NOT NULL CHECK (length(masked) <= 200),
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_success_at timestamptz,
    last_error      text,
    UNIQUE (user_id, label)
);
