//! A fake Discord REST API on `127.0.0.1:0` for tests: channel messages (create, edit), DM
//! channels, application command registration and interaction webhooks under `/api/v10`,
//! answered with complete Message objects, `Authorization: Bot <token>` checked, every call
//! recorded in order, the messages' current content kept, and failures injectable.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, patch, post, put};
use serde_json::{Value, json};
use tokio::sync::watch;

use super::fake_discord_state::{DiscordMessage, State as Messages, validate};
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
            .route("/api/v10/channels/{channel}/messages", post(create_message))
            .route("/api/v10/channels/{channel}/messages/{id}", patch(edit_message))
            .route("/api/v10/users/@me/channels", post(open_dm))
            .route("/api/v10/users/@me", get(current_user))
            .route("/api/v10/channels/{channel}", get(get_channel))
            .route("/api/v10/applications/{app}/commands", put(set_commands))
            .route("/api/v10/applications/{app}/guilds/{guild}/commands", put(set_commands))
            .route("/api/v10/webhooks/{app}/{token}", post(webhook))
            .route("/api/v10/webhooks/{app}/{token}/messages/{id}", patch(webhook))
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

async fn current_user(State(shared): State<Shared>, method: Method, headers: HeaderMap) -> Response {
    let mut inner = lock(&shared);
    if let Some(resp) = admit(&mut inner, &method, "/api/v10/users/@me".into(), &headers, &Value::Null, true)
    {
        return resp;
    }
    axum::Json(super::fake_discord_state::bot_user()).into_response()
}

async fn get_channel(
    State(shared): State<Shared>,
    Path(channel): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let mut inner = lock(&shared);
    let path = format!("/api/v10/channels/{channel}");
    if let Some(resp) = admit(&mut inner, &method, path, &headers, &Value::Null, true) {
        return resp;
    }
    match inner.channels.get(&channel).cloned() {
        None => {
            mark_failed(&mut inner, "HTTP 404");
            error(StatusCode::NOT_FOUND, "Unknown Channel", 10003)
        }
        Some((_, false)) => {
            mark_failed(&mut inner, "HTTP 403");
            error(StatusCode::FORBIDDEN, "Missing Access", 50001)
        }
        Some((name, true)) => {
            axum::Json(super::fake_discord_state::text_channel(&channel, &name)).into_response()
        }
    }
}

#[path = "fake_discord_expect.rs"]
mod expect;

fn error(status: StatusCode, message: &str, code: u32) -> Response {
    (status, axum::Json(json!({"message": message, "code": code}))).into_response()
}

/// Records the call, applies a queued fault or the auth check; `Some` is the refusal to send.
fn admit(
    inner: &mut Inner,
    method: &Method,
    path: String,
    headers: &HeaderMap,
    body: &Value,
    needs_auth: bool,
) -> Option<Response> {
    let mut record = |failure: Option<String>| {
        inner.calls.push(DiscordCall {
            method: method.to_string(),
            path: path.clone(),
            body: body.clone(),
            at: Instant::now(),
            failure,
        });
    };
    let fault = match inner.faults.front_mut() {
        Some((left, fault)) => {
            *left -= 1;
            Some(fault.clone())
        }
        None => None,
    };
    if inner.faults.front().is_some_and(|(left, _)| *left == 0) {
        inner.faults.pop_front();
    }
    let refusal = match fault {
        Some(Fault::Status(code)) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            Some((error(status, "fake failure", 0), format!("HTTP {code}")))
        }
        Some(Fault::RateLimit(secs)) => {
            let body =
                json!({"message": "You are being rate limited.", "retry_after": secs, "global": false});
            let mut resp = (StatusCode::TOO_MANY_REQUESTS, axum::Json(body)).into_response();
            resp.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
            resp.headers_mut().insert("x-ratelimit-scope", header::HeaderValue::from_static("user"));
            Some((resp, "HTTP 429".into()))
        }
        None => {
            let auth = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
            let expected = format!("Bot {}", inner.token);
            (needs_auth && auth != Some(expected.as_str()))
                .then(|| (error(StatusCode::UNAUTHORIZED, "401: Unauthorized", 0), "HTTP 401".to_owned()))
        }
    };
    match refusal {
        Some((resp, why)) => {
            record(Some(why));
            Some(resp)
        }
        None => {
            record(None);
            None
        }
    }
}

fn json_body(body: &Bytes) -> Value {
    serde_json::from_slice(body).unwrap_or(Value::Null)
}

fn mark_failed(inner: &mut Inner, why: &str) {
    if let Some(last) = inner.calls.last_mut() {
        last.failure = Some(why.to_owned());
    }
}

