-- When the goal's plan comment on the forge last switched to showing each spec version (Unix
-- milliseconds, ade's clock, taken when the forge confirmed the write), and which version it shows
-- now: a bare `/ade approve` approves only the version the comment showed when it was made, and a
-- version not shown yet is a plan in flight.
ALTER TABLE specs ADD COLUMN shown_at BIGINT;
ALTER TABLE goals ADD COLUMN shown_spec BIGINT;
-- Versions stored before these columns existed count as shown when they were made, as before.
UPDATE specs SET shown_at = created_at;
