//! `GET /auth/link` and `GET /auth/callback`: the browser side of a sign-in.
//!
//! `/auth/link?state=…` is the one-time link pimbot hands out in chat; it redirects to the
//! provider with the state's nonce, its PKCE challenge and, for a step-up, a fresh-sign-in
//! request. The provider redirects back to `/auth/callback?code=…&state=…`; the code is
//! exchanged, the ID token verified, and the service decides what the sign-in does. Every
//! answer is plain text (nothing to escape, nothing to script) and never cached. [`router`]
//! mounts both, and the web view (`/ui`, which signs its viewers in here) when configured.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use axum::routing::get;

use super::oidc::{AuthorizeRequest, OidcClient, StepUp};
use crate::core::Error;
use crate::core::service::AccessService;
use crate::edge_errors;

/// The state of the sign-in routes and the web view.
#[derive(Clone)]
pub struct SignInApp {
    /// The use cases.
    pub service: Arc<AccessService>,
    /// The OpenID client (`[oidc]`).
    pub oidc: Arc<OidcClient>,
    /// The web view, when `[ui]` is configured.
    pub ui: Option<Arc<crate::ui::UiState>>,
}

/// `GET /auth/link` and `GET /auth/callback`, plus the web view's routes when it is configured.
pub fn router(app: SignInApp) -> Router {
    let mut routes = Router::new()
        .route(super::oidc::LINK_PATH, get(handle_link))
        .route(super::oidc::CALLBACK_PATH, get(handle_callback));
    if app.ui.is_some() {
        routes = routes.merge(crate::ui::routes::router());
    }
    routes.with_state(app)
}

/// Query of `GET /auth/link`.
#[derive(Debug, Deserialize)]
pub struct LinkQuery {
    /// The state value from the chat message.
    #[serde(default)]
    pub state: Option<String>,
}

/// Query of `GET /auth/callback` (OAuth 2.0 authorization response, `response_mode=query`).
#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    /// The authorization code.
    #[serde(default)]
    pub code: Option<String>,
    /// The state value echoed back.
    #[serde(default)]
    pub state: Option<String>,
    /// The provider's error code, when it refused.
    #[serde(default)]
    pub error: Option<String>,
    /// The provider's explanation.
    #[serde(default)]
    pub error_description: Option<String>,
}

/// A plain-text page that no cache keeps and no other site frames.
fn page(status: StatusCode, text: &str) -> Response {
    let mut response = (status, format!("pimbot\n\n{text}\n")).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

fn refusal(err: &Error) -> Response {
    let status = match err {
        Error::NotFound(_) | Error::BadInput(_) | Error::BadField(_) => StatusCode::BAD_REQUEST,
        Error::Conflict(_) => StatusCode::GONE,
        Error::NotAuthorized(_) | Error::PolicyViolation(_) | Error::InvalidTransition { .. } => {
            StatusCode::FORBIDDEN
        }
        Error::Unavailable(_) => {
            return page(StatusCode::SERVICE_UNAVAILABLE, &edge_errors::unavailable(err));
        }
        Error::Internal(_) => {
            return page(StatusCode::INTERNAL_SERVER_ERROR, &edge_errors::internal(err));
        }
    };
    page(status, &format!("Not done: {err}"))
}

/// `GET /auth/link?state=…`: redirects to the provider's sign-in.
pub async fn handle_link(State(app): State<SignInApp>, Query(query): Query<LinkQuery>) -> Response {
    let oidc = app.oidc.clone();
    let Some(value) = query.state.filter(|s| !s.is_empty()) else {
        return page(StatusCode::BAD_REQUEST, "This link is incomplete; ask pimbot for a new one.");
    };
    let ask = match app.service.sign_in_ask(&value).await {
        Ok(ask) => ask,
        Err(e) => return refusal(&e),
    };
    let request = AuthorizeRequest {
        state: &value,
        nonce: &ask.state.nonce,
        pkce_verifier: &ask.state.pkce_verifier,
        step_up: ask
            .mfa
            .as_ref()
            .map(|m| StepUp { max_age: m.max_age, auth_context: m.auth_context.as_deref() }),
        login_hint: ask.login_hint.as_deref(),
    };
    match oidc.authorize_url(&request).await {
        Ok(url) => {
            let mut response = StatusCode::FOUND.into_response();
            match HeaderValue::from_str(&url) {
                Ok(location) => {
                    response.headers_mut().insert(header::LOCATION, location);
                    response
                        .headers_mut()
                        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                    response
                        .headers_mut()
                        .insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
                    response
                }
                Err(_) => page(StatusCode::BAD_GATEWAY, "The identity provider's address is unusable."),
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "building the sign-in redirect failed");
            page(StatusCode::BAD_GATEWAY, &e.to_string())
        }
    }
}

/// `GET /auth/callback`: the provider's answer.
pub async fn handle_callback(
    State(app): State<SignInApp>,
    headers: axum::http::HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let oidc = app.oidc.clone();
    let Some(value) = query.state.filter(|s| !s.is_empty()) else {
        return page(
            StatusCode::BAD_REQUEST,
            "The sign-in came back without its state; start again from chat.",
        );
    };
    let state = match app.service.sign_in_state(&value).await {
        Ok(s) => s,
        Err(e) => return refusal(&e),
    };
    if let Some(error) = query.error {
        let why = format!(
            "the identity provider refused: {error}{}",
            query
                .error_description
                .map(|d| format!(" ({})", d.lines().next().unwrap_or_default()))
                .unwrap_or_default()
        );
        return failed(&app, &value, &why).await;
    }
    let Some(code) = query.code.filter(|c| !c.is_empty()) else {
        return failed(&app, &value, "the sign-in came back without a code").await;
    };
    let sign_in = match oidc.sign_in(&code, &state.pkce_verifier, &state.nonce).await {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, purpose = state.purpose.as_str(), "sign-in refused");
            return failed(&app, &value, &e.to_string()).await;
        }
    };
    if state.purpose == crate::core::identity::AuthPurpose::SignIn {
        return crate::ui::signin::finish(&app, &headers, state, sign_in).await;
    }
    match app.service.complete_sign_in(&value, sign_in).await {
        Ok(text) => page(StatusCode::OK, &text),
        Err(e) => refusal(&e),
    }
}

async fn failed(app: &SignInApp, value: &str, why: &str) -> Response {
    if let Err(e) = app.service.fail_sign_in(value, why).await
        && !e.is_user_facing()
    {
        return refusal(&e);
    }
    page(
        StatusCode::FORBIDDEN,
        &format!(
            "Not done: {why}. Nothing was changed; pimbot sends you a new link where one is still useful."
        ),
    )
}
