//! The Slack adapter. Inbound: the signature middleware ([`verify`]) and the handlers for
//! slash commands, clicks and modal submissions ([`inbound`]), reached over HTTP or over
//! Socket Mode ([`socket`]). Outbound: Block Kit rendering of
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

pub use client::{Posted, SlackApi, SlackApiError};
pub use identity::SlackIdentity;
pub use sender::SlackSender;
