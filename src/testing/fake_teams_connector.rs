//! [`FakeTeams`]' Connector under `/amer/`: it requires the bot's app token, answers queued
//! faults, records every call, holds the activities posted (channel threads, replies, personal
//! chats) and replaced (`PUT`), notes protocol mistakes (a mention whose text is missing from
//! its message), and can take a post but answer it too late.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

use super::{CONNECTOR_TOKEN_KEY, ConnectorCall, FAKE_TEAMS_APP_ID, FakeTeams, Inner, TeamsMessage, lock};

fn error(status: u16, code: &str) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(json!({"error": {"code": code, "message": code}}))).into_response()
}

/// Checks the app token and consumes a queued fault; `Err` is the answer to give.
fn admit(f: &FakeTeams, headers: &HeaderMap) -> Result<(), Box<Response>> {
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    let mut v = Validation::new(Algorithm::HS256);
    v.set_audience(&["https://api.botframework.com"]);
    v.validate_exp = false;
    let ok = DecodingKey::from_secret(CONNECTOR_TOKEN_KEY)
        .and_then(|key| jsonwebtoken::decode::<Value>(token, &key, &v))
        .ok()
        .filter(|d| d.claims["appid"] == FAKE_TEAMS_APP_ID)
        .filter(|d| d.claims["exp"].as_i64().is_some_and(|e| e > chrono::Utc::now().timestamp()));
    if ok.is_none() {
        return Err(Box::new(error(401, "Unauthorized")));
    }
    let fault = lock(&f.inner).faults.pop_front();
    if let Some((status, retry)) = fault {
        let mut response = error(status, "Fault");
        if let Some(r) = retry.and_then(|r| r.parse().ok()) {
            response.headers_mut().insert("retry-after", r);
        }
        return Err(Box::new(response));
    }
    Ok(())
}

/// Records protocol mistakes: a mention whose text is missing from the message.
fn check(s: &mut Inner, activity: &Value) {
    let text = activity.to_string();
    let mut entities: Vec<Value> = activity["entities"].as_array().cloned().unwrap_or_default();
    for a in activity["attachments"].as_array().into_iter().flatten() {
        entities.extend(
            a.pointer("/content/msteams/entities").and_then(Value::as_array).cloned().unwrap_or_default(),
        );
    }
    for e in entities {
        let t = e["text"].as_str().unwrap_or_default();
        if t.is_empty() || text.matches(t).count() < 2 {
            s.problems.push(format!("mention {t:?} does not occur in its message"));
        }
    }
}

fn record(f: &FakeTeams, method: &str, path: String, body: &Value) {
    lock(&f.inner).calls.push(ConnectorCall { method: method.into(), path, body: body.clone() });
}

/// Waits out a queued stall after an activity was taken.
async fn stall(f: &FakeTeams) {
    let delay = lock(&f.inner).stalls.pop_front();
    if let Some(delay) = delay {
        tokio::time::sleep(delay).await;
    }
}

fn post_into(f: &FakeTeams, conversation: &str, activity: Value) -> String {
    let mut s = lock(&f.inner);
    check(&mut s, &activity);
    s.next_id += 1;
    let id = s.next_id.to_string();
    s.messages.push(TeamsMessage {
        conversation: conversation.to_owned(),
        id: id.clone(),
        activity,
        updates: 0,
    });
    id
}

pub(super) async fn create_conversation(
    State(f): State<FakeTeams>,
    headers: HeaderMap,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = admit(&f, &headers) {
        return *r;
    }
    record(&f, "POST", "v3/conversations".into(), &body);
    if let Some(channel) = body.pointer("/channelData/channel/id").and_then(Value::as_str) {
        let activity = body["activity"].clone();
        let pending = format!("{channel};messageid=");
        let id = post_into(&f, &pending, activity);
        let thread = format!("{channel};messageid={id}");
        if let Some(m) = lock(&f.inner).messages.iter_mut().find(|m| m.id == id) {
            m.conversation = thread.clone();
        }
        stall(&f).await;
        return Json(json!({"id": thread, "activityId": id, "serviceUrl": f.service_url()})).into_response();
    }
    match body.pointer("/members/0/id").and_then(Value::as_str) {
        Some(user) => Json(json!({"id": format!("a:personal-{user}")})).into_response(),
        None => error(400, "BadArgument"),
    }
}

pub(super) async fn send(
    State(f): State<FakeTeams>,
    headers: HeaderMap,
    Path(conversation): Path<String>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = admit(&f, &headers) {
        return *r;
    }
    record(&f, "POST", format!("v3/conversations/{conversation}/activities"), &body);
    let id = post_into(&f, &conversation, body);
    stall(&f).await;
    Json(json!({"id": id})).into_response()
}

pub(super) async fn send_reply(
    State(f): State<FakeTeams>,
    headers: HeaderMap,
    Path((conversation, _activity)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    send(State(f), headers, Path(conversation), Json(body)).await
}

pub(super) async fn update(
    State(f): State<FakeTeams>,
    headers: HeaderMap,
    Path((conversation, activity)): Path<(String, String)>,
    Json(body): Json<Value>,
) -> Response {
    if let Err(r) = admit(&f, &headers) {
        return *r;
    }
    record(&f, "PUT", format!("v3/conversations/{conversation}/activities/{activity}"), &body);
    let mut s = lock(&f.inner);
    check(&mut s, &body);
    match s.messages.iter_mut().find(|m| m.id == activity && m.conversation == conversation) {
        Some(m) => {
            m.activity = body;
            m.updates += 1;
            Json(json!({"id": activity})).into_response()
        }
        None => error(404, "ActivityNotFound"),
    }
}
