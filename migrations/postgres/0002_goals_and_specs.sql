-- Goals (issues ade plans for), the versions of their specs, the tasks of each version, and the
-- comments ade keeps up to date (found again by their marker). Times are Unix milliseconds.

CREATE TABLE goals (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    forge        TEXT    NOT NULL,
    repository   TEXT    NOT NULL,
    number       BIGINT  NOT NULL,
    created_at   BIGINT  NOT NULL,
    UNIQUE (forge, repository, number)
);

CREATE TABLE specs (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    goal          BIGINT  NOT NULL REFERENCES goals (id) ON DELETE CASCADE,
    version       BIGINT  NOT NULL,
    state         TEXT    NOT NULL,
    content       TEXT    NOT NULL,
    content_hash  TEXT    NOT NULL,
    author        TEXT    NOT NULL,
    planner       TEXT    NOT NULL,
    errors        TEXT,
    created_at    BIGINT  NOT NULL,
    changed_at    BIGINT  NOT NULL,
    UNIQUE (goal, version)
);

CREATE TABLE spec_transitions (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    spec        BIGINT  NOT NULL REFERENCES specs (id) ON DELETE CASCADE,
    from_state  TEXT,
    to_state    TEXT    NOT NULL,
    actor       TEXT    NOT NULL,
    at          BIGINT  NOT NULL
);

CREATE INDEX spec_transitions_by_spec ON spec_transitions (spec, id);

CREATE TABLE tasks (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    spec        BIGINT  NOT NULL REFERENCES specs (id) ON DELETE CASCADE,
    task_id     TEXT    NOT NULL,
    state       TEXT    NOT NULL,
    changed_at  BIGINT  NOT NULL,
    UNIQUE (spec, task_id)
);

CREATE TABLE sticky_comments (
    forge       TEXT    NOT NULL,
    repository  TEXT    NOT NULL,
    marker      TEXT    NOT NULL,
    number      BIGINT  NOT NULL,
    comment_id  BIGINT  NOT NULL,
    body_hash   TEXT    NOT NULL,
    updated_at  BIGINT  NOT NULL,
    PRIMARY KEY (forge, repository, marker)
);
