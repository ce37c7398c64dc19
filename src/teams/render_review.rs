//! Access-review and renewal cards on Teams: Adaptive Cards with `Action.Execute` buttons
//! (Keep / Remove on a reviewer's card, Approve / Deny on a renewal in the approver channel)
//! inside an `ActionSet`, decided through the `adaptiveCard/action` invoke: the decided card is
//! the invoke's answer for the clicker and replaces everyone's copy by the outbox's `PUT`.
//! Pure functions, like [`super::render`].

use serde_json::{Value, json};

use super::render::{MAX_USER_TEXT, Mentions, adaptive_card, escape, execute, fact, text_block};
use crate::core::view::{RenewalCardView, ReviewCardView, ReviewStatus};

/// Verb of a review card's Keep button (`itemId` in the data).
pub const VERB_REVIEW_KEEP: &str = "review_keep";
/// Verb of a review card's Remove button.
pub const VERB_REVIEW_REMOVE: &str = "review_remove";
/// Verb of a renewal card's Approve button (`extensionId` in the data).
pub const VERB_RENEW_APPROVE: &str = "renew_approve";
/// Verb of a renewal card's Deny button.
pub const VERB_RENEW_DENY: &str = "renew_deny";

const DATE: &str = "%Y-%m-%d %H:%M UTC";

fn title(text: String) -> Value {
    json!({"type": "TextBlock", "text": text, "weight": "Bolder", "size": "Medium", "wrap": true})
}

fn decision(text: String) -> Value {
    json!({"type": "TextBlock", "text": text, "weight": "Bolder", "wrap": true})
}

/// The card a reviewer gets for one eligibility: whose, the person's history, and Keep /
/// Remove until it is decided (by a reviewer or by the review's default at the deadline).
pub fn review(view: &ReviewCardView) -> Value {
    let facts = vec![
        fact("Person", escape(&view.person.name, 100)),
        fact(
            "Role",
            format!("{} ({}, {})", escape(&view.role_name, 200), escape(&view.role_key, 100), view.tier),
        ),
        fact("History", escape(&view.history, MAX_USER_TEXT)),
    ];
    let mut body = vec![
        title(format!("📋 Access review: {}", escape(&view.role_name, 200))),
        json!({"type": "FactSet", "facts": facts}),
    ];
    match &view.status {
        ReviewStatus::Open => {
            body.push(text_block(format!(
                "Keep or remove by {}; unanswered: {}.",
                view.deadline.format(DATE),
                view.default.as_str()
            )));
            let data = json!({"itemId": view.item_id.as_str()});
            body.push(json!({"type": "ActionSet", "actions": [
                execute("Keep", VERB_REVIEW_KEEP, &data),
                execute("Remove", VERB_REVIEW_REMOVE, &data),
            ]}));
        }
        ReviewStatus::Decided { decision: d, by: Some(by) } => {
            body.push(decision(format!("📋 {} by {}", d.as_str(), escape(&by.name, 100))));
        }
        ReviewStatus::Decided { decision: d, by: None } => {
            body.push(decision(format!("📋 {} (the review's default)", d.as_str())));
        }
    }
    adaptive_card(body, Mentions::default())
}

/// The card of a renewal request in the approver channel: who asks, until when and why, the
/// approvers @mentioned, and Approve / Deny until one of them decides.
pub fn renewal(view: &RenewalCardView) -> Value {
    let mut mentions = Mentions::default();
    let current = view.current_until.map_or("—".to_owned(), |u| u.format(DATE).to_string());
    let facts = vec![
        fact("Person", escape(&view.person.name, 100)),
        fact("Role", escape(&view.role_key, 100)),
        fact("Now until", current),
        fact("Asked until", view.requested_until.format(DATE).to_string()),
        fact("Justification", escape(&view.justification, MAX_USER_TEXT)),
    ];
    let mut body = vec![
        title(format!("🔁 Eligibility renewal {}", escape(&view.extension_id, 100))),
        json!({"type": "FactSet", "facts": facts}),
    ];
    match &view.decided {
        None => {
            if !view.approvers.is_empty() {
                let who: Vec<String> = view.approvers.iter().map(|p| mentions.person(p)).collect();
                body.push(text_block(format!("Approvers: {}", who.join(" "))));
            }
            let data = json!({"extensionId": view.extension_id.as_str()});
            body.push(json!({"type": "ActionSet", "actions": [
                execute("Approve", VERB_RENEW_APPROVE, &data),
                execute("Deny", VERB_RENEW_DENY, &data),
            ]}));
        }
        Some((approved, by)) => {
            let (mark, word) = if *approved { ("✅", "Approved") } else { ("❌", "Denied") };
            body.push(decision(format!("{mark} {word} by {}", escape(&by.name, 100))));
        }
    }
    adaptive_card(body, mentions)
}
