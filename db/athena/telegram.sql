-- The enriched message lake on S3 as Athena tables (tgstat part B, DESIGN.md section 6).
--
-- Layout written by `tgstat lake etl` / the `lake-etl` flow with TGSTAT_LAKE_URL=s3://<bucket>/<prefix>:
--   s3://<bucket>/<prefix>/enriched/telegram/context_date=YYYY-MM-DD/part-0.parquet
--   s3://<bucket>/<prefix>/enriched/telegram_event/context_date=YYYY-MM-DD/part-0.parquet
-- one zstd Parquet file per table and day; context_date is the day the updates arrived (in
-- TGSTAT_LAKE_TZ). Replace <bucket>/<prefix> below before running. Partition projection
-- computes the partitions from the date range, so no MSCK REPAIR / ALTER TABLE ADD PARTITION
-- is ever needed when a new day is written. Parquet columns are read by name: days written
-- before a column existed read it as NULL.

-- One row per message update (message, edited_message, channel_post, edited_channel_post,
-- business_message, edited_business_message, guest_message); the reference design's eight
-- columns first. user_* describe the person or bot who sent it, NULL when a chat sent it
-- (sender_chat_*). Instants are Unix seconds (UTC).
CREATE EXTERNAL TABLE IF NOT EXISTS telegram (
  message_id           bigint,
  user_id              bigint,
  user_is_bot          boolean,
  user_first_name      string,
  chat_id              bigint,
  chat_type            string,
  text                 string,     -- text messages only; see caption
  `date`               bigint,     -- when the message was sent
  update_id            bigint,
  update_kind          string,     -- the Update field: message, edited_message, ...
  content_type         string,     -- the Message content field: text, photo, new_chat_members, ...
  is_service           boolean,    -- joins, leaves, pins, title changes, topics, migrations, ...
  caption              string,
  sender_chat_id       bigint,
  sender_chat_type     string,
  reply_to_message_id  bigint,     -- NULL for the forum topic's root under every topic message
  message_thread_id    bigint,
  is_topic_message     boolean,
  media_group_id       string,
  forward_origin_type  string,     -- user, hidden_user, chat, channel
  forward_origin_id    bigint,
  forward_date         bigint,
  is_automatic_forward boolean,
  edit_date            bigint,
  migrate_to_chat_id   bigint,
  migrate_from_chat_id bigint,
  user_username        string,
  user_language_code   string,
  user_is_premium      boolean
)
PARTITIONED BY (context_date string)
STORED AS PARQUET
LOCATION 's3://<bucket>/<prefix>/enriched/telegram/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.context_date.type' = 'date',
  'projection.context_date.format' = 'yyyy-MM-dd',
  'projection.context_date.range' = 'NOW-3YEARS,NOW',
  'projection.context_date.interval' = '1',
  'projection.context_date.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://<bucket>/<prefix>/enriched/telegram/context_date=${context_date}/',
  'parquet.compression' = 'ZSTD'
);

-- One row per other update (member changes, reactions, boosts, callback queries, polls, ...)
-- and per message update too malformed for a row: where (chat_id), who it is about
-- (user_id), its own time (date, NULL when the kind has none) and the update as received.
CREATE EXTERNAL TABLE IF NOT EXISTS telegram_event (
  update_id  bigint,
  kind       string,
  chat_id    bigint,
  user_id    bigint,
  `date`     bigint,
  raw_update string   -- JSON text: json_extract(raw_update, '$.message_reaction.new_reaction')
)
PARTITIONED BY (context_date string)
STORED AS PARQUET
LOCATION 's3://<bucket>/<prefix>/enriched/telegram_event/'
TBLPROPERTIES (
  'projection.enabled' = 'true',
  'projection.context_date.type' = 'date',
  'projection.context_date.format' = 'yyyy-MM-dd',
  'projection.context_date.range' = 'NOW-3YEARS,NOW',
  'projection.context_date.interval' = '1',
  'projection.context_date.interval.unit' = 'DAYS',
  'storage.location.template' = 's3://<bucket>/<prefix>/enriched/telegram_event/context_date=${context_date}/',
  'parquet.compression' = 'ZSTD'
);

-- messages: the latest version of each message (highest edit_date), service messages out,
-- on the day it first arrived. A message is (chat_id, message_id) within its family (bot
-- chats, business chats, guest chats), and message_id 0 (scheduled, ephemeral) is never merged.
-- The same view as `tgstat lake query` defines on DuckDB (tgstat.ports.lake_query).
CREATE OR REPLACE VIEW messages AS
WITH families AS (
  SELECT *,
         CASE WHEN update_kind IN ('business_message', 'edited_business_message') THEN 1
              WHEN update_kind = 'guest_message' THEN 2 ELSE 0 END AS family
  FROM telegram
), versions AS (
  SELECT *,
         min(context_date) OVER (
           PARTITION BY chat_id, message_id, family,
                        CASE WHEN message_id = 0 THEN update_id END
         ) AS first_context_date,
         row_number() OVER (
           PARTITION BY chat_id, message_id, family,
                        CASE WHEN message_id = 0 THEN update_id END
           ORDER BY coalesce(edit_date, 0) DESC, update_id DESC, context_date DESC
         ) AS version
  FROM families
)
SELECT message_id, user_id, user_is_bot, user_first_name, chat_id, chat_type, text, "date",
       update_id, update_kind, content_type, is_service, caption, sender_chat_id,
       sender_chat_type, reply_to_message_id, message_thread_id, is_topic_message,
       media_group_id, forward_origin_type, forward_origin_id, forward_date,
       is_automatic_forward, edit_date, migrate_to_chat_id, migrate_from_chat_id,
       user_username, user_language_code, user_is_premium,
       first_context_date AS context_date
FROM versions
WHERE version = 1 AND is_service IS NOT TRUE;

-- The two reference queries (the same as `tgstat lake query --named ...` runs on DuckDB).
-- They read `messages` and count people: messages a chat sent (anonymous admins, channels,
-- automatic forwards) and bots' messages belong to no one; a user's name is the one of
-- their last message that day; lengths are in Unicode code points. In production, filter
-- on context_date (a range wider by the edit window) to prune the projected partitions.

-- messages-per-user-day
SELECT context_date, user_id,
       max_by(user_first_name, "date") AS user_first_name,
       count(*) AS messages
FROM messages
WHERE user_id IS NOT NULL AND NOT user_is_bot
GROUP BY context_date, user_id
ORDER BY context_date, user_id;

-- avg-length-per-user-day
SELECT context_date, user_id,
       avg(length(text)) AS avg_text_length,
       count(*) AS text_messages
FROM messages
WHERE user_id IS NOT NULL AND NOT user_is_bot AND text IS NOT NULL
GROUP BY context_date, user_id
ORDER BY context_date, user_id;
