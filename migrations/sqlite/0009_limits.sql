-- Rate limits and goal budgets (docs/limits.md): one token bucket per limited thing (a user's
-- commands in a repository, a repository's commands, plans and run starts), and on each run when
-- it was first let through the repository's limits, the agent time it used in attempts before
-- (`agent_ms`), since when its current attempt has been under way (until it pushes or ends), and
-- what the agent said it cost. Times are Unix milliseconds; a bucket holds thousandths of a token.

CREATE TABLE rate_buckets (
    name          TEXT    PRIMARY KEY,
    milli_tokens  BIGINT  NOT NULL,
    updated_at    BIGINT  NOT NULL,
    taken_at      BIGINT,
    told_at       BIGINT
);

ALTER TABLE runs ADD COLUMN admitted_at BIGINT;
ALTER TABLE runs ADD COLUMN agent_ms BIGINT;
ALTER TABLE runs ADD COLUMN under_way_since BIGINT;
ALTER TABLE runs ADD COLUMN cost_micro_usd BIGINT;
