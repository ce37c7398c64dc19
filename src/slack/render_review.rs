//! Block Kit for an access-review card: whose eligibility, the person's history, the deadline
//! and the default, and Keep / Remove buttons (value: review item id) until it is decided.

use slack_morphism::prelude::*;

use super::{button, escape, person, user_text};
use crate::core::reviews::ReviewDecision;
use crate::core::view::{RenewalCardView, ReviewCardView, ReviewStatus};

/// `action_id` of the Keep button (value: review item id).
pub const ACTION_REVIEW_KEEP: &str = "review_keep";
/// `action_id` of the Remove button (value: review item id).
pub const ACTION_REVIEW_REMOVE: &str = "review_remove";
/// `action_id` of a renewal card's approve button (value: extension id).
pub const ACTION_RENEW_APPROVE: &str = "renew_approve";
/// `action_id` of a renewal card's deny button (value: extension id).
pub const ACTION_RENEW_DENY: &str = "renew_deny";
/// `block_id` of the actions block on an open review card.
pub const BLOCK_REVIEW_ACTIONS: &str = "pim_review_actions";

/// The review card.
pub fn review_card(view: &ReviewCardView) -> SlackMessageContent {
    let id = view.item_id.as_str();
    let mut blocks: Vec<SlackBlock> = slack_blocks![
        some_into(SlackHeaderBlock::new(pt!(format!("Access review: {}", user_text(&view.role_name, 120))))),
        some_into(SlackSectionBlock::new().with_text(md!(
            "Does {} still need *{}* (`{}`, {})?",
            person(&view.person),
            user_text(&view.role_name, 200),
            user_text(&view.role_key, 100),
            escape(&view.tier)
        ))),
        some_into(SlackSectionBlock::new().with_text(md!("*History*\n{}", user_text(&view.history, 2000))))
    ];
    match &view.status {
        ReviewStatus::Open => {
            blocks.push(
                SlackContextBlock::new(vec![md!(
                    "Answer by {} · unanswered: *{}*",
                    view.deadline.format("%Y-%m-%d %H:%M UTC"),
                    view.default.as_str()
                )])
                .into(),
            );
            blocks.push(
                SlackActionsBlock::new(slack_blocks![
                    some_into(button("Keep", ACTION_REVIEW_KEEP, id, SlackBlockButtonStyle::Primary)),
                    some_into(button("Remove", ACTION_REVIEW_REMOVE, id, SlackBlockButtonStyle::Danger))
                ])
                .with_block_id(BLOCK_REVIEW_ACTIONS.into())
                .into(),
            );
        }
        ReviewStatus::Decided { decision, by } => {
            let what = match decision {
                ReviewDecision::Keep => "✅ Kept",
                ReviewDecision::Remove => "🗑️ Removed",
            };
            let who = by
                .as_ref()
                .map_or_else(|| "by the review's default".to_owned(), |p| format!("by {}", person(p)));
            blocks.push(SlackSectionBlock::new().with_text(md!("{} {}", what, who)).into());
        }
    }
    SlackMessageContent::new().with_text(escape(&view.summary())).with_blocks(blocks)
}

/// A renewal request card in the approver channel.
pub fn renewal_card(view: &RenewalCardView) -> SlackMessageContent {
    let id = view.extension_id.as_str();
    let current = view.current_until.map_or("—".to_owned(), |u| u.format("%Y-%m-%d %H:%M UTC").to_string());
    let mut blocks: Vec<SlackBlock> = slack_blocks![
        some_into(SlackSectionBlock::new().with_text(md!(
            "{} asks to stay eligible for `{}` until *{}* (now until {})",
            person(&view.person),
            user_text(&view.role_key, 100),
            view.requested_until.format("%Y-%m-%d %H:%M UTC"),
            current
        ))),
        some_into(
            SlackSectionBlock::new()
                .with_text(md!("*Justification*\n{}", user_text(&view.justification, 2000)))
        )
    ];
    match &view.decided {
        None => {
            let approvers: Vec<String> = view.approvers.iter().map(person).collect();
            blocks.push(SlackContextBlock::new(vec![md!("Approvers: {}", approvers.join(", "))]).into());
            blocks.push(
                SlackActionsBlock::new(slack_blocks![
                    some_into(button("Approve", ACTION_RENEW_APPROVE, id, SlackBlockButtonStyle::Primary)),
                    some_into(button("Deny", ACTION_RENEW_DENY, id, SlackBlockButtonStyle::Danger))
                ])
                .into(),
            );
        }
        Some((approved, by)) => {
            let what = if *approved { "✅ Approved" } else { "❌ Denied" };
            blocks.push(SlackSectionBlock::new().with_text(md!("{} by {}", what, person(by))).into());
        }
    }
    SlackMessageContent::new().with_text(escape(&view.summary())).with_blocks(blocks)
}
