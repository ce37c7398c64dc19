//! `GET /metrics` (Prometheus text) and the middleware that times every request by its matched
//! route template, so ids in paths never explode the label set, and writes the access log: one
//! `info` line per request (target `pimbot::access`) with the route, status and latency; the
//! method, path and `request_id` come from the enclosing `http` span.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::HttpState;

/// Content type of the Prometheus text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// `GET /metrics`: refreshes the database-backed gauges, then renders every metric.
pub async fn metrics(State(app): State<HttpState>) -> impl IntoResponse {
    let service = &app.service;
    crate::metrics::refresh_gauges(service.store().as_ref(), &service.policy(), service.clock().now()).await;
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], crate::metrics::render())
}

/// Records `pimbot_http_request_duration_seconds{route,status}` for each request and logs it.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned());
    let started = Instant::now();
    let response = next.run(req).await;
    let route = route.as_deref().unwrap_or("unmatched");
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    crate::metrics::http_request(route, status, elapsed.as_secs_f64());
    tracing::info!(
        target: "pimbot::access",
        route,
        status,
        latency_ms = (elapsed.as_secs_f64() * 1000.0 * 1000.0).round() / 1000.0,
        "request"
    );
    response
}
