//! The serde shape of the config file (DESIGN.md §4), key for key. Every struct refuses unknown
//! keys, so a typo is an error with its line instead of a silently ignored setting.
//!
//! This module only parses: durations and dates are read from their human forms here, but
//! cross-field rules, tier defaults and id resolution belong to `validate`.

use chrono::Duration;
use secrecy::SecretString;
use serde::Deserialize;
use serde::de::{self, Deserializer};

use crate::core::duration::parse_duration;

pub use super::eligible::{EligibleEntry, Until};
pub use super::file_directory::{
    BreakGlassMonitorConfig, CredentialKind, DirectoryConfig, DirectoryKind, EligibilitySource, OidcConfig,
    SecurityConfig,
};
pub use super::file_policy::{BreakGlassConfig, GroupConfig, PersonConfig, RoleConfig};

/// Default Slack Web API base URL.
pub const DEFAULT_SLACK_API_URL: &str = "https://slack.com/api/";
/// Default Discord REST API base URL.
pub const DEFAULT_DISCORD_API_URL: &str = "https://discord.com/api/v10/";
/// Default Entra login base URL (client-credentials tokens).
pub const DEFAULT_LOGIN_URL: &str = "https://login.microsoftonline.com/";
/// Default Microsoft Graph base URL.
pub const DEFAULT_GRAPH_URL: &str = "https://graph.microsoft.com/v1.0/";
/// Default Azure Resource Manager base URL.
pub const DEFAULT_ARM_URL: &str = "https://management.azure.com/";
/// Default cadence for polling Graph sign-in logs for break-glass sign-ins.
pub const DEFAULT_BREAK_GLASS_POLL_INTERVAL: Duration = Duration::seconds(60);
/// Default cadence for repeating an unacknowledged break-glass alarm.
pub const DEFAULT_BREAK_GLASS_REPAGE_EVERY: Duration = Duration::minutes(2);
/// Default window within which sign-ins of one break-glass account join one alarm.
pub const DEFAULT_BREAK_GLASS_COALESCE_WINDOW: Duration = Duration::minutes(10);
/// Largest `[limits] max_justification` (a card's text block still fits on every platform).
pub const MAX_MAX_JUSTIFICATION: usize = 2000;

/// The whole config file: settings and policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[server]`: the HTTP listener.
    pub server: ServerConfig,
    /// `[database]`: where state lives; the url may come from `PIMBOT_DATABASE_URL` instead.
    #[serde(default)]
    pub database: DatabaseConfig,
    /// `[slack]`: present to enable Slack.
    #[serde(default)]
    pub slack: Option<SlackConfig>,
    /// `[discord]`: present to enable Discord.
    #[serde(default)]
    pub discord: Option<DiscordConfig>,
    /// `[teams]`: present to enable Microsoft Teams (a bot, or a notification-only webhook).
    #[serde(default)]
    pub teams: Option<super::teams::TeamsConfig>,
    /// `[directory]`: where grants are made and eligibility comes from (static when omitted).
    #[serde(default)]
    pub directory: DirectoryConfig,
    /// `[break_glass_monitor]`: present to accept and poll for break-glass sign-ins.
    #[serde(default)]
    pub break_glass_monitor: Option<BreakGlassMonitorConfig>,
    /// `[audit]`: the chain's key (from the environment), checkpoints and sinks.
    #[serde(default)]
    pub audit: super::audit::AuditConfig,
    /// `[security]`: who may end other people's grants.
    #[serde(default)]
    pub security: SecurityConfig,
    /// `[oidc]`: present to sign people in with the OpenID provider (identity links, MFA
    /// step-up); roles with `require_mfa` or `approver_mfa` need it.
    #[serde(default)]
    pub oidc: Option<OidcConfig>,
    /// `[limits]`: how much text people may type.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// `[ui]`: present to serve the read-only web view at `/ui` (viewers sign in through
    /// `[oidc]`).
    #[serde(default)]
    pub ui: Option<super::ui::UiConfig>,
    /// `[oncall]`: the on-call providers roles with `oncall = { … }` ask.
    #[serde(default)]
    pub oncall: super::oncall::OnCallConfig,
    /// `[[person]]`: the people pimbot knows.
    #[serde(default, rename = "person")]
    pub people: Vec<PersonConfig>,
    /// `[[group]]`: named sets of people, referenced as `@name`.
    #[serde(default, rename = "group")]
    pub groups: Vec<GroupConfig>,
    /// `[[role]]`: the requestable roles and their rules.
    #[serde(default, rename = "role")]
    pub roles: Vec<RoleConfig>,
    /// `[[break_glass]]`: emergency accounts, never requestable, every sign-in an alarm.
    #[serde(default, rename = "break_glass")]
    pub break_glass: Vec<BreakGlassConfig>,
    /// `[tier.critical]`, `[tier.high]`, `[tier.standard]`: alert thresholds per tier.
    #[serde(default)]
    pub tier: super::governance::TiersConfig,
    /// `[alerts]`: policy-wide alert settings.
    #[serde(default)]
    pub alerts: super::governance::AlertsConfig,
    /// `[[review]]`: access reviews.
    #[serde(default, rename = "review")]
    pub reviews: Vec<super::governance::ReviewConfig>,
}

