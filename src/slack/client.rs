//! A thin Slack Web API client: slack-morphism's `SlackClient` on an `https_or_http` rustls
//! connector (Mozilla roots, so no CA bundle is needed; plain `http://` for local fakes), a
//! bot token, a per-call timeout, and errors classified into what a caller can act on.
//!
//! slack-morphism's own rate control and retries stay off: the outbox dispatcher owns retries.

use std::time::Duration;

use hyper_util::client::legacy::connect::HttpConnector;
use slack_morphism::errors::SlackClientError;
use slack_morphism::prelude::*;

/// How long one Web API call may take before it counts as failed.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A failed Web API call, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlackApiError {
    /// HTTP 429 or `ok:false` with `ratelimited`; wait `retry_after` when Slack said how long.
    #[error("rate limited by Slack (retry after {retry_after:?})")]
    RateLimited {
        /// The `Retry-After` header, when present.
        retry_after: Option<Duration>,
    },
    /// Worth another try later: 5xx, timeout, connection failure, a reply that did not parse.
    #[error("transient Slack failure: {0}")]
    Transient(String),
    /// Slack refused the call for good (`channel_not_found`, `invalid_auth`, other 4xx …).
    #[error("Slack refused the call: {0}")]
    Rejected(String),
}

/// `ok:false` codes Slack documents as temporary server-side trouble.
const TRANSIENT_CODES: &[&str] = &["internal_error", "fatal_error", "service_unavailable", "request_timeout"];

impl SlackApiError {
    /// Classifies a slack-morphism error.
    pub fn classify(err: &SlackClientError) -> Self {
        match err {
            SlackClientError::RateLimitError(e) => Self::RateLimited { retry_after: e.retry_after },
            SlackClientError::ApiError(e) if e.code == "ratelimited" || e.code == "rate_limited" => {
                Self::RateLimited { retry_after: None }
            }
            SlackClientError::ApiError(e) if TRANSIENT_CODES.contains(&e.code.as_str()) => {
                Self::Transient(e.code.clone())
            }
            SlackClientError::ApiError(e) => Self::Rejected(e.code.clone()),
            SlackClientError::HttpError(e) => {
                let status = e.status_code;
                if status.is_server_error() || status.as_u16() == 408 {
                    Self::Transient(format!("HTTP {status}"))
                } else {
                    Self::Rejected(format!("HTTP {status}"))
                }
            }
            // A reply that does not parse may come from a proxy or a half-read body: try again.
            SlackClientError::ProtocolError(e) => {
                Self::Transient(format!("unreadable reply: {}", e.json_error))
            }
            SlackClientError::HttpProtocolError(_)
            | SlackClientError::EndOfStream(_)
            | SlackClientError::SystemError(_) => Self::Transient(first_line(&err.to_string())),
            SlackClientError::SocketModeProtocolError(e) => Self::Rejected(e.message.clone()),
        }
    }
}

/// The `status` label of `pimbot_chat_api_calls_total` for a failed call: `429`, `5xx`, another
/// HTTP status, Slack's error code, or `error` for transport failures.
fn status_label(err: &SlackClientError) -> String {
    match err {
        SlackClientError::RateLimitError(_) => "429".into(),
        SlackClientError::ApiError(e) if e.code == "ratelimited" || e.code == "rate_limited" => "429".into(),
        SlackClientError::ApiError(e) => e.code.clone(),
        SlackClientError::HttpError(e) if e.status_code.is_server_error() => "5xx".into(),
        SlackClientError::HttpError(e) => e.status_code.as_u16().to_string(),
        _ => "error".into(),
    }
}

/// Keeps log lines short: slack-morphism errors can carry whole bodies.
fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or_default().chars().take(300).collect()
}

/// Where `chat.postMessage` put a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posted {
    /// The channel id Slack reports (a `D…` id when posting to a user).
    pub channel: String,
    /// The message's `ts`, its id for updates and threads.
    pub ts: String,
}

