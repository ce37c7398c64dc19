//! The single integration-test binary: shared support, then one module per area.

mod support;

mod store;
