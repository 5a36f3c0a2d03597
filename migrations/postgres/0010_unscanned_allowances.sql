-- Tasks whose runs may push content DLP cannot read (binary files, content past its caps),
-- because a maintainer allowed it with `/ade allow-unscanned` (docs/dlp.md). One row per task
-- row, so a new plan version starts without one; secrets in what DLP reads still block.
-- Times are Unix milliseconds.

CREATE TABLE unscanned_allowances (
    task        BIGINT  PRIMARY KEY REFERENCES tasks (id) ON DELETE CASCADE,
    allowed_by  TEXT    NOT NULL,
    comment_id  BIGINT  NOT NULL,
    allowed_at  BIGINT  NOT NULL
);