/// `[server]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Socket address to bind, like `127.0.0.1:8080` or `0.0.0.0:8080`.
    pub listen: String,
    /// A second socket address for `/metrics` and `/admin/reload` (`0.0.0.0:9090`); they then
    /// leave `listen`, which keeps the chat routes, webhooks and probes, so a NetworkPolicy can
    /// admit the ingress to one port and the monitoring namespace to the other.
    #[serde(default)]
    pub internal_listen: Option<String>,
    /// Bearer token for `POST /admin/reload` (used by `pimbot reload`); the route is off
    /// without it. At least 32 characters; a blank or shorter one is refused. May come from
    /// `PIMBOT_ADMIN_TOKEN`.
    #[serde(default)]
    pub admin_token: Option<SecretString>,
}

/// `[database]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://pimbot.db` or `postgres://user@host/db`; a secret because it may carry a
    /// password. `PIMBOT_DATABASE_URL` overrides it.
    #[serde(default)]
    pub url: Option<SecretString>,
}

/// `[slack]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// Signing secret used to verify Slack's requests; `PIMBOT_SLACK_SIGNING_SECRET` overrides it.
    /// Not needed with `socket_mode = true`.
    #[serde(default)]
    pub signing_secret: Option<SecretString>,
    /// Receive commands and clicks over Slack Socket Mode (an outbound WebSocket) instead of
    /// `POST /slack/…`; needs `app_token`. The Slack HTTP routes are then not mounted.
    #[serde(default)]
    pub socket_mode: bool,
    /// App-level token (`xapp-…`, scope `connections:write`) for Socket Mode;
    /// `PIMBOT_SLACK_APP_TOKEN` overrides it.
    #[serde(default)]
    pub app_token: Option<SecretString>,
    /// Bot token (`xoxb-…`); `PIMBOT_SLACK_BOT_TOKEN` overrides it.
    #[serde(default)]
    pub bot_token: Option<SecretString>,
    /// Base URL of the Slack Web API; tests point it at a fake.
    #[serde(default = "default_slack_api_url")]
    pub api_url: String,
    /// Channel id where approval cards are posted (required).
    #[serde(default)]
    pub approver_channel: Option<String>,
    /// Channel id for the lifecycle feed.
    #[serde(default)]
    pub feed_channel: Option<String>,
    /// Channel id for break-glass alarms.
    #[serde(default)]
    pub alert_channel: Option<String>,
}

/// `[discord]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiscordConfig {
    /// Application id (snowflake) the slash commands belong to (required).
    #[serde(default)]
    pub application_id: Option<String>,
    /// Ed25519 public key, 64 hex characters, used to verify interactions;
    /// `PIMBOT_DISCORD_PUBLIC_KEY` overrides it.
    #[serde(default)]
    pub public_key: Option<SecretString>,
    /// Bot token; `PIMBOT_DISCORD_BOT_TOKEN` overrides it.
    #[serde(default)]
    pub bot_token: Option<SecretString>,
    /// Base URL of the Discord REST API; tests point it at a fake.
    #[serde(default = "default_discord_api_url")]
    pub api_url: String,
    /// Channel id where approval cards are posted.
    #[serde(default)]
    pub approver_channel: Option<String>,
    /// Channel id for the lifecycle feed.
    #[serde(default)]
    pub feed_channel: Option<String>,
    /// Channel id for break-glass alarms.
    #[serde(default)]
    pub alert_channel: Option<String>,
}

/// `[limits]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsConfig {
    /// Longest justification (and deny or acknowledgement reason) in characters, after it is
    /// made one line; longer ones are refused with a clear reply. Default 500.
    #[serde(default = "default_max_justification")]
    pub max_justification: usize,
    /// Commands, clicks and form submissions one chat user may send per minute; more are
    /// refused at once with "slow down" and change nothing. Default 10.
    #[serde(default = "default_commands_per_minute")]
    pub commands_per_minute: u32,
}

fn default_commands_per_minute() -> u32 {
    crate::core::policy::DEFAULT_COMMANDS_PER_MINUTE
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            max_justification: default_max_justification(),
            commands_per_minute: default_commands_per_minute(),
        }
    }
}

pub(super) fn human_duration<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_duration(&text).map_err(de::Error::custom)
}

pub(super) fn opt_human_duration<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Duration>, D::Error> {
    human_duration(deserializer).map(Some)
}

fn default_slack_api_url() -> String {
    DEFAULT_SLACK_API_URL.to_owned()
}

fn default_discord_api_url() -> String {
    DEFAULT_DISCORD_API_URL.to_owned()
}

fn default_max_justification() -> usize {
    crate::core::text::DEFAULT_MAX_JUSTIFICATION
}
