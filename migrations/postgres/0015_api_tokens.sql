-- API tokens: bearer tokens for `/api/v1`, made by `ade tokens create` (docs/api.md). Only the
-- SHA-256 of a token is kept; the token itself is shown once. `scope` is `read` or `write`.
-- Times are Unix milliseconds; `revoked_at` is set by `ade tokens revoke`.

CREATE TABLE api_tokens (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          TEXT    NOT NULL,
    scope         TEXT    NOT NULL,
    hash          TEXT    NOT NULL UNIQUE,
    created_at    BIGINT  NOT NULL,
    expires_at    BIGINT  NOT NULL,
    revoked_at    BIGINT,
    last_used_at  BIGINT
);
