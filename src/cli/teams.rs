//! `pimbot teams …`: Teams-only chores. `package` writes the Teams app package (manifest with
//! the bot's app id, and icons) for upload in the Teams admin center or the Developer Portal;
//! and the `[teams]` section is turned into the running app's [`app::TeamsParts`] here.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use crate::app;
use crate::config::teams::TeamsConfig;

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

/// Where `[teams]` sends cards, the feed and alarms (in notification-only mode, the webhook's
/// feed and alert names).
pub fn channels(t: &TeamsConfig) -> crate::core::service::Channels {
    use crate::teams::webhook::{WEBHOOK_ALERT, WEBHOOK_APPROVER, WEBHOOK_FEED};
    if t.webhook_only() {
        return crate::core::service::Channels {
            platform: crate::core::ids::Platform::Teams,
            approver: WEBHOOK_APPROVER.into(),
            feed: WEBHOOK_FEED.into(),
            alert: WEBHOOK_ALERT.into(),
        };
    }
    super::channels(crate::core::ids::Platform::Teams, &t.approver_channel, &t.feed_channel, &t.alert_channel)
}

/// The running app's Teams settings from `[teams]`.
pub fn parts(t: &TeamsConfig) -> anyhow::Result<app::TeamsParts> {
    if t.webhook_only() {
        return Ok(app::TeamsParts::Webhook {
            url: t.webhook_url.clone().context("[teams] webhook_url missing")?,
        });
    }
    let source = t.credential_source().map_err(|e| anyhow::anyhow!("[teams] credential: {e}"))?;
    Ok(app::TeamsParts::Bot(Box::new(app::TeamsBotParts {
        bot: crate::teams::BotIdentity {
            app_id: t.app_id.clone().context("[teams] app_id missing")?,
            tenant_id: t.tenant_id.clone().context("[teams] tenant_id missing")?,
            token_url: t.token_url(),
            credential: crate::auth::credential::ClientCredential::from_source(&source)?,
        },
        openid_metadata_url: t.openid_metadata_url.clone(),
        service_url: t.service_url.clone(),
        channels: channels(t),
        alert_tag: t.alert_tag.as_ref().map(|tag| crate::teams::render::Tag {
            id: tag.id.trim().to_owned(),
            name: tag.name.trim().to_owned(),
        }),
    })))
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
