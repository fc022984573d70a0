-- migrate:up

-- The requirements name every table's primary key column `pk` (DESIGN.md 3), and the
-- channel's foreign key to its session `config__tg_bot_session_pool_pk`. Renames keep the
-- rows, their keys and the identity sequences' positions; the sequences and the foreign key
-- are renamed too, so a fresh schema and a migrated one name everything alike.
ALTER TABLE config__tg_bot_session_pool RENAME COLUMN id TO pk;
ALTER SEQUENCE config__tg_bot_session_pool_id_seq RENAME TO config__tg_bot_session_pool_pk_seq;
ALTER TABLE config__tg_channel RENAME COLUMN id TO pk;
ALTER SEQUENCE config__tg_channel_id_seq RENAME TO config__tg_channel_pk_seq;
ALTER TABLE config__tg_channel RENAME COLUMN session_pool_id TO config__tg_bot_session_pool_pk;
ALTER TABLE config__tg_channel RENAME CONSTRAINT config__tg_channel_session_pool_id_fkey
    TO config__tg_channel_config__tg_bot_session_pool_pk_fkey;
ALTER TABLE stat_user RENAME COLUMN id TO pk;
ALTER SEQUENCE stat_user_id_seq RENAME TO stat_user_pk_seq;
ALTER TABLE stat_post RENAME COLUMN id TO pk;
ALTER SEQUENCE stat_post_id_seq RENAME TO stat_post_pk_seq;
ALTER TABLE stat_reaction RENAME COLUMN id TO pk;
ALTER SEQUENCE stat_reaction_id_seq RENAME TO stat_reaction_pk_seq;

-- Albums: the messages of one album share Telegram's grouped_id; each stays its own row and
-- analysts collapse them into one publication by it (DESIGN.md 4.5). NULL: not in an album.
ALTER TABLE stat_post ADD COLUMN grouped_id bigint;
-- Deleted posts keep their last counters and are never asked for again: the collector
-- skips rows with deleted_at set (the first collection that found the post gone).
-- No new index for "live posts by date": deleted posts are a handful per channel, so the
-- (tg_channel_id, date_of_post) index with a filter on deleted_at stays as cheap, and a
-- partial index would not serve the reports that include deleted posts.
ALTER TABLE stat_post ADD COLUMN deleted_at timestamptz;
-- When reading the post's comment thread last failed (MSG_ID_INVALID): its comment horizons
-- and distinct commenters stay NULL (unknown, never 0) and the thread is retried at most
-- once an hour rather than every cycle. NULL: readable, or never tried.
ALTER TABLE stat_post ADD COLUMN thread_unreadable_at timestamptz;

-- Bots an admin adds are stored with bot true so analysts can exclude them; NULL: unknown
-- (an event whose user object Telegram left out).
ALTER TABLE stat_user ADD COLUMN bot boolean;
-- An admin's removal (kick/ban) closes the episode like a leave; this tells them apart:
-- true removed, false left, NULL while the episode is open.
ALTER TABLE stat_user ADD COLUMN is_removed_by_admin boolean;
-- Episodes closed before this migration were all closed by leave events (the admin log was
-- read with the join, leave and invite filters only): "left" is what was observed.
UPDATE stat_user SET is_removed_by_admin = false WHERE left_at IS NOT NULL;
-- An open episode was not removed (yet).
ALTER TABLE stat_user ADD CONSTRAINT stat_user_removed_only_when_closed_check
    CHECK (is_removed_by_admin IS NULL OR left_at IS NOT NULL);
-- The invite link (and its title) of the join that opened the episode, per link campaign.
ALTER TABLE stat_user ADD COLUMN invite_link text;
ALTER TABLE stat_user ADD COLUMN invite_link_title text;

-- Comments from anonymous group admins (sender: the discussion group itself, author_id its
-- id) and comments with no sender at all (author_id NULL) are comments like any other: they
-- count in totals and horizons, in neither distinct users nor distinct channels.
ALTER TABLE stat_comment DROP CONSTRAINT stat_comment_author_kind_check;
ALTER TABLE stat_comment ADD CONSTRAINT stat_comment_author_kind_check
    CHECK (author_kind IN ('user', 'channel', 'anonymous', 'none'));
