//! `pimbot check [--online]`: the startup checks of `serve` on a config file, a summary of who
//! may request and approve what, and with `--online` a connection to everything the config
//! names (see [`crate::preflight`]).

use std::process::ExitCode;

use super::exit;
use super::globals::{Globals, say};
use crate::config;

/// `pimbot check` options.
#[derive(Debug, Clone, clap::Args)]
pub struct CheckArgs {
    /// Also connect: the database and its migration level, the Slack and Discord tokens and
    /// channels, the directory's token and a read of each permission the roles need. Exits 4
    /// when any of them fails.
    #[arg(long)]
    pub online: bool,
}

/// Runs `pimbot check`: exit 3 on an unreadable or invalid config, 4 when an online check
/// fails, 0 otherwise.
pub async fn run(globals: &Globals, args: &CheckArgs) -> anyhow::Result<ExitCode> {
    let path = globals.config_path()?.display().to_string();
    let config = globals.load()?;
    let policy = match config.validate(chrono::Utc::now()) {
        Ok(policy) => policy,
        Err(errors) => {
            eprintln!("{path} has problems:\n{errors}");
            return Ok(exit::code(exit::INVALID_CONFIG));
        }
    };
    say(config::summary(&config, &policy))?;
    super::revoke::print_orphans(&config, &policy).await;
    say(format_args!("OK: {path} is valid"))?;
    if !args.online {
        return Ok(ExitCode::SUCCESS);
    }
    let report = crate::preflight::run(&config, &policy).await;
    for line in report.lines() {
        say(line)?;
    }
    if report.failed() {
        eprintln!("{} of {} online checks failed", report.failures(), report.len());
        Ok(exit::code(exit::CHECK_FAILED))
    } else {
        say(format_args!("OK: all {} online checks passed", report.len()))?;
        Ok(ExitCode::SUCCESS)
    }
}
