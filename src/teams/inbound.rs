//! Teams' inbound side: `POST /teams/messages`. Every activity is authenticated first
//! ([`super::auth`]: 401 and nothing else happens), then must come from Teams (`channelId`
//! `msteams`) and from the bot's own tenant (403 otherwise). Teams resends a slow turn, so an
//! activity id is acted on once (`seen_requests`, any replica).
//!
//! - `message`: the text, minus the bot's @mention, is a `/pim` command in the core grammar;
//!   the reply goes through the outbox to the sender's personal chat (private, even when the
//!   command was typed in a channel).
//! - `invoke` `adaptiveCard/action`: Approve, Deny (reason from the card's input), the
//!   alarm's Acknowledge (reason required), a review card's Keep / Remove and a renewal card's
//!   Approve / Deny. The answer is HTTP 200 with the outcome in the body: the card as it now
//!   stands for the clicker (approval, review and renewal cards; everyone else's copy is updated
//!   by the outbox's `PUT`), or a message only the clicker sees for a refusal or an
//!   acknowledgement. Clients without Universal Actions send the `Action.Submit` fallback as a
//!   message with the verb in `value`; it is handled the same way, and its outcome told in the
//!   personal chat.
//!
//! The actor is always `from.aadObjectId`, matched against `[[person]] object_id`; nothing in
//! the card's data names who clicked.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::TeamsApp;
use super::activity::{ADAPTIVE_CARD_ACTION, Activity, MSTEAMS};
use super::render::{self, INPUT_REASON, VERB_ACK, VERB_APPROVE, VERB_DENY};
use super::render_review::{self, VERB_RENEW_APPROVE, VERB_RENEW_DENY, VERB_REVIEW_KEEP, VERB_REVIEW_REMOVE};
use super::sender::{channel_key, user_key};
use crate::core::command::{self, Command};
use crate::core::help::{self, Dialect};
use crate::core::ids::{AlarmId, ChatUser, Platform, RequestId};
use crate::core::ports::ConversationRef;
use crate::core::reviews::ReviewDecision;
use crate::core::service::{Approved, Decision, Reply, renewal_card_view, review_card_view};
use crate::core::view::CardView;
use crate::edge_errors::user_message;

fn refuse(status: StatusCode, why: &str) -> Response {
    tracing::warn!(status = status.as_u16(), reason = why, "Teams activity refused");
    status.into_response()
}

