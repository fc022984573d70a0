-- migrate:up

-- A follow-up is done when a collection measured its instant (a snapshot within the
-- tolerance of due_at), not when the scheduler accepted its run: a run that is cancelled,
-- crashes or is lost with a reset Prefect database left the horizon unmeasured for good.
-- measured_at: the snapshot that measured it (on time), or the later collection that
-- found it undone and read the post then (late); late_by_s: seconds after due_at.
ALTER TABLE stat_followup ADD COLUMN measured_at timestamptz;
ALTER TABLE stat_followup ADD COLUMN late_by_s integer CHECK (late_by_s >= 0);
ALTER TABLE stat_followup ADD CONSTRAINT stat_followup_measured_check
    CHECK ((measured_at IS NULL) = (late_by_s IS NULL));
-- every cycle looks for the channel's follow-ups that are due and not measured yet
CREATE INDEX stat_followup_unmeasured_idx ON stat_followup (tg_channel_id, due_at)
    WHERE measured_at IS NULL;

-- Follow-ups of earlier versions: those whose instant a snapshot measured are done.
WITH measured AS (
    SELECT f.tg_channel_id, f.tg_post_id, f.horizon_s, s.taken_at, f.due_at
    FROM stat_followup f
    CROSS JOIN LATERAL (
        SELECT sn.taken_at FROM stat_post_snapshot sn
        WHERE sn.tg_channel_id = f.tg_channel_id AND sn.tg_post_id = f.tg_post_id
          AND sn.taken_at BETWEEN f.due_at - interval '5 minutes'
                              AND f.due_at + interval '5 minutes'
        ORDER BY abs(extract(epoch FROM sn.taken_at - f.due_at)), sn.taken_at
        LIMIT 1
    ) s
)
UPDATE stat_followup f
SET measured_at = m.taken_at,
    late_by_s = greatest(0, extract(epoch FROM m.taken_at - m.due_at))::integer
FROM measured m
WHERE (f.tg_channel_id, f.tg_post_id, f.horizon_s) = (m.tg_channel_id, m.tg_post_id, m.horizon_s);

-- migrate:down

DROP INDEX stat_followup_unmeasured_idx;
ALTER TABLE stat_followup DROP CONSTRAINT stat_followup_measured_check;
ALTER TABLE stat_followup DROP COLUMN late_by_s;
ALTER TABLE stat_followup DROP COLUMN measured_at;
