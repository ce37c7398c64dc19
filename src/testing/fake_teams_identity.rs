//! [`FakeTeams`]' identity side: the Bot Framework's OpenID metadata and key set (keys
//! endorsed per channel, fetches counted) that inbound tokens are checked against, and the
//! Entra token endpoint that issues the bot's app token for the Connector (client
//! authentication as in [`super::super::fake_client_auth`]).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use super::{CONNECTOR_TOKEN_KEY, FAKE_TEAMS_APP_ID, FAKE_TEAMS_TENANT, FakeTeams, lock};
use crate::testing::fake_client_auth::authenticate;

/// Key `i` of the key set (kid `bf-key-<i+1>`) with its `endorsements`.
pub(super) fn jwk(i: usize, pem: &str, endorsements: &[&str]) -> (String, EncodingKey, Value) {
    let key = EncodingKey::from_rsa_pem(pem.as_bytes()).unwrap_or_else(|e| panic!("test key {i}: {e}"));
    let kid = format!("bf-key-{}", i + 1);
    let mut jwk =
        Jwk::from_encoding_key(&key, Algorithm::RS256).unwrap_or_else(|e| panic!("test key {i}: {e}"));
    jwk.common.key_id = Some(kid.clone());
    jwk.common.public_key_use = Some(PublicKeyUse::Signature);
    jwk.common.key_algorithm = None;
    jwk.common.x509_sha1_fingerprint = Some(kid.clone());
    let mut value = serde_json::to_value(&jwk).unwrap_or_default();
    value["endorsements"] = json!(endorsements);
    (kid, key, value)
}

pub(super) async fn metadata(State(f): State<FakeTeams>) -> Json<Value> {
    Json(json!({
        "issuer": "https://api.botframework.com",
        "authorization_endpoint": "https://invalid.botframework.com",
        "jwks_uri": format!("{}/v1/.well-known/keys", f.base),
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["private_key_jwt"]
    }))
}

pub(super) async fn keys_doc(State(f): State<FakeTeams>) -> Json<Value> {
    let mut s = lock(&f.inner);
    s.jwks_fetches += 1;
    let keys: Vec<Value> = s.published.iter().map(|i| s.keys[*i].2.clone()).collect();
    Json(json!({"keys": keys}))
}

pub(super) async fn token(State(f): State<FakeTeams>, Form(form): Form<HashMap<String, String>>) -> Response {
    // App tokens live on the real clock, as the bot's cache does (the identity platform and the
    // Connector judge them, not pimbot's clock).
    let now = chrono::Utc::now();
    let mut s = lock(&f.inner);
    let url = format!("{}/{FAKE_TEAMS_TENANT}/oauth2/v2.0/token", f.base);
    if form.get("grant_type").map(String::as_str) != Some("client_credentials")
        || form.get("scope").map(String::as_str) != Some("https://api.botframework.com/.default")
    {
        return (StatusCode::BAD_REQUEST, Json(json!({"error": "invalid_scope"}))).into_response();
    }
    let reg = s.registration.clone();
    let mut seen = std::mem::take(&mut s.seen_jtis);
    let checked = authenticate(&form, &url, &reg, chrono::Utc::now(), &mut seen);
    s.seen_jtis = seen;
    if let Err((status, body)) = checked {
        return (StatusCode::from_u16(status).unwrap_or(StatusCode::UNAUTHORIZED), Json(body))
            .into_response();
    }
    s.tokens_issued += 1;
    let claims = json!({
        "aud": "https://api.botframework.com", "iss": format!("https://sts.windows.net/{FAKE_TEAMS_TENANT}/"),
        "appid": FAKE_TEAMS_APP_ID, "tid": FAKE_TEAMS_TENANT,
        "exp": (now + chrono::Duration::hours(1)).timestamp(), "n": s.tokens_issued,
    });
    let jwt = EncodingKey::from_secret(CONNECTOR_TOKEN_KEY)
        .and_then(|key| jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key))
        .unwrap_or_default();
    Json(json!({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600, "access_token": jwt}))
        .into_response()
}
