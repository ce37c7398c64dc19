//! Shape checks of secrets and ids, run with the other startup checks (`pimbot check` and
//! `pimbot serve`): a value copied from the example (`REPLACE-ME`, `<64 hex characters>`) or a
//! token of the wrong kind (a user token where the bot token goes, `Bot …` pasted with its
//! prefix) is refused before anything connects. Only shapes: whether a token is *valid* is
//! for `pimbot check --online` to ask the platform.

use secrecy::{ExposeSecret, SecretString};

use super::file::Config;
use super::validate::Problems;

/// Fragments that mark a value as a template placeholder (compared case-insensitively).
const PLACEHOLDERS: &[&str] =
    &["replace-me", "replace_me", "replaceme", "change-me", "change_me", "changeme", "placeholder", "…"];

/// Whether `value` is a template placeholder rather than a real value.
pub fn is_placeholder(value: &str) -> bool {
    let lower = value.trim().to_ascii_lowercase();
    PLACEHOLDERS.iter().any(|p| lower.contains(p)) || (lower.starts_with('<') && lower.ends_with('>'))
}

impl Config {
    /// Refuses placeholders in every secret and id, and tokens of the wrong shape.
    pub(super) fn check_formats(&self, p: &mut Problems) {
        for (key, value, env) in self.secrets() {
            let Some(value) = value.map(|v| v.expose_secret().trim().to_owned()) else { continue };
            if value.is_empty() {
                continue;
            }
            if is_placeholder(&value) {
                p.push(key, format!("is still the example's placeholder; put the real value in {env}"));
            } else if value.chars().any(char::is_whitespace) {
                p.push(key, format!("contains whitespace (a copy-and-paste slip?); set it again in {env}"));
            }
        }
        let ids: [(&str, Option<&str>); 4] = [
            ("directory.tenant_id", self.directory.tenant_id.as_deref()),
            ("directory.client_id", self.directory.client_id.as_deref()),
            ("discord.application_id", self.discord.as_ref().and_then(|d| d.application_id.as_deref())),
            ("slack.approver_channel", self.slack.as_ref().and_then(|s| s.approver_channel.as_deref())),
        ];
        for (key, value) in ids {
            if value.is_some_and(is_placeholder) {
                p.push(key, "is still the example's placeholder; set the real id");
            }
        }
        if let Some(slack) = &self.slack {
            let bot = token(slack.bot_token.as_ref());
            if !bot.is_empty()
                && !is_placeholder(bot)
                && !["xoxb-", "xoxp-", "xoxe.xoxb-", "xoxe.xoxp-"].iter().any(|k| bot.starts_with(k))
            {
                p.push(
                    "slack.bot_token",
                    format!(
                        "must be the Bot User OAuth Token starting with `xoxb-` (OAuth & Permissions), got one starting with `{}`; set it in {}",
                        prefix(bot),
                        super::ENV_SLACK_BOT_TOKEN
                    ),
                );
            }
        }
        if let Some(discord) = &self.discord {
            let bot = token(discord.bot_token.as_ref());
            if bot.starts_with("Bot ") || bot.starts_with("Bearer ") {
                p.push(
                    "discord.bot_token",
                    format!(
                        "give the token alone, without the `Bot ` prefix (pimbot adds it); set it in {}",
                        super::ENV_DISCORD_BOT_TOKEN
                    ),
                );
            } else if !bot.is_empty() && !is_placeholder(bot) && bot.split('.').count() != 3 {
                p.push(
                    "discord.bot_token",
                    format!(
                        "is not a Discord bot token (three dot-separated parts, from Bot → Reset Token in the developer portal); set it in {}",
                        super::ENV_DISCORD_BOT_TOKEN
                    ),
                );
            }
        }
    }

    /// Every secret with its key and environment variable.
    fn secrets(&self) -> Vec<(&'static str, Option<&SecretString>, &'static str)> {
        let mut all = vec![
            ("database.url", self.database.url.as_ref(), super::ENV_DATABASE_URL),
            ("server.admin_token", self.server.admin_token.as_ref(), super::ENV_ADMIN_TOKEN),
            (
                "directory.client_secret",
                self.directory.client_secret.as_ref(),
                super::ENV_GRAPH_CLIENT_SECRET,
            ),
        ];
        if let Some(s) = &self.slack {
            all.push(("slack.signing_secret", s.signing_secret.as_ref(), super::ENV_SLACK_SIGNING_SECRET));
            all.push(("slack.bot_token", s.bot_token.as_ref(), super::ENV_SLACK_BOT_TOKEN));
            all.push(("slack.app_token", s.app_token.as_ref(), super::ENV_SLACK_APP_TOKEN));
        }
        if let Some(d) = &self.discord {
            all.push(("discord.public_key", d.public_key.as_ref(), super::ENV_DISCORD_PUBLIC_KEY));
            all.push(("discord.bot_token", d.bot_token.as_ref(), super::ENV_DISCORD_BOT_TOKEN));
        }
        if let Some(m) = &self.break_glass_monitor {
            all.push((
                "break_glass_monitor.webhook_token",
                m.webhook_token.as_ref(),
                super::ENV_BREAK_GLASS_WEBHOOK_TOKEN,
            ));
        }
        all
    }
}

fn token(secret: Option<&SecretString>) -> &str {
    secret.map(|s| s.expose_secret().trim()).unwrap_or_default()
}

/// The part of a token before its first `-` (`xoxp`), never more than 5 characters: enough to
/// tell the kind, too little to leak it.
fn prefix(token: &str) -> String {
    token.split('-').next().unwrap_or_default().chars().take(5).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_recognised_and_real_values_are_not() {
        for p in
            ["REPLACE-ME", "xoxb-REPLACE-ME", "<64 hex characters>", "changeme", "…", "Placeholder-value"]
        {
            assert!(is_placeholder(p), "{p}");
        }
        for real in [
            "xoxb-17653672481-19874698323-pdFZKVeTuE8sk7oOcBrzbqgy",
            "8f742231b10e8888abcd99yyyzzz85a5",
            "C0APPROVERS",
        ] {
            assert!(!is_placeholder(real), "{real}");
        }
    }

    #[test]
    fn the_prefix_shown_never_reveals_the_token() {
        assert_eq!(prefix("notatoken"), "notat");
        assert_eq!(prefix("xoxe.xoxp-1-secret"), "xoxe.");
    }
}
