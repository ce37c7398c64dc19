//! The `/pim` command grammar, platform-neutral: Slack text and Discord options both end up as
//! a [`Command`]. Parsing checks shape only; policy checks happen in the service.

use chrono::Duration;

use super::duration::parse_duration;
use super::error::{Error, Result};
use super::ids::{RequestId, RoleKey};
use super::policy::Draft;
use super::schedule::{StartSpec, parse_start, parse_start_field};

/// What a user asked pimbot to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// Request a role.
    Activate(Draft),
    /// `/pim activate` with nothing after it: open the form.
    ActivateForm,
    /// Extend an active grant.
    Extend(Draft),
    /// List the caller's eligible roles and their rules.
    Roles,
    /// The caller's pending and active requests.
    Status,
    /// End the caller's grant of a role early.
    Deactivate(RoleKey),
    /// Withdraw a pending request.
    Cancel(RequestId),
    /// End someone's grant now (revokers only).
    Revoke {
        /// Who: a policy id, a UPN or a mention.
        person: String,
        /// Which role.
        role: RoleKey,
        /// Why (required).
        reason: String,
    },
    /// Link the chat account to a directory account by signing in.
    Link,
    /// Who pimbot takes the caller to be.
    Whoami,
    /// Show usage.
    Help,
    /// The access reviews waiting for the caller.
    Reviews,
    /// The posture check (approvers).
    Posture,
    /// Ask the approvers to extend the caller's time-bound eligibility.
    Renew(Draft),
}

/// Parses the text after `/pim`.
pub fn parse(text: &str) -> Result<Command> {
    let text = text.trim();
    let (verb, rest) = match text.split_once(char::is_whitespace) {
        Some((v, r)) => (v, r.trim()),
        None => (text, ""),
    };
    match verb.to_ascii_lowercase().as_str() {
        "" | "help" => Ok(Command::Help),
        "activate" | "request" if rest.is_empty() => Ok(Command::ActivateForm),
        "activate" | "request" => parse_draft(rest, "activate").map(Command::Activate),
        "extend" => parse_draft(rest, "extend").map(Command::Extend),
        "roles" => Ok(Command::Roles),
        "status" => Ok(Command::Status),
        "reviews" => Ok(Command::Reviews),
        "posture" => Ok(Command::Posture),
        "renew" => parse_draft(rest, "renew").map(Command::Renew),
        "link" => Ok(Command::Link),
        "whoami" => Ok(Command::Whoami),
        "deactivate" => one_word(rest, "deactivate <role>").map(|r| Command::Deactivate(RoleKey(r))),
        "cancel" => one_word(rest, "cancel <request-id>").map(|r| Command::Cancel(RequestId(r))),
        "revoke" => parse_revoke(rest),
        other => Err(Error::BadInput(format!("unknown command `{}`. Try `/pim help`.", truncate(other)))),
    }
}

/// Builds a draft from separately supplied fields (modal or Discord options).
pub fn draft_from_fields(
    role: &str,
    duration: &str,
    ticket: Option<&str>,
    justification: &str,
) -> Result<Draft> {
    let role = role.trim();
    if role.is_empty() || role.contains(char::is_whitespace) {
        return Err(Error::BadInput("give one role key, e.g. `global-admin`".into()));
    }
    let duration = parse_duration(duration).map_err(Error::BadInput)?;
    let ticket = ticket.map(|t| t.trim().trim_start_matches('#').to_owned()).filter(|t| !t.is_empty());
    Ok(Draft {
        role: RoleKey(role.to_ascii_lowercase()),
        duration,
        ticket,
        justification: justification.trim().to_owned(),
        start: None,
    })
}

/// Adds the optional start typed into a form field or a Discord option (`22:00`, `in 2h`,
/// `2026-12-03T22:00Z`; empty = as soon as approved).
pub fn with_start(mut draft: Draft, start: Option<&str>) -> Result<Draft> {
    draft.start = match start {
        Some(text) => parse_start_field(text).map_err(Error::BadInput)?,
        None => None,
    };
    Ok(draft)
}

