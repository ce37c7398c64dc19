//! What the running app is built from ([`Parts`]) and the one function that builds it from a
//! validated config ([`Parts::from_config`]), used by `pimbot serve`, `pimbot reconcile` and
//! `pimbot demo` alike; the tests build [`Parts`] directly around their fakes. [`channels_of`]
//! says where every enabled platform's cards, feed and alerts go.

use std::sync::Arc;

use anyhow::Context;
use secrecy::SecretString;

use crate::config::Config;
use crate::core::ids::Platform;
use crate::core::policy::Policy;
use crate::core::ports::{Clock, Directory, Store};
use crate::core::service::Channels;
pub use crate::slack::socket::SocketModeParts;

/// How Slack's requests reach pimbot.
#[derive(Clone)]
pub enum SlackInbound {
    /// Slack calls `POST /slack/commands` and `/slack/interactions`, signed with this secret.
    Http {
        /// Signing secret for inbound requests.
        signing_secret: SecretString,
    },
    /// pimbot opens WebSockets to Slack (no inbound URL; the HTTP routes are not mounted).
    SocketMode(SocketModeParts),
}

/// Slack settings the running app needs.
#[derive(Clone)]
pub struct SlackParts {
    /// How requests arrive: signed HTTP or Socket Mode.
    pub inbound: SlackInbound,
    /// Bot token for the Web API.
    pub bot_token: SecretString,
    /// Web API base URL.
    pub api_url: String,
    /// Channels.
    pub channels: Channels,
    /// Match users not in the policy by their Slack profile email (`[directory]
    /// lookup_by_email` with `kind = "graph"`).
    pub lookup_by_email: bool,
}

/// Discord settings the running app needs.
#[derive(Clone)]
pub struct DiscordParts {
    /// Application id (snowflake).
    pub application_id: String,
    /// Ed25519 public key (hex) for inbound interactions.
    pub public_key: SecretString,
    /// Bot token for the REST API.
    pub bot_token: SecretString,
    /// REST API base URL (`https://discord.com/api/v10/`).
    pub api_url: String,
    /// Channels.
    pub channels: Channels,
}

/// Teams settings the running app needs (`[teams]`).
#[derive(Clone, Debug)]
pub enum TeamsParts {
    /// A bot over the Bot Framework.
    Bot(Box<TeamsBotParts>),
    /// Notification-only: the feed and alarms to a Workflows webhook.
    Webhook {
        /// The webhook URL (it carries its own signature).
        url: SecretString,
        /// `[teams] alert_tag`, named as on call on open alarms (a webhook cannot mention it).
        alert_tag: Option<crate::teams::render::Tag>,
    },
}

/// A Teams bot's settings.
#[derive(Clone, Debug)]
pub struct TeamsBotParts {
    /// App id, tenant and credential.
    pub bot: crate::teams::BotIdentity,
    /// The Bot Framework's OpenID metadata document.
    pub openid_metadata_url: String,
    /// Connector base until a conversation's own `serviceUrl` is known.
    pub service_url: String,
    /// Channels (conversation ids).
    pub channels: Channels,
    /// The alert channel's on-call tag, @mentioned by alarm pages (`[teams] alert_tag`).
    pub alert_tag: Option<crate::teams::render::Tag>,
}

/// Break-glass monitoring settings the running app needs (`[break_glass_monitor]`).
#[derive(Clone)]
pub struct BreakGlassParts {
    /// Token Azure Monitor sends as `?token=…`.
    pub webhook_token: SecretString,
    /// Cadence of repeat pages until an alarm is acknowledged.
    pub repage_every: chrono::Duration,
    /// Cadence of the Graph sign-in poller (directory kind `graph`).
    pub poll_interval: chrono::Duration,
    /// Sign-ins of one account this close to its open alarm's latest join it.
    pub coalesce_window: chrono::Duration,
}

impl BreakGlassParts {
    /// The settings of a validated config; `None` when break-glass monitoring is not configured.
    pub fn from_config(config: &crate::config::Config) -> Option<Self> {
        let monitor = config.break_glass_monitor()?;
        Some(Self {
            webhook_token: monitor.webhook_token.clone()?,
            repage_every: monitor.repage_every,
            poll_interval: monitor.poll_interval,
            coalesce_window: monitor.coalesce_window,
        })
    }
}

/// Sign-in settings the running app needs (`[oidc]`).
#[derive(Debug, Clone)]
pub struct OidcParts {
    /// The OpenID client's settings.
    pub settings: crate::auth::oidc::OidcSettings,
    /// `[oidc] require_link`.
    pub require_link: bool,
    /// `[ui]`: the web view, whose viewers sign in through `[oidc]`.
    pub ui: Option<crate::ui::UiParts>,
}

