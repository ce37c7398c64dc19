//! Configuration: the TOML file of DESIGN.md §4 (settings and policy in one file), secrets from
//! the environment, and the cross-field checks that turn it into a resolved
//! [`crate::core::policy::Policy`] before anything binds a port.
//!
//! - [`file`](mod@file): the serde structs, key for key, unknown keys refused.
//! - [`tier`]: the defaults a role gets from its tier.
//! - [`validate`] and `resolve`: every cross-field rule, all problems reported at once.
//! - [`summary()`]: the human summary `pimbot check` prints (never a secret).
//!
//! This module reads files and the environment only through [`load`] and the injectable
//! `env` lookups; it must not open connections or talk to any platform.

pub mod audit;
mod eligible;
pub mod file;
mod file_directory;
mod file_policy;
pub mod formats;
pub mod governance;
pub mod identity;
pub mod oncall;
mod resolve;
mod resolve_mfa;
mod resolve_refs;
pub mod summary;
pub mod teams;
pub mod tier;
pub mod ui;
pub mod validate;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::Path;

use anyhow::Context as _;
use secrecy::{ExposeSecret, SecretString};

pub use file::{
    BreakGlassConfig, BreakGlassMonitorConfig, Config, CredentialKind, DatabaseConfig, DirectoryConfig,
    DirectoryKind, DiscordConfig, EligibilitySource, EligibleEntry, GroupConfig, LimitsConfig, OidcConfig,
    PersonConfig, RoleConfig, SecurityConfig, ServerConfig, SlackConfig, Until,
};
pub use identity::CredentialSource;
pub use summary::summary;
pub use validate::{ConfigError, ConfigErrors};

/// Overrides `[slack] signing_secret`.
pub const ENV_SLACK_SIGNING_SECRET: &str = "PIMBOT_SLACK_SIGNING_SECRET";
/// Overrides `[slack] bot_token`.
pub const ENV_SLACK_BOT_TOKEN: &str = "PIMBOT_SLACK_BOT_TOKEN";
/// Overrides `[slack] app_token` (Socket Mode).
pub const ENV_SLACK_APP_TOKEN: &str = "PIMBOT_SLACK_APP_TOKEN";
/// Overrides `[discord] public_key`.
pub const ENV_DISCORD_PUBLIC_KEY: &str = "PIMBOT_DISCORD_PUBLIC_KEY";
/// Overrides `[discord] bot_token`.
pub const ENV_DISCORD_BOT_TOKEN: &str = "PIMBOT_DISCORD_BOT_TOKEN";
/// Overrides `[directory] client_secret`.
pub const ENV_GRAPH_CLIENT_SECRET: &str = "PIMBOT_GRAPH_CLIENT_SECRET";
/// Overrides `[database] url`.
pub const ENV_DATABASE_URL: &str = "PIMBOT_DATABASE_URL";
/// Overrides `[server] admin_token`.
pub const ENV_ADMIN_TOKEN: &str = "PIMBOT_ADMIN_TOKEN";
/// Overrides `[break_glass_monitor] webhook_token`.
pub const ENV_BREAK_GLASS_WEBHOOK_TOKEN: &str = "PIMBOT_BREAK_GLASS_WEBHOOK_TOKEN";

/// Reads and parses the config file at `path`, then applies the `PIMBOT_…` secret overrides
/// from the process environment. Cross-field rules are checked by [`Config::validate`].
pub fn load(path: &Path) -> anyhow::Result<Config> {
    load_with_env(path, &process_env)
}

/// [`load`] with an injected environment lookup (tests pass a map instead of mutating the
/// process environment).
pub fn load_with_env(path: &Path, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    // The TOML error carries the line, the offending key and a caret; keep it in the message
    // itself (not only in a context layer) so a plain `{}` shows it.
    parse_with_env(&text, env).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
}

/// Parses config text, then applies the `PIMBOT_…` secret overrides from the process
/// environment.
pub fn from_toml_str(text: &str) -> anyhow::Result<Config> {
    from_toml_str_with_env(text, &process_env)
}

/// [`from_toml_str`] with an injected environment lookup.
pub fn from_toml_str_with_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Config> {
    parse_with_env(text, env).map_err(|e| anyhow::anyhow!("{e}"))
}

fn parse_with_env(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<Config, toml::de::Error> {
    let mut config: Config = toml::from_str(text)?;
    config.normalize_urls();
    config.apply_env(env);
    Ok(config)
}

fn process_env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Which database engine a `[database] url` selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatabaseBackend {
    /// `sqlite:` URLs.
    Sqlite,
    /// `postgres:` or `postgresql:` URLs.
    Postgres,
}

impl DatabaseBackend {
    /// Lower-case name for summaries and logs.
    pub fn as_str(self) -> &'static str {
        match self {
            DatabaseBackend::Sqlite => "sqlite",
            DatabaseBackend::Postgres => "postgres",
        }
    }

    /// The engine for a URL scheme, if pimbot supports it.
    pub fn from_url(url: &str) -> Option<Self> {
        let scheme = url.split_once(':').map(|(s, _)| s.to_ascii_lowercase())?;
        match scheme.as_str() {
            "sqlite" => Some(DatabaseBackend::Sqlite),
            "postgres" | "postgresql" => Some(DatabaseBackend::Postgres),
            _ => None,
        }
    }
}

