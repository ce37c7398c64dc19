//! `[oncall.pagerduty]`, `[oncall.opsgenie]` and a role's `oncall = { … }` and
//! `max_start_ahead`: their serde shape, the `PIMBOT_PAGERDUTY_TOKEN` /
//! `PIMBOT_OPSGENIE_TOKEN` overrides, and the checks `pimbot check` runs on them.

use chrono::Duration;
use secrecy::SecretString;
use serde::Deserialize;

use super::file::{Config, RoleConfig};
use super::validate::Problems;
use crate::core::duration::format_duration;
use crate::core::oncall::{OnCallProvider, OnCallRule};
use crate::core::policy::{Role, Tier};
use crate::core::schedule::DEFAULT_MAX_START_AHEAD;

/// Overrides `[oncall.pagerduty] token`.
pub const ENV_PAGERDUTY_TOKEN: &str = "PIMBOT_PAGERDUTY_TOKEN";
/// Overrides `[oncall.opsgenie] token`.
pub const ENV_OPSGENIE_TOKEN: &str = "PIMBOT_OPSGENIE_TOKEN";
/// Default PagerDuty REST API base URL.
pub const DEFAULT_PAGERDUTY_API_URL: &str = "https://api.pagerduty.com/";
/// Default Opsgenie REST API base URL (EU accounts use `https://api.eu.opsgenie.com/`).
pub const DEFAULT_OPSGENIE_API_URL: &str = "https://api.opsgenie.com/";
/// Longest `max_start_ahead` accepted: PIM itself schedules at most a year ahead, and a start
/// further out than a quarter is a standing grant in disguise.
pub const MAX_START_AHEAD_CEILING: Duration = Duration::days(90);

/// `[oncall]`: the on-call providers roles may ask.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnCallConfig {
    /// `[oncall.pagerduty]`.
    #[serde(default)]
    pub pagerduty: Option<OnCallProviderConfig>,
    /// `[oncall.opsgenie]`.
    #[serde(default)]
    pub opsgenie: Option<OnCallProviderConfig>,
}

/// `[oncall.pagerduty]` / `[oncall.opsgenie]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnCallProviderConfig {
    /// Base URL of the REST API; tests point it at a fake.
    #[serde(default)]
    pub api_url: Option<String>,
    /// API token (PagerDuty REST API key, Opsgenie API integration key); the
    /// `PIMBOT_PAGERDUTY_TOKEN` / `PIMBOT_OPSGENIE_TOKEN` environment variables override it.
    #[serde(default)]
    pub token: Option<SecretString>,
    /// How long one question to the provider may take before pimbot falls back to normal
    /// approval; default 5s.
    #[serde(default, deserialize_with = "super::file::opt_human_duration")]
    pub timeout: Option<Duration>,
}

/// A role's `oncall = { provider = "pagerduty", schedules = ["P1ABCD"], approves = 1 }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleOnCallConfig {
    /// `pagerduty` or `opsgenie`.
    pub provider: ProviderName,
    /// Schedule ids; on call in any one counts.
    pub schedules: Vec<String>,
    /// Approvals recorded when the requester is on call; default 1.
    #[serde(default = "one")]
    pub approves: u32,
    /// Whether a critical role may be auto-approved; default false.
    #[serde(default)]
    pub allow_critical: bool,
}

/// The provider names the config accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderName {
    /// PagerDuty.
    Pagerduty,
    /// Opsgenie.
    Opsgenie,
}

impl From<ProviderName> for OnCallProvider {
    fn from(p: ProviderName) -> Self {
        match p {
            ProviderName::Pagerduty => OnCallProvider::PagerDuty,
            ProviderName::Opsgenie => OnCallProvider::Opsgenie,
        }
    }
}

fn one() -> u32 {
    1
}

impl OnCallConfig {
    /// The section of `provider`, if configured.
    pub fn provider(&self, provider: OnCallProvider) -> Option<&OnCallProviderConfig> {
        match provider {
            OnCallProvider::PagerDuty => self.pagerduty.as_ref(),
            OnCallProvider::Opsgenie => self.opsgenie.as_ref(),
        }
    }

