//! Slack and Discord checks: does the token work, and can the bot use each channel.

use secrecy::ExposeSecret;

use super::Check;
use crate::config::{DiscordConfig, SlackConfig};
use crate::discord::client::{DiscordApi, DiscordApiError};
use crate::slack::client::{SlackApi, SlackApiError};

/// The configured channels of a platform: `(role, id)`, each id once.
fn channels<'a>(
    approver: &'a Option<String>,
    feed: &'a Option<String>,
    alert: &'a Option<String>,
) -> Vec<(&'static str, &'a str)> {
    let mut all: Vec<(&'static str, &str)> = Vec::new();
    for (role, id) in [("approver", approver), ("feed", feed), ("alert", alert)] {
        if let Some(id) = id.as_deref().map(str::trim).filter(|id| !id.is_empty())
            && !all.iter().any(|(_, seen)| *seen == id)
        {
            all.push((role, id));
        }
    }
    all
}

/// `auth.test`, `apps.connections.open` in Socket Mode, and `conversations.info` per channel.
pub async fn slack(s: &SlackConfig) -> Vec<Check> {
    let subject = "slack bot token";
    let Some(token) = s.bot_token.as_ref() else {
        return vec![Check::fail(subject, "no bot token: set PIMBOT_SLACK_BOT_TOKEN")];
    };
    let api = match SlackApi::new(&s.api_url, token.expose_secret()) {
        Ok(api) => api.with_timeout(super::TIMEOUT),
        Err(e) => return vec![Check::fail(subject, format!("{e:#}"))],
    };
    let owner = match api.auth_test().await {
        Ok(owner) => owner,
        Err(e) => return vec![Check::fail(subject, slack_token_sentence(&e, &s.api_url))],
    };
    let who = owner.user.clone().map_or(owner.user_id.clone(), |u| format!("@{u} ({})", owner.user_id));
    let mut checks = vec![Check::ok(subject, format!("{who} in workspace {}", owner.team))];
    if s.socket_mode {
        let subject = "slack app token";
        let app_token = s.app_token.as_ref().map(|t| t.expose_secret().to_owned()).unwrap_or_default();
        let opened = match SlackApi::new(&s.api_url, &app_token) {
            Ok(app) => app.with_timeout(super::TIMEOUT).apps_connections_open().await,
            Err(e) => Err(SlackApiError::Rejected(e.to_string())),
        };
        checks.push(match opened {
            Ok(()) => Check::ok(subject, "can open Socket Mode connections"),
            Err(e) => Check::fail(
                subject,
                format!(
                    "Slack refused apps.connections.open ({}): generate an app-level token with the connections:write scope (Basic Information → App-Level Tokens), turn Socket Mode on, and set it in PIMBOT_SLACK_APP_TOKEN",
                    short(&e)
                ),
            ),
        });
    }
    for (role, id) in channels(&s.approver_channel, &s.feed_channel, &s.alert_channel) {
        let subject = format!("slack {role} channel {id}");
        checks.push(match api.conversations_info(id).await {
            Ok(c) if c.is_archived => Check::fail(subject, format!("#{} is archived: unarchive it or set another channel id in [slack] {role}_channel", c.name.unwrap_or_default())),
            Ok(c) if !c.is_member => Check::fail(
                subject,
                format!("the bot is not a member of #{}: type `/invite @{}` in that channel", c.name.unwrap_or_default(), owner.user.clone().unwrap_or_else(|| "pimbot".into())),
            ),
            Ok(c) => Check::ok(subject, format!("#{}, the bot is a member{}", c.name.unwrap_or_default(), if c.is_private { " (private)" } else { "" })),
            Err(SlackApiError::Rejected(code)) if code == "channel_not_found" => Check::fail(
                subject,
                format!("Slack knows no channel {id} that the bot can see: copy the id from the channel's details (it starts with C or G) into [slack] {role}_channel, and invite the bot if the channel is private"),
            ),
            Err(SlackApiError::Rejected(code)) if code == "missing_scope" => Check::fail(
                subject,
                "the bot token lacks the channels:read and groups:read scopes needed to see channel membership: add them (manifests/slack-app.yaml has them) and reinstall the app",
            ),
            Err(e) => Check::fail(subject, format!("conversations.info failed ({}): try again; if it persists check Slack's status page", short(&e))),
        });
    }
    checks
}

fn slack_token_sentence(e: &SlackApiError, api_url: &str) -> String {
    match e {
        SlackApiError::Rejected(code)
            if ["invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"]
                .contains(&code.as_str()) =>
        {
            format!(
                "Slack refused the bot token ({code}): copy the Bot User OAuth Token (xoxb-…) from OAuth & Permissions into PIMBOT_SLACK_BOT_TOKEN, reinstalling the app if it was revoked"
            )
        }
        SlackApiError::Transient(why) => {
            format!(
                "cannot reach Slack at {api_url} ({why}): allow outbound HTTPS to it from this host (proxy, firewall, NetworkPolicy)"
            )
        }
        other => format!("auth.test failed ({}): check [slack] api_url and the bot token", short(other)),
    }
}

/// `GET /users/@me` and `GET /channels/{id}` per channel.
pub async fn discord(d: &DiscordConfig) -> Vec<Check> {
    let subject = "discord bot token";
    let Some(token) = d.bot_token.as_ref() else {
        return vec![Check::fail(subject, "no bot token: set PIMBOT_DISCORD_BOT_TOKEN")];
    };
    let api = match DiscordApi::new(&d.api_url, token.expose_secret()) {
        Ok(api) => api.with_timeout(super::TIMEOUT),
        Err(e) => return vec![Check::fail(subject, format!("{e:#}"))],
    };
    let me = match api.current_user().await {
        Ok(me) => me,
        Err(e) => {
            let sentence = if status_of(&e) == Some(401) {
                "Discord refused the bot token (401): reset it under Bot → Reset Token in the developer portal and set it in PIMBOT_DISCORD_BOT_TOKEN".to_owned()
            } else {
                format!(
                    "cannot reach Discord at {} ({}): allow outbound HTTPS to it from this host",
                    d.api_url,
                    short_discord(&e)
                )
            };
            return vec![Check::fail(subject, sentence)];
        }
    };
    let name = me.get("username").and_then(|v| v.as_str()).unwrap_or("?").to_owned();
    let id = me.get("id").and_then(|v| v.as_str()).unwrap_or("?").to_owned();
    let mut checks = vec![Check::ok(subject, format!("bot @{name} ({id})"))];
    for (role, channel) in channels(&d.approver_channel, &d.feed_channel, &d.alert_channel) {
        let subject = format!("discord {role} channel {channel}");
        checks.push(match api.channel(channel).await {
            Ok(c) => Check::ok(subject, format!("#{}, visible to the bot", c.get("name").and_then(|v| v.as_str()).unwrap_or("?"))),
            Err(e) => match status_of(&e) {
                Some(404) => Check::fail(subject, format!("Discord knows no channel {channel}: copy the channel id (Developer Mode → Copy Channel ID) into [discord] {role}_channel")),
                Some(403) => Check::fail(subject, format!("the bot cannot see channel {channel} (Missing Access): add the bot to that server and allow it View Channel and Send Messages there")),
                _ => Check::fail(subject, format!("GET /channels/{channel} failed ({}): try again later", short_discord(&e))),
            },
        });
    }
    checks
}

/// The HTTP status of a refused Discord call (`HTTP 403 …`).
/// The HTTP status a refusal stands for: the client names refusals by Discord's message in
/// snake case (`unknown_channel`, `missing_access`, `401_unauthorized`) or by `http_<status>`.
fn status_of(e: &DiscordApiError) -> Option<u16> {
    let DiscordApiError::Rejected(reason) = e else { return None };
    match reason.as_str() {
        "unknown_channel" => Some(404),
        "missing_access" | "missing_permissions" => Some(403),
        r if r.contains("unauthorized") => Some(401),
        r => r
            .strip_prefix("http_")
            .or_else(|| r.strip_prefix("HTTP "))
            .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|n| n.parse().ok()),
    }
}

fn short(e: &SlackApiError) -> String {
    match e {
        SlackApiError::RateLimited { .. } => "rate limited".into(),
        SlackApiError::Transient(why) | SlackApiError::Rejected(why) => why.chars().take(120).collect(),
    }
}

fn short_discord(e: &DiscordApiError) -> String {
    match e {
        DiscordApiError::RateLimited { .. } => "rate limited".into(),
        DiscordApiError::Transient(why) | DiscordApiError::Rejected(why) => why.chars().take(120).collect(),
    }
}
