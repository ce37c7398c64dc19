//! The single integration-test binary: shared support, then one module per area.

mod support;

mod durability;
mod manifests;
mod metrics;
mod ops;
mod slack_flow;
mod slack_refusals;
mod store;
