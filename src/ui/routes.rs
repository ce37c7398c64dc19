//! The view's handlers: every page first checks the session ([`session::viewer`]); without
//! one it starts a sign-in, and a session of someone no longer a viewer is refused (403) and
//! ended. Pages read the store and the audit trail and never change anything.

use std::sync::Arc;

use axum::Router;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use maud::html;
use serde::Deserialize;

use super::history::{self, Filter};
use super::layout::{self, Nav};
use super::session::{self, NoSession, Viewer};
use super::{UiState, findings, now, pages, signin, trends};
use crate::auth::routes::SignInApp;

/// The view's routes (mounted by [`crate::auth::routes::router`] when `[ui]` is configured).
pub fn router() -> Router<SignInApp> {
    Router::new()
        .route("/ui", get(handle_now))
        .route("/ui/", get(handle_now))
        .route("/ui/trends", get(handle_trends))
        .route("/ui/history", get(handle_history))
        .route("/ui/history.csv", get(handle_csv))
        .route("/ui/history.jsonl", get(handle_jsonl))
        .route("/ui/findings", get(handle_findings))
        .route("/ui/signout", get(handle_signout))
}

/// The session's viewer, or the response that replaces the page.
async fn guard(app: &SignInApp, headers: &HeaderMap, uri: &Uri) -> Result<(Arc<UiState>, Viewer), Response> {
    let Some(ui) = app.ui.clone() else { return Err(StatusCode::NOT_FOUND.into_response()) };
    let now = app.service.clock().now();
    match session::viewer(&ui, headers, &app.service.policy(), now) {
        Ok(v) => Ok((ui, v)),
        Err(NoSession::SignIn) => Err(signin::start(app, &ui, uri).await),
        Err(NoSession::NotAViewer) => {
            let mut response = layout::message(
                StatusCode::FORBIDDEN,
                "Not allowed",
                "You are no longer among this pimbot's viewers ([ui] viewers).",
            );
            response.headers_mut().insert(header::SET_COOKIE, session::end());
            Err(response)
        }
    }
}

fn page(title: &str, nav: Nav, viewer: &Viewer, app: &SignInApp, body: maud::Markup) -> Response {
    let now = app.service.clock().now();
    layout::respond(StatusCode::OK, layout::page(title, nav, viewer.person.as_str(), now, body))
}

