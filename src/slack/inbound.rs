//! Slack's inbound side: slash commands and interactions (approve/deny clicks, the break-glass
//! `ack` click, and the deny, acknowledge and activate modals). The rules live in
//! [`command_reply`] and [`interaction_reply`], which take slack-morphism's models; two transports
//! feed them: `POST /slack/commands` and `POST /slack/interactions` behind the signature
//! middleware (this module), and Socket Mode envelopes ([`super::socket`]). Replies come within
//! Slack's 3 s: decisions are short database transactions, and everything slow (cards, notices)
//! leaves through the outbox afterwards.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use slack_morphism::prelude::*;
use tracing::Instrument;

use super::render;
use super::{SlackApp, SlackState};
use crate::core::command;
use crate::core::help::{self, Dialect};
use crate::core::ids::{AlarmId, ChatUser, Platform, RequestId};
use crate::core::service::{Approved, Decision, Reply, submitted_text};
use crate::edge_errors::user_message;

/// An ephemeral command reply; the core's emphasis spelled as mrkdwn `*bold*`.
fn ephemeral(text: impl Into<String>) -> SlackCommandEventResponse {
    let content = SlackMessageContent::new().with_text(crate::core::text::emphasis(&text.into(), "*"));
    SlackCommandEventResponse::new(content).with_response_type(SlackMessageResponseType::Ephemeral)
}

/// Why an interaction was refused as malformed (HTTP answers 400 with this text; Socket Mode
/// acknowledges it anyway, since a redelivery would not parse better).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub &'static str);

fn bad_request(text: &str) -> Response {
    (StatusCode::BAD_REQUEST, text.to_owned()).into_response()
}

/// What a replayed request is told.
pub const REPLAYED: &str = "↩️ This request was already received; nothing was done again.";

/// Whether a Slack request identified by `key` arrives for the first time; `Err` carries the
/// text to answer a replay (or a failure to tell) with. Signed HTTP requests are keyed by their
/// signature and timestamp; Socket Mode envelopes (unsigned) by the payload's trigger id.
pub async fn first_time(app: &SlackApp, key: String) -> Result<(), String> {
    match app.service.first_time(&key).await {
        Ok(true) => Ok(()),
        Ok(false) => {
            tracing::warn!(%key, "replayed Slack request refused");
            Err(REPLAYED.to_owned())
        }
        Err(e) => Err(user_message(&e)),
    }
}

/// The replay key of an interaction delivered over Socket Mode: its trigger id (every click
/// and form submission gets its own).
pub fn trigger_key(event: &SlackInteractionEvent) -> Option<String> {
    let trigger = match event {
        SlackInteractionEvent::BlockActions(ev) => Some(ev.trigger_id.0.clone()),
        SlackInteractionEvent::ViewSubmission(ev) => ev.trigger_id.as_ref().map(|t| t.0.clone()),
        _ => None,
    };
    trigger.map(|t| format!("slack:trigger:{t}"))
}

/// The replay key of a signed HTTP request: its signature and timestamp (the signature
/// middleware already checked both).
fn signature_key(headers: &HeaderMap) -> String {
    let get = |name| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    format!("slack:sig:{}:{}", get(super::verify::TIMESTAMP_HEADER), get(super::verify::SIGNATURE_HEADER))
}

/// `POST /slack/commands`: the `/pim` slash command.
pub async fn handle_command(State(app): State<SlackApp>, headers: HeaderMap, body: Bytes) -> Response {
    let slack = app.slack.clone();
    if let Ok(form) = serde_urlencoded::from_bytes::<HashMap<String, String>>(&body)
        && form.get("ssl_check").map(String::as_str) == Some("1")
    {
        return StatusCode::OK.into_response();
    }
    let event: SlackCommandEvent = match serde_urlencoded::from_bytes(&body) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "malformed slash command");
            return bad_request("malformed slash command payload");
        }
    };
    if let Some(slow_down) = super::limited::command(&app, &event) {
        return Json(slow_down).into_response();
    }
    match command_reply(&app, &slack, signature_key(&headers), event).await {
        Some(reply) => Json(reply).into_response(),
        None => StatusCode::OK.into_response(),
    }
}

