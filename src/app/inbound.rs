//! The edge as the composition root assembles it: each inbound adapter's own parts, built
//! before the service exists, and then its router with its state. `http` merges what this
//! returns and adds the layers; it knows none of the adapters.

use std::sync::Arc;

use axum::Router;

use crate::auth::oidc::OidcClient;
use crate::core::service::AccessService;
use crate::limits::CommandLimiter;
use crate::ui::UiState;

/// The inbound adapters' own parts; `None` for those not configured.
#[derive(Default)]
pub(super) struct Inbound {
    /// Slack (its routes only over signed HTTP; Socket Mode is started separately).
    pub slack: Option<crate::slack::SlackState>,
    /// Discord interactions.
    pub discord: Option<crate::discord::DiscordState>,
    /// The Teams bot.
    pub teams: Option<crate::teams::TeamsState>,
    /// Sign-ins (`[oidc]`) and the web view (`[ui]`).
    pub sign_in: Option<(Arc<OidcClient>, Option<Arc<UiState>>)>,
    /// The Azure Monitor webhook (`[break_glass_monitor]`).
    pub azure_monitor: Option<crate::webhooks::AzureMonitorState>,
}

impl Inbound {
    /// Every configured adapter's router with its state, merged.
    pub fn router(&self, service: &Arc<AccessService>, limiter: &Arc<CommandLimiter>) -> Router {
        let mut routes = Router::new();
        if let Some(slack) = &self.slack {
            routes = routes.merge(crate::slack::router(crate::slack::SlackApp {
                service: service.clone(),
                limiter: limiter.clone(),
                slack: slack.clone(),
            }));
        }
        if let Some(discord) = &self.discord {
            routes = routes.merge(crate::discord::router(crate::discord::DiscordApp {
                service: service.clone(),
                limiter: limiter.clone(),
                discord: discord.clone(),
            }));
        }
        if let Some(teams) = &self.teams {
            routes = routes.merge(crate::teams::router(crate::teams::TeamsApp {
                service: service.clone(),
                limiter: limiter.clone(),
                teams: teams.clone(),
            }));
        }
        if let Some((oidc, ui)) = &self.sign_in {
            routes = routes.merge(crate::auth::routes::router(crate::auth::routes::SignInApp {
                service: service.clone(),
                oidc: oidc.clone(),
                ui: ui.clone(),
            }));
        }
        if let Some(azure_monitor) = &self.azure_monitor {
            routes = routes.merge(crate::webhooks::router(crate::webhooks::AzureMonitorApp {
                service: service.clone(),
                azure_monitor: azure_monitor.clone(),
            }));
        }
        routes
    }
}
