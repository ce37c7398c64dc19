//! `[teams]`: Microsoft Teams over the Bot Framework (an Azure Bot's app id, tenant and
//! credential, the channels' conversation ids), or notification-only through a Teams Workflows
//! webhook (`webhook_url`). Parsing, environment overrides and the section's own checks; the
//! adapter lives in `crate::teams`.

use std::path::PathBuf;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::file::CredentialKind;
use super::identity::{CredentialSource, credential_source};
use super::validate::Problems;

/// Overrides `[teams] app_password` (the bot's client secret).
pub const ENV_TEAMS_APP_PASSWORD: &str = "PIMBOT_TEAMS_APP_PASSWORD";
/// Overrides `[teams] webhook_url` (the URL carries its own signature).
pub const ENV_TEAMS_WEBHOOK_URL: &str = "PIMBOT_TEAMS_WEBHOOK_URL";
/// The Bot Framework's OpenID metadata document.
pub const DEFAULT_OPENID_METADATA_URL: &str =
    "https://login.botframework.com/v1/.well-known/openidconfiguration";
/// Where pimbot posts when it has not yet seen a conversation's own `serviceUrl` (the
/// documented default for Teams).
pub const DEFAULT_SERVICE_URL: &str = "https://smba.trafficmanager.net/teams/";
/// Entra's login base; the token endpoint is `<login_url><tenant>/oauth2/v2.0/token`.
pub const DEFAULT_TEAMS_LOGIN_URL: &str = "https://login.microsoftonline.com/";

/// `[teams]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsConfig {
    /// The Azure Bot's Microsoft App ID (a GUID): the `aud` of inbound tokens and the
    /// `client_id` of outbound ones. Leave out with `webhook_url` for notification-only mode.
    #[serde(default)]
    pub app_id: Option<String>,
    /// The bot's home tenant (single-tenant app): its token endpoint, and the only tenant
    /// whose activities are accepted.
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// The bot's client secret; `PIMBOT_TEAMS_APP_PASSWORD` overrides it.
    #[serde(default)]
    pub app_password: Option<SecretString>,
    /// `secret`, `certificate` or `federated`; inferred when left out.
    #[serde(default)]
    pub credential: Option<CredentialKind>,
    /// PEM file with the certificate and its private key (`credential = "certificate"`).
    #[serde(default)]
    pub certificate_path: Option<PathBuf>,
    /// Federated token file (`credential = "federated"`); default `AZURE_FEDERATED_TOKEN_FILE`.
    #[serde(default)]
    pub federated_token_file: Option<PathBuf>,
    /// Channel (conversation) id for approval cards, like `19:…@thread.tacv2`.
    #[serde(default)]
    pub approver_channel: Option<String>,
    /// Channel id for the lifecycle feed.
    #[serde(default)]
    pub feed_channel: Option<String>,
    /// Channel id for break-glass alarms.
    #[serde(default)]
    pub alert_channel: Option<String>,
    /// The alert channel's on-call tag, @mentioned by every alarm page until it is
    /// acknowledged: `{ id = "<tag id from Graph GET /teams/{team}/tags>", name = "SecOps on-call" }`.
    /// Without it a page only starts a thread in the alert channel (bots cannot mention a channel).
    /// In notification-only mode the tag is only named in the alarm's text (a webhook cannot
    /// mention it).
    #[serde(default)]
    pub alert_tag: Option<TeamsTag>,
    /// The Bot Framework's OpenID metadata (tests point it at a fake).
    #[serde(default = "default_openid_metadata_url")]
    pub openid_metadata_url: String,
    /// Token endpoint; default `https://login.microsoftonline.com/<tenant_id>/oauth2/v2.0/token`.
    #[serde(default)]
    pub token_url: Option<String>,
    /// Connector base used until a conversation's own `serviceUrl` is seen in an activity.
    #[serde(default = "default_service_url")]
    pub service_url: String,
    /// Notification-only mode: a Teams Workflows webhook that receives the feed and alarms as
    /// Adaptive Cards (no bot, no buttons); `PIMBOT_TEAMS_WEBHOOK_URL` overrides it.
    #[serde(default)]
    pub webhook_url: Option<SecretString>,
}

