-- Comments whose commands ade acted on, by the forge's comment id: the same comment delivered
-- again (the forge's redelivery, or a signed body replayed under a new delivery id) acts no more
-- (docs/commands.md). Ids only, never the text; kept as long as the database.
-- Times are Unix milliseconds.

CREATE TABLE comments_acted (
    forge       TEXT    NOT NULL,
    comment_id  BIGINT  NOT NULL,
    job         BIGINT  NOT NULL,
    acted_at    BIGINT  NOT NULL,
    PRIMARY KEY (forge, comment_id)
);
