//! The HTTP side of [`super::FakeSlack`]: the Web API methods under `/api/{method}` (posts,
//! updates, ephemerals, DMs, views, history) and the `response_url` hooks, each recorded, checked
//! against the bot token and the queued faults, and answered as Slack would.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{Inner, Shared, SlackCall, lock};
use crate::testing::fake_slack_faults::{Hold, slack_error};
use crate::testing::fake_slack_state::{
    field, parse_body, query_body, resolve_channel, truthy, validate_message, validate_view,
};

fn ok(body: Value) -> Response {
    let mut body = body;
    body["ok"] = Value::Bool(true);
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn record(inner: &mut Inner, method: &str, path: String, body: Value, failure: Option<String>) {
    inner.calls.push(SlackCall { method: method.to_owned(), path, body, at: Instant::now(), failure });
}

/// Reads (`users.info`) are GETs with a query string; the query is handled like a body.
pub(super) async fn api_get(
    State(shared): State<Shared>,
    Path(method): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let body = query_body(query.as_deref().unwrap_or_default());
    answer(shared, method, headers, body)
}

pub(super) async fn api(
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
        "conversations.history" => crate::testing::fake_slack_history::history(&inner.messages, body),
        "conversations.replies" => crate::testing::fake_slack_history::replies(&inner.messages, body),
        "conversations.open" => crate::testing::fake_slack_history::open(body),
        "auth.test" => Ok(crate::testing::fake_slack_state::auth_test()),
        "conversations.info" => {
            let id = field(body, "channel").ok_or("channel_not_found")?;
            let channel = inner.channels.get(id).ok_or("channel_not_found")?;
            Ok(crate::testing::fake_slack_state::channel_info(id, channel))
        }
        "users.info" => {
            let user = field(body, "user").ok_or("user_not_found")?;
            crate::testing::fake_slack_state::user_info(user, inner.emails.get(user).map(String::as_str))
        }
        _ => Err("unknown_method".into()),
    }
}

pub(super) async fn hook(
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