impl DatabaseConfig {
    /// The engine the url selects; `None` when the url is missing or its scheme unsupported.
    pub fn backend(&self) -> Option<DatabaseBackend> {
        self.url.as_ref().and_then(|u| DatabaseBackend::from_url(u.expose_secret()))
    }

    /// The url without credentials or query parameters, safe to print
    /// (`postgres://db.internal:5432/pimbot`).
    pub fn redacted_url(&self) -> Option<String> {
        self.url.as_ref().map(|u| redact_url(u.expose_secret()))
    }
}

/// Drops the user-info part (`user:password@`) and any query string (`?password=…`) of a URL.
fn redact_url(url: &str) -> String {
    let without_query = url.split(['?', '#']).next().unwrap_or_default();
    match without_query.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').map_or((rest, None), |(a, p)| (a, Some(p)));
            let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
            match path {
                Some(path) => format!("{scheme}://{host}/{path}"),
                None => format!("{scheme}://{host}"),
            }
        }
        None => without_query.to_owned(),
    }
}

impl Config {
    /// Whether lookup by email is on: `[directory] lookup_by_email = true` with `kind = "graph"`.
    pub fn lookup_by_email(&self) -> bool {
        self.directory.lookup_by_email && self.directory.kind == DirectoryKind::Graph
    }

    /// `[slack]`, when Slack is enabled.
    pub fn slack(&self) -> Option<&SlackConfig> {
        self.slack.as_ref()
    }

    /// `[discord]`, when Discord is enabled.
    pub fn discord(&self) -> Option<&DiscordConfig> {
        self.discord.as_ref()
    }

    /// `[teams]`, when Teams is enabled.
    pub fn teams(&self) -> Option<&teams::TeamsConfig> {
        self.teams.as_ref()
    }

    /// `[break_glass_monitor]`, when break-glass sign-ins are watched.
    pub fn break_glass_monitor(&self) -> Option<&BreakGlassMonitorConfig> {
        self.break_glass_monitor.as_ref()
    }

    /// The database url (a secret: it may carry a password).
    pub fn database_url(&self) -> Option<&SecretString> {
        self.database.url.as_ref()
    }

    /// The socket address to bind, from `[server] listen`.
    pub fn listen_addr(&self) -> anyhow::Result<SocketAddr> {
        self.server.listen.trim().parse().with_context(|| {
            format!("server.listen: `{}` is not a socket address like 127.0.0.1:8080", self.server.listen)
        })
    }

    /// The socket address of the internal listener (`[server] internal_listen`), if any.
    pub fn internal_listen_addr(&self) -> anyhow::Result<Option<SocketAddr>> {
        self.server
            .internal_listen
            .as_deref()
            .map(|a| {
                a.trim().parse().with_context(|| {
                    format!("server.internal_listen: `{a}` is not a socket address like 0.0.0.0:9090")
                })
            })
            .transpose()
    }

    /// Replaces secrets with the `PIMBOT_…` environment values that are set and non-empty.
    /// Only sections present in the file are touched: an environment variable alone does not
    /// enable Slack or Discord.
    pub fn apply_env(&mut self, env: &dyn Fn(&str) -> Option<String>) {
        let set = |slot: &mut Option<SecretString>, name: &str| {
            if let Some(value) = env(name).filter(|v| !v.trim().is_empty()) {
                *slot = Some(SecretString::from(value));
            }
        };
        set(&mut self.database.url, ENV_DATABASE_URL);
        set(&mut self.server.admin_token, ENV_ADMIN_TOKEN);
        set(&mut self.directory.client_secret, ENV_GRAPH_CLIENT_SECRET);
        if let Some(slack) = &mut self.slack {
            set(&mut slack.signing_secret, ENV_SLACK_SIGNING_SECRET);
            set(&mut slack.bot_token, ENV_SLACK_BOT_TOKEN);
            set(&mut slack.app_token, ENV_SLACK_APP_TOKEN);
        }
        if let Some(discord) = &mut self.discord {
            set(&mut discord.public_key, ENV_DISCORD_PUBLIC_KEY);
            set(&mut discord.bot_token, ENV_DISCORD_BOT_TOKEN);
        }
        if let Some(teams) = &mut self.teams {
            teams.apply_env(env);
        }
        if let Some(monitor) = &mut self.break_glass_monitor {
            set(&mut monitor.webhook_token, ENV_BREAK_GLASS_WEBHOOK_TOKEN);
        }
        self.audit.apply_env(env);
        self.oncall.apply_env(env);
        self.apply_workload_identity_env(env);
    }

    /// Base URLs are joined with relative paths (`chat.postMessage`), which only works when
    /// they end in `/`; add it rather than make people remember.
    fn normalize_urls(&mut self) {
        let fix = |url: &mut String| {
            if !url.ends_with('/') {
                url.push('/');
            }
        };
        if let Some(slack) = &mut self.slack {
            fix(&mut slack.api_url);
        }
        if let Some(discord) = &mut self.discord {
            fix(&mut discord.api_url);
        }
        fix(&mut self.directory.login_url);
        fix(&mut self.directory.graph_url);
        fix(&mut self.directory.arm_url);
        if let Some(oidc) = &mut self.oidc {
            // The issuer is compared with `iss` exactly, and public_url is joined with paths.
            while oidc.public_url.ends_with('/') {
                oidc.public_url.pop();
            }
        }
    }
}
