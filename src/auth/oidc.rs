//! The OpenID Connect client people sign in with (Microsoft Entra or any OpenID provider):
//! the authorization code flow with PKCE (`S256`), a `state` and a `nonce`, the code exchanged
//! with the app's credential, and the ID token checked — signature against the provider's keys
//! (`auth::keys`), `iss`, `aud`/`azp`, lifetime, `iat`, `nonce`, `tid` — into a
//! [`SignIn`]. The token itself is hashed for the audit trail and dropped.
//!
//! For a step-up the authorize request asks for a fresh sign-in (`prompt=login`, `max_age`)
//! and, where the role names one, the authentication context through the `claims` parameter;
//! whether the answer proves MFA is decided in `core::identity::check_mfa`, never here.

use std::sync::Arc;

use anyhow::Context as _;
use chrono::{DateTime, Duration};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::AuthError;
use super::credential::ClientCredential;
use super::jwt::{self, Expect};
use super::keys::{KeyCache, KeyPolicy};
use super::pkce;
use crate::core::identity::SignIn;
use crate::core::ports::Clock;

/// The path of the redirect URI under `public_url`.
pub const CALLBACK_PATH: &str = "/auth/callback";
/// The path of the one-time links pimbot hands out.
pub const LINK_PATH: &str = "/auth/link";

/// What the client needs.
#[derive(Debug, Clone)]
pub struct OidcSettings {
    /// The issuer (`iss` must equal it).
    pub issuer: String,
    /// The app registration people sign in to.
    pub client_id: String,
    /// The app's credential for the code exchange.
    pub credential: ClientCredential,
    /// pimbot's public base URL, without a trailing `/`.
    pub public_url: String,
}

/// What an authorize request asks for.
#[derive(Debug, Clone, Default)]
pub struct AuthorizeRequest<'a> {
    /// The `state` value.
    pub state: &'a str,
    /// The `nonce`.
    pub nonce: &'a str,
    /// The PKCE verifier (only its challenge is sent).
    pub pkce_verifier: &'a str,
    /// A step-up: ask for a fresh authentication.
    pub step_up: Option<StepUp<'a>>,
    /// The account to sign in with, when known.
    pub login_hint: Option<&'a str>,
}

/// The extra asks of a step-up.
#[derive(Debug, Clone, Copy)]
pub struct StepUp<'a> {
    /// How recent the authentication must be (`max_age`).
    pub max_age: Duration,
    /// The authentication context to satisfy (`claims` → `id_token.acrs`).
    pub auth_context: Option<&'a str>,
}

/// An OpenID Connect client for one provider.
pub struct OidcClient {
    settings: OidcSettings,
    keys: KeyCache,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    tenant: Option<String>,
}

impl std::fmt::Debug for OidcClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcClient").field("issuer", &self.settings.issuer).finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct TokenResponse {
    id_token: Option<String>,
}

#[derive(Deserialize)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// The ID token claims pimbot reads.
#[derive(Debug, Deserialize)]
struct IdClaims {
    #[serde(default)]
    aud: Audience,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    nonce: Option<String>,
    #[serde(default)]
    oid: Option<String>,
    #[serde(default)]
    tid: Option<String>,
    #[serde(default)]
    preferred_username: Option<String>,
    #[serde(default)]
    amr: Vec<String>,
    #[serde(default)]
    acrs: Vec<String>,
    #[serde(default)]
    auth_time: Option<i64>,
    #[serde(default)]
    uti: Option<String>,
    #[serde(default)]
    jti: Option<String>,
}

/// `aud`: one value or several (already checked by `jwt::verify`; only the count matters here).
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
enum Audience {
    #[default]
    None,
    Many(Vec<String>),
    One(serde::de::IgnoredAny),
}