impl OidcParts {
    /// The settings of a validated config (the certificate, if any, is read now); `None` when
    /// `[oidc]` is not configured.
    pub fn from_config(config: &crate::config::Config) -> anyhow::Result<Option<Self>> {
        let Some(oidc) = config.oidc() else { return Ok(None) };
        let source = config
            .oidc_credential()
            .context("[oidc] is configured")?
            .map_err(|e| anyhow::anyhow!("[oidc] credential: {e}"))?;
        let credential = crate::auth::credential::ClientCredential::from_source(&source)?;
        Ok(Some(Self {
            settings: crate::auth::oidc::OidcSettings {
                issuer: oidc.issuer.clone(),
                client_id: oidc.client_id.clone(),
                credential,
                public_url: oidc.public_url.clone(),
            },
            require_link: oidc.require_link,
            ui: crate::ui::UiParts::from_config(config)?,
        }))
    }
}

/// Everything needed to run pimbot, already built.
pub struct Parts {
    /// Durable state.
    pub store: Arc<dyn Store>,
    /// Where grants are made.
    pub directory: Arc<dyn Directory>,
    /// Time source.
    pub clock: Arc<dyn Clock>,
    /// Resolved policy.
    pub policy: Policy,
    /// Slack, when enabled.
    pub slack: Option<SlackParts>,
    /// Re-reads the policy for SIGHUP and `POST /admin/reload`; `None` disables reloads.
    pub policy_source: Option<PolicySource>,
    /// Bearer token of `POST /admin/reload`.
    pub admin_token: Option<SecretString>,
    /// Discord, when enabled.
    pub discord: Option<DiscordParts>,
    /// Teams, when enabled.
    pub teams: Option<TeamsParts>,
    /// Break-glass monitoring, when configured.
    pub break_glass: Option<BreakGlassParts>,
    /// Sign-ins with the OpenID provider, when configured.
    pub oidc: Option<OidcParts>,
    /// The on-call providers (`[oncall.*]`), when configured.
    pub oncall: Option<Arc<dyn crate::core::oncall::OnCallSource>>,
    /// The Graph sign-in poller of the break-glass accounts, when configured: `app::start`
    /// runs it and its shutdown waits for it.
    pub sign_ins: Option<crate::signins::Poller>,
}

impl Parts {
    /// The parts a validated config describes, around `store`, `clock` and `policy`: the
    /// directory, every enabled chat platform, break-glass monitoring and its sign-in poller,
    /// sign-ins, on-call providers and the admin token. No policy source: the caller that can
    /// re-read the file sets one.
    pub fn from_config(
        config: &Config,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        policy: Policy,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            directory: crate::directory::from_config(&config.directory, clock.clone())?,
            store,
            clock,
            policy,
            slack: config
                .slack()
                .map(|s| SlackParts::from_config(s, config.lookup_by_email()))
                .transpose()?,
            policy_source: None,
            admin_token: config.server.admin_token.clone(),
            discord: config.discord().map(DiscordParts::from_config).transpose()?,
            teams: config.teams().map(TeamsParts::from_config).transpose()?,
            break_glass: BreakGlassParts::from_config(config),
            oidc: OidcParts::from_config(config)?,
            oncall: crate::oncall::from_config(&config.oncall)?,
            sign_ins: crate::signins::poller_from_config(config)?,
        })
    }

    /// Where every enabled platform's cards, feed and alerts go.
    pub fn channels(&self) -> Vec<Channels> {
        let mut out = Vec::new();
        if let Some(slack) = &self.slack {
            out.push(Channels { platform: Platform::Slack, ..slack.channels.clone() });
        }
        if let Some(discord) = &self.discord {
            out.push(Channels { platform: Platform::Discord, ..discord.channels.clone() });
        }
        match &self.teams {
            Some(TeamsParts::Bot(bot)) => out.push(bot.channels.clone()),
            Some(TeamsParts::Webhook { .. }) => out.push(webhook_channels()),
            None => {}
        }
        out
    }
}

/// Where every platform enabled in `config` sends cards, the feed and alerts (commands run
/// outside `serve` queue messages for them; `serve` delivers them).
pub fn channels_of(config: &Config) -> Vec<Channels> {
    let mut out = Vec::new();
    if let Some(s) = config.slack() {
        out.push(channels(Platform::Slack, &s.approver_channel, &s.feed_channel, &s.alert_channel));
    }
    if let Some(d) = config.discord() {
        out.push(channels(Platform::Discord, &d.approver_channel, &d.feed_channel, &d.alert_channel));
    }
    if let Some(t) = config.teams() {
        out.push(teams_channels(t));
    }
    out
}

