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
use crate::http::{AppState, SlackState, router};
use crate::slack::client::SlackApi;
use crate::slack::verify::SlackVerifier;

/// Slack settings the running app needs.
#[derive(Clone)]
pub struct SlackParts {
    /// Signing secret for inbound requests.
    pub signing_secret: SecretString,
    /// Bot token for the Web API.
    pub bot_token: SecretString,
    /// Web API base URL.
    pub api_url: String,
    /// Channels.
    pub channels: Channels,
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
}

/// A running pimbot.
pub struct Running {
    /// The bound address.
    pub addr: SocketAddr,
    /// The use cases (tests and the demo drive sweeps through it).
    pub service: Arc<AccessService>,
    /// The outbox dispatcher.
    pub dispatcher: Arc<Dispatcher>,
    /// Cancel to stop.
    pub shutdown: CancellationToken,
    server: JoinHandle<()>,
    scheduler: JoinHandle<()>,
}

impl Running {
    /// Stops accepting, finishes in-flight requests and background passes, then returns.
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.server.await;
        let _ = self.scheduler.await;
    }

    /// Waits until the server ends (after `shutdown` is cancelled).
    pub async fn wait(self) {
        let _ = self.server.await;
        self.shutdown.cancel();
        let _ = self.scheduler.await;
    }
}

/// Starts the HTTP server on `listener` and the background loops.
pub async fn start(parts: Parts, listener: TcpListener) -> anyhow::Result<Running> {
    let mut channels = Vec::new();
    let mut senders: Vec<Arc<dyn ChatSender>> = Vec::new();
    let mut slack_state = None;
    if let Some(slack) = &parts.slack {
        let api = Arc::new(
            SlackApi::new(&slack.api_url, slack.bot_token.expose_secret())
                .context("building the Slack client")?,
        );
        senders.push(Arc::new(crate::slack::sender::SlackSender::new(api.clone())));
        channels.push(Channels { platform: Platform::Slack, ..slack.channels.clone() });
        slack_state = Some(SlackState {
            api,
            verifier: SlackVerifier { secret: slack.signing_secret.clone(), clock: parts.clock.clone() },
        });
    }
    let service = Arc::new(AccessService::new(
        parts.store.clone(),
        Arc::new(crate::directory::InstrumentedDirectory::new(parts.directory)),
        parts.clock.clone(),
        parts.policy,
        channels,
    ));
    let dispatcher = Arc::new(Dispatcher::new(parts.store, parts.clock, senders));
    let shutdown = CancellationToken::new();
    let addr = listener.local_addr().context("reading the bound address")?;
    let app = router(AppState { service: service.clone(), slack: slack_state });
    let server = tokio::spawn({
        let shutdown = shutdown.clone();
        async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async move { shutdown.cancelled().await })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "HTTP server stopped with an error");
            }
        }
    });
    let scheduler =
        tokio::spawn(crate::scheduler::run(service.clone(), dispatcher.clone(), shutdown.clone()));
    tracing::info!(%addr, "pimbot is listening");
    Ok(Running { addr, service, dispatcher, shutdown, server, scheduler })
}
