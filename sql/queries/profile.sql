-- name: update-profile(user_id, first_name, last_name, time_zone, locale)!
UPDATE users SET first_name = :first_name, last_name = :last_name, time_zone = :time_zone,
       locale = :locale
 WHERE id = :user_id;

-- name: upsert-avatar(user_id, digest, large, small)!
-- One statement writes the picture and the digest the header's URL is made of.
WITH saved AS (
    INSERT INTO avatars (user_id, digest, large, small)
    VALUES (:user_id, :digest, :large, :small)
    ON CONFLICT (user_id) DO UPDATE
       SET digest = excluded.digest, large = excluded.large, small = excluded.small,
           updated_at = now()
)
UPDATE users SET avatar_digest = :digest WHERE id = :user_id;

-- name: delete-avatar(user_id)!
WITH gone AS (DELETE FROM avatars WHERE user_id = :user_id)
UPDATE users SET avatar_digest = NULL WHERE id = :user_id;

-- name: select-avatar(user_id, digest, small)$
-- The owner's picture at this digest only: another user's URL, or an old one, finds nothing.
SELECT CASE WHEN :small THEN small ELSE large END
  FROM avatars WHERE user_id = :user_id AND digest = :digest;
