//! The single integration-test binary: shared support, then one module per area.

mod support;

mod breakglass;
mod cli;
mod credentials;
mod discord_alarm;
mod discord_flow;
mod durability;
mod expiry;
mod graph;
mod graph_drift;
mod identity_link;
mod invariant_graph;
mod invariant_policy;
mod invariant_process;
mod invariant_races;
mod invariant_requests;
mod lookup;
mod manifests;
mod metrics;
mod oncall;
mod ops;
mod process;
mod scheduled;
mod slack_flow;
mod slack_refusals;
mod socket_mode;
mod step_up;
mod store;
mod store_identity;
mod store_invariants;
mod store_outbox;
mod store_schedule;
