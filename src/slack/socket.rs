//! Slack Socket Mode (`[slack] socket_mode = true`): instead of Slack calling
//! `POST /slack/commands` and `POST /slack/interactions`, pimbot opens outbound WebSockets with
//! slack-morphism's Socket Mode listener and receives the same payloads inside envelopes. The
//! callbacks here hand them to the same rules as HTTP ([`inbound::command_reply`],
//! [`inbound::interaction_reply`]).
//!
//! What the library does (slack-morphism 2.31, read from its source):
//! - per connection it calls `apps.connections.open` with the app-level `xapp-…` token through
//!   the client's Web API base URL, then connects to the `wss://` URL it returns;
//! - each envelope is handled inline on that connection's reader, and the acknowledgement
//!   `{"envelope_id":…,"payload":…}` is sent only **after the callback returns**: a slash
//!   command's reply travels as the ack payload, a modal's `response_action` too (when the
//!   envelope says `accepts_response_payload`), clicks get a bare ack. Our callbacks stay short
//!   (a database transaction); slow work goes through the outbox or a spawned task;
//! - a `disconnect` envelope (any reason: `refresh_requested`, `warning`, `link_disabled`), a
//!   close frame, a read error or missing pongs make it drop that connection and open a new one
//!   at once (a fresh `apps.connections.open`); a failed open is retried every 30 s;
//! - envelope retries (`retry_attempt`) are not modelled: a redelivered envelope is handled
//!   again (a second approve of the same request is refused as already decided).
//!
//! A command callback can only return a reply with a payload; for the activate form (answered
//! by a modal, no message) it returns the [`NoReply`] marker as an error, and the error handler
//! turns that into a bare ack. Every other error is logged and acknowledged too: a redelivery
//! would fail the same way.

use std::sync::Arc;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use slack_morphism::prelude::*;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::inbound::{self, Malformed};
use super::{SlackApp, SlackState};

/// Socket Mode settings.
#[derive(Clone)]
pub struct SocketModeParts {
    /// App-level token (`xapp-…`, scope `connections:write`).
    pub app_token: SecretString,
    /// WebSocket connections kept open (Slack allows up to 10; two ride out one reconnect).
    pub connections: u32,
}

impl SocketModeParts {
    /// Connections slack-morphism keeps by default.
    pub const DEFAULT_CONNECTIONS: u32 = SlackClientSocketModeConfig::DEFAULT_CONNECTIONS_COUNT;
}

/// The state the callbacks find by type in slack-morphism's user-state map.
struct SocketState {
    app: SlackApp,
}

/// Returned by the command callback when the answer is a modal, not a message: acked bare.
#[derive(Debug, thiserror::Error)]
#[error("no reply payload")]
pub struct NoReply;

type Callback<T> = UserCallbackResult<T>;

async fn state(states: &SlackClientEventsUserState) -> Option<(SlackApp, SlackState)> {
    let guard = states.read().await;
    guard.get_user_state::<SocketState>().map(|s| (s.app.clone(), s.app.slack.clone()))
}

fn missing_state() -> Box<dyn std::error::Error + Send + Sync> {
    Box::from("Socket Mode listener started without its state")
}

async fn on_command(
    event: SlackCommandEvent,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> Callback<SlackCommandEventResponse> {
    let (app, slack) = state(&states).await.ok_or_else(missing_state)?;
    let span = tracing::info_span!("slack_socket", kind = "slash_commands");
    if let Some(slow_down) = super::limited::command(&app, &event) {
        return Ok(slow_down);
    }
    // Slack redelivers an envelope it did not see acknowledged: act on it once.
    let key = format!("slack:trigger:{}", event.trigger_id.0);
    match inbound::command_reply(&app, &slack, key, event).instrument(span).await {
        Some(reply) => Ok(reply),
        None => Err(Box::new(NoReply)),
    }
}

async fn on_interaction(
    event: SlackInteractionEvent,
    _client: Arc<SlackHyperClient>,
    states: SlackClientEventsUserState,
) -> Callback<SlackInteractionResponse> {
    let (app, slack) = state(&states).await.ok_or_else(missing_state)?;
    let span = tracing::info_span!("slack_socket", kind = "interactive");
    match super::limited::interaction(&app, &slack, &event) {
        Some(Some(response)) => return Ok(SlackInteractionResponse::ViewSubmission(response)),
        Some(None) => return Ok(SlackInteractionResponse::Empty),
        None => {}
    }
    if let Some(key) = inbound::trigger_key(&event)
        && inbound::first_time(&app, key).await.is_err()
    {
        return Ok(SlackInteractionResponse::Empty); // redelivered: acknowledged, not acted on
    }
    match inbound::interaction_reply(&app, &slack, event).instrument(span).await {
        Ok(Some(response)) => Ok(SlackInteractionResponse::ViewSubmission(response)),
        Ok(None) => Ok(SlackInteractionResponse::Empty),
        Err(Malformed(why)) => {
            tracing::warn!(why, "malformed interaction over Socket Mode; acknowledged");
            Ok(SlackInteractionResponse::Empty)
        }
    }
}

/// Decides the ack after a failed callback or an unreadable frame: always acknowledge (the
/// status is what slack-morphism reads: 2xx means ack), logging what is not the [`NoReply`]
/// marker.
fn on_error(
    err: Box<dyn std::error::Error + Send + Sync>,
    _client: Arc<SlackHyperClient>,
    _states: SlackClientEventsUserState,
) -> HttpStatusCode {
    if !err.is::<NoReply>() {
        tracing::error!(error = %err, "Slack Socket Mode error");
    }
    HttpStatusCode::OK
}

/// Starts the listener: `parts.connections` sockets, each opened with `apps.connections.open`
/// at `api_url`. The returned task runs until `shutdown` is cancelled, then closes the sockets.
pub async fn start(
    parts: &SocketModeParts,
    api_url: &str,
    app: SlackApp,
    shutdown: CancellationToken,
) -> anyhow::Result<JoinHandle<()>> {
    let client = Arc::new(SlackClient::new(
        super::client::connector(api_url).context("building the Socket Mode client")?,
    ));
    let environment = Arc::new(
        SlackClientEventsListenerEnvironment::new(client)
            .with_error_handler(on_error)
            .with_user_state(SocketState { app }),
    );
    let callbacks = SlackSocketModeListenerCallbacks::new()
        .with_command_events(on_command)
        .with_interaction_events(on_interaction);
    let config = SlackClientSocketModeConfig::new().with_max_connections_count(parts.connections.max(1));
    let listener = SlackClientSocketModeListener::new(&config, environment, callbacks);
    let token = SlackApiToken::new(parts.app_token.expose_secret().to_owned().into());
    listener.listen_for(&token).await.context("registering the Slack app-level token")?;
    Ok(tokio::spawn(async move {
        listener.start().await;
        tracing::info!(connections = config.max_connections_count, "Slack Socket Mode started");
        shutdown.cancelled().await;
        listener.shutdown().await;
        tracing::info!("Slack Socket Mode stopped");
    }))
}
