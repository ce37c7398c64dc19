//! On-call providers over their REST APIs: the [`OnCallSource`] port for PagerDuty
//! (`GET /oncalls?schedule_ids[]=…&since=…&until=…&include[]=users`, `Authorization: Token
//! token=…`) and Opsgenie (`GET /v2/schedules/{id}/on-calls?flat=true&date=…`, `Authorization:
//! GenieKey …`). Base URLs come from `[oncall.*] api_url`, so tests point them at
//! `testing::FakeOnCall`. Every failure (status, timeout, malformed body) is an error, which
//! the service turns into normal approval; only a listed e-mail approves anything.

use anyhow::{Context, anyhow, bail};
use async_trait::async_trait;
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::oncall::OnCallConfig;
use crate::core::error::{Error, Result};
use crate::core::oncall::{OnCallProvider, OnCallSource};

/// How long one question to a provider may take unless `[oncall.*] timeout` says otherwise; the
/// chat platforms want their answer within 3 s.
pub const DEFAULT_ONCALL_TIMEOUT: Duration = Duration::seconds(2);
/// PagerDuty pages at most this many times for one question (100 on-calls a page).
const PAGERDUTY_MAX_PAGES: u32 = 10;

struct Endpoint {
    base: reqwest::Url,
    token: SecretString,
    timeout: std::time::Duration,
}

/// The on-call source `[oncall.*]` configures, if any.
pub fn from_config(config: &OnCallConfig) -> anyhow::Result<Option<std::sync::Arc<dyn OnCallSource>>> {
    Ok(HttpOnCall::from_config(config)?.map(|c| std::sync::Arc::new(c) as std::sync::Arc<dyn OnCallSource>))
}

/// PagerDuty and Opsgenie clients behind one [`OnCallSource`].
pub struct HttpOnCall {
    http: reqwest::Client,
    pagerduty: Option<Endpoint>,
    opsgenie: Option<Endpoint>,
}

impl HttpOnCall {
    /// Builds the clients of the configured providers; `None` when none is configured.
    pub fn from_config(config: &OnCallConfig) -> anyhow::Result<Option<Self>> {
        let endpoint = |provider: OnCallProvider| -> anyhow::Result<Option<Endpoint>> {
            let Some(section) = config.provider(provider) else { return Ok(None) };
            let base = reqwest::Url::parse(&config.api_url(provider))
                .with_context(|| format!("oncall.{}.api_url is not a URL", provider.as_str()))?;
            let token =
                section.token.clone().ok_or_else(|| anyhow!("oncall.{} has no token", provider.as_str()))?;
            let timeout = section.timeout.unwrap_or(DEFAULT_ONCALL_TIMEOUT).to_std().unwrap_or_default();
            Ok(Some(Endpoint { base, token, timeout }))
        };
        let pagerduty = endpoint(OnCallProvider::PagerDuty)?;
        let opsgenie = endpoint(OnCallProvider::Opsgenie)?;
        if pagerduty.is_none() && opsgenie.is_none() {
            return Ok(None);
        }
        let http = reqwest::Client::builder().build().context("building the on-call HTTP client")?;
        Ok(Some(Self { http, pagerduty, opsgenie }))
    }

    async fn pagerduty(
        &self,
        ep: &Endpoint,
        schedules: &[String],
        email: &str,
        at: DateTime<Utc>,
    ) -> anyhow::Result<Option<String>> {
        let url = ep.base.join("oncalls").context("joining the PagerDuty URL")?;
        let since = at.to_rfc3339_opts(SecondsFormat::Secs, true);
        let until = (at + Duration::seconds(1)).to_rfc3339_opts(SecondsFormat::Secs, true);
        let mut matched: Vec<String> = Vec::new();
        let mut offset = 0u32;
        for _ in 0..PAGERDUTY_MAX_PAGES {
            let mut query: Vec<(&str, String)> =
                schedules.iter().map(|s| ("schedule_ids[]", s.clone())).collect();
            query.extend([
                ("since", since.clone()),
                ("until", until.clone()),
                ("include[]", "users".to_owned()),
                ("limit", "100".to_owned()),
                ("offset", offset.to_string()),
            ]);
            let response = self
                .http
                .get(url.clone())
                .query(&query)
                .header("Authorization", format!("Token token={}", ep.token.expose_secret()))
                .header("Accept", "application/vnd.pagerduty+json;version=2")
                .timeout(ep.timeout)
                .send()
                .await
                .context("asking PagerDuty who is on call")?;
            let status = response.status();
            if !status.is_success() {
                bail!("PagerDuty answered {status} to GET /oncalls");
            }
            let page: PagerDutyOnCalls = response.json().await.context("reading PagerDuty's on-calls")?;
            for oncall in &page.oncalls {
                let (Some(schedule), Some(user)) = (&oncall.schedule, &oncall.user) else { continue };
                if user.email.as_deref().is_some_and(|e| e.trim().eq_ignore_ascii_case(email)) {
                    matched.push(schedule.id.clone());
                }
            }
            if !page.more || page.oncalls.is_empty() {
                break;
            }
            offset += page.oncalls.len() as u32;
        }
        // The first schedule of the rule that matched, so the record names it predictably.
        Ok(schedules.iter().find(|s| matched.contains(s)).cloned())
    }

