//! The single integration-test binary: shared support, then one module per area.

mod support;

mod store;
mod durability;
mod slack_flow;
mod slack_refusals;
