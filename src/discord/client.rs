//! A thin Discord REST client for outbox delivery: reqwest 0.12 with a bot token, a per-call
//! timeout, and every failure classified into what the dispatcher can act on.
//!
//! Why not serenity's `Http` here: with its rate limiter on (as it must be against the real
//! Discord), serenity answers a 429 by sleeping and retrying inside the call, so a long
//! `Retry-After` would block a delivery task for a minute and the outbox could not reschedule
//! the row; and its error type keeps neither the `Retry-After` header nor the body's
//! `retry_after`. The outbox owns retries, so delivery needs the raw status and headers.
//! Request bodies are still serenity's builders (`CreateMessage`, `EditMessage`), so the wire
//! JSON is serenity's. `pimbot discord register` uses serenity's `Http` (see `commands`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;
use serde::Serialize;
use serde_json::json;
use serenity::all::{CreateMessage, EditMessage};

/// How long one REST call may take before it counts as failed.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// `User-Agent` Discord requires of bots.
pub const USER_AGENT: &str =
    concat!("DiscordBot (https://github.com/pimbot/pimbot, ", env!("CARGO_PKG_VERSION"), ")");

/// A failed REST call, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscordApiError {
    /// HTTP 429; wait `retry_after` (from `Retry-After` or the body's `retry_after`).
    #[error("rate limited by Discord (retry after {retry_after:?})")]
    RateLimited {
        /// How long Discord asked to wait, when it said.
        retry_after: Option<Duration>,
    },
    /// Worth another try later: 5xx, timeout, connection failure, an unreadable reply.
    #[error("transient Discord failure: {0}")]
    Transient(String),
    /// Discord refused the call for good (other 4xx: unknown channel, missing access …).
    #[error("Discord refused the call: {0}")]
    Rejected(String),
}

/// Where a created message landed.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Posted {
    /// Message id (snowflake).
    pub id: String,
    /// Channel id.
    pub channel_id: String,
}

#[derive(Deserialize)]
struct ChannelObject {
    id: String,
}

/// The Discord REST API as the outbox uses it: create and edit channel messages, open DMs.
pub struct DiscordApi {
    http: reqwest::Client,
    base: String,
    auth: String,
    timeout: Duration,
    dm_channels: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for DiscordApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiscordApi")
            .field("base", &self.base)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// Reads a wait from `Retry-After` (seconds, possibly fractional) or the JSON `retry_after`.
pub fn retry_after(header: Option<&str>, body: &str) -> Option<Duration> {
    let from_header = header.and_then(|h| h.trim().parse::<f64>().ok());
    let from_body = || serde_json::from_str::<serde_json::Value>(body).ok()?.get("retry_after")?.as_f64();
    from_header.or_else(from_body).filter(|s| s.is_finite() && *s >= 0.0).map(Duration::from_secs_f64)
}

/// The `method` label of a call: its route template, so ids never become label values.
fn route_label(path: &str) -> &'static str {
    if path.starts_with("users/@me/channels") {
        "POST /users/@me/channels"
    } else if path.contains("/messages/") {
        "PATCH /channels/{id}/messages/{id}"
    } else if path.ends_with("/messages") {
        "POST /channels/{id}/messages"
    } else if path == "users/@me" {
        "GET /users/@me"
    } else if path.starts_with("channels/") && path.matches('/').count() == 1 {
        "GET /channels/{id}"
    } else {
        "other"
    }
}

/// Classifies an unsuccessful status with its `Retry-After` header and body. A refusal is
/// named by Discord's message in snake case (`unknown_channel`, `missing_access`), or by its
/// status (`http_403`) when the body has none.
pub fn classify(status: StatusCode, retry_header: Option<&str>, body: &str) -> DiscordApiError {
    let detail = || format!("HTTP {} {}", status.as_u16(), body.chars().take(300).collect::<String>());
    if status == StatusCode::TOO_MANY_REQUESTS {
        DiscordApiError::RateLimited { retry_after: retry_after(retry_header, body) }
    } else if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
        DiscordApiError::Transient(detail())
    } else {
        tracing::warn!(status = status.as_u16(), body = %body.chars().take(300).collect::<String>(), "Discord refused a call");
        DiscordApiError::Rejected(refusal_reason(status, body))
    }
}

/// The short reason of a refusal: Discord's `message` in snake case, else `http_<status>`.
fn refusal_reason(status: StatusCode, body: &str) -> String {
    let message = serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_default();
    let mut reason = String::new();
    for c in message.chars().take_while(|c| *c != ':') {
        if c.is_ascii_alphanumeric() {
            reason.push(c.to_ascii_lowercase());
        } else if !reason.is_empty() && !reason.ends_with('_') {
            reason.push('_');
        }
    }
    let reason = reason.trim_end_matches('_');
    if reason.is_empty() || reason.chars().all(|c| c.is_ascii_digit() || c == '_') {
        format!("http_{}", status.as_u16())
    } else {
        reason.chars().take(48).collect()
    }
}

