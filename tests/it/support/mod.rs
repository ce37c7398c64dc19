//! Helpers shared by the integration tests: per-test databases on every backend.

pub mod app;
pub mod binary;
pub mod db;
pub mod discord;
pub mod graph_app;
pub mod identity;
pub mod migration_conn;
pub mod migration_rows;
pub mod snap;
pub mod teams;
pub mod ui;
pub mod webdriver;
