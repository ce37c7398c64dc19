//! The HTTP surface: the edge's own routes (probes, `/metrics`, `/admin/reload`), the merge of
//! the adapters' routers and the cross-cutting layers (tracing with a request id, a timeout, a
//! body size limit, request timing for `/metrics`). Each adapter (`slack`, `discord`, `teams`,
//! `auth::routes` with `ui`, `webhooks`) owns its routes, state and handlers and hands over a
//! finished `Router`; this module names none of them.

pub mod admin;
mod health;
mod metrics;
pub mod serve;
pub mod signed;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::from_fn;
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::core::service::AccessService;
use signed::MAX_BODY_BYTES;

/// Requests taking longer than this are answered 503 (Slack gives up after 3 s anyway).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What the edge's own routes need: the probes, `/metrics` and `/admin/reload`.
#[derive(Clone)]
pub struct HttpState {
    /// The use cases (the readiness probe pings their store; `/metrics` reads gauges).
    pub service: Arc<AccessService>,
    /// Present when `[server] admin_token` is configured.
    pub admin: Option<admin::AdminState>,
}

/// Which routes a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// Everything on one port (no `[server] internal_listen`).
    All,
    /// What the ingress forwards: chat routes and webhooks, plus the probes.
    Public,
    /// What stays inside the cluster: `/metrics`, `/admin/reload`, plus the probes.
    Internal,
}

/// Builds the router with every route and layer: the edge's own routes and `adapters` (the
/// merged routers of the chat platforms, sign-ins and webhooks, each with its own state).
pub fn router(state: HttpState, adapters: Router) -> Router {
    router_for(state, adapters, Surface::All)
}

/// Builds the router of one listener: the probes everywhere, `/metrics` and `/admin/reload`
/// only on the internal surface, the adapters' routes only on the public one, so a
/// NetworkPolicy can admit each audience to its own port.
pub fn router_for(state: HttpState, adapters: Router, surface: Surface) -> Router {
    crate::metrics::install();
    let mut own = Router::new().route("/healthz", get(health::healthz)).route("/readyz", get(health::readyz));
    if surface != Surface::Public {
        own = own.route("/metrics", get(metrics::metrics)).route("/admin/reload", post(admin::reload));
    }
    let mut app = own.with_state(state);
    if surface != Surface::Internal {
        app = app.merge(adapters);
    }
    layered(app)
}

/// The cross-cutting layers every listener gets.
fn layered(app: Router) -> Router {
    app.layer(from_fn(metrics::track))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(StatusCode::SERVICE_UNAVAILABLE, REQUEST_TIMEOUT))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(|req: &axum::http::Request<_>| {
            let id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
            tracing::info_span!("http", method = %req.method(), path = %req.uri().path(), request_id = %id)
        }))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}
