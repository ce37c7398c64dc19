//! The HTTP side of [`super::FakeOidc`]: discovery, keys, authorize and token endpoints under
//! `/{tenant}/…`, answered as Microsoft Entra answers them (§6.1–6.4 of the wire reference).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::fake_client_auth::authenticate;
use super::fake_oidc::{FAKE_OIDC_TENANT, Issued, KeyChoice, Shared, lock};
use crate::core::identity::random_token;
use crate::core::ports::Clock;

/// Codes live about 10 minutes, as Entra's do.
const CODE_LIFETIME: chrono::Duration = chrono::Duration::minutes(10);

#[derive(Clone)]
pub(super) struct HttpState {
    pub(super) inner: Shared,
    pub(super) clock: std::sync::Arc<dyn Clock>,
    pub(super) base: String,
}

fn error(status: StatusCode, code: &str, description: &str) -> Response {
    (
        status,
        axum::Json(json!({"error": code, "error_description": description, "error_codes": [50000],
        "timestamp": "2026-01-01 00:00:00Z", "trace_id": "fake", "correlation_id": "fake"})),
    )
        .into_response()
}

fn redirect(to: &str) -> Response {
    let mut r = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

pub(super) async fn handle(State(s): State<HttpState>, method: Method, uri: Uri, body: Bytes) -> Response {
    let prefix = format!("/{FAKE_OIDC_TENANT}");
    let Some(rest) = uri.path().strip_prefix(&prefix) else {
        return error(StatusCode::BAD_REQUEST, "invalid_tenant", "AADSTS90002: Tenant not found.");
    };
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    match (method, rest) {
        (Method::GET, "/v2.0/.well-known/openid-configuration") => metadata(&s),
        (Method::GET, "/discovery/v2.0/keys") => keys(&s),
        (Method::GET, "/oauth2/v2.0/authorize") => authorize(&s, query),
        (Method::POST, "/oauth2/v2.0/token") => {
            let form: HashMap<String, String> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
            token(&s, &format!("{}{}", s.base, uri.path()), form)
        }
        _ => error(StatusCode::NOT_FOUND, "not_found", "no such endpoint"),
    }
}

fn metadata(s: &HttpState) -> Response {
    lock(&s.inner).metadata_fetches += 1;
    let t = format!("{}/{FAKE_OIDC_TENANT}", s.base);
    let body = json!({
        "token_endpoint": format!("{t}/oauth2/v2.0/token"),
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": format!("{t}/discovery/v2.0/keys"),
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": format!("{t}/v2.0"),
        "request_uri_parameter_supported": false,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": format!("{t}/oauth2/v2.0/authorize"),
        "device_authorization_endpoint": format!("{t}/oauth2/v2.0/devicecode"),
        "http_logout_supported": true,
        "frontchannel_logout_supported": true,
        "end_session_endpoint": format!("{t}/oauth2/v2.0/logout"),
        "claims_supported": ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name",
            "msgraph_host", "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid",
            "ver", "at_hash", "c_hash", "email"],
        "tenant_region_scope": "WW",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net"
    });
    let mut r = axum::Json(body).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=86400, private"));
    r
}

fn keys(s: &HttpState) -> Response {
    let mut inner = lock(&s.inner);
    inner.jwks_fetches += 1;
    let keys: Vec<Value> = inner
        .published
        .iter()
        .filter_map(|i| inner.keys.get(*i))
        .map(|(_, _, jwk)| {
            let mut v = serde_json::to_value(jwk).unwrap_or(Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert(
                    "issuer".into(),
                    json!(format!("https://login.microsoftonline.com/{FAKE_OIDC_TENANT}/v2.0")),
                );
            }
            v
        })
        .collect();
    let mut r = axum::Json(json!({"keys": keys})).into_response();
    r.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=86400, private"));
    r
}

fn authorize(s: &HttpState, q: HashMap<String, String>) -> Response {
    let now = s.clock.now();
    let mut inner = lock(&s.inner);
    inner.authorize_queries.push(q.clone());
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or_default();
    if get("client_id") != inner.registration.client_id {
        return error(StatusCode::BAD_REQUEST, "unauthorized_client", "AADSTS700016: Application not found.");
    }
    let redirect_uri = get("redirect_uri");
    if !(redirect_uri.starts_with("http://127.0.0.1:") && redirect_uri.ends_with("/auth/callback")) {
        return error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "AADSTS50011: The redirect URI does not match.",
        );
    }
    let state = get("state");
    let back = |params: &[(&str, &str)]| {
        let mut all: Vec<(&str, &str)> = params.to_vec();
        all.push(("state", state));
        redirect(&format!("{redirect_uri}?{}", serde_urlencoded::to_string(&all).unwrap_or_default()))
    };
    if get("response_type") != "code"
        || !get("scope").split(' ').any(|s| s == "openid")
        || get("code_challenge_method") != "S256"
        || get("code_challenge").is_empty()
        || get("nonce").is_empty()
        || state.is_empty()
    {
        return back(&[
            ("error", "invalid_request"),
            ("error_description", "AADSTS900144: missing parameter"),
        ]);
    }
    if get("prompt") == "none" {
        return back(&[
            ("error", "interaction_required"),
            ("error_description", "AADSTS50076: interaction required"),
        ]);
    }
    let Some(scenario) = inner.scenarios.pop_front().or_else(|| inner.everyone.clone()) else {
        return back(&[
            ("error", "access_denied"),
            ("error_description", "AADSTS50105: nobody signs in (no scenario queued)"),
        ]);
    };
    if scenario.deny {
        return back(&[
            ("error", "access_denied"),
            ("error_description", "AADSTS53003: Access has been blocked by Conditional Access policies."),
        ]);
    }
    let acrs_asked = serde_json::from_str::<Value>(get("claims"))
        .ok()
        .and_then(|c| c["id_token"]["acrs"]["value"].as_str().map(str::to_owned));
    let mut auth_time = now - scenario.last_auth_ago;
    let max_age = get("max_age").parse::<i64>().ok();
    let asks_fresh = get("prompt") == "login" || max_age.is_some_and(|m| (now - auth_time).num_seconds() > m);
    if asks_fresh && scenario.fresh_sign_in {
        auth_time = now;
    }
    let code = random_token(24);
    inner.codes.insert(
        code.clone(),
        Issued {
            client_id: get("client_id").to_owned(),
            redirect_uri: redirect_uri.to_owned(),
            challenge: get("code_challenge").to_owned(),
            nonce: get("nonce").to_owned(),
            scenario,
            acrs_asked,
            auth_time,
            at: now,
        },
    );
    back(&[("code", &code)])
}

