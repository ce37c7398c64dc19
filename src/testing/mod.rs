//! Test doubles shipped in the library, because `pimbot demo` runs them too: a fake Slack Web
//! API ([`FakeSlack`]), a fake identity platform + Graph + ARM ([`FakeGraph`]) and builders for
//! the signed requests Slack sends the bot ([`signing`]).
//!
//! Nothing here is used by `pimbot serve`.

pub mod fake_graph;
mod fake_graph_http;
mod fake_graph_state;
pub mod fake_slack;
mod fake_slack_state;
pub mod signing;

pub use fake_graph::{FakeAssignment, FakeGraph, FakeKind, FakeUser, GraphCall, GraphFault};
pub use fake_slack::{FAKE_BOT_TOKEN, FakeSlack, SlackCall};
pub use fake_slack_state::FakeMessage;
