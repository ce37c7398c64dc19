//! Composition root: builds the store, directory, chat senders and the access service from
//! their parts, then runs the HTTP server and the background loops until shutdown.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::core::ids::Platform;
use crate::core::policy::Policy;
use crate::core::ports::{ChatSender, Clock, Directory, Store};
use crate::core::service::{AccessService, Channels};
use crate::delivery::Dispatcher;
use crate::http::admin::{AdminState, Reloader};
use crate::http::{AppState, SlackState};
use crate::slack::client::SlackApi;
pub use crate::slack::socket::SocketModeParts;
use crate::slack::verify::SlackVerifier;

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
}

/// Re-reads and validates the policy.
pub type PolicySource = Arc<dyn Fn() -> anyhow::Result<Policy> + Send + Sync>;

/// A running pimbot.
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The internal listener's address (`/metrics`, `/admin/reload`), when it has its own.
    pub internal_addr: Option<SocketAddr>,
    /// The use cases (tests and the demo drive sweeps through it).
    pub service: Arc<AccessService>,
    /// The outbox dispatcher.
    pub dispatcher: Arc<Dispatcher>,
    /// Cancel to stop.
    pub shutdown: CancellationToken,
    /// Re-reads and applies the policy (what SIGHUP runs), when a source was given.
    pub reload: Option<Reloader>,
    server: JoinHandle<()>,
    internal_server: Option<JoinHandle<()>>,
    scheduler: JoinHandle<()>,
    socket_mode: Option<JoinHandle<()>>,
}

