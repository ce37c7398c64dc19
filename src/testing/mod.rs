//! Test doubles shipped in the library, because `pimbot demo` runs them too: a fake Slack Web
//! API ([`FakeSlack`]) with its Socket Mode endpoint ([`FakeSlackSocket`]) and builders for the signed requests Slack sends the bot ([`signing`]);
//! a fake Discord REST API ([`FakeDiscord`]) and signed Discord interactions
//! ([`discord_signing`]); a fake identity platform + Graph + ARM ([`FakeGraph`]); a fake Entra
//! OpenID provider ([`FakeOidc`]) with the client authentication both fakes check
//! ([`fake_client_auth`]) and the fixed test keys ([`keys`]); rows for seeding a store
//! directly ([`seed`]); a fake audit collector ([`fake_audit_webhook`]); the audit key of tests
//! and the demo ([`audit`]); a fake Bot Framework for Teams ([`FakeTeams`]) and the Teams
//! client's tokens and activities ([`teams_client`]).
//!
//! Nothing here is used by `pimbot serve`. The module exists only with the `demo` feature
//! (on by default), which compiles what `pimbot demo` runs: the fake Slack Web API, the signed
//! request builders and the Azure Monitor payloads. Everything else needs the `testing`
//! feature, which the tests and benches turn on through the package's dev-dependency on
//! itself. Release images are built with `--no-default-features`, so they contain none of it.

pub mod audit;
pub mod azure_monitor;
#[cfg(feature = "testing")]
pub mod discord_signing;
pub mod expect;
pub mod fake_audit_webhook;
pub mod fake_client_auth;
#[cfg(feature = "testing")]
pub mod fake_discord;
#[cfg(feature = "testing")]
mod fake_discord_state;
#[cfg(feature = "testing")]
pub mod fake_graph;
#[cfg(feature = "testing")]
mod fake_graph_http;
#[cfg(feature = "testing")]
mod fake_graph_state;
pub mod fake_oidc;
mod fake_oidc_http;
#[cfg(feature = "testing")]
pub mod fake_oncall;
pub mod fake_slack;
mod fake_slack_faults;
mod fake_slack_history;
#[cfg(feature = "testing")]
pub mod fake_slack_socket;
mod fake_slack_state;
#[cfg(feature = "testing")]
pub mod fake_teams;
pub mod keys;
#[cfg(feature = "testing")]
pub mod seed;
pub mod signing;
#[cfg(feature = "testing")]
pub mod teams_client;

#[cfg(feature = "testing")]
pub use fake_discord::{DiscordCall, FAKE_DISCORD_TOKEN, FakeDiscord};
#[cfg(feature = "testing")]
pub use fake_discord_state::{DiscordMessage, FAKE_BOT_USER_ID};
#[cfg(feature = "testing")]
pub use fake_graph::{FakeAssignment, FakeGraph, FakeKind, FakeUser, GraphCall, GraphFault};
pub use fake_oidc::{BrowserResult, FakeOidc, KeyChoice, Scenario};
#[cfg(feature = "testing")]
pub use fake_oncall::{FAKE_OPSGENIE_TOKEN, FAKE_PAGERDUTY_TOKEN, FakeOnCall, OnCallCall, OnCallFault};
pub use fake_slack::{FAKE_APP_TOKEN, FAKE_BOT_TOKEN, FakeSlack, Hold, SlackCall};
#[cfg(feature = "testing")]
pub use fake_slack_socket::FakeSlackSocket;
pub use fake_slack_state::FakeMessage;
#[cfg(feature = "testing")]
pub use fake_teams::{
    FAKE_TEAMS_APP_ID, FAKE_TEAMS_APP_PASSWORD, FAKE_TEAMS_TENANT, FakeTeams, TeamsMessage,
};
#[cfg(feature = "testing")]
pub use teams_client::{SignWith, TeamsUser, TokenSpec};
