-- migrate:up

-- A follow-up run measures the messages of an album together: the run finds them by
-- grouped_id (tgstat.ports.post_store.PostStore.album_post_ids).
CREATE INDEX stat_post_album_idx ON stat_post (tg_channel_id, grouped_id)
    WHERE grouped_id IS NOT NULL;

-- migrate:down

DROP INDEX stat_post_album_idx;
