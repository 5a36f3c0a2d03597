-- Approvals and verifications. A task's pull request becomes an approval row with a state of its
-- own (pending, approved, rejected, merged, closed) instead of three columns on the task; each
-- verification of one of its heads is a row with its verdict and report; each check ade created
-- on a forge is remembered so it is updated in place; and the key that signs run-log links is
-- shared by every process on the database. A run says whether it starts a task afresh or
-- continues its approval's branch (a retry). Tasks in review were called `approval` before.
-- Times are Unix milliseconds.

CREATE TABLE approvals (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    task          BIGINT  NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    forge         TEXT    NOT NULL,
    repository    TEXT    NOT NULL,
    number        BIGINT  NOT NULL,
    node_id       TEXT,
    branch        TEXT    NOT NULL,
    state         TEXT    NOT NULL,
    head_sha      TEXT    NOT NULL,
    draft         BIGINT  NOT NULL DEFAULT 0,
    verified_sha  TEXT,
    requester     TEXT    NOT NULL,
    reason        TEXT,
    opened_at     BIGINT  NOT NULL,
    changed_at    BIGINT  NOT NULL,
    UNIQUE (task)
);

CREATE INDEX approvals_by_pull ON approvals (forge, repository, number);

INSERT INTO approvals (task, forge, repository, number, branch, state, head_sha, requester,
                       opened_at, changed_at)
SELECT t.id, g.forge, g.repository, t.pull_number, t.branch,
       CASE t.state WHEN 'merged' THEN 'merged' WHEN 'cancelled' THEN 'closed' ELSE 'pending' END,
       COALESCE(t.head_sha, ''),
       COALESCE((SELECT r.requester FROM runs r WHERE r.task = t.id ORDER BY r.attempt DESC LIMIT 1), ''),
       t.changed_at, t.changed_at
FROM tasks t JOIN specs s ON s.id = t.spec JOIN goals g ON g.id = s.goal
WHERE t.pull_number IS NOT NULL AND t.branch IS NOT NULL;

UPDATE tasks SET state = 'review' WHERE state = 'approval';

DROP INDEX tasks_by_pull;
ALTER TABLE tasks DROP COLUMN branch;
ALTER TABLE tasks DROP COLUMN pull_number;
ALTER TABLE tasks DROP COLUMN head_sha;

ALTER TABLE runs ADD COLUMN cause TEXT NOT NULL DEFAULT 'start';

CREATE TABLE verifications (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    approval          BIGINT  NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
    run               BIGINT  NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
    head_sha          TEXT    NOT NULL,
    cause             TEXT    NOT NULL,
    state             TEXT    NOT NULL,
    requester         TEXT    NOT NULL,
    runner            TEXT,
    report            TEXT,
    reason            TEXT,
    log               TEXT,
    cancel_requested  BIGINT  NOT NULL DEFAULT 0,
    created_at        BIGINT  NOT NULL,
    started_at        BIGINT,
    finished_at       BIGINT
);

CREATE INDEX verifications_by_approval ON verifications (approval, id);

CREATE TABLE forge_checks (
    forge       TEXT    NOT NULL,
    repository  TEXT    NOT NULL,
    head_sha    TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    check_id    BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (forge, repository, head_sha, name)
);

CREATE TABLE link_keys (
    id          BIGINT  NOT NULL PRIMARY KEY,
    secret      TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);
