-- When the goal's plan comment on the forge first showed each spec version (Unix milliseconds,
-- ade's clock, taken when the forge confirmed the write): a bare `/ade approve` approves only a
-- version shown before its comment was made, and a version not shown yet is a plan in flight.
ALTER TABLE specs ADD COLUMN shown_at BIGINT;
-- Versions stored before this column existed count as shown when they were made, as before.
UPDATE specs SET shown_at = created_at;
