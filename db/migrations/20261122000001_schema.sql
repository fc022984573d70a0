-- migrate:up

-- Telegram accounts tgstat signs in with. Secrets (api_hash, bot_token, session_bytes) are
-- Fernet-encrypted by the application before they reach this table.
CREATE TABLE config__tg_bot_session_pool (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    api_id            integer NOT NULL CHECK (api_id > 0),
    api_hash          bytea NOT NULL,
    bot_token         bytea,
    phone_number      text NOT NULL UNIQUE CHECK (phone_number <> ''),
    session_bytes     bytea,
    status            text NOT NULL DEFAULT 'enabled' CHECK (status IN ('enabled', 'banned')),
    status_reason     text,
    status_changed_at timestamptz,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    CHECK (status = 'enabled' OR status_changed_at IS NOT NULL)
);

-- Channels to collect, the session that collects each, and the collection state.
CREATE TABLE config__tg_channel (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tg_channel_id       bigint NOT NULL UNIQUE CHECK (tg_channel_id > 0),
    tg_channel_name     text NOT NULL,
    tg_channel_username text,
    session_pool_id     bigint NOT NULL REFERENCES config__tg_bot_session_pool (id),
    -- highest admin-log event id already applied to stat_user
    admin_log_cursor    bigint NOT NULL DEFAULT 0 CHECK (admin_log_cursor >= 0),
    -- rotating refresh of old posts: the next slice starts below this post id
    refresh_cursor      bigint,
    created_at          timestamptz NOT NULL DEFAULT now(),
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX config__tg_channel_session_idx ON config__tg_channel (session_pool_id);

-- One row per membership episode of a user in a channel (DESIGN.md 4.1).
CREATE TABLE stat_user (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tg_user_id        bigint NOT NULL CHECK (tg_user_id > 0),
    tg_channel_id     bigint NOT NULL REFERENCES config__tg_channel (tg_channel_id),
    first_name        text,
    last_name         text,
    user_name         text,
    scam              boolean,
    premium           boolean,
    verified          boolean,
    phone             text,
    "timestamp"       timestamptz NOT NULL,
    is_joined_by_link boolean,
    joined_at         timestamptz,
    left_at           timestamptz,
    CHECK (joined_at IS NOT NULL OR left_at IS NOT NULL),
    CHECK (left_at IS NULL OR joined_at IS NULL OR left_at >= joined_at)
);
-- the merger reads the latest episode per channel and user
CREATE INDEX stat_user_latest_idx ON stat_user (tg_channel_id, tg_user_id, "timestamp" DESC, id DESC);
-- a user has at most one open episode per channel
CREATE UNIQUE INDEX stat_user_one_open_idx ON stat_user (tg_channel_id, tg_user_id)
    WHERE left_at IS NULL;

-- The bulk tables below (posts, reactions, snapshots, comments) carry no foreign keys: a
-- per-row FK check halves bulk-write throughput (bench/repository.py), and only the
-- collector writes them, always for a configured channel and a stored post.

-- One row per post, updated on every collection (fillfactor leaves room for HOT updates).
CREATE TABLE stat_post (
    id                          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "timestamp"                 timestamptz NOT NULL,
    tg_channel_id               bigint NOT NULL CHECK (tg_channel_id > 0),
    tg_post_id                  bigint NOT NULL CHECK (tg_post_id > 0),
    message                     text,
    views                       bigint CHECK (views >= 0),
    views_1h                    bigint CHECK (views_1h >= 0),
    views_24h                   bigint CHECK (views_24h >= 0),
    total_reactions_count       bigint CHECK (total_reactions_count >= 0),
    reactions_1h                bigint CHECK (reactions_1h >= 0),
    reactions_24h               bigint CHECK (reactions_24h >= 0),
    comments_messages_count     bigint CHECK (comments_messages_count >= 0),
    comments_messages_count_1h  bigint CHECK (comments_messages_count_1h >= 0),
    comments_messages_count_24h bigint CHECK (comments_messages_count_24h >= 0),
    comments_users_count        bigint CHECK (comments_users_count >= 0),
    comments_channels_count     bigint CHECK (comments_channels_count >= 0),
    link                        text NOT NULL,
    media                       text,
    date_of_post                timestamptz NOT NULL,
    forwards                    bigint CHECK (forwards >= 0),
    has_discussion              boolean NOT NULL DEFAULT false,
    -- the (channel, post) key also serves "highest stored post id per channel"
    UNIQUE (tg_channel_id, tg_post_id)
) WITH (fillfactor = 80);
CREATE INDEX stat_post_date_idx ON stat_post (tg_channel_id, date_of_post);

-- One row per post and reaction, as it stood at the last collection.
CREATE TABLE stat_reaction (
    id                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    "timestamp"            timestamptz NOT NULL,
    tg_channel_id          bigint NOT NULL,
    tg_post_id             bigint NOT NULL,
    reaction_count         bigint NOT NULL CHECK (reaction_count >= 0),
    reaction_emoticon      text,
    -- emoji code points (U+1F44D), custom emoji document id, or 'paid'
    reaction_emoticon_code text NOT NULL,
    reaction_kind          text NOT NULL CHECK (reaction_kind IN ('emoji', 'custom_emoji', 'paid')),
    UNIQUE (tg_channel_id, tg_post_id, reaction_emoticon_code)
);

-- Counter time series: every observation of a post, for view curves and auditable 1h/24h values.
CREATE TABLE stat_post_snapshot (
    tg_channel_id   bigint NOT NULL,
    tg_post_id      bigint NOT NULL,
    taken_at        timestamptz NOT NULL,
    views           bigint CHECK (views >= 0),
    forwards        bigint CHECK (forwards >= 0),
    reactions_count bigint CHECK (reactions_count >= 0),
    comments_count  bigint CHECK (comments_count >= 0),
    -- taken_at before the post: a cycle writes one taken_at for many posts, and the
    -- horizon lookups read a few minutes of snapshots around an instant
    PRIMARY KEY (tg_channel_id, taken_at, tg_post_id)
);

-- Comments of posts' discussion threads, without text: exact window counts, distinct authors.
CREATE TABLE stat_comment (
    tg_channel_id  bigint NOT NULL,
    tg_post_id     bigint NOT NULL,
    tg_comment_id  bigint NOT NULL CHECK (tg_comment_id > 0),
    date_of_comment timestamptz NOT NULL,
    author_kind    text NOT NULL CHECK (author_kind IN ('user', 'channel')),
    author_id      bigint NOT NULL,
    PRIMARY KEY (tg_channel_id, tg_post_id, tg_comment_id)
);

-- Follow-up collections at post date + 1 h / + 24 h; scheduled_at stays NULL until the
-- scheduler accepted the run, so a scheduler outage is retried on the next cycle.
CREATE TABLE stat_followup (
    tg_channel_id bigint NOT NULL REFERENCES config__tg_channel (tg_channel_id),
    tg_post_id    bigint NOT NULL,
    horizon_s     integer NOT NULL CHECK (horizon_s > 0),
    due_at        timestamptz NOT NULL,
    scheduled_at  timestamptz,
    PRIMARY KEY (tg_channel_id, tg_post_id, horizon_s)
);
CREATE INDEX stat_followup_pending_idx ON stat_followup (tg_channel_id, due_at)
    WHERE scheduled_at IS NULL;

-- migrate:down

DROP TABLE stat_followup;
DROP TABLE stat_comment;
DROP TABLE stat_post_snapshot;
DROP TABLE stat_reaction;
DROP TABLE stat_post;
DROP TABLE stat_user;
DROP TABLE config__tg_channel;
DROP TABLE config__tg_bot_session_pool;
