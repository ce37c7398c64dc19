//! A fake Slack Socket Mode endpoint on `127.0.0.1:0`: the WebSocket side of Slack's documented
//! protocol. Each accepted connection gets `hello` first; a test then pushes `slash_commands` or
//! `interactive` envelopes to the newest open connection and awaits their acknowledgements
//! (`{"envelope_id":…,"payload":…}`), or sends `disconnect` to make the client reconnect.
//!
//! The URL a client connects to comes from `apps.connections.open` on the fake Web API
//! ([`super::FakeSlack::enable_socket_mode`]).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

#[derive(Debug)]
struct Connection {
    tx: mpsc::UnboundedSender<Message>,
    open: bool,
}

#[derive(Debug, Default)]
struct Inner {
    connections: Vec<Connection>,
    acks: HashMap<String, Value>,
    stray: Vec<String>,
    next_envelope: u64,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running fake Socket Mode endpoint. The server stops when this is dropped.
#[derive(Debug)]
pub struct FakeSlackSocket {
    addr: SocketAddr,
    inner: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeSlackSocket {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Polls `check` every 10 ms until it yields a value or `timeout` passes.
async fn poll<T>(timeout: Duration, mut check: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = check() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

impl FakeSlackSocket {
    /// Starts the endpoint. Panics if no local port can be bound.
    pub async fn start() -> Self {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("fake Slack socket could not bind 127.0.0.1:0: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("fake Slack socket has no address: {e}"),
        };
        let inner: Shared = Arc::default();
        let shared = inner.clone();
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serve(stream, shared.clone()));
            }
        });
        Self { addr, inner, server }
    }

    /// The `ws://127.0.0.1:PORT/link/?ticket=…` URL `apps.connections.open` hands out.
    pub fn url(&self) -> String {
        format!("ws://{}/link/?ticket=fake-ticket", self.addr)
    }

    /// How many connections were accepted so far (open or not).
    pub fn connections(&self) -> usize {
        lock(&self.inner).connections.len()
    }

    /// How many connections are open now.
    pub fn open_connections(&self) -> usize {
        lock(&self.inner).connections.iter().filter(|c| c.open).count()
    }

    /// Waits until at least `count` connections have been accepted and the newest one is open.
    pub async fn wait_connections(&self, count: usize, timeout: Duration) -> Result<(), String> {
        poll(timeout, || {
            let inner = lock(&self.inner);
            (inner.connections.len() >= count && inner.connections.last().is_some_and(|c| c.open))
                .then_some(())
        })
        .await
        .ok_or_else(|| {
            format!(
                "wanted {count} connection(s) within {timeout:?}, got {} ({} open)",
                self.connections(),
                self.open_connections()
            )
        })
    }

    fn send_newest(&self, frame: &Value) -> Result<(), String> {
        let inner = lock(&self.inner);
        let conn = inner.connections.iter().rev().find(|c| c.open).ok_or("no open connection")?;
        conn.tx.send(Message::text(frame.to_string())).map_err(|_| "connection closed".to_owned())
    }

    /// Sends an envelope of `kind` (`slash_commands`, `interactive`) carrying `payload` to the
    /// newest open connection; returns its `envelope_id`.
    pub fn push(&self, kind: &str, payload: Value, accepts_response_payload: bool) -> Result<String, String> {
        let id = {
            let mut inner = lock(&self.inner);
            inner.next_envelope += 1;
            format!("fake-envelope-{:04}", inner.next_envelope)
        };
        let envelope = json!({
            "payload": payload,
            "envelope_id": id,
            "type": kind,
            "accepts_response_payload": accepts_response_payload,
        });
        self.send_newest(&envelope)?;
        Ok(id)
    }

    /// Waits for the acknowledgement of `envelope_id` and returns the whole ack frame.
    pub async fn wait_ack(&self, envelope_id: &str, timeout: Duration) -> Result<Value, String> {
        poll(timeout, || lock(&self.inner).acks.get(envelope_id).cloned())
            .await
            .ok_or_else(|| format!("no ack for {envelope_id} within {timeout:?}"))
    }

    /// A slash command envelope (`accepts_response_payload: true`, as Slack sends it), then its ack.
    pub async fn slash_command(&self, payload: Value) -> Result<Value, String> {
        let id = self.push("slash_commands", payload, true)?;
        self.wait_ack(&id, Duration::from_secs(10)).await
    }

    /// An `interactive` envelope, then its ack. Slack accepts a response payload for
    /// `view_submission` (a `response_action`), not for `block_actions`.
    pub async fn interactive(&self, payload: Value) -> Result<Value, String> {
        let accepts = payload.get("type").and_then(Value::as_str) == Some("view_submission");
        let id = self.push("interactive", payload, accepts)?;
        self.wait_ack(&id, Duration::from_secs(10)).await
    }

    /// Sends `{"type":"disconnect","reason":…}` to the newest open connection (`refresh_requested`,
    /// `warning` or `link_disabled`).
    pub fn disconnect(&self, reason: &str) -> Result<(), String> {
        self.send_newest(&json!({
            "type": "disconnect",
            "reason": reason,
            "debug_info": {"host": "applink-fake"},
        }))
    }

    /// Text frames that were not acknowledgements, in order.
    pub fn stray_frames(&self) -> Vec<String> {
        lock(&self.inner).stray.clone()
    }
}

fn hello(num_connections: usize) -> Message {
    Message::text(
        json!({
            "type": "hello",
            "num_connections": num_connections,
            "debug_info": {"host": "applink-fake", "approximate_connection_time": 3600},
            "connection_info": {"app_id": "A0FAKEAPP"},
        })
        .to_string(),
    )
}

/// One connection: handshake, `hello`, then frames from the test out and acks in.
async fn serve(stream: tokio::net::TcpStream, shared: Shared) {
    let Ok(ws) = tokio_tungstenite::accept_async(stream).await else { return };
    let (mut writer, mut reader) = ws.split();
    let (tx, mut rx) = mpsc::unbounded_channel();
    let index = {
        let mut inner = lock(&shared);
        inner.connections.push(Connection { tx: tx.clone(), open: true });
        let open = inner.connections.iter().filter(|c| c.open).count();
        if tx.send(hello(open)).is_err() {
            return;
        }
        inner.connections.len() - 1
    };
    let writer_task = tokio::spawn(async move {
        while let Some(message) = rx.recv().await {
            if writer.send(message).await.is_err() {
                break;
            }
        }
    });
    while let Some(Ok(message)) = reader.next().await {
        match message {
            Message::Text(text) => {
                let frame: Value = serde_json::from_str(text.as_str()).unwrap_or(Value::Null);
                let mut inner = lock(&shared);
                match frame.get("envelope_id").and_then(Value::as_str) {
                    Some(id) => {
                        inner.acks.insert(id.to_owned(), frame.clone());
                    }
                    None => inner.stray.push(text.as_str().to_owned()),
                }
            }
            Message::Close(_) => break,
            // tungstenite answers pings itself when the writer flushes.
            _ => {}
        }
    }
    if let Some(conn) = lock(&shared).connections.get_mut(index) {
        conn.open = false;
    }
    writer_task.abort();
}
