//! The serde shape of the config file (DESIGN.md §4), key for key. Every struct refuses unknown
//! keys, so a typo is an error with its line instead of a silently ignored setting.
//!
//! This module only parses: durations and dates are read from their human forms here, but
//! cross-field rules, tier defaults and id resolution belong to `validate`.

use chrono::Duration;
use secrecy::SecretString;
use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize};

use crate::core::duration::parse_duration;
use crate::core::policy::{RoleKind, Tier};

pub use super::eligible::{EligibleEntry, Until};

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

/// Where grants are made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DirectoryKind {
    /// Grants are recorded only (no directory calls).
    #[default]
    Static,
    /// Microsoft Graph / ARM make the grants.
    Graph,
}

/// Where eligibility comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EligibilitySource {
    /// The `eligible` lists of the `[[role]]` tables.
    #[default]
    Policy,
    /// PIM eligibility schedules read from Graph.
    Graph,
}

/// `[directory]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoryConfig {
    /// `static` (grants recorded only, the default) or `graph`.
    #[serde(default)]
    pub kind: DirectoryKind,
    /// `policy` (the `[[role]]` eligible lists, the default) or `graph` (needs `kind = "graph"`).
    #[serde(default)]
    pub eligibility: EligibilitySource,
    /// Entra tenant id (graph only).
    #[serde(default)]
    pub tenant_id: Option<String>,
    /// App registration client id (graph only).
    #[serde(default)]
    pub client_id: Option<String>,
    /// App registration client secret (graph only); `PIMBOT_GRAPH_CLIENT_SECRET` overrides it.
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    /// Base URL for client-credentials tokens.
    #[serde(default = "default_login_url")]
    pub login_url: String,
    /// Base URL of Microsoft Graph.
    #[serde(default = "default_graph_url")]
    pub graph_url: String,
    /// Base URL of Azure Resource Manager.
    #[serde(default = "default_arm_url")]
    pub arm_url: String,
    /// Whether reconciliation removes active assignments of managed roles that were not made
    /// through pimbot (standing access). Default false: they are only reported.
    #[serde(default)]
    pub remove_unmanaged: bool,
    /// How pimbot proves itself to the identity platform: `secret` (`client_secret`),
    /// `certificate` (`certificate_path`, a client assertion signed with the certificate's key)
    /// or `federated` (workload identity federation: the token in `federated_token_file`, or
    /// `AZURE_FEDERATED_TOKEN_FILE` as Azure Kubernetes Service provides it). When left out,
    /// whichever of those is configured is used.
    #[serde(default)]
    pub credential: Option<CredentialKind>,
    /// PEM file with the app registration's certificate and its private key
    /// (`credential = "certificate"`).
    #[serde(default)]
    pub certificate_path: Option<std::path::PathBuf>,
    /// File holding the federated token (`credential = "federated"`), re-read for every token
    /// request because the kubelet rotates it; default `AZURE_FEDERATED_TOKEN_FILE`.
    #[serde(default)]
    pub federated_token_file: Option<std::path::PathBuf>,
    /// Opt-in: a Slack user not listed in the policy may be matched by their Slack profile
    /// email to the Graph user with that user principal name (needs `kind = "graph"`, a
    /// `[slack]` section, Graph `User.Read.All` and Slack `users:read.email`). Such a person
    /// is eligible only where eligibility comes from Graph, never for `critical` roles, never
    /// an approver; disabled accounts are refused. Default false.
    #[serde(default)]
    pub lookup_by_email: bool,
    /// How long an approved grant the directory cannot make for now (throttled, 5xx,
    /// unreachable) is retried, with backoff, before the request fails; approvals are kept
    /// meanwhile and the card says "granting… (retrying)". Default 15m.
    #[serde(default = "default_grant_retry_for", deserialize_with = "human_duration")]
    pub grant_retry_for: Duration,
}

impl Default for DirectoryConfig {
    fn default() -> Self {
        Self {
            kind: DirectoryKind::default(),
            eligibility: EligibilitySource::default(),
            tenant_id: None,
            client_id: None,
            client_secret: None,
            credential: None,
            certificate_path: None,
            federated_token_file: None,
            login_url: default_login_url(),
            graph_url: default_graph_url(),
            arm_url: default_arm_url(),
            remove_unmanaged: false,
            lookup_by_email: false,
            grant_retry_for: default_grant_retry_for(),
        }
    }
}

/// `[security]`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecurityConfig {
    /// Who may end anyone's grant with `/pim revoke`: person ids or `@group`. Empty (the
    /// default): nobody in chat; `pimbot revoke` at the command line always works.
    #[serde(default)]
    pub revokers: Vec<String>,
}

