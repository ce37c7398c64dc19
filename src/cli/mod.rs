//! The command line: `serve`, `check [--online]`, `migrate`, `reconcile`, `revoke`, `demo`,
//! `report`, `reload`, `audit verify|export|pubkey`, `outbox status`, `posture`, `review
//! changes`, `discord register`, `completions`, `man`. Each command loads what it needs and
//! hands over to the library; none holds domain logic. `--config` and `--database-url` are
//! global (accepted after any subcommand); exit codes are in [`exit`].

mod audit;
mod check;
mod discord;
pub mod exit;
mod globals;
mod governance;
mod outbox;
mod revoke;
mod serve;
mod teams;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{CommandFactory, Parser, Subcommand, ValueEnum};
use secrecy::ExposeSecret;

use crate::app;
use crate::config::Config;
use crate::core::ports::SystemClock;
pub use globals::{Globals, say};

/// What `--help` and the man page say after the options: the environment and the exit codes.
const AFTER_HELP: &str = "\
Environment:
  PIMBOT_CONFIG, PIMBOT_DATABASE_URL, PIMBOT_LOG_FORMAT (text|json) stand in for the flags;
  secrets: PIMBOT_SLACK_SIGNING_SECRET, PIMBOT_SLACK_BOT_TOKEN, PIMBOT_SLACK_APP_TOKEN,
  PIMBOT_DISCORD_PUBLIC_KEY, PIMBOT_DISCORD_BOT_TOKEN, PIMBOT_GRAPH_CLIENT_SECRET,
  PIMBOT_BREAK_GLASS_WEBHOOK_TOKEN, PIMBOT_ADMIN_TOKEN. RUST_LOG filters the log; NO_COLOR
  turns colour off.

Exit codes:
  0 ok, 1 runtime failure (database, network, directory), 2 usage error,
  3 invalid config or policy, 4 a check failed (check --online, audit verify), 5 drift found.";

