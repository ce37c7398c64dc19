//! `Directory` implementations. `static` records grants only in pimbot's own database (nothing
//! external is called): the right choice for a trial, or where the role is enforced elsewhere.
//! [`graph`] makes the grants in Entra ID and Azure through PIM (Microsoft Graph and ARM).

mod instrumented;

use std::sync::Mutex;

use async_trait::async_trait;

use crate::core::Result;
use crate::core::ports::{Directory, GrantSpec};

pub use instrumented::InstrumentedDirectory;

/// One call the static directory received, kept for tests and the demo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectoryCall {
    /// A grant (or extension) to the given end.
    Grant(GrantSpec),
    /// A revocation.
    Revoke(GrantSpec),
}

/// Grants are recorded by pimbot only; every call succeeds. A recording directory (tests, the
/// demo) also remembers each call; the production one remembers nothing, so it cannot grow.
#[derive(Debug, Default)]
pub struct StaticDirectory {
    calls: Option<Mutex<Vec<DirectoryCall>>>,
}

impl StaticDirectory {
    /// The production directory: nothing is kept in memory.
    pub fn new() -> Self {
        Self::default()
    }

    /// A directory that remembers every call (for tests and the demo).
    pub fn recording() -> Self {
        Self { calls: Some(Mutex::new(Vec::new())) }
    }

    /// The calls so far, oldest first (always empty unless built with [`Self::recording`]).
    pub fn calls(&self) -> Vec<DirectoryCall> {
        self.calls.as_ref().map(|c| c.lock().unwrap_or_else(|e| e.into_inner()).clone()).unwrap_or_default()
    }

    fn record(&self, call: impl FnOnce() -> DirectoryCall) {
        if let Some(calls) = &self.calls {
            calls.lock().unwrap_or_else(|e| e.into_inner()).push(call());
        }
    }
}

#[async_trait]
impl Directory for StaticDirectory {
    fn name(&self) -> &'static str {
        "static"
    }

    async fn grant(&self, spec: &GrantSpec) -> Result<()> {
        tracing::info!(grant = %spec.grant_id, person = %spec.person.id, role = %spec.role.key, ends_at = %spec.ends_at, "static grant recorded");
        self.record(|| DirectoryCall::Grant(spec.clone()));
        Ok(())
    }

    async fn revoke(&self, spec: &GrantSpec) -> Result<()> {
        tracing::info!(grant = %spec.grant_id, person = %spec.person.id, role = %spec.role.key, "static grant ended");
        self.record(|| DirectoryCall::Revoke(spec.clone()));
        Ok(())
    }
}

pub mod graph;

pub use graph::GraphDirectory;

/// The directory `[directory] kind` selects: [`StaticDirectory`] or [`GraphDirectory`].
pub fn from_config(
    config: &crate::config::DirectoryConfig,
    clock: std::sync::Arc<dyn crate::core::ports::Clock>,
) -> anyhow::Result<std::sync::Arc<dyn Directory>> {
    Ok(match config.kind {
        crate::config::DirectoryKind::Static => std::sync::Arc::new(StaticDirectory::new()),
        crate::config::DirectoryKind::Graph => {
            std::sync::Arc::new(GraphDirectory::new(graph::GraphSettings::from_config(config)?, clock)?)
        }
    })
}
