-- Strong identity (issue 14), SQLite dialect. Keep in step with migrations/postgres/0006_identity.sql.

-- A chat account bound to a directory account by a completed `/pim link`.
CREATE TABLE identity_links (
    platform  TEXT NOT NULL,
    chat_id   TEXT NOT NULL,
    object_id TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    username  TEXT,
    linked_at TEXT NOT NULL,
    PRIMARY KEY (platform, chat_id)
);
-- One chat account per platform and directory account: linking a second one is a conflict.
CREATE UNIQUE INDEX identity_links_one_per_platform ON identity_links (platform, object_id);

-- One-time sign-in states. `id` is the SHA-256 of the value handed out, never the value.
CREATE TABLE auth_states (
    id            TEXT PRIMARY KEY NOT NULL,
    purpose       TEXT NOT NULL
                  CHECK (purpose IN ('link', 'activation_step_up', 'approval_step_up', 'sign_in')),
    platform      TEXT,
    chat_id       TEXT,
    person        TEXT,
    request_id    TEXT,
    nonce         TEXT NOT NULL,
    pkce_verifier TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    used_at       TEXT
);
CREATE INDEX auth_states_expires ON auth_states (expires_at);
