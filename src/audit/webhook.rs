//! The `webhook` sink: each batch is one HTTPS POST of a JSON array of lines (events and
//! checkpoints, each with its `seq`), the body shape of Microsoft Sentinel's Logs Ingestion API
//! and of most collectors; an `Authorization` header comes from the environment when
//! configured (`Bearer <token>`, `Splunk <token>`). Any 2xx takes the batch;
//! anything else, or no answer, fails it and the pump retries the same batch later (429 and
//! 503 with their `Retry-After`). Audit lines are never dropped, so a 4xx is retried too, and
//! logged loudly, until the collector or the config is fixed.

use std::time::Duration;

use async_trait::async_trait;
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE, RETRY_AFTER};

use super::{AuditSink, SinkFailure};

/// How long one POST may take.
pub const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest `Retry-After` honoured.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(600);

/// A collector reached over HTTP(S).
pub struct WebhookSink {
    http: reqwest::Client,
    url: reqwest::Url,
    authorization: Option<String>,
    batch: usize,
}

impl std::fmt::Debug for WebhookSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSink").field("url", &self.url.as_str()).field("batch", &self.batch).finish()
    }
}

impl WebhookSink {
    /// A sink POSTing batches of at most `batch` lines to `url`.
    pub fn new(url: &str, authorization: Option<String>, batch: usize) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(url)?;
        let http = reqwest::Client::builder()
            .user_agent(concat!("pimbot/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(5))
            .timeout(WEBHOOK_TIMEOUT)
            .build()?;
        Ok(Self { http, url, authorization, batch: batch.max(1) })
    }
}

#[async_trait]
impl AuditSink for WebhookSink {
    fn batch(&self) -> usize {
        self.batch
    }

    async fn deliver(&self, lines: &[String]) -> Result<(), SinkFailure> {
        let mut body = String::with_capacity(lines.iter().map(|l| l.len() + 1).sum::<usize>() + 2);
        body.push('[');
        body.push_str(&lines.join(","));
        body.push(']');
        let mut request =
            self.http.post(self.url.clone()).header(CONTENT_TYPE, "application/json").body(body);
        if let Some(auth) = &self.authorization {
            request = request.header(AUTHORIZATION, auth);
        }
        let response = request
            .send()
            .await
            .map_err(|e| SinkFailure { reason: format!("POST {}: {e}", self.url), retry_after: None })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let header = response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let text = response.text().await.unwrap_or_default();
        let retry_after =
            crate::discord::client::retry_after(header.as_deref(), "").map(|d| d.min(MAX_RETRY_AFTER));
        Err(SinkFailure {
            reason: format!(
                "POST {}: HTTP {} {}",
                self.url,
                status.as_u16(),
                text.chars().take(200).collect::<String>()
            ),
            retry_after,
        })
    }
}
