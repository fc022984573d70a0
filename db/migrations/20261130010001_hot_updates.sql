-- migrate:up

-- Every cycle rewrites the rows of the posts it reads (stat_post: counters and the instant
-- of the read; stat_reaction: each reaction's count): ~115 rows a cycle per channel, mostly
-- of settled posts whose values did not change. With full pages each new row version goes
-- to another page and into every index; room left on each page lets PostgreSQL keep the new
-- version on the same page without index entries (a heap-only tuple) and reclaim the old
-- one when the page is next rewritten. Half a page: a cycle rewrites a channel's rows in one
-- transaction, so the room must hold the new versions of a page's rows while the old ones
-- still count (measured in tests/integration/test_storage_growth.py: 1% of rewrites leave
-- their page at 50, half of stat_post's at its earlier 80, 97% of stat_reaction's with full
-- pages; bench/scale.py: the database grows 1.1 MB per channel and day instead of 3.2).
-- Existing pages get the room as they are rewritten (VACUUM FULL, or in time).
ALTER TABLE stat_post SET (fillfactor = 50);
ALTER TABLE stat_reaction SET (fillfactor = 50);

-- migrate:down

ALTER TABLE stat_post SET (fillfactor = 80);
ALTER TABLE stat_reaction RESET (fillfactor);
