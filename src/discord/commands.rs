//! The `/pim` application command tree (subcommands with typed options, autocomplete on
//! `role`) and its registration through serenity's `Http` (`pimbot discord register`).
//!
//! The same tree is shipped as `manifests/discord-commands.json` for people who register it by
//! hand; a unit test keeps the two equal.

use serenity::all::{ApplicationId, Command, CommandOptionType, CreateCommand, CreateCommandOption, GuildId};
use serenity::http::{Http, HttpBuilder};

use crate::config::file::DEFAULT_DISCORD_API_URL;

/// The command's name.
pub const COMMAND: &str = "pim";
/// Option name of the role key.
pub const OPT_ROLE: &str = "role";
/// Option name of the duration.
pub const OPT_DURATION: &str = "duration";
/// Option name of the justification.
pub const OPT_JUSTIFICATION: &str = "justification";
/// Option name of the ticket.
pub const OPT_TICKET: &str = "ticket";
/// Option name of the optional scheduled start (`activate`).
pub const OPT_START: &str = "start";
/// Option name of the request id (`cancel`).
pub const OPT_REQUEST: &str = "request";
/// Option name of the person whose grant is revoked (`revoke`).
pub const OPT_PERSON: &str = "person";
/// Option name of the revocation's reason (`revoke`).
pub const OPT_REASON: &str = "reason";

fn string(name: &str, description: &str, required: bool) -> CreateCommandOption {
    CreateCommandOption::new(CommandOptionType::String, name, description).required(required)
}

fn role_option() -> CreateCommandOption {
    string(OPT_ROLE, "Role key, e.g. global-admin", true).set_autocomplete(true).max_length(100)
}

fn draft_options(sub: CreateCommandOption) -> CreateCommandOption {
    sub.add_sub_option(role_option())
        .add_sub_option(string(OPT_DURATION, "How long, e.g. 30m or 2h", true).max_length(20))
        .add_sub_option(string(OPT_JUSTIFICATION, "Why you need it", true).max_length(1000))
        .add_sub_option(string(OPT_TICKET, "Ticket, e.g. INC-4711", false).max_length(100))
}

fn sub(name: &str, description: &str) -> CreateCommandOption {
    CreateCommandOption::new(CommandOptionType::SubCommand, name, description)
}

/// The `/pim` command with every subcommand.
pub fn pim_command() -> CreateCommand {
    CreateCommand::new(COMMAND)
        .description("Privileged access, just in time")
        .add_option(
            draft_options(sub("activate", "Request a privileged role")).add_sub_option(
                string(
                    OPT_START,
                    "When it starts: 22:00, in 2h or 2026-12-03T22:00Z (default: once approved)",
                    false,
                )
                .max_length(40),
            ),
        )
        .add_option(draft_options(sub("extend", "Extend an active role")))
        .add_option(sub("roles", "The roles you can request and their rules"))
        .add_option(sub("status", "Your pending requests and active roles"))
        .add_option(sub("deactivate", "End an active role early").add_sub_option(role_option()))
        .add_option(
            sub("cancel", "Withdraw a pending request")
                .add_sub_option(string(OPT_REQUEST, "Request id, e.g. r-1a2b3c4d", true).max_length(40)),
        )
        .add_option(
            sub("revoke", "End someone's grant now (security revokers only)")
                .add_sub_option(string(OPT_PERSON, "Person id, UPN or @mention", true).max_length(200))
                .add_sub_option(string(OPT_ROLE, "Role key, e.g. global-admin", true).max_length(100))
                .add_sub_option(string(OPT_REASON, "Why", true).max_length(1000)),
        )
        .add_option(sub("link", "Link your Discord account to your Microsoft account"))
        .add_option(sub("whoami", "Who pimbot takes you to be, and your link"))
        .add_option(sub("help", "How to use pimbot"))
        .add_option(
            sub("renew", "Ask to extend your time-bound eligibility")
                .add_sub_option(role_option())
                .add_sub_option(string(OPT_DURATION, "How much longer, e.g. 30d", true).max_length(20))
                .add_sub_option(string(OPT_JUSTIFICATION, "Why you still need it", true).max_length(1000)),
        )
        .add_option(sub("reviews", "Access reviews waiting for your answer"))
        .add_option(sub("posture", "The PIM posture check (approvers)"))
}

