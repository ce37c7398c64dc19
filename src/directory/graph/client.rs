//! A thin HTTP client for Microsoft Graph and Azure Resource Manager: bearer tokens from the
//! [`TokenProvider`], a timeout on every call, retries, and error classification.
//!
//! Retries (bounded by [`RetryPolicy::max_tries`]): 429, 503 and 504 wait for `Retry-After`
//! (seconds) when the answer carries it; other 5xx answers and network errors back off
//! exponentially with jitter. A 401 drops the cached token and repeats the call once with a
//! fresh one. Everything else is final and classified in [`ApiError`].

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use serde_json::Value;

use super::token::{Audience, TokenProvider};

/// Pages followed at most by [`GraphClient::get_all`].
const MAX_PAGES: usize = 50;

/// How calls are bounded and retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts in total (first try included).
    pub max_tries: usize,
    /// First backoff delay (doubled each retry, with jitter).
    pub min_delay: Duration,
    /// Longest backoff delay.
    pub max_delay: Duration,
    /// Longest `Retry-After` honoured (a larger value is capped).
    pub max_retry_after: Duration,
    /// Timeout of one HTTP call.
    pub timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_tries: 4,
            min_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(60),
            timeout: Duration::from_secs(20),
        }
    }
}

/// Why a call failed, classified for retries and for the PIM semantics above it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// 429, 503 or 504: the service asked us to slow down (retryable).
    #[error("throttled or unavailable (HTTP {status}{})", retry_after.map(|d| format!(", retry after {}s", d.as_secs())).unwrap_or_default())]
    Throttled {
        /// HTTP status.
        status: u16,
        /// The `Retry-After` the service sent.
        retry_after: Option<Duration>,
    },
    /// Another 5xx (retryable).
    #[error("server error HTTP {status}: {code}: {message}")]
    Server {
        /// HTTP status.
        status: u16,
        /// `error.code`, if any.
        code: String,
        /// `error.message`, if any.
        message: String,
    },
    /// Connection failure or timeout (retryable).
    #[error("network error: {0}")]
    Network(String),
    /// A final 4xx answer with the service's error code.
    #[error("HTTP {status}: {code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// `error.code` (code against this, never against the message).
        code: String,
        /// `error.message`.
        message: String,
    },
    /// The identity platform refused the client credentials or the scope.
    #[error("token request refused (HTTP {status}): {code}: {message}")]
    Token {
        /// HTTP status.
        status: u16,
        /// OAuth `error`.
        code: String,
        /// First line of `error_description`.
        message: String,
    },
    /// The answer was not the JSON we expected.
    #[error("unexpected response: {0}")]
    Decode(String),
}

impl ApiError {
    /// Whether repeating the same call may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(self, ApiError::Throttled { .. } | ApiError::Server { .. } | ApiError::Network(_))
    }

    /// The delay the service asked for, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ApiError::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The service's error code (`RoleAssignmentExists`), if it sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ApiError::Api { code, .. } | ApiError::Server { code, .. } => Some(code.as_str()),
            _ => None,
        }
    }

    /// The HTTP status, if the service answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Throttled { status, .. }
            | ApiError::Server { status, .. }
            | ApiError::Api { status, .. }
            | ApiError::Token { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Whether the error code is `code` (case-insensitive).
    pub fn has_code(&self, code: &str) -> bool {
        self.code().is_some_and(|c| c.eq_ignore_ascii_case(code))
    }
}

/// Graph and ARM over one HTTP connection pool.
#[derive(Debug)]
pub struct GraphClient {
    http: reqwest::Client,
    tokens: TokenProvider,
    graph_url: String,
    arm_url: String,
    policy: RetryPolicy,
}

impl GraphClient {
    /// A client; base URLs end in `/`.
    pub fn new(
        http: reqwest::Client,
        tokens: TokenProvider,
        graph_url: &str,
        arm_url: &str,
        policy: RetryPolicy,
    ) -> Self {
        Self { http, tokens, graph_url: graph_url.to_owned(), arm_url: arm_url.to_owned(), policy }
    }

    /// The token provider (Graph and ARM tokens, with the app's credential).
    pub fn tokens(&self) -> &TokenProvider {
        &self.tokens
    }