impl Running {
    /// Stops accepting, finishes in-flight requests and background passes, then returns.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
        if let Some(internal) = self.internal_server {
            let _ = internal.await;
        }
        let _ = self.scheduler.await;
        if let Some(socket_mode) = self.socket_mode {
            let _ = socket_mode.await;
        }
    }

    /// Runs sweeps and outbox delivery until nothing is left to do, at most `within`: every
    /// commit made so far has then reached the chat platforms, and every approval its grant.
    /// The background loops keep running; this only drives them to a quiet state now (the
    /// demo and the tests use it with a manual clock).
    pub async fn settle(&self, within: std::time::Duration) -> anyhow::Result<()> {
        let deadline = std::time::Instant::now() + within;
        let store = self.service.store();
        while std::time::Instant::now() < deadline {
            crate::scheduler::sweep_once(&self.service).await;
            self.dispatcher.deliver_due().await?;
            // An approved request waiting for its next try (the directory is unavailable) is
            // quiet; one whose activation is due is not.
            let now = self.service.clock().now();
            let due = store
                .approved_requests(100)
                .await?
                .iter()
                .any(|r| r.next_nudge_at.is_none_or(|at| at <= now));
            if !due && self.service.activations_in_flight() == 0 && store.outbox_depth().await? == 0 {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        anyhow::bail!("pimbot did not finish its work within {within:?}")
    }

    /// Waits until the server ends (after `shutdown` is cancelled).
    pub async fn wait(self) {
        let _ = self.server.await;
        self.shutdown.cancel();
        if let Some(internal) = self.internal_server {
            let _ = internal.await;
        }
        let _ = self.scheduler.await;
        if let Some(socket_mode) = self.socket_mode {
            let _ = socket_mode.await;
        }
    }
}

/// What a reload answers: the summary, then what the new policy does to grants and requests
/// in flight.
fn reload_report(summary: String, impact: &crate::core::service::PolicyImpact) -> String {
    let lines = impact.lines();
    if lines.is_empty() {
        return format!("{summary}; nothing in flight is affected");
    }
    let mut out = format!("{summary}; {} grant(s) or request(s) in flight are affected:", lines.len());
    for line in lines {
        out.push_str("\n  - ");
        out.push_str(&line);
    }
    out
}

/// Starts the HTTP server on `listener`, the background loops and, when configured, the Slack
/// Socket Mode listener.
pub async fn start(parts: Parts, listener: TcpListener) -> anyhow::Result<Running> {
    start_with(parts, listener, None).await
}

/// [`start`], with `/metrics` and `/admin/reload` moved to their own `internal` listener when
/// one is given (`[server] internal_listen`): `listener` then serves only the chat routes,
/// webhooks and probes.
pub async fn start_with(
    parts: Parts,
    listener: TcpListener,
    internal: Option<TcpListener>,
) -> anyhow::Result<Running> {
    let mut channels = Vec::new();
    let mut senders: Vec<Arc<dyn ChatSender>> = Vec::new();
    let mut slack_state = None;
    let mut identity: Option<Arc<dyn crate::core::ports::ChatIdentity>> = None;
    if let Some(slack) = &parts.slack {
        let api = Arc::new(
            SlackApi::new(&slack.api_url, slack.bot_token.expose_secret())
                .context("building the Slack client")?,
        );
        senders.push(Arc::new(crate::slack::sender::SlackSender::new(api.clone())));
        if slack.lookup_by_email {
            identity = Some(Arc::new(crate::slack::SlackIdentity::new(api.clone())));
        }
        channels.push(Channels { platform: Platform::Slack, ..slack.channels.clone() });
        let verifier = match &slack.inbound {
            SlackInbound::Http { signing_secret } => {
                Some(SlackVerifier { secret: signing_secret.clone(), clock: parts.clock.clone() })
            }
            SlackInbound::SocketMode(_) => None,
        };
        slack_state = Some(SlackState { api, verifier });
    }
    let mut discord_state = None;
    if let Some(discord) = &parts.discord {
        let api = Arc::new(
            crate::discord::DiscordApi::new(&discord.api_url, discord.bot_token.expose_secret())
                .context("building the Discord client")?,
        );
        senders.push(Arc::new(crate::discord::DiscordSender::new(api)));
        channels.push(Channels { platform: Platform::Discord, ..discord.channels.clone() });
        let verifier = crate::discord::verify::verifier_from_hex(discord.public_key.expose_secret())
            .context("reading [discord] public_key")?;
        discord_state = Some(crate::discord::DiscordState {
            verifier: crate::discord::verify::DiscordVerifier { verifier, clock: parts.clock.clone() },
        });
    }
    // Teams mentions need display names from the policy, which the service owns; the sender
    // reads it once the service exists.
    let service_cell: Arc<std::sync::OnceLock<std::sync::Weak<AccessService>>> = Default::default();
    let mut teams_state = None;
    match &parts.teams {
        Some(TeamsParts::Bot(bot)) => {
            let connector =
                Arc::new(crate::teams::Connector::new(bot.bot.clone()).context("building the Teams client")?);
            let cell = service_cell.clone();
            let name_of: crate::teams::sender::NameOf = Arc::new(move |oid: &str| {
                cell.get()
                    .and_then(std::sync::Weak::upgrade)
                    .and_then(|s| {
                        s.policy()
                            .people
                            .iter()
                            .find(|p| p.object_id.as_deref().is_some_and(|o| o.eq_ignore_ascii_case(oid)))
                            .map(|p| p.id.to_string())
                    })
                    .unwrap_or_else(|| "approver".into())
            });
            senders.push(Arc::new(
                crate::teams::TeamsSender::new(connector, parts.store.clone(), &bot.service_url, name_of)
                    .with_alert_tag(bot.alert_tag.clone()),
            ));
            channels.push(bot.channels.clone());
            let http = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .context("building the Bot Framework key client")?;
            teams_state = Some(crate::teams::TeamsState {
                auth: Arc::new(crate::teams::auth::BotAuth::new(
                    http,
                    &bot.openid_metadata_url,
                    &bot.bot.app_id,
                    parts.clock.clone(),
                )),
                tenant_id: bot.bot.tenant_id.clone(),
            });
        }
        Some(TeamsParts::Webhook { url }) => {
            senders.push(Arc::new(
                crate::teams::WebhookSender::new(url.clone()).context("building the webhook client")?,
            ));
            channels.push(Channels {
                platform: Platform::Teams,
                approver: crate::teams::webhook::WEBHOOK_APPROVER.into(),
                feed: crate::teams::webhook::WEBHOOK_FEED.into(),
                alert: crate::teams::webhook::WEBHOOK_ALERT.into(),
            });
        }
        None => {}
    }
    crate::metrics::install();
    let platforms: Vec<&'static str> = channels.iter().map(|c| c.platform.as_str()).collect();
    let directory_name = parts.directory.name();
    crate::metrics::catalog::register(&parts.policy, directory_name, &platforms);
    let store: Arc<dyn Store> = Arc::new(crate::storage::InstrumentedStore::new(parts.store));
    let mut service = AccessService::new(
        store.clone(),
        Arc::new(crate::directory::InstrumentedDirectory::new(parts.directory)),
        parts.clock.clone(),
        parts.policy,
        channels.clone(),
    )
    .with_observer(Arc::new(crate::metrics::PrometheusObserver));
    if let Some(bg) = &parts.break_glass {
        service = service.with_repage_every(bg.repage_every).with_coalesce_window(bg.coalesce_window);
    }
    let mut oidc = None;
    let ui = parts.oidc.as_ref().and_then(|o| o.ui.as_ref()).map(|u| Arc::new(crate::ui::UiState::new(u)));
    if let Some(o) = &parts.oidc {
        service = service.with_sign_in(crate::core::service::SignInSettings {
            public_url: o.settings.public_url.clone(),
            require_link: o.require_link,
        });
        oidc = Some(Arc::new(
            crate::auth::oidc::OidcClient::new(o.settings.clone(), parts.clock.clone())
                .context("building the OpenID client")?,
        ));
    }
    if let Some(oncall) = parts.oncall.clone() {
        service = service.with_oncall(oncall);
    }
    if let Some(identity) = identity {
        tracing::info!("lookup by Slack profile email is on");
        service = service.with_identity(identity);
    }
    let service = Arc::new(service);
    let _ = service_cell.set(Arc::downgrade(&service));
    let azure_monitor = parts
        .break_glass
        .as_ref()
        .map(|bg| crate::webhooks::AzureMonitorState { token: bg.webhook_token.clone() });
    let dispatcher = Arc::new(Dispatcher::new(store, parts.clock, senders).with_channels(channels));
    let shutdown = CancellationToken::new();
    let addr = listener.local_addr().context("reading the bound address")?;
    // Grants recorded before pimbot kept directory targets get theirs from the policy now,
    // while their roles are surely still in it.
    match service.backfill_targets(&service.policy()).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(grants = n, "recorded directory targets of open grants"),
        Err(e) => {
            tracing::warn!(error = %format!("{e:#}"), "could not record directory targets; will retry on reload")
        }
    }
    let reload: Option<Reloader> = parts.policy_source.map(|source| {
        let service = service.clone();
        Arc::new(move || {
            let source = source.clone();
            let service = service.clone();
            let platforms = platforms.clone();
            Box::pin(async move {
                let policy = source()?;
                let summary =
                    format!("policy reloaded: {} roles, {} people", policy.roles.len(), policy.people.len());
                crate::metrics::catalog::register(&policy, directory_name, &platforms);
                let impact = service.apply_policy(policy).await?;
                Ok(reload_report(summary, &impact))
            }) as crate::http::admin::ReloadFuture
        }) as Reloader
    });
    if let Some(problem) =
        parts.admin_token.as_ref().and_then(|t| crate::http::admin::weak_token(t.expose_secret()))
    {
        anyhow::bail!("[server] admin_token {problem}");
    }
    let admin = match (parts.admin_token, &reload) {
        (Some(token), Some(reload)) => Some(AdminState { token, reload: reload.clone() }),
        _ => None,
    };
    let state = AppState {
        service: service.clone(),
        slack: slack_state,
        admin,
        discord: discord_state,
        teams: teams_state,
        azure_monitor,
        oidc,
        ui,
        limiter: Arc::new(crate::limits::CommandLimiter::new(
            service.policy().commands_per_minute,
            service.clock().clone(),
        )),
    };
    let socket_mode = match (&parts.slack, &state.slack) {
        (Some(SlackParts { inbound: SlackInbound::SocketMode(socket), api_url, .. }), Some(slack)) => Some(
            crate::slack::socket::start(socket, api_url, state.clone(), slack.clone(), shutdown.clone())
                .await
                .context("starting Slack Socket Mode")?,
        ),
        _ => None,
    };
    let (internal_addr, internal_server) = match internal {
        Some(internal) => {
            let internal_addr = internal.local_addr().context("reading the internal address")?;
            let app = crate::http::router_for(state.clone(), crate::http::Surface::Internal);
            (Some(internal_addr), Some(serve(internal, app, shutdown.clone())))
        }
        None => (None, None),
    };
    let surface =
        if internal_addr.is_some() { crate::http::Surface::Public } else { crate::http::Surface::All };
    let server = serve(listener, crate::http::router_for(state, surface), shutdown.clone());
    let scheduler =
        tokio::spawn(crate::scheduler::run(service.clone(), dispatcher.clone(), shutdown.clone()));
    match internal_addr {
        Some(internal) => tracing::info!(%addr, %internal, "pimbot is listening"),
        None => tracing::info!(%addr, "pimbot is listening"),
    }
    Ok(Running {
        addr,
        internal_addr,
        service,
        dispatcher,
        shutdown,
        reload,
        server,
        internal_server,
        scheduler,
        socket_mode,
    })
}

/// Serves `app` on `listener` until `shutdown`, finishing in-flight requests.
/// (`http::serve`: header-read timeout, connection cap.)
fn serve(listener: TcpListener, app: axum::Router, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(crate::http::serve::serve(listener, app, shutdown))
}