/// `[teams] alert_tag`: a Teams tag of the alert channel's team.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamsTag {
    /// The tag id (Graph `teamworkTag.id`).
    pub id: String,
    /// Its display name, as Teams shows it.
    pub name: String,
}

fn default_openid_metadata_url() -> String {
    DEFAULT_OPENID_METADATA_URL.to_owned()
}

fn default_service_url() -> String {
    DEFAULT_SERVICE_URL.to_owned()
}

impl TeamsConfig {
    /// Whether this is the notification-only mode (a webhook, no bot).
    pub fn webhook_only(&self) -> bool {
        self.app_id.is_none() && self.webhook_url.is_some()
    }

    /// The bot's credential.
    pub fn credential_source(&self) -> Result<CredentialSource, String> {
        credential_source(
            "teams",
            ENV_TEAMS_APP_PASSWORD,
            self.credential,
            self.app_password.as_ref(),
            self.certificate_path.as_ref(),
            self.federated_token_file.as_ref(),
        )
    }

    /// The token endpoint: `token_url`, else the tenant's v2.0 endpoint.
    pub fn token_url(&self) -> String {
        self.token_url.clone().unwrap_or_else(|| {
            format!(
                "{DEFAULT_TEAMS_LOGIN_URL}{}/oauth2/v2.0/token",
                self.tenant_id.as_deref().unwrap_or_default()
            )
        })
    }

