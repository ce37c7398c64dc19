//! A fake PagerDuty and Opsgenie on `127.0.0.1:0` for tests, one server for both:
//! PagerDuty `GET /oncalls` (`schedule_ids[]`, `since`, `until`, `include[]=users`, paged with
//! `limit`/`offset`/`more`, `Authorization: Token token=…`) and Opsgenie
//! `GET /v2/schedules/{id}/on-calls` (`flat`, `date`, `Authorization: GenieKey …`), answered in
//! the documented shapes with the extra fields real answers carry. Who is on call is set per
//! schedule; a fault (500, or a hang longer than the client's timeout) can be switched on; every
//! call is recorded.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use axum::Router;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};

/// The PagerDuty token the fake expects.
pub const FAKE_PAGERDUTY_TOKEN: &str = "fake-pagerduty-token";
/// The Opsgenie key the fake expects.
pub const FAKE_OPSGENIE_TOKEN: &str = "fake-opsgenie-key";

/// What the fake does with the next questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnCallFault {
    /// Answer normally.
    #[default]
    None,
    /// Answer 500.
    ServerError,
    /// Hold the answer this long (longer than the client's timeout).
    Hang(std::time::Duration),
}

/// One question the fake received.
#[derive(Debug, Clone)]
pub struct OnCallCall {
    /// `pagerduty` or `opsgenie`.
    pub provider: &'static str,
    /// Path.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// The `Authorization` header.
    pub authorization: String,
}

#[derive(Debug, Default)]
struct Inner {
    /// Schedule id → e-mail addresses on call there.
    on_call: HashMap<String, Vec<String>>,
    fault: OnCallFault,
    calls: Vec<OnCallCall>,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Inner> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// A running fake. The server stops when this is dropped.
#[derive(Debug)]
pub struct FakeOnCall {
    addr: SocketAddr,
    inner: Shared,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for FakeOnCall {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl FakeOnCall {
    /// Starts the fake. Panics if no local port can be bound.
    pub async fn start() -> Self {
        let inner = Shared::default();
        let app = Router::new()
            .route("/pagerduty/oncalls", get(pagerduty))
            .route("/opsgenie/v2/schedules/{id}/on-calls", get(opsgenie))
            .with_state(inner.clone());
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(l) => l,
            Err(e) => panic!("fake on-call could not bind 127.0.0.1:0: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => panic!("fake on-call has no address: {e}"),
        };
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { addr, inner, server }
    }

    /// `[oncall.pagerduty] api_url`.
    pub fn pagerduty_url(&self) -> String {
        format!("http://{}/pagerduty/", self.addr)
    }

    /// `[oncall.opsgenie] api_url`.
    pub fn opsgenie_url(&self) -> String {
        format!("http://{}/opsgenie/", self.addr)
    }

    /// Puts `email` on call in `schedule` (both providers read the same table).
    pub fn set_on_call(&self, schedule: &str, email: &str) {
        lock(&self.inner).on_call.entry(schedule.to_owned()).or_default().push(email.to_owned());
    }

    /// Switches a fault on (or off with [`OnCallFault::None`]).
    pub fn set_fault(&self, fault: OnCallFault) {
        lock(&self.inner).fault = fault;
    }

    /// Every question so far.
    pub fn calls(&self) -> Vec<OnCallCall> {
        lock(&self.inner).calls.clone()
    }
}

fn record(
    shared: &Shared,
    provider: &'static str,
    path: String,
    query: &Option<String>,
    headers: &HeaderMap,
) -> OnCallFault {
    let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    let mut inner = lock(shared);
    inner.calls.push(OnCallCall { provider, path, query: query.clone().unwrap_or_default(), authorization });
    inner.fault
}

async fn fault_response(fault: OnCallFault) -> Option<Response> {
    match fault {
        OnCallFault::None => None,
        OnCallFault::ServerError => Some(
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                axum::Json(json!({"error": {"message": "Internal Server Error", "code": 2001}})),
            )
                .into_response(),
        ),
        OnCallFault::Hang(d) => {
            tokio::time::sleep(d).await;
            Some(StatusCode::GATEWAY_TIMEOUT.into_response())
        }
    }
}

fn pairs(query: &Option<String>) -> Vec<(String, String)> {
    serde_urlencoded::from_str(query.as_deref().unwrap_or("")).unwrap_or_default()
}

/// A PagerDuty user object as `include[]=users` returns it.
fn pd_user(email: &str) -> Value {
    let id = format!("P{:06X}", email.len() * 7919 % 0xFFFFFF);
    json!({
        "id": id, "type": "user", "summary": email, "name": email,
        "self": format!("https://api.pagerduty.com/users/{id}"),
        "html_url": format!("https://example.pagerduty.com/users/{id}"),
        "email": email, "time_zone": "UTC", "color": "purple", "role": "user",
        "avatar_url": "https://secure.gravatar.com/avatar/x.png", "description": null,
        "invitation_sent": false, "job_title": null, "teams": [], "contact_methods": [],
        "notification_rules": []
    })
}

async fn pagerduty(State(shared): State<Shared>, RawQuery(query): RawQuery, headers: HeaderMap) -> Response {
    let fault = record(&shared, "pagerduty", "/oncalls".into(), &query, &headers);
    if let Some(r) = fault_response(fault).await {
        return r;
    }
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("Token token={FAKE_PAGERDUTY_TOKEN}"))
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": {"message": "Unauthorized", "code": 2006}})),
        )
            .into_response();
    }
    let q = pairs(&query);
    let wanted: Vec<&str> =
        q.iter().filter(|(k, _)| k == "schedule_ids[]").map(|(_, v)| v.as_str()).collect();
    let with_users = q.iter().any(|(k, v)| k == "include[]" && v == "users");
    let limit = q.iter().find(|(k, _)| k == "limit").and_then(|(_, v)| v.parse().ok()).unwrap_or(25usize);
    let offset = q.iter().find(|(k, _)| k == "offset").and_then(|(_, v)| v.parse().ok()).unwrap_or(0usize);
    let inner = lock(&shared);
    let mut all = Vec::new();
    let mut ids: Vec<&String> = inner.on_call.keys().collect();
    ids.sort();
    for schedule in ids {
        if !wanted.is_empty() && !wanted.contains(&schedule.as_str()) {
            continue;
        }
        for email in &inner.on_call[schedule] {
            let user = if with_users {
                pd_user(email)
            } else {
                json!({"id": "PXPGF42", "type": "user_reference", "summary": email})
            };
            all.push(json!({
                "escalation_policy": {"id": "PT20YPA", "type": "escalation_policy_reference", "summary": "Engineering Escalation Policy"},
                "escalation_level": 1,
                "schedule": {"id": schedule, "type": "schedule_reference", "summary": format!("Schedule {schedule}")},
                "user": user,
                "start": "2026-01-01T00:00:00Z",
                "end": "2027-01-01T00:00:00Z"
            }));
        }
    }
    // An on-call of an escalation rule that names a user directly carries no schedule.
    all.push(json!({
        "escalation_policy": {"id": "PT20YPA", "type": "escalation_policy_reference"},
        "escalation_level": 2, "schedule": null,
        "user": {"id": "PZZZZZZ", "type": "user_reference", "summary": "Always On"},
        "start": null, "end": null
    }));
    let page: Vec<Value> = all.iter().skip(offset).take(limit).cloned().collect();
    let more = offset + page.len() < all.len();
    axum::Json(json!({"oncalls": page, "limit": limit, "offset": offset, "more": more, "total": null}))
        .into_response()
}