/// What `/pim …` with replay key `key` answers: the ephemeral reply, or `None` when the answer
/// is a modal opened separately (an empty HTTP 200, or a Socket Mode ack without payload). The
/// command runs once (`AccessService::once`): its key is recorded with what it changes, and a
/// replay is answered [`REPLAYED`] without acting.
pub async fn command_reply(
    app: &SlackApp,
    slack: &SlackState,
    key: String,
    event: SlackCommandEvent,
) -> Option<SlackCommandEventResponse> {
    let user = ChatUser::slack(event.user_id.0.clone());
    let text = event.text.clone().unwrap_or_default();
    // `Err`: the text is not a command (its key is recorded all the same); `Ok`: what running
    // it answered.
    let ran = match command::parse(&text) {
        Ok(command) => app.service.run_command_once(&key, &user, command).await.map(|o| o.map(Ok)),
        Err(e) => app.service.once(&key, async { Err(e) }).await,
    };
    let replied = match ran {
        Ok(Some(Ok(replied))) => replied,
        Ok(Some(Err(unparsed))) => {
            let help = help::text(Dialect::SlashTyped);
            return Some(ephemeral(format!("{}\n\n{help}", user_message(&unparsed))));
        }
        Ok(None) => {
            tracing::warn!(%key, "replayed Slack command refused");
            return Some(ephemeral(REPLAYED));
        }
        Err(e) => return Some(ephemeral(user_message(&e))),
    };
    match replied {
        Ok(Reply::Text(text)) => Some(ephemeral(text)),
        Ok(Reply::ActivateForm(roles)) => {
            let trigger = event.trigger_id.0.clone();
            let api = slack.api.clone();
            // views.open must happen within the trigger's 3 s; it is a UI reply, not a chat
            // message, so it does not go through the outbox. Spawned work stays in the
            // request's span, so its logs carry the request id.
            tokio::spawn(
                async move {
                    if let Err(e) = api.views_open(&trigger, render::activate_modal(&roles)).await {
                        tracing::error!(error = %format!("{e:#}"), "views.open for the activate form failed");
                    }
                }
                .in_current_span(),
            );
            None
        }
        Err(e) => Some(ephemeral(user_message(&e))),
    }
}

/// `POST /slack/interactions`: button clicks and modal submissions.
pub async fn handle_interaction(State(app): State<SlackApp>, headers: HeaderMap, body: Bytes) -> Response {
    let slack = app.slack.clone();
    let form: HashMap<String, String> = match serde_urlencoded::from_bytes(&body) {
        Ok(f) => f,
        Err(_) => return bad_request("malformed interaction form"),
    };
    let Some(payload) = form.get("payload") else { return bad_request("missing payload field") };
    let event: SlackInteractionEvent = match serde_json::from_str(payload) {
        Ok(e) => e,
        Err(e) => {
            tracing::warn!(error = %e, "invalid interaction payload");
            return bad_request("payload is not a valid Slack interaction");
        }
    };
    if let Some(slow_down) = super::limited::interaction(&app, &slack, &event) {
        return match slow_down {
            Some(response) => Json(response).into_response(),
            None => StatusCode::OK.into_response(),
        };
    }
    if first_time(&app, signature_key(&headers)).await.is_err() {
        return StatusCode::OK.into_response(); // acknowledged, not acted on
    }
    match interaction_reply(&app, &slack, event).await {
        Ok(Some(response)) => Json(response).into_response(),
        Ok(None) => StatusCode::OK.into_response(),
        Err(Malformed(why)) => bad_request(why),
    }
}

/// What a click or a modal submission answers: `Some(response_action)` for a modal whose
/// fields need fixing, `None` for a plain acknowledgement.
pub async fn interaction_reply(
    app: &SlackApp,
    slack: &SlackState,
    event: SlackInteractionEvent,
) -> Result<Option<SlackViewSubmissionResponse>, Malformed> {
    match event {
        SlackInteractionEvent::BlockActions(ev) => block_actions(app, slack, ev).await.map(|()| None),
        SlackInteractionEvent::ViewSubmission(ev) => view_submission(app, ev).await,
        _ => Ok(None),
    }
}

async fn block_actions(
    app: &SlackApp,
    slack: &SlackState,
    ev: SlackInteractionBlockActionsEvent,
) -> Result<(), Malformed> {
    let Some(user_id) = ev.user.as_ref().map(|u| u.id.0.clone()) else {
        return Err(Malformed("interaction without a user"));
    };
    let channel = ev.channel.as_ref().map(|c| c.id.0.clone()).or_else(|| match &ev.container {
        SlackInteractionActionContainer::Message(m) => m.channel_id.as_ref().map(|c| c.0.clone()),
        _ => None,
    });
    let user = ChatUser::slack(user_id.clone());
    let refuse = |text: String| {
        let service = app.service.clone();
        let (channel, user_id) = (channel.clone(), user_id.clone());
        async move {
            if let Some(channel) = channel
                && let Err(e) = service.tell_ephemeral(Platform::Slack, &channel, &user_id, &text).await
            {
                tracing::error!(error = %format!("{e:#}"), "queueing an ephemeral refusal failed");
            }
        }
    };
    for action in ev.actions.unwrap_or_default() {
        let id = RequestId(action.value.clone().unwrap_or_default());
        match action.action_id.0.as_str() {
            render::ACTION_APPROVE => match app.service.approve(&user, &id).await {
                Ok(Approved::Recorded(_)) => {}
                // The step-up link is for the approver's eyes only.
                Ok(Approved::StepUp(text)) => refuse(text).await,
                Err(e) => refuse(user_message(&e)).await,
            },
            render::ACTION_DENY => match app.service.precheck_decision(&user, &id).await {
                Ok(()) => {
                    let (api, trigger) = (slack.api.clone(), ev.trigger_id.0.clone());
                    tokio::spawn(
                        async move {
                            if let Err(e) = api.views_open(&trigger, render::deny_modal(id.as_str())).await {
                                tracing::error!(error = %format!("{e:#}"), "views.open for the deny form failed");
                            }
                        }
                        .in_current_span(),
                    );
                }
                Err(e) => refuse(user_message(&e)).await,
            },
            render::ACTION_ACK => {
                let alarm = AlarmId(action.value.clone().unwrap_or_default());
                match app.service.precheck_ack(&user, &alarm).await {
                    Ok(_) => {
                        let (api, trigger) = (slack.api.clone(), ev.trigger_id.0.clone());
                        tokio::spawn(async move {
                            if let Err(e) = api.views_open(&trigger, render::ack_modal(alarm.as_str())).await
                            {
                                tracing::error!(error = %format!("{e:#}"), "views.open for the acknowledge form failed");
                            }
                        });
                    }
                    Err(e) => refuse(user_message(&e)).await,
                }
            }
            render::ACTION_REVIEW_KEEP | render::ACTION_REVIEW_REMOVE => {
                let decision = if action.action_id.0 == render::ACTION_REVIEW_KEEP {
                    crate::core::reviews::ReviewDecision::Keep
                } else {
                    crate::core::reviews::ReviewDecision::Remove
                };
                if let Err(e) = app.service.decide_review(&user, id.as_str(), decision).await {
                    refuse(user_message(&e)).await;
                }
            }
            render::ACTION_RENEW_APPROVE | render::ACTION_RENEW_DENY => {
                let approve = action.action_id.0 == render::ACTION_RENEW_APPROVE;
                if let Err(e) = app.service.decide_renewal(&user, id.as_str(), approve).await {
                    refuse(user_message(&e)).await;
                }
            }
            other => {
                tracing::warn!(action = other, "unknown Slack action id");
                return Err(Malformed("unknown action"));
            }
        }
    }
    Ok(())
}

