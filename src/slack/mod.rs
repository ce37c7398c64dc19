//! The Slack adapter. Inbound: the signature middleware ([`verify`]) and the handlers for
//! slash commands, clicks and modal submissions ([`inbound`]), reached over HTTP ([`router`])
//! or over Socket Mode ([`socket`]), with their state ([`SlackApp`]). Outbound: Block Kit rendering of
//! the core's views ([`render`]), a thin Web API client with timeouts and classified errors
//! ([`client`]), the lookup of earlier posts that keeps retries from posting twice
//! ([`lookup`]), the profile-email lookup ([`identity`]), and the outbox [`crate::core::ports::ChatSender`] for Slack ([`sender`]).

pub mod client;
pub mod identity;
pub mod inbound;
pub mod limited;
pub mod lookup;
pub mod render;
pub mod sender;
pub mod socket;
pub mod verify;

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::post;

pub use client::{Posted, SlackApi, SlackApiError};
pub use identity::SlackIdentity;
pub use sender::SlackSender;

use crate::core::service::AccessService;
use crate::limits::CommandLimiter;

/// What Slack's inbound side needs of Slack, over HTTP or Socket Mode.
#[derive(Clone)]
pub struct SlackState {
    /// Web API client (for `views.open`).
    pub api: Arc<SlackApi>,
    /// Signature checking of `POST /slack/…`; `None` in Socket Mode, where those routes are
    /// not mounted (requests arrive over the socket, unsigned).
    pub verifier: Option<verify::SlackVerifier>,
}

/// The state of Slack's handlers.
#[derive(Clone)]
pub struct SlackApp {
    /// The use cases.
    pub service: Arc<AccessService>,
    /// The per-person command rate limit, checked first.
    pub limiter: Arc<CommandLimiter>,
    /// Slack's own parts.
    pub slack: SlackState,
}

/// `POST /slack/commands` and `POST /slack/interactions` behind the signature middleware; no
/// routes in Socket Mode (no signing secret: requests arrive over the socket).
pub fn router(app: SlackApp) -> Router {
    let Some(verifier) = app.slack.verifier.clone() else { return Router::new() };
    Router::new()
        .route("/slack/commands", post(inbound::handle_command))
        .route("/slack/interactions", post(inbound::handle_interaction))
        .route_layer(from_fn_with_state(verifier, verify::require_signature))
        .with_state(app)
}