/// Privileged Identity Management for Slack, Discord and Microsoft Teams.
#[derive(Debug, Parser)]
#[command(name = "pimbot", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// Log format: `text` (the default; `human` is accepted) or `json` (one flat object per line).
    #[arg(long, value_enum, env = "PIMBOT_LOG_FORMAT", default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Config file (TOML, see examples/pimbot.toml).
    #[arg(long, short, env = "PIMBOT_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Database URL (`sqlite://pimbot.db`, `postgres://user@host/db`); overrides `[database]
    /// url`. Enough on its own for `migrate`, `audit` and `report`. Prefer the environment
    /// variable: a password on the command line shows in `ps`.
    #[arg(long, env = "PIMBOT_DATABASE_URL", global = true, hide_env_values = true, value_name = "URL")]
    pub database_url: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Cmd,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (coloured only on a terminal, never with `NO_COLOR`).
    #[value(alias = "human")]
    Text,
    /// One JSON object per line, event and span fields at the top level.
    Json,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Cmd {
    /// Run the bot.
    Serve,
    /// Validate config and policy and print a summary; `--online` also connects to the
    /// database, the chat platforms and the directory.
    Check(check::CheckArgs),
    /// Apply database migrations and exit (needs only the database URL).
    Migrate,
    /// Compare the directory's active assignments with pimbot's grants and report drift to the
    /// alert channel (removing unmanaged ones with `[directory] remove_unmanaged = true`).
    Reconcile,
    /// Run a scripted scenario locally against a fake Slack workspace; no accounts needed.
    #[cfg(feature = "demo")]
    Demo {
        /// Afterwards, keep serving the web view (`/ui`) over the demo's data until Ctrl-C.
        #[arg(long)]
        serve_ui: bool,
    },
    /// Per-role request counts and time-to-decision percentiles from the audit trail (needs only
    /// the database URL).
    Report {
        /// Only events newer than this (`30d`, `12h`).
        #[arg(long)]
        since: Option<String>,
    },
    /// Ask the running server to re-read its policy file (needs `[server] admin_token`).
    Reload,
    /// End someone's grant now, in the directory and in pimbot (the kill switch). Recorded as
    /// `grant.revoked` with the reason and the operating-system user who ran it.
    Revoke {
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
    /// Inspect the audit trail (needs only the database URL).
    Audit {
        /// What to do with it.
        #[command(subcommand)]
        action: audit::AuditCmd,
    },
    /// The outbox: messages waiting, and messages the chat platforms refused for good.
    Outbox {
        /// What to do.
        #[command(subcommand)]
        action: outbox::OutboxCmd,
    },
    /// The PIM posture check: the four verification questions; exit 0 when all hold, 4 when
    /// any fails (runs in CI on the policy repository with `--offline`).
    Posture {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Judge the policy file alone: no database, no directory.
        #[arg(long)]
        offline: bool,
    },
    /// Access reviews.
    Review {
        /// What to do.
        #[command(subcommand)]
        action: governance::ReviewCmd,
    },
    /// Discord chores (command registration).
    Discord {
        /// What to do.
        #[command(subcommand)]
        action: discord::DiscordCmd,
    },
    /// Print a shell completion script (`pimbot completions bash > /etc/bash_completion.d/pimbot`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `pimbot man > pimbot.1 && man ./pimbot.1`.
    Man,
    /// Teams chores (the app package).
    Teams {
        /// What to do.
        #[command(subcommand)]
        action: teams::TeamsCmd,
    },
}

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> ExitCode {
    let globals = Globals { config: cli.config, database_url: cli.database_url };
    match dispatch(&globals, cli.command).await {
        Ok(code) => code,
        Err(e) if e.downcast_ref::<exit::UsageError>().is_some() => {
            eprintln!("error: {e:#}");
            exit::code(exit::USAGE)
        }
        Err(e) => {
            let code = exit::for_error(&e);
            // A reader that went away (`| head`) is not a failure and gets no message.
            if code != exit::OK {
                eprintln!("error: {e:#}");
            }
            exit::code(code)
        }
    }
}

async fn dispatch(globals: &Globals, cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Check(args) => check::run(globals, &args).await,
        Cmd::Serve => serve::serve(globals).await,
        Cmd::Migrate => {
            crate::storage::migrate(&globals.database_url()?).await?;
            say("migrations applied")?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Reconcile => reconcile(globals).await,
        #[cfg(feature = "demo")]
        Cmd::Demo { serve_ui } => crate::demo::run(serve_ui).await.map(|()| ExitCode::SUCCESS),
        Cmd::Report { since } => {
            let since = since.map(|s| audit::since(&s)).transpose().map_err(usage)?;
            let store = crate::storage::connect(&globals.database_url()?).await?;
            let records = store.audit_records(since).await?;
            let text = crate::core::report::render(&crate::core::report::by_role(&records));
            say(text.trim_end_matches('\n'))?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Reload => serve::reload_remote(globals).await,
        Cmd::Revoke { person, role, reason } => {
            let (config, policy) = globals.load_valid()?;
            revoke::run(&config, policy, &person, &role, &reason).await
        }
        Cmd::Audit { action } => {
            let audit = globals.audit_config()?;
            audit::run(&audit, &globals.database_url()?, action).await
        }
        Cmd::Outbox { action } => {
            let store = crate::storage::connect(&globals.database_url()?).await?;
            outbox::run(store.as_ref(), action).await
        }
        Cmd::Posture { json, offline } => governance::posture(globals, json, offline).await,
        Cmd::Review { action: governance::ReviewCmd::Changes } => governance::changes(globals).await,
        Cmd::Discord { action } => {
            let config = globals.load()?;
            discord::run(&config, action).await.map(|()| ExitCode::SUCCESS)
        }
        Cmd::Completions { shell } => {
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "pimbot", &mut out);
            write_stdout(&out)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Man => {
            let mut out = Vec::new();
            clap_mangen::Man::new(Cli::command()).render(&mut out)?;
            write_stdout(&out)?;
            Ok(ExitCode::SUCCESS)
        }
        Cmd::Teams { action } => {
            let (config, _) = globals.load_valid()?;
            teams::run(&config, action).await.map(|()| ExitCode::SUCCESS)
        }
    }
}

/// A bad argument value found after parsing (`--since 3x`): exit code 2.
fn usage(e: anyhow::Error) -> anyhow::Error {
    exit::Usage(format!("{e:#}")).into()
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)?;
    out.flush()?;
    Ok(())
}

/// The database url of a validated config.
pub(crate) fn database_url(config: &Config) -> anyhow::Result<&str> {
    config
        .database_url()
        .map(|s| s.expose_secret())
        .context("no database url: set [database] url or PIMBOT_DATABASE_URL")
}

async fn reconcile(globals: &Globals) -> anyhow::Result<ExitCode> {
    let (config, policy) = globals.load_valid()?;
    let store = audit::keyed_store(&config).await?;
    // The same parts `serve` runs with: alerts are queued for every enabled platform.
    let parts = app::Parts::from_config(&config, store, Arc::new(SystemClock), policy)?;
    let channels = parts.channels();
    let service = crate::core::service::AccessService::new(
        parts.store,
        parts.directory,
        parts.clock,
        parts.policy,
        channels,
    );
    let Some(report) = service.reconcile(true).await? else {
        say("directory kind is static: nothing to reconcile")?;
        return Ok(ExitCode::SUCCESS);
    };
    say(format_args!(
        "checked {} active assignment(s); {} do not match pimbot's grants",
        report.checked,
        report.drift.len()
    ))?;
    for d in &report.drift {
        let who = d.person.as_ref().map_or(d.assignment.principal_id.clone(), |p| p.to_string());
        let removed = if d.removed { " (removed)" } else { "" };
        say(format_args!("  {:?}: {who} holds {}{removed}", d.kind, d.assignment.role))?;
    }
    if !report.drift.is_empty() {
        say("alerts queued for the alert channel; a running `pimbot serve` delivers them")?;
    }
    Ok(if report.drift.is_empty() { ExitCode::SUCCESS } else { exit::code(exit::DRIFT) })
}