async fn create_message(
    State(shared): State<Shared>,
    Path(channel): Path<String>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let held = {
        let mut inner = lock(&shared);
        inner.holds.pop_front().map(|hold| {
            inner.held += 1;
            (hold, inner.release.subscribe())
        })
    };
    match held {
        None => create_now(&shared, &channel, &method, &headers, &body),
        Some((Hold::Hang, mut released)) => {
            let path = format!("/api/v10/channels/{channel}/messages");
            lock(&shared).calls.push(DiscordCall {
                method: method.to_string(),
                path,
                body: json_body(&body),
                at: Instant::now(),
                failure: Some("hung".into()),
            });
            let _ = released.wait_for(|r| *r).await;
            error(StatusCode::SERVICE_UNAVAILABLE, "fake: held call released", 0)
        }
        Some((Hold::AnswerLate(delay), _)) => {
            let response = create_now(&shared, &channel, &method, &headers, &body);
            tokio::time::sleep(delay).await;
            response
        }
    }
}

/// Creates a message, or answers with the message a repeated `nonce` already created when
/// `enforce_nonce` is set (Discord's deduplication).
fn create_now(
    shared: &Shared,
    channel: &str,
    method: &Method,
    headers: &HeaderMap,
    body: &Bytes,
) -> Response {
    let body = json_body(body);
    let mut inner = lock(shared);
    if let Some(resp) =
        admit(&mut inner, method, format!("/api/v10/channels/{channel}/messages"), headers, &body, true)
    {
        return resp;
    }
    if let Err(e) = validate(&body, true) {
        mark_failed(&mut inner, &e);
        return error(StatusCode::BAD_REQUEST, &format!("Invalid Form Body: {e}"), 50035);
    }
    if !inner.state.channel_exists(channel) {
        mark_failed(&mut inner, "Unknown Channel");
        return error(StatusCode::NOT_FOUND, "Unknown Channel", 10003);
    }
    axum::Json(inner.state.create(channel, &body).to_wire()).into_response()
}

async fn edit_message(
    State(shared): State<Shared>,
    Path((channel, id)): Path<(String, String)>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = json_body(&body);
    let mut inner = lock(&shared);
    let path = format!("/api/v10/channels/{channel}/messages/{id}");
    if let Some(resp) = admit(&mut inner, &method, path, &headers, &body, true) {
        return resp;
    }
    if let Err(e) = validate(&body, false) {
        mark_failed(&mut inner, &e);
        return error(StatusCode::BAD_REQUEST, &format!("Invalid Form Body: {e}"), 50035);
    }
    match inner.state.edit(&channel, &id, &body) {
        Some(msg) => axum::Json(msg.to_wire()).into_response(),
        None => {
            mark_failed(&mut inner, "Unknown Message");
            error(StatusCode::NOT_FOUND, "Unknown Message", 10008)
        }
    }
}

async fn open_dm(State(shared): State<Shared>, method: Method, headers: HeaderMap, body: Bytes) -> Response {
    let body = json_body(&body);
    let mut inner = lock(&shared);
    if let Some(resp) =
        admit(&mut inner, &method, "/api/v10/users/@me/channels".into(), &headers, &body, true)
    {
        return resp;
    }
    let Some(user) = body["recipient_id"].as_str().filter(|u| !u.is_empty()) else {
        mark_failed(&mut inner, "no recipient_id");
        return error(StatusCode::BAD_REQUEST, "Invalid Form Body", 50035);
    };
    let id = inner.state.dm_channel(user);
    axum::Json(json!({
        "id": id, "type": 1, "last_message_id": null, "flags": 0,
        "recipients": [{"id": user, "username": format!("user{user}"), "discriminator": "0", "avatar": null}]
    }))
    .into_response()
}

async fn set_commands(
    State(shared): State<Shared>,
    Path(params): Path<Vec<(String, String)>>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = json_body(&body);
    let mut inner = lock(&shared);
    if let Some(resp) = admit(&mut inner, &method, uri.path().to_owned(), &headers, &body, true) {
        return resp;
    }
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (app, guild) = (param("app").unwrap_or_default(), param("guild"));
    let commands: Vec<Value> = body.as_array().cloned().unwrap_or_default();
    inner.commands = commands.clone();
    let registered: Vec<Value> = commands
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            c["id"] = json!((1_300_000_000_000_000_000u64 + i as u64).to_string());
            c["application_id"] = json!(app);
            c["guild_id"] = guild.as_ref().map(|g| json!(g)).unwrap_or(Value::Null);
            c["version"] = json!("1300000000000000001");
            c["type"] = json!(1);
            c["default_member_permissions"] = Value::Null;
            c
        })
        .collect();
    axum::Json(Value::Array(registered)).into_response()
}

async fn webhook(
    State(shared): State<Shared>,
    method: Method,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = json_body(&body);
    let mut inner = lock(&shared);
    if let Some(resp) = admit(&mut inner, &method, uri.path().to_owned(), &headers, &body, false) {
        return resp;
    }
    axum::Json(inner.state.create("webhook", &body).to_wire()).into_response()
}
