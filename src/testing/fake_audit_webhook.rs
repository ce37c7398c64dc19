//! A fake audit collector for the webhook sink: `POST /collect` takes a JSON array of lines
//! (as Sentinel's Logs Ingestion API or a generic collector would) and records every accepted
//! batch. It can be told to fail for a while (by the injected clock) with 503 and a
//! `Retry-After`, to fail the next N requests, and to demand an `Authorization` header.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::task::JoinHandle;

use crate::core::ports::Clock;

#[derive(Default)]
struct Inner {
    accepted: Vec<Vec<Value>>,
    attempts: usize,
    refused: usize,
    fail_until: Option<DateTime<Utc>>,
    fail_next: usize,
    retry_after_secs: u64,
    authorization: Option<String>,
}

struct Shared {
    inner: Mutex<Inner>,
    clock: Arc<dyn Clock>,
}

/// The running fake.
pub struct FakeAuditWebhook {
    addr: SocketAddr,
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

impl Drop for FakeAuditWebhook {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.inner.lock().unwrap_or_else(|e| e.into_inner())
}

impl FakeAuditWebhook {
    /// Starts the fake; "for a while" is measured on `clock`. Panics if no port can be bound.
    pub async fn start(clock: Arc<dyn Clock>) -> Self {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("fake audit webhook could not bind 127.0.0.1:0: {e}"),
        };
        let addr = listener.local_addr().unwrap_or_else(|e| panic!("no local address: {e}"));
        let shared =
            Arc::new(Shared { inner: Mutex::new(Inner { retry_after_secs: 5, ..Inner::default() }), clock });
        let app = Router::new().route("/collect", post(collect)).with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(error = %e, "fake audit webhook stopped");
            }
        });
        Self { addr, shared, server }
    }

    /// `http://127.0.0.1:PORT/collect`.
    pub fn url(&self) -> String {
        format!("http://{}/collect", self.addr)
    }

    /// Answers 503 with `Retry-After` until the clock reaches `at`.
    pub fn fail_until(&self, at: DateTime<Utc>) {
        lock(&self.shared).fail_until = Some(at);
    }

    /// Answers 503 to the next `n` requests.
    pub fn fail_next(&self, n: usize) {
        lock(&self.shared).fail_next = n;
    }

    /// Requires this exact `Authorization` header (401 otherwise).
    pub fn require_authorization(&self, value: &str) {
        lock(&self.shared).authorization = Some(value.to_owned());
    }

    /// Every accepted line, in arrival order.
    pub fn lines(&self) -> Vec<Value> {
        lock(&self.shared).accepted.iter().flatten().cloned().collect()
    }

    /// Accepted batches.
    pub fn batches(&self) -> usize {
        lock(&self.shared).accepted.len()
    }

    /// Requests received, accepted or not.
    pub fn attempts(&self) -> usize {
        lock(&self.shared).attempts
    }

    /// Requests refused.
    pub fn refused(&self) -> usize {
        lock(&self.shared).refused
    }
}

async fn collect(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: String) -> Response {
    let now = shared.clock.now();
    let mut inner = lock(&shared);
    inner.attempts += 1;
    if let Some(expected) = &inner.authorization
        && headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) != Some(expected.as_str())
    {
        inner.refused += 1;
        return (StatusCode::UNAUTHORIZED, "bad token").into_response();
    }
    let failing = inner.fail_until.is_some_and(|t| now < t) || inner.fail_next > 0;
    if failing {
        inner.fail_next = inner.fail_next.saturating_sub(1);
        inner.refused += 1;
        let retry = inner.retry_after_secs.to_string();
        return (StatusCode::SERVICE_UNAVAILABLE, [(header::RETRY_AFTER, retry)], "collector down")
            .into_response();
    }
    match serde_json::from_str::<Vec<Value>>(&body) {
        Ok(lines) => {
            inner.accepted.push(lines);
            StatusCode::OK.into_response()
        }
        Err(e) => {
            inner.refused += 1;
            (StatusCode::BAD_REQUEST, e.to_string()).into_response()
        }
    }
}
