//! Tests of the Teams rendering. What a card looks like is a snapshot
//! (`src/teams/snapshots/pimbot__teams__render__tests__*.snap`: the approval card open and
//! decided, the break-glass alarm paging the on-call tag, the review and renewal cards open and
//! decided, a notice activity). The rules are asserted by name: the shape beyond the schema
//! (which `tests/it/teams_schema.rs` checks against the vendored Adaptive Cards 1.5 schema: only
//! the element and action types pimbot means to use, `Action.Execute` only inside `ActionSet`s),
//! mentions (never the requester, always in the text), the size limit and escaping.

use chrono::{DateTime, TimeZone, Utc};

use super::*;
use crate::core::alarm::Severity;
use crate::core::ids::{AlarmId, RequestId};
use crate::core::reviews::ReviewDecision;
use crate::core::view::ReviewStatus;
use crate::core::view::{AlarmStatus, AlarmView, CardStatus, CardView, PersonRef};

const ELEMENTS: [&str; 4] = ["TextBlock", "FactSet", "ActionSet", "Input.Text"];

fn walk_actions(actions: &Value, inside_set: bool, errors: &mut Vec<String>) {
    for a in actions.as_array().into_iter().flatten() {
        match a["type"].as_str() {
            Some("Action.Execute") => {
                if !inside_set {
                    errors.push("Action.Execute outside an ActionSet".into());
                }
                if a["verb"].as_str().is_none() || a["title"].as_str().is_none() {
                    errors.push(format!("Action.Execute without verb or title: {a}"));
                }
            }
            Some("Action.ShowCard") => walk_card(&a["card"], errors),
            other => errors.push(format!("unexpected action {other:?}")),
        }
    }
}

fn walk_card(card: &Value, errors: &mut Vec<String>) {
    if card["type"] != "AdaptiveCard" {
        errors.push(format!("not an AdaptiveCard: {card}"));
    }
    for e in card["body"].as_array().into_iter().flatten() {
        let kind = e["type"].as_str().unwrap_or_default();
        if !ELEMENTS.contains(&kind) {
            errors.push(format!("unexpected element {kind:?}"));
        }
        match kind {
            "TextBlock" if e["text"].as_str().is_none() => errors.push("TextBlock without text".into()),
            "FactSet" => {
                for f in e["facts"].as_array().into_iter().flatten() {
                    if f["title"].as_str().is_none() || f["value"].as_str().is_none() {
                        errors.push(format!("fact without title or value: {f}"));
                    }
                }
            }
            "Input.Text" if e["id"].as_str().is_none() => errors.push("Input.Text without id".into()),
            "ActionSet" => walk_actions(&e["actions"], true, errors),
            _ => {}
        }
    }
    walk_actions(&card["actions"], false, errors);
}

fn person(name: &str, id: Option<&str>) -> PersonRef {
    PersonRef { name: name.into(), chat_id: id.map(str::to_owned) }
}

/// A fixed instant, so snapshots do not change from run to run.
fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 30, 0).single().expect("a valid time")
}

fn alarm_view() -> AlarmView {
    AlarmView {
        alarm_id: AlarmId::from("a-1"),
        headline: "Break-glass sign-in".into(),
        account: "bg1@contoso.com".into(),
        at: at(),
        ip: Some("203.0.113.7".into()),
        location: None,
        app: None,
        client: None,
        ca_status: None,
        succeeded: true,
        severity: Severity::High.as_str().into(),
        page: 2,
        status: AlarmStatus::Open,
        signins: 3,
        first_at: None,
    }
}

fn review_view() -> crate::core::view::ReviewCardView {
    crate::core::view::ReviewCardView {
        item_id: "ri-1".into(),
        person: person("bob", Some("oid-b")),
        role_key: "global-admin".into(),
        role_name: "Global Administrator".into(),
        tier: "critical".into(),
        history: "*none*".into(),
        deadline: at(),
        default: crate::core::reviews::ReviewDecision::Remove,
        status: crate::core::view::ReviewStatus::Open,
    }
}

