//! The Bot Framework Connector client: the app token from the Entra token endpoint
//! (client credentials, scope `https://api.botframework.com/.default`, with the bot's
//! [`ClientCredential`]: secret, certificate or federated), and the REST calls relative to a
//! conversation's `serviceUrl`: send to a conversation, start a channel thread, open a personal
//! chat, update an activity in place. Failures are classified for the outbox (rate limit with
//! `Retry-After`, transient, rejected); this client never retries on its own.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Mutex;

use crate::auth::credential::ClientCredential;

/// The scope of Connector tokens.
pub const BOT_FRAMEWORK_SCOPE: &str = "https://api.botframework.com/.default";
/// Per-call timeout (Teams answers within seconds or not at all).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(15);
/// Refresh tokens this long before they expire (at most half their lifetime).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// How a Connector call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectorError {
    /// HTTP 429; wait `retry_after` when Teams said how long.
    #[error("rate limited by Teams")]
    RateLimited {
        /// From `Retry-After` (seconds or an HTTP date), when present.
        retry_after: Option<Duration>,
    },
    /// 412, 5xx, 401 (token refreshed), timeouts and network errors: try again later.
    #[error("Teams is unavailable: {0}")]
    Transient(String),
    /// Anything else (403 BotDisabledByAdmin, 404, 413 MessageSizeTooBig): give up.
    #[error("Teams refused: {0}")]
    Rejected(String),
    /// A `POST` whose outcome is unknown (a timeout or a dropped connection after the request
    /// went out, an unreadable success): Teams may have taken it.
    #[error("Teams may have taken it: {0}")]
    Unconfirmed(String),
}

#[derive(Clone)]
struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

/// Where the bot is registered and how it proves itself.
#[derive(Clone, Debug)]
pub struct BotIdentity {
    /// Microsoft App ID.
    pub app_id: String,
    /// Home tenant.
    pub tenant_id: String,
    /// Token endpoint.
    pub token_url: String,
    /// The credential.
    pub credential: ClientCredential,
}

/// The Connector client of one bot.
pub struct Connector {
    http: reqwest::Client,
    bot: BotIdentity,
    token: Mutex<Option<Cached>>,
    call_timeout: Duration,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector").field("bot", &self.bot).finish_non_exhaustive()
    }
}

