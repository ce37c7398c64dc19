//! Cross-field checks of a parsed [`Config`], run once at startup and by `pimbot check`.
//! Every problem is collected (not just the first), each naming the key and saying what to
//! change. Settings are checked here; ids, groups and roles are resolved in `resolve`.

use std::fmt;
use std::net::SocketAddr;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use super::file::{Config, DirectoryKind, EligibilitySource};
use super::{DatabaseBackend, resolve};
use crate::core::policy::Policy;

/// One problem in the config: where, and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The offending key, like `slack.bot_token` or `role "global-admin": approvers`.
    pub key: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// Every problem found in a config; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0.len();
        write!(f, "{n} problem{} in the config:", if n == 1 { "" } else { "s" })?;
        for e in &self.0 {
            write!(f, "\n  - {e}")?;
        }
        Ok(())
    }
}

impl ConfigErrors {
    /// Whether any problem's text contains `fragment` (handy in tests and callers).
    pub fn mentions(&self, fragment: &str) -> bool {
        self.0.iter().any(|e| e.to_string().contains(fragment))
    }
}

/// Collects problems while checking.
#[derive(Debug, Default)]
pub(crate) struct Problems(Vec<ConfigError>);

impl Problems {
    /// The problems found, as `key: message` lines (tests).
    #[cfg(test)]
    pub(super) fn into_messages(self) -> Vec<String> {
        self.0.into_iter().map(|e| e.to_string()).collect()
    }

    pub(crate) fn push(&mut self, key: impl Into<String>, message: impl Into<String>) {
        self.0.push(ConfigError { key: key.into(), message: message.into() });
    }
}

impl Config {
    /// Checks every cross-field rule and resolves the policy: groups expanded, `@group`
    /// references resolved, tier defaults applied, eligibility `until` turned into exclusive
    /// instants. `now` decides who is currently eligible for the approver-pool checks.
    /// Returns all problems at once.
    pub fn validate(&self, now: DateTime<Utc>) -> Result<Policy, ConfigErrors> {
        let mut problems = Problems::default();
        self.check_settings(&mut problems);
        let policy = resolve::policy(self, now, &mut problems);
        if problems.0.is_empty() { Ok(policy) } else { Err(ConfigErrors(problems.0)) }
    }

    /// The policy alone (people, roles, break-glass, reviews, alerts), without the settings and
    /// secrets the bot needs to run: what `pimbot posture` judges, in CI on the policy
    /// repository too, where no chat secret exists.
    pub fn validate_policy(&self, now: DateTime<Utc>) -> Result<Policy, ConfigErrors> {
        let mut problems = Problems::default();
        let policy = resolve::policy(self, now, &mut problems);
        if problems.0.is_empty() { Ok(policy) } else { Err(ConfigErrors(problems.0)) }
    }

    fn check_settings(&self, p: &mut Problems) {
        if self.server.listen.trim().parse::<SocketAddr>().is_err() {
            p.push(
                "server.listen",
                format!("`{}` is not a socket address; write it like \"127.0.0.1:8080\"", self.server.listen),
            );
        }
        if let Some(problem) =
            self.server.admin_token.as_ref().and_then(|t| crate::http::admin::weak_token(t.expose_secret()))
        {
            p.push("server.admin_token", problem);
        }
        let max = self.limits.max_justification;
        if !(1..=super::file::MAX_MAX_JUSTIFICATION).contains(&max) {
            p.push(
                "limits.max_justification",
                format!("{max} is out of range; use 1 to {} characters", super::file::MAX_MAX_JUSTIFICATION),
            );
        }
        if self.limits.commands_per_minute == 0 {
            p.push("limits.commands_per_minute", "0 would refuse every command; use at least 1");
        }
        if let Some(internal) = &self.server.internal_listen
            && internal.trim().parse::<SocketAddr>().is_err()
        {
            p.push(
                "server.internal_listen",
                format!("`{internal}` is not a socket address; write it like \"0.0.0.0:9090\""),
            );
        }
        self.check_database(p);
        self.check_slack(p);
        self.check_discord(p);
        if let Some(teams) = &self.teams {
            teams.check(p);
        }
        self.check_directory(p);
        self.audit.check(p);
        self.check_formats(p);
        self.check_oidc(p);
        super::ui::check(self, p);
        self.oncall.check(p);
        if let Some(monitor) = &self.break_glass_monitor {
            require_secret(
                p,
                "break_glass_monitor.webhook_token",
                monitor.webhook_token.as_ref(),
                super::ENV_BREAK_GLASS_WEBHOOK_TOKEN,
            );
        }
    }

    fn check_database(&self, p: &mut Problems) {
        let Some(url) = &self.database.url else {
            p.push(
                "database.url",
                format!(
                    "missing; set url = \"sqlite://pimbot.db\" (or postgres://…) in [database], or {}",
                    super::ENV_DATABASE_URL
                ),
            );
            return;
        };
        if DatabaseBackend::from_url(url.expose_secret()).is_none() {
            // Only the scheme is shown: the rest may hold a password.
            let scheme = url.expose_secret().split_once(':').map_or("", |(s, _)| s).to_owned();
            p.push(
                "database.url",
                format!("unsupported scheme `{scheme}`; use sqlite://path.db or postgres://user@host/db"),
            );
        }
    }