fn token(s: &HttpState, token_url: &str, form: HashMap<String, String>) -> Response {
    let now = s.clock.now();
    let mut inner = lock(&s.inner);
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if get("grant_type") != "authorization_code" {
        return error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "AADSTS70003: unsupported grant type",
        );
    }
    let registration = inner.registration.clone();
    let inner = &mut *inner;
    if let Err((status, body)) = authenticate(&form, token_url, &registration, now, &mut inner.seen_jtis) {
        return (StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED), axum::Json(body))
            .into_response();
    }
    let invalid_grant = |why: &str| error(StatusCode::BAD_REQUEST, "invalid_grant", why);
    let Some(issued) = inner.codes.remove(get("code")) else {
        return invalid_grant("AADSTS54005: OAuth2 Authorization code was already redeemed or is unknown.");
    };
    if now - issued.at > CODE_LIFETIME {
        return invalid_grant("AADSTS70008: The provided authorization code has expired.");
    }
    if issued.client_id != get("client_id") || issued.redirect_uri != get("redirect_uri") {
        return invalid_grant("AADSTS50148: The code was issued to another client or redirect URI.");
    }
    let verifier = get("code_verifier");
    let challenge =
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    if verifier.is_empty() || challenge != issued.challenge {
        return invalid_grant(
            "AADSTS501481: The Code_Verifier does not match the code_challenge supplied in the authorization request.",
        );
    }
    let sc = &issued.scenario;
    let iat = now.timestamp();
    let mut claims = json!({
        "ver": "2.0",
        "iss": sc.iss.clone().unwrap_or_else(|| format!("{}/{FAKE_OIDC_TENANT}/v2.0", s.base)),
        "sub": format!("pairwise-{}", sc.oid),
        "aud": sc.aud.clone().unwrap_or_else(|| issued.client_id.clone()),
        "exp": iat + sc.lifetime.num_seconds(),
        "iat": iat,
        "nbf": iat,
        "name": sc.username,
        "preferred_username": sc.username,
        "oid": sc.oid,
        "tid": sc.tid.clone().unwrap_or_else(|| FAKE_OIDC_TENANT.to_owned()),
        "nonce": sc.nonce.clone().unwrap_or_else(|| issued.nonce.clone()),
        "sid": random_token(12),
        "uti": random_token(16),
        "rh": "0.fake",
        "aio": "fake-aio",
    });
    if sc.emit_auth_time {
        claims["auth_time"] = json!(issued.auth_time.timestamp());
    }
    let acrs = match (&sc.acrs, &issued.acrs_asked) {
        (Some(list), _) => Some(list.clone()),
        (None, Some(asked)) if sc.satisfies_auth_context => Some(vec![asked.clone()]),
        _ => None,
    };
    if let Some(acrs) = acrs {
        claims["acrs"] = json!(acrs);
    }
    if let Some(amr) = &sc.amr {
        claims["amr"] = json!(amr);
    }
    let (kid, key): (String, EncodingKey) = match sc.key {
        KeyChoice::Current => {
            let (kid, key, _) = &inner.keys[inner.signing];
            (kid.clone(), key.clone())
        }
        KeyChoice::Unpublished => {
            let (kid, key, _) = &inner.keys[inner.keys.len() - 1];
            (kid.clone(), key.clone())
        }
    };
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("JWT".into());
    header.kid = Some(kid);
    let id_token = match jsonwebtoken::encode(&header, &claims, &key) {
        Ok(t) => t,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, "server_error", &e.to_string()),
    };
    inner.tokens_issued += 1;
    axum::Json(json!({"token_type": "Bearer", "scope": "openid profile", "expires_in": 3599,
        "ext_expires_in": 3599, "access_token": format!("fake-graph-access-token-{}", random_token(8)),
        "id_token": id_token}))
    .into_response()
}
