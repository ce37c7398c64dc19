//! `pimbot teams …`: Teams-only chores. `package` writes the Teams app package (manifest with
//! the bot's app id, and icons) for upload in the Teams admin center or the Developer Portal.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

/// `pimbot teams` subcommands.
#[derive(Debug, Subcommand)]
pub enum TeamsCmd {
    /// Write the Teams app package (a zip of manifest.json and two icons).
    Package {
        /// Where to write it.
        #[arg(long, default_value = "pimbot-teams.zip")]
        out: PathBuf,
        /// The domain pimbot is reachable at, listed in `validDomains`.
        #[arg(long)]
        domain: Option<String>,
    },
}

/// Runs a `pimbot teams` subcommand.
pub async fn run(config: &crate::config::Config, action: TeamsCmd) -> anyhow::Result<()> {
    let t = config.teams().context("the config has no [teams] section")?;
    match action {
        TeamsCmd::Package { out, domain } => {
            let app_id = t.app_id.as_deref().context("[teams] app_id is needed to build the package")?;
            let zip = crate::teams::package::package(app_id.trim(), domain.as_deref())?;
            std::fs::write(&out, zip).with_context(|| format!("writing {}", out.display()))?;
            println!("wrote {} (upload it in the Teams admin center or the Developer Portal)", out.display());
            Ok(())
        }
    }
}
