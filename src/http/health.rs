//! Liveness and readiness. `/healthz` says the process serves HTTP; `/readyz` also checks that
//! the database answers, so a load balancer stops sending traffic to a replica that lost it.

use axum::extract::State;
use axum::http::StatusCode;

use super::HttpState;

/// `GET /healthz`.
pub async fn healthz() -> &'static str {
    "ok"
}

/// `GET /readyz`.
pub async fn readyz(State(app): State<HttpState>) -> (StatusCode, &'static str) {
    match app.service.store().ping().await {
        Ok(()) => (StatusCode::OK, "ready"),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "readiness check failed");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable")
        }
    }
}