    /// Applies `PIMBOT_TEAMS_*`, `AZURE_FEDERATED_TOKEN_FILE` and a missing trailing `/` on the
    /// service URL.
    pub(super) fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        if let Some(v) = env(ENV_TEAMS_APP_PASSWORD).filter(|v| !v.trim().is_empty()) {
            self.app_password = Some(SecretString::from(v));
        }
        if let Some(v) = env(ENV_TEAMS_WEBHOOK_URL).filter(|v| !v.trim().is_empty()) {
            self.webhook_url = Some(SecretString::from(v));
        }
        // Workload identity (AKS) names the federated token file for every section.
        if let Some(file) =
            env(super::identity::ENV_AZURE_FEDERATED_TOKEN_FILE).filter(|v| !v.trim().is_empty())
        {
            self.federated_token_file.get_or_insert_with(|| PathBuf::from(file));
        }
        if !self.service_url.ends_with('/') {
            self.service_url.push('/');
        }
    }

    /// The section's own checks.
    pub(super) fn check(&self, p: &mut Problems) {
        let url_ok = |u: &str| u.starts_with("https://") || u.starts_with("http://");
        if let Some(hook) = &self.webhook_url
            && !url_ok(hook.expose_secret().trim())
        {
            p.push("teams.webhook_url", "is not an http(s) URL (copy it from the Workflows \"Post to a channel when a webhook request is received\" flow)");
        }
        if let Some(tag) = &self.alert_tag
            && (tag.id.trim().is_empty() || tag.name.trim().is_empty())
        {
            p.push("teams.alert_tag", "needs both `id` (Graph GET /teams/{team}/tags) and `name`");
        }
        if self.webhook_only() {
            return;
        }
        let missing = |v: &Option<String>| v.as_deref().is_none_or(|v| v.trim().is_empty());
        if missing(&self.app_id) {
            p.push("teams.app_id", "missing; set it to the Azure Bot's Microsoft App ID (or set only webhook_url for notification-only mode)");
        }
        if missing(&self.tenant_id) {
            p.push("teams.tenant_id", "missing; set it to the bot's home tenant id (single-tenant app)");
        }
        if let Err(e) = self.credential_source() {
            p.push("teams.credential", e);
        }
        if missing(&self.approver_channel) {
            p.push("teams.approver_channel", "missing; set it (the channel id, like \"19:…@thread.tacv2\")");
        }
        for (key, url) in [
            ("teams.openid_metadata_url", &self.openid_metadata_url),
            ("teams.service_url", &self.service_url),
        ] {
            if !url_ok(url) {
                p.push(key, format!("`{url}` is not an http(s) URL"));
            }
        }
        if let Some(url) = &self.token_url
            && !url_ok(url)
        {
            p.push("teams.token_url", format!("`{url}` is not an http(s) URL"));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::from_toml_str_with_env;

    const BASE: &str = "[server]\nlisten = \"127.0.0.1:8080\"\n[database]\nurl = \"sqlite://x.db\"\n";

    fn problems(teams: &str, env: &dyn Fn(&str) -> Option<String>) -> Vec<String> {
        let config = from_toml_str_with_env(&format!("{BASE}{teams}"), env).expect("parses");
        match config.validate(chrono::Utc::now()) {
            Ok(_) => Vec::new(),
            Err(e) => e.0.iter().map(|p| p.key.clone()).collect(),
        }
    }

    #[test]
    fn a_bot_needs_app_id_tenant_credential_and_approver_channel() {
        let none = |_: &str| None;
        let keys = problems("[teams]\n", &none);
        for key in ["teams.app_id", "teams.tenant_id", "teams.credential", "teams.approver_channel"] {
            assert!(keys.contains(&key.to_owned()), "{key} in {keys:?}");
        }
        let full = "[teams]\napp_id = \"9f6b1a3e-2c4d-4e5f-8a7b-1c2d3e4f5a6b\"\ntenant_id = \"t\"\napprover_channel = \"19:a@thread.tacv2\"\n";
        assert!(problems(full, &none).iter().any(|k| k == "teams.credential"));
        let env = |name: &str| (name == super::ENV_TEAMS_APP_PASSWORD).then(|| "secret".to_owned());
        assert!(problems(full, &env).iter().all(|k| !k.starts_with("teams.")));
    }

    #[test]
    fn an_alert_tag_needs_an_id_and_a_name() {
        let env = |name: &str| (name == super::ENV_TEAMS_APP_PASSWORD).then(|| "secret".to_owned());
        let full = "[teams]\napp_id = \"9f6b1a3e-2c4d-4e5f-8a7b-1c2d3e4f5a6b\"\ntenant_id = \"t\"\napprover_channel = \"19:a@thread.tacv2\"\n";
        let with = |tag: &str| problems(&format!("{full}alert_tag = {tag}\n"), &env);
        assert!(
            with("{ id = \"tag-1\", name = \"SecOps on-call\" }").iter().all(|k| !k.starts_with("teams."))
        );
        assert!(with("{ id = \"\", name = \"SecOps on-call\" }").contains(&"teams.alert_tag".to_owned()));
        assert!(
            from_toml_str_with_env(&format!("{BASE}{full}alert_tag = {{ id = \"x\" }}\n"), &env).is_err()
        );
    }

    #[test]
    fn a_webhook_alone_is_notification_only() {
        let none = |_: &str| None;
        assert!(
            problems("[teams]\nwebhook_url = \"https://example.invalid/hook\"\n", &none)
                .iter()
                .all(|k| !k.starts_with("teams."))
        );
        assert!(
            problems("[teams]\nwebhook_url = \"ftp://x\"\n", &none).contains(&"teams.webhook_url".to_owned())
        );
        // The on-call tag is named on webhook alarms, so it is checked there too.
        let hook = "[teams]\nwebhook_url = \"https://example.invalid/hook\"\nalert_tag = ";
        let tagged = |tag: &str| problems(&format!("{hook}{tag}\n"), &none);
        assert!(
            tagged("{ id = \"tag-1\", name = \"SecOps on-call\" }").iter().all(|k| !k.starts_with("teams."))
        );
        assert!(tagged("{ id = \"tag-1\", name = \" \" }").contains(&"teams.alert_tag".to_owned()));
    }
}
