//! The Slack adapter, output side: Block Kit rendering of the core's views ([`render`]), a thin
//! Web API client with timeouts and classified errors ([`client`]), and the outbox
//! [`crate::core::ports::ChatSender`] for Slack ([`sender`]).
//!
//! Inbound requests (slash commands, interactions, signature checks) live in the HTTP layer.

pub mod client;
pub mod render;
pub mod sender;

pub use client::{Posted, SlackApi, SlackApiError};
pub use sender::SlackSender;
