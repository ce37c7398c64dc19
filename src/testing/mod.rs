//! Test doubles shipped in the library, because `pimbot demo` runs them too: a fake Slack Web
//! API ([`FakeSlack`]) and builders for the signed requests Slack sends the bot ([`signing`]).
//!
//! Nothing here is used by `pimbot serve`.

pub mod azure_monitor;
pub mod fake_slack;
mod fake_slack_state;
pub mod signing;

pub use fake_slack::{FAKE_BOT_TOKEN, FakeSlack, SlackCall};
pub use fake_slack_state::FakeMessage;
