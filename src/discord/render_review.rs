//! Access-review cards on Discord: an embed with whose eligibility and the person's history,
//! and `review_keep:<item-id>` / `review_remove:<item-id>` buttons until it is decided.

use serenity::all::{ButtonStyle, CreateActionRow, CreateAllowedMentions, CreateButton};

use super::render::{EmbedText, GREEN, RED, Rendered, defuse, person};
use crate::core::reviews::ReviewDecision;
use crate::core::view::{RenewalCardView, ReviewCardView, ReviewStatus};

/// Custom id prefix of the Keep button.
pub const REVIEW_KEEP_PREFIX: &str = "review_keep";
/// Custom id prefix of the Remove button.
pub const REVIEW_REMOVE_PREFIX: &str = "review_remove";
/// Custom id prefix of a renewal card's approve button.
pub const RENEW_APPROVE_PREFIX: &str = "renew_approve";
/// Custom id prefix of a renewal card's deny button.
pub const RENEW_DENY_PREFIX: &str = "renew_deny";

/// Renders a review card.
pub fn review(view: &ReviewCardView) -> Rendered {
    let mut fields = vec![
        ("Person".to_owned(), person(&view.person), true),
        (
            "Role".to_owned(),
            format!("{} (`{}`, {})", defuse(&view.role_name), defuse(&view.role_key), view.tier),
            true,
        ),
        ("History".to_owned(), defuse(&view.history), false),
    ];
    let open = view.status == ReviewStatus::Open;
    match &view.status {
        ReviewStatus::Open => fields.push((
            "Deadline".to_owned(),
            format!("{} · unanswered: {}", view.deadline.format("%Y-%m-%d %H:%M UTC"), view.default.as_str()),
            false,
        )),
        ReviewStatus::Decided { decision, by } => {
            let who = by.as_ref().map_or_else(|| "the review's default".to_owned(), person);
            fields.push(("Decision".to_owned(), format!("{} by {who}", decision.as_str()), false));
        }
    }
    let colour = match view.status {
        ReviewStatus::Decided { decision: ReviewDecision::Remove, .. } => RED,
        _ => GREEN,
    };
    let embed = EmbedText {
        title: format!("Access review: {}", defuse(&view.role_name)),
        description: defuse(&view.summary()),
        fields,
    }
    .fit();
    Rendered {
        content: super::render::cut(&defuse(&view.summary()), super::render::MAX_CONTENT),
        embeds: vec![embed.build(colour)],
        components: if open {
            vec![CreateActionRow::Buttons(vec![
                CreateButton::new(format!("{REVIEW_KEEP_PREFIX}:{}", view.item_id))
                    .label("Keep")
                    .style(ButtonStyle::Success),
                CreateButton::new(format!("{REVIEW_REMOVE_PREFIX}:{}", view.item_id))
                    .label("Remove")
                    .style(ButtonStyle::Danger),
            ])]
        } else {
            Vec::new()
        },
        allowed_mentions: CreateAllowedMentions::new(),
    }
}

/// Renders a renewal request card.
pub fn renewal(view: &RenewalCardView) -> Rendered {
    let current = view.current_until.map_or("—".to_owned(), |u| u.format("%Y-%m-%d %H:%M UTC").to_string());
    let mut fields = vec![
        ("Person".to_owned(), person(&view.person), true),
        ("Role".to_owned(), format!("`{}`", defuse(&view.role_key)), true),
        ("Now until".to_owned(), current, true),
        ("Asked until".to_owned(), view.requested_until.format("%Y-%m-%d %H:%M UTC").to_string(), true),
        ("Justification".to_owned(), defuse(&view.justification), false),
    ];
    if let Some((approved, by)) = &view.decided {
        fields.push((
            "Decision".to_owned(),
            format!("{} by {}", if *approved { "approved" } else { "denied" }, person(by)),
            false,
        ));
    }
    let embed =
        EmbedText { title: "Eligibility renewal".into(), description: defuse(&view.summary()), fields }.fit();
    let open = view.decided.is_none();
    Rendered {
        content: super::render::cut(&defuse(&view.summary()), super::render::MAX_CONTENT),
        embeds: vec![embed.build(if open { GREEN } else { RED })],
        components: if open {
            vec![CreateActionRow::Buttons(vec![
                CreateButton::new(format!("{RENEW_APPROVE_PREFIX}:{}", view.extension_id))
                    .label("Approve")
                    .style(ButtonStyle::Success),
                CreateButton::new(format!("{RENEW_DENY_PREFIX}:{}", view.extension_id))
                    .label("Deny")
                    .style(ButtonStyle::Danger),
            ])]
        } else {
            Vec::new()
        },
        allowed_mentions: CreateAllowedMentions::new(),
    }
}
