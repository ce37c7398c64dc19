//! The fake Discord's state: messages as they stand after edits, the limits Discord checks
//! before accepting a message, and the complete Message objects it answers with.

use serde_json::{Value, json};

/// First snowflake the fake hands out (message and DM channel ids count up from here).
const FIRST_ID: u64 = 1_200_000_000_000_000_000;
/// The bot user's id, as the author of every message.
pub const FAKE_BOT_USER_ID: &str = "1100000000000000001";

/// One message as the fake Discord holds it now.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscordMessage {
    /// Message id (snowflake).
    pub id: String,
    /// Channel id (a DM channel id for direct messages).
    pub channel_id: String,
    /// For a DM, the user it went to.
    pub dm_user: Option<String>,
    /// Current content.
    pub content: String,
    /// Current embeds (`[]` when none).
    pub embeds: Value,
    /// Current components (`[]` when none).
    pub components: Value,
    /// `allowed_mentions` of the last create or edit (`null` when absent).
    pub allowed_mentions: Value,
    /// The message it replies to (`message_reference.message_id`).
    pub reply_to: Option<String>,
    /// How many times it was edited.
    pub edits: u32,
    /// The `nonce` it was created with, if any.
    pub nonce: Option<String>,
}

impl DiscordMessage {
    /// The complete Message object Discord answers create and edit with.
    pub fn to_wire(&self) -> Value {
        let mention_everyone = self.content.contains("@everyone")
            && self.allowed_mentions["parse"].as_array().is_some_and(|p| p.iter().any(|v| v == "everyone"));
        let edited = if self.edits > 0 { json!("2026-01-01T00:00:01.000000+00:00") } else { Value::Null };
        let kind = if self.reply_to.is_some() { 19 } else { 0 };
        let reference =
            self.reply_to.as_ref().map(|m| json!({"message_id": m, "channel_id": self.channel_id}));
        json!({
            "id": self.id,
            "channel_id": self.channel_id,
            "author": {
                "id": FAKE_BOT_USER_ID, "username": "pimbot", "discriminator": "0000",
                "global_name": null, "avatar": null, "bot": true, "public_flags": 0
            },
            "content": self.content,
            "timestamp": "2026-01-01T00:00:00.000000+00:00",
            "edited_timestamp": edited,
            "tts": false,
            "mention_everyone": mention_everyone,
            "mentions": [],
            "mention_roles": [],
            "attachments": [],
            "embeds": self.embeds,
            "components": self.components,
            "pinned": false,
            "type": kind,
            "flags": 0,
            "message_reference": reference,
            "nonce": self.nonce,
        })
    }
}

/// How long Discord remembers a `nonce` for `enforce_nonce` ("the past few minutes").
pub const NONCE_WINDOW: std::time::Duration = std::time::Duration::from_secs(300);

/// All messages and DM channels, in creation order.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) messages: Vec<DiscordMessage>,
    pub(crate) dm_channels: Vec<(String, String)>,
    /// Channels that no longer exist (answered `Unknown Channel`).
    pub(crate) removed: Vec<String>,
    /// `nonce` → (message index, when created), for `enforce_nonce`.
    nonces: std::collections::HashMap<String, (usize, std::time::Instant)>,
    seq: u64,
}

impl State {
    fn next_id(&mut self) -> String {
        self.seq += 1;
        (FIRST_ID + self.seq).to_string()
    }

    /// The DM channel with `user`, opened on first use.
    pub(crate) fn dm_channel(&mut self, user: &str) -> String {
        if let Some((_, c)) = self.dm_channels.iter().find(|(u, _)| u == user) {
            return c.clone();
        }
        let id = self.next_id();
        self.dm_channels.push((user.to_owned(), id.clone()));
        id
    }

    /// Whether `channel` exists (every channel does unless removed).
    pub(crate) fn channel_exists(&self, channel: &str) -> bool {
        !self.removed.iter().any(|c| c == channel)
    }

    /// Stores a new message from a create body; with `enforce_nonce` and a `nonce` this bot
    /// used within [`NONCE_WINDOW`], answers with that message instead (nothing new is made).
    pub(crate) fn create(&mut self, channel: &str, body: &Value) -> DiscordMessage {
        let nonce = match &body["nonce"] {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        };
        if let Some(nonce) = nonce.as_ref().filter(|_| body["enforce_nonce"] == true)
            && let Some((i, at)) = self.nonces.get(nonce)
            && at.elapsed() < NONCE_WINDOW
            && let Some(existing) = self.messages.get(*i)
        {
            return existing.clone();
        }
        if let Some(nonce) = &nonce {
            self.nonces.insert(nonce.clone(), (self.messages.len(), std::time::Instant::now()));
        }
        let id = self.next_id();
        let dm_user = self.dm_channels.iter().find(|(_, c)| c == channel).map(|(u, _)| u.clone());
        let msg = DiscordMessage {
            id,
            channel_id: channel.to_owned(),
            dm_user,
            content: body["content"].as_str().unwrap_or_default().to_owned(),
            embeds: body.get("embeds").cloned().unwrap_or_else(|| json!([])),
            components: body.get("components").cloned().unwrap_or_else(|| json!([])),
            allowed_mentions: body.get("allowed_mentions").cloned().unwrap_or(Value::Null),
            reply_to: body["message_reference"]["message_id"].as_str().map(str::to_owned),
            edits: 0,
            nonce,
        };
        self.messages.push(msg.clone());
        msg
    }

