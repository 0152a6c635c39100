-- Server-side sessions: the cookie holds only a random key; this row (found by the key's
-- SHA-256) holds the state. Signing out, disabling a user or a timeout deletes the row, which
-- ends the session for every copy of the cookie. Cookie sessions of earlier versions are not
-- carried over: the upgrade signs everyone out once.
CREATE TABLE sessions (
    id BIGSERIAL PRIMARY KEY,
    key_hash TEXT NOT NULL UNIQUE,
    -- A random name of the session shown to its user (never the key).
    handle TEXT NOT NULL,
    user_id BIGINT REFERENCES users (id) ON DELETE CASCADE,
    state TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    last_seen_at TIMESTAMP NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_last_seen ON sessions (last_seen_at);