ALTER TABLE stat_comment ALTER COLUMN author_id DROP NOT NULL;
-- No sender is the only reason for an unknown author.
ALTER TABLE stat_comment ADD CONSTRAINT stat_comment_author_id_check
    CHECK ((author_id IS NULL) = (author_kind = 'none'));

-- Follow-ups are planned once per album and horizon (DESIGN.md 4.5): grouped_id keeps the
-- album's idempotency key across a read back, and at most one follow-up per album and
-- horizon is stored even when its messages arrive in different cycles.
ALTER TABLE stat_followup ADD COLUMN grouped_id bigint;
CREATE UNIQUE INDEX stat_followup_album_idx ON stat_followup (tg_channel_id, grouped_id, horizon_s)
    WHERE grouped_id IS NOT NULL;

-- The subscriber count over time (participants_count of channels.getFullChannel), read at
-- most once an hour per channel. A reading is a fact at one instant: stored once.
CREATE TABLE stat_channel_snapshot (
    pk            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tg_channel_id bigint NOT NULL REFERENCES config__tg_channel (tg_channel_id),
    taken_at      timestamptz NOT NULL,
    subscribers   bigint NOT NULL CHECK (subscribers >= 0),
    -- also serves "the channel's last reading" and "the reading at or before an instant"
    UNIQUE (tg_channel_id, taken_at)
);

-- migrate:down

DROP TABLE stat_channel_snapshot;

DROP INDEX stat_followup_album_idx;
ALTER TABLE stat_followup DROP COLUMN grouped_id;

-- The previous schema cannot hold comments without a user or channel author: they go, as
-- the columns below go with the values only this schema could store.
DELETE FROM stat_comment WHERE author_kind IN ('anonymous', 'none');
ALTER TABLE stat_comment DROP CONSTRAINT stat_comment_author_id_check;
ALTER TABLE stat_comment ALTER COLUMN author_id SET NOT NULL;
ALTER TABLE stat_comment DROP CONSTRAINT stat_comment_author_kind_check;
ALTER TABLE stat_comment ADD CONSTRAINT stat_comment_author_kind_check
    CHECK (author_kind IN ('user', 'channel'));

ALTER TABLE stat_user DROP CONSTRAINT stat_user_removed_only_when_closed_check;
ALTER TABLE stat_user DROP COLUMN invite_link_title;
ALTER TABLE stat_user DROP COLUMN invite_link;
ALTER TABLE stat_user DROP COLUMN is_removed_by_admin;
ALTER TABLE stat_user DROP COLUMN bot;

ALTER TABLE stat_post DROP COLUMN thread_unreadable_at;
ALTER TABLE stat_post DROP COLUMN deleted_at;
ALTER TABLE stat_post DROP COLUMN grouped_id;

ALTER SEQUENCE stat_reaction_pk_seq RENAME TO stat_reaction_id_seq;
ALTER TABLE stat_reaction RENAME COLUMN pk TO id;
ALTER SEQUENCE stat_post_pk_seq RENAME TO stat_post_id_seq;
ALTER TABLE stat_post RENAME COLUMN pk TO id;
ALTER SEQUENCE stat_user_pk_seq RENAME TO stat_user_id_seq;
ALTER TABLE stat_user RENAME COLUMN pk TO id;
ALTER TABLE config__tg_channel RENAME CONSTRAINT config__tg_channel_config__tg_bot_session_pool_pk_fkey
    TO config__tg_channel_session_pool_id_fkey;
ALTER TABLE config__tg_channel RENAME COLUMN config__tg_bot_session_pool_pk TO session_pool_id;
ALTER SEQUENCE config__tg_channel_pk_seq RENAME TO config__tg_channel_id_seq;
ALTER TABLE config__tg_channel RENAME COLUMN pk TO id;
ALTER SEQUENCE config__tg_bot_session_pool_pk_seq RENAME TO config__tg_bot_session_pool_id_seq;
ALTER TABLE config__tg_bot_session_pool RENAME COLUMN pk TO id;
