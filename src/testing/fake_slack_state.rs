//! The fake Slack's channel state: messages as they stand after updates, the checks Slack makes
//! on a message or view before accepting it, the human-readable transcript, and request
//! parsing helpers.

use std::fmt::Write as _;

use axum::body::Bytes;
use axum::http::{HeaderMap, header};
use serde_json::Value;

/// One message as the fake Slack holds it now.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeMessage {
    /// Channel id (a `D…` id for direct messages).
    pub channel: String,
    /// The message's `ts`.
    pub ts: String,
    /// The parent's `ts` for a thread reply.
    pub thread_ts: Option<String>,
    /// For ephemeral messages, the user who sees it.
    pub ephemeral_for: Option<String>,
    /// Current fallback text.
    pub text: String,
    /// Current blocks (`[]` when none).
    pub blocks: Value,
    /// How many times it was updated.
    pub edits: u32,
    /// Deleted through a `response_url`.
    pub deleted: bool,
    /// The `metadata` it was posted with (`null` when none); Slack returns it in history only
    /// when asked with `include_all_metadata`.
    pub metadata: Value,
}

/// All messages, in posting order, with an index by `ts` (unique here, as on Slack) so updates
/// stay cheap when a load test has posted tens of thousands. `seq` is the last `ts` handed
/// out, in microseconds.
#[derive(Debug, Default)]
pub(crate) struct Messages {
    list: Vec<FakeMessage>,
    by_ts: std::collections::HashMap<String, usize>,
    seq: u64,
}

impl Messages {
    /// A `ts` as Slack makes them: the posting time in microseconds, unique and increasing.
    fn next_ts(&mut self) -> String {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        self.seq = now.max(self.seq + 1);
        format!("{}.{:06}", self.seq / 1_000_000, self.seq % 1_000_000)
    }

    /// Stores a new message; returns its `ts`.
    pub(crate) fn post(
        &mut self,
        channel: &str,
        thread_ts: Option<&str>,
        ephemeral_for: Option<&str>,
        body: &Value,
    ) -> String {
        let ts = self.next_ts();
        self.by_ts.insert(ts.clone(), self.list.len());
        self.list.push(FakeMessage {
            channel: channel.to_owned(),
            ts: ts.clone(),
            thread_ts: thread_ts.map(str::to_owned),
            ephemeral_for: ephemeral_for.map(str::to_owned),
            text: body.get("text").and_then(Value::as_str).unwrap_or_default().to_owned(),
            blocks: body.get("blocks").cloned().unwrap_or_else(|| Value::Array(vec![])),
            edits: 0,
            deleted: false,
            metadata: body.get("metadata").cloned().unwrap_or(Value::Null),
        });
        ts
    }

    /// Applies `chat.update` semantics: fields left out keep their old value.
    pub(crate) fn update(&mut self, channel: &str, ts: &str, body: &Value) -> Option<&FakeMessage> {
        let msg = self.at_mut(channel, ts).filter(|m| m.ephemeral_for.is_none() && !m.deleted)?;
        if let Some(text) = body.get("text").and_then(Value::as_str) {
            msg.text = text.to_owned();
        }
        if let Some(blocks) = body.get("blocks") {
            msg.blocks = blocks.clone();
        }
        msg.edits += 1;
        Some(msg)
    }

    /// Marks a message deleted.
    pub(crate) fn delete(&mut self, channel: &str, ts: &str) {
        if let Some(m) = self.at_mut(channel, ts) {
            m.deleted = true;
        }
    }

    fn at_mut(&mut self, channel: &str, ts: &str) -> Option<&mut FakeMessage> {
        let i = *self.by_ts.get(ts)?;
        self.list.get_mut(i).filter(|m| m.channel == channel)
    }

    /// A message by channel and `ts`.
    pub(crate) fn find(&self, channel: &str, ts: &str) -> Option<&FakeMessage> {
        let i = *self.by_ts.get(ts)?;
        self.list.get(i).filter(|m| m.channel == channel)
    }

    /// Every message in posting order.
    pub(crate) fn all(&self) -> &[FakeMessage] {
        &self.list
    }

