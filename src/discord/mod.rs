//! The Discord adapter. Inbound: the Ed25519 signature middleware ([`verify`]) and the
//! interaction handler for `/pim`, autocomplete, button clicks and modal submissions
//! ([`inbound`]). Outbound: embed + button rendering of the core's views ([`render`]), a thin
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

pub use client::{DiscordApi, DiscordApiError};
pub use sender::DiscordSender;

/// What the Discord route needs at request time.
#[derive(Clone)]
pub struct DiscordState {
    /// Signature checking.
    pub verifier: verify::DiscordVerifier,
}
