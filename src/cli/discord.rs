//! `pimbot discord …`: Discord-only chores. `register` bulk-overwrites the `/pim` command tree
//! of the application, globally or in one guild, through serenity's `Http`; and the `[discord]`
//! section is turned into the running app's [`app::DiscordParts`] here.

use anyhow::Context;
use clap::Subcommand;
use secrecy::ExposeSecret;

use crate::app;
use crate::config::file::DiscordConfig;

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

/// The running app's Discord settings from `[discord]`.
pub fn parts(d: &DiscordConfig) -> anyhow::Result<app::DiscordParts> {
    Ok(app::DiscordParts {
        application_id: d.application_id.clone().context("[discord] application_id missing")?,
        public_key: d.public_key.clone().context("[discord] public_key missing")?,
        bot_token: d.bot_token.clone().context("[discord] bot_token missing")?,
        api_url: d.api_url.clone(),
        channels: super::channels(
            crate::core::ids::Platform::Discord,
            &d.approver_channel,
            &d.feed_channel,
            &d.alert_channel,
        ),
    })
}

/// Runs a `pimbot discord` subcommand.
pub async fn run(config: &crate::config::Config, action: DiscordCmd) -> anyhow::Result<()> {
    let d = config.discord().context("the config has no [discord] section")?;
    let parts = parts(d)?;
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
