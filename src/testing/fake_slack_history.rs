//! The fake Slack's reads of what was posted: `conversations.history` (top-level messages,
//! newest first), `conversations.replies` (a thread, parent first) and `conversations.open`
//! (the bot's DM channel with a user), paged with `limit` and `cursor` and bounded by
//! `oldest`/`latest` like Slack's. Message `metadata` is included only with
//! `include_all_metadata`, as Slack does for metadata of event types the app does not
//! subscribe to.

use serde_json::{Value, json};

use super::fake_slack_state::{FakeMessage, Messages, field, resolve_channel, truthy};

/// The bot user the fake posts as.
pub const FAKE_BOT_USER: &str = "U0PIMBOT";

/// A Slack `ts` as a number, for `oldest`/`latest` comparisons.
fn ts_value(ts: &str) -> f64 {
    ts.parse().unwrap_or(0.0)
}

/// A message as `conversations.history` and `.replies` show it.
fn wire(m: &FakeMessage, with_metadata: bool) -> Value {
    let mut v = json!({
        "type": "message",
        "subtype": "bot_message",
        "user": FAKE_BOT_USER,
        "bot_id": "B0PIMBOT",
        "app_id": "A0PIMBOT",
        "text": m.text,
        "ts": m.ts,
        "blocks": m.blocks,
    });
    if let Some(parent) = &m.thread_ts {
        v["thread_ts"] = json!(parent);
    }
    if m.edits > 0 {
        v["edited"] = json!({"user": FAKE_BOT_USER, "ts": m.ts});
    }
    if with_metadata && !m.metadata.is_null() {
        v["metadata"] = m.metadata.clone();
    }
    v
}

/// One page of `list` after the `cursor` (an offset), at most `limit` long.
fn page(list: Vec<&FakeMessage>, body: &Value) -> Value {
    let limit = field(body, "limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(100).clamp(1, 999);
    let start = field(body, "cursor")
        .and_then(|c| c.strip_prefix("offset:"))
        .and_then(|o| o.parse().ok())
        .unwrap_or(0);
    let with_metadata = truthy(body.get("include_all_metadata"));
    let shown: Vec<Value> = list.iter().skip(start).take(limit).map(|m| wire(m, with_metadata)).collect();
    let more = list.len() > start + limit;
    let next = if more { format!("offset:{}", start + limit) } else { String::new() };
    json!({"messages": shown, "has_more": more, "response_metadata": {"next_cursor": next}})
}

/// Whether `m` lies inside the `oldest`/`latest` bounds of a read (both exclusive by default).
fn in_range(m: &FakeMessage, body: &Value) -> bool {
    let ts = ts_value(&m.ts);
    let inclusive = truthy(body.get("inclusive"));
    let after = field(body, "oldest").map(ts_value).is_none_or(|o| ts > o || (inclusive && ts == o));
    let before = field(body, "latest").map(ts_value).is_none_or(|l| ts < l || (inclusive && ts == l));
    after && before
}

/// `conversations.history`: the channel's top-level messages (thread replies are left out),
/// newest first. Ephemeral and deleted messages are not history.
pub(crate) fn history(messages: &Messages, body: &Value) -> Result<Value, String> {
    let channel = field(body, "channel").ok_or("channel_not_found")?;
    let mut list: Vec<&FakeMessage> = messages
        .all()
        .iter()
        .filter(|m| m.channel == channel && m.ephemeral_for.is_none() && !m.deleted)
        .filter(|m| m.thread_ts.as_deref().is_none_or(|p| p == m.ts))
        .filter(|m| in_range(m, body))
        .collect();
    list.reverse();
    Ok(page(list, body))
}

/// `conversations.replies`: the parent, then its replies oldest first (the parent is always
/// shown; `oldest`/`latest` bound the replies).
pub(crate) fn replies(messages: &Messages, body: &Value) -> Result<Value, String> {
    let channel = field(body, "channel").ok_or("channel_not_found")?;
    let ts = field(body, "ts").ok_or("thread_not_found")?;
    let parent = messages.find(channel, ts).filter(|m| !m.deleted).ok_or("thread_not_found")?;
    let mut list = vec![parent];
    list.extend(messages.all().iter().filter(|m| {
        m.channel == channel
            && m.ts != ts
            && m.thread_ts.as_deref() == Some(ts)
            && m.ephemeral_for.is_none()
            && !m.deleted
            && in_range(m, body)
    }));
    Ok(page(list, body))
}

/// `conversations.open` with `users` (a comma-separated string or an array) naming one user:
/// the bot's DM channel with them.
pub(crate) fn open(body: &Value) -> Result<Value, String> {
    let users: Vec<String> = match body.get("users") {
        Some(Value::String(s)) => {
            s.split(',').map(str::trim).filter(|u| !u.is_empty()).map(str::to_owned).collect()
        }
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    match users.as_slice() {
        [user] if user.starts_with('U') || user.starts_with('W') => {
            Ok(json!({"no_op": true, "already_open": true, "channel": {"id": resolve_channel(user)}}))
        }
        [] => Err("users_list_not_supplied".into()),
        _ => Err("user_not_found".into()),
    }
}
