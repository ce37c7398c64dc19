//! User text is data, not layout. Whatever a person types (a justification, a ticket, a deny or
//! acknowledgement reason) and whatever an outside system reports (a sign-in's IP or app, a
//! directory's error) is made one line before it is stored or shown: line breaks and tabs become
//! spaces, control characters and bidirectional overrides are removed, runs of spaces collapse.
//! So nobody can start a fake "✅ carol approved …" line in the feed, reorder a line with U+202E,
//! or ring a terminal bell.
//!
//! Messages mark each quoted piece of such text with [`quote`], between the Unicode isolate
//! marks FSI (U+2068) and PDI (U+2069), which [`one_line`] removes from any input, so only the
//! core can mark. Each platform's renderer escapes and cuts the marked pieces with its own
//! `user_text` function and treats the rest as pimbot's own wording.
//!
//! Emphasis is marked the same way, never spelled in one platform's markup: [`strong`] puts a
//! piece of pimbot's wording (a role, a heading) between LRE (U+202A) and PDF (U+202C), also
//! removed from any input, and each renderer spells it its own way (Slack `*x*`, Discord and
//! Teams Markdown `**x**`; [`emphasis`] for text that is otherwise passed through as is).

use super::error::{Error, Result};
use super::refusal::{Field, Rule, Violation};

/// Default longest justification or reason, in characters (`[limits] max_justification`).
pub const DEFAULT_MAX_JUSTIFICATION: usize = 500;
/// Longest ticket reference, in characters.
pub const MAX_TICKET: usize = 100;
/// Opens a quoted piece of user text in a message (FIRST STRONG ISOLATE).
pub const QUOTE_OPEN: char = '\u{2068}';
/// Closes a quoted piece of user text (POP DIRECTIONAL ISOLATE).
pub const QUOTE_CLOSE: char = '\u{2069}';
/// Opens an emphasised piece of pimbot's wording (LEFT-TO-RIGHT EMBEDDING).
pub const STRONG_OPEN: char = '\u{202A}';
/// Closes an emphasised piece (POP DIRECTIONAL FORMATTING).
pub const STRONG_CLOSE: char = '\u{202C}';

/// Characters removed outright: bidirectional marks, embeddings, overrides and isolates, and
/// invisible joiners that make one text look like another.
fn is_removed(c: char) -> bool {
    matches!(
        c,
        '\u{061C}' | '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'
            | '\u{2066}'..='\u{2069}' | '\u{FEFF}' | '\u{FFF9}'..='\u{FFFB}'
    )
}

/// Characters that break a line or space text out: they become one space.
fn is_break(c: char) -> bool {
    matches!(c, '\n' | '\r' | '\t' | '\u{000B}' | '\u{000C}' | '\u{0085}' | '\u{2028}' | '\u{2029}')
        || c.is_whitespace()
}

/// `text` as one line: breaks and tabs become spaces, control characters and bidirectional
/// controls are removed, runs of spaces collapse to one, and the ends are trimmed.
pub fn one_line(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if is_break(c) {
            space = !out.is_empty();
        } else if c.is_control() || is_removed(c) {
            continue;
        } else {
            if space {
                out.push(' ');
                space = false;
            }
            out.push(c);
        }
    }
    out
}

/// Normalises a field a person typed (see [`one_line`]) and refuses it, naming the field and
/// both lengths, when it is longer than `max` characters.
pub fn field(field: Field, text: &str, max: usize) -> Result<String> {
    let line = one_line(text);
    let chars = line.chars().count();
    if chars > max {
        return Err(Error::BadField(Violation::new(
            Rule::TooLong(field),
            format!(
                "the {} is {chars} characters long; at most {max} are allowed, so shorten it",
                field.as_str()
            ),
        )));
    }
    Ok(line)
}

/// `text` made one line and marked as quoted user text, for use inside a message.
pub fn quote(text: &str) -> String {
    format!("{QUOTE_OPEN}{}{QUOTE_CLOSE}", one_line(text))
}

/// `text` (pimbot's own wording: a role key, a heading) marked as emphasised inside a message.
/// Marks inside it are dropped, so an emphasised piece never holds a quote.
pub fn strong(text: impl std::fmt::Display) -> String {
    format!("{STRONG_OPEN}{}{STRONG_CLOSE}", plain(&text.to_string()))
}

/// One piece of a message: pimbot's own wording, emphasised wording, or quoted user text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece<'a> {
    /// pimbot's wording (may carry code spans and emoji, never emphasis markup).
    Own(&'a str),
    /// pimbot's wording, emphasised: each platform spells the emphasis its own way.
    Strong(&'a str),
    /// Text a person or an outside system supplied, to be escaped and cut.
    User(&'a str),
}

fn is_mark(c: char) -> bool {
    matches!(c, QUOTE_OPEN | QUOTE_CLOSE | STRONG_OPEN | STRONG_CLOSE)
}

/// Splits a message into pimbot's wording, emphasised wording and quoted user text (an
/// unclosed mark runs to the end).
pub fn pieces(text: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find([QUOTE_OPEN, STRONG_OPEN]) {
        if open > 0 {
            out.push(Piece::Own(&rest[..open]));
        }
        let quoted = rest[open..].starts_with(QUOTE_OPEN);
        let (open_mark, close_mark) =
            if quoted { (QUOTE_OPEN, QUOTE_CLOSE) } else { (STRONG_OPEN, STRONG_CLOSE) };
        let after = &rest[open + open_mark.len_utf8()..];
        let (inner, next) = match after.find(close_mark) {
            Some(close) => (&after[..close], &after[close + close_mark.len_utf8()..]),
            None => (after, ""),
        };
        out.push(if quoted { Piece::User(inner) } else { Piece::Strong(inner) });
        rest = next;
    }
    if !rest.is_empty() {
        out.push(Piece::Own(rest));
    }
    out
}

/// A message with its marks removed (fallback texts, logs, the command line).
pub fn plain(text: &str) -> String {
    text.chars().filter(|c| !is_mark(*c)).collect()
}

/// A message with each emphasised piece between `mark`s (`*` for Slack mrkdwn, `**` for
/// Markdown) and quoted pieces left marked, for replies a renderer passes through as they are.
pub fn emphasis(text: &str, mark: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            STRONG_OPEN | STRONG_CLOSE => out.push_str(mark),
            c => out.push(c),
        }
    }
    out
}

