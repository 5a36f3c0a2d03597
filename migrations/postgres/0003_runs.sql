-- Runs: each attempt to carry out a task, its state, where it ran and how it ended; the task's
-- approval (pull request) and branch; the goal's title and text as last planned, for the comments
-- ade keeps up to date and the agents' prompts.
-- Times are Unix milliseconds.

ALTER TABLE goals ADD COLUMN title TEXT NOT NULL DEFAULT '';
ALTER TABLE goals ADD COLUMN body TEXT NOT NULL DEFAULT '';

ALTER TABLE tasks ADD COLUMN branch TEXT;
ALTER TABLE tasks ADD COLUMN pull_number BIGINT;
ALTER TABLE tasks ADD COLUMN head_sha TEXT;

CREATE INDEX tasks_by_pull ON tasks (pull_number);

CREATE TABLE runs (
    id                BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task              BIGINT  NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    attempt           BIGINT  NOT NULL,
    state             TEXT    NOT NULL,
    agent             TEXT    NOT NULL,
    environment       TEXT    NOT NULL,
    base_sha          TEXT    NOT NULL,
    branch            TEXT    NOT NULL,
    requester         TEXT    NOT NULL,
    feedback          TEXT,
    runner            TEXT,
    head_sha          TEXT,
    reason            TEXT,
    report            TEXT,
    cancel_requested  BIGINT  NOT NULL DEFAULT 0,
    created_at        BIGINT  NOT NULL,
    started_at        BIGINT,
    finished_at       BIGINT,
    UNIQUE (task, attempt)
);

CREATE INDEX runs_by_state ON runs (state, id);