async fn opsgenie(
    State(shared): State<Shared>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let fault = record(&shared, "opsgenie", format!("/v2/schedules/{id}/on-calls"), &query, &headers);
    if let Some(r) = fault_response(fault).await {
        return r;
    }
    if headers.get("authorization").and_then(|v| v.to_str().ok())
        != Some(&format!("GenieKey {FAKE_OPSGENIE_TOKEN}"))
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"message": "Could not authenticate", "took": 0.0, "requestId": "x"})),
        )
            .into_response();
    }
    let inner = lock(&shared);
    let Some(emails) = inner.on_call.get(&id) else {
        return (
            StatusCode::NOT_FOUND,
            axum::Json(json!({"message": "Schedule not found", "took": 0.001, "requestId": "r"})),
        )
            .into_response();
    };
    let flat = pairs(&query).iter().any(|(k, v)| k == "flat" && v == "true");
    let parent = json!({"id": format!("d875a-{id}"), "name": id, "enabled": true});
    let data = if flat {
        json!({"_parent": parent, "onCallRecipients": emails})
    } else {
        let participants: Vec<Value> = emails
            .iter()
            .map(|e| json!({"id": "c569c016-0000-4e20-8a28-bd5dc33b798e", "name": e, "type": "user"}))
            .chain([json!({"id": "t-1", "name": "TeamName", "type": "team"})])
            .collect();
        json!({"_parent": parent, "onCallParticipants": participants})
    };
    axum::Json(json!({"data": data, "took": 0.012, "requestId": "c60d7b8e-0000-4b5a-9c3a-0d4e1b4b0a61"}))
        .into_response()
}
