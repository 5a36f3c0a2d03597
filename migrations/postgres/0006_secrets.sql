-- The secret store: values operators set with `ade secrets set`, each sealed with an AEAD under the
-- master key whose id is stored beside it, so a rotation can re-seal them one by one while both
-- keys are configured (docs/secrets.md). A value is never stored in plaintext.
-- Times are Unix milliseconds.

CREATE TABLE secrets (
    name        TEXT    PRIMARY KEY,
    key_id      TEXT    NOT NULL,
    nonce       BYTEA   NOT NULL,
    ciphertext  BYTEA   NOT NULL,
    created_at  BIGINT  NOT NULL,
    updated_at  BIGINT  NOT NULL
);

CREATE INDEX secrets_by_key ON secrets (key_id);
