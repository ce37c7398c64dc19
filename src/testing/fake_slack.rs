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
use axum::routing::post;
use serde_json::Value;

use super::fake_slack_faults::Faults;
pub use super::fake_slack_faults::Hold;
use super::fake_slack_state::{FakeMessage, Messages};

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
            .route("/api/{method}", post(http::api).get(http::api_get))
            .route("/hooks/{*rest}", post(http::hook))
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

#[path = "fake_slack_http.rs"]
mod http;