/// `POST /teams/messages`.
pub async fn handle_activity(State(app): State<TeamsApp>, headers: HeaderMap, body: Bytes) -> Response {
    let teams = app.teams.clone();
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if authorization.is_none() {
        return refuse(StatusCode::UNAUTHORIZED, "no Authorization header");
    }
    let activity: Activity = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            tracing::warn!(error = %e, "unreadable Teams activity");
            return refuse(StatusCode::BAD_REQUEST, "the body is not an activity");
        }
    };
    if let Err(e) = teams.auth.check(authorization, &activity.service_url, &activity.channel_id).await {
        let status = match e.1 {
            super::auth::Refusal::Unauthenticated => StatusCode::UNAUTHORIZED,
            super::auth::Refusal::NotEndorsed => StatusCode::FORBIDDEN,
        };
        return refuse(status, &e.0);
    }
    if activity.channel_id != MSTEAMS {
        return refuse(StatusCode::FORBIDDEN, "the activity does not come from Teams");
    }
    if !activity.tenant().is_some_and(|t| t.eq_ignore_ascii_case(&teams.tenant_id)) {
        return refuse(StatusCode::FORBIDDEN, "the activity comes from another tenant");
    }
    let is_action = activity.kind == "invoke" && activity.name.as_deref() == Some(ADAPTIVE_CARD_ACTION);
    // Over the rate limit: answered at once, before the replay record, nothing done. A typed
    // command's reply would be an outbox row, so a refused message gets none (it is counted).
    if let Some(oid) = activity.from.aad_object_id.as_deref().filter(|o| !o.trim().is_empty())
        && (is_action || activity.kind == "message")
        && let Err(limited) = app.limiter.check(&ChatUser::teams(oid))
    {
        return if is_action {
            Json(render::invoke_message(&limited.text())).into_response()
        } else {
            StatusCode::OK.into_response()
        };
    }
    if let Some(id) = activity.id.as_deref().filter(|_| activity.kind == "message" || is_action) {
        match app.service.first_time(&format!("teams:activity:{id}")).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!(id, "Teams resent an activity; not acting on it again");
                return if is_action {
                    Json(render::invoke_message("↩️ Already received; nothing was done again."))
                        .into_response()
                } else {
                    StatusCode::OK.into_response()
                };
            }
            Err(e) => return Json(render::invoke_message(&user_message(&e))).into_response(),
        }
    }
    remember(&app, &activity).await;
    let Some(oid) = activity.from.aad_object_id.clone().filter(|o| !o.trim().is_empty()) else {
        // Guests from other organisations and anonymous users carry no Entra object id here.
        return if is_action {
            Json(render::invoke_message("⚠️ pimbot knows Teams users by their Entra account only."))
                .into_response()
        } else {
            StatusCode::OK.into_response()
        };
    };
    let user = ChatUser::teams(oid);
    if is_action {
        let answer = match activity.action() {
            Some((verb, data)) => action(&app, &user, verb, data).await,
            None => render::invoke_message("⚠️ Unknown action."),
        };
        return Json(answer).into_response();
    }
    if let Some((verb, data)) = activity.submitted_action().filter(|_| activity.kind == "message") {
        // A client without Universal Actions fell back to Action.Submit: same checks, and the
        // outcome comes as a private message (everyone's card is updated by the outbox anyway).
        let answer = action(&app, &user, verb, data).await;
        let text = match answer["value"].as_str() {
            Some(message) => message.to_owned(),
            None => "✅ Done; the card shows the decision.".to_owned(),
        };
        if let Err(e) = app.service.tell_user(Platform::Teams, &user.id, &text).await {
            tracing::error!(error = %e, "could not queue a Teams reply");
        }
    } else if activity.kind == "message" {
        let reply = command_reply(&app, &user, &activity.command_text()).await;
        if let Err(e) = app.service.tell_user(Platform::Teams, &user.id, &reply).await {
            tracing::error!(error = %e, "could not queue a Teams reply");
        }
    }
    StatusCode::OK.into_response()
}

/// Learns where the Connector reaches this user and channel (best effort).
async fn remember(app: &TeamsApp, activity: &Activity) {
    let now = app.service.clock().now();
    let mut refs = Vec::new();
    if let Some(oid) = activity.from.aad_object_id.as_deref().filter(|o| !o.is_empty()) {
        refs.push(ConversationRef {
            key: user_key(oid),
            conversation_id: activity.is_personal().then(|| activity.conversation.id.clone()),
            service_url: activity.service_url.clone(),
            user_id: Some(activity.from.id.clone()).filter(|id| !id.is_empty()),
            updated_at: now,
        });
    }
    if let Some(channel) = activity.channel_data.channel.as_ref().filter(|c| !c.id.is_empty()) {
        refs.push(ConversationRef {
            key: channel_key(&channel.id),
            conversation_id: None,
            service_url: activity.service_url.clone(),
            user_id: None,
            updated_at: now,
        });
    }
    for r in refs {
        if let Err(e) = app.service.store().remember_conversation(&r).await {
            tracing::warn!(error = %e, key = %r.key, "could not remember a Teams conversation");
        }
    }
}

/// Runs a typed command and words the reply.
pub async fn command_reply(app: &TeamsApp, user: &ChatUser, text: &str) -> String {
    let command = match command::parse(text) {
        // Teams has no form to open; the typed form works everywhere.
        Ok(Command::ActivateForm) | Ok(Command::Help) => return help::text(Dialect::Message),
        Ok(c) => c,
        Err(e) => return format!("{}\n\n{}", user_message(&e), help::text(Dialect::Message)),
    };
    match app.service.run_command(user, command).await {
        Ok(Reply::Text(text)) => text,
        Ok(Reply::ActivateForm(_)) => help::text(Dialect::Message),
        Err(e) => user_message(&e),
    }
}

