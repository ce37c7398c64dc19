//! `pimbot outbox status`: messages waiting and messages the chat platforms refused for good.

use std::process::ExitCode;

use clap::Subcommand;

use crate::core::ports::Store;
use crate::delivery::status::OutboxStatus;

/// Outbox subcommands.
#[derive(Debug, Subcommand)]
pub enum OutboxCmd {
    /// How many messages wait, and which were refused for good recently; exits 4 when any was.
    Status {
        /// The refusal window (`24h`, `7d`).
        #[arg(long, default_value = "24h")]
        since: String,
    },
}

/// Runs one outbox subcommand.
pub async fn run(store: &dyn Store, cmd: OutboxCmd) -> anyhow::Result<ExitCode> {
    match cmd {
        OutboxCmd::Status { since } => {
            let since = super::audit::since(&since)?;
            let status = OutboxStatus::read(store, since, chrono::Utc::now()).await?;
            print!("{status}");
            Ok(if status.has_refusals() {
                super::exit::code(super::exit::CHECK_FAILED)
            } else {
                ExitCode::SUCCESS
            })
        }
    }
}
