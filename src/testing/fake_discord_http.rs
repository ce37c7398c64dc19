//! The HTTP side of [`super::FakeDiscord`]: the `/api/v10` routes (messages, DM channels,
//! channels, the current user, command registration, interaction webhooks), each recording the
//! call and applying a queued fault or the token check before it answers.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{DiscordCall, Fault, Inner, Shared, lock};
use crate::testing::fake_discord_state::validate;
use crate::testing::fake_slack_faults::Hold;

pub(super) async fn current_user(
    State(shared): State<Shared>,
    method: Method,
    headers: HeaderMap,
) -> Response {
    let mut inner = lock(&shared);
    if let Some(resp) = admit(&mut inner, &method, "/api/v10/users/@me".into(), &headers, &Value::Null, true)
    {
        return resp;
    }
    axum::Json(crate::testing::fake_discord_state::bot_user()).into_response()
}

pub(super) async fn get_channel(
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
            axum::Json(crate::testing::fake_discord_state::text_channel(&channel, &name)).into_response()
        }
    }
}

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

pub(super) async fn create_message(
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

pub(super) async fn edit_message(
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

pub(super) async fn open_dm(
    State(shared): State<Shared>,
    method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
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

pub(super) async fn set_commands(
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

pub(super) async fn webhook(
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
