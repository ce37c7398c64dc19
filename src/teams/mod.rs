//! The Microsoft Teams adapter, over the Bot Framework. Inbound: `POST /teams/messages`
//! ([`inbound`], mounted by [`router`] with its state [`TeamsApp`]) behind Bot Framework JWT
//! authentication ([`auth`]), activities parsed by [`activity`]. Outbound: Adaptive Cards and
//! markdown notices ([`render`]; access-review and renewal cards in [`render_review`]), the Connector
//! client with the bot's app token ([`client`]), the outbox sender ([`sender`]), and the
//! notification-only Workflows webhook ([`webhook`]). [`package`] builds the app package.
//!
//! People are matched by their Entra object id (`from.aadObjectId` = `[[person]] object_id`);
//! the core sees a Teams user as `ChatUser { platform: Teams, id: <object id> }`.

pub mod activity;
pub mod auth;
pub mod client;
pub mod inbound;
pub mod package;
pub mod render;
pub mod render_review;
pub mod sender;
pub mod webhook;

use std::sync::Arc;

use axum::Router;
use axum::routing::post;

pub use client::{BotIdentity, Connector, ConnectorError};
pub use sender::TeamsSender;
pub use webhook::WebhookSender;

/// What the Teams route needs at request time.
#[derive(Clone, Debug)]
pub struct TeamsState {
    /// Bot Framework token checks.
    pub auth: Arc<auth::BotAuth>,
    /// The only tenant whose activities are accepted.
    pub tenant_id: String,
}

/// The state of the Teams handler.
#[derive(Clone)]
pub struct TeamsApp {
    /// The use cases.
    pub service: Arc<crate::core::service::AccessService>,
    /// The per-person command rate limit, checked first.
    pub limiter: Arc<crate::limits::CommandLimiter>,
    /// Teams' own parts.
    pub teams: TeamsState,
}

/// `POST /teams/messages`. Authenticated inside the handler: the token's `serviceurl` is
/// checked against the activity's own `serviceUrl`, so the body must be read first.
pub fn router(app: TeamsApp) -> Router {
    Router::new().route("/teams/messages", post(inbound::handle_activity)).with_state(app)
}