/// Percent-encodes a conversation id as one path segment (ids hold `:`, `@`, `;`, `=`).
pub fn segment(id: &str) -> String {
    let mut out = String::with_capacity(id.len() * 2);
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Reads `Retry-After`: delay-seconds or an HTTP date.
pub fn retry_after(header: Option<&str>, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let h = header?.trim();
    if let Ok(secs) = h.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(h).ok()?;
    (at.with_timezone(&chrono::Utc) - now).to_std().ok().or(Some(Duration::ZERO))
}

fn classify(status: reqwest::StatusCode, retry: Option<&str>, body: &str) -> ConnectorError {
    let detail = || format!("HTTP {} {}", status.as_u16(), body.chars().take(300).collect::<String>());
    match status.as_u16() {
        429 => ConnectorError::RateLimited { retry_after: retry_after(retry, chrono::Utc::now()) },
        401 | 408 | 412 => ConnectorError::Transient(detail()),
        s if s >= 500 => ConnectorError::Transient(detail()),
        _ => ConnectorError::Rejected(detail()),
    }
}

impl Connector {
    /// A client for `bot`.
    pub fn new(bot: BotIdentity) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("pimbot/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .build()?;
        Ok(Self { http, bot, token: Mutex::new(None), call_timeout: CALL_TIMEOUT })
    }

    /// The same client with another per-call timeout (tests use a short one).
    pub fn with_call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout;
        self
    }

    /// The bot.
    pub fn bot(&self) -> &BotIdentity {
        &self.bot
    }

    async fn token(&self) -> Result<SecretString, ConnectorError> {
        let mut slot = self.token.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(c.token.clone());
        }
        let auth = self
            .bot
            .credential
            .form_fields(&self.bot.app_id, &self.bot.token_url, chrono::Utc::now())
            .await
            .map_err(|e| ConnectorError::Transient(format!("the bot credential: {e:#}")))?;
        let mut form: Vec<(&str, String)> = vec![
            ("client_id", self.bot.app_id.clone()),
            ("grant_type", "client_credentials".into()),
            ("scope", BOT_FRAMEWORK_SCOPE.into()),
        ];
        form.extend(auth);
        let started = Instant::now();
        let response = self
            .http
            .post(&self.bot.token_url)
            .timeout(self.call_timeout)
            .form(&form)
            .send()
            .await
            .map_err(|e| ConnectorError::Transient(format!("token request: {}", e.without_url())))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        if !status.is_success() {
            // The error body names the tenant and trace ids, never the secret.
            let first = text.lines().next().unwrap_or_default().chars().take(300).collect::<String>();
            let err = format!("token endpoint HTTP {}: {first}", status.as_u16());
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                ConnectorError::Transient(err)
            } else {
                ConnectorError::Rejected(err)
            });
        }
        let body: TokenResponse = serde_json::from_str(&text)
            .map_err(|e| ConnectorError::Transient(format!("token response: {e}")))?;
        let lifetime = Duration::from_secs(body.expires_in);
        let fresh = Cached {
            token: SecretString::from(body.access_token),
            refresh_at: started + lifetime - REFRESH_MARGIN.min(lifetime / 2),
        };
        *slot = Some(fresh.clone());
        Ok(fresh.token)
    }

    async fn drop_token(&self, rejected: &SecretString) {
        let mut slot = self.token.lock().await;
        if slot.as_ref().is_some_and(|c| c.token.expose_secret() == rejected.expose_secret()) {
            *slot = None;
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        url: String,
        body: &Value,
    ) -> Result<Value, ConnectorError> {
        let token = self.token().await?;
        let sent = self
            .http
            .request(method.clone(), &url)
            .timeout(self.call_timeout)
            .bearer_auth(token.expose_secret())
            .json(body)
            .send()
            .await;
        let response = match sent {
            Ok(r) => r,
            Err(e) => {
                let label = if e.is_timeout() { "timeout" } else { "error" };
                crate::metrics::chat_api_call("teams", method.as_str(), label);
                let not_sent = e.is_connect();
                let why = format!("{method} {}", e.without_url());
                // Not connected: nothing went out. A PUT is idempotent. Anything else may
                // have landed.
                return Err(if not_sent || method != reqwest::Method::POST {
                    ConnectorError::Transient(why)
                } else {
                    ConnectorError::Unconfirmed(why)
                });
            }
        };
        let status = response.status();
        let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        crate::metrics::chat_api_call(
            "teams",
            method.as_str(),
            &crate::metrics::http_status_label(status.as_u16()),
        );
        if status.is_success() {
            return Ok(serde_json::from_str(&text).unwrap_or(Value::Null));
        }
        if status.as_u16() == 401 {
            self.drop_token(&token).await;
        }
        Err(classify(status, retry.as_deref(), &text))
    }

    fn url(service_url: &str, path: &str) -> String {
        format!("{}/{path}", service_url.trim_end_matches('/'))
    }

    /// Posts `activity` into a conversation (a personal chat, or a channel thread to reply in
    /// it); returns the new activity's id.
    pub async fn send(
        &self,
        service_url: &str,
        conversation: &str,
        activity: &Value,
    ) -> Result<String, ConnectorError> {
        let url = Self::url(service_url, &format!("v3/conversations/{}/activities", segment(conversation)));
        let answer = self.call(reqwest::Method::POST, url, activity).await?;
        Ok(answer["id"].as_str().unwrap_or_default().to_owned())
    }

    /// Replaces an activity (a card) in place for everyone.
    pub async fn update(
        &self,
        service_url: &str,
        conversation: &str,
        activity_id: &str,
        activity: &Value,
    ) -> Result<(), ConnectorError> {
        let path = format!("v3/conversations/{}/activities/{}", segment(conversation), segment(activity_id));
        let mut body = activity.clone();
        body["id"] = json!(activity_id);
        self.call(reqwest::Method::PUT, Self::url(service_url, &path), &body).await.map(|_| ())
    }

    /// Starts a new thread in a channel with `activity`; returns the thread's conversation id
    /// (`<channel>;messageid=<id>`) and the root activity's id.
    pub async fn start_thread(
        &self,
        service_url: &str,
        channel: &str,
        activity: &Value,
    ) -> Result<(String, String), ConnectorError> {
        let body = json!({
            "isGroup": true,
            "channelData": {"channel": {"id": channel}, "tenant": {"id": self.bot.tenant_id}},
            "activity": activity,
        });
        let answer =
            self.call(reqwest::Method::POST, Self::url(service_url, "v3/conversations"), &body).await?;
        let id = answer["id"].as_str().unwrap_or_default().to_owned();
        let activity_id = answer["activityId"]
            .as_str()
            .map(str::to_owned)
            .or_else(|| id.split_once(";messageid=").map(|(_, m)| m.to_owned()))
            .unwrap_or_default();
        if id.is_empty() {
            // A success without a readable id: the thread may exist.
            return Err(ConnectorError::Unconfirmed("create conversation answered no id".into()));
        }
        let thread =
            if id.contains(";messageid=") { id } else { format!("{channel};messageid={activity_id}") };
        Ok((thread, activity_id))
    }

    /// Opens (or finds) the personal chat between the bot and the user `29:…`.
    pub async fn open_personal(&self, service_url: &str, user_id: &str) -> Result<String, ConnectorError> {
        let body = json!({
            "bot": {"id": format!("28:{}", self.bot.app_id)},
            "members": [{"id": user_id}],
            "channelData": {"tenant": {"id": self.bot.tenant_id}},
        });
        let answer =
            self.call(reqwest::Method::POST, Self::url(service_url, "v3/conversations"), &body).await?;
        answer["id"]
            .as_str()
            .filter(|id| !id.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| ConnectorError::Transient("create conversation answered no id".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversation_ids_are_one_encoded_segment() {
        assert_eq!(segment("19:abc@thread.tacv2;messageid=1"), "19%3Aabc%40thread.tacv2%3Bmessageid%3D1");
    }

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let now =
            chrono::DateTime::parse_from_rfc2822("Wed, 21 Oct 2026 07:28:00 GMT").expect("date").to_utc();
        assert_eq!(retry_after(Some("3"), now), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2026 07:28:10 GMT"), now), Some(Duration::from_secs(10)));
        assert_eq!(retry_after(Some("soon"), now), None);
        assert_eq!(retry_after(None, now), None);
    }
}
