//! Composition root: builds the chat senders, the access service and the edge (every inbound
//! adapter's state and router, see [`inbound`]) from their [`Parts`] (built from the config by
//! [`Parts::from_config`]), then runs the HTTP server and the background loops (scheduler,
//! Socket Mode, the sign-in poller) until shutdown, which waits for all of them.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use axum::Router;

use crate::core::ports::{ChatSender, Store};
use crate::core::service::AccessService;
use crate::delivery::Dispatcher;
use crate::http::HttpState;
use crate::http::admin::{AdminState, Reloader};
use crate::slack::client::SlackApi;
use crate::slack::verify::SlackVerifier;
use crate::slack::{SlackApp, SlackState};
use inbound::Inbound;
pub use parts::*;

mod inbound;
mod parts;

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
    sign_ins: Option<JoinHandle<()>>,
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
        if let Some(sign_ins) = self.sign_ins {
            let _ = sign_ins.await;
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
            let due = store.approved_requests(100).await?.iter().any(|r| r.activation_due(now));
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
        if let Some(sign_ins) = self.sign_ins {
            let _ = sign_ins.await;
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
    let channels = parts.channels();
    let mut senders: Vec<Arc<dyn ChatSender>> = Vec::new();
    let mut inbound = Inbound::default();
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
        let verifier = match &slack.inbound {
            SlackInbound::Http { signing_secret } => {
                Some(SlackVerifier { secret: signing_secret.clone(), clock: parts.clock.clone() })
            }
            SlackInbound::SocketMode(_) => None,
        };
        inbound.slack = Some(SlackState { api, verifier });
    }
    if let Some(discord) = &parts.discord {
        let api = Arc::new(
            crate::discord::DiscordApi::new(&discord.api_url, discord.bot_token.expose_secret())
                .context("building the Discord client")?,
        );
        senders.push(Arc::new(crate::discord::DiscordSender::new(api)));
        let verifier = crate::discord::verify::verifier_from_hex(discord.public_key.expose_secret())
            .context("reading [discord] public_key")?;
        inbound.discord = Some(crate::discord::DiscordState {
            verifier: crate::discord::verify::DiscordVerifier { verifier, clock: parts.clock.clone() },
        });
    }
    // Teams mentions need display names from the policy, which the service owns; the sender
    // reads it once the service exists.
    let service_cell: Arc<std::sync::OnceLock<std::sync::Weak<AccessService>>> = Default::default();
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
            let http = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(10))
                .build()
                .context("building the Bot Framework key client")?;
            inbound.teams = Some(crate::teams::TeamsState {
                auth: Arc::new(crate::teams::auth::BotAuth::new(
                    http,
                    &bot.openid_metadata_url,
                    &bot.bot.app_id,
                    parts.clock.clone(),
                )),
                tenant_id: bot.bot.tenant_id.clone(),
            });
        }
        Some(TeamsParts::Webhook { url, alert_tag }) => {
            senders.push(Arc::new(
                crate::teams::WebhookSender::new(url.clone())
                    .context("building the webhook client")?
                    .with_on_call(alert_tag.clone()),
            ));
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
    if let Some(o) = &parts.oidc {
        service = service.with_sign_in(crate::core::service::SignInSettings {
            public_url: o.settings.public_url.clone(),
            require_link: o.require_link,
        });
        let client = crate::auth::oidc::OidcClient::new(o.settings.clone(), parts.clock.clone())
            .context("building the OpenID client")?;
        let ui = o.ui.as_ref().map(|u| Arc::new(crate::ui::UiState::new(u)));
        inbound.sign_in = Some((Arc::new(client), ui));
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
    inbound.azure_monitor = parts
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
    let own = HttpState { service: service.clone(), admin };
    let limiter = Arc::new(crate::limits::CommandLimiter::new(
        service.policy().commands_per_minute,
        service.clock().clone(),
    ));
    let adapters = inbound.router(&service, &limiter);
    let socket_mode = match (&parts.slack, &inbound.slack) {
        (Some(SlackParts { inbound: SlackInbound::SocketMode(socket), api_url, .. }), Some(slack)) => {
            let app = SlackApp { service: service.clone(), limiter: limiter.clone(), slack: slack.clone() };
            Some(
                crate::slack::socket::start(socket, api_url, app, shutdown.clone())
                    .await
                    .context("starting Slack Socket Mode")?,
            )
        }
        _ => None,
    };
    let (internal_addr, internal_server) = match internal {
        Some(internal) => {
            let internal_addr = internal.local_addr().context("reading the internal address")?;
            let app = crate::http::router_for(own.clone(), Router::new(), crate::http::Surface::Internal);
            (Some(internal_addr), Some(serve(internal, app, shutdown.clone())))
        }
        None => (None, None),
    };
    let surface =
        if internal_addr.is_some() { crate::http::Surface::Public } else { crate::http::Surface::All };
    let server = serve(listener, crate::http::router_for(own, adapters, surface), shutdown.clone());
    let scheduler =
        tokio::spawn(crate::scheduler::run(service.clone(), dispatcher.clone(), shutdown.clone()));
    let sign_ins = parts.sign_ins.map(|poller| {
        tracing::info!("polling Graph sign-ins of the break-glass accounts");
        poller.spawn(service.clone(), shutdown.clone())
    });
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
        sign_ins,
    })
}

/// Serves `app` on `listener` until `shutdown`, finishing in-flight requests.
/// (`http::serve`: header-read timeout, connection cap.)
fn serve(listener: TcpListener, app: axum::Router, shutdown: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(crate::http::serve::serve(listener, app, shutdown))
}
