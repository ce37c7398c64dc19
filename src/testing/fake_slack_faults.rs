//! Failures the fake Slack can be told to produce: HTTP statuses, 429s with `Retry-After`,
//! Slack error codes, and held calls. A held call either hangs (received, never processed,
//! answered 503 only after [`Faults::release`], as a request lost on the way would be) or is
//! answered late (processed at once, answered after a delay, as when the answer is lost): the
//! two moments a crashed sender can leave a message in doubt.

use std::collections::VecDeque;
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::watch;

/// What a held call does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hold {
    /// Never processed; answered 503 once released.
    Hang,
    /// Processed at once; answered after this long.
    AnswerLate(Duration),
}

#[derive(Debug, Clone)]
enum FaultKind {
    Status(u16),
    RateLimit(u64),
    Error(String),
}

#[derive(Debug)]
struct Fault {
    remaining: usize,
    kind: FaultKind,
}

/// The queued failures and holds of one fake.
#[derive(Debug)]
pub(crate) struct Faults {
    queue: VecDeque<Fault>,
    holds: VecDeque<(String, usize, Hold)>,
    /// Calls held so far (hung or answered late).
    pub(crate) held: usize,
    release: watch::Sender<bool>,
}

impl Default for Faults {
    fn default() -> Self {
        Self { queue: VecDeque::new(), holds: VecDeque::new(), held: 0, release: watch::channel(false).0 }
    }
}

impl Faults {
    fn push(&mut self, n: usize, kind: FaultKind) {
        if n > 0 {
            self.queue.push_back(Fault { remaining: n, kind });
        }
    }

    /// The next `n` calls get HTTP `status`.
    pub(crate) fn status(&mut self, n: usize, status: u16) {
        self.push(n, FaultKind::Status(status));
    }

    /// The next `n` calls get HTTP 429 with `Retry-After`.
    pub(crate) fn rate_limit(&mut self, n: usize, secs: u64) {
        self.push(n, FaultKind::RateLimit(secs));
    }

    /// The next `n` calls get `{"ok":false,"error":code}`.
    pub(crate) fn error(&mut self, n: usize, code: &str) {
        self.push(n, FaultKind::Error(code.to_owned()));
    }

    /// Drops every queued failure (holds stay).
    pub(crate) fn clear(&mut self) {
        self.queue.clear();
    }

    /// The next `n` calls to `method` are held.
    pub(crate) fn hold(&mut self, method: &str, n: usize, hold: Hold) {
        if n > 0 {
            let _ = self.release.send(false);
            self.holds.push_back((method.to_owned(), n, hold));
        }
    }

    /// Lets every hung call answer (503).
    pub(crate) fn release(&self) {
        let _ = self.release.send(true);
    }

    /// The hold for a call to `method`, if one is queued for it; counts it as held.
    pub(crate) fn take_hold(&mut self, method: &str) -> Option<(Hold, watch::Receiver<bool>)> {
        let (_, left, hold) = self.holds.iter_mut().find(|(m, left, _)| m == method && *left > 0)?;
        *left -= 1;
        let hold = *hold;
        self.holds.retain(|(_, left, _)| *left > 0);
        self.held += 1;
        Some((hold, self.release.subscribe()))
    }

    /// Applies a queued failure, if any: the response and what to record.
    pub(crate) fn take(&mut self) -> Option<(Response, String)> {
        let fault = self.queue.front_mut()?;
        fault.remaining -= 1;
        let kind = fault.kind.clone();
        if fault.remaining == 0 {
            self.queue.pop_front();
        }
        Some(match kind {
            FaultKind::Status(code) => {
                let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                ((status, "fake failure").into_response(), format!("HTTP {code}"))
            }
            FaultKind::RateLimit(secs) => {
                let mut resp =
                    (StatusCode::TOO_MANY_REQUESTS, axum::Json(json!({"ok": false, "error": "ratelimited"})))
                        .into_response();
                resp.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
                (resp, "HTTP 429".into())
            }
            FaultKind::Error(code) => (slack_error(&code), code),
        })
    }
}

/// `{"ok": false, "error": code}` with HTTP 200, as Slack answers application errors.
pub(crate) fn slack_error(code: &str) -> Response {
    (StatusCode::OK, axum::Json(json!({"ok": false, "error": code}))).into_response()
}