    /// Per channel (in order of first message): top-level messages, each followed by its
    /// thread replies, indented.
    pub(crate) fn transcript(&self) -> String {
        let mut channels: Vec<&str> = Vec::new();
        for m in &self.list {
            if !channels.contains(&m.channel.as_str()) {
                channels.push(&m.channel);
            }
        }
        let mut out = String::new();
        for channel in channels {
            let _ = writeln!(out, "#{channel}");
            let in_channel: Vec<&FakeMessage> = self.list.iter().filter(|m| m.channel == channel).collect();
            let is_reply = |m: &FakeMessage| {
                m.thread_ts.as_deref().is_some_and(|p| p != m.ts && in_channel.iter().any(|o| o.ts == p))
            };
            for m in in_channel.iter().filter(|m| !is_reply(m)) {
                write_message(&mut out, m, 1);
                for r in
                    in_channel.iter().filter(|r| is_reply(r) && r.thread_ts.as_deref() == Some(m.ts.as_str()))
                {
                    write_message(&mut out, r, 2);
                }
            }
        }
        out
    }
}

fn write_message(out: &mut String, m: &FakeMessage, depth: usize) {
    let pad = "    ".repeat(depth);
    let mut head = format!("{pad}{}[{}]", if depth > 1 { "↳ " } else { "" }, m.ts);
    if let Some(user) = &m.ephemeral_for {
        let _ = write!(head, " (ephemeral, only {user} sees it)");
    }
    if m.edits > 0 {
        let _ = write!(head, " (edited {}x)", m.edits);
    }
    if m.deleted {
        head.push_str(" (deleted)");
    }
    let _ = writeln!(out, "{head}");
    for line in content_lines(m) {
        let _ = writeln!(out, "{pad}  {line}");
    }
}

fn text_of(v: &Value) -> String {
    v.get("text").and_then(Value::as_str).unwrap_or_default().replace('\n', " / ")
}

fn field_of(v: &Value) -> String {
    v.get("text").and_then(Value::as_str).unwrap_or_default().replace('\n', ": ")
}

/// What a reader sees: the blocks when there are any, else the fallback text.
fn content_lines(m: &FakeMessage) -> Vec<String> {
    let blocks = m.blocks.as_array().map(Vec::as_slice).unwrap_or_default();
    if blocks.is_empty() {
        return m.text.lines().map(str::to_owned).collect();
    }
    let mut lines = Vec::new();
    for b in blocks {
        match b.get("type").and_then(Value::as_str).unwrap_or_default() {
            "header" => lines.push(format!("# {}", text_of(&b["text"]))),
            "section" => {
                let text = b["text"]["text"].as_str().unwrap_or_default();
                lines.extend(text.lines().map(str::to_owned));
                if let Some(fields) = b.get("fields").and_then(Value::as_array) {
                    lines.push(fields.iter().map(field_of).collect::<Vec<_>>().join(" | "));
                }
            }
            "context" => {
                let parts: Vec<String> =
                    b["elements"].as_array().into_iter().flatten().map(text_of).collect();
                lines.push(parts.join(" "));
            }
            "actions" => {
                let buttons: Vec<String> = b["elements"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|e| format!("[{}]", text_of(&e["text"])))
                    .collect();
                lines.push(buttons.join(" "));
            }
            "divider" => lines.push("---".into()),
            other => lines.push(format!("<{other} block>")),
        }
    }
    lines
}

fn too_long(v: &Value, max: usize) -> bool {
    v.get("text").and_then(Value::as_str).is_some_and(|t| t.chars().count() > max)
}

/// The checks Slack makes on a message before posting it (the subset pimbot can trip).
pub(crate) fn validate_message(body: &Value) -> Result<(), String> {
    let text = body.get("text").and_then(Value::as_str).unwrap_or_default();
    let blocks = body.get("blocks").and_then(Value::as_array);
    if text.is_empty() && blocks.is_none_or(|b| b.is_empty()) {
        return Err("no_text".into());
    }
    if text.chars().count() > 40_000 {
        return Err("msg_too_long".into());
    }
    validate_blocks(blocks.map(Vec::as_slice).unwrap_or_default())
}

fn validate_blocks(blocks: &[Value]) -> Result<(), String> {
    let bad = || Err("invalid_blocks".to_owned());
    if blocks.len() > 50 {
        return bad();
    }
    let mut action_ids = Vec::new();
    for b in blocks {
        match b.get("type").and_then(Value::as_str) {
            Some("header") if too_long(&b["text"], 150) => return bad(),
            Some("section") => {
                let fields = b.get("fields").and_then(Value::as_array);
                if too_long(&b["text"], 3000) || fields.is_some_and(|f| f.len() > 10) {
                    return bad();
                }
                if fields.into_iter().flatten().any(|f| too_long(f, 2000)) {
                    return bad();
                }
                if b.get("text").is_none() && fields.is_none() {
                    return bad();
                }
            }
            Some("actions") => {
                let elements = b["elements"].as_array().map(Vec::as_slice).unwrap_or_default();
                if elements.is_empty() || elements.len() > 25 {
                    return bad();
                }
                for e in elements {
                    if e["text"]["text"].as_str().is_none_or(str::is_empty) || too_long(&e["text"], 75) {
                        return bad();
                    }
                    if let Some(id) = e.get("action_id").and_then(Value::as_str) {
                        if action_ids.contains(&id) {
                            return bad();
                        }
                        action_ids.push(id);
                    }
                }
            }
            Some(_) => {}
            None => return bad(),
        }
    }
    Ok(())
}

