-- migrate:up

-- The metric layer (docs/metrics.md): views analysts, dashboards and other pipelines read
-- instead of the raw tables. Names and meanings are stable: a change is a new migration.
-- NULL always means "not observed" (never 0); ratios are fractions (0.25 = 25 %).

-- A post's forwards at an instant: the snapshot closest to it within 5 minutes (the
-- collector's tolerance), the earlier one on a tie, as for views and reactions. For
-- analysts' own queries (it reads stat_post_snapshot with the caller's rights); metric_post
-- does the same lookup inline.
CREATE FUNCTION metric_forwards_at(channel bigint, post bigint, instant timestamptz)
RETURNS bigint LANGUAGE sql STABLE AS $$
    SELECT s.forwards
    FROM stat_post_snapshot s
    WHERE s.tg_channel_id = channel AND s.tg_post_id = post
      AND s.taken_at BETWEEN instant - interval '5 minutes' AND instant + interval '5 minutes'
    ORDER BY abs(extract(epoch FROM s.taken_at - instant)), s.taken_at
    LIMIT 1
$$;

-- One row per publication: a post, or an album (its messages share grouped_id) collapsed
-- onto its first message. Views: the album's highest (every message of an album is shown
-- together); reactions, comments, forwards: summed (as bigint), NULL when any message's value
-- is unknown. Comments are summed over the messages that have a discussion thread (an album's
-- thread hangs on one message; the others report no counter): NULL when none has one.
CREATE VIEW metric_post AS
WITH message AS (
    SELECT p.*,
           min(p.tg_post_id) OVER (
               PARTITION BY p.tg_channel_id, coalesce(p.grouped_id, -p.tg_post_id)
           ) AS publication_id,
           f1.forwards AS forwards_1h,
           f24.forwards AS forwards_24h
    FROM stat_post p
    -- metric_forwards_at's lookup, written out: a function runs with the reader's rights,
    -- so a role granted only the views could not read stat_post_snapshot through it
    LEFT JOIN LATERAL (
        SELECT s.forwards FROM stat_post_snapshot s
        WHERE s.tg_channel_id = p.tg_channel_id AND s.tg_post_id = p.tg_post_id
          AND s.taken_at BETWEEN p.date_of_post + interval '55 minutes'
                             AND p.date_of_post + interval '65 minutes'
        ORDER BY abs(extract(epoch FROM s.taken_at - (p.date_of_post + interval '1 hour'))),
                 s.taken_at
        LIMIT 1
    ) f1 ON true
    LEFT JOIN LATERAL (
        SELECT s.forwards FROM stat_post_snapshot s
        WHERE s.tg_channel_id = p.tg_channel_id AND s.tg_post_id = p.tg_post_id
          AND s.taken_at BETWEEN p.date_of_post + interval '23 hours 55 minutes'
                             AND p.date_of_post + interval '24 hours 5 minutes'
        ORDER BY abs(extract(epoch FROM s.taken_at - (p.date_of_post + interval '24 hours'))),
                 s.taken_at
        LIMIT 1
    ) f24 ON true
),
publication AS (
    SELECT m.tg_channel_id,
           m.publication_id AS tg_post_id,
           min(m.grouped_id) AS grouped_id,
           count(*) AS messages,
           min(m.date_of_post) AS date_of_post,
           (array_agg(m.message ORDER BY m.tg_post_id) FILTER (WHERE m.message IS NOT NULL))[1]
               AS message,
           (array_agg(m.media ORDER BY m.tg_post_id) FILTER (WHERE m.media IS NOT NULL))[1]
               AS media,
           (array_agg(m.link ORDER BY m.tg_post_id))[1] AS link,
           CASE WHEN bool_and(m.deleted_at IS NOT NULL) THEN max(m.deleted_at) END AS deleted_at,
           max(m.views) AS views,
           max(m.views_1h) AS views_1h,
           max(m.views_24h) AS views_24h,
           bool_or(m.has_discussion) AS has_discussion,
           CASE WHEN count(m.total_reactions_count) = count(*)
                THEN sum(m.total_reactions_count)::bigint END AS reactions,
           CASE WHEN count(m.reactions_1h) = count(*) THEN sum(m.reactions_1h)::bigint END
               AS reactions_1h,
           CASE WHEN count(m.reactions_24h) = count(*) THEN sum(m.reactions_24h)::bigint END
               AS reactions_24h,
           CASE WHEN bool_or(m.has_discussion)
                 AND count(m.comments_messages_count) FILTER (WHERE m.has_discussion)
                     = count(*) FILTER (WHERE m.has_discussion)
                THEN (sum(m.comments_messages_count) FILTER (WHERE m.has_discussion))::bigint
           END AS comments,
           CASE WHEN bool_or(m.has_discussion)
                 AND count(m.comments_messages_count_1h) FILTER (WHERE m.has_discussion)
                     = count(*) FILTER (WHERE m.has_discussion)
                THEN (sum(m.comments_messages_count_1h) FILTER (WHERE m.has_discussion))::bigint
           END AS comments_1h,
           CASE WHEN bool_or(m.has_discussion)
                 AND count(m.comments_messages_count_24h) FILTER (WHERE m.has_discussion)
                     = count(*) FILTER (WHERE m.has_discussion)
                THEN (sum(m.comments_messages_count_24h) FILTER (WHERE m.has_discussion))::bigint
           END AS comments_24h,
           CASE WHEN count(m.forwards) = count(*) THEN sum(m.forwards)::bigint END AS forwards,
           CASE WHEN count(m.forwards_1h) = count(*) THEN sum(m.forwards_1h)::bigint END
               AS forwards_1h,
           CASE WHEN count(m.forwards_24h) = count(*) THEN sum(m.forwards_24h)::bigint END
               AS forwards_24h
    FROM message m
    GROUP BY m.tg_channel_id, m.publication_id
)
SELECT p.tg_channel_id,
       p.tg_post_id,
       p.grouped_id,
       p.messages,
       p.date_of_post,
       p.message,
       p.media,
       p.link,
       p.deleted_at IS NOT NULL AS is_deleted,
       p.deleted_at,
       p.has_discussion,
       p.views, p.views_1h, p.views_24h,
       p.reactions, p.reactions_1h, p.reactions_24h,
       p.comments, p.comments_1h, p.comments_24h,
       p.forwards, p.forwards_1h, p.forwards_24h,
       r.subscribers AS subscribers_at_publication,
       p.views::double precision / nullif(r.subscribers, 0) AS err,
       p.views_24h::double precision / nullif(r.subscribers, 0) AS err_24h,
       -- a publication without a discussion thread cannot have comments: 0 of them here
       (p.reactions + CASE WHEN p.has_discussion THEN p.comments ELSE 0 END + p.forwards)
           ::double precision / nullif(p.views, 0) AS engagement_rate
