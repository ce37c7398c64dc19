//! A fake Slack Web API on `127.0.0.1:0` for tests and `pimbot demo`: `auth.test`,
//! `conversations.info` (channels seeded by [`FakeSlack::add_channel`]), `chat.postMessage`,
//! `chat.update`, `chat.postEphemeral`, `views.open`, `apps.connections.open` (Socket Mode, with
//! the app-level token), `users.info` (a GET, with profile emails seeded by
//! [`FakeSlack::set_email`]), `conversations.history`/`.replies`/`.open` (message metadata kept
//! and returned with `include_all_metadata`) and `response_url` hooks, answered with
//! the documented response shapes, every call recorded in order, failures injectable (and
//! calls held: hung or answered late), and the channels' current content kept so a transcript
//! can be printed.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};

pub use super::fake_slack_faults::Hold;
use super::fake_slack_faults::{Faults, slack_error};
use super::fake_slack_state::{
    FakeMessage, Messages, field, parse_body, query_body, resolve_channel, truthy, validate_message,
    validate_view,
};

/// The bot token [`FakeSlack::start`] expects in `Authorization: Bearer …`.
pub const FAKE_BOT_TOKEN: &str = "xoxb-fake-pimbot-token";

/// The app-level token the fake's `apps.connections.open` expects by default.
pub const FAKE_APP_TOKEN: &str = "xapp-1-A0FAKEAPP-1-fake";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct SlackCall {
    /// Web API method (`chat.postMessage`) or `response_url` for hook posts.
    pub method: String,
    /// Request path (`/api/chat.postMessage`, `/hooks/msg/C1/1700000000.000100`).
    pub path: String,
    /// JSON body (form bodies are turned into a JSON object of strings).
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
    /// `None` when the fake accepted the call; else the HTTP status or Slack error it answered.
    pub failure: Option<String>,
}

