-- migrate:up

-- The instant (the cycle's own clock) of the channel's last collection cycle that completed:
-- `tgstat doctor` reports it, and a channel whose cycles fail keeps the last good one.
-- NULL until the first completed cycle; cycles of earlier versions are estimated from the
-- newest post row or subscriber reading.
ALTER TABLE config__tg_channel ADD COLUMN last_collected_at timestamptz;
UPDATE config__tg_channel c
SET last_collected_at = greatest(
    (SELECT max(p."timestamp") FROM stat_post p WHERE p.tg_channel_id = c.tg_channel_id),
    (SELECT max(n.taken_at) FROM stat_channel_snapshot n WHERE n.tg_channel_id = c.tg_channel_id));

-- migrate:down

ALTER TABLE config__tg_channel DROP COLUMN last_collected_at;