/// `GET /ui`: who is elevated, what waits, open alarms.
pub async fn handle_now(State(app): State<SignInApp>, uri: Uri, headers: HeaderMap) -> Response {
    let (_, viewer) = match guard(&app, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let at = app.service.clock().now();
    match now::read(app.service.store().as_ref(), &app.service.policy(), at).await {
        Ok(n) => page("Now", Nav::Now, &viewer, &app, pages::now(&n)),
        Err(e) => layout::error(&e),
    }
}

/// Query of `GET /ui/trends`.
#[derive(Debug, Deserialize)]
pub struct TrendsQuery {
    /// Period in days.
    #[serde(default)]
    pub days: Option<i64>,
}

/// `GET /ui/trends?days=N`.
pub async fn handle_trends(
    State(app): State<SignInApp>,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<TrendsQuery>, QueryRejection>,
) -> Response {
    let (_, viewer) = match guard(&app, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let days = query
        .ok()
        .and_then(|Query(q)| q.days)
        .filter(|d| trends::PERIODS.contains(d))
        .unwrap_or(trends::DEFAULT_DAYS);
    let records = match app.service.store().audit_records(None).await {
        Ok(r) => r,
        Err(e) => return layout::error(&e),
    };
    let t = trends::compute(&records, app.service.clock().now(), days);
    page("Trends", Nav::Trends, &viewer, &app, pages::trends(&t, days))
}

fn bad_filter(why: &str) -> Response {
    layout::message(StatusCode::BAD_REQUEST, "Filter not understood", why)
}

/// `GET /ui/history?…`.
pub async fn handle_history(
    State(app): State<SignInApp>,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<Filter>, QueryRejection>,
) -> Response {
    let (ui, viewer) = match guard(&app, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Ok(Query(filter)) = query else { return bad_filter("The filter's page number is not a number.") };
    let store = app.service.store();
    let (records, head) = match (store.audit_records(None).await, store.audit_head().await) {
        (Ok(r), Ok(h)) => (r, h),
        (Err(e), _) | (_, Err(e)) => return layout::error(&e),
    };
    let selection = match history::select(&records, &filter) {
        Ok(s) => s,
        Err(why) => return bad_filter(&why),
    };
    let chain = history::chain_status(ui.audit_ring(), &records, head);
    let requesters = trends::requesters(&records);
    // Every kind, and each family (`grant.`) as a prefix choice.
    let mut kinds: Vec<String> = records.iter().map(|r| r.event.kind.clone()).collect();
    let families: Vec<String> =
        kinds.iter().filter_map(|k| k.split_once('.').map(|(f, _)| format!("{f}."))).collect();
    kinds.extend(families);
    kinds.sort();
    kinds.dedup();
    let policy = app.service.policy();
    let roles: Vec<String> = policy.roles.iter().map(|r| r.key.to_string()).collect();
    let people: Vec<String> = policy.people.iter().map(|p| p.id.to_string()).collect();
    let body = pages::history(&filter, &selection, &chain, &requesters, &kinds, &roles, &people);
    page("History", Nav::History, &viewer, &app, body)
}

async fn download(
    app: SignInApp,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<Filter>, QueryRejection>,
    jsonl: bool,
) -> Response {
    if let Err(r) = guard(&app, &headers, &uri).await {
        return r;
    }
    let Ok(Query(filter)) = query else { return bad_filter("The filter's page number is not a number.") };
    let records = match app.service.store().audit_records(None).await {
        Ok(r) => r,
        Err(e) => return layout::error(&e),
    };
    let rows = match history::matching(&records, &filter) {
        Ok(rows) => rows,
        Err(why) => return bad_filter(&why),
    };
    let (body, kind, name) = if jsonl {
        (history::jsonl(&rows), "application/x-ndjson; charset=utf-8", "pimbot-audit.jsonl")
    } else {
        (history::csv(&rows), "text/csv; charset=utf-8", "pimbot-audit.csv")
    };
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    layout::secure_headers(h);
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{name}\"")) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// `GET /ui/history.csv?…`: the current filter as CSV.
pub async fn handle_csv(
    State(app): State<SignInApp>,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<Filter>, QueryRejection>,
) -> Response {
    download(app, uri, headers, query, false).await
}

/// `GET /ui/history.jsonl?…`: the current filter as JSON Lines.
pub async fn handle_jsonl(
    State(app): State<SignInApp>,
    uri: Uri,
    headers: HeaderMap,
    query: Result<Query<Filter>, QueryRejection>,
) -> Response {
    download(app, uri, headers, query, true).await
}

/// `GET /ui/findings`.
pub async fn handle_findings(State(app): State<SignInApp>, uri: Uri, headers: HeaderMap) -> Response {
    let (_, viewer) = match guard(&app, &headers, &uri).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let records = match app.service.store().audit_records(None).await {
        Ok(r) => r,
        Err(e) => return layout::error(&e),
    };
    let store = app.service.store();
    let ctx = findings::Context { records: &records, store: store.as_ref(), now: app.service.clock().now() };
    let mut sections = Vec::new();
    for source in findings::sources() {
        match source.findings(&ctx).await {
            Ok(list) => sections.push((source.title(), source.about(), list)),
            Err(e) => return layout::error(&e),
        }
    }
    page("Findings", Nav::Findings, &viewer, &app, pages::findings(&sections))
}

/// `GET /ui/signout`: ends the session.
pub async fn handle_signout() -> Response {
    let mut response = layout::respond(
        StatusCode::OK,
        layout::bare("Signed out", html! { h1 { "Signed out" } p { a href="/ui" { "Sign in again" } } }),
    );
    response.headers_mut().insert(header::SET_COOKIE, session::end());
    response
}