/// The connector every Slack client of pimbot uses: rustls with Mozilla roots, plain `http://`
/// allowed for local fakes, calls going to `api_url` (`https://slack.com/api/`). Fails on a URL
/// that is not http(s).
pub fn connector(api_url: &str) -> anyhow::Result<SlackClientHyperHttpsConnector> {
    let base = api_url.trim().trim_end_matches('/');
    if !(base.starts_with("https://") || base.starts_with("http://")) {
        anyhow::bail!("Slack api_url must start with https:// or http://, got {api_url:?}");
    }
    let mut http = HttpConnector::new();
    http.enforce_http(false);
    http.set_connect_timeout(Some(Duration::from_secs(5)));
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .enable_http2()
        .wrap_connector(http);
    Ok(SlackClientHyperConnector::with_connector(https).with_slack_api_url(base))
}

/// The Slack Web API as pimbot uses it: post, update, ephemeral, open a modal.
pub struct SlackApi {
    pub(super) client: SlackClient<SlackClientHyperHttpsConnector>,
    pub(super) token: SlackApiToken,
    timeout: Duration,
}

impl std::fmt::Debug for SlackApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SlackApi").field("timeout", &self.timeout).finish_non_exhaustive()
    }
}

impl SlackApi {
    /// A client for the Web API at `api_url` (`https://slack.com/api/`; tests pass
    /// `http://127.0.0.1:PORT/api/`) with the bot token. Fails on a URL that is not http(s).
    pub fn new(api_url: &str, bot_token: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: SlackClient::new(connector(api_url)?),
            token: SlackApiToken::new(bot_token.to_owned().into()),
            timeout: CALL_TIMEOUT,
        })
    }

    /// Changes the per-call timeout (tests use a short one).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub(super) async fn run<T>(
        &self,
        call: impl std::future::Future<Output = ClientResult<T>>,
        what: &str,
    ) -> Result<T, SlackApiError> {
        let started = std::time::Instant::now();
        let outcome = tokio::time::timeout(self.timeout, call).await;
        crate::metrics::chat_api_latency("slack", what, started.elapsed().as_secs_f64());
        match outcome {
            Ok(Ok(v)) => {
                crate::metrics::chat_api_call("slack", what, "ok");
                Ok(v)
            }
            Ok(Err(e)) => {
                crate::metrics::chat_api_call("slack", what, &status_label(&e));
                let classified = SlackApiError::classify(&e);
                tracing::debug!(method = what, error = %classified, "Slack call failed");
                Err(classified)
            }
            Err(_) => {
                crate::metrics::chat_api_call("slack", what, "timeout");
                Err(SlackApiError::Transient(format!("{what} timed out after {:?}", self.timeout)))
            }
        }
    }

    /// `chat.postMessage`; returns where the message landed. With `thread_ts`, a thread reply.
    /// `channel` may be a user id (a DM); the answer then names the DM channel (`D…`), which
    /// is what `chat.update` needs later.
    pub async fn post_message(
        &self,
        channel: &str,
        content: SlackMessageContent,
        thread_ts: Option<&str>,
    ) -> Result<Posted, SlackApiError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatPostMessageRequest::new(channel.into(), content)
            .opt_thread_ts(thread_ts.map(|ts| ts.into()));
        let res = self.run(session.chat_post_message(&req), "chat.postMessage").await?;
        Ok(Posted { channel: res.channel.0, ts: res.ts.0 })
    }

    /// `chat.update` of the message `ts` in `channel`.
    pub async fn update(
        &self,
        channel: &str,
        ts: &str,
        content: SlackMessageContent,
    ) -> Result<(), SlackApiError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatUpdateRequest::new(channel.into(), content, ts.into());
        self.run(session.chat_update(&req), "chat.update").await.map(drop)
    }

    /// `chat.postEphemeral`: a message only `user` sees in `channel`.
    pub async fn post_ephemeral(
        &self,
        channel: &str,
        user: &str,
        content: SlackMessageContent,
    ) -> Result<(), SlackApiError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiChatPostEphemeralRequest::new(channel.into(), user.into(), content);
        self.run(session.chat_post_ephemeral(&req), "chat.postEphemeral").await.map(drop)
    }

    /// `views.open` with a trigger id from a slash command or a click (valid for 3 s).
    pub async fn views_open(&self, trigger_id: &str, view: SlackView) -> Result<(), SlackApiError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiViewsOpenRequest::new(trigger_id.into(), view);
        self.run(session.views_open(&req), "views.open").await.map(drop)
    }

    /// `users.info` (a GET): the profile email of `user`, or `None` when the profile has none
    /// or the user is deleted, a bot, a guest, invited or from another organisation (Slack
    /// Connect). Needs the `users:read.email` scope.
    pub async fn users_info(&self, user: &str) -> Result<Option<String>, SlackApiError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiUsersInfoRequest::new(user.into());
        let res = self.run(session.users_info(&req), "users.info").await?;
        Ok(profile_email(&res.user))
    }

    /// Posts to an interaction's `response_url` (absolute; no token). `replace_original` updates
    /// the message the click came from.
    pub async fn respond(
        &self,
        response_url: &str,
        content: SlackMessageContent,
        replace_original: bool,
    ) -> Result<(), SlackApiError> {
        // `SlackResponseUrl` wraps a `url::Url`; going through serde avoids a direct `url` dependency.
        let url: SlackResponseUrl =
            serde_json::from_value(serde_json::Value::String(response_url.to_owned()))
                .map_err(|e| SlackApiError::Rejected(format!("bad response_url: {e}")))?;
        let req = SlackApiPostWebhookMessageRequest::new(content).with_replace_original(replace_original);
        self.run(self.client.respond_to_event(&url, &req), "response_url").await.map(drop)
    }
}

