//! `pimbot discord …`: Discord-only chores. `register` bulk-overwrites the `/pim` command tree
//! of the application, globally or in one guild, through serenity's `Http`, with the running
//! app's [`app::DiscordParts`].

use anyhow::Context;
use clap::Subcommand;
use secrecy::ExposeSecret;

use crate::app;

/// `pimbot discord` subcommands.
#[derive(Debug, Subcommand)]
pub enum DiscordCmd {
    /// Register the `/pim` command tree with Discord (idempotent; safe at every deploy).
    Register {
        /// Register in this guild only (takes effect at once; global commands can take a while).
        #[arg(long)]
        guild: Option<u64>,
    },
}

/// Runs a `pimbot discord` subcommand.
pub async fn run(config: &crate::config::Config, action: DiscordCmd) -> anyhow::Result<()> {
    let d = config.discord().context("the config has no [discord] section")?;
    let parts = app::DiscordParts::from_config(d)?;
    let app_id: u64 =
        parts.application_id.trim().parse().context("[discord] application_id is not a snowflake")?;
    match action {
        DiscordCmd::Register { guild } => {
            let http = crate::discord::commands::http_client(
                &parts.api_url,
                parts.bot_token.expose_secret(),
                app_id,
            )?;
            let names =
                crate::discord::commands::register(&http, guild).await.context("registering commands")?;
            let place = guild.map(|g| format!("guild {g}")).unwrap_or_else(|| "globally".into());
            println!(
                "registered {} {place}",
                names.iter().map(|n| format!("/{n}")).collect::<Vec<_>>().join(", ")
            );
            Ok(())
        }
    }
}
