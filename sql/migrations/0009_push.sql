-- Web Push (issue #12, foundation slice). The VAPID key pair (RFC 8292) that signs every push:
-- made by the first process that needs it, then shared by every instance. Subscriptions a
-- browser's pushManager.subscribe() returns are kept below for the next slice (the settings
-- page and the engine); nothing writes them yet.

-- One row at most: the boolean key can only be true. The public key is derived from the private
-- one (PKCS #8 PEM). VAPID_PRIVATE_KEY, when set, is used instead and this table stays empty.
-- Changing the key orphans every subscription (browsers bind them to the public key).
CREATE TABLE vapid_keys (
    singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    private_key text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- A browser's subscription: where to send (the push service's capability URL) and the keys to
-- encrypt to (RFC 8291: p256dh is the browser's P-256 public key, auth its 16-byte secret, both
-- base64url as the browser gives them). A push service answering 404/410 deletes the row.
CREATE TABLE push_subscriptions (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    endpoint        text NOT NULL CHECK (length(endpoint) BETWEEN 9 AND 2048),
    p256dh          text NOT NULL CHECK (length(p256dh) BETWEEN 80 AND 100),
    auth            text NOT NULL CHECK (length(auth) BETWEEN 16 AND 32),
    user_agent      text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    last_success_at timestamptz,
    last_error      text,
    UNIQUE (user_id, endpoint)
);
