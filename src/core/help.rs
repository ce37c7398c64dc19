//! The one help text: every command, what it does and how to write it, kept in one table and
//! spelled per platform by how that platform takes commands ([`Dialect`]): Slack's typed
//! `/pim …` (with a form for `activate` alone), Discord's `/pim` options, Teams's typed message.
//! Emphasis is marked with [`strong`], so each renderer spells it in its own markup.

use super::ids::Platform;
use super::text::strong;

/// How a platform takes commands, which is how its help writes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `/pim` and typed words; `/pim activate` alone opens a form (Slack).
    SlashTyped,
    /// `/pim` subcommands with named options (Discord).
    SlashOptions,
    /// Typed words in a message to the bot (Teams).
    Message,
}

impl Dialect {
    /// Every dialect.
    pub const ALL: [Dialect; 3] = [Dialect::SlashTyped, Dialect::SlashOptions, Dialect::Message];

    /// The dialect of `platform`.
    pub fn of(platform: Platform) -> Self {
        match platform {
            Platform::Slack => Dialect::SlashTyped,
            Platform::Discord => Dialect::SlashOptions,
            Platform::Teams => Dialect::Message,
        }
    }
}

/// How one usage is written in one dialect: the arguments and what follows the description
/// (`{cmd}` stands for the command as written, e.g. `/pim activate`).
struct Syntax {
    args: &'static str,
    tail: &'static str,
}

const fn syntax(args: &'static str, tail: &'static str) -> Syntax {
    Syntax { args, tail }
}

/// One line of help.
struct Usage {
    verb: &'static str,
    /// What it does, the same everywhere.
    what: &'static str,
    /// Typed (Slack's `/pim`, a Teams message).
    typed: Syntax,
    /// Discord's options.
    options: Syntax,
    /// Only where a form can open (`activate` alone).
    form: bool,
}

const fn usage(verb: &'static str, what: &'static str, typed: Syntax, options: Syntax) -> Usage {
    Usage { verb, what, typed, options, form: false }
}

const fn bare(verb: &'static str, what: &'static str) -> Usage {
    usage(verb, what, syntax("", ""), syntax("", ""))
}

const DRAFT_TYPED: &str = "<role> <duration> [#TICKET] <justification>";
const DRAFT_OPTIONS: &str = "role duration justification [ticket]";

/// Every command, in the order help lists them.
const USAGES: &[Usage] = &[
    usage(
        "activate",
        "request a role",
        syntax(DRAFT_TYPED, ", e.g. `{cmd} global-admin 1h #INC-4711 rotate leaked secret`"),
        syntax(DRAFT_OPTIONS, ", e.g. role `global-admin`, duration `1h`"),
    ),
    usage(
        "activate",
        "the same, starting later",
        syntax("<role> <duration> at <time> …", " (`at 22:00`, `at 2026-12-03T22:00Z`, `in 2h`)"),
        syntax("… start", " (`22:00`, `2026-12-03T22:00Z`, `in 2h`)"),
    ),
    Usage { form: true, ..bare("activate", "open the request form") },
    usage("extend", "extend an active role", syntax(DRAFT_TYPED, ""), syntax(DRAFT_OPTIONS, "")),
    bare("roles", "the roles you can request and their rules"),
    bare("status", "your pending requests and active roles"),
    usage("deactivate", "end an active role early", syntax("<role>", ""), syntax("role", "")),
    usage("cancel", "withdraw a pending request", syntax("<request-id>", ""), syntax("request", "")),
    usage(
        "renew",
        "ask to extend your time-bound eligibility",
        syntax("<role> <duration> <justification>", ""),
        syntax("role duration justification", ""),
    ),
    bare("reviews", "access reviews waiting for your answer"),
    bare("posture", "the PIM posture check (approvers)"),
    usage(
        "revoke",
        "end someone's grant now (security revokers only)",
        syntax("<person> <role> <reason>", ""),
        syntax("person role reason", ""),
    ),
    bare("link", "link your chat account to your Microsoft account (a one-time sign-in link)"),
    bare("whoami", "who pimbot takes you to be, and your link"),
    bare("help", "this text"),
];

/// The help text for `dialect`, emphasis marked (see [`crate::core::text::strong`]).
pub fn text(dialect: Dialect) -> String {
    let (prefix, bullet) = match dialect {
        Dialect::SlashTyped | Dialect::SlashOptions => ("/pim ", "•"),
        // A Markdown list, which Teams renders one item a line.
        Dialect::Message => ("", "-"),
    };
    let mut out = format!(
        "{} gives you privileged roles just in time, for a bounded time, with a reason.",
        strong("pimbot")
    );
    if dialect == Dialect::Message {
        out.push_str(" Write to me in this chat, or mention me in a channel (replies always come here):");
    }
    for u in USAGES.iter().filter(|u| !u.form || dialect == Dialect::SlashTyped) {
        let syntax = if dialect == Dialect::SlashOptions { &u.options } else { &u.typed };
        let cmd = format!("{prefix}{}", u.verb);
        let written = if syntax.args.is_empty() { cmd.clone() } else { format!("{cmd} {}", syntax.args) };
        out.push_str(&format!("\n{bullet} `{written}`: {}{}", u.what, syntax.tail.replace("{cmd}", &cmd)));
    }
    out
}

/// The commands a help text lists, each once, in order: the first word of each item.
pub fn commands_listed(help: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in help.lines().skip(1) {
        let Some((_, rest)) = line.split_once('`') else { continue };
        let rest = rest.strip_prefix("/pim ").unwrap_or(rest);
        let verb: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric()).collect();
        if !verb.is_empty() && !out.contains(&verb) {
            out.push(verb);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_lists_the_same_commands() {
        let slack = commands_listed(&text(Dialect::SlashTyped));
        assert_eq!(slack.len(), 13, "{slack:?}");
        for dialect in Dialect::ALL {
            assert_eq!(commands_listed(&text(dialect)), slack, "{dialect:?}");
        }
    }

    #[test]
    fn the_form_is_offered_only_where_one_opens_and_examples_follow_the_dialect() {
        let slack = text(Dialect::SlashTyped);
        assert!(slack.contains("• `/pim activate`: open the request form"), "{slack}");
        assert!(slack.contains("e.g. `/pim activate global-admin 1h #INC-4711 rotate leaked secret`"));
        let teams = text(Dialect::Message);
        assert!(!teams.contains("open the request form"), "{teams}");
        assert!(teams.contains("\n- `activate <role> <duration> [#TICKET] <justification>`: request a role, e.g. `activate global-admin"));
        let discord = text(Dialect::SlashOptions);
        assert!(discord.contains(
            "• `/pim activate role duration justification [ticket]`: request a role, e.g. role `global-admin`"
        ));
        assert_eq!(Dialect::of(Platform::Discord), Dialect::SlashOptions);
    }
}