fn parse_draft(rest: &str, verb: &str) -> Result<Draft> {
    let mut words = rest.split_whitespace();
    let usage = || {
        Error::BadInput(format!(
            "usage: `/pim {verb} <role> <duration> [at <time> | in <duration>] [#TICKET] <justification>`"
        ))
    };
    let role = words.next().ok_or_else(usage)?;
    let duration_text = words.next().ok_or_else(usage)?;
    let duration: Duration = parse_duration(duration_text).map_err(Error::BadInput)?;
    let mut remaining: Vec<&str> = words.collect();
    let start = take_start(&mut remaining)?;
    if start.is_some() && verb == "extend" {
        return Err(Error::BadInput("an extension starts now; `at`/`in` belong to `/pim activate`".into()));
    }
    let (ticket, justification) = match remaining.split_first() {
        Some((first, tail)) if first.starts_with('#') && first.len() > 1 => {
            (Some(first[1..].to_owned()), tail.join(" "))
        }
        _ => (None, remaining.join(" ")),
    };
    Ok(Draft { role: RoleKey(role.to_ascii_lowercase()), duration, ticket, justification, start })
}

/// Takes a scheduled start off the front of the words after the duration: `at 22:00`,
/// `at 2026-12-03T22:00Z`, `at 2026-12-03 22:00` or `in 2h`. `at` followed by something that
/// starts with a digit must be a time (a typo is refused, never read as justification); `in`
/// counts only when a duration follows, so "in order to …" stays justification.
fn take_start(words: &mut Vec<&str>) -> Result<Option<StartSpec>> {
    let (Some(keyword), Some(value)) = (words.first().copied(), words.get(1).copied()) else {
        return Ok(None);
    };
    let spec = if keyword.eq_ignore_ascii_case("at") && value.starts_with(|c: char| c.is_ascii_digit()) {
        // `at 2026-12-03 22:00`: a date, then the time as the next word.
        match words.get(2).filter(|t| value.len() == 10 && t.contains(':')) {
            Some(time) => {
                let spec = parse_start("at", &format!("{value} {time}")).map_err(Error::BadInput)?;
                words.drain(..3);
                return Ok(Some(spec));
            }
            None => parse_start("at", value).map_err(Error::BadInput)?,
        }
    } else if keyword.eq_ignore_ascii_case("in") {
        match parse_start("in", value) {
            Ok(spec) => spec,
            Err(_) => return Ok(None),
        }
    } else {
        return Ok(None);
    };
    words.drain(..2);
    Ok(Some(spec))
}

fn parse_revoke(rest: &str) -> Result<Command> {
    let mut words = rest.split_whitespace();
    let usage = || Error::BadInput("usage: `/pim revoke <person> <role> <reason>`".into());
    let person = words.next().ok_or_else(usage)?.to_owned();
    let role = words.next().ok_or_else(usage)?.to_ascii_lowercase();
    let reason = words.collect::<Vec<_>>().join(" ");
    if reason.is_empty() {
        return Err(usage());
    }
    Ok(Command::Revoke { person, role: RoleKey(role), reason })
}

