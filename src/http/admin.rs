//! `POST /admin/reload`: re-reads the policy file the server was started with and applies it to
//! requests in flight. Off unless `[server] admin_token` is set; the bearer token is compared in
//! constant time. SIGHUP does the same without HTTP.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use subtle::ConstantTimeEq;

use super::HttpState;

/// The shortest admin token accepted: anything shorter could be guessed or is a placeholder.
pub const MIN_TOKEN_CHARS: usize = 32;

/// Why `token` cannot guard `/admin/reload`, if it cannot: blank, or shorter than
/// [`MIN_TOKEN_CHARS`]. `pimbot check` and `pimbot serve` refuse such a config.
pub fn weak_token(token: &str) -> Option<String> {
    let chars = token.trim().chars().count();
    if chars == 0 {
        Some(format!(
            "is blank, which would open /admin/reload to anyone; remove it to turn the route off, or set at least {MIN_TOKEN_CHARS} random characters (`openssl rand -hex 32`)"
        ))
    } else if chars < MIN_TOKEN_CHARS {
        Some(format!(
            "is {chars} characters; use at least {MIN_TOKEN_CHARS} random characters (`openssl rand -hex 32`)"
        ))
    } else {
        None
    }
}

/// One reload in progress: the summary and what it did to grants and requests in flight.
pub type ReloadFuture = std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<String>> + Send>>;

/// Re-reads and applies the policy; answers a summary and what the new policy does to grants
/// and requests in flight.
pub type Reloader = Arc<dyn Fn() -> ReloadFuture + Send + Sync>;

/// What the admin route needs.
#[derive(Clone)]
pub struct AdminState {
    /// Expected bearer token.
    pub token: SecretString,
    /// The reload action.
    pub reload: Reloader,
}

/// `POST /admin/reload`.
pub async fn reload(State(app): State<HttpState>, headers: HeaderMap) -> (StatusCode, String) {
    let Some(admin) = app.admin else { return (StatusCode::NOT_FOUND, "not found".into()) };
    let given = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let expected = admin.token.expose_secret();
    // A weak token never gets this far (`app::start` refuses it); never match an empty one.
    if expected.is_empty() || !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
        return (StatusCode::UNAUTHORIZED, "bad admin token".into());
    }
    match (admin.reload)().await {
        Ok(summary) => {
            tracing::info!(%summary, "policy reloaded over HTTP");
            (StatusCode::OK, summary)
        }
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "policy reload refused; the old policy stays");
            (StatusCode::UNPROCESSABLE_ENTITY, format!("{e:#}"))
        }
    }
}
