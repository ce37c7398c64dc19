//! The audit key of the tests and the demo, so their chains are keyed like production ones.
//! Never use it anywhere else: it is public.

use std::sync::Arc;

use crate::core::audit_chain::{AuditKey, KeyRing, Linker};

/// `PIMBOT_AUDIT_KEY` of the tests and the demo.
pub const TEST_AUDIT_KEY: &str = "pimbot-tests-only-audit-key-0123456789abcdef";

/// The test key.
pub fn test_key() -> Arc<AuditKey> {
    Arc::new(AuditKey::new(TEST_AUDIT_KEY.as_bytes()).unwrap_or_else(|_| unreachable!("long enough")))
}

/// A linker with the test key.
pub fn test_linker() -> Linker {
    Linker::Keyed(test_key())
}

/// A ring holding the test key.
pub fn test_ring() -> KeyRing {
    KeyRing::new([test_key()])
}