    /// Applies an edit: fields present replace the old ones, absent ones stay.
    pub(crate) fn edit(&mut self, channel: &str, id: &str, body: &Value) -> Option<DiscordMessage> {
        let msg = self.messages.iter_mut().find(|m| m.channel_id == channel && m.id == id)?;
        if let Some(c) = body.get("content").filter(|c| !c.is_null()) {
            msg.content = c.as_str().unwrap_or_default().to_owned();
        }
        for (key, slot) in [("embeds", &mut msg.embeds), ("components", &mut msg.components)] {
            if let Some(v) = body.get(key).filter(|v| !v.is_null()) {
                *slot = v.clone();
            }
        }
        if let Some(a) = body.get("allowed_mentions") {
            msg.allowed_mentions = a.clone();
        }
        msg.edits += 1;
        Some(msg.clone())
    }
}

fn chars(v: &Value) -> usize {
    v.as_str().map(|s| s.chars().count()).unwrap_or(0)
}

/// The checks Discord makes on a create or edit body (the subset pimbot can trip); the error
/// is Discord's form-error message.
pub(crate) fn validate(body: &Value, creating: bool) -> Result<(), String> {
    let content = chars(&body["content"]);
    let embeds = body["embeds"].as_array().map(Vec::as_slice).unwrap_or_default();
    let rows = body["components"].as_array().map(Vec::as_slice).unwrap_or_default();
    if creating && content == 0 && embeds.is_empty() && rows.is_empty() {
        return Err("Cannot send an empty message".into());
    }
    if content > 2000 {
        return Err("content: Must be 2000 or fewer in length.".into());
    }
    if embeds.len() > 10 {
        return Err("embeds: Must be 10 or fewer in length.".into());
    }
    let mut total = 0;
    for e in embeds {
        let fields = e["fields"].as_array().map(Vec::as_slice).unwrap_or_default();
        if chars(&e["title"]) > 256 || chars(&e["description"]) > 4096 || fields.len() > 25 {
            return Err("embeds: title, description or field count too long".into());
        }
        for f in fields {
            if chars(&f["name"]) > 256 || chars(&f["value"]) > 1024 || chars(&f["value"]) == 0 {
                return Err("embeds.fields: name ≤ 256, value 1–1024".into());
            }
            total += chars(&f["name"]) + chars(&f["value"]);
        }
        total += chars(&e["title"]) + chars(&e["description"]);
    }
    if total > 6000 {
        return Err("embeds: Embed size exceeds maximum size of 6000".into());
    }
    if rows.len() > 5 {
        return Err("components: Must be 5 or fewer in length.".into());
    }
    let mut ids = Vec::new();
    for row in rows {
        let items = row["components"].as_array().map(Vec::as_slice).unwrap_or_default();
        if row["type"] != 1 || items.is_empty() || items.len() > 5 {
            return Err("components: an action row holds 1–5 buttons".into());
        }
        for b in items {
            let id = b["custom_id"].as_str().unwrap_or_default();
            if chars(&b["label"]) > 80 || (b["style"] != 5 && (id.is_empty() || id.len() > 100)) {
                return Err("components: bad button".into());
            }
            if ids.contains(&id) {
                return Err("components: custom_id must be unique".into());
            }
            ids.push(id);
        }
    }
    let parse = body["allowed_mentions"]["parse"].as_array().map(Vec::as_slice).unwrap_or_default();
    let users = body["allowed_mentions"]["users"].as_array().is_some_and(|u| !u.is_empty());
    if users && parse.iter().any(|p| p == "users") {
        return Err("allowed_mentions: parse:[\"users\"] and users are mutually exclusive".into());
    }
    Ok(())
}

/// `GET /users/@me` for the fake's bot token: the bot's user object as Discord documents it.
pub(crate) fn bot_user() -> Value {
    json!({
        "id": FAKE_BOT_USER_ID,
        "username": "pimbot",
        "discriminator": "0000",
        "global_name": null,
        "avatar": null,
        "bot": true,
        "system": false,
        "mfa_enabled": false,
        "banner": null,
        "accent_color": null,
        "locale": "en-US",
        "verified": true,
        "flags": 0,
        "public_flags": 0
    })
}

/// `GET /channels/{id}` of a guild text channel.
pub(crate) fn text_channel(id: &str, name: &str) -> Value {
    json!({
        "id": id,
        "type": 0,
        "guild_id": "290926444748734465",
        "position": 0,
        "permission_overwrites": [],
        "name": name,
        "topic": null,
        "nsfw": false,
        "last_message_id": null,
        "rate_limit_per_user": 0,
        "parent_id": null,
        "flags": 0
    })
}