    /// An HTTP client with the policy's timeout.
    pub fn http(policy: &RetryPolicy) -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .timeout(policy.timeout)
            .connect_timeout(policy.timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("pimbot/", env!("CARGO_PKG_VERSION")))
            .build()
    }

    /// `{graph_url}{path}` (`path` without a leading `/`).
    pub fn graph(&self, path: &str) -> String {
        format!("{}{}", self.graph_url, path.trim_start_matches('/'))
    }

    /// `{arm_url}{path}` (`path` may start with `/`, as ARM scopes do).
    pub fn arm(&self, path: &str) -> String {
        format!("{}{}", self.arm_url, path.trim_start_matches('/'))
    }

    /// One call with retries; answers the JSON body (`Null` when empty).
    pub async fn send(
        &self,
        audience: Audience,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(self.policy.min_delay)
            .with_max_delay(self.policy.max_delay)
            .with_max_times(self.policy.max_tries.saturating_sub(1))
            .with_jitter();
        let cap = self.policy.max_retry_after;
        (|| self.attempt(audience, method.clone(), url, body))
            .retry(backoff)
            .when(ApiError::is_retryable)
            .adjust(move |e: &ApiError, next| next.map(|d| e.retry_after().map_or(d, |ra| ra.min(cap))))
            .notify(|e: &ApiError, wait| {
                tracing::warn!(%method, url = %redact(url), error = %e, wait_ms = wait.as_millis() as u64, "directory call failed; retrying");
            })
            .await
    }

    /// GETs a list and follows `@odata.nextLink` / `nextLink`; answers every `value` item.
    pub async fn get_all(&self, audience: Audience, url: &str) -> Result<Vec<Value>, ApiError> {
        let mut items = Vec::new();
        let mut next = Some(url.to_owned());
        for _ in 0..MAX_PAGES {
            let Some(url) = next.take() else { break };
            let page = self.send(audience, Method::GET, &url, None).await?;
            match page.get("value") {
                Some(Value::Array(values)) => items.extend(values.iter().cloned()),
                _ => return Err(ApiError::Decode("a list answer without `value`".into())),
            }
            next = ["@odata.nextLink", "nextLink"]
                .iter()
                .find_map(|k| page.get(*k).and_then(Value::as_str))
                .map(str::to_owned);
        }
        Ok(items)
    }

    async fn attempt(
        &self,
        audience: Audience,
        method: Method,
        url: &str,
        body: Option<&Value>,
    ) -> Result<Value, ApiError> {
        let mut refreshed = false;
        loop {
            let token = self.tokens.token(audience).await?;
            let mut request = self.http.request(method.clone(), url).bearer_auth(token.expose_secret());
            if let Some(body) = body {
                request = request.json(body);
            }
            let response =
                request.send().await.map_err(|e| ApiError::Network(e.without_url().to_string()))?;
            let status = response.status();
            if status == StatusCode::UNAUTHORIZED && !refreshed {
                tracing::info!(?audience, "access token rejected; fetching a new one");
                self.tokens.invalidate(audience, &token).await;
                refreshed = true;
                continue;
            }
            let headers = response.headers().clone();
            let text = response.text().await.map_err(|e| ApiError::Network(e.without_url().to_string()))?;
            return classify(status, &headers, &text);
        }
    }
}

/// Turns one HTTP answer into a value or a classified error.
pub fn classify(status: StatusCode, headers: &HeaderMap, text: &str) -> Result<Value, ApiError> {
    if status.is_success() {
        if text.trim().is_empty() {
            return Ok(Value::Null);
        }
        return serde_json::from_str(text).map_err(|e| ApiError::Decode(e.to_string()));
    }
    let status_code = status.as_u16();
    if matches!(status_code, 429 | 503 | 504) {
        return Err(ApiError::Throttled { status: status_code, retry_after: retry_after(headers) });
    }
    let (code, message) = error_envelope(text);
    if status.is_server_error() {
        Err(ApiError::Server { status: status_code, code, message })
    } else {
        Err(ApiError::Api { status: status_code, code, message })
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by Graph or ARM).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// `{"error":{"code","message"}}` (Graph OData and ARM CloudError share the envelope).
fn error_envelope(text: &str) -> (String, String) {
    let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let error = &value["error"];
    let field = |k: &str| error.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
    let message = field("message");
    let message = if message.is_empty() { text.chars().take(200).collect() } else { message };
    (field("code"), message)
}

/// The URL without its query (filters name object ids; keep logs short).
fn redact(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(retry: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        if let Some(r) = retry {
            h.insert(RETRY_AFTER, HeaderValue::from_str(r).expect("header"));
        }
        h
    }

    #[test]
    fn success_answers_json_or_null() {
        assert_eq!(
            classify(StatusCode::CREATED, &headers(None), r#"{"id":"1"}"#),
            Ok(serde_json::json!({"id":"1"}))
        );
        assert_eq!(classify(StatusCode::NO_CONTENT, &headers(None), ""), Ok(Value::Null));
        assert!(matches!(classify(StatusCode::OK, &headers(None), "<html>"), Err(ApiError::Decode(_))));
    }

    #[test]
    fn throttling_carries_retry_after() {
        let e = classify(StatusCode::TOO_MANY_REQUESTS, &headers(Some("5")), "{}").expect_err("429");
        assert_eq!(e.retry_after(), Some(Duration::from_secs(5)));
        assert!(e.is_retryable());
        let e = classify(StatusCode::SERVICE_UNAVAILABLE, &headers(None), "").expect_err("503");
        assert_eq!(e, ApiError::Throttled { status: 503, retry_after: None });
        assert!(e.is_retryable());
    }

    #[test]
    fn server_errors_retry_client_errors_do_not() {
        let e = classify(StatusCode::BAD_GATEWAY, &headers(None), "oops").expect_err("502");
        assert!(e.is_retryable());
        let body =
            r#"{"error":{"code":"RoleAssignmentExists","message":"The Role assignment already exists."}}"#;
        let e = classify(StatusCode::BAD_REQUEST, &headers(None), body).expect_err("400");
        assert!(!e.is_retryable());
        assert!(e.has_code("roleassignmentexists"));
        assert_eq!(e.status(), Some(400));
        assert!(
            !ApiError::Token { status: 400, code: "invalid_client".into(), message: String::new() }
                .is_retryable()
        );
        assert!(ApiError::Network("reset".into()).is_retryable());
    }
}
