//! The single integration-test binary: shared support, then one module per area.

mod support;

mod breakglass;
mod durability;
mod slack_flow;
mod slack_refusals;
mod store;