impl OidcClient {
    /// A client for `settings.issuer` (metadata at `<issuer>/.well-known/openid-configuration`).
    pub fn new(settings: OidcSettings, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(10))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .context("building the OpenID HTTP client")?;
        let metadata_url =
            format!("{}/.well-known/openid-configuration", settings.issuer.trim_end_matches('/'));
        let keys = KeyCache::new(http.clone(), &metadata_url, clock.clone(), KeyPolicy::default());
        let tenant = entra_tenant(&settings.issuer);
        Ok(Self { settings, keys, http, clock, tenant })
    }

    /// The redirect URI registered with the provider.
    pub fn redirect_uri(&self) -> String {
        format!("{}{CALLBACK_PATH}", self.settings.public_url)
    }

    /// pimbot's own one-time link for a `state` value.
    pub fn link_url(&self, state: &str) -> String {
        format!("{}{LINK_PATH}?state={}", self.settings.public_url, urlencode(state))
    }

    /// The provider's keys (also used by tests to count refetches).
    pub fn keys(&self) -> &KeyCache {
        &self.keys
    }

    /// Where to send the browser.
    pub async fn authorize_url(&self, req: &AuthorizeRequest<'_>) -> Result<String, AuthError> {
        let metadata = self.keys.metadata().await?;
        let endpoint = metadata.authorization_endpoint.ok_or_else(|| {
            AuthError::Provider("the provider's metadata has no authorization_endpoint".into())
        })?;
        let challenge = pkce::challenge(req.pkce_verifier);
        let redirect = self.redirect_uri();
        let mut query: Vec<(&str, String)> = vec![
            ("client_id", self.settings.client_id.clone()),
            ("response_type", "code".into()),
            ("redirect_uri", redirect),
            ("response_mode", "query".into()),
            ("scope", "openid profile".into()),
            ("state", req.state.to_owned()),
            ("nonce", req.nonce.to_owned()),
            ("code_challenge", challenge),
            ("code_challenge_method", pkce::METHOD.into()),
        ];
        if let Some(hint) = req.login_hint.filter(|h| !h.is_empty()) {
            query.push(("login_hint", hint.to_owned()));
        }
        if let Some(step_up) = req.step_up {
            query.push(("prompt", "login".into()));
            query.push(("max_age", step_up.max_age.num_seconds().max(0).to_string()));
            if let Some(context) = step_up.auth_context {
                let claims = serde_json::json!({"id_token": {"acrs": {"essential": true, "value": context}}});
                query.push(("claims", claims.to_string()));
            }
        }
        let encoded = serde_urlencoded::to_string(&query)
            .map_err(|e| AuthError::Provider(format!("building the authorize URL: {e}")))?;
        let sep = if endpoint.contains('?') { '&' } else { '?' };
        Ok(format!("{endpoint}{sep}{encoded}"))
    }

    /// Exchanges `code` (with the PKCE verifier) and verifies the ID token against `nonce`.
    pub async fn sign_in(&self, code: &str, pkce_verifier: &str, nonce: &str) -> Result<SignIn, AuthError> {
        let metadata = self.keys.metadata().await?;
        let token_url = metadata
            .token_endpoint
            .ok_or_else(|| AuthError::Provider("the provider's metadata has no token_endpoint".into()))?;
        let now = self.clock.now();
        let mut form: Vec<(&str, String)> = vec![
            ("client_id", self.settings.client_id.clone()),
            ("grant_type", "authorization_code".into()),
            ("code", code.to_owned()),
            ("redirect_uri", self.redirect_uri()),
            ("code_verifier", pkce_verifier.to_owned()),
        ];
        form.extend(
            self.settings
                .credential
                .form_fields(&self.settings.client_id, &token_url, now)
                .await
                .map_err(|e| AuthError::Provider(format!("{e:#}")))?,
        );
        let response = self
            .http
            .post(&token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| AuthError::Provider(format!("token request: {}", e.without_url())))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| AuthError::Provider(format!("token response: {e}")))?;
        if !status.is_success() {
            let detail: TokenError = serde_json::from_str(&text)
                .unwrap_or(TokenError { error: String::new(), error_description: text });
            let first = detail.error_description.lines().next().unwrap_or_default().to_owned();
            return Err(AuthError::Exchange(format!("{} {first}", detail.error).trim().to_owned()));
        }
        let body: TokenResponse =
            serde_json::from_str(&text).map_err(|e| AuthError::Provider(format!("token response: {e}")))?;
        let raw =
            body.id_token.ok_or_else(|| AuthError::InvalidToken("the provider sent no ID token".into()))?;
        self.verify_id_token(&raw, nonce).await
    }

    /// Verifies an ID token issued for this client with `nonce`.
    pub async fn verify_id_token(&self, raw: &str, nonce: &str) -> Result<SignIn, AuthError> {
        let expect =
            Expect { issuer: &self.settings.issuer, audience: &self.settings.client_id, require_iat: true };
        let claims: IdClaims = jwt::verify(&self.keys, raw, expect, self.clock.now()).await?;
        let invalid = |why: &str| Err(AuthError::InvalidToken(why.to_owned()));
        if let Audience::Many(auds) = &claims.aud
            && auds.len() > 1
            && claims.azp.as_deref() != Some(self.settings.client_id.as_str())
        {
            return invalid("the token has several audiences and another authorized party (azp)");
        }
        if claims.nonce.as_deref() != Some(nonce) {
            return invalid("the nonce does not match this sign-in");
        }
        let Some(object_id) = claims.oid.filter(|o| !o.trim().is_empty()) else {
            return invalid("the token names no directory object (oid)");
        };
        let tenant_id = claims.tid.unwrap_or_default();
        if let Some(expected) = &self.tenant
            && !tenant_id.eq_ignore_ascii_case(expected)
        {
            return invalid("the token is from another tenant (tid)");
        }
        Ok(SignIn {
            object_id,
            tenant_id,
            username: claims.preferred_username,
            amr: claims.amr,
            acrs: claims.acrs,
            auth_time: claims.auth_time.and_then(|t| DateTime::from_timestamp(t, 0)),
            token_id: claims.uti.or(claims.jti),
            token_sha256: hex::encode(Sha256::digest(raw.as_bytes())),
        })
    }
}

/// The tenant in an issuer of the Entra form `…/{tenant}/v2.0`, which `tid` must repeat.
pub fn entra_tenant(issuer: &str) -> Option<String> {
    let path = issuer.trim_end_matches('/').strip_suffix("/v2.0")?;
    let tenant = path.rsplit('/').next()?;
    (!tenant.is_empty() && !tenant.contains(':')).then(|| tenant.to_owned())
}

fn urlencode(s: &str) -> String {
    serde_urlencoded::to_string([("", s)]).map(|e| e[1..].to_owned()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_comes_from_an_entra_shaped_issuer() {
        assert_eq!(entra_tenant("https://login.microsoftonline.com/abc/v2.0").as_deref(), Some("abc"));
        assert_eq!(entra_tenant("http://127.0.0.1:9/t-1/v2.0/").as_deref(), Some("t-1"));
        assert_eq!(entra_tenant("https://accounts.example.com"), None);
        assert_eq!(urlencode("a b+c"), "a+b%2Bc");
    }
}