fn input(view: &SlackStatefulView, block: &str) -> Option<String> {
    let values = &view.state_params.state.as_ref()?.values;
    let v = values.get(&SlackBlockId(block.into()))?.get(&SlackActionId(block.into()))?;
    v.value
        .clone()
        .or_else(|| v.selected_option.as_ref().map(|o| o.value.clone()))
        .filter(|s| !s.trim().is_empty())
}

type Submission = Result<Option<SlackViewSubmissionResponse>, Malformed>;

fn form_errors(errors: &[(&str, String)]) -> Submission {
    let errors = errors.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    Ok(Some(SlackViewSubmissionResponse::Errors(SlackViewSubmissionErrorsResponse::new(errors))))
}

async fn view_submission(app: &SlackApp, ev: SlackInteractionViewSubmissionEvent) -> Submission {
    let user = ChatUser::slack(ev.user.id.0.clone());
    let SlackView::Modal(modal) = &ev.view.view else { return Ok(None) };
    match modal.callback_id.as_ref().map(|c| c.0.as_str()) {
        Some(render::CALLBACK_DENY_REASON) => {
            let id = RequestId(modal.private_metadata.clone().unwrap_or_default());
            let reason = input(&ev.view, render::FIELD_REASON);
            match app.service.decide(&user, &id, Decision::Deny(reason)).await {
                Ok(_) => Ok(None),
                Err(e) => form_errors(&[(render::FIELD_REASON, user_message(&e))]),
            }
        }
        Some(render::CALLBACK_ACK_REASON) => {
            let id = AlarmId(modal.private_metadata.clone().unwrap_or_default());
            let reason = input(&ev.view, render::FIELD_REASON);
            if reason.is_none() {
                return form_errors(&[(
                    render::FIELD_REASON,
                    "A reason is required to acknowledge the alarm.".into(),
                )]);
            }
            match app.service.acknowledge(&user, &id, reason.as_deref()).await {
                Ok(_) => Ok(None),
                Err(e) => form_errors(&[(render::FIELD_REASON, user_message(&e))]),
            }
        }
        Some(render::CALLBACK_ACTIVATE) => {
            let field = |b| input(&ev.view, b);
            let draft = command::draft_from_fields(
                &field(render::FIELD_ROLE).unwrap_or_default(),
                &field(render::FIELD_DURATION).unwrap_or_default(),
                field(render::FIELD_TICKET).as_deref(),
                &field(render::FIELD_JUSTIFICATION).unwrap_or_default(),
            );
            let draft = match draft {
                Ok(d) => d,
                Err(e) => return form_errors(&[(render::FIELD_DURATION, user_message(&e))]),
            };
            let result = match command::with_start(draft, field(render::FIELD_START).as_deref()) {
                Ok(d) => app.service.submit(&user, d).await,
                Err(e) => return form_errors(&[(render::FIELD_START, user_message(&e))]),
            };
            match result {
                Ok(s) => {
                    if let Err(e) =
                        app.service.tell_user(Platform::Slack, &user.id, &submitted_text(&s)).await
                    {
                        tracing::error!(error = %format!("{e:#}"), "queueing the submit confirmation failed");
                    }
                    Ok(None)
                }
                Err(e) => form_errors(&[(render::activate_block(e.field()), user_message(&e))]),
            }
        }
        _ => Err(Malformed("unknown form")),
    }
}