fn one_word(rest: &str, usage: &str) -> Result<String> {
    let mut words = rest.split_whitespace();
    match (words.next(), words.next()) {
        (Some(w), None) => Ok(w.to_owned()),
        _ => Err(Error::BadInput(format!("usage: `/pim {usage}`"))),
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(role: &str, mins: i64, ticket: Option<&str>, why: &str) -> Draft {
        Draft {
            role: role.into(),
            duration: Duration::minutes(mins),
            ticket: ticket.map(Into::into),
            justification: why.into(),
            start: None,
        }
    }

    #[test]
    fn the_documented_examples_parse() {
        let cases = [
            (
                "activate global-admin 1h #INC-4711 rotate leaked secret",
                Command::Activate(draft("global-admin", 60, Some("INC-4711"), "rotate leaked secret")),
            ),
            (
                "activate reader 30m look at logs",
                Command::Activate(draft("reader", 30, None, "look at logs")),
            ),
            (
                "  ACTIVATE Global-Admin 90m #T-1 x ",
                Command::Activate(draft("global-admin", 90, Some("T-1"), "x")),
            ),
            ("activate", Command::ActivateForm),
            (
                "extend global-admin 30m more time",
                Command::Extend(draft("global-admin", 30, None, "more time")),
            ),
            ("roles", Command::Roles),
            ("status", Command::Status),
            ("link", Command::Link),
            ("whoami", Command::Whoami),
            ("", Command::Help),
            ("help", Command::Help),
            ("deactivate global-admin", Command::Deactivate("global-admin".into())),
            ("cancel r-12345678", Command::Cancel("r-12345678".into())),
            ("reviews", Command::Reviews),
            ("posture", Command::Posture),
            (
                "renew global-admin 30d still on the project",
                Command::Renew(draft("global-admin", 30 * 24 * 60, None, "still on the project")),
            ),
            (
                "revoke <@U0ALICE> Global-Admin left the company today",
                Command::Revoke {
                    person: "<@U0ALICE>".into(),
                    role: "global-admin".into(),
                    reason: "left the company today".into(),
                },
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).ok(), Some(expected), "{text}");
        }
    }

    #[test]
    fn malformed_text_is_refused_with_usage() {
        for text in [
            "activate global-admin",
            "activate global-admin forever fix",
            "deactivate",
            "cancel a b",
            "frobnicate",
            "deactivate a b",
            "revoke alice",
            "revoke alice global-admin",
        ] {
            match parse(text) {
                Err(Error::BadInput(msg)) => assert!(!msg.is_empty(), "{text}"),
                other => panic!("{text}: expected BadInput, got {other:?}"),
            }
        }
    }

    #[test]
    fn a_start_follows_the_duration() {
        let starting = |spec: &str, value: &str, ticket: Option<&str>, why: &str| {
            Command::Activate(Draft {
                start: Some(parse_start(spec, value).expect("start")),
                ..draft("global-admin", 120, ticket, why)
            })
        };
        let cases = [
            (
                "activate global-admin 2h at 22:00 #CHG-7 change window",
                starting("at", "22:00", Some("CHG-7"), "change window"),
            ),
            (
                "activate global-admin 2h AT 2026-12-03T22:00Z x",
                starting("at", "2026-12-03T22:00Z", None, "x"),
            ),
            ("activate global-admin 2h at 2026-12-03 22:00 x", starting("at", "2026-12-03 22:00", None, "x")),
            ("activate global-admin 2h in 90m #T-1 y", starting("in", "90m", Some("T-1"), "y")),
            // Not a start: justification that happens to begin with `in` or `at`.
            (
                "activate global-admin 2h in order to fix",
                Command::Activate(draft("global-admin", 120, None, "in order to fix")),
            ),
            (
                "activate global-admin 2h at customer request",
                Command::Activate(draft("global-admin", 120, None, "at customer request")),
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text).ok(), Some(expected), "{text}");
        }
    }

    #[test]
    fn a_malformed_start_is_refused_not_justification() {
        for text in ["activate r 1h at 25:00 x", "activate r 1h at 2026-12-03 x", "extend r 1h in 2h more"] {
            assert!(matches!(parse(text), Err(Error::BadInput(_))), "{text}");
        }
    }

    #[test]
    fn a_lone_hash_is_justification_not_ticket() {
        assert_eq!(
            parse("activate r 5m # because").ok(),
            Some(Command::Activate(draft("r", 5, None, "# because")))
        );
    }

    #[test]
    fn form_fields_build_the_same_draft() {
        assert_eq!(
            draft_from_fields("Global-Admin", "1h", Some("#INC-1"), " why ").ok(),
            Some(draft("global-admin", 60, Some("INC-1"), "why"))
        );
        assert!(draft_from_fields("two words", "1h", None, "x").is_err());
        assert!(draft_from_fields("r", "later", None, "x").is_err());
        let base = draft_from_fields("r", "1h", None, "x").expect("draft");
        assert_eq!(with_start(base.clone(), Some("  ")).ok(), Some(base.clone()));
        assert_eq!(with_start(base.clone(), None).ok(), Some(base.clone()));
        let started = with_start(base.clone(), Some("in 2h")).expect("start");
        assert_eq!(started.start, parse_start("in", "2h").ok());
        assert!(with_start(base, Some("tonight")).is_err());
    }
}
