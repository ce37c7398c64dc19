//! Signing in to the view. A request without a session gets a one-time `state`
//! (`AuthPurpose::SignIn`, with its own `nonce` and PKCE verifier, stored hashed like every
//! other state) and is redirected to the provider; the provider returns to the shared
//! `GET /auth/callback`, which verifies the ID token (`auth::oidc`) and hands the sign-in here.
//! The state is used up (compare-and-set in the store) in the same commit as the audit event
//! that says who signed in or who was refused, so a callback works once.
//!
//! The browser that starts a sign-in gets a cookie with the state's id; a callback arriving
//! without it is refused, so nobody can push their own finished sign-in into a viewer's
//! browser.
//!
//! Who is who: the policy person whose `object_id` is the token's `oid`, else the person a chat
//! account linked to that `oid` belongs to. Only `[ui] viewers` get a session.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;
use serde_json::json;

use super::{UiState, layout, session};
use crate::auth::oidc::AuthorizeRequest;
use crate::auth::routes::SignInApp;
use crate::core::audit::{Actor, AuditEvent, EventKind};
use crate::core::error::{Error, Result};
use crate::core::identity::{AuthPurpose, AuthState, LINK_TTL, SignIn};
use crate::core::ids::PersonId;
use crate::core::policy::Policy;
use crate::core::ports::{Commit, Store};

/// Audit kind of a sign-in to the view.
pub const SIGNED_IN: EventKind = EventKind::UiSignedIn;
/// Audit kind of a sign-in refused because the person is not a viewer.
pub const REFUSED: EventKind = EventKind::UiSignInRefused;

/// Starts a sign-in: stores a fresh state and redirects to the provider.
pub async fn start(app: &SignInApp, ui: &UiState, requested: &axum::http::Uri) -> Response {
    let oidc = app.oidc.clone();
    if !ui.may_start_sign_in() {
        return layout::message(StatusCode::TOO_MANY_REQUESTS, "Too many sign-ins", "Try again in a minute.");
    }
    let now = app.service.clock().now();
    let issued = AuthState::issue(AuthPurpose::SignIn, None, None, None, now, LINK_TTL);
    let state_id = issued.state.id.clone();
    let request = AuthorizeRequest {
        state: &issued.value,
        nonce: &issued.state.nonce,
        pkce_verifier: &issued.state.pkce_verifier,
        step_up: None,
        login_hint: None,
    };
    let url = match oidc.authorize_url(&request).await {
        Ok(url) => url,
        Err(e) => {
            tracing::warn!(error = %e, "building the view's sign-in redirect failed");
            return layout::message(StatusCode::BAD_GATEWAY, "Sign-in unavailable", &e.to_string());
        }
    };
    let stored = app
        .service
        .store()
        .commit(Commit { at: Some(now), new_auth_states: vec![issued.state], ..Commit::default() })
        .await;
    if let Err(e) = stored {
        return layout::error(&e);
    }
    match HeaderValue::from_str(&url) {
        Ok(location) => {
            let mut response = StatusCode::FOUND.into_response();
            response.headers_mut().insert(header::LOCATION, location);
            response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            let path = requested.path_and_query().map(|p| p.as_str()).unwrap_or(super::ROOT);
            response.headers_mut().append(header::SET_COOKIE, session::remember_page(path));
            response.headers_mut().append(header::SET_COOKIE, session::bind_flow(&state_id));
            response
        }
        Err(_) => layout::message(
            StatusCode::BAD_GATEWAY,
            "Sign-in unavailable",
            "The provider's address is unusable.",
        ),
    }
}

/// Finishes a verified sign-in of `state` (purpose `SignIn`): a session for a viewer, 403 for
/// anyone else. Called by `GET /auth/callback`.
pub async fn finish(
    app: &SignInApp,
    request_headers: &axum::http::HeaderMap,
    state: AuthState,
    sign_in: SignIn,
) -> Response {
    let Some(ui) = app.ui.clone() else { return StatusCode::NOT_FOUND.into_response() };
    let now = app.service.clock().now();
    let policy = app.service.policy();
    let person = match person_of(&policy, app.service.store().as_ref(), &sign_in.object_id).await {
        Ok(p) => p,
        Err(e) => return layout::error(&e),
    };
    let here = session::started_here(request_headers, &state.id);
    let allowed = person.as_ref().filter(|p| here && session::is_viewer(&policy, p)).cloned();
    let who = sign_in.username.clone().unwrap_or_else(|| sign_in.object_id.clone());
    let (kind, detail) = match (&allowed, &person) {
        (Some(_), _) => (SIGNED_IN, json!({"evidence": sign_in.evidence(None)})),
        (None, _) if !here => {
            (REFUSED, json!({"why": "started in another browser", "evidence": sign_in.evidence(None)}))
        }
        (None, Some(_)) => (REFUSED, json!({"why": "not a viewer", "evidence": sign_in.evidence(None)})),
        (None, None) => (REFUSED, json!({"why": "not in the policy", "evidence": sign_in.evidence(None)})),
    };
    let actor = person.clone().map(Actor::Person).unwrap_or(Actor::System);
    let event = AuditEvent::new(now, actor, kind, None, None, detail);
    let commit =
        Commit { at: Some(now), use_auth_states: vec![state.id], audit: vec![event], ..Commit::default() };
    match app.service.store().commit(commit).await {
        Ok(()) => {}
        Err(Error::Conflict(_)) => {
            return layout::message(
                StatusCode::GONE,
                "Sign-in link used",
                "This sign-in was already used or has expired. Open the view again to sign in.",
            );
        }
        Err(e) => return layout::error(&e),
    }
    if !here {
        tracing::warn!(who = %who, "web view sign-in refused: the callback reached another browser");
        let mut response = layout::message(
            StatusCode::FORBIDDEN,
            "Sign-in not accepted",
            "This sign-in was started in another browser. Open the view again here to sign in.",
        );
        response.headers_mut().insert(header::SET_COOKIE, session::forget_flow());
        return response;
    }
    let Some(person) = allowed else {
        tracing::info!(who = %who, "web view sign-in refused: not a viewer");
        return layout::respond(
            StatusCode::FORBIDDEN,
            layout::bare(
                "Not allowed",
                html! {
                    h1 { "Not allowed" }
                    p { "You signed in as " strong { (who) } ", who is not among this pimbot's viewers ("
                        code { "[ui] viewers" } "). Ask an administrator if you need access." }
                },
            ),
        );
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    let back = session::remembered_page(request_headers).unwrap_or_else(|| super::ROOT.to_owned());
    headers.insert(
        header::LOCATION,
        HeaderValue::from_str(&back).unwrap_or(HeaderValue::from_static(super::ROOT)),
    );
    headers.append(header::SET_COOKIE, session::start(&ui, &person, now));
    headers.append(header::SET_COOKIE, session::forget_page());
    headers.append(header::SET_COOKIE, session::forget_flow());
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The policy person who signed in as directory object `oid`: by the policy's `object_id`,
/// else through a chat account linked to it.
pub async fn person_of(policy: &Policy, store: &dyn Store, oid: &str) -> Result<Option<PersonId>> {
    if let Some(p) =
        policy.people.iter().find(|p| p.object_id.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(oid)))
    {
        return Ok(Some(p.id.clone()));
    }
    for link in store.identity_links_of(oid).await? {
        if let Some(p) = policy.person_by_chat(&link.user)
            && p.object_id.as_deref().is_none_or(|o| o.eq_ignore_ascii_case(oid))
        {
            return Ok(Some(p.id.clone()));
        }
    }
    Ok(None)
}