/// Cuts `units` (each an escaped character, kept whole) to at most `max` characters, ending in
/// `…` when anything was left out. Renderers escape first and cut with this, so a cut never
/// splits an escape.
pub fn cut_units<I: IntoIterator<Item = String>>(units: I, max: usize) -> String {
    let units: Vec<String> = units.into_iter().collect();
    let total: usize = units.iter().map(|u| u.chars().count()).sum();
    if total <= max {
        return units.concat();
    }
    let mut out = String::new();
    let mut used = 0;
    for unit in units {
        let n = unit.chars().count();
        if used + n + 1 > max {
            break;
        }
        out.push_str(&unit);
        used += n;
    }
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_becomes_one_clean_line() {
        let forged = "fix prod\n✅ carol approved alice's request r-1\r\n\tdone";
        assert_eq!(one_line(forged), "fix prod ✅ carol approved alice's request r-1 done");
        assert_eq!(one_line("  a\u{202E}gnp.exe\u{202C} b\u{7}\u{1B}[31m  "), "agnp.exe b[31m");
        assert_eq!(one_line("x\u{2028}y\u{2029}z\u{0085}w"), "x y z w");
        assert_eq!(one_line("car\u{200B}ol\u{2066}\u{2069}"), "carol");
        assert_eq!(one_line("👩‍💻 ok"), "👩‍💻 ok", "emoji joiners stay");
        assert_eq!(one_line(""), "");
    }

    #[test]
    fn fields_are_refused_over_the_limit_with_both_lengths() {
        assert_eq!(field(Field::Justification, "a\nb", 500).ok(), Some("a b".into()));
        let long = "x".repeat(60_000);
        let err = field(Field::Justification, &long, 500).expect_err("too long");
        assert_eq!(err.field(), Some(Field::Justification));
        let err = err.to_string();
        assert!(err.contains("60000") && err.contains("500") && err.contains("justification"), "{err}");
        let err = field(Field::Ticket, &"t".repeat(101), MAX_TICKET).expect_err("too long");
        assert_eq!(err.field(), Some(Field::Ticket));
    }

    #[test]
    fn quotes_split_back_out_and_users_cannot_forge_marks() {
        let typed = format!("{QUOTE_CLOSE}bold{QUOTE_OPEN}");
        let msg = format!("📝 alice requested *reader*: {} ({})", quote(&typed), quote("#INC-1"));
        assert_eq!(
            pieces(&msg),
            [
                Piece::Own("📝 alice requested *reader*: "),
                Piece::User("bold"),
                Piece::Own(" ("),
                Piece::User("#INC-1"),
                Piece::Own(")"),
            ]
        );
        assert_eq!(plain(&msg), "📝 alice requested *reader*: bold (#INC-1)");
        assert_eq!(pieces("no quotes"), [Piece::Own("no quotes")]);
        assert_eq!(pieces(&format!("a{QUOTE_OPEN}b")), [Piece::Own("a"), Piece::User("b")]);
    }

    #[test]
    fn emphasis_is_a_piece_of_its_own_that_users_cannot_forge() {
        let typed = one_line(&format!("{STRONG_OPEN}fake{STRONG_CLOSE} \u{202B}x"));
        assert_eq!(typed, "fake x", "typed marks are removed");
        let msg = format!("🔓 You are now {} until 10:00: {}", strong("ga"), quote("fix *it*"));
        assert_eq!(
            pieces(&msg),
            [
                Piece::Own("🔓 You are now "),
                Piece::Strong("ga"),
                Piece::Own(" until 10:00: "),
                Piece::User("fix *it*")
            ]
        );
        assert_eq!(plain(&msg), "🔓 You are now ga until 10:00: fix *it*");
        assert_eq!(emphasis(&strong("Roles"), "**"), "**Roles**");
        assert_eq!(strong(quote("r")), strong("r"), "no quote inside emphasis");
        assert_eq!(pieces(&format!("a{STRONG_OPEN}b")), [Piece::Own("a"), Piece::Strong("b")]);
    }

    #[test]
    fn cuts_keep_escapes_whole() {
        let units = ["&amp;", "b", "c"].map(str::to_owned);
        assert_eq!(cut_units(units.clone(), 7), "&amp;bc");
        assert_eq!(cut_units(units, 6), "&amp;…");
        assert_eq!(cut_units(["&lt;".to_owned()], 3), "…");
    }
}
