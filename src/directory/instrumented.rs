//! A `Directory` decorator that counts every call in `pimbot_directory_calls_total`, so no
//! directory implementation has to know about metrics.

use std::sync::Arc;

use async_trait::async_trait;

use crate::core::Result;
use crate::core::ports::{Directory, GrantSpec};

/// Wraps a directory and counts its calls by operation and outcome.
pub struct InstrumentedDirectory {
    inner: Arc<dyn Directory>,
}

impl InstrumentedDirectory {
    /// Wraps `inner`.
    pub fn new(inner: Arc<dyn Directory>) -> Self {
        Self { inner }
    }
}

#[async_trait]
impl Directory for InstrumentedDirectory {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    async fn grant(&self, spec: &GrantSpec) -> Result<()> {
        let result = self.inner.grant(spec).await;
        crate::metrics::directory_call(self.inner.name(), "grant", result.is_ok());
        result
    }

    async fn revoke(&self, spec: &GrantSpec) -> Result<()> {
        let result = self.inner.revoke(spec).await;
        crate::metrics::directory_call(self.inner.name(), "revoke", result.is_ok());
        result
    }
}
