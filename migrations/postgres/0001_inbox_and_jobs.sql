-- Deliveries as the forge sent them, the events made from them, and the durable job queue.
-- Times are milliseconds since the Unix epoch.

CREATE TABLE deliveries (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    forge         TEXT    NOT NULL,
    delivery_id   TEXT    NOT NULL,
    event         TEXT    NOT NULL,
    event_type    TEXT,
    repository    TEXT,
    content_type  TEXT    NOT NULL,
    body          BYTEA   NOT NULL,
    received_at   BIGINT  NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'pending',
    outcome       TEXT,
    processed_at  BIGINT,
    UNIQUE (forge, delivery_id)
);

CREATE INDEX deliveries_by_state ON deliveries (state, id);

CREATE TABLE events (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery     BIGINT  NOT NULL UNIQUE REFERENCES deliveries (id) ON DELETE CASCADE,
    forge        TEXT    NOT NULL,
    name         TEXT    NOT NULL,
    repository   TEXT,
    number       BIGINT,
    sender       TEXT,
    data         TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL
);

CREATE INDEX events_by_subject ON events (repository, number, id);

CREATE TABLE jobs (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind             TEXT    NOT NULL,
    idempotency_key  TEXT    NOT NULL,
    ordering_key     TEXT,
    payload          TEXT    NOT NULL,
    state            TEXT    NOT NULL DEFAULT 'available',
    attempt          BIGINT  NOT NULL DEFAULT 0,
    max_attempts     BIGINT  NOT NULL,
    run_at           BIGINT  NOT NULL,
    lease_owner      TEXT,
    lease_expires_at BIGINT,
    last_error       TEXT,
    created_at       BIGINT  NOT NULL,
    finished_at      BIGINT
);

CREATE UNIQUE INDEX jobs_by_idempotency_key ON jobs (idempotency_key);
CREATE INDEX jobs_available ON jobs (id) WHERE state = 'available';
CREATE INDEX jobs_unfinished_by_ordering_key ON jobs (ordering_key, id) WHERE state IN ('available', 'running');
CREATE INDEX jobs_running_by_lease ON jobs (lease_expires_at) WHERE state = 'running';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('completed', 'failed', 'cancelled');

CREATE TABLE leader_leases (
    name        TEXT    PRIMARY KEY,
    owner       TEXT    NOT NULL,
    expires_at  BIGINT  NOT NULL
);