impl DiscordApi {
    /// A client for the REST API at `api_url` (`https://discord.com/api/v10/`; tests pass
    /// `http://127.0.0.1:PORT/api/v10/`) with the bot token.
    pub fn new(api_url: &str, bot_token: &str) -> anyhow::Result<Self> {
        let base = api_url.trim().trim_end_matches('/');
        if !(base.starts_with("https://") || base.starts_with("http://")) {
            anyhow::bail!("Discord api_url must start with https:// or http://, got {api_url:?}");
        }
        let http = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self {
            http,
            base: format!("{base}/"),
            auth: format!("Bot {}", bot_token.trim()),
            timeout: CALL_TIMEOUT,
            dm_channels: Mutex::new(HashMap::new()),
        })
    }

    /// Changes the per-call timeout (tests use a short one).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    async fn call<T: for<'de> Deserialize<'de>>(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &impl Serialize,
    ) -> Result<T, DiscordApiError> {
        let url = format!("{}{path}", self.base);
        let route = route_label(path);
        let request =
            self.http.request(method.clone(), &url).header(reqwest::header::AUTHORIZATION, &self.auth);
        let request = if method == reqwest::Method::GET { request } else { request.json(body) };
        let started = std::time::Instant::now();
        let sent = request.timeout(self.timeout).send().await;
        crate::metrics::chat_api_latency("discord", route, started.elapsed().as_secs_f64());
        let response = match sent {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                crate::metrics::chat_api_call("discord", route, "timeout");
                return Err(DiscordApiError::Transient(format!("{path} timed out after {:?}", self.timeout)));
            }
            Err(e) => {
                crate::metrics::chat_api_call("discord", route, "error");
                return Err(DiscordApiError::Transient(format!("{path}: {e}")));
            }
        };
        let status = response.status();
        crate::metrics::chat_api_call("discord", route, &crate::metrics::http_status_label(status.as_u16()));
        let retry = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let text = response.text().await.map_err(|e| DiscordApiError::Transient(format!("{path}: {e}")))?;
        if !status.is_success() {
            return Err(classify(status, retry.as_deref(), &text));
        }
        serde_json::from_str(&text)
            .map_err(|e| DiscordApiError::Transient(format!("{path}: unreadable reply: {e}")))
    }

    /// `GET /users/@me`: the bot user the token belongs to (`pimbot check --online`).
    pub async fn current_user(&self) -> Result<serde_json::Value, DiscordApiError> {
        self.call(reqwest::Method::GET, "users/@me", &()).await
    }

    /// `GET /channels/{channel}`: the channel, if the bot may view it (`pimbot check --online`).
    pub async fn channel(&self, channel: &str) -> Result<serde_json::Value, DiscordApiError> {
        self.call(reqwest::Method::GET, &format!("channels/{channel}"), &()).await
    }

    /// `POST /channels/{channel}/messages`.
    pub async fn create_message(
        &self,
        channel: &str,
        body: &CreateMessage,
    ) -> Result<Posted, DiscordApiError> {
        self.call(reqwest::Method::POST, &format!("channels/{channel}/messages"), body).await
    }

    /// `PATCH /channels/{channel}/messages/{message}`.
    pub async fn edit_message(
        &self,
        channel: &str,
        message: &str,
        body: &EditMessage,
    ) -> Result<Posted, DiscordApiError> {
        self.call(reqwest::Method::PATCH, &format!("channels/{channel}/messages/{message}"), body).await
    }

    /// `POST /users/@me/channels {recipient_id}`: the bot's DM channel with `user` (cached).
    pub async fn dm_channel(&self, user: &str) -> Result<String, DiscordApiError> {
        if let Some(c) = self.dm_channels.lock().unwrap_or_else(|e| e.into_inner()).get(user) {
            return Ok(c.clone());
        }
        let channel: ChannelObject =
            self.call(reqwest::Method::POST, "users/@me/channels", &json!({"recipient_id": user})).await?;
        self.dm_channels
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(user.to_owned(), channel.id.clone());
        Ok(channel.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_and_waits_read_from_header_or_body() {
        let limited = classify(StatusCode::TOO_MANY_REQUESTS, Some("65"), "{}");
        assert_eq!(limited, DiscordApiError::RateLimited { retry_after: Some(Duration::from_secs(65)) });
        let body = r#"{"message": "You are being rate limited.", "retry_after": 1.5, "global": false}"#;
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, None, body),
            DiscordApiError::RateLimited { retry_after: Some(Duration::from_millis(1500)) }
        );
        assert_eq!(
            classify(StatusCode::TOO_MANY_REQUESTS, Some("soon"), "nope"),
            DiscordApiError::RateLimited { retry_after: None }
        );
        assert!(matches!(classify(StatusCode::BAD_GATEWAY, None, ""), DiscordApiError::Transient(_)));
        assert_eq!(
            classify(StatusCode::NOT_FOUND, None, r#"{"message": "Unknown Channel", "code": 10003}"#),
            DiscordApiError::Rejected("unknown_channel".into())
        );
        assert_eq!(
            classify(StatusCode::UNAUTHORIZED, None, r#"{"message": "401: Unauthorized", "code": 0}"#),
            DiscordApiError::Rejected("http_401".into())
        );
        assert_eq!(classify(StatusCode::NOT_FOUND, None, "{}"), DiscordApiError::Rejected("http_404".into()));
        assert!(matches!(classify(StatusCode::FORBIDDEN, None, "{}"), DiscordApiError::Rejected(_)));
    }

    #[test]
    fn the_base_url_must_be_http() {
        assert!(DiscordApi::new("ftp://x", "t").is_err());
        assert!(DiscordApi::new("http://127.0.0.1:1/api/v10", "t").is_ok());
    }
}