/// The checks Slack makes on a modal before opening it.
pub(crate) fn validate_view(view: &Value) -> Result<(), String> {
    let title_ok = view["title"]["text"].as_str().is_some_and(|t| !t.is_empty() && t.chars().count() <= 24);
    let blocks = view["blocks"].as_array().map(Vec::as_slice).unwrap_or_default();
    if view["type"] != "modal" || !title_ok || blocks.len() > 100 {
        return Err("invalid_arguments".into());
    }
    let inputs_ok = blocks.iter().filter(|b| b["type"] == "input").all(|b| b["label"]["text"].is_string());
    if inputs_ok { Ok(()) } else { Err("invalid_arguments".into()) }
}

/// A `users.info` answer: a full member with the seeded profile email (none when not seeded).
/// Ids that do not look like Slack user ids are `user_not_found`.
pub(crate) fn user_info(user: &str, email: Option<&str>) -> Result<Value, String> {
    if !(user.starts_with('U') || user.starts_with('W')) {
        return Err("user_not_found".into());
    }
    let mut profile = serde_json::json!({"real_name": user, "display_name": user});
    if let Some(email) = email {
        profile["email"] = Value::String(email.to_owned());
    }
    Ok(serde_json::json!({"user": {
        "id": user,
        "team_id": "T0FAKE",
        "name": user.to_lowercase(),
        "deleted": false,
        "is_bot": false,
        "is_restricted": false,
        "is_ultra_restricted": false,
        "profile": profile,
    }}))
}

/// The request body as JSON (form bodies become an object of strings).
pub(crate) fn parse_body(headers: &HeaderMap, body: &Bytes) -> Value {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if is_form {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        Value::Object(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
    } else {
        serde_json::from_slice(body).unwrap_or(Value::Null)
    }
}

/// A non-empty string field of a JSON body.
pub(crate) fn field<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body.get(name).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A user id as a channel opens the bot's DM with that user, which has its own `D…` id.
pub(crate) fn resolve_channel(channel: &str) -> String {
    match channel.strip_prefix('U').or_else(|| channel.strip_prefix('W')) {
        Some(rest) => format!("D{rest}"),
        None => channel.to_owned(),
    }
}

/// `true` or `"true"`.
pub(crate) fn truthy(v: Option<&Value>) -> bool {
    matches!(v, Some(Value::Bool(true))) || matches!(v, Some(Value::String(s)) if s == "true")
}

/// A query string as a JSON object of strings (reads are GETs).
pub(crate) fn query_body(query: &str) -> Value {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    Value::Object(pairs.into_iter().map(|(k, v)| (k, Value::String(v))).collect())
}

/// A channel as `conversations.info` describes it.
#[derive(Debug, Clone)]
pub(crate) struct FakeChannel {
    pub(crate) name: String,
    pub(crate) is_member: bool,
    pub(crate) is_private: bool,
}

/// `auth.test` for the fake's bot token, shaped like Slack's documented answer.
pub(crate) fn auth_test() -> Value {
    serde_json::json!({
        "url": "https://fake-workspace.slack.com/",
        "team": "Fake Workspace",
        "user": "pimbot",
        "team_id": "T0FAKE",
        "user_id": "U0PIMBOT",
        "bot_id": "B0PIMBOT",
        "is_enterprise_install": false
    })
}

/// `conversations.info` of a known channel (the fields Slack documents for a public channel).
pub(crate) fn channel_info(id: &str, c: &FakeChannel) -> Value {
    let details = serde_json::json!({"value": "", "creator": "", "last_set": 0});
    serde_json::json!({
        "channel": {
            "id": id,
            "name": c.name,
            "name_normalized": c.name,
            "is_channel": !c.is_private,
            "is_group": false,
            "is_im": false,
            "is_mpim": false,
            "is_private": c.is_private,
            "is_archived": false,
            "is_general": false,
            "is_shared": false,
            "is_org_shared": false,
            "is_ext_shared": false,
            "is_pending_ext_shared": false,
            "is_member": c.is_member,
            "created": 1_449_252_889,
            "creator": "U0CREATOR",
            "unlinked": 0,
            "topic": details,
            "purpose": details,
            "previous_names": [],
            "last_read": "0000000000.000000"
        }
    })
}