/// How an app proves itself to the identity platform's token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CredentialKind {
    /// A client secret.
    Secret,
    /// A client assertion signed with a certificate's private key (`private_key_jwt`).
    Certificate,
    /// A federated token from another issuer the app trusts (workload identity federation).
    Federated,
}

impl CredentialKind {
    /// The name used in config.
    pub fn as_str(self) -> &'static str {
        match self {
            CredentialKind::Secret => "secret",
            CredentialKind::Certificate => "certificate",
            CredentialKind::Federated => "federated",
        }
    }
}

/// `[oidc]`: the OpenID provider people sign in with (Microsoft Entra, or any OpenID Connect
/// provider), for identity links and MFA step-up.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcConfig {
    /// The provider's issuer (`https://login.microsoftonline.com/<tenant>/v2.0`); discovery is
    /// `<issuer>/.well-known/openid-configuration`.
    pub issuer: String,
    /// The app registration people sign in to.
    pub client_id: String,
    /// Client secret; `PIMBOT_OIDC_CLIENT_SECRET` overrides it.
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    /// `secret`, `certificate` or `federated` (see `[directory] credential`); inferred when
    /// left out.
    #[serde(default)]
    pub credential: Option<CredentialKind>,
    /// PEM file with the certificate and its private key (`credential = "certificate"`).
    #[serde(default)]
    pub certificate_path: Option<std::path::PathBuf>,
    /// Federated token file (`credential = "federated"`); default `AZURE_FEDERATED_TOKEN_FILE`.
    #[serde(default)]
    pub federated_token_file: Option<std::path::PathBuf>,
    /// Where people's browsers reach pimbot (`https://pimbot.example.com`); the redirect URI
    /// registered with the provider is `<public_url>/auth/callback`.
    pub public_url: String,
    /// Whether people must have linked their chat account (`/pim link`) before they may
    /// request or approve. Default false.
    #[serde(default)]
    pub require_link: bool,
    /// The authentication context (`c1`…`c25`) asked for by roles that require MFA and name
    /// none themselves.
    #[serde(default)]
    pub default_auth_context: Option<String>,
}

/// `[break_glass_monitor]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassMonitorConfig {
    /// Shared token Azure Monitor sends as `/webhooks/azure-monitor?token=…` (required);
    /// `PIMBOT_BREAK_GLASS_WEBHOOK_TOKEN` overrides it.
    #[serde(default)]
    pub webhook_token: Option<SecretString>,
    /// How often to read Graph sign-in logs (directory kind `graph`); default 60s.
    #[serde(default = "default_poll_interval", deserialize_with = "human_duration")]
    pub poll_interval: Duration,
    /// How often an unacknowledged alarm pages again; default 2m.
    #[serde(default = "default_repage_every", deserialize_with = "human_duration")]
    pub repage_every: Duration,
    /// Sign-ins of one account this close to the open alarm's latest join it (one page per
    /// incident; the card counts them and shows the latest); default 10m.
    #[serde(default = "default_coalesce_window", deserialize_with = "human_duration")]
    pub coalesce_window: Duration,
    /// Who may acknowledge an alarm: person ids or `@group`. Default: the approvers of the
    /// most critical roles in the policy.
    #[serde(default)]
    pub acknowledgers: Option<Vec<String>>,
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

/// `[[person]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonConfig {
    /// Policy id used in `approvers`, `eligible`, `members` (`alice`).
    pub id: String,
    /// User principal name (`alice@contoso.com`).
    #[serde(default)]
    pub upn: Option<String>,
    /// Directory object id.
    #[serde(default)]
    pub object_id: Option<String>,
    /// Slack user id (`U0ALICE`).
    #[serde(default)]
    pub slack: Option<String>,
    /// Discord user id (snowflake).
    #[serde(default)]
    pub discord: Option<String>,
    /// IANA time zone (`Europe/Berlin`) that this person's `at 22:00` starts are read in;
    /// default: the server's.
    #[serde(default)]
    pub timezone: Option<String>,
}

/// `[[group]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupConfig {
    /// Name, referenced elsewhere as `@name`.
    pub name: String,
    /// Person ids (or `@other-group`).
    #[serde(default)]
    pub members: Vec<String>,
}

