//! Background work: one supervised loop that withdraws grants whose request went away while
//! they were being made, activates approved requests, ends due grants, runs the SLA ladder,
//! re-pages unacknowledged break-glass alarms and (every 30 s) revokes grants whose holder is no
//! longer eligible, one that delivers the outbox, and the outbox dispatcher's heartbeat. Both
//! sweeps and delivery tick on an interval and are also woken as soon as new work is committed.
//! Schedules live in the database, so a restart picks up everything overdue on the first tick.
//! Two slow loops reconcile the directory (every 10 minutes) and prune finished outbox rows
//! older than [`OUTBOX_RETENTION`] and expired replay keys (hourly).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{MissedTickBehavior, interval};
use tokio_util::sync::CancellationToken;

use crate::core::service::AccessService;
use crate::delivery::Dispatcher;

/// How often sweeps run when nothing wakes them. Bounds how late a grant can end.
pub const SWEEP_EVERY: Duration = Duration::from_millis(250);
/// How often the outbox is polled when nothing wakes it (retries become due this way).
pub const OUTBOX_EVERY: Duration = Duration::from_millis(500);
/// How often the directory is reconciled with pimbot's grants (directories that can list
/// assignments only; the first pass runs one period after start).
pub const RECONCILE_EVERY: Duration = Duration::from_secs(600);
/// How often finished outbox rows are pruned (the first pass runs one period after start).
pub const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// How long delivered and rejected outbox rows are kept (for operators looking into a delivery).
pub const OUTBOX_RETENTION: chrono::Duration = chrono::Duration::days(30);
/// How often alerts are evaluated, review campaigns swept and ending eligibility announced
/// (the first pass runs one period after start). Each step is deduplicated in the database.
pub const GOVERNANCE_EVERY: Duration = Duration::from_secs(60);
/// How long sign-in states are kept after they stopped working (every web view visit without
/// a session stores one, so they must not pile up).
pub const AUTH_STATE_RETENTION: chrono::Duration = chrono::Duration::days(1);
/// Rows each sweep handles per tick.
pub const SWEEP_BATCH: i64 = 500;

/// Runs the sweeps until `shutdown`; a panic inside a pass is logged and the loop respawned.
pub async fn run(service: Arc<AccessService>, dispatcher: Arc<Dispatcher>, shutdown: CancellationToken) {
    let sweeps = supervise("sweeps", shutdown.clone(), {
        let service = service.clone();
        let shutdown = shutdown.clone();
        move || sweep_loop(service.clone(), shutdown.clone())
    });
    let reconcile = supervise("reconcile", shutdown.clone(), {
        let service = service.clone();
        let shutdown = shutdown.clone();
        move || reconcile_loop(service.clone(), shutdown.clone())
    });
    let prune = supervise("prune", shutdown.clone(), {
        let service = service.clone();
        let shutdown = shutdown.clone();
        move || prune_loop(service.clone(), shutdown.clone())
    });
    let governance = supervise("governance", shutdown.clone(), {
        let service = service.clone();
        let shutdown = shutdown.clone();
        move || governance_loop(service.clone(), shutdown.clone())
    });
    let heartbeat = supervise("heartbeat", shutdown.clone(), {
        let dispatcher = dispatcher.clone();
        let shutdown = shutdown.clone();
        move || heartbeat_loop(dispatcher.clone(), shutdown.clone())
    });
    let outbox = supervise("outbox", shutdown.clone(), {
        let dispatcher = dispatcher.clone();
        move || outbox_loop(service.clone(), dispatcher.clone(), shutdown.clone())
    });
    tokio::join!(sweeps, reconcile, prune, governance, heartbeat, outbox);
    // Every delivery round has finished: rows this dispatcher still holds are free at once.
    if let Err(e) = dispatcher.retire().await {
        tracing::warn!(error = %format!("{e:#}"), "could not retire the outbox dispatcher; its claims free up after its heartbeat times out");
    }
}

/// Keeps the dispatcher's claims alive, independent of how long a delivery round takes.
async fn heartbeat_loop(dispatcher: Arc<Dispatcher>, shutdown: CancellationToken) {
    let mut tick = interval(crate::delivery::HEARTBEAT_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if let Err(e) = dispatcher.heartbeat().await {
            tracing::warn!(error = %format!("{e:#}"), "outbox heartbeat failed; will retry");
        }
    }
}

/// Runs `pass` every `period`, the first time one period after start, until `shutdown` or until
/// `pass` answers false (nothing left to do for good).
async fn every<F, Fut>(period: Duration, shutdown: CancellationToken, mut pass: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
        }
        if !pass().await {
            return;
        }
    }
}

