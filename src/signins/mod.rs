//! The Graph sign-in poller (directory kind `graph`): every `poll_interval`, read each
//! break-glass account's sign-ins since its stored cursor (minus an overlap, because sign-in
//! logs arrive late) and raise an alarm for each one. Sign-ins are deduplicated by their id in
//! storage, and the cursor is persisted after they are raised, so a restart misses nothing and
//! re-raises nothing. Where sign-ins come from is the [`SignInSource`] port: [`graph`] reads
//! `GET /auditLogs/signIns`, tests use a fake.

pub mod graph;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use tokio::time::MissedTickBehavior;
use tokio_util::sync::CancellationToken;

use crate::core::alarm::SignIn;
use crate::core::policy::BreakGlass;
use crate::core::service::AccessService;

/// How far before the cursor each poll reads again: Entra's sign-in logs can show up minutes
/// after the sign-in, so a window that only moved forward would skip late entries.
pub const OVERLAP: Duration = Duration::minutes(10);
/// How far back the very first poll of an account reads (no cursor yet).
pub const FIRST_LOOKBACK: Duration = Duration::hours(1);

/// Where sign-ins come from.
#[async_trait]
pub trait SignInSource: Send + Sync {
    /// Sign-ins (successful or not) of `account` at or after `since`.
    async fn sign_ins(&self, account: &BreakGlass, since: DateTime<Utc>) -> anyhow::Result<Vec<SignIn>>;
}

/// The cursor key of an account: its object id when known, else its UPN in lower case.
pub fn cursor_key(account: &BreakGlass) -> String {
    match &account.object_id {
        Some(oid) if !oid.trim().is_empty() => oid.trim().to_lowercase(),
        _ => account.upn.trim().to_lowercase(),
    }
}

/// Polls every break-glass account once; returns how many new sign-ins were recorded (each
/// raising an alarm or joining its account's open one). One account's failure is logged and
/// does not stop the others; its cursor stays where it was.
pub async fn poll_once(service: &AccessService, source: &dyn SignInSource) -> usize {
    let mut raised = 0;
    for account in service.policy().break_glass.clone() {
        match poll_account(service, source, &account).await {
            Ok(n) => raised += n,
            Err(e) => {
                tracing::error!(account = %account.upn, error = %format!("{e:#}"), "polling sign-ins failed; will retry")
            }
        }
    }
    raised
}

async fn poll_account(
    service: &AccessService,
    source: &dyn SignInSource,
    account: &BreakGlass,
) -> anyhow::Result<usize> {
    let key = cursor_key(account);
    let store = service.store();
    let now = service.clock().now();
    let since = match store.signin_cursor(&key).await? {
        Some(cursor) => cursor - OVERLAP,
        None => now - FIRST_LOOKBACK,
    };
    let mut signins = source.sign_ins(account, since).await?;
    signins.sort_by_key(|s| s.at);
    // All at once: the sign-ins of one poll are one incident, not one alarm each.
    let recorded = service.raise_all(&signins).await?.iter().map(|r| r.added).sum();
    if let Some(at) = signins.last().map(|s| s.at) {
        store.set_signin_cursor(&key, at).await?;
    }
    Ok(recorded)
}

/// A poller to run: where sign-ins come from and how often every account is read.
#[derive(Clone)]
pub struct Poller {
    /// Where sign-ins come from.
    pub source: Arc<dyn SignInSource>,
    /// How often every account is read.
    pub every: Duration,
}

impl Poller {
    /// Runs the poller until `shutdown` (a poll in flight finishes first).
    pub fn spawn(
        self,
        service: Arc<AccessService>,
        shutdown: CancellationToken,
    ) -> tokio::task::JoinHandle<()> {
        tokio::spawn(run(service, self.source, self.every, shutdown))
    }
}

/// The Graph sign-in poller, when the directory is `graph` and break-glass monitoring is
/// configured; the poller shares nothing with the grant client but the token endpoint.
pub fn poller_from_config(config: &crate::config::Config) -> anyhow::Result<Option<Poller>> {
    let (crate::config::DirectoryKind::Graph, Some(monitor)) =
        (config.directory.kind, config.break_glass_monitor())
    else {
        return Ok(None);
    };
    let settings = crate::directory::graph::GraphSettings::from_config(&config.directory)?;
    let tokens = crate::directory::graph::TokenProvider::new(
        reqwest::Client::new(),
        &settings.login_url,
        &settings.tenant_id,
        &settings.client_id,
        settings.credential.clone(),
    );
    let source = graph::GraphSignIns::new(&settings.graph_url, Arc::new(GraphBearer(tokens)))?;
    Ok(Some(Poller { source: Arc::new(source), every: monitor.poll_interval }))
}

/// Graph tokens for the sign-in poller, from the directory's client-credentials provider.
struct GraphBearer(crate::directory::graph::TokenProvider);

#[async_trait]
impl graph::BearerToken for GraphBearer {
    async fn token(&self) -> anyhow::Result<String> {
        use secrecy::ExposeSecret;
        let token = self
            .0
            .token(crate::directory::graph::Audience::Graph)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        Ok(token.expose_secret().to_owned())
    }
}

/// Runs [`poll_once`] every `every` until `shutdown`.
pub async fn run(
    service: Arc<AccessService>,
    source: Arc<dyn SignInSource>,
    every: Duration,
    shutdown: CancellationToken,
) {
    let period =
        every.to_std().unwrap_or(std::time::Duration::from_secs(60)).max(std::time::Duration::from_secs(1));
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        poll_once(&service, source.as_ref()).await;
    }
}
