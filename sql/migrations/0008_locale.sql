-- How dates read for the account (issue #11): a BCP 47 tag Babel has data for ("en-US",
-- "de", "zh-Hant-TW"), guessed from the browser at sign-up, changed on the profile. The server
-- checks it against Babel (taskly/dates.py); the constraint only keeps the column tag-shaped.
-- Accounts made before this read dates as they did: British English, 24-hour, day first.
ALTER TABLE users ADD COLUMN locale text NOT NULL DEFAULT 'en-GB'
    CONSTRAINT users_locale_shape CHECK (locale ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$');