fn data_str<'a>(data: &'a Value, key: &str) -> Option<&'a str> {
    data.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// Answers a Keep / Remove click on a review card or an Approve / Deny click on a renewal card
/// (`None` for other verbs): the decided card for the clicker, or a message for a refusal.
/// The core decides who may decide and that it is decided once; everyone else's copy changes
/// through the outbox's `PUT` from the same commit.
async fn governance_action(app: &TeamsApp, user: &ChatUser, verb: &str, data: &Value) -> Option<Value> {
    let policy = app.service.policy();
    let answer = match (verb, data_str(data, "itemId"), data_str(data, "extensionId")) {
        (VERB_REVIEW_KEEP | VERB_REVIEW_REMOVE, Some(id), _) => {
            let decision =
                if verb == VERB_REVIEW_KEEP { ReviewDecision::Keep } else { ReviewDecision::Remove };
            match app.service.decide_review(user, id, decision).await {
                Ok(item) => render::invoke_card(render_review::review(&review_card_view(
                    &policy,
                    &item,
                    Platform::Teams,
                ))),
                Err(e) => render::invoke_message(&user_message(&e)),
            }
        }
        (VERB_RENEW_APPROVE | VERB_RENEW_DENY, _, Some(id)) => {
            match app.service.decide_renewal(user, id, verb == VERB_RENEW_APPROVE).await {
                Ok(e) => render::invoke_card(render_review::renewal(&renewal_card_view(
                    &policy,
                    &e,
                    Platform::Teams,
                ))),
                Err(e) => render::invoke_message(&user_message(&e)),
            }
        }
        _ => return None,
    };
    Some(answer)
}

/// Answers a click on `verb` with the card's `data` (and inputs).
async fn action(app: &TeamsApp, user: &ChatUser, verb: &str, data: &Value) -> Value {
    if let Some(answer) = governance_action(app, user, verb, data).await {
        return answer;
    }
    let reason = data_str(data, INPUT_REASON).map(str::to_owned);
    match (verb, data_str(data, "requestId"), data_str(data, "alarmId")) {
        (VERB_APPROVE, Some(id), _) => {
            let id = RequestId(id.to_owned());
            match app.service.approve(user, &id).await {
                Ok(Approved::Recorded(_)) => current_card(app, &id, "✅ You approved it.").await,
                Ok(Approved::StepUp(text)) => render::invoke_message(&text),
                Err(e) => render::invoke_message(&user_message(&e)),
            }
        }
        (VERB_DENY, Some(id), _) => {
            let id = RequestId(id.to_owned());
            match app.service.decide(user, &id, Decision::Deny(reason)).await {
                Ok(_) => current_card(app, &id, "❌ You denied it.").await,
                Err(e) => render::invoke_message(&user_message(&e)),
            }
        }
        (VERB_ACK, _, Some(id)) => {
            let id = AlarmId(id.to_owned());
            match app.service.acknowledge(user, &id, reason.as_deref()).await {
                Ok(_) => render::invoke_message(&format!("✅ You acknowledged alarm `{id}`.")),
                Err(e) => render::invoke_message(&user_message(&e)),
            }
        }
        (other, _, _) => {
            tracing::warn!(verb = other, "unknown Teams card action");
            render::invoke_message("⚠️ Unknown action.")
        }
    }
}

/// The card of `id` as it stands now, for the clicker; `fallback` if it cannot be built.
async fn current_card(app: &TeamsApp, id: &RequestId, fallback: &str) -> Value {
    let policy = app.service.policy();
    let now = app.service.clock().now();
    match app.service.store().request(id).await {
        Ok(Some(request)) => match policy.role(&request.role) {
            Ok(role) => render::invoke_card(render::card(&CardView::build(
                &policy,
                role,
                &request,
                Platform::Teams,
                now,
            ))),
            Err(_) => render::invoke_message(fallback),
        },
        _ => render::invoke_message(fallback),
    }
}
