//! The messages of an access review: the Keep / Remove card DM'd to each reviewer (built from
//! the platform-neutral [`ReviewCardView`]), its in-place updates, reminders, and the text of
//! `/pim reviews`.

use crate::core::ids::{PersonId, Platform};
use crate::core::outbox::{OutgoingMessage, Target};
use crate::core::policy::Policy;
use crate::core::reviews::ReviewItem;
use crate::core::view::{MessageBody, Notice, PersonRef, ReviewCardView, ReviewStatus};

use super::messages::Channels;

fn card_key(item: &ReviewItem, reviewer: &PersonId) -> String {
    format!("review:{}:{reviewer}", item.id)
}

/// The card of `item` for `platform` (also the card a platform answers a reviewer's click
/// with).
pub fn review_card_view(policy: &Policy, item: &ReviewItem, platform: Platform) -> ReviewCardView {
    let role = policy.role(&item.role).ok();
    let status = match item.decision {
        None => ReviewStatus::Open,
        Some(decision) => ReviewStatus::Decided {
            decision,
            by: item.decided_by.as_ref().map(|p| PersonRef::of(policy, p, platform)),
        },
    };
    ReviewCardView {
        item_id: item.id.clone(),
        person: PersonRef::of(policy, &item.person, platform),
        role_key: item.role.to_string(),
        role_name: role.map_or_else(|| item.role.to_string(), |r| r.name.clone()),
        tier: role.map_or("?", |r| r.tier.as_str()).to_owned(),
        history: item.history.clone(),
        deadline: item.deadline,
        default: item.default,
        status,
    }
}

/// Cards to every reviewer (a direct message on each platform they have an account on);
/// `replace` updates the cards already sent instead.
pub(super) fn cards(
    channels: &[Channels],
    policy: &Policy,
    item: &ReviewItem,
    replace: bool,
) -> Vec<OutgoingMessage> {
    let mut out = Vec::new();
    for reviewer in &item.reviewers {
        let Some(person) = policy.person(reviewer) else { continue };
        for c in channels {
            let Some(user) = person.chat_id(c.platform) else { continue };
            let key = card_key(item, reviewer);
            out.push(OutgoingMessage {
                platform: c.platform,
                target: if replace {
                    Target::Replace { ref_key: key.clone() }
                } else {
                    Target::User { user: user.to_owned() }
                },
                body: MessageBody::Review(Box::new(review_card_view(policy, item, c.platform))),
                order_key: key.clone(),
                remember_as: (!replace).then_some(key),
            });
        }
    }
    out
}

pub(super) fn dm_reviewers(
    channels: &[Channels],
    policy: &Policy,
    item: &ReviewItem,
    text: &str,
) -> Vec<OutgoingMessage> {
    let mut out = Vec::new();
    for reviewer in &item.reviewers {
        let Some(person) = policy.person(reviewer) else { continue };
        for c in channels {
            if let Some(user) = person.chat_id(c.platform) {
                out.push(OutgoingMessage {
                    platform: c.platform,
                    target: Target::User { user: user.to_owned() },
                    body: MessageBody::Notice(Notice::text(text)),
                    order_key: card_key(item, reviewer),
                    remember_as: None,
                });
            }
        }
    }
    out
}

/// `/pim reviews` as text.
pub fn render_reviews(items: &[ReviewItem]) -> String {
    if items.is_empty() {
        return "You have no access reviews to answer.".into();
    }
    let mut out =
        format!("{} (answer on each card)\n", crate::core::text::strong("Access reviews waiting for you"));
    for i in items {
        out.push_str(&format!(
            "• {}'s `{}` (item `{}`): by {}, unanswered: {}\n",
            i.person,
            i.role,
            i.id,
            i.deadline.format("%Y-%m-%d %H:%M UTC"),
            i.default.as_str()
        ));
    }
    out
}
