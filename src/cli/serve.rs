//! `pimbot serve` and what a running server answers to: the start (audit keys, listeners, the
//! audit sinks), SIGHUP policy reloads, SIGTERM/Ctrl-C shutdown, and `pimbot reload`, which asks
//! a running server to reload over its admin endpoint.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use secrecy::ExposeSecret;

use super::{Globals, database_url, exit, say};
use crate::app;
use crate::config;
use crate::core::ports::SystemClock;

/// `pimbot reload`: asks the running server to reload its policy.
pub(super) async fn reload_remote(globals: &Globals) -> anyhow::Result<ExitCode> {
    let config = globals.load()?;
    let token = config
        .server
        .admin_token
        .clone()
        .context("reload needs [server] admin_token (or PIMBOT_ADMIN_TOKEN)")?;
    // `/admin/reload` lives on the internal listener when there is one.
    let mut addr = config.internal_listen_addr()?.map_or_else(|| config.listen_addr(), Ok)?;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/admin/reload"))
        .bearer_auth(token.expose_secret())
        .send()
        .await
        .with_context(|| format!("cannot reach the server at {addr}"))?;
    let status = resp.status();
    let body = resp.text().await.unwrap_or_default();
    if status.is_success() {
        say(body)?;
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("reload refused ({status}): {body}");
        Ok(ExitCode::FAILURE)
    }
}

/// `pimbot serve`: runs until SIGTERM or Ctrl-C.
pub(super) async fn serve(globals: &Globals) -> anyhow::Result<ExitCode> {
    let (config, policy) = globals.load_valid()?;
    if let Err(refusal) = config.audit.serve_allowed() {
        eprintln!("error: refusing to start: {refusal}");
        return Ok(exit::code(exit::INVALID_CONFIG));
    }
    let audit_keys = config.audit.keys().map_err(anyhow::Error::msg)?;
    if config.audit.key.is_none() {
        tracing::warn!("the audit chain is UNKEYED ([audit] unkeyed = true): it cannot stop an insider");
    }
    let store = crate::storage::connect_with(database_url(&config)?, audit_keys.linker.clone()).await?;
    let path = globals.config_path()?.to_path_buf();
    let source: app::PolicySource = Arc::new(move || {
        let config = config::load(&path)?;
        config
            .validate(chrono::Utc::now())
            .map_err(|errors| anyhow::anyhow!("{} has problems:\n{errors}", path.display()))
    });
    let parts = app::Parts {
        policy_source: Some(source),
        ..app::Parts::from_config(&config, store, Arc::new(SystemClock), policy)?
    };
    let addr = config.listen_addr()?;
    let listener = crate::http::serve::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    let internal = match config.internal_listen_addr()? {
        Some(addr) => {
            Some(crate::http::serve::bind(addr).with_context(|| format!("cannot listen on {addr}"))?)
        }
        None => None,
    };
    let running = app::start_with(parts, listener, internal).await?;
    if running.service.start_audit_segment(audit_keys.linker.key_id()).await? {
        tracing::info!(
            key_id = audit_keys.linker.key_id(),
            "audit chain: a new segment starts with this key"
        );
    }
    crate::audit::spawn(&config.audit, &audit_keys, running.service.clone(), running.shutdown.clone())?;
    if let Some(reload) = running.reload.clone() {
        tokio::spawn(reload_on_hangup(reload));
    }
    let shutdown = running.shutdown.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down: finishing in-flight requests");
        shutdown.cancel();
    });
    running.wait().await;
    Ok(ExitCode::SUCCESS)
}

/// Applies a policy reload on every SIGHUP; a bad file is logged and the old policy stays.
async fn reload_on_hangup(reload: crate::http::admin::Reloader) {
    #[cfg(unix)]
    {
        let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) else {
            return;
        };
        while hup.recv().await.is_some() {
            match reload().await {
                Ok(summary) => tracing::info!(%summary, "SIGHUP"),
                Err(e) => {
                    tracing::error!(error = %format!("{e:#}"), "SIGHUP reload refused; the old policy stays")
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = reload;
}

/// Waits for SIGTERM or Ctrl-C.
pub(super) async fn wait_for_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