fn renewal_view() -> crate::core::view::RenewalCardView {
    crate::core::view::RenewalCardView {
        extension_id: "e-1".into(),
        person: person("alice", Some("oid-a")),
        role_key: "user-admin".into(),
        current_until: None,
        requested_until: at(),
        justification: "<at>x</at>".into(),
        approvers: vec![person("carol", Some("oid-c"))],
        decided: None,
    }
}

/// Asserts `value` against the snapshot `name` in `src/teams/snapshots/`.
fn snapshot(name: &str, value: &Value) {
    insta::with_settings!({sort_maps => true, omit_expression => true}, {
        insta::assert_json_snapshot!(name, value);
    });
}

fn view(status: CardStatus, long: bool) -> CardView {
    let text = if long { "x".repeat(5000) } else { "rotate leaked secret".into() };
    CardView {
        request_id: RequestId::from("r-1"),
        requester: person("alice", Some("oid-a")),
        role_key: "global-admin".into(),
        role_name: "Global Administrator".into(),
        scope: "/".into(),
        tier: "critical".into(),
        duration: "1h".into(),
        justification: text.clone(),
        ticket: Some("INC-1".into()),
        approvals: vec![],
        approvals_required: 1,
        sla: "5m".into(),
        approvers: vec![person("carol", Some("oid-c")), person("dave", None)],
        status: match status {
            CardStatus::Denied { by, .. } => CardStatus::Denied { by, reason: Some(text) },
            s => s,
        },
    }
}

#[test]
fn snapshot_approval_cards() {
    let statuses = [
        ("card_open", CardStatus::Open),
        ("card_approved", CardStatus::Approved { by: vec![person("carol", Some("oid-c"))] }),
        ("card_denied", CardStatus::Denied { by: person("dave", None), reason: None }),
        ("card_timed_out", CardStatus::TimedOut),
    ];
    for (name, status) in statuses {
        snapshot(name, &card(&view(status, false)));
    }
}

#[test]
fn snapshot_alarm_review_renewal_and_notice() {
    let tag = Tag { id: "tag-1".into(), name: "SecOps <on-call>".into() };
    snapshot("alarm_paging", &alarm_card_paging(&alarm_view(), Some(&tag)));
    let (mut review, mut renewal) = (review_view(), renewal_view());
    snapshot("review_open", &super::super::render_review::review(&review));
    snapshot("renewal_open", &super::super::render_review::renewal(&renewal));
    review.status = ReviewStatus::Decided { decision: ReviewDecision::Keep, by: None };
    renewal.decided = Some((false, person("carol", Some("oid-c"))));
    snapshot("review_decided", &super::super::render_review::review(&review));
    snapshot("renewal_denied", &super::super::render_review::renewal(&renewal));
    let notice = Notice::mentioning("please decide on r-1", vec!["oid-carol".into()]);
    snapshot("notice_mentioning", &notice_activity(&notice, &|_| "carol".into()));
}

