//! Test doubles shipped in the library, because `pimbot demo` runs them too: a fake Slack Web
//! API ([`FakeSlack`]) with its Socket Mode endpoint ([`FakeSlackSocket`]) and builders for the signed requests Slack sends the bot ([`signing`]);
//! a fake Discord REST API ([`FakeDiscord`]) and signed Discord interactions
//! ([`discord_signing`]); a fake identity platform + Graph + ARM ([`FakeGraph`]); a fake Entra
//! OpenID provider ([`FakeOidc`]) with the client authentication both fakes check
//! ([`fake_client_auth`]) and the fixed test keys ([`keys`]); rows for seeding a store
//! directly ([`seed`]); a fake Bot Framework for Teams ([`FakeTeams`]) and the Teams client's
//! tokens and activities ([`teams_client`]).
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
pub mod fake_slack;
pub mod fake_slack_socket;
mod fake_slack_state;
pub mod fake_teams;
pub mod keys;
pub mod seed;
pub mod signing;
pub mod teams_client;

pub use fake_discord::{DiscordCall, FAKE_DISCORD_TOKEN, FakeDiscord};
pub use fake_discord_state::{DiscordMessage, FAKE_BOT_USER_ID};
pub use fake_graph::{FakeAssignment, FakeGraph, FakeKind, FakeUser, GraphCall, GraphFault};
pub use fake_oidc::{BrowserResult, FakeOidc, KeyChoice, Scenario};
pub use fake_slack::{FAKE_APP_TOKEN, FAKE_BOT_TOKEN, FakeSlack, SlackCall};
pub use fake_slack_socket::FakeSlackSocket;
pub use fake_slack_state::FakeMessage;
pub use fake_teams::{
    FAKE_TEAMS_APP_ID, FAKE_TEAMS_APP_PASSWORD, FAKE_TEAMS_TENANT, FakeTeams, TeamsMessage,
};
pub use teams_client::{SignWith, TeamsUser, TokenSpec};
