//! The HTTP surface: routes, shared state and the cross-cutting layers (tracing with a request
//! id, a timeout, a body size limit, request timing for `/metrics`). Adapters own their
//! handlers; this module only mounts them.

pub mod admin;
mod health;
mod metrics;
pub mod serve;
pub mod signed;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::core::service::AccessService;
use crate::slack::client::SlackApi;
use crate::slack::verify::{MAX_BODY_BYTES, SlackVerifier, require_signature};

/// Requests taking longer than this are answered 503 (Slack gives up after 3 s anyway).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// What Slack's inbound side needs, over HTTP or Socket Mode.
#[derive(Clone)]
pub struct SlackState {
    /// Web API client (for `views.open`).
    pub api: Arc<SlackApi>,
    /// Signature checking of `POST /slack/…`; `None` in Socket Mode, where those routes are
    /// not mounted (requests arrive over the socket, unsigned).
    pub verifier: Option<SlackVerifier>,
}

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub service: Arc<AccessService>,
    /// Present when `[slack]` is configured.
    pub slack: Option<SlackState>,
    /// Present when `[server] admin_token` is configured.
    pub admin: Option<admin::AdminState>,
    /// Present when `[discord]` is configured.
    pub discord: Option<crate::discord::DiscordState>,
    /// Present when `[teams]` runs a bot.
    pub teams: Option<crate::teams::TeamsState>,
    /// Present when `[break_glass_monitor]` is configured.
    pub azure_monitor: Option<crate::webhooks::AzureMonitorState>,
    /// Present when `[oidc]` is configured (identity links and MFA step-up).
    pub oidc: Option<Arc<crate::auth::oidc::OidcClient>>,
    /// Present when `[ui]` (and `[oidc]`) is configured: the web view.
    pub ui: Option<Arc<crate::ui::UiState>>,
    /// The per-person command rate limit every platform's inbound handlers check first.
    pub limiter: Arc<crate::limits::CommandLimiter>,
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

/// Builds the router with every route and layer.
pub fn router(state: AppState) -> Router {
    router_for(state, Surface::All)
}

/// Builds the router of one listener: the probes everywhere, `/metrics` and `/admin/reload`
/// only on the internal surface, chat routes and webhooks only on the public one, so a
/// NetworkPolicy can admit each audience to its own port.
pub fn router_for(state: AppState, surface: Surface) -> Router {
    crate::metrics::install();
    let mut app = Router::new().route("/healthz", get(health::healthz)).route("/readyz", get(health::readyz));
    if surface != Surface::Public {
        app = app.route("/metrics", get(metrics::metrics)).route("/admin/reload", post(admin::reload));
    }
    if surface == Surface::Internal {
        return layered(app.with_state(state));
    }
    if let Some(verifier) = state.slack.as_ref().and_then(|s| s.verifier.clone()) {
        let slack_routes = Router::new()
            .route("/slack/commands", post(crate::slack::inbound::handle_command))
            .route("/slack/interactions", post(crate::slack::inbound::handle_interaction))
            .route_layer(from_fn_with_state(verifier, require_signature));
        app = app.merge(slack_routes);
    }
    if let Some(discord) = &state.discord {
        let discord_routes = Router::new()
            .route("/discord/interactions", post(crate::discord::inbound::handle_interaction))
            .route_layer(from_fn_with_state(
                discord.verifier.clone(),
                crate::discord::verify::require_signature,
            ));
        app = app.merge(discord_routes);
    }
    if state.teams.is_some() {
        // Authenticated inside the handler: the token's `serviceurl` is checked against the
        // activity's own `serviceUrl`, so the body must be read first.
        app = app.route("/teams/messages", post(crate::teams::inbound::handle_activity));
    }
    if state.oidc.is_some() {
        app = app
            .route(crate::auth::oidc::LINK_PATH, get(crate::auth::routes::handle_link))
            .route(crate::auth::oidc::CALLBACK_PATH, get(crate::auth::routes::handle_callback));
        if state.ui.is_some() {
            app = app.merge(crate::ui::routes::router());
        }
    }
    if state.azure_monitor.is_some() {
        app = app.route("/webhooks/azure-monitor", post(crate::webhooks::handle_azure_monitor));
    }
    layered(app.with_state(state))
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

/// Logs an internal error with its cause chain and returns the incident id shown to the user.
pub fn incident(err: &crate::core::Error) -> String {
    let id = crate::core::ids::AlarmId::generate().0.replacen("a-", "inc-", 1);
    tracing::error!(incident = %id, error = %format!("{err:#}"), "internal error");
    id
}
