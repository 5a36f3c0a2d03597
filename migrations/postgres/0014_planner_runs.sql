-- Planner runs: a `/ade plan` carried out by a planner agent on a runner (docs/spec.md, "The
-- planner agent"). One per command line that asked for a planner, so a command delivered again
-- plans once. `spec` is the version it produced once planned; `log` the planner's run log on the
-- runner and `log_link` the signed link to it that the plan comment shows; `reason` why it failed
-- or was cancelled. The reply to the command goes to `comment_id` under `reply_index`. Times are
-- Unix milliseconds.

CREATE TABLE planner_runs (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    goal              BIGINT  NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
    comment_id        BIGINT  NOT NULL,
    reply_index       BIGINT  NOT NULL,
    agent             TEXT    NOT NULL,
    state             TEXT    NOT NULL,
    requester         TEXT    NOT NULL,
    instructions      TEXT,
    base_commit       TEXT    NOT NULL,
    spec              BIGINT  REFERENCES specs (id) ON DELETE SET NULL,
    runner            TEXT,
    log               TEXT,
    log_link          TEXT,
    reason            TEXT,
    report            TEXT,
    cancel_requested  BIGINT  NOT NULL DEFAULT 0,
    created_at        BIGINT  NOT NULL,
    started_at        BIGINT,
    finished_at       BIGINT,
    UNIQUE (goal, comment_id, reply_index)
);

CREATE INDEX planner_runs_goal ON planner_runs (goal);
CREATE INDEX planner_runs_spec ON planner_runs (spec);