/// What `auth.test` says about a token (`pimbot check --online`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    /// Workspace name.
    pub team: String,
    /// The bot's user id.
    pub user_id: String,
    /// The bot's user name, when Slack gives it.
    pub user: Option<String>,
}

/// What `conversations.info` says about a channel (`pimbot check --online`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelFacts {
    /// `#name`, when Slack gives it.
    pub name: Option<String>,
    /// Whether the bot is a member.
    pub is_member: bool,
    /// Whether it is a private channel.
    pub is_private: bool,
    /// Whether it is archived (nothing can be posted).
    pub is_archived: bool,
}

impl SlackApi {
    /// `auth.test`: whether the token works, and whose it is.
    pub async fn auth_test(&self) -> Result<TokenOwner, SlackApiError> {
        let session = self.client.open_session(&self.token);
        let res = self.run(session.auth_test(), "auth.test").await?;
        Ok(TokenOwner { team: res.team, user_id: res.user_id.0, user: res.user })
    }

    /// `conversations.info` of `channel` (needs `channels:read`, and `groups:read` for private
    /// channels).
    pub async fn conversations_info(&self, channel: &str) -> Result<ChannelFacts, SlackApiError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiConversationsInfoRequest::new(channel.into());
        let res = self.run(session.conversations_info(&req), "conversations.info").await?;
        let flags = &res.channel.flags;
        Ok(ChannelFacts {
            name: res.channel.name.clone(),
            is_member: flags.is_member == Some(true),
            is_private: flags.is_private == Some(true),
            is_archived: flags.is_archived == Some(true),
        })
    }

    /// `apps.connections.open` with this client's token, which must be the app-level token:
    /// proves it can open Socket Mode connections (the returned URL is not used).
    pub async fn apps_connections_open(&self) -> Result<(), SlackApiError> {
        let session = self.client.open_session(&self.token);
        let req = SlackApiAppsConnectionOpenRequest::new();
        self.run(session.apps_connections_open(&req), "apps.connections.open").await.map(drop)
    }
}

/// The email of a full member's profile; `None` for anyone pimbot must not match by email.
pub fn profile_email(user: &SlackUser) -> Option<String> {
    let f = &user.flags;
    let excluded = [user.deleted, f.is_bot, f.is_app_user, f.is_restricted, f.is_ultra_restricted]
        .into_iter()
        .chain([f.is_stranger, f.is_invited_user])
        .any(|flag| flag == Some(true));
    if excluded {
        return None;
    }
    let email = user.profile.as_ref()?.email.as_ref()?.0.trim();
    (!email.is_empty()).then(|| email.to_owned())
}