/// `[[role]]`. Keys left out take the tier's default (see `config::tier`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleConfig {
    /// Key used in commands: lowercase letters, digits and `-` (`global-admin`).
    pub key: String,
    /// Display name; defaults to the key.
    #[serde(default)]
    pub name: Option<String>,
    /// `entra-role`, `azure-role` or `group`.
    pub kind: RoleKind,
    /// Role definition id / group id / Azure role definition in the directory (required with
    /// directory kind `graph`).
    #[serde(default)]
    pub directory_id: Option<String>,
    /// Scope of the assignment; default `/` (tenant-wide).
    #[serde(default = "default_scope")]
    pub scope: String,
    /// `critical`, `high` or `standard`: decides the defaults below.
    pub tier: Tier,
    /// Shortest activation.
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub min_duration: Option<Duration>,
    /// Longest activation (also the ceiling for extensions).
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub max_duration: Option<Duration>,
    /// Whether a justification is required.
    #[serde(default)]
    pub require_justification: Option<bool>,
    /// Whether a ticket reference is required.
    #[serde(default)]
    pub require_ticket: Option<bool>,
    /// Distinct approvals needed; 0 = no approval.
    #[serde(default)]
    pub approvals_required: Option<u32>,
    /// Approver pool: person ids or `@group`.
    #[serde(default)]
    pub approvers: Vec<String>,
    /// Whether people eligible for the role are barred from approving it.
    #[serde(default)]
    pub disjoint_approvers: Option<bool>,
    /// Remind approvers after this long, escalate after another.
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub sla: Option<Duration>,
    /// Told when approvers miss the SLA twice: person ids or `@group`.
    #[serde(default)]
    pub escalate_to: Vec<String>,
    /// A pending request times out after this long (at most 24h).
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub request_ttl: Option<Duration>,
    /// Early deactivation is refused this soon after activation.
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub min_hold: Option<Duration>,
    /// Who may request: person ids, `@group`, or `{ who = "erin", until = "2027-01-31" }`.
    #[serde(default)]
    pub eligible: Vec<EligibleEntry>,
    /// Whether a request waits for the requester's fresh MFA (a sign-in through `[oidc]`)
    /// before approvers see it (default: true for `critical` and `high`).
    #[serde(default)]
    pub require_mfa: Option<bool>,
    /// Whether each approval needs the approver's fresh MFA (default: true for `critical`).
    #[serde(default)]
    pub approver_mfa: Option<bool>,
    /// How old the MFA behind a step-up may be (default 5m).
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub mfa_max_age: Option<Duration>,
    /// Conditional Access authentication context (`c1`) a step-up must satisfy; default
    /// `[oidc] default_auth_context`.
    #[serde(default)]
    pub auth_context: Option<String>,
    /// The role's owners (person ids or `@group`): reviewers with `reviewer = "owner"`.
    #[serde(default)]
    pub owners: Vec<String>,
    /// Alert when more people than this are eligible (tier default: critical 5, high 10).
    #[serde(default)]
    pub max_eligible: Option<u32>,
    /// Alert when more grants than this are active at once (tier default: critical 2, high 5).
    #[serde(default)]
    pub max_active: Option<u32>,
    /// Alert when one person activates more often than this in 30 days (tier default:
    /// critical 10, high 20).
    #[serde(default)]
    pub max_activations: Option<u32>,
    /// Alert on activations outside these hours, like "Mon-Fri 08:00-19:00 Europe/Berlin".
    #[serde(default)]
    pub working_hours: Option<String>,
    /// Alert when an eligibility is unused this long (default 90d).
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub stale_after: Option<Duration>,
    /// Warn this long before a time-bound eligibility ends (default 7d).
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub warn_before: Option<Duration>,
    /// How far ahead `/pim activate … at <time>` may start (default 7d).
    #[serde(default, deserialize_with = "opt_human_duration")]
    pub max_start_ahead: Option<Duration>,
    /// On-call auto-approval: `{ provider = "pagerduty", schedules = ["P1ABCD"], approves = 1 }`.
    #[serde(default)]
    pub oncall: Option<super::oncall::RoleOnCallConfig>,
}

/// `[[break_glass]]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BreakGlassConfig {
    /// User principal name of the emergency account.
    pub upn: String,
    /// Directory object id of the emergency account.
    #[serde(default)]
    pub object_id: Option<String>,
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

fn default_login_url() -> String {
    DEFAULT_LOGIN_URL.to_owned()
}

fn default_graph_url() -> String {
    DEFAULT_GRAPH_URL.to_owned()
}

fn default_arm_url() -> String {
    DEFAULT_ARM_URL.to_owned()
}

fn default_grant_retry_for() -> Duration {
    crate::core::ports::DEFAULT_GRANT_RETRY_FOR
}

fn default_poll_interval() -> Duration {
    DEFAULT_BREAK_GLASS_POLL_INTERVAL
}

fn default_repage_every() -> Duration {
    DEFAULT_BREAK_GLASS_REPAGE_EVERY
}

fn default_coalesce_window() -> Duration {
    DEFAULT_BREAK_GLASS_COALESCE_WINDOW
}

fn default_max_justification() -> usize {
    crate::core::text::DEFAULT_MAX_JUSTIFICATION
}

fn default_scope() -> String {
    "/".to_owned()
}