/// Channels of one platform; a missing feed or alert channel falls back to the approver channel.
pub fn channels(
    platform: Platform,
    approver: &Option<String>,
    feed: &Option<String>,
    alert: &Option<String>,
) -> Channels {
    let approver = approver.clone().unwrap_or_default();
    Channels {
        platform,
        feed: feed.clone().unwrap_or_else(|| approver.clone()),
        alert: alert.clone().unwrap_or_else(|| approver.clone()),
        approver,
    }
}

/// The notification-only Teams webhook's channel names.
fn webhook_channels() -> Channels {
    use crate::teams::webhook::{WEBHOOK_ALERT, WEBHOOK_APPROVER, WEBHOOK_FEED};
    Channels {
        platform: Platform::Teams,
        approver: WEBHOOK_APPROVER.into(),
        feed: WEBHOOK_FEED.into(),
        alert: WEBHOOK_ALERT.into(),
    }
}

/// Where `[teams]` sends cards, the feed and alarms (in notification-only mode, the webhook's
/// feed and alert names).
pub fn teams_channels(t: &crate::config::teams::TeamsConfig) -> Channels {
    if t.webhook_only() {
        return webhook_channels();
    }
    channels(Platform::Teams, &t.approver_channel, &t.feed_channel, &t.alert_channel)
}

impl SlackParts {
    /// The running app's Slack settings from `[slack]`.
    pub fn from_config(s: &crate::config::file::SlackConfig, lookup_by_email: bool) -> anyhow::Result<Self> {
        Ok(Self {
            inbound: if s.socket_mode {
                SlackInbound::SocketMode(SocketModeParts {
                    app_token: s.app_token.clone().context("[slack] app_token missing")?,
                    connections: SocketModeParts::DEFAULT_CONNECTIONS,
                })
            } else {
                SlackInbound::Http {
                    signing_secret: s.signing_secret.clone().context("[slack] signing_secret missing")?,
                }
            },
            bot_token: s.bot_token.clone().context("[slack] bot_token missing")?,
            api_url: s.api_url.clone(),
            channels: channels(Platform::Slack, &s.approver_channel, &s.feed_channel, &s.alert_channel),
            lookup_by_email,
        })
    }
}

impl DiscordParts {
    /// The running app's Discord settings from `[discord]`.
    pub fn from_config(d: &crate::config::file::DiscordConfig) -> anyhow::Result<Self> {
        Ok(Self {
            application_id: d.application_id.clone().context("[discord] application_id missing")?,
            public_key: d.public_key.clone().context("[discord] public_key missing")?,
            bot_token: d.bot_token.clone().context("[discord] bot_token missing")?,
            api_url: d.api_url.clone(),
            channels: channels(Platform::Discord, &d.approver_channel, &d.feed_channel, &d.alert_channel),
        })
    }
}

impl TeamsParts {
    /// The running app's Teams settings from `[teams]`.
    pub fn from_config(t: &crate::config::teams::TeamsConfig) -> anyhow::Result<Self> {
        if t.webhook_only() {
            return Ok(Self::Webhook {
                url: t.webhook_url.clone().context("[teams] webhook_url missing")?,
                alert_tag: alert_tag(t),
            });
        }
        let source = t.credential_source().map_err(|e| anyhow::anyhow!("[teams] credential: {e}"))?;
        Ok(Self::Bot(Box::new(TeamsBotParts {
            bot: crate::teams::BotIdentity {
                app_id: t.app_id.clone().context("[teams] app_id missing")?,
                tenant_id: t.tenant_id.clone().context("[teams] tenant_id missing")?,
                token_url: t.token_url(),
                credential: crate::auth::credential::ClientCredential::from_source(&source)?,
            },
            openid_metadata_url: t.openid_metadata_url.clone(),
            service_url: t.service_url.clone(),
            channels: teams_channels(t),
            alert_tag: alert_tag(t),
        })))
    }
}

fn alert_tag(t: &crate::config::teams::TeamsConfig) -> Option<crate::teams::render::Tag> {
    t.alert_tag.as_ref().map(|tag| crate::teams::render::Tag {
        id: tag.id.trim().to_owned(),
        name: tag.name.trim().to_owned(),
    })
}

/// Re-reads and validates the policy.
pub type PolicySource = Arc<dyn Fn() -> anyhow::Result<Policy> + Send + Sync>;
