//! Client authentication as the Microsoft identity platform's token endpoint checks it, shared
//! by the fake OpenID provider and the fake Graph token endpoint: exactly one of a client
//! secret, a certificate client assertion (RS256, `x5t` of the registered certificate, `aud` =
//! the URL posted to, `iss` = `sub` = the client id, not expired, `jti` never seen before) or a
//! federated assertion (signed by the trusted "Kubernetes" issuer, `aud`
//! `api://AzureADTokenExchange`, the registered subject). Also mints the federated tokens a
//! test writes to `AZURE_FEDERATED_TOKEN_FILE`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Duration, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::keys;

/// `client_assertion_type` of a JWT assertion.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// The fake Kubernetes cluster's OIDC issuer.
pub const KUBE_ISSUER: &str = "https://oidc.fake-aks.example/6f1d2c3b/";
/// The service account a federated credential is registered for.
pub const KUBE_SUBJECT: &str = "system:serviceaccount:pimbot:pimbot";
/// The audience of tokens exchanged for Entra tokens.
pub const FEDERATED_AUDIENCE: &str = "api://AzureADTokenExchange";

/// How a client proved itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// `client_secret`.
    Secret,
    /// A certificate assertion.
    Certificate,
    /// A federated assertion.
    Federated,
}

/// What one app registration accepts.
#[derive(Debug, Clone)]
pub struct Registration {
    /// Client id.
    pub client_id: String,
    /// The client secret, if one is registered.
    pub secret: Option<String>,
    /// Whether the test certificate (`testing::keys`) is registered.
    pub certificate: bool,
    /// Whether a federated credential for [`KUBE_ISSUER`] / [`KUBE_SUBJECT`] is registered.
    pub federated: bool,
}

#[derive(Deserialize)]
struct AssertionClaims {
    iss: String,
    sub: String,
    #[serde(default)]
    jti: Option<String>,
    exp: i64,
    #[serde(default)]
    nbf: Option<i64>,
}

fn refuse(code: &str, description: &str) -> (u16, Value) {
    (
        401,
        json!({"error": code, "error_description": description, "error_codes": [7000215],
        "timestamp": "2026-01-01 00:00:00Z", "trace_id": "fake", "correlation_id": "fake"}),
    )
}

/// Checks the client authentication in `form`, posted to `token_url` at `now`.
pub fn authenticate(
    form: &HashMap<String, String>,
    token_url: &str,
    reg: &Registration,
    now: DateTime<Utc>,
    seen_jtis: &mut HashSet<String>,
) -> Result<ClientAuth, (u16, Value)> {
    let field = |k: &str| form.get(k).map(String::as_str);
    if field("client_id") != Some(reg.client_id.as_str()) {
        return Err(refuse("invalid_client", "AADSTS700016: Application not found in the directory."));
    }
    match (field("client_secret"), field("client_assertion_type"), field("client_assertion")) {
        (Some(secret), None, None) => match &reg.secret {
            Some(expected) if expected == secret => Ok(ClientAuth::Secret),
            _ => Err(refuse("invalid_client", "AADSTS7000215: Invalid client secret provided.")),
        },
        (None, Some(ASSERTION_TYPE), Some(assertion)) => {
            let header = jsonwebtoken::decode_header(assertion)
                .map_err(|_| refuse("invalid_client", "AADSTS50027: JWT token is invalid or malformed."))?;
            if header.x5t.is_some() {
                certificate(assertion, &header, token_url, reg, now, seen_jtis)
            } else {
                federated(assertion, reg, now)
            }
        }
        _ => Err((
            400,
            json!({"error": "invalid_request", "error_description": "AADSTS7000218: The request body must contain exactly one client authentication."}),
        )),
    }
}

fn certificate(
    assertion: &str,
    header: &Header,
    token_url: &str,
    reg: &Registration,
    now: DateTime<Utc>,
    seen_jtis: &mut HashSet<String>,
) -> Result<ClientAuth, (u16, Value)> {
    let bad = |why: &str| {
        refuse(
            "invalid_client",
            &format!("AADSTS700027: Client assertion failed signature validation. {why}"),
        )
    };
    if !reg.certificate || header.x5t.as_deref() != Some(keys::client_certificate_x5t().as_str()) {
        return Err(bad("The thumbprint names no registered certificate."));
    }
    if header.alg != Algorithm::RS256 {
        return Err(bad("Unexpected algorithm."));
    }
    let key = DecodingKey::from_rsa_pem(keys::CLIENT_PUBLIC_KEY.as_bytes()).map_err(|_| bad("key"))?;
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[token_url]);
    v.validate_exp = false;
    v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let claims = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &v)
        .map_err(|e| bad(&format!("{:?}", e.kind())))?
        .claims;
    if claims.iss != reg.client_id || claims.sub != reg.client_id {
        return Err(bad("iss and sub must be the client id."));
    }
    check_window(claims.exp, claims.nbf, now).map_err(&bad)?;
    let jti = claims.jti.ok_or_else(|| bad("No jti."))?;
    if !seen_jtis.insert(jti) {
        return Err(bad("The assertion was replayed (jti)."));
    }
    Ok(ClientAuth::Certificate)
}

fn federated(assertion: &str, reg: &Registration, now: DateTime<Utc>) -> Result<ClientAuth, (u16, Value)> {
    let bad = |why: &str| {
        refuse("invalid_client", &format!("AADSTS700213: No matching federated identity record found. {why}"))
    };
    if !reg.federated {
        return Err(bad("No federated credential is registered."));
    }
    let key = DecodingKey::from_rsa_pem(keys::KUBE_ISSUER_PUBLIC_KEY.as_bytes()).map_err(|_| bad("key"))?;
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[FEDERATED_AUDIENCE]);
    v.set_issuer(&[KUBE_ISSUER]);
    v.validate_exp = false;
    v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    let claims = jsonwebtoken::decode::<AssertionClaims>(assertion, &key, &v)
        .map_err(|e| bad(&format!("{:?}", e.kind())))?
        .claims;
    if claims.sub != KUBE_SUBJECT {
        return Err(bad("Unexpected subject."));
    }
    check_window(claims.exp, claims.nbf, now).map_err(&bad)?;
    Ok(ClientAuth::Federated)
}

fn check_window(exp: i64, nbf: Option<i64>, now: DateTime<Utc>) -> Result<(), &'static str> {
    if now.timestamp() > exp {
        return Err("The assertion has expired.");
    }
    if nbf.is_some_and(|n| n > now.timestamp() + 300) {
        return Err("The assertion is not valid yet.");
    }
    Ok(())
}

/// A projected service-account token as the kubelet writes it for workload identity, valid
/// from `now` for `lifetime`.
pub fn federated_token(now: DateTime<Utc>, lifetime: Duration) -> String {
    #[derive(Serialize)]
    struct Claims<'a> {
        aud: [&'a str; 1],
        iss: &'a str,
        sub: &'a str,
        iat: i64,
        nbf: i64,
        exp: i64,
    }
    let claims = Claims {
        aud: [FEDERATED_AUDIENCE],
        iss: KUBE_ISSUER,
        sub: KUBE_SUBJECT,
        iat: now.timestamp(),
        nbf: now.timestamp(),
        exp: (now + lifetime).timestamp(),
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("fake-kube-key".into());
    EncodingKey::from_rsa_pem(keys::KUBE_ISSUER_KEY.as_bytes())
        .and_then(|k| jsonwebtoken::encode(&header, &claims, &k))
        .unwrap_or_default()
}
