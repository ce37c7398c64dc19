//! Client-credentials tokens from the Microsoft identity platform, one cached token per audience
//! (Graph and ARM need separate tokens: a token request may name only one resource). A token is
//! refreshed shortly before it expires; concurrent callers wait for one shared refresh; a token
//! the API rejected with 401 is dropped so the next caller fetches a fresh one. The app proves
//! itself with its [`ClientCredential`]: a client secret, a certificate client assertion, or a
//! federated token (workload identity); none of them is ever logged.

use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::client::ApiError;
use crate::auth::credential::ClientCredential;

/// Refresh this long before `expires_in` runs out (capped at half the lifetime).
pub const REFRESH_MARGIN: Duration = Duration::from_secs(300);

/// The resource a token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Audience {
    /// Microsoft Graph (`https://graph.microsoft.com/.default`).
    Graph,
    /// Azure Resource Manager (`https://management.azure.com/.default`).
    Arm,
}

impl Audience {
    /// The `scope` form value for this audience.
    pub fn scope(self) -> &'static str {
        match self {
            Audience::Graph => "https://graph.microsoft.com/.default",
            Audience::Arm => "https://management.azure.com/.default",
        }
    }
}

#[derive(Clone)]
struct Cached {
    token: SecretString,
    refresh_at: Instant,
}

#[derive(Deserialize)]
struct TokenResponse {
    access_token: String,
    expires_in: u64,
}

#[derive(Deserialize)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// Fetches and caches client-credentials tokens.
pub struct TokenProvider {
    http: reqwest::Client,
    token_url: String,
    client_id: String,
    credential: ClientCredential,
    graph: Mutex<Option<Cached>>,
    arm: Mutex<Option<Cached>>,
}

impl std::fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenProvider")
            .field("token_url", &self.token_url)
            .field("client_id", &self.client_id)
            .field("credential", &self.credential)
            .finish_non_exhaustive()
    }
}

impl TokenProvider {
    /// A provider for `{login_url}{tenant}/oauth2/v2.0/token` (`login_url` ends in `/`).
    pub fn new(
        http: reqwest::Client,
        login_url: &str,
        tenant: &str,
        client_id: &str,
        credential: ClientCredential,
    ) -> Self {
        Self {
            http,
            token_url: format!("{login_url}{tenant}/oauth2/v2.0/token"),
            client_id: client_id.to_owned(),
            credential,
            graph: Mutex::new(None),
            arm: Mutex::new(None),
        }
    }

    fn slot(&self, audience: Audience) -> &Mutex<Option<Cached>> {
        match audience {
            Audience::Graph => &self.graph,
            Audience::Arm => &self.arm,
        }
    }

    /// A valid token for `audience`, from the cache or freshly fetched. The cache lock is held
    /// across the fetch, so concurrent callers share one refresh.
    pub async fn token(&self, audience: Audience) -> Result<SecretString, ApiError> {
        let mut slot = self.slot(audience).lock().await;
        if let Some(cached) = slot.as_ref().filter(|c| Instant::now() < c.refresh_at) {
            return Ok(cached.token.clone());
        }
        let fresh = self.fetch(audience).await?;
        *slot = Some(fresh.clone());
        Ok(fresh.token)
    }

    /// Drops the cached token for `audience` if it is still `rejected` (a 401 answer), so the
    /// next [`Self::token`] fetches a new one. A token already replaced by another caller stays.
    pub async fn invalidate(&self, audience: Audience, rejected: &SecretString) {
        let mut slot = self.slot(audience).lock().await;
        if slot.as_ref().is_some_and(|c| c.token.expose_secret() == rejected.expose_secret()) {
            *slot = None;
        }
    }

    async fn fetch(&self, audience: Audience) -> Result<Cached, ApiError> {
        // Client assertions are judged by the identity platform's clock: the real one.
        let auth =
            self.credential.form_fields(&self.client_id, &self.token_url, chrono::Utc::now()).await.map_err(
                |e| ApiError::Token { status: 0, code: "credential".into(), message: format!("{e:#}") },
            )?;
        let mut form: Vec<(&str, String)> = vec![
            ("client_id", self.client_id.clone()),
            ("grant_type", "client_credentials".into()),
            ("scope", audience.scope().into()),
        ];
        form.extend(auth);
        let started = Instant::now();
        let response = self
            .http
            .post(&self.token_url)
            .form(&form)
            .send()
            .await
            .map_err(|e| ApiError::Network(format!("token request: {}", e.without_url())))?;
        let status = response.status();
        let text = response.text().await.map_err(|e| ApiError::Network(format!("token response: {e}")))?;
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(ApiError::Server {
                status: status.as_u16(),
                code: "token".into(),
                message: String::new(),
            });
        }
        if !status.is_success() {
            let detail: TokenError = serde_json::from_str(&text)
                .unwrap_or(TokenError { error: String::new(), error_description: text });
            // The description names the tenant and trace ids, never the secret.
            let first_line = detail.error_description.lines().next().unwrap_or_default().to_owned();
            return Err(ApiError::Token { status: status.as_u16(), code: detail.error, message: first_line });
        }
        let body: TokenResponse =
            serde_json::from_str(&text).map_err(|e| ApiError::Decode(format!("token response: {e}")))?;
        let lifetime = Duration::from_secs(body.expires_in);
        let margin = REFRESH_MARGIN.min(lifetime / 2);
        tracing::debug!(?audience, expires_in = body.expires_in, "fetched a directory access token");
        Ok(Cached { token: SecretString::from(body.access_token), refresh_at: started + lifetime - margin })
    }
}
