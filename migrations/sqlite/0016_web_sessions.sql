-- Dashboard sessions: a browser signed in through a forge's OAuth (docs/dashboard.md). Only the
-- SHA-256 of the session cookie is kept. `csrf` is the token every form of the session carries.
-- Times are Unix milliseconds; `ended_at` is set on sign-out.

CREATE TABLE web_sessions (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    hash        TEXT    NOT NULL UNIQUE,
    forge       TEXT    NOT NULL,
    login       TEXT    NOT NULL,
    csrf        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    expires_at  BIGINT  NOT NULL,
    ended_at    BIGINT
);

CREATE INDEX web_sessions_expiry ON web_sessions (expires_at);
