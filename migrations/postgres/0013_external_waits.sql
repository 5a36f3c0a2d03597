-- Verifications waiting for the policy's external checks (docs/verification.md, "External
-- checks"). Once a verification's own steps let its head through and external checks remain,
-- it moves to state `awaiting` with an absolute deadline, `external_until`, and no runner holds
-- it: an `external_wait` job looks at the forge, puts itself off until the next look, and is
-- brought forward by the check webhooks. `external_wait` is the wait's progress (JSON: the names
-- waited for, the steps' report, what the last looks found, and for a run's own verification
-- what the run reported), so a restart resumes the wait where it was. `external_looked_at` is
-- when ade last looked (webhooks arriving closer together than a short gap wait for it), and
-- `external_news_at` when a webhook last named the head (news during a look brings the next
-- look forward). Times are Unix milliseconds.

ALTER TABLE verifications ADD COLUMN external_until BIGINT;
ALTER TABLE verifications ADD COLUMN external_wait TEXT;
ALTER TABLE verifications ADD COLUMN external_looked_at BIGINT;
ALTER TABLE verifications ADD COLUMN external_news_at BIGINT;

CREATE INDEX verifications_awaiting ON verifications (head_sha) WHERE state = 'awaiting';
