//! The `[directory]`, `[security]`, `[oidc]` and `[break_glass_monitor]` tables of the config
//! file: where grants are made, how pimbot proves itself to the identity platform, who may
//! revoke, and how break-glass sign-ins are watched. Parsing only, like `config::file`, which
//! re-exports every type here.

use chrono::Duration;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::file::{
    DEFAULT_ARM_URL, DEFAULT_BREAK_GLASS_COALESCE_WINDOW, DEFAULT_BREAK_GLASS_POLL_INTERVAL,
    DEFAULT_BREAK_GLASS_REPAGE_EVERY, DEFAULT_GRAPH_URL, DEFAULT_LOGIN_URL, human_duration,
};

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