#[derive(Debug, Default)]
struct Inner {
    token: String,
    calls: Vec<SlackCall>,
    faults: Faults,
    messages: Messages,
    views_opened: u64,
    /// `(app token, WebSocket URL)` once Socket Mode is enabled.
    socket: Option<(String, String)>,
    /// Seeded profile emails by user id (`users.info`).
    emails: std::collections::HashMap<String, String>,
    /// Channels that no longer exist (posts answered `channel_not_found`).
    removed: Vec<String>,
    /// Channels `conversations.info` knows, by id.
    channels: std::collections::HashMap<String, super::fake_slack_state::FakeChannel>,
    /// Calls a test has taken (see [`super::expect`]).
    taken: super::expect::Taken,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running fake Slack. The server stops when this is dropped.
#[derive(Debug)]
pub struct FakeSlack {
    addr: SocketAddr,
    inner: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeSlack {
    /// Starts a fake expecting [`FAKE_BOT_TOKEN`]. Panics if no local port can be bound.
    pub async fn start() -> Self {
        Self::start_with_token(FAKE_BOT_TOKEN).await
    }

    /// Starts a fake expecting `token`. Panics if no local port can be bound.
    pub async fn start_with_token(token: &str) -> Self {
        match Self::try_start(token).await {
            Ok(fake) => fake,
            Err(e) => panic!("fake Slack could not bind 127.0.0.1:0: {e}"),
        }
    }

    /// Starts a fake expecting `token`.
    pub async fn try_start(token: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inner: Shared = Arc::new(Mutex::new(Inner { token: token.to_owned(), ..Inner::default() }));
        let app = Router::new()
            .route("/api/{method}", post(api).get(api_get))
            .route("/hooks/{*rest}", post(hook))
            .with_state(inner.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "fake Slack stopped");
            }
        });
        Ok(Self { addr, inner, server })
    }

    /// Makes `channel` unknown: posts to it are answered `channel_not_found`.
    pub fn remove_channel(&self, channel: &str) {
        lock(&self.inner).removed.push(channel.to_owned());
    }

    /// Seeds the profile email `users.info` answers for `user`.
    pub fn set_email(&self, user: &str, email: &str) {
        lock(&self.inner).emails.insert(user.to_owned(), email.to_owned());
    }

    /// Revokes the bot token: every later call with it is answered `invalid_auth`.
    pub fn revoke_token(&self) {
        lock(&self.inner).token = "xoxb-revoked-and-replaced".into();
    }

    /// Makes `conversations.info` know channel `id` as `#name`, with the bot a member or not.
    /// Channels never added answer `channel_not_found`, as Slack does for a channel the bot
    /// cannot see.
    pub fn add_channel(&self, id: &str, name: &str, is_member: bool) {
        let channel =
            super::fake_slack_state::FakeChannel { name: name.to_owned(), is_member, is_private: false };
        lock(&self.inner).channels.insert(id.to_owned(), channel);
    }

    /// The token the fake expects.
    pub fn token(&self) -> String {
        lock(&self.inner).token.clone()
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The Web API base to put in config: `http://127.0.0.1:PORT/api/`.
    pub fn api_url(&self) -> String {
        format!("{}/api/", self.base_url())
    }

    /// A `response_url` for a click on message `ts` in `channel`: posts with
    /// `replace_original` update that message, others show up as ephemeral replies.
    pub fn response_url(&self, channel: &str, ts: &str) -> String {
        format!("{}/hooks/msg/{channel}/{ts}", self.base_url())
    }

    /// Makes `apps.connections.open` with `Bearer {app_token}` answer `{"ok":true,"url":url}`
    /// (a [`super::FakeSlackSocket::url`]).
    pub fn enable_socket_mode(&self, app_token: &str, url: &str) {
        lock(&self.inner).socket = Some((app_token.to_owned(), url.to_owned()));
    }

    /// Accepted calls, in order.
    pub fn calls(&self) -> Vec<SlackCall> {
        lock(&self.inner).calls.iter().filter(|c| c.failure.is_none()).cloned().collect()
    }

    /// Calls the fake answered with a failure (injected or validation), in order.
    pub fn failed_calls(&self) -> Vec<SlackCall> {
        lock(&self.inner).calls.iter().filter(|c| c.failure.is_some()).cloned().collect()
    }

    /// Every call, accepted or not, in order.
    pub fn all_calls(&self) -> Vec<SlackCall> {
        lock(&self.inner).calls.clone()
    }

    /// Accepted calls to `method` (`chat.postMessage`, `response_url`, …), in order.
    pub fn calls_to(&self, method: &str) -> Vec<SlackCall> {
        lock(&self.inner)
            .calls
            .iter()
            .filter(|c| c.failure.is_none() && c.method == method)
            .cloned()
            .collect()
    }

    /// Removes and returns every recorded call (accepted or not). Messages are kept.
    pub fn take_calls(&self) -> Vec<SlackCall> {
        let mut inner = lock(&self.inner);
        inner.taken.clear();
        std::mem::take(&mut inner.calls)
    }

    /// Waits until at least `count` accepted calls to `method` have arrived and returns them;
    /// after `timeout`, returns an error describing what did arrive.
    pub async fn wait_for(
        &self,
        method: &str,
        count: usize,
        timeout: Duration,
    ) -> Result<Vec<SlackCall>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let calls = self.calls_to(method);
            if calls.len() >= count {
                return Ok(calls);
            }
            if Instant::now() >= deadline {
                let seen: Vec<String> = self.all_calls().iter().map(|c| c.method.clone()).collect();
                return Err(format!(
                    "wanted {count} {method} call(s) within {timeout:?}, got {}; all calls: {seen:?}",
                    calls.len()
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Drops every pending injected failure: the workspace is healthy again.
    pub fn clear_faults(&self) {
        lock(&self.inner).faults.clear();
    }

    /// The next `n` calls get HTTP `status` (for example 500 or 503).
    pub fn fail_next(&self, n: usize, status: u16) {
        lock(&self.inner).faults.status(n, status);
    }

    /// The next `n` calls get HTTP 429 with `Retry-After: retry_after_secs`.
    pub fn rate_limit_next(&self, n: usize, retry_after_secs: u64) {
        lock(&self.inner).faults.rate_limit(n, retry_after_secs);
    }

    /// The next `n` calls get HTTP 200 `{"ok":false,"error":code}`.
    pub fn fail_with_error_next(&self, n: usize, code: &str) {
        lock(&self.inner).faults.error(n, code);
    }

    /// The next `n` calls to `method` are held (see [`Hold`]): they hang unprocessed until
    /// [`FakeSlack::release_held`], or are processed at once and answered late.
    pub fn hold_next(&self, method: &str, n: usize, hold: Hold) {
        lock(&self.inner).faults.hold(method, n, hold);
    }

    /// Lets hung calls answer (503, nothing processed).
    pub fn release_held(&self) {
        lock(&self.inner).faults.release();
    }

    /// How many calls were held so far.
    pub fn held_calls(&self) -> usize {
        lock(&self.inner).faults.held
    }

    /// Every message and ephemeral posted so far, with its current content.
    pub fn messages(&self) -> Vec<FakeMessage> {
        lock(&self.inner).messages.all().to_vec()
    }

    /// The current state of message `ts` in `channel`.
    pub fn message(&self, channel: &str, ts: &str) -> Option<FakeMessage> {
        lock(&self.inner).messages.find(channel, ts).cloned()
    }

    /// How many modals were opened.
    pub fn views_opened(&self) -> u64 {
        lock(&self.inner).views_opened
    }

    /// The channels as a person would see them now: per channel, messages in order with their
    /// current text, section texts and buttons; thread replies indented; ephemerals marked.
    pub fn transcript(&self) -> String {
        lock(&self.inner).messages.transcript()
    }
}

#[path = "fake_slack_expect.rs"]
mod expect;

fn ok(body: Value) -> Response {
    let mut body = body;
    body["ok"] = Value::Bool(true);
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn record(inner: &mut Inner, method: &str, path: String, body: Value, failure: Option<String>) {
    inner.calls.push(SlackCall { method: method.to_owned(), path, body, at: Instant::now(), failure });
}

/// Reads (`users.info`) are GETs with a query string; the query is handled like a body.
async fn api_get(
    State(shared): State<Shared>,
    Path(method): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let body = query_body(query.as_deref().unwrap_or_default());
    answer(shared, method, headers, body)
}

async fn api(
    State(shared): State<Shared>,
    Path(method): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = parse_body(&headers, &body);
    let hold = lock(&shared).faults.take_hold(&method);
    match hold {
        None => answer(shared, method, headers, body),
        Some((Hold::Hang, mut released)) => {
            record(&mut lock(&shared), &method, format!("/api/{method}"), body, Some("hung".into()));
            let _ = released.wait_for(|r| *r).await;
            (StatusCode::SERVICE_UNAVAILABLE, "fake: held call released").into_response()
        }
        Some((Hold::AnswerLate(delay), _)) => {
            let response = answer(shared, method, headers, body);
            tokio::time::sleep(delay).await;
            response
        }
    }
}

fn answer(shared: Shared, method: String, headers: HeaderMap, body: Value) -> Response {
    let path = format!("/api/{method}");
    let mut inner = lock(&shared);
    if let Some((resp, why)) = inner.faults.take() {
        record(&mut inner, &method, path, body, Some(why));
        return resp;
    }
    let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let expected = match (&inner.socket, method.as_str()) {
        (Some((app_token, _)), "apps.connections.open") => format!("Bearer {app_token}"),
        _ => format!("Bearer {}", inner.token),
    };
    let result = match auth {
        None => Err("not_authed".to_owned()),
        Some(a) if a != expected => Err("invalid_auth".to_owned()),
        Some(_) => handle(&mut inner, &method, &body),
    };
    match result {
        Ok(reply) => {
            record(&mut inner, &method, path, body, None);
            ok(reply)
        }
        Err(code) => {
            record(&mut inner, &method, path, body, Some(code.clone()));
            slack_error(&code)
        }
    }
}

fn handle(inner: &mut Inner, method: &str, body: &Value) -> Result<Value, String> {
    match method {
        "chat.postMessage" => {
            let channel = resolve_channel(field(body, "channel").ok_or("channel_not_found")?);
            if inner.removed.contains(&channel) {
                return Err("channel_not_found".into());
            }
            validate_message(body)?;
            let ts = inner.messages.post(&channel, field(body, "thread_ts"), None, body);
            let text = body.get("text").cloned().unwrap_or(Value::Null);
            Ok(json!({"channel": channel, "ts": ts, "message": {"type": "message", "ts": ts, "text": text}}))
        }
        "chat.update" => {
            let channel = field(body, "channel").ok_or("channel_not_found")?;
            let ts = field(body, "ts").ok_or("message_not_found")?;
            validate_message(body)?;
            let msg = inner.messages.update(channel, ts, body).ok_or("message_not_found")?;
            Ok(json!({"channel": channel, "ts": ts, "text": msg.text, "message": {"text": msg.text}}))
        }
        "chat.postEphemeral" => {
            let channel = field(body, "channel").ok_or("channel_not_found")?.to_owned();
            let user = field(body, "user").ok_or("user_not_in_channel")?.to_owned();
            validate_message(body)?;
            let ts = inner.messages.post(&channel, field(body, "thread_ts"), Some(&user), body);
            Ok(json!({"message_ts": ts}))
        }
        "views.open" => {
            field(body, "trigger_id").ok_or("invalid_trigger_id")?;
            let mut view = body.get("view").filter(|v| v.is_object()).cloned().ok_or("invalid_arguments")?;
            validate_view(&view)?;
            inner.views_opened += 1;
            let n = inner.views_opened;
            view["id"] = json!(format!("V{n:08}"));
            view["team_id"] = json!("T0FAKE");
            view["hash"] = json!(format!("1700000000.{n:08}"));
            view["state"] = json!({"values": {}});
            Ok(json!({"view": view}))
        }
        "apps.connections.open" => match &inner.socket {
            Some((_, url)) => Ok(json!({"url": url})),
            // A bot token cannot open a socket: Slack's answer for the wrong token type.
            None => Err("not_allowed_token_type".into()),
        },
        "conversations.history" => super::fake_slack_history::history(&inner.messages, body),
        "conversations.replies" => super::fake_slack_history::replies(&inner.messages, body),
        "conversations.open" => super::fake_slack_history::open(body),
        "auth.test" => Ok(super::fake_slack_state::auth_test()),
        "conversations.info" => {
            let id = field(body, "channel").ok_or("channel_not_found")?;
            let channel = inner.channels.get(id).ok_or("channel_not_found")?;
            Ok(super::fake_slack_state::channel_info(id, channel))
        }
        "users.info" => {
            let user = field(body, "user").ok_or("user_not_found")?;
            super::fake_slack_state::user_info(user, inner.emails.get(user).map(String::as_str))
        }
        _ => Err("unknown_method".into()),
    }
}

async fn hook(
    State(shared): State<Shared>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = parse_body(&headers, &body);
    let path = format!("/hooks/{rest}");
    let mut inner = lock(&shared);
    if let Some((resp, why)) = inner.faults.take() {
        record(&mut inner, "response_url", path, body, Some(why));
        return resp;
    }
    let mut parts = rest.splitn(3, '/');
    if let (Some("msg"), Some(channel), Some(ts)) = (parts.next(), parts.next(), parts.next()) {
        if truthy(body.get("delete_original")) {
            inner.messages.delete(channel, ts);
        } else if truthy(body.get("replace_original")) {
            if inner.messages.update(channel, ts, &body).is_none() {
                record(&mut inner, "response_url", path, body, Some("message_not_found".into()));
                return (StatusCode::NOT_FOUND, "message_not_found").into_response();
            }
        } else {
            inner.messages.post(channel, None, Some("(response_url)"), &body);
        }
    }
    record(&mut inner, "response_url", path, body, None);
    ok(json!({}))
}