    fn check_slack(&self, p: &mut Problems) {
        let Some(slack) = &self.slack else { return };
        if slack.socket_mode {
            if require_secret(p, "slack.app_token", slack.app_token.as_ref(), super::ENV_SLACK_APP_TOKEN)
                && !slack.app_token.as_ref().is_some_and(|t| t.expose_secret().trim().starts_with("xapp-"))
            {
                p.push(
                    "slack.app_token",
                    "must be an app-level token starting with `xapp-` (Basic Information → App-Level Tokens, scope connections:write)".to_owned(),
                );
            }
        } else {
            require_secret(
                p,
                "slack.signing_secret",
                slack.signing_secret.as_ref(),
                super::ENV_SLACK_SIGNING_SECRET,
            );
        }
        require_secret(p, "slack.bot_token", slack.bot_token.as_ref(), super::ENV_SLACK_BOT_TOKEN);
        require_text(
            p,
            "slack.approver_channel",
            slack.approver_channel.as_deref(),
            "the channel id, like \"C0APPROVERS\"",
        );
        check_url(p, "slack.api_url", &slack.api_url);
    }

    fn check_discord(&self, p: &mut Problems) {
        let Some(discord) = &self.discord else { return };
        require_text(
            p,
            "discord.application_id",
            discord.application_id.as_deref(),
            "the application id from the developer portal",
        );
        if require_secret(p, "discord.public_key", discord.public_key.as_ref(), super::ENV_DISCORD_PUBLIC_KEY)
        {
            let key = discord.public_key.as_ref().map(|k| k.expose_secret().trim()).unwrap_or_default();
            if key.len() != 64 || !key.chars().all(|c| c.is_ascii_hexdigit()) {
                p.push(
                    "discord.public_key",
                    format!(
                        "must be 64 hex characters (the application's Ed25519 public key), got {} characters",
                        key.chars().count()
                    ),
                );
            }
        }
        require_secret(p, "discord.bot_token", discord.bot_token.as_ref(), super::ENV_DISCORD_BOT_TOKEN);
        require_text(
            p,
            "discord.approver_channel",
            discord.approver_channel.as_deref(),
            "the channel id where approval cards go",
        );
        check_url(p, "discord.api_url", &discord.api_url);
    }

    fn check_directory(&self, p: &mut Problems) {
        let dir = &self.directory;
        if dir.kind == DirectoryKind::Graph {
            const WHY: &str = "required with kind = \"graph\"";
            require_text(p, "directory.tenant_id", dir.tenant_id.as_deref(), WHY);
            require_text(p, "directory.client_id", dir.client_id.as_deref(), WHY);
            if let Err(e) = self.directory_credential() {
                p.push("directory.credential", e);
            }
        }
        if dir.eligibility == EligibilitySource::Graph && dir.kind != DirectoryKind::Graph {
            p.push(
                "directory.eligibility",
                "\"graph\" needs kind = \"graph\" (eligibility schedules are read from Graph); set kind = \"graph\" or eligibility = \"policy\"",
            );
        }
        if dir.lookup_by_email && dir.kind != DirectoryKind::Graph {
            p.push(
                "directory.lookup_by_email",
                "needs kind = \"graph\" (people are looked up in Microsoft Graph); set kind = \"graph\" or remove lookup_by_email",
            );
        }
        if dir.lookup_by_email && self.slack.is_none() {
            p.push(
                "directory.lookup_by_email",
                "needs a [slack] section (people are matched by their Slack profile email)",
            );
        }
        if dir.grant_retry_for < chrono::Duration::zero() || dir.grant_retry_for > chrono::Duration::hours(24)
        {
            p.push(
                "directory.grant_retry_for",
                "must be between 0s and 24h (how long an approved grant is retried while the directory is unavailable)",
            );
        }
        check_url(p, "directory.login_url", &dir.login_url);
        check_url(p, "directory.graph_url", &dir.graph_url);
        check_url(p, "directory.arm_url", &dir.arm_url);
    }
}

/// Reports a missing or blank secret; returns whether one is present.
fn require_secret(p: &mut Problems, key: &str, secret: Option<&SecretString>, env: &str) -> bool {
    let present = secret.is_some_and(|s| !s.expose_secret().trim().is_empty());
    if !present {
        let field = key.rsplit('.').next().unwrap_or(key);
        let section = key.split('.').next().unwrap_or(key);
        p.push(key, format!("missing; set {field} in [{section}] or the {env} environment variable"));
    }
    present
}

fn require_text(p: &mut Problems, key: &str, value: Option<&str>, what: &str) {
    if value.is_none_or(|v| v.trim().is_empty()) {
        p.push(key, format!("missing; set it ({what})"));
    }
}

fn check_url(p: &mut Problems, key: &str, url: &str) {
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        p.push(key, format!("`{url}` is not an http(s) URL; write it like \"https://example.com/api/\""));
    }
}
