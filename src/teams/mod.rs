//! The Microsoft Teams adapter, over the Bot Framework. Inbound: `POST /teams/messages`
//! ([`inbound`]) behind Bot Framework JWT authentication ([`auth`]), activities parsed by
//! [`activity`]. Outbound: Adaptive Cards and markdown notices ([`render`]; access-review and
//! renewal cards in [`render_review`]), the Connector
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
