-- Consumers and API keys. Changes are announced with NOTIFY (see
-- postgres.go), so there is no change log table.

-- +goose Up
CREATE TABLE consumers (
    name       text        PRIMARY KEY,
    created_at timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id           text        PRIMARY KEY,
    consumer     text        NOT NULL REFERENCES consumers (name),
    hash         bytea       NOT NULL CHECK (length(hash) = 32),
    scopes       text[]      NOT NULL DEFAULT '{}',
    roles        text[]      NOT NULL DEFAULT '{}',
    labels       jsonb       NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL,
    expires_at   timestamptz,
    last_used_at timestamptz,
    revoked_at   timestamptz,
    rotated_to   text
);

CREATE INDEX api_keys_by_consumer ON api_keys (consumer, created_at);

-- +goose Down
DROP TABLE api_keys;
DROP TABLE consumers;
