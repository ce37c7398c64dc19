-- Microsoft Teams (issue 20), SQLite dialect. Keep in step with migrations/postgres/0011_teams.sql.

-- Where the Bot Framework Connector reaches a Teams user or channel, learned from inbound
-- activities: the conversation (a user's personal chat, or a channel) and the serviceUrl the
-- activity came from. key: 'user:<entra object id>' or 'channel:<channel id>'.
CREATE TABLE teams_conversations (
    key             TEXT PRIMARY KEY NOT NULL,
    conversation_id TEXT,
    service_url     TEXT NOT NULL,
    user_id         TEXT,
    updated_at      TEXT NOT NULL
);
