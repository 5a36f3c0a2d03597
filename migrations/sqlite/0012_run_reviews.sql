-- The reviews that asked for changes on an approval and the attempt that took each
-- (docs/verification.md, "Iteration on review"). A review is taken once: reviews submitted while
-- an attempt runs wait for the next, and a review delivered again starts nothing. `run` is null
-- for reviews that came when the task's attempts were used up (ade said so once and started
-- none). `said` is the review's text and line comments as the agent got them (sanitized, JSON),
-- for the reply after the attempt; retention removes it with the run's feedback, while the ids
-- stay as long as the database. Times are Unix milliseconds.

CREATE TABLE run_reviews (
    approval    BIGINT  NOT NULL REFERENCES approvals (id) ON DELETE CASCADE,
    review_id   BIGINT  NOT NULL,
    run         BIGINT  REFERENCES runs (id) ON DELETE CASCADE,
    author      TEXT    NOT NULL,
    said        TEXT,
    taken_at    BIGINT  NOT NULL,
    PRIMARY KEY (approval, review_id)
);

CREATE INDEX run_reviews_run ON run_reviews (run);
