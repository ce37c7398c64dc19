//! The Discord adapter. Inbound: the Ed25519 signature middleware ([`verify`]) and the
//! interaction handler for `/pim`, autocomplete, button clicks and modal submissions
//! ([`inbound`]), mounted by [`router`] with their state ([`DiscordApp`]). Outbound: embed + button rendering of the core's views ([`render`]), a thin
//! REST client with classified errors ([`client`]), the outbox
//! [`crate::core::ports::ChatSender`] for Discord ([`sender`]), and the `/pim` command tree with
//! its registration ([`commands`]).

pub mod client;
pub mod commands;
pub mod inbound;
pub mod render;
pub mod render_alarm;
pub mod render_review;
pub mod sender;
pub mod verify;

use std::sync::Arc;

use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::post;

pub use client::{DiscordApi, DiscordApiError};
pub use sender::DiscordSender;

use crate::core::service::AccessService;
use crate::limits::CommandLimiter;

/// What the Discord route needs of Discord at request time.
#[derive(Clone)]
pub struct DiscordState {
    /// Signature checking.
    pub verifier: verify::DiscordVerifier,
}

/// The state of Discord's handler.
#[derive(Clone)]
pub struct DiscordApp {
    /// The use cases.
    pub service: Arc<AccessService>,
    /// The per-person command rate limit, checked first.
    pub limiter: Arc<CommandLimiter>,
    /// Discord's own parts.
    pub discord: DiscordState,
}

/// `POST /discord/interactions` behind the signature middleware.
pub fn router(app: DiscordApp) -> Router {
    Router::new()
        .route("/discord/interactions", post(inbound::handle_interaction))
        .route_layer(from_fn_with_state(app.discord.verifier.clone(), verify::require_signature))
        .with_state(app)
}