async fn reconcile_loop(service: Arc<AccessService>, shutdown: CancellationToken) {
    every(RECONCILE_EVERY, shutdown, || async {
        match service.reconcile(false).await {
            Ok(None) => return false, // the directory cannot list assignments: nothing to reconcile
            Ok(Some(report)) => tracing::info!(
                checked = report.checked,
                drift = report.drift.len(),
                "reconciled the directory"
            ),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "reconciliation failed; will retry next period")
            }
        }
        true
    })
    .await
}

async fn prune_loop(service: Arc<AccessService>, shutdown: CancellationToken) {
    every(PRUNE_EVERY, shutdown, || async {
        let now = service.clock().now();
        match service.store().prune_outbox(now - OUTBOX_RETENTION).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(rows = n, "pruned finished outbox rows"),
            Err(e) => {
                tracing::error!(error = %format!("{e:#}"), "pruning the outbox failed; will retry next period")
            }
        }
        if let Err(e) = service.store().prune_seen_requests(now).await {
            tracing::error!(error = %format!("{e:#}"), "pruning seen request keys failed; will retry next period");
        }
        if let Err(e) = service.store().prune_auth_states(now - AUTH_STATE_RETENTION).await {
            tracing::error!(error = %format!("{e:#}"), "pruning sign-in states failed; will retry next period");
        }
        true
    })
    .await
}

/// One governance pass: alerts, review campaigns, ending eligibility; failures are logged and
/// retried on the next pass.
pub async fn governance_once(service: &AccessService) {
    for (name, result) in [
        ("alerts", service.raise_alerts().await),
        ("reviews", service.review_sweep().await),
        ("eligibility_ending", service.warn_expiring().await),
    ] {
        if let Err(e) = result {
            tracing::error!(pass = name, error = %format!("{e:#}"), "governance pass failed; will retry next period");
        }
    }
}

async fn governance_loop(service: Arc<AccessService>, shutdown: CancellationToken) {
    every(GOVERNANCE_EVERY, shutdown, || async {
        governance_once(&service).await;
        true
    })
    .await
}

async fn supervise<F, Fut>(name: &'static str, shutdown: CancellationToken, make: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    while !shutdown.is_cancelled() {
        match tokio::spawn(make()).await {
            Ok(()) => return,
            Err(e) => {
                tracing::error!(task = name, error = %e, "background task died; restarting");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// One pass of every sweep; returns the number of rows moved.
pub async fn sweep_once(service: &AccessService) -> usize {
    grant_work_once(service).await
        + tally([
            ("expire", service.expire_due(SWEEP_BATCH).await),
            ("nudge", service.nudge_due(SWEEP_BATCH).await),
            ("repage", service.repage_due(SWEEP_BATCH).await),
            ("eligibility", service.revoke_ineligible().await),
        ])
}

/// The sweeps a kick asks for: withdrawn grants first (a new activation of the same person and
/// role waits for them), then approved requests' grants.
async fn grant_work_once(service: &AccessService) -> usize {
    tally([
        ("withdraw", service.finish_withdrawn(SWEEP_BATCH).await),
        ("activate", service.activate_approved(SWEEP_BATCH).await),
    ])
}

/// Rows the sweeps moved; a failed sweep is logged and tried again on the next tick.
fn tally<const N: usize>(results: [(&str, crate::core::error::Result<usize>); N]) -> usize {
    let mut moved = 0;
    for (name, result) in results {
        match result {
            Ok(n) => moved += n,
            Err(e) => {
                tracing::error!(sweep = name, error = %format!("{e:#}"), "sweep failed; will retry next tick")
            }
        }
    }
    moved
}

async fn sweep_loop(service: Arc<AccessService>, shutdown: CancellationToken) {
    let mut tick = interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let kick = service.work_kick();
    loop {
        let kicked = tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => false,
            _ = kick.notified() => true,
        };
        // A kick means grants to make or withdraw; the other sweeps wait for the tick, so a
        // busy server's approvals do not run every sweep's queries once each.
        if kicked {
            while grant_work_once(&service).await >= SWEEP_BATCH as usize {}
            continue;
        }
        // Keep going while a full batch was moved: a backlog after downtime drains at once.
        while sweep_once(&service).await >= SWEEP_BATCH as usize {}
    }
}

async fn outbox_loop(service: Arc<AccessService>, dispatcher: Arc<Dispatcher>, shutdown: CancellationToken) {
    let mut tick = interval(OUTBOX_EVERY);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let kick = service.outbox_kick();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {}
            _ = kick.notified() => {}
        }
        if let Err(e) = dispatcher.deliver_due().await {
            tracing::error!(error = %format!("{e:#}"), "outbox delivery failed; will retry next tick");
        }
    }
}
