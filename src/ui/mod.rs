//! The read-only web view at `/ui`: who is elevated now, what waits on whom, how activations
//! trend, the audit trail with its chain status, and findings (directory drift).
//!
//! - [`session`]: the viewer's session, a signed (`cookie` crate, HMAC-SHA256) `HttpOnly`,
//!   `Secure`, `SameSite=Lax` cookie that lives [`SESSION_TTL`].
//! - [`signin`]: sign-in through `[oidc]` (authorization code + PKCE, one-time `state` and
//!   `nonce`, the shared `GET /auth/callback`), restricted to `[ui] viewers`.
//! - [`now`], [`history`], [`trends`], [`findings`]: what each page shows, computed from the
//!   store and the audit trail (every figure is traceable to audit events); [`chart`]: SVG.
//! - [`pages`] and [`layout`]: server-rendered markup (maud, escaped by construction), no
//!   front-end build step; [`routes`]: the axum handlers.
//!
//! The view changes nothing but its own sign-in state and audit events, so it needs no CSRF
//! protection. It must not call the use cases that change requests or grants.

pub mod chart;
pub mod findings;
pub mod history;
pub mod layout;
pub mod now;
pub mod pages;
pub mod routes;
pub mod session;
pub mod signin;
pub mod trends;

use secrecy::{ExposeSecret, SecretString};

/// How long a viewer's session lasts; then they sign in again.
pub const SESSION_TTL: chrono::Duration = chrono::Duration::minutes(30);
/// The session cookie's name.
pub const COOKIE: &str = "pimbot_ui";
/// Overrides the key that signs session cookies (at least 32 bytes; every replica behind one
/// address needs the same). Without it each process picks a random key at start, so a restart
/// signs everyone out.
pub const ENV_UI_SESSION_KEY: &str = "PIMBOT_UI_SESSION_KEY";
/// The view's root path.
pub const ROOT: &str = "/ui";

/// What the running app needs to serve the view (present when `[ui]` and `[oidc]` are).
#[derive(Clone)]
pub struct UiParts {
    /// The key material for session cookies (`PIMBOT_UI_SESSION_KEY`), if set.
    pub session_key: Option<SecretString>,
    /// The audit keys the History page verifies the chain with (current and rotated-out).
    pub audit_ring: crate::core::audit_chain::KeyRing,
}

impl std::fmt::Debug for UiParts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UiParts").field("session_key", &self.session_key.as_ref().map(|_| "…")).finish()
    }
}

impl UiParts {
    /// The parts for a validated config; `None` without `[ui]`.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Option<Self>> {
        if config.ui.is_none() {
            return Ok(None);
        }
        let session_key = std::env::var(ENV_UI_SESSION_KEY).ok().filter(|k| !k.is_empty());
        if let Some(k) = &session_key
            && k.len() < 32
        {
            anyhow::bail!("{ENV_UI_SESSION_KEY} must be at least 32 characters");
        }
        let audit_ring = config.audit.keys().map(|k| k.ring).unwrap_or_default();
        Ok(Some(Self { session_key: session_key.map(SecretString::from), audit_ring }))
    }
}

/// Shared state of the view's handlers.
pub struct UiState {
    key: cookie::Key,
    audit_ring: crate::core::audit_chain::KeyRing,
    starts: governor::DefaultDirectRateLimiter,
}

/// Sign-ins the view starts per minute, at most (each stores a one-time state, so an
/// unauthenticated client must not be able to write without bound).
pub const SIGN_IN_STARTS_PER_MINUTE: u32 = 120;

impl UiState {
    /// State with the configured session key, or a random one.
    pub fn new(parts: &UiParts) -> Self {
        let key = match &parts.session_key {
            Some(k) => cookie::Key::derive_from(k.expose_secret().as_bytes()),
            None => cookie::Key::generate(),
        };
        let per_minute =
            std::num::NonZeroU32::new(SIGN_IN_STARTS_PER_MINUTE).unwrap_or(std::num::NonZeroU32::MIN);
        Self {
            key,
            audit_ring: parts.audit_ring.clone(),
            starts: governor::RateLimiter::direct(governor::Quota::per_minute(per_minute)),
        }
    }

    /// The audit keys the chain is verified with.
    pub(crate) fn audit_ring(&self) -> &crate::core::audit_chain::KeyRing {
        &self.audit_ring
    }

    /// The cookie key.
    pub(crate) fn key(&self) -> &cookie::Key {
        &self.key
    }

    /// Whether one more sign-in may start now.
    pub(crate) fn may_start_sign_in(&self) -> bool {
        self.starts.check().is_ok()
    }
}
