//! The command line: `serve`, `check`, `migrate`, `reconcile`, `revoke`, `demo`, `audit
//! verify|export`. Each command loads what it needs and hands over to the library; none holds
//! domain logic.

mod audit;
mod discord;
pub mod exit;
mod revoke;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};
use secrecy::ExposeSecret;

use crate::app;
use crate::config::{self, Config};
use crate::core::ports::SystemClock;
use crate::core::service::Channels;

/// Privileged Identity Management for Slack and Discord.
#[derive(Debug, Parser)]
#[command(name = "pimbot", version, about)]
pub struct Cli {
    /// Log format.
    #[arg(long, value_enum, default_value_t = LogFormat::Human, global = true)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Human,
    /// One JSON object per line.
    Json,
}

/// Where the config file is.
#[derive(Debug, clap::Args)]
pub struct ConfigArg {
    /// Config file (TOML, see examples/pimbot.toml).
    #[arg(long, short, env = "PIMBOT_CONFIG")]
    pub config: PathBuf,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the bot.
    Serve(ConfigArg),
    /// Validate config and policy and print a summary.
    Check(ConfigArg),
    /// Apply database migrations and exit.
    Migrate(ConfigArg),
    /// Compare the directory's active assignments with pimbot's grants and report drift to the
    /// alert channel (removing unmanaged ones with `[directory] remove_unmanaged = true`).
    Reconcile(ConfigArg),
    /// Run a scripted scenario locally against a fake Slack workspace; no accounts needed.
    Demo,
    /// Per-role request counts and time-to-decision percentiles from the audit trail.
    Report {
        /// Config file.
        #[command(flatten)]
        config: ConfigArg,
        /// Only events newer than this (`30d`, `12h`).
        #[arg(long)]
        since: Option<String>,
    },
    /// Ask the running server to re-read its policy file (needs `[server] admin_token`).
    Reload(ConfigArg),
    /// End someone's grant now, in the directory and in pimbot (the kill switch). Recorded as
    /// `grant.revoked` with the reason and the operating-system user who ran it.
    Revoke {
        /// Config file.
        #[command(flatten)]
        config: ConfigArg,
        /// Whose grant: a person id or UPN.
        #[arg(long)]
        person: String,
        /// Which role (its key).
        #[arg(long)]
        role: String,
        /// Why; recorded and told to the holder.
        #[arg(long)]
        reason: String,
    },
    /// Inspect the audit trail.
    Audit {
        /// Config file.
        #[command(flatten)]
        config: ConfigArg,
        /// What to do with it.
        #[command(subcommand)]
        action: audit::AuditCmd,
    },
    /// Discord chores (command registration).
    Discord {
        /// Config file.
        #[command(flatten)]
        config: ConfigArg,
        /// What to do.
        #[command(subcommand)]
        action: discord::DiscordCmd,
    },
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    match dispatch(cli.command).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Check(arg) => check(&arg).await,
        Cmd::Serve(arg) => serve(&arg).await.map(|()| ExitCode::SUCCESS),
        Cmd::Migrate(arg) => {
            let (config, _) = load_valid(&arg)?;
            crate::storage::migrate(database_url(&config)?).await?;
            println!("migrations applied");
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Reconcile(arg) => reconcile(&arg).await,
        Cmd::Demo => crate::demo::run().await.map(|()| ExitCode::SUCCESS),
        Cmd::Report { config, since } => {
            let (config, _) = load_valid(&config)?;
            let store = crate::storage::connect(database_url(&config)?).await?;
            let since = since.map(|s| audit::since(&s)).transpose()?;
            let records = store.audit_records(since).await?;
            print!("{}", crate::core::report::render(&crate::core::report::by_role(&records)));
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Reload(arg) => reload_remote(&arg).await,
        Cmd::Revoke { config, person, role, reason } => {
            let (config, policy) = load_valid(&config)?;
            revoke::run(&config, policy, &person, &role, &reason).await
        }
        Cmd::Audit { config, action } => {
            let (config, _) = load_valid(&config)?;
            let store = crate::storage::connect(database_url(&config)?).await?;
            audit::run(store.as_ref(), action).await
        }
        Cmd::Discord { config, action } => {
            let (config, _) = load_valid(&config)?;
            discord::run(&config, action).await.map(|()| ExitCode::SUCCESS)
        }
    }
}

async fn reload_remote(arg: &ConfigArg) -> anyhow::Result<ExitCode> {
    let (config, _) = load_valid(arg)?;
    let token = config
        .server
        .admin_token
        .clone()
        .context("reload needs [server] admin_token (or PIMBOT_ADMIN_TOKEN)")?;
    let mut addr = config.listen_addr()?;
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
        println!("{body}");
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("reload refused ({status}): {body}");
        Ok(ExitCode::FAILURE)
    }
}

async fn check(arg: &ConfigArg) -> anyhow::Result<ExitCode> {
    let config = config::load(&arg.config)?;
    match config.validate(chrono::Utc::now()) {
        Ok(policy) => {
            println!("{}", config::summary(&config, &policy));
            revoke::print_orphans(&config, &policy).await;
            println!("OK: {} is valid", arg.config.display());
            Ok(ExitCode::SUCCESS)
        }
        Err(errors) => {
            eprintln!("{} has problems:\n{errors}", arg.config.display());
            Ok(exit::code(exit::INVALID_CONFIG))
        }
    }
}

