//! Inbound webhooks other than the chat platforms: `POST /webhooks/azure-monitor?token=…`, the
//! Azure Monitor action group that reports break-glass sign-ins (wire-formats §5.2).
//!
//! Azure's plain webhooks are not signed, so the shared token in the URL is the only proof of
//! origin: it is compared in constant time, and a wrong or missing token is a 401 before the
//! body is even parsed. The answer is fast (each raise is one short transaction, delivery goes
//! through the outbox), and a storage failure is answered 503, one of the few statuses Azure
//! retries. Bodies are limited to Azure's own 256 KB payload limit by the router.

pub mod azure_monitor;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::core::service::AccessService;
use azure_monitor::MonitorCondition;

/// What the Azure Monitor route needs of its settings.
#[derive(Clone)]
pub struct AzureMonitorState {
    /// The shared secret expected as `?token=…`.
    pub token: SecretString,
}

/// The state of the Azure Monitor handler.
#[derive(Clone)]
pub struct AzureMonitorApp {
    /// The use cases.
    pub service: Arc<AccessService>,
    /// The route's settings.
    pub azure_monitor: AzureMonitorState,
}

/// `POST /webhooks/azure-monitor` (the body limit is the edge's, see `http`).
pub fn router(app: AzureMonitorApp) -> Router {
    Router::new().route("/webhooks/azure-monitor", post(handle_azure_monitor)).with_state(app)
}

/// Whether `given` equals the configured token, in time independent of where they differ and
/// of their lengths (both sides are hashed first).
pub fn token_matches(expected: &SecretString, given: Option<&str>) -> bool {
    let Some(given) = given else { return false };
    let expected = expected.expose_secret();
    if expected.is_empty() {
        return false;
    }
    let a = Sha256::digest(expected.as_bytes());
    let b = Sha256::digest(given.as_bytes());
    a.as_slice().ct_eq(b.as_slice()).into()
}

fn token_of(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    pairs.into_iter().find(|(k, _)| k == "token").map(|(_, v)| v)
}

/// `POST /webhooks/azure-monitor?token=…`.
pub async fn handle_azure_monitor(
    State(app): State<AzureMonitorApp>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let state = &app.azure_monitor;
    if !token_matches(&state.token, token_of(query.as_deref()).as_deref()) {
        tracing::warn!("Azure Monitor webhook with a wrong or missing token refused");
        return (StatusCode::UNAUTHORIZED, "wrong or missing token").into_response();
    }
    let notification = match azure_monitor::parse(&body, app.service.clock().now()) {
        Ok(n) => n,
        Err(e) => {
            tracing::warn!(error = %e, "malformed Azure Monitor notification");
            return (StatusCode::BAD_REQUEST, e.to_string()).into_response();
        }
    };
    match &notification.condition {
        MonitorCondition::Fired => {}
        MonitorCondition::Resolved => {
            tracing::info!(rule = %notification.rule, "Azure Monitor alert resolved; the alarm stays until acknowledged");
            return Json(json!({"condition": "Resolved", "raised": []})).into_response();
        }
        MonitorCondition::Other(c) => {
            tracing::warn!(rule = %notification.rule, condition = %c, "unknown monitorCondition; ignored");
            return Json(json!({"condition": c, "raised": []})).into_response();
        }
    }
    if notification.unidentified > 0 {
        tracing::error!(
            rule = %notification.rule,
            conditions = notification.unidentified,
            "Azure Monitor alert names no account: split the rule on the UserPrincipalName dimension"
        );
    }
    // All sign-ins at once: those of one account become one alarm (or join its open one).
    let outcome = match app.service.raise_all(&notification.signins).await {
        Ok(outcome) => outcome,
        Err(e) => {
            let incident = crate::edge_errors::incident(&e);
            // 503 is one of the statuses Azure's action group retries.
            return (StatusCode::SERVICE_UNAVAILABLE, format!("could not record the alarm ({incident})"))
                .into_response();
        }
    };
    let raised: Vec<String> = outcome.iter().filter(|r| r.new).map(|r| r.alarm.id.to_string()).collect();
    let joined: Vec<String> = outcome.iter().filter(|r| !r.new).map(|r| r.alarm.id.to_string()).collect();
    let recorded: usize = outcome.iter().map(|r| r.added).sum();
    let ignored = notification.signins.len().saturating_sub(recorded);
    Json(json!({"condition": "Fired", "raised": raised, "joined": joined, "signins": recorded,
        "ignored": ignored, "unidentified": notification.unidentified}))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        let secret: SecretString = "s3cret".to_owned().into();
        assert!(token_matches(&secret, Some("s3cret")));
        assert!(!token_matches(&secret, Some("s3cre")));
        assert!(!token_matches(&secret, Some("")));
        assert!(!token_matches(&secret, None));
        assert!(!token_matches(&SecretString::from(String::new()), Some("")));
    }

    #[test]
    fn the_token_is_read_from_the_query() {
        assert_eq!(token_of(Some("token=a%2Bb&x=1")).as_deref(), Some("a+b"));
        assert_eq!(token_of(Some("x=1")), None);
        assert_eq!(token_of(None), None);
    }
}
