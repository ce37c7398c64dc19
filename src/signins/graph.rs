//! [`SignInSource`] on Microsoft Graph: `GET {graph_url}auditLogs/signIns?$filter=userId eq
//! '{object id}' and createdDateTime ge {since}` (wire-formats §5.1), one query per account,
//! following `@odata.nextLink`. Requests are spaced so at most 5 go out per 10 s, and a 429's
//! `Retry-After` pushes the next request back. The bearer token comes from a [`BearerToken`]
//! (the Graph token provider), so this module never handles client secrets.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::SignInSource;
use crate::core::alarm::{SignIn, signin_key};
use crate::core::policy::BreakGlass;

/// Spacing between two Graph requests: 5 requests per 10 s.
pub const REQUEST_SPACING: Duration = Duration::from_secs(2);
/// Page size asked for.
pub const PAGE_SIZE: u32 = 100;
/// Pages followed per account and poll (a burst beyond this is read on the next poll).
pub const MAX_PAGES: usize = 10;
/// Per-request timeout.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Supplies a Graph access token (client credentials, cached by the provider).
#[async_trait]
pub trait BearerToken: Send + Sync {
    /// A currently valid token.
    async fn token(&self) -> anyhow::Result<String>;
}

/// Reads sign-ins from Microsoft Graph.
pub struct GraphSignIns {
    http: reqwest::Client,
    base: String,
    token: Arc<dyn BearerToken>,
    next_slot: Mutex<Instant>,
}

/// One page of `auditLogs/signIns`.
#[derive(Debug, Deserialize)]
pub struct SignInPage {
    /// Sign-ins, newest first.
    #[serde(default)]
    pub value: Vec<SignInDto>,
    /// Continuation.
    #[serde(rename = "@odata.nextLink")]
    pub next_link: Option<String>,
}

/// The fields of a Graph `signIn` pimbot reads.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SignInDto {
    /// Sign-in id.
    pub id: String,
    /// When.
    pub created_date_time: DateTime<Utc>,
    /// UPN.
    #[serde(default)]
    pub user_principal_name: Option<String>,
    /// Object id.
    #[serde(default)]
    pub user_id: Option<String>,
    /// Application.
    #[serde(default)]
    pub app_display_name: Option<String>,
    /// IP.
    #[serde(default)]
    pub ip_address: Option<String>,
    /// Client.
    #[serde(default)]
    pub client_app_used: Option<String>,
    /// Conditional Access outcome.
    #[serde(default)]
    pub conditional_access_status: Option<String>,
    /// `errorCode` 0 is success.
    #[serde(default)]
    pub status: Option<StatusDto>,
    /// Where.
    #[serde(default)]
    pub location: Option<LocationDto>,
}

/// `signIn.status`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusDto {
    /// 0 on success.
    #[serde(default)]
    pub error_code: Option<i64>,
}

/// `signIn.location`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocationDto {
    /// City.
    pub city: Option<String>,
    /// State.
    pub state: Option<String>,
    /// Country code.
    pub country_or_region: Option<String>,
}

impl SignInDto {
    /// The core sign-in; a missing status counts as success (the louder case).
    pub fn into_signin(self) -> SignIn {
        let location = self.location.map(|l| {
            [l.city, l.state, l.country_or_region]
                .into_iter()
                .flatten()
                .filter(|p| !p.is_empty())
                .collect::<Vec<_>>()
                .join(", ")
        });
        SignIn {
            signin_id: signin_key(&self.id),
            upn: self.user_principal_name.unwrap_or_default(),
            object_id: self.user_id,
            at: self.created_date_time,
            ip: self.ip_address,
            location: location.filter(|l| !l.is_empty()),
            app: self.app_display_name,
            client: self.client_app_used,
            ca_status: self.conditional_access_status,
            succeeded: self.status.and_then(|s| s.error_code).is_none_or(|c| c == 0),
        }
    }
}

/// The `$filter` of one account's query (date literals unquoted, UTC with `Z`).
pub fn filter(account: &BreakGlass, since: DateTime<Utc>) -> String {
    let since = since.to_rfc3339_opts(SecondsFormat::Secs, true);
    match account.object_id.as_deref().filter(|o| !o.trim().is_empty()) {
        Some(oid) => format!("userId eq '{}' and createdDateTime ge {since}", oid.trim().replace('\'', "''")),
        None => format!(
            "userPrincipalName eq '{}' and createdDateTime ge {since}",
            account.upn.trim().replace('\'', "''")
        ),
    }
}

impl GraphSignIns {
    /// A source on the Graph at `graph_url` (`https://graph.microsoft.com/v1.0/`).
    pub fn new(graph_url: &str, token: Arc<dyn BearerToken>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .context("building the Graph client")?;
        let mut base = graph_url.to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        Ok(Self { http, base, token, next_slot: Mutex::new(Instant::now()) })
    }

    /// Waits for this request's slot, keeping requests [`REQUEST_SPACING`] apart.
    async fn wait_turn(&self) {
        let mut next = self.next_slot.lock().await;
        let now = Instant::now();
        if *next > now {
            tokio::time::sleep(*next - now).await;
        }
        *next = Instant::now() + REQUEST_SPACING;
    }

    async fn get(&self, request: reqwest::RequestBuilder) -> anyhow::Result<SignInPage> {
        self.wait_turn().await;
        let token = self.token.token().await.context("getting a Graph token")?;
        let resp = request.bearer_auth(token).send().await.context("GET auditLogs/signIns")?;
        let status = resp.status();
        if status.as_u16() == 429 || status.is_server_error() {
            let wait = resp
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(REQUEST_SPACING, Duration::from_secs);
            *self.next_slot.lock().await = Instant::now() + wait;
            bail!("Graph answered {status}; retrying after {}s", wait.as_secs());
        }
        if !status.is_success() {
            let body = resp.text().await.unwrap_or_default();
            bail!("Graph answered {status}: {}", body.chars().take(300).collect::<String>());
        }
        resp.json().await.context("reading a sign-in page")
    }
}

#[async_trait]
impl SignInSource for GraphSignIns {
    async fn sign_ins(&self, account: &BreakGlass, since: DateTime<Utc>) -> anyhow::Result<Vec<SignIn>> {
        let first = self
            .http
            .get(format!("{}auditLogs/signIns", self.base))
            .query(&[("$filter", filter(account, since)), ("$top", PAGE_SIZE.to_string())]);
        let mut page = self.get(first).await?;
        let mut out: Vec<SignIn> = Vec::new();
        for _ in 0..MAX_PAGES {
            out.extend(page.value.drain(..).map(SignInDto::into_signin));
            let Some(next) = page.next_link.take() else { break };
            page = self.get(self.http.get(next)).await?;
        }
        Ok(out)
    }
}

#[cfg(test)]
#[path = "graph_tests.rs"]
mod tests;
