//! Test doubles shipped in the library, because `pimbot demo` runs them too: a fake Slack Web
//! API ([`FakeSlack`]) with its Socket Mode endpoint ([`FakeSlackSocket`]) and builders for the signed requests Slack sends the bot ([`signing`]);
//! a fake Discord REST API ([`FakeDiscord`]) and signed Discord interactions
//! ([`discord_signing`]); a fake identity platform + Graph + ARM ([`FakeGraph`]); a fake Entra
//! OpenID provider ([`FakeOidc`]) with the client authentication both fakes check
//! ([`fake_client_auth`]) and the fixed test keys ([`keys`]); rows for seeding a store
//! directly ([`seed`]).
//!
//! Nothing here is used by `pimbot serve`.

pub mod azure_monitor;
pub mod discord_signing;
pub mod fake_client_auth;
pub mod fake_discord;
mod fake_discord_state;
pub mod fake_graph;
mod fake_graph_http;
mod fake_graph_state;
pub mod fake_oidc;
mod fake_oidc_http;
pub mod fake_oncall;
pub mod fake_slack;
pub mod fake_slack_socket;
mod fake_slack_state;
pub mod keys;
pub mod seed;
pub mod signing;

pub use fake_discord::{DiscordCall, FAKE_DISCORD_TOKEN, FakeDiscord};
pub use fake_discord_state::{DiscordMessage, FAKE_BOT_USER_ID};
pub use fake_graph::{FakeAssignment, FakeGraph, FakeKind, FakeUser, GraphCall, GraphFault};
pub use fake_oidc::{BrowserResult, FakeOidc, KeyChoice, Scenario};
pub use fake_oncall::{FAKE_OPSGENIE_TOKEN, FAKE_PAGERDUTY_TOKEN, FakeOnCall, OnCallCall, OnCallFault};
pub use fake_slack::{FAKE_APP_TOKEN, FAKE_BOT_TOKEN, FakeSlack, SlackCall};
pub use fake_slack_socket::FakeSlackSocket;
pub use fake_slack_state::FakeMessage;