    /// The base URL of `provider`, ending in `/`.
    pub fn api_url(&self, provider: OnCallProvider) -> String {
        let default = match provider {
            OnCallProvider::PagerDuty => DEFAULT_PAGERDUTY_API_URL,
            OnCallProvider::Opsgenie => DEFAULT_OPSGENIE_API_URL,
        };
        let mut url =
            self.provider(provider).and_then(|c| c.api_url.clone()).unwrap_or_else(|| default.into());
        if !url.ends_with('/') {
            url.push('/');
        }
        url
    }

    /// Replaces the tokens with the environment's, for the sections present.
    pub fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        for (section, name) in
            [(&mut self.pagerduty, ENV_PAGERDUTY_TOKEN), (&mut self.opsgenie, ENV_OPSGENIE_TOKEN)]
        {
            if let (Some(section), Some(value)) = (section, env(name).filter(|v| !v.trim().is_empty())) {
                section.token = Some(SecretString::from(value));
            }
        }
    }

    /// Checks the provider sections (URLs, tokens).
    pub(super) fn check(&self, p: &mut Problems) {
        for (provider, env) in
            [(OnCallProvider::PagerDuty, ENV_PAGERDUTY_TOKEN), (OnCallProvider::Opsgenie, ENV_OPSGENIE_TOKEN)]
        {
            let Some(section) = self.provider(provider) else { continue };
            let key = format!("oncall.{}", provider.as_str());
            let url = self.api_url(provider);
            if !(url.starts_with("https://") || url.starts_with("http://")) {
                p.push(format!("{key}.api_url"), format!("`{url}` is not an http(s) URL"));
            }
            if section.token.is_none() {
                p.push(format!("{key}.token"), format!("missing; set token in [{key}] or {env}"));
            }
            if section.timeout.is_some_and(|t| t <= Duration::zero()) {
                p.push(format!("{key}.timeout"), "must be longer than zero");
            }
        }
    }
}

/// The role's `max_start_ahead`, checked.
pub(super) fn max_start_ahead(rc: &RoleConfig, at: &str, p: &mut Problems) -> Duration {
    let ahead = rc.max_start_ahead.unwrap_or(DEFAULT_MAX_START_AHEAD);
    if ahead > MAX_START_AHEAD_CEILING {
        p.push(
            format!("{at}: max_start_ahead"),
            format!(
                "{} is too far; a scheduled start may be at most {} ahead",
                format_duration(ahead),
                format_duration(MAX_START_AHEAD_CEILING)
            ),
        );
    }
    ahead
}

/// The role's on-call rule, checked against its provider section and the role itself.
pub(super) fn rule(
    config: &Config,
    rc: &RoleConfig,
    role: &Role,
    at: &str,
    p: &mut Problems,
) -> Option<OnCallRule> {
    let oc = rc.oncall.as_ref()?;
    let key = format!("{at}: oncall");
    let provider = OnCallProvider::from(oc.provider);
    if config.oncall.provider(provider).is_none() {
        p.push(
            format!("{key}.provider"),
            format!(
                "\"{}\" is not configured; add an [oncall.{}] section with its api_url and token",
                provider.as_str(),
                provider.as_str()
            ),
        );
    }
    if oc.schedules.is_empty() || oc.schedules.iter().any(|s| s.trim().is_empty() || s.contains('/')) {
        p.push(
            format!("{key}.schedules"),
            "list at least one schedule id, each non-empty and without `/` (like [\"P1ABCD\"])",
        );
    }
    if role.approvals_required == 0 {
        p.push(
            key.clone(),
            "the role needs no approval, so being on call has nothing to approve; remove oncall",
        );
    } else if oc.approves == 0 || oc.approves > role.approvals_required {
        p.push(
            format!("{key}.approves"),
            format!(
                "{} is out of range; being on call may record 1 to {} approval(s) (the role's approvals_required)",
                oc.approves, role.approvals_required
            ),
        );
    }
    if role.tier == Tier::Critical && !oc.allow_critical {
        p.push(
            key.clone(),
            "critical roles are never approved by being on call; remove oncall, or set allow_critical = true \
             if an on-call engineer really may take this role alone",
        );
    }
    Some(OnCallRule {
        provider,
        schedules: oc.schedules.iter().map(|s| s.trim().to_owned()).collect(),
        approves: oc.approves,
        allow_critical: oc.allow_critical,
    })
}