FROM publication p
LEFT JOIN LATERAL (
    SELECT s.subscribers
    FROM stat_channel_snapshot s
    WHERE s.tg_channel_id = p.tg_channel_id
      AND s.taken_at <= p.date_of_post
      AND s.taken_at > p.date_of_post - interval '24 hours'
    ORDER BY s.taken_at DESC
    LIMIT 1
) r ON true;

-- Per channel and UTC day, from the first to the last day anything was observed. Joins,
-- leaves and removals count people: bots (stat_user.bot) are counted apart in bot_joins.
CREATE VIEW metric_channel_day AS
WITH person AS (
    SELECT * FROM stat_user WHERE bot IS NOT TRUE
),
span AS (
    SELECT tg_channel_id, min(d) AS first_day, max(d) AS last_day
    FROM (
        SELECT tg_channel_id, (joined_at AT TIME ZONE 'UTC')::date AS d
        FROM stat_user WHERE joined_at IS NOT NULL
        UNION ALL
        SELECT tg_channel_id, (left_at AT TIME ZONE 'UTC')::date
        FROM stat_user WHERE left_at IS NOT NULL
        UNION ALL
        SELECT tg_channel_id, (taken_at AT TIME ZONE 'UTC')::date FROM stat_channel_snapshot
        UNION ALL
        SELECT tg_channel_id, (date_of_post AT TIME ZONE 'UTC')::date FROM stat_post
    ) observed
    GROUP BY tg_channel_id
),
day AS (
    SELECT s.tg_channel_id, d::date AS day
    -- timestamps without a zone: the days stay UTC days whatever the session's TimeZone
    FROM span s,
         generate_series(s.first_day::timestamp, s.last_day::timestamp, interval '1 day') AS d
),
joined AS (
    SELECT tg_channel_id, (joined_at AT TIME ZONE 'UTC')::date AS day,
           count(*) FILTER (WHERE bot IS NOT TRUE) AS joins,
           count(*) FILTER (WHERE bot IS NOT TRUE AND is_joined_by_link) AS joins_by_link,
           count(*) FILTER (WHERE bot IS NOT TRUE AND premium) AS premium_joins,
           count(*) FILTER (WHERE bot) AS bot_joins
    FROM stat_user WHERE joined_at IS NOT NULL
    GROUP BY 1, 2
),
exited AS (
    SELECT tg_channel_id, (left_at AT TIME ZONE 'UTC')::date AS day,
           count(*) FILTER (WHERE is_removed_by_admin IS NOT TRUE) AS leaves,
           count(*) FILTER (WHERE is_removed_by_admin) AS removals
    FROM person WHERE left_at IS NOT NULL
    GROUP BY 1, 2
),
reading AS (
    SELECT DISTINCT ON (tg_channel_id, (taken_at AT TIME ZONE 'UTC')::date)
           tg_channel_id, (taken_at AT TIME ZONE 'UTC')::date AS day, subscribers
    FROM stat_channel_snapshot
    ORDER BY tg_channel_id, (taken_at AT TIME ZONE 'UTC')::date, taken_at DESC
),
published AS (
    SELECT tg_channel_id, (date_of_post AT TIME ZONE 'UTC')::date AS day,
           count(*) AS posts_published,
           avg(views_24h)::double precision AS mean_views_24h
    FROM metric_post
    GROUP BY 1, 2
)
SELECT d.tg_channel_id,
       d.day,
       coalesce(j.joins, 0) AS joins,
       coalesce(e.leaves, 0) AS leaves,
       coalesce(e.removals, 0) AS removals,
       coalesce(j.joins, 0) - coalesce(e.leaves, 0) - coalesce(e.removals, 0) AS net,
       coalesce(j.joins_by_link, 0) AS joins_by_link,
       coalesce(j.premium_joins, 0) AS premium_joins,
       coalesce(j.bot_joins, 0) AS bot_joins,
       r.subscribers,
       coalesce(p.posts_published, 0) AS posts_published,
       p.mean_views_24h
