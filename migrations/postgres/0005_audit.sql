-- The audit log. What ade does is recorded as a pending row in the transaction that does it;
-- the audit writer moves pending rows, in id order, into the hash-chained JSONL files and advances
-- the chain's head in the same transaction, so a record and its action commit together and every
-- process on the database extends one chain. Signed checkpoints of the head are kept here as
-- well as in a file outside the log folder (docs/audit.md). Times are Unix milliseconds.

CREATE TABLE audit_pending (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            BIGINT  NOT NULL,
    actor         TEXT    NOT NULL,
    actor_kind    TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    subject       TEXT    NOT NULL,
    forge         TEXT,
    repository    TEXT,
    goal          BIGINT,
    spec_version  BIGINT,
    task          TEXT,
    run           BIGINT,
    outcome       TEXT    NOT NULL,
    details       TEXT    NOT NULL
);

CREATE TABLE audit_head (
    id    BIGINT  NOT NULL PRIMARY KEY,
    seq   BIGINT  NOT NULL,
    head  TEXT    NOT NULL
);

INSERT INTO audit_head (id, seq, head)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TABLE audit_checkpoints (
    seq         BIGINT  NOT NULL PRIMARY KEY,
    head        TEXT    NOT NULL,
    signed_at   BIGINT  NOT NULL,
    every_secs  BIGINT  NOT NULL,
    key_id      TEXT    NOT NULL,
    signature   TEXT    NOT NULL
);
