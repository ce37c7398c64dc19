//! A fake Discord REST API on `127.0.0.1:0` for tests: channel messages (create, edit), DM
//! channels, application command registration and interaction webhooks under `/api/v10`,
//! answered with complete Message objects, `Authorization: Bot <token>` checked, every call
//! recorded in order, the messages' current content kept, and failures injectable.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::routing::{get, patch, post, put};
use serde_json::Value;
use tokio::sync::watch;

use super::fake_discord_state::{DiscordMessage, State as Messages};
use super::fake_slack_faults::Hold;

/// The bot token [`FakeDiscord::start`] expects (`Authorization: Bot …`).
pub const FAKE_DISCORD_TOKEN: &str = "ZmFrZS1kaXNjb3JkLWJvdA.fake.discord-bot-token";

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct DiscordCall {
    /// HTTP method.
    pub method: String,
    /// Request path (`/api/v10/channels/9/messages`).
    pub path: String,
    /// JSON body (`null` when none).
    pub body: Value,
    /// When it arrived.
    pub at: Instant,
    /// `None` when accepted; else the status the fake answered.
    pub failure: Option<String>,
}

#[derive(Debug, Clone)]
enum Fault {
    Status(u16),
    RateLimit(u64),
}

#[derive(Debug)]
struct Inner {
    token: String,
    calls: Vec<DiscordCall>,
    faults: VecDeque<(usize, Fault)>,
    state: Messages,
    commands: Vec<Value>,
    /// Holds for the next message creates, and how many were held so far.
    holds: VecDeque<Hold>,
    held: usize,
    release: watch::Sender<bool>,
    /// Channels `GET /channels/{id}` knows: name, and whether the bot may view it.
    channels: std::collections::HashMap<String, (String, bool)>,
    /// Calls a test has taken (see [`super::expect`]).
    taken: super::expect::Taken,
}

impl Inner {
    fn new(token: &str) -> Self {
        Self {
            token: token.to_owned(),
            calls: Vec::new(),
            faults: VecDeque::new(),
            state: Messages::default(),
            commands: Vec::new(),
            holds: VecDeque::new(),
            held: 0,
            release: watch::channel(false).0,
            channels: std::collections::HashMap::new(),
            taken: Default::default(),
        }
    }
}

type Shared = Arc<Mutex<Inner>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running fake Discord. The server stops when this is dropped.
#[derive(Debug)]
pub struct FakeDiscord {
    addr: SocketAddr,
    inner: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeDiscord {
    /// Starts a fake expecting [`FAKE_DISCORD_TOKEN`]. Panics if no local port can be bound.
    pub async fn start() -> Self {
        match Self::try_start(FAKE_DISCORD_TOKEN).await {
            Ok(fake) => fake,
            Err(e) => panic!("fake Discord could not bind 127.0.0.1:0: {e}"),
        }
    }

    /// Starts a fake expecting `token`.
    pub async fn try_start(token: &str) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let inner: Shared = Arc::new(Mutex::new(Inner::new(token)));
        let app = Router::new()
            .route("/api/v10/channels/{channel}/messages", post(http::create_message))
            .route("/api/v10/channels/{channel}/messages/{id}", patch(http::edit_message))
            .route("/api/v10/users/@me/channels", post(http::open_dm))
            .route("/api/v10/users/@me", get(http::current_user))
            .route("/api/v10/channels/{channel}", get(http::get_channel))
            .route("/api/v10/applications/{app}/commands", put(http::set_commands))
            .route("/api/v10/applications/{app}/guilds/{guild}/commands", put(http::set_commands))
            .route("/api/v10/webhooks/{app}/{token}", post(http::webhook))
            .route("/api/v10/webhooks/{app}/{token}/messages/{id}", patch(http::webhook))
            .with_state(inner.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "fake Discord stopped");
            }
        });
        Ok(Self { addr, inner, server })
    }

    /// The token the fake expects.
    pub fn token(&self) -> String {
        lock(&self.inner).token.clone()
    }

    /// `http://127.0.0.1:PORT/api/v10/`, the `api_url` to configure.
    pub fn api_url(&self) -> String {
        format!("http://{}/api/v10/", self.addr)
    }

    /// Every call, accepted or not, in order.
    pub fn calls(&self) -> Vec<DiscordCall> {
        lock(&self.inner).calls.clone()
    }

    /// Calls the fake answered with a failure.
    pub fn failed_calls(&self) -> Vec<DiscordCall> {
        self.calls().into_iter().filter(|c| c.failure.is_some()).collect()
    }

    /// Every message with its current content, in creation order.
    pub fn messages(&self) -> Vec<DiscordMessage> {
        lock(&self.inner).state.messages.clone()
    }

    /// Messages in `channel`, oldest first.
    pub fn channel(&self, channel: &str) -> Vec<DiscordMessage> {
        self.messages().into_iter().filter(|m| m.channel_id == channel).collect()
    }

    /// Direct messages sent to `user`.
    pub fn dms(&self, user: &str) -> Vec<DiscordMessage> {
        self.messages().into_iter().filter(|m| m.dm_user.as_deref() == Some(user)).collect()
    }

    /// The command tree last registered (the PUT body).
    pub fn registered_commands(&self) -> Vec<Value> {
        lock(&self.inner).commands.clone()
    }

    /// The next `n` calls get HTTP `status`.
    pub fn fail_next(&self, n: usize, status: u16) {
        if n > 0 {
            lock(&self.inner).faults.push_back((n, Fault::Status(status)));
        }
    }

    /// The next `n` calls get HTTP 429 with `Retry-After` and `retry_after` of `secs`.
    pub fn rate_limit_next(&self, n: usize, secs: u64) {
        if n > 0 {
            lock(&self.inner).faults.push_back((n, Fault::RateLimit(secs)));
        }
    }

    /// The next `n` message creates are held (see [`Hold`]): they hang unprocessed until
    /// [`FakeDiscord::release_held`], or are processed at once and answered late.
    pub fn hold_next_creates(&self, n: usize, hold: Hold) {
        let mut inner = lock(&self.inner);
        let _ = inner.release.send(false);
        inner.holds.extend(std::iter::repeat_n(hold, n));
    }

    /// Lets hung creates answer (503, nothing created).
    pub fn release_held(&self) {
        let _ = lock(&self.inner).release.send(true);
    }

    /// Makes `channel` unknown: creates in it are answered 404 `Unknown Channel` (10003).
    pub fn remove_channel(&self, channel: &str) {
        lock(&self.inner).state.removed.push(channel.to_owned());
    }

    /// How many creates were held so far.
    pub fn held_calls(&self) -> usize {
        lock(&self.inner).held
    }

    /// Waits until `pred` holds for the messages, or fails after `timeout` with what is there.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        pred: impl Fn(&[DiscordMessage]) -> bool,
    ) -> Result<Vec<DiscordMessage>, String> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if pred(&messages) {
                return Ok(messages);
            }
            if Instant::now() >= deadline {
                return Err(format!("condition not met within {timeout:?}; messages: {messages:#?}"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl FakeDiscord {
    /// Makes `GET /channels/{id}` know channel `id` as `#name`, viewable by the bot or not
    /// (403 Missing Access). Channels never added answer 404 Unknown Channel.
    pub fn add_channel(&self, id: &str, name: &str, viewable: bool) {
        lock(&self.inner).channels.insert(id.to_owned(), (name.to_owned(), viewable));
    }
}

#[path = "fake_discord_expect.rs"]
mod expect;

#[path = "fake_discord_http.rs"]
mod http;