FROM day d
LEFT JOIN joined j USING (tg_channel_id, day)
LEFT JOIN exited e USING (tg_channel_id, day)
LEFT JOIN reading r USING (tg_channel_id, day)
LEFT JOIN published p USING (tg_channel_id, day);

-- Per channel and invite link: who came through it (people, not bots) and who stayed.
CREATE VIEW metric_invite_link AS
SELECT u.tg_channel_id,
       u.invite_link,
       (array_agg(u.invite_link_title ORDER BY u.joined_at DESC)
           FILTER (WHERE u.invite_link_title IS NOT NULL))[1] AS invite_link_title,
       count(*) AS joins,
       count(*) FILTER (WHERE u.left_at IS NULL) AS still_subscribed,
       count(*) FILTER (WHERE u.left_at IS NOT NULL AND u.is_removed_by_admin IS NOT TRUE)
           AS leaves,
       count(*) FILTER (WHERE u.is_removed_by_admin) AS removals,
       percentile_cont(0.5) WITHIN GROUP (
           ORDER BY extract(epoch FROM u.left_at - u.joined_at) / 86400
       ) FILTER (WHERE u.left_at IS NOT NULL) AS median_days_subscribed_of_left,
       min(u.joined_at) AS first_join_at,
       max(u.joined_at) AS last_join_at
FROM stat_user u
WHERE u.invite_link IS NOT NULL AND u.joined_at IS NOT NULL AND u.bot IS NOT TRUE
GROUP BY u.tg_channel_id, u.invite_link;

-- Per publication, its views at each observation: the growth curve (albums: the highest
-- views among their messages at that instant).
CREATE VIEW metric_post_views_curve AS
WITH message AS (
    SELECT p.tg_channel_id, p.tg_post_id, p.date_of_post,
           min(p.tg_post_id) OVER (
               PARTITION BY p.tg_channel_id, coalesce(p.grouped_id, -p.tg_post_id)
           ) AS publication_id
    FROM stat_post p
)
SELECT m.tg_channel_id,
       m.publication_id AS tg_post_id,
       s.taken_at,
       (extract(epoch FROM s.taken_at - min(m.date_of_post)) / 60)::double precision
           AS minutes_since_post,
       max(s.views) AS views
FROM message m
JOIN stat_post_snapshot s
  ON s.tg_channel_id = m.tg_channel_id AND s.tg_post_id = m.tg_post_id
WHERE s.views IS NOT NULL
GROUP BY m.tg_channel_id, m.publication_id, s.taken_at;

-- migrate:down

DROP VIEW metric_post_views_curve;
DROP VIEW metric_invite_link;
DROP VIEW metric_channel_day;
DROP VIEW metric_post;
DROP FUNCTION metric_forwards_at(bigint, bigint, timestamptz);
