-- Consumers, API keys and the change log that carries revocations and
-- rotations to other processes using the same file. Times are Unix
-- microseconds (UTC); NULL means "never".

-- +goose Up
CREATE TABLE consumers (
    name       TEXT    PRIMARY KEY,
    created_at INTEGER NOT NULL
) STRICT;

CREATE TABLE api_keys (
    id           TEXT    PRIMARY KEY,
    consumer     TEXT    NOT NULL REFERENCES consumers (name),
    hash         BLOB    NOT NULL CHECK (length(hash) = 32),
    scopes       TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings
    roles        TEXT    NOT NULL DEFAULT '[]', -- JSON array of strings
    labels       TEXT    NOT NULL DEFAULT '{}', -- JSON object of strings
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER,
    last_used_at INTEGER,
    revoked_at   INTEGER,
    rotated_to   TEXT
) STRICT;

CREATE INDEX api_keys_by_consumer ON api_keys (consumer, created_at);

CREATE TABLE key_events (
    seq    INTEGER PRIMARY KEY AUTOINCREMENT,
    key_id TEXT    NOT NULL,
    kind   TEXT    NOT NULL,
    at     INTEGER NOT NULL
) STRICT;

-- +goose Down
DROP TABLE key_events;
DROP TABLE api_keys;
DROP TABLE consumers;
