//! Finding a message pimbot already posted, so a repeated attempt adopts it instead of posting
//! twice. Every post carries message metadata naming its outbox row (`pimbot_outbox`, with the
//! row id and when it was queued); a row in doubt is looked up in the channel's recent history
//! (`conversations.history`) or the parent's thread (`conversations.replies`), both with
//! `include_all_metadata`, before it is posted again. A direct message is looked up in the DM
//! channel `conversations.open` names.
//!
//! History is read with pimbot's own minimal message shape rather than slack-morphism's: with
//! `include_all_metadata`, other apps' metadata (numbers, nested objects) comes back too, and
//! the library's string-only payload type would fail the whole page on it.
//!
//! Scopes: `channels:history`, `groups:history`, `im:history` and `im:write`. Without them the
//! lookup is refused; the sender then posts anyway (a possible duplicate beats a lost message).

use std::collections::HashMap;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Deserialize;
use slack_morphism::prelude::*;

use super::client::{Posted, SlackApi, SlackApiError};

/// `metadata.event_type` of every message pimbot posts from its outbox.
pub const OUTBOX_EVENT_TYPE: &str = "pimbot_outbox";
/// Messages read per history page (Slack allows up to 999; 200 is its recommendation).
pub const LOOKUP_PAGE_SIZE: u16 = 200;
/// History pages read at most while looking for one earlier post.
pub const LOOKUP_MAX_PAGES: usize = 3;
/// How far before the row was queued the lookup starts (clock skew between pimbot and Slack).
pub const LOOKUP_SKEW: Duration = Duration::minutes(5);

/// The metadata naming outbox row `id` queued at `queued_at`. Both are compared on lookup, so
/// another installation's row with the same id is never mistaken for this one.
pub fn outbox_metadata(id: i64, queued_at: DateTime<Utc>) -> SlackMessageMetadata {
    let payload =
        HashMap::from([("outbox_id".to_owned(), id.to_string()), ("queued_at".to_owned(), stamp(queued_at))]);
    SlackMessageMetadata { event_type: OUTBOX_EVENT_TYPE.into(), event_payload: Some(payload) }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Whether a history message's metadata names outbox row `id` queued at `queued_at`.
fn names_row(metadata: &serde_json::Value, id: i64, queued_at: &str) -> bool {
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let payload = &metadata["event_payload"];
    metadata["event_type"] == OUTBOX_EVENT_TYPE
        && text(&payload["outbox_id"]) == id.to_string()
        && text(&payload["queued_at"]) == queued_at
}

/// A Slack `ts` for an instant (`oldest` of a history read).
fn ts_of(t: DateTime<Utc>) -> String {
    format!("{}.{:06}", t.timestamp(), t.timestamp_subsec_micros())
}

#[derive(Debug, Deserialize)]
struct Page {
    #[serde(default)]
    messages: Vec<PageMessage>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    response_metadata: Option<Cursor>,
}

#[derive(Debug, Deserialize)]
struct PageMessage {
    ts: String,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Cursor {
    #[serde(default)]
    next_cursor: Option<String>,
}

impl SlackApi {
    /// `conversations.open` with one user: the id of the bot's DM channel with them.
    pub async fn dm_channel(&self, user: &str) -> Result<String, SlackApiError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiConversationsOpenRequest::new().with_users(vec![user.into()]);
        let res = self.run(session.conversations_open(&req), "conversations.open").await?;
        Ok(res.channel.id.0)
    }

    /// The message posted for outbox row `id` (queued at `queued_at`) in `channel` (a user id
    /// means the DM with them), or in the thread of `thread_ts`; `None` when it is not there.
    pub async fn find_posted(
        &self,
        channel: &str,
        thread_ts: Option<&str>,
        id: i64,
        queued_at: DateTime<Utc>,
    ) -> Result<Option<Posted>, SlackApiError> {
        let channel = if is_user(channel) { self.dm_channel(channel).await? } else { channel.to_owned() };
        let (method, label) = match thread_ts {
            Some(_) => ("conversations.replies", "conversations.replies"),
            None => ("conversations.history", "conversations.history"),
        };
        let wanted = stamp(queued_at);
        let mut cursor: Option<String> = None;
        for _ in 0..LOOKUP_MAX_PAGES {
            let params = vec![
                ("channel", Some(channel.clone())),
                ("ts", thread_ts.map(str::to_owned)),
                ("oldest", Some(ts_of(queued_at - LOOKUP_SKEW))),
                ("limit", Some(LOOKUP_PAGE_SIZE.to_string())),
                ("include_all_metadata", Some("true".to_owned())),
                ("cursor", cursor.clone()),
            ];
            let session = self.client.open_session(&self.token);
            let page: Page =
                self.run(session.http_session_api.http_get(method, &params, None), label).await?;
            let found = page
                .messages
                .iter()
                .find(|m| m.metadata.as_ref().is_some_and(|md| names_row(md, id, &wanted)));
            if let Some(m) = found {
                return Ok(Some(Posted { channel, ts: m.ts.clone() }));
            }
            cursor = page.response_metadata.and_then(|r| r.next_cursor).filter(|c| !c.is_empty());
            if !page.has_more || cursor.is_none() {
                break;
            }
        }
        Ok(None)
    }
}

/// Whether a target is a user id (posting to it opens the bot's DM with them).
fn is_user(channel: &str) -> bool {
    (channel.starts_with('U') || channel.starts_with('W'))
        && channel.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn metadata_names_its_row_and_nothing_else() {
        let at = Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).single().expect("valid");
        let md = serde_json::to_value(outbox_metadata(42, at)).expect("json");
        assert!(names_row(&md, 42, &stamp(at)));
        assert!(!names_row(&md, 43, &stamp(at)), "another row");
        assert!(!names_row(&md, 42, &stamp(at + Duration::seconds(1))), "another installation's row 42");
        let other_app = serde_json::json!({"event_type": "task_created", "event_payload": {"id": 42}});
        assert!(!names_row(&other_app, 42, &stamp(at)));
        assert_eq!(ts_of(at), "1767268800.000000");
    }
}
