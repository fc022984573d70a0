-- The enriched message lake on S3 as an Athena table (tgstat part B, DESIGN.md section 6).
--
-- Layout written by `tgstat lake etl` / the `lake-etl` flow with TGSTAT_LAKE_URL=s3://<bucket>/<prefix>:
--   s3://<bucket>/<prefix>/enriched/telegram/context_date=YYYY-MM-DD/part-0.parquet
-- one zstd Parquet file per day. Replace <bucket>/<prefix> below (twice) before running.
-- Partition projection computes the partitions from the date range, so no MSCK REPAIR /
-- ALTER TABLE ADD PARTITION is ever needed when a new day is written.

CREATE EXTERNAL TABLE IF NOT EXISTS telegram (
  message_id      bigint,
  user_id         bigint,
  user_is_bot     boolean,
  user_first_name string,
  chat_id         bigint,
  chat_type       string,
  text            string,
  `date`          bigint    -- Unix seconds (UTC) of the message
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

-- The two reference queries (the same as `tgstat lake query --named ...` runs on DuckDB).
-- Messages without a `from` (sent as a channel or anonymously) belong to no user; a user's
-- name is the one of their last message that day; lengths are in Unicode code points.
-- Always filter on context_date in production: it prunes the projected partitions.

-- messages-per-user-day
SELECT context_date, user_id,
       max_by(user_first_name, "date") AS user_first_name,
       count(*) AS messages
FROM telegram
WHERE user_id IS NOT NULL
GROUP BY context_date, user_id
ORDER BY context_date, user_id;

-- avg-length-per-user-day
SELECT context_date, user_id,
       avg(length(text)) AS avg_text_length,
       count(*) AS text_messages
FROM telegram
WHERE user_id IS NOT NULL AND text IS NOT NULL
GROUP BY context_date, user_id
ORDER BY context_date, user_id;