/// Every command pimbot registers.
pub fn commands() -> Vec<CreateCommand> {
    vec![pim_command()]
}

/// A serenity `Http` for `api_url`: the real Discord keeps serenity's rate limiter; any other
/// base (a local fake) goes through `proxy`, which serenity only honours with the limiter off.
pub fn http_client(api_url: &str, bot_token: &str, application_id: u64) -> anyhow::Result<Http> {
    let app = ApplicationId::new(application_id);
    let builder = HttpBuilder::new(bot_token.trim()).application_id(app);
    let normalized = api_url.trim().trim_end_matches('/');
    if normalized == DEFAULT_DISCORD_API_URL.trim_end_matches('/') {
        return Ok(builder.build());
    }
    let Some(origin) = normalized.strip_suffix("/api/v10") else {
        anyhow::bail!("a non-default Discord api_url must end in /api/v10/, got {api_url:?}");
    };
    Ok(builder.proxy(origin).ratelimiter_disabled(true).build())
}

/// Registers (bulk-overwrites) the commands globally, or in one guild (instant, for testing).
/// Returns the registered command names.
pub async fn register(http: &Http, guild: Option<u64>) -> anyhow::Result<Vec<String>> {
    let registered = match guild {
        Some(id) => GuildId::new(id).set_commands(http, commands()).await?,
        None => Command::set_global_commands(http, commands()).await?,
    };
    Ok(registered.into_iter().map(|c| c.name).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = include_str!("../../manifests/discord-commands.json");

    /// Drops `null` members, which serenity writes for unset limits and Discord ignores.
    fn without_nulls(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(m) => {
                m.into_iter().filter(|(_, v)| !v.is_null()).map(|(k, v)| (k, without_nulls(v))).collect()
            }
            serde_json::Value::Array(a) => a.into_iter().map(without_nulls).collect(),
            other => other,
        }
    }

    #[test]
    fn the_builder_and_the_shipped_manifest_agree() {
        let built = without_nulls(serde_json::to_value(commands()).expect("serializes"));
        let shipped: serde_json::Value = serde_json::from_str(MANIFEST).expect("manifest is JSON");
        assert_eq!(
            built,
            shipped,
            "regenerate manifests/discord-commands.json from commands():\n{}",
            serde_json::to_string_pretty(&built).unwrap_or_default()
        );
    }

    #[test]
    fn role_options_autocomplete_and_required_options_come_first() {
        let built = serde_json::to_value(pim_command()).expect("serializes");
        let subs = built["options"].as_array().expect("subcommands");
        let names: Vec<&str> = subs.iter().filter_map(|s| s["name"].as_str()).collect();
        assert_eq!(
            names,
            [
                "activate",
                "extend",
                "roles",
                "status",
                "deactivate",
                "cancel",
                "revoke",
                "link",
                "whoami",
                "help",
                "renew",
                "reviews",
                "posture"
            ]
        );
        for s in subs {
            let opts = s["options"].as_array().cloned().unwrap_or_default();
            let required: Vec<bool> = opts.iter().map(|o| o["required"] == true).collect();
            assert!(required.windows(2).all(|w| w[0] || !w[1]), "required before optional in {s}");
            for o in opts.iter().filter(|o| o["name"] == OPT_ROLE && s["name"] != "revoke") {
                assert_eq!(o["autocomplete"], true);
            }
        }
    }

    #[test]
    fn fakes_are_reached_through_the_proxy_and_bad_bases_refused() {
        assert!(http_client("http://127.0.0.1:9/api/v10/", "t", 1).is_ok());
        assert!(http_client(DEFAULT_DISCORD_API_URL, "t", 1).is_ok());
        assert!(http_client("http://127.0.0.1:9/", "t", 1).is_err());
    }
}
