//! The audit trail leaving the database: signed checkpoints on a cadence, and the
//! `[[audit.sink]]`s (`stdout`, `file`, `webhook`) fed from the trail in order.
//!
//! The audit table is the sinks' queue. Each sink has a cursor row (`audit_sinks`): the last
//! record and checkpoint it received, its retry schedule and a lease, so a crash or a dead
//! collector delays lines but never loses them, and two replicas never feed one sink at once.
//! A batch goes out, then the cursor moves: delivery is at least once, in sequence order, each
//! line carrying its `seq` so receivers drop repeats. Checkpoints follow the record they sign.
//!
//! - [`pump`]: one sink's cursor, batches and retries (backoff, `Retry-After`).
//! - [`local`]: `stdout` and `file` (append-only JSON lines, rotated by size).
//! - [`webhook`]: HTTPS POST of JSON arrays (Splunk HEC, Sentinel Logs Ingestion, collectors).
//!
//! This module never appends to the chain; `core::service` does (checkpoint records included).

pub mod local;
pub mod pump;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::audit::{AuditConfig, AuditKeys, SinkConfig, SinkKind};
use crate::core::service::{AccessService, CheckpointPolicy};
pub use pump::SinkPump;

/// How often the checkpoint cadence is checked.
pub const CHECKPOINT_POLL: Duration = Duration::from_secs(1);
/// How often an idle sink looks for new lines.
pub const SINK_POLL: Duration = Duration::from_secs(1);

/// Why a batch did not reach a sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkFailure {
    /// What went wrong (logged, and kept on the cursor row).
    pub reason: String,
    /// How long the receiver asked to be left alone (`Retry-After`).
    pub retry_after: Option<Duration>,
}

/// A destination of audit lines. `deliver` gets up to [`AuditSink::batch`] JSON lines (events
/// and checkpoints, in order) and either takes all of them or fails: it never retries itself.
#[async_trait]
pub trait AuditSink: Send + Sync {
    /// Most lines per delivery.
    fn batch(&self) -> usize;
    /// Writes or sends the lines.
    async fn deliver(&self, lines: &[String]) -> Result<(), SinkFailure>;
}

/// Builds the sink of one `[[audit.sink]]` entry.
pub fn sink_from_config(
    config: &SinkConfig,
    env: &dyn Fn(&str) -> Option<String>,
) -> anyhow::Result<Arc<dyn AuditSink>> {
    Ok(match config.kind {
        SinkKind::Stdout => Arc::new(local::StdoutSink),
        SinkKind::File => Arc::new(local::FileSink::new(
            config.path.clone().ok_or_else(|| anyhow::anyhow!("file sink without path"))?,
            config.max_bytes,
            config.keep,
        )),
        SinkKind::Webhook => {
            let url = config.url.clone().ok_or_else(|| anyhow::anyhow!("webhook sink without url"))?;
            let authorization = match &config.authorization_env {
                Some(var) => Some(env(var).filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                    anyhow::anyhow!(
                        "audit sink {}: authorization_env names {var}, which is not set",
                        config.name()
                    )
                })?),
                None => None,
            };
            Arc::new(webhook::WebhookSink::new(&url, authorization, config.batch)?)
        }
    })
}

/// Starts the checkpoint loop (when a signer is configured) and one loop per sink, until
/// `shutdown`.
pub fn spawn(
    config: &AuditConfig,
    keys: &AuditKeys,
    service: Arc<AccessService>,
    shutdown: CancellationToken,
) -> anyhow::Result<Vec<JoinHandle<()>>> {
    let mut tasks = Vec::new();
    match &keys.signer {
        Some(signer) => {
            let policy = CheckpointPolicy {
                signer: signer.clone(),
                every_events: config.checkpoint_events,
                every: config.checkpoint_every,
            };
            tracing::info!(public_key = %signer.public_key_hex(), "signing audit checkpoints");
            tasks.push(tokio::spawn(checkpoint_loop(service.clone(), policy, shutdown.clone())));
        }
        None => tracing::warn!("no audit key or signing key: no checkpoints are published"),
    }
    for sink_config in &config.sinks {
        let sink = sink_from_config(sink_config, &|name| std::env::var(name).ok())?;
        let pump = SinkPump::new(sink_config.name(), sink, service.store().clone(), service.clock().clone());
        tasks.push(tokio::spawn(sink_loop(pump, shutdown.clone())));
    }
    Ok(tasks)
}

async fn checkpoint_loop(service: Arc<AccessService>, policy: CheckpointPolicy, shutdown: CancellationToken) {
    let since = service.clock().now();
    let mut tick = tokio::time::interval(CHECKPOINT_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        match service.checkpoint_if_due(&policy, since).await {
            Ok(Some(cp)) => tracing::info!(seq = cp.seq, link = %cp.link, "audit checkpoint signed"),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "signing an audit checkpoint failed; will retry")
            }
        }
    }
}

async fn sink_loop(pump: SinkPump, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(SINK_POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        // Keep going while there is a backlog (after downtime, or a new sink catching up).
        loop {
            match pump.pump_once().await {
                Ok(pump::Pumped::Delivered { full: true, .. }) if !shutdown.is_cancelled() => continue,
                Ok(_) => break,
                Err(e) => {
                    tracing::error!(sink = %pump.name(), error = %format!("{e:#}"), "feeding an audit sink failed; will retry");
                    break;
                }
            }
        }
    }
}
