-- Retention (docs/retention.md): each repository's retention periods as its policy last said them,
-- which of a run's stored data a purge has removed (one bit per kind of data), and indexes that
-- find handled deliveries and finished runs by age. And audit records left for the writer's sweep
-- (a forge write's), which other transactions' seals pass by (docs/audit.md).
-- Times are Unix milliseconds.

CREATE TABLE retention_rules (
    forge                   TEXT    NOT NULL,
    repository              TEXT    NOT NULL,
    deliveries_days         BIGINT  NOT NULL,
    run_logs_days           BIGINT  NOT NULL,
    verification_logs_days  BIGINT  NOT NULL,
    worktrees_days          BIGINT  NOT NULL,
    prompts_days            BIGINT  NOT NULL,
    updated_at              BIGINT  NOT NULL,
    PRIMARY KEY (forge, repository)
);

ALTER TABLE runs ADD COLUMN purged BIGINT NOT NULL DEFAULT 0;

CREATE INDEX deliveries_by_repository ON deliveries (forge, repository, processed_at) WHERE processed_at IS NOT NULL;
CREATE INDEX runs_by_finished ON runs (finished_at) WHERE finished_at IS NOT NULL;

ALTER TABLE audit_pending ADD COLUMN for_sweep BIGINT NOT NULL DEFAULT 0;