fn load_valid(arg: &ConfigArg) -> anyhow::Result<(Config, crate::core::policy::Policy)> {
    let config = config::load(&arg.config)?;
    let policy = config
        .validate(chrono::Utc::now())
        .map_err(|errors| anyhow::anyhow!("{} has problems:\n{errors}", arg.config.display()))?;
    Ok((config, policy))
}

/// The database url of a validated config.
pub(crate) fn database_url(config: &Config) -> anyhow::Result<&str> {
    config
        .database_url()
        .map(|s| s.expose_secret())
        .context("no database url: set [database] url or PIMBOT_DATABASE_URL")
}

async fn serve(arg: &ConfigArg) -> anyhow::Result<()> {
    let (config, policy) = load_valid(arg)?;
    let store = crate::storage::connect(database_url(&config)?).await?;
    let slack = match config.slack() {
        Some(s) => Some(app::SlackParts {
            inbound: if s.socket_mode {
                app::SlackInbound::SocketMode(app::SocketModeParts {
                    app_token: s.app_token.clone().context("[slack] app_token missing")?,
                    connections: app::SocketModeParts::DEFAULT_CONNECTIONS,
                })
            } else {
                app::SlackInbound::Http {
                    signing_secret: s.signing_secret.clone().context("[slack] signing_secret missing")?,
                }
            },
            bot_token: s.bot_token.clone().context("[slack] bot_token missing")?,
            api_url: s.api_url.clone(),
            channels: channels(
                crate::core::ids::Platform::Slack,
                &s.approver_channel,
                &s.feed_channel,
                &s.alert_channel,
            ),
            lookup_by_email: config.lookup_by_email(),
        }),
        None => None,
    };
    let path = arg.config.clone();
    let source: app::PolicySource = Arc::new(move || {
        let config = config::load(&path)?;
        config
            .validate(chrono::Utc::now())
            .map_err(|errors| anyhow::anyhow!("{} has problems:\n{errors}", path.display()))
    });
    let clock: Arc<dyn crate::core::ports::Clock> = Arc::new(SystemClock);
    let directory = crate::directory::from_config(&config.directory, clock.clone())?;
    let parts = app::Parts {
        store,
        directory,
        clock,
        policy,
        slack,
        policy_source: Some(source),
        admin_token: config.server.admin_token.clone(),
        discord: config.discord().map(discord::parts).transpose()?,
        break_glass: app::BreakGlassParts::from_config(&config),
        oidc: app::OidcParts::from_config(&config)?,
        oncall: crate::oncall::from_config(&config.oncall)?,
    };
    let addr = config.listen_addr()?;
    let listener =
        tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
    let running = app::start(parts, listener).await?;
    if crate::signins::spawn_from_config(&config, running.service.clone(), running.shutdown.clone())?
        .is_some()
    {
        tracing::info!("polling Graph sign-ins of the break-glass accounts");
    }
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
    Ok(())
}

/// Every enabled platform's channels (commands run outside `serve` queue messages for them).
pub(crate) fn all_channels(config: &Config) -> Vec<Channels> {
    let mut out = Vec::new();
    if let Some(s) = config.slack() {
        out.push(channels(
            crate::core::ids::Platform::Slack,
            &s.approver_channel,
            &s.feed_channel,
            &s.alert_channel,
        ));
    }
    if let Some(d) = config.discord() {
        out.push(channels(
            crate::core::ids::Platform::Discord,
            &d.approver_channel,
            &d.feed_channel,
            &d.alert_channel,
        ));
    }
    out
}

async fn reconcile(arg: &ConfigArg) -> anyhow::Result<ExitCode> {
    let (config, policy) = load_valid(arg)?;
    let store = crate::storage::connect(database_url(&config)?).await?;
    let clock: Arc<dyn crate::core::ports::Clock> = Arc::new(SystemClock);
    let directory = crate::directory::from_config(&config.directory, clock.clone())?;
    let channels = config
        .slack()
        .map(|s| {
            channels(
                crate::core::ids::Platform::Slack,
                &s.approver_channel,
                &s.feed_channel,
                &s.alert_channel,
            )
        })
        .into_iter()
        .collect();
    let service = crate::core::service::AccessService::new(store, directory, clock, policy, channels);
    let Some(report) = service.reconcile(true).await? else {
        println!("directory kind is static: nothing to reconcile");
        return Ok(ExitCode::SUCCESS);
    };
    println!(
        "checked {} active assignment(s); {} do not match pimbot's grants",
        report.checked,
        report.drift.len()
    );
    for d in &report.drift {
        let who = d.person.as_ref().map_or(d.assignment.principal_id.clone(), |p| p.to_string());
        let removed = if d.removed { " (removed)" } else { "" };
        println!("  {:?}: {who} holds {}{removed}", d.kind, d.assignment.role);
    }
    if !report.drift.is_empty() {
        println!("alerts queued for the alert channel; a running `pimbot serve` delivers them");
    }
    Ok(if report.drift.is_empty() { ExitCode::SUCCESS } else { exit::code(exit::DRIFT) })
}

/// Channels of one platform; a missing feed or alert channel falls back to the approver channel.
pub fn channels(
    platform: crate::core::ids::Platform,
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

async fn wait_for_signal() {
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