#[test]
fn cards_use_only_known_elements_never_mention_the_requester_and_fit() {
    let statuses = [
        CardStatus::Open,
        CardStatus::Approved { by: vec![person("carol", Some("oid-c"))] },
        CardStatus::Denied { by: person("dave", None), reason: None },
        CardStatus::TimedOut,
    ];
    for status in statuses {
        for long in [false, true] {
            let card = card(&view(status.clone(), long));
            let mut errors = Vec::new();
            walk_card(&card, &mut errors);
            assert!(errors.is_empty(), "{errors:?}");
            assert_eq!(card["version"], CARD_VERSION);
            let size = card_activity(card.clone()).to_string().encode_utf16().count() * 2;
            assert!(size < 80 * 1024, "a card stays under 80 KB: {size}");
            let text = card.to_string();
            for e in card["msteams"]["entities"].as_array().into_iter().flatten() {
                assert_ne!(e["mentioned"]["id"], "oid-a", "never the requester");
                assert!(
                    text.matches(e["text"].as_str().unwrap_or("-")).count() >= 2,
                    "mention text in the body"
                );
            }
        }
    }
    let mut errors = Vec::new();
    walk_card(&alarm_card(&alarm_view()), &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
}

#[test]
fn alarm_pages_mention_the_on_call_tag_only_while_open() {
    let tag = Tag { id: "tag-1".into(), name: "SecOps <on-call>".into() };
    let mut alarm = alarm_view();
    let card = alarm_card_paging(&alarm, Some(&tag));
    let entity = &card["msteams"]["entities"][0];
    assert_eq!(entity["mentioned"], json!({"id": "tag-1", "name": "SecOps ‹on-call›", "type": "tag"}));
    assert!(card.to_string().contains("Paging <at>SecOps ‹on-call›</at>"), "{card}");
    assert!(alarm_card(&alarm)["msteams"].is_null(), "no tag configured: no mention");
    // Through a Workflows webhook the tag is named, never mentioned, and acknowledging is asked
    // for in bold.
    let body = crate::core::view::MessageBody::Alarm(Box::new(alarm.clone()));
    let hook = super::super::webhook::webhook_card(&body, Some(&tag)).expect("a webhook card");
    let text = hook.to_string();
    assert!(hook["msteams"].is_null() && !text.contains("<at>") && !text.contains("ActionSet"), "{hook}");
    assert!(text.contains("On call: SecOps ‹on-call›."), "{hook}");
    let must = hook["body"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|b| b["text"] == super::super::webhook::MUST_ACKNOWLEDGE);
    assert_eq!(must.map(|b| b["weight"].clone()), Some(json!("Bolder")), "{hook}");
    let unnamed = super::super::webhook::webhook_card(&body, None).expect("a webhook card").to_string();
    assert!(unnamed.contains("must be acknowledged") && !unnamed.contains("On call"), "{unnamed}");
    alarm.status = AlarmStatus::Acknowledged { by: person("carol", None), at: at(), reason: "ok".into() };
    assert!(alarm_card_paging(&alarm, Some(&tag))["msteams"].is_null(), "an acknowledged alarm pages nobody");
    let body = crate::core::view::MessageBody::Alarm(Box::new(alarm));
    let done = super::super::webhook::webhook_card(&body, Some(&tag)).expect("a webhook card").to_string();
    assert!(!done.contains("must be acknowledged") && !done.contains("On call"), "{done}");
}

#[test]
fn review_and_renewal_cards_use_known_elements_and_close_once_decided() {
    let (mut review, mut renewal) = (review_view(), renewal_view());
    for card in [super::super::render_review::review(&review), super::super::render_review::renewal(&renewal)]
    {
        let mut errors = Vec::new();
        walk_card(&card, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        assert!(card.to_string().contains("Action.Execute"));
        assert!(!card.to_string().contains("<at>x</at>"), "user text cannot mention");
    }
    review.status = ReviewStatus::Decided { decision: ReviewDecision::Keep, by: None };
    renewal.decided = Some((false, person("carol", Some("oid-c"))));
    let decided =
        [super::super::render_review::review(&review), super::super::render_review::renewal(&renewal)];
    assert!(decided.iter().all(|c| !c.to_string().contains("Action.")), "{decided:?}");
}

#[test]
fn user_text_cannot_mention_link_or_format() {
    assert_eq!(escape("<at>Carol</at> *x* [a](b)", 100), "‹at›Carol‹/at› \\*x\\* \\[a\\](b)");
    assert_eq!(escape("abcdef", 4), "abc…");
    assert_eq!(escape("ab*cd", 4), "ab…", "no dangling escape");
    assert_eq!(escape("a\u{7}b\nc", 10), "ab\nc");
}

#[test]
fn notice_mentions_have_entities_that_occur_in_the_text() {
    let notice = Notice::mentioning("reminder", vec!["oid-carol".into()]);
    let a = notice_activity(&notice, &|_| "carol".into());
    let text = a["text"].as_str().expect("text");
    let entity = &a["entities"][0];
    assert_eq!(entity["mentioned"]["id"], "oid-carol");
    assert!(text.contains(entity["text"].as_str().expect("entity text")));
}
