//! pimbot: Privileged Identity Management for Slack, Discord and Microsoft Teams.
//!
//! Nobody holds a powerful role all the time: people request a role with `/pim activate`,
//! approvers decide on a card, the grant is time-bound and ended on time, and every step lands in
//! a hash-chained audit trail.
//!
//! Layers, outermost first:
//! - `slack`, `discord`, `teams`, `auth::routes` (sign-ins, with `ui`), `webhooks` (Azure
//!   Monitor break-glass alerts), `signins` (Graph sign-in poller): adapters. Each owns its
//!   routes and state; they verify signatures on raw bytes, parse platform payloads into
//!   [`core::command::Command`]s and render [`core::view`]s, and word failures through
//!   `edge_errors`. `http` merges their routers and adds the layers; `app` wires them.
//! - `core`: pure rules and the use cases (`core::service`), talking to the world only through
//!   the ports in [`core::ports`].
//! - `storage`: the `Store` port on SQLite (default) and PostgreSQL; `directory`: the
//!   `Directory` port; `delivery`: the outbox dispatcher; `scheduler`: sweeps.
//! - `config`: the TOML file (settings and policy), secrets from `PIMBOT_…` variables, and the
//!   startup checks that resolve it into a [`core::policy::Policy`].
//! - `audit`: the trail leaving the database: signed checkpoints and the streaming sinks.
//! - `ui`: the read-only web view at `/ui` (sign-in through `[oidc]`, `[ui] viewers`).
//! - `metrics`: Prometheus counters, gauges and histograms behind `GET /metrics`.
//! - `testing`: fakes of the chat platforms and signed-request builders, shared by the tests and
//!   `pimbot demo`. Compiled only with the `demo` feature (default; what the demo runs) or
//!   `testing` (everything; the tests and benches): release images carry no fake server.
//! - `preflight`: `pimbot check --online`.
//!
//! See `docs/ARCHITECTURE.md` for the full picture.

pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod core;
pub mod delivery;
#[cfg(feature = "demo")]
pub mod demo;
pub mod directory;
pub mod discord;
pub mod edge_errors;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod oncall;
pub mod preflight;
pub mod scheduler;
pub mod signins;
pub mod slack;
pub mod storage;
pub mod teams;
pub mod telemetry;
#[cfg(feature = "demo")]
pub mod testing;
pub mod ui;
pub mod webhooks;
