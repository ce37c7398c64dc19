//! The domain core: vocabulary, the request state machine, policy and separation-of-duties
//! rules, the command grammar, platform-neutral views and the use cases that tie them together.
//!
//! No chat-platform, Graph, database-driver or web-framework types here: adapters translate at the boundary,
//! and side effects go through the ports in [`ports`]. `now` is always a parameter or read from
//! the [`ports::Clock`] port.

pub mod alarm;
pub mod alerts;
pub mod audit;
pub mod audit_chain;
pub mod break_glass;
pub mod checkpoint;
pub mod command;
pub mod duration;
pub mod error;
pub mod event_kind;
pub mod help;
pub mod history;
pub mod hours;
pub mod identity;
pub mod ids;
pub mod oncall;
pub mod outbox;
pub mod policy;
pub mod ports;
pub mod posture;
pub mod refusal;
pub mod renewal;
pub mod report;
pub mod request;
pub mod reviews;
pub mod schedule;
pub mod service;
pub mod state;
pub mod text;
pub mod view;

pub use error::{Error, Result};