    async fn opsgenie(
        &self,
        ep: &Endpoint,
        schedules: &[String],
        email: &str,
        at: DateTime<Utc>,
    ) -> anyhow::Result<Option<String>> {
        for schedule in schedules {
            let mut url = ep.base.clone();
            url.path_segments_mut()
                .map_err(|()| anyhow!("oncall.opsgenie.api_url cannot take a path"))?
                .pop_if_empty()
                .extend(["v2", "schedules", schedule.as_str(), "on-calls"]);
            let response = self
                .http
                .get(url)
                .query(&[
                    ("flat", "true".to_owned()),
                    ("date", at.to_rfc3339_opts(SecondsFormat::Secs, true)),
                ])
                .header("Authorization", format!("GenieKey {}", ep.token.expose_secret()))
                .timeout(ep.timeout)
                .send()
                .await
                .context("asking Opsgenie who is on call")?;
            let status = response.status();
            if !status.is_success() {
                bail!("Opsgenie answered {status} to GET /v2/schedules/{schedule}/on-calls");
            }
            let body: OpsgenieOnCalls = response.json().await.context("reading Opsgenie's on-calls")?;
            let on_call =
                body.data.on_call_recipients.iter().any(|r| r.trim().eq_ignore_ascii_case(email))
                    || body.data.on_call_participants.iter().any(|p| {
                        p.kind.as_deref() == Some("user") && p.name.trim().eq_ignore_ascii_case(email)
                    });
            if on_call {
                return Ok(Some(schedule.clone()));
            }
        }
        Ok(None)
    }
}

#[async_trait]
impl OnCallSource for HttpOnCall {
    async fn on_call_in(
        &self,
        provider: OnCallProvider,
        schedules: &[String],
        email: &str,
        at: DateTime<Utc>,
    ) -> Result<Option<String>> {
        let answer = match provider {
            OnCallProvider::PagerDuty => match &self.pagerduty {
                Some(ep) => self.pagerduty(ep, schedules, email, at).await,
                None => Err(anyhow!("[oncall.pagerduty] is not configured")),
            },
            OnCallProvider::Opsgenie => match &self.opsgenie {
                Some(ep) => self.opsgenie(ep, schedules, email, at).await,
                None => Err(anyhow!("[oncall.opsgenie] is not configured")),
            },
        };
        let result = match &answer {
            Ok(Some(_)) => "on_call",
            Ok(None) => "not_on_call",
            Err(_) => "error",
        };
        metrics::counter!(crate::metrics::ONCALL_CHECKS_TOTAL, "provider" => provider.as_str(), "result" => result)
            .increment(1);
        answer.map_err(Error::Unavailable)
    }
}

/// `GET /oncalls` (only the fields pimbot reads; real answers carry many more).
#[derive(Debug, Deserialize)]
struct PagerDutyOnCalls {
    #[serde(default)]
    oncalls: Vec<PagerDutyOnCall>,
    #[serde(default)]
    more: bool,
}

#[derive(Debug, Deserialize)]
struct PagerDutyOnCall {
    /// Null for on-calls of an escalation rule that targets a user directly.
    #[serde(default)]
    schedule: Option<PagerDutyRef>,
    #[serde(default)]
    user: Option<PagerDutyUser>,
}

#[derive(Debug, Deserialize)]
struct PagerDutyRef {
    id: String,
}

/// With `include[]=users` the user is a full object with `email`; a bare reference has none.
#[derive(Debug, Deserialize)]
struct PagerDutyUser {
    #[serde(default)]
    email: Option<String>,
}

/// `GET /v2/schedules/{id}/on-calls`.
#[derive(Debug, Deserialize)]
struct OpsgenieOnCalls {
    data: OpsgenieData,
}

#[derive(Debug, Deserialize)]
struct OpsgenieData {
    /// With `flat=true`: the on-call users' usernames (their e-mail addresses).
    #[serde(default, rename = "onCallRecipients")]
    on_call_recipients: Vec<String>,
    /// Without `flat`: participants (users, teams, escalations).
    #[serde(default, rename = "onCallParticipants")]
    on_call_participants: Vec<OpsgenieParticipant>,
}

#[derive(Debug, Deserialize)]
struct OpsgenieParticipant {
    #[serde(default)]
    name: String,
    #[serde(default, rename = "type")]
    kind: Option<String>,
}
